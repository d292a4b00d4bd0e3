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
    public var lines: [String] { formulaLines.map(\.combined) }

    /// One line of the view. A line of figures contains only norms, shapes or statistics of
    /// the current tensors, and a short panel leaves it out before any rule.
    struct Line {
        var text: String
        /// A weight's shape and norm, written from `noteColumn` on, after `text`.
        var note: String?
        var isFigures = false

        /// The text with the note padded to `noteColumn`.
        var combined: String {
            guard let note else { return text }
            let padding = max(1, Formulas.noteColumn - text.count)
            return text + String(repeating: " ", count: padding) + note
        }
    }

    private var formulaLines: [Line] {
        switch snapshot.lastPhase {
        case .forward(let layer), .backward(let layer):
            return lines(forLayer: layer)
        case .loss:
            return lossLines
        default:
            guard let selectedLayer else {
                return [Line(text: "step with n to see a layer's rules")]
            }
            return lines(forLayer: selectedLayer)
        }
    }

    /// Returns the lines for a panel `width` columns wide and `rows` rows high. A line wider
    /// than `width` wraps at a run of spaces or a comma, and each continuation is indented
    /// like the formulas. A note that does not fit beside its formula gets a row of its own,
    /// as a line of figures. When the rows still number more than `rows`, lines of figures
    /// are left out from the bottom up. If the rules alone are still too many, the last row
    /// gives the number of hidden rows.
    public func lines(width: Int, rows: Int) -> [String] {
        guard width > 0, rows > 0 else { return [] }
        var entries: [(rows: [String], isFigures: Bool)] = []
        for line in formulaLines {
            let combined = line.combined
            guard let note = line.note, combined.count > width else {
                entries.append((Self.wrap(combined, width: width), line.isFigures))
                continue
            }
            if !line.text.isEmpty {
                entries.append((Self.wrap(line.text, width: width), line.isFigures))
            }
            let indent = String(repeating: " ", count: Self.continuationIndent)
            entries.append((Self.wrap(indent + note, width: width), true))
        }
        var used = entries.reduce(0) { $0 + $1.rows.count }
        var index = entries.count - 1
        while used > rows, index >= 0 {
            if entries[index].isFigures {
                used -= entries[index].rows.count
                entries.remove(at: index)
            }
            index -= 1
        }
        let wrapped = entries.flatMap(\.rows)
        guard wrapped.count > rows else { return wrapped }
        let hidden = wrapped.count - (rows - 1)
        return wrapped.prefix(rows - 1) + ["… \(hidden) more rows: a taller window shows them"]
    }

    /// Indent of a continuation row, the column where the formulas after the first start.
    static let continuationIndent = 10

    /// Splits `text` into rows of at most `width` characters. It breaks after a comma or at a
    /// run of two or more spaces when there is one, else at a single space, else inside a word.
    static func wrap(_ text: String, width: Int) -> [String] {
        var rows: [String] = []
        var rest = Substring(text)
        var indent = ""
        while indent.count + rest.count > width {
            let room = width - indent.count
            let characters = Array(rest)
            let cut = breakPosition(in: characters, room: room)
            var head = String(characters[..<cut])
            while head.last == " " { head.removeLast() }
            rows.append(indent + head)
            rest = Substring(String(characters[cut...])).drop { $0 == " " }
            indent = String(repeating: " ", count: min(continuationIndent, width / 2))
        }
        if !rest.isEmpty || rows.isEmpty { rows.append(indent + rest) }
        return rows
    }

    /// Returns where to break `characters` so that the part before fits `room` columns: at
    /// the last comma or run of spaces past the indent, else at the last space, else at
    /// `room`.
    private static func breakPosition(in characters: [Character], room: Int) -> Int {
        var group: Int?
        var space: Int?
        for position in stride(from: min(room, characters.count - 1), to: 0, by: -1)
        where characters[position] == " " {
            if space == nil { space = position }
            let before = characters[position - 1]
            if position > continuationIndent && (before == " " || before == ",") {
                group = position
                break
            }
        }
        return max(1, group ?? space ?? room)
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

    /// Returns a formula line with `note` beside it at `noteColumn`, when there is one.
    private func row(_ formula: String, _ note: String? = nil) -> Line {
        Line(text: formula, note: note)
    }

    private func rule(_ text: String) -> Line { Line(text: text) }

    private func figures(_ text: String) -> Line { Line(text: text, isFigures: true) }

    private func lines(forLayer layer: Int) -> [Line] {
        guard snapshot.layers.indices.contains(layer) else { return [] }
        let info = snapshot.layers[layer]
        let flow = snapshot.gradients[layer]
        var result = [
            rule(
                "\(info.name): \(shape(inputShape(of: layer))) -> \(shape(info.outputShape)), "
                    + "\(info.parameterCount) parameters")
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
                rule(
                    "weights   |dL/dW| = \(Format.scientific(flow.weight)), "
                        + "|step| / |W| = \(ratio)"))
        } else {
            result.append(rule("gradients: not reached by the backward pass yet"))
        }
        return result
    }

    private func stemLines(_ layer: Int) -> [Line] {
        let terms = terms(of: layer)
        let hasMaxPool = terms.contains { $0.symbol == "relu" }
        let forward =
            hasMaxPool ? "forward   y = maxpool(relu(BN(W * x)))" : "forward   y = relu(BN(W * x))"
        var result = [row(forward, weightText("W", in: terms))]
        if let norms = normsText(["x", "y"], in: terms) {
            result.append(figures("          " + norms))
        }
        result += [
            figures("          y: \(outputText(layer))"),
            rule("backward  dL/dW = sum over positions of x * (dL/dy ⊙ relu'(.) through BN)"),
        ]
        if let norms = normsText(["dL/dy"], in: terms), let weight = weightText("dL/dW", in: terms)
        {
            result.append(figures("          \(norms)  \(weight)"))
        }
        return result
    }

    private func blockLines(_ layer: Int) -> [Line] {
        let info = snapshot.layers[layer]
        let terms = terms(of: layer)
        let count = max(info.residualConvolutions, 2)
        var result: [Line] = []
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
            result.append(rule("          S(x) = 0 (skip off)"))
        } else if info.hasProjection {
            result.append(
                row("          S(x) = BN(Wp * x) (1x1 projection)", weightText("Wp", in: terms)))
        } else {
            result.append(rule("          S(x) = x (identity)"))
        }
        result.append(rule("          O = relu(F(x) + S(x))"))
        let hiddenSymbols = (1..<count).map { "y\($0)" }
        if let norms = normsText(["x"] + hiddenSymbols, in: terms) {
            result.append(figures("          " + norms))
        }
        if let norms = normsText(["F(x)", "S(x)", "O"], in: terms) {
            result.append(figures("          " + norms))
        }
        result.append(figures("          O: \(outputText(layer))"))
        return result + blockBackwardLines(layer, convolutions: count)
    }

    private func blockBackwardLines(_ layer: Int, convolutions count: Int) -> [Line] {
        let terms = terms(of: layer)
        var result = [rule("backward  g = dL/dO ⊙ relu'(F(x) + S(x))")]
        if let norms = normsText(["dL/dO", "g"], in: terms) {
            result.append(figures("          " + norms))
        }
        result.append(rule("          dL/dx = S^T(g) + F^T(g)"))
        if let flow = snapshot.gradients[layer] {
            let skip = flow.skipActive ? Format.scientific(flow.skip) : "0"
            result.append(
                rule(
                    "          |S^T(g)| = \(skip)\(flow.skipActive ? "" : " (skip off)"), "
                        + "|F^T(g)| = \(Format.scientific(flow.residual))"))
            result.append(figures("          |dL/dx| = \(Format.scientific(flow.input))"))
        }
        let gradientSymbols = (1...count).map { "dL/dW\($0)" } + ["dL/dWp"]
        let gradients = gradientSymbols.compactMap { symbol -> String? in
            terms.first { $0.symbol == symbol }.map {
                "|\(symbol)| \(Format.scientific($0.norm))"
            }
        }
        if !gradients.isEmpty {
            result.append(figures("          " + gradients.joined(separator: "  ")))
        }
        return result
    }

    private func poolLines(_ layer: Int) -> [Line] {
        let terms = terms(of: layer)
        let spatial = inputShape(of: layer).dropFirst().reduce(1, *)
        var result = [
            rule("forward   h = (1/N) sum of O over the N = \(spatial) positions per channel")
        ]
        if let norms = normsText(["O", "h"], in: terms) {
            result.append(figures("          " + norms))
        }
        result.append(rule("backward  dL/dO = dL/dh / \(spatial) at every position"))
        if let norms = normsText(["dL/dh", "dL/dO"], in: terms) {
            // Every position gets dL/dh / N, so |dL/dO| = |dL/dh| / sqrt(N).
            let root = String(format: "%.3g", Double(spatial).squareRoot())
            result.append(figures("          " + norms))
            result.append(
                figures("          |dL/dO| = |dL/dh| / sqrt(N) = |dL/dh| / \(root)"))
        }
        return result
    }

    private func linearLines(_ layer: Int) -> [Line] {
        let terms = terms(of: layer)
        var result = [row("forward   z = W h + b", weightText("W", in: terms))]
        if let bias = weightText("b", in: terms) {
            result.append(Line(text: "", note: bias, isFigures: true))
        }
        if let norms = normsText(["h", "z"], in: terms) {
            result.append(figures("          " + norms))
        }
        result += [
            figures("          z: \(outputText(layer))"),
            rule("backward  dL/dW = (dL/dz)^T h, dL/db = sum of dL/dz, dL/dh = (dL/dz) W"),
        ]
        if let norms = normsText(["dL/dz", "dL/dh"], in: terms) {
            result.append(figures("          " + norms))
        }
        let weights = ["dL/dW", "dL/db"].compactMap { weightText($0, in: terms) }
        if !weights.isEmpty {
            result.append(figures("          " + weights.joined(separator: "  ")))
        }
        return result
    }

    private var lossLines: [Line] {
        let loss = snapshot.currentLoss.map(Format.statistic) ?? "-"
        var result = [
            rule("loss: softmax cross-entropy over a batch of \(snapshot.batchSize)"),
            rule("forward   p = softmax(z),  L = -(1/B) sum of log p[label]   L = \(loss)"),
            rule("backward  dL/dz = (p - onehot(label)) / B   (S - y, averaged over the batch)"),
        ]
        if let norms = normsText(["z", "p", "dL/dz"], in: snapshot.lossTerms) {
            result.append(figures("          " + norms))
        }
        return result
    }
}
