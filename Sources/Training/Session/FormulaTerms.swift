import Engine

/// A tensor that a layer's formulas name, with its shape and its norm in the current
/// iteration.
public struct FormulaTerm: Sendable, Equatable {
    /// The tensor's name in the formulas, such as `W1`, `y1`, `F(x)` or `dL/dO`.
    public var symbol: String
    /// The full shape of a weight, or the shape of one sample of an activation or gradient.
    public var shape: [Int]
    /// Euclidean norm over the whole tensor (the whole batch for activations).
    public var norm: Double

    public init(symbol: String, shape: [Int], norm: Double) {
        self.symbol = symbol
        self.shape = shape
        self.norm = norm
    }
}

extension ResNet {
    private func term(_ symbol: String, weight tensor: Tensor, pool: ThreadPool) -> FormulaTerm {
        FormulaTerm(symbol: symbol, shape: tensor.shape, norm: Reduction.norm(tensor, pool: pool))
    }

    private func term(_ symbol: String, batch tensor: Tensor, pool: ThreadPool) -> FormulaTerm {
        FormulaTerm(
            symbol: symbol, shape: Array(tensor.shape.dropFirst()),
            norm: Reduction.norm(tensor, pool: pool))
    }

    /// Returns the tensors that the forward formulas of `layer` name, after its forward
    /// phase. A block's terms are `x`, `W1`... `Wk`, `y1`... `y(k-1)` (the ReLU outputs
    /// between convolutions), `F(x)`, `S(x)` (absent with the skip off), `Wp` for a
    /// projection and `O`.
    public func forwardTerms(layer: Int, pool: ThreadPool) -> [FormulaTerm] {
        if layer == 0 {
            var terms = [
                term("x", batch: images, pool: pool),
                term("W", weight: stem.weight.value, pool: pool),
            ]
            if stemPlan.hasMaxPool {
                terms.append(term("relu", batch: stemActivation, pool: pool))
            }
            terms.append(term("y", batch: stemOutput, pool: pool))
            return terms
        }
        if let index = blockIndex(ofLayer: layer) {
            let block = blocks[index]
            let input = layer == 1 ? stemOutput : output(ofLayer: layer - 1)
            var terms = [term("x", batch: input, pool: pool)]
            for (unit, convolution) in block.residualUnits.enumerated() {
                terms.append(term("W\(unit + 1)", weight: convolution.weight.value, pool: pool))
                if unit < block.hidden.count {
                    terms.append(term("y\(unit + 1)", batch: block.hidden[unit], pool: pool))
                }
            }
            terms.append(term("F(x)", batch: block.residualUnits.last!.output, pool: pool))
            if let projection = block.downsample {
                terms.append(term("Wp", weight: projection.weight.value, pool: pool))
                if block.skipEnabled {
                    terms.append(term("S(x)", batch: projection.output, pool: pool))
                }
            } else if block.skipEnabled {
                terms.append(term("S(x)", batch: input, pool: pool))
            }
            terms.append(term("O", batch: block.output, pool: pool))
            return terms
        }
        if layer == layerCount - 2 {
            return [
                term("O", batch: output(ofLayer: layer - 1), pool: pool),
                term("h", batch: pooled, pool: pool),
            ]
        }
        return [
            term("h", batch: pooled, pool: pool),
            term("W", weight: fcWeight.value, pool: pool),
            term("b", weight: fcBias.value, pool: pool),
            term("z", batch: logits, pool: pool),
        ]
    }

    /// Returns the gradients that the backward formulas of `layer` name, after its backward
    /// phase: `dL/dO` (or `dL/dy`, `dL/dh`, `dL/dz`), `g` for a block, and `dL/dW...` for
    /// each weight the backward pass reached.
    public func backwardTerms(layer: Int, pool: ThreadPool) -> [FormulaTerm] {
        if layer == 0 {
            return [
                term("dL/dy", batch: gradient(intoOutputOf: 0), pool: pool),
                term("dL/dW", weight: stem.weight.gradient, pool: pool),
            ]
        }
        if let index = blockIndex(ofLayer: layer) {
            let block = blocks[index]
            var terms = [
                term("dL/dO", batch: gradient(intoOutputOf: layer), pool: pool),
                term("g", batch: block.gradPreActivation, pool: pool),
            ]
            for (unit, convolution) in block.residualUnits.enumerated() {
                terms.append(
                    term("dL/dW\(unit + 1)", weight: convolution.weight.gradient, pool: pool))
            }
            if let projection = block.downsample, block.skipEnabled {
                terms.append(term("dL/dWp", weight: projection.weight.gradient, pool: pool))
            }
            return terms
        }
        if layer == layerCount - 2 {
            return [
                term("dL/dh", batch: gradPooled, pool: pool),
                term("dL/dO", batch: gradFeatures, pool: pool),
            ]
        }
        return [
            term("dL/dz", batch: gradLogits, pool: pool),
            term("dL/dW", weight: fcWeight.gradient, pool: pool),
            term("dL/db", weight: fcBias.gradient, pool: pool),
            term("dL/dh", batch: gradPooled, pool: pool),
        ]
    }

    /// Returns the tensors of the loss formulas after the loss phase: the logits `z`, the
    /// softmax `p` and dL/dz = (p - y) / B.
    public func lossTerms(pool: ThreadPool) -> [FormulaTerm] {
        [
            term("z", batch: logits, pool: pool),
            term("p", batch: probabilities, pool: pool),
            term("dL/dz", batch: gradLogits, pool: pool),
        ]
    }
}
