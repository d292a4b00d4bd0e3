import Foundation
import Training

/// The forward and backward rules of one layer in textbook notation, with the current
/// tensors' shapes and norms filled in. Shows the layer the stepper is at, the loss
/// right after the loss phase, and otherwise the selected block. Norms are taken over the
/// whole batch, and activation shapes are those of one sample.
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

    /// Column where the shapes and norms start on a formula line.
    static let noteColumn = 36

    private func shape(_ values: [Int]) -> String { Format.shape(values) }

    private func inputShape(of layer: Int) -> [Int] {
        layer == 0 ? snapshot.inputShape : snapshot.layers[layer - 1].outputShape
    }

    private func outputText(_ layer: Int) -> String {
        guard let stats = snapshot.activations[layer] else { return "(not computed yet)" }
        return "mean \(Format.statistic(stats.mean)) std \(Format.statistic(stats.std)) "
            + "zero \(Format.percent(stats.zeroFraction))"
    }

    private func terms(of layer: Int) -> [FormulaTerm] {
        snapshot.formulaTerms.indices.contains(layer) ? snapshot.formulaTerms[layer] : []
    }

    /// "W1 16×16×3×3 |W1| 2.1e+00" for a weight: its shape and norm.
    private func weightText(_ symbol: String, in terms: [FormulaTerm]) -> String? {
        guard let term = terms.first(where: { $0.symbol == symbol }) else { return nil }
        return "\(symbol) \(shape(term.shape)) |\(symbol)| \(Format.scientific(term.norm))"
    }

    /// "|x| 1.2e+02 (16×28×28)" for each symbol that has a term, joined by two spaces.
    private func normsText(_ symbols: [String], in terms: [FormulaTerm]) -> String? {
        let parts = symbols.compactMap { symbol -> String? in
            guard let term = terms.first(where: { $0.symbol == symbol }) else { return nil }
            return "|\(symbol)| \(Format.scientific(term.norm)) (\(shape(term.shape)))"
        }
        return parts.isEmpty ? nil : parts.joined(separator: "  ")
    }

    /// Pads a formula to `noteColumn` and appends `note` when there is one.
    private func row(_ formula: String, _ note: String? = nil) -> String {
        guard let note else { return formula }
        let padding = max(1, Self.noteColumn - formula.count)
        return formula + String(repeating: " ", count: padding) + note
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
        case .stem: result += stemLines(layer)
        case .block: result += blockLines(layer)
        case .pool: result += poolLines(layer)
        case .fc: result += linearLines(layer)
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

    private func stemLines(_ layer: Int) -> [String] {
        let terms = terms(of: layer)
        let hasMaxPool = terms.contains { $0.symbol == "relu" }
        let forward =
            hasMaxPool ? "forward   y = maxpool(relu(BN(W * x)))" : "forward   y = relu(BN(W * x))"
        var result = [row(forward, weightText("W", in: terms))]
        if let norms = normsText(["x", "y"], in: terms) {
            result.append("          " + norms)
        }
        result += [
            "          y: \(outputText(layer))",
            "backward  dL/dW = sum over positions of x * (dL/dy ⊙ relu'(.) through BN)",
        ]
        if let norms = normsText(["dL/dy"], in: terms), let weight = weightText("dL/dW", in: terms)
        {
            result.append("          \(norms)  \(weight)")
        }
        return result
    }

    private func blockLines(_ layer: Int) -> [String] {
        let info = snapshot.layers[layer]
        let terms = terms(of: layer)
        let count = max(info.residualConvolutions, 2)
        var result: [String] = []
        // Every convolution but the last is followed by batch norm and ReLU; the last one's
        // batch-norm output is F(x).
        for unit in 1...count {
            let input = unit == 1 ? "x" : "y\(unit - 1)"
            let product = "BN\(unit)(W\(unit) * \(input))"
            let formula = unit == count ? "F(x) = \(product)" : "y\(unit) = relu(\(product))"
            let lead = unit == 1 ? "forward   " : "          "
            result.append(row(lead + formula, weightText("W\(unit)", in: terms)))
        }
        if !info.skipEnabled {
            result.append("          S(x) = 0 (skip off)")
        } else if info.hasProjection {
            result.append(
                row("          S(x) = BN(Wp * x) (1x1 projection)", weightText("Wp", in: terms)))
        } else {
            result.append("          S(x) = x (identity)")
        }
        result.append("          O = relu(F(x) + S(x))")
        let hiddenSymbols = (1..<count).map { "y\($0)" }
        if let norms = normsText(["x"] + hiddenSymbols, in: terms) {
            result.append("          " + norms)
        }
        if let norms = normsText(["F(x)", "S(x)", "O"], in: terms) {
            result.append("          " + norms)
        }
        result.append("          O: \(outputText(layer))")
        return result + blockBackwardLines(layer, convolutions: count)
    }

    private func blockBackwardLines(_ layer: Int, convolutions count: Int) -> [String] {
        let terms = terms(of: layer)
        var result = ["backward  g = dL/dO ⊙ relu'(F(x) + S(x))"]
        if let norms = normsText(["dL/dO", "g"], in: terms) {
            result.append("          " + norms)
        }
        result.append("          dL/dx = S^T(g) + F^T(g)")
        if let flow = snapshot.gradients[layer] {
            let skip = flow.skipActive ? Format.scientific(flow.skip) : "0"
            result.append(
                "          |S^T(g)| = \(skip)\(flow.skipActive ? "" : " (skip off)"), "
                    + "|F^T(g)| = \(Format.scientific(flow.residual))")
            result.append("          |dL/dx| = \(Format.scientific(flow.input))")
        }
        let gradientSymbols = (1...count).map { "dL/dW\($0)" } + ["dL/dWp"]
        let gradients = gradientSymbols.compactMap { symbol -> String? in
            terms.first { $0.symbol == symbol }.map {
                "|\(symbol)| \(Format.scientific($0.norm))"
            }
        }
        if !gradients.isEmpty {
            result.append("          " + gradients.joined(separator: "  "))
        }
        return result
    }

    private func poolLines(_ layer: Int) -> [String] {
        let terms = terms(of: layer)
        let spatial = inputShape(of: layer).dropFirst().reduce(1, *)
        var result = [
            "forward   h = (1/N) sum of O over the N = \(spatial) positions per channel"
        ]
        if let norms = normsText(["O", "h"], in: terms) {
            result.append("          " + norms)
        }
        result.append("backward  dL/dO = dL/dh / \(spatial) at every position")
        if let norms = normsText(["dL/dh", "dL/dO"], in: terms) {
            // Every position gets dL/dh / N, so |dL/dO| = |dL/dh| / sqrt(N).
            let root = String(format: "%.3g", Double(spatial).squareRoot())
            result.append("          " + norms)
            result.append("          |dL/dO| = |dL/dh| / sqrt(N) = |dL/dh| / \(root)")
        }
        return result
    }

    private func linearLines(_ layer: Int) -> [String] {
        let terms = terms(of: layer)
        var result = [row("forward   z = W h + b", weightText("W", in: terms))]
        if let bias = weightText("b", in: terms) {
            result.append(row("", bias))
        }
        if let norms = normsText(["h", "z"], in: terms) {
            result.append("          " + norms)
        }
        result += [
            "          z: \(outputText(layer))",
            "backward  dL/dW = (dL/dz)^T h, dL/db = sum of dL/dz, dL/dh = (dL/dz) W",
        ]
        if let norms = normsText(["dL/dz", "dL/dh"], in: terms) {
            result.append("          " + norms)
        }
        let weights = ["dL/dW", "dL/db"].compactMap { weightText($0, in: terms) }
        if !weights.isEmpty {
            result.append("          " + weights.joined(separator: "  "))
        }
        return result
    }

    private var lossLines: [String] {
        let loss = snapshot.currentLoss.map(Format.statistic) ?? "-"
        var result = [
            "loss: softmax cross-entropy over a batch of \(snapshot.batchSize)",
            "forward   p = softmax(z),  L = -(1/B) sum of log p[label]   L = \(loss)",
            "backward  dL/dz = (p - onehot(label)) / B   (S - y, averaged over the batch)",
        ]
        if let norms = normsText(["z", "p", "dL/dz"], in: snapshot.lossTerms) {
            result.append("          " + norms)
        }
        return result
    }
}
