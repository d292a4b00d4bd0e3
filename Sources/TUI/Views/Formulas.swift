import Foundation
import Training

/// The forward and backward rules of one layer in textbook notation, with the current
/// tensors' shapes and norms filled in. Shows the layer the stepper is at, the loss
/// right after the loss phase, and otherwise the selected block. A bottleneck block's F
/// has a third convolution (1x1, 3x3, 1x1), which the basic block's formula leaves out.
public struct Formulas {
    public var snapshot: SessionSnapshot
    public var selectedLayer: Int?

    public init(snapshot: SessionSnapshot, selectedLayer: Int?) {
        self.snapshot = snapshot
        self.selectedLayer = selectedLayer
    }

    /// The lines to show, each a full sentence or formula.
    public var lines: [String] {
        switch snapshot.lastPhase {
        case .forward(let layer), .backward(let layer):
            return lines(forLayer: layer)
        case .loss:
            return lossLines
        default:
            guard let selectedLayer else { return ["step with n to see a layer's rules"] }
            return lines(forLayer: selectedLayer)
        }
    }

    private func shape(_ values: [Int]) -> String { Format.shape(values) }

    private func inputShape(of layer: Int) -> [Int] {
        layer == 0 ? snapshot.inputShape : snapshot.layers[layer - 1].outputShape
    }

    private func outputText(_ layer: Int) -> String {
        guard let stats = snapshot.activations[layer] else { return "(not computed yet)" }
        return "mean \(Format.statistic(stats.mean)) std \(Format.statistic(stats.std)) "
            + "zero \(Format.percent(stats.zeroFraction))"
    }

    private func lines(forLayer layer: Int) -> [String] {
        guard snapshot.layers.indices.contains(layer) else { return [] }
        let info = snapshot.layers[layer]
        let flow = snapshot.gradients[layer]
        var result = [
            "\(info.name): \(shape(inputShape(of: layer))) -> \(shape(info.outputShape)), "
                + "\(info.parameterCount) parameters"
        ]
        switch info.kind {
        case .stem:
            result += [
                "forward   y = relu(BN(W * x))            y: \(outputText(layer))",
                "backward  dL/dW = sum over positions of x * (dL/dy ⊙ relu'(.) through BN)",
            ]
        case .block:
            let skipText: String
            if !info.skipEnabled {
                skipText = "S(x) = 0 (skip off)"
            } else if info.hasProjection {
                skipText = "S(x) = BN(Wp * x) (1x1 projection)"
            } else {
                skipText = "S(x) = x (identity)"
            }
            result += [
                "forward   F(x) = BN(W2 * relu(BN(W1 * x)))",
                "          \(skipText)",
                "          O = relu(F(x) + S(x))",
                "          O: \(outputText(layer))",
                "backward  g = dL/dO ⊙ relu'(F(x) + S(x))",
                "          dL/dx = S^T(g) + F^T(g)",
            ]
            if let flow {
                let skip = flow.skipActive ? Format.scientific(flow.skip) : "0 (off)"
                result.append(
                    "                = \(skip) (skip) + \(Format.scientific(flow.residual)) "
                        + "(residual), |dL/dx| = \(Format.scientific(flow.input))")
            }
        case .pool:
            let spatial = inputShape(of: layer).dropFirst().reduce(1, *)
            result += [
                "forward   h = (1/N) sum of O over the N = \(spatial) positions per channel",
                "backward  dL/dO = dL/dh / \(spatial) at every position",
            ]
        case .fc:
            result += [
                "forward   z = W h + b                    z: \(outputText(layer))",
                "backward  dL/dW = (dL/dz)^T h, dL/db = sum of dL/dz, dL/dh = (dL/dz) W",
            ]
        }
        if let flow {
            let ratio = flow.updateRatio.map(Format.scientific) ?? "after the update"
            result.append(
                "weights   |dL/dW| = \(Format.scientific(flow.weight)), "
                    + "|step| / |W| = \(ratio)")
        } else {
            result.append("gradients: not reached by the backward pass yet")
        }
        return result
    }

    private var lossLines: [String] {
        let loss = snapshot.currentLoss.map(Format.statistic) ?? "-"
        return [
            "loss: softmax cross-entropy over a batch of \(snapshot.batchSize)",
            "forward   p = softmax(z),  L = -(1/B) sum of log p[label]   L = \(loss)",
            "backward  dL/dz = (p - onehot(label)) / B   (S - y, averaged over the batch)",
        ]
    }
}
