import Foundation
import Training

/// Gradient flow through each residual block. For each block it draws the norm of the input
/// gradient's skip-path term and of its residual-path term (the convolutions). The bars share
/// one log10 scale.
///
/// Blocks are listed deepest first, the order in which the backward pass reaches them. With
/// room for two rows per block the paths get a row each; otherwise both share one row.
public struct GradientPanel {
    public var snapshot: SessionSnapshot

    public init(snapshot: SessionSnapshot) {
        self.snapshot = snapshot
    }

    /// A second set of gradients to show beside the current ones: compare mode's model B,
    /// or else the what-if recomputation. Returns the panel title, the two row labels and
    /// the other gradients.
    var pairing: (title: String, labels: (String, String), other: [GradientFlow?])? {
        if let comparison = snapshot.comparison {
            return (
                "gradient at block input: A vs B (\(comparison.label))", ("A", "B"),
                comparison.gradients
            )
        }
        if let whatIf = snapshot.whatIf, snapshot.layers.indices.contains(whatIf.layer) {
            let name = snapshot.layers[whatIf.layer].name
            let state = whatIf.skipEnabled ? "on" : "off"
            return (
                "gradient at block input: now vs x = \(name) skip \(state)", ("now", "x"),
                whatIf.gradients
            )
        }
        return nil
    }

    /// Block indices, deepest first.
    public var blocks: [Int] {
        snapshot.layers.indices.filter { snapshot.layers[$0].kind == .block }.reversed()
    }

    /// Rows the panel needs for two rows per block: the border, the rows and the scale line.
    public var preferredHeight: Int { 2 * blocks.count + 3 }

    /// The shared scale as whole powers of ten, from the smallest to the largest positive
    /// path norm in the snapshot, or nil when no block has a positive norm yet.
    public var scale: LogScale? {
        var norms: [Double] = []
        for block in blocks {
            if let pairing {
                if let flow = gradient(of: block) { norms.append(flow.input) }
                if pairing.other.indices.contains(block), let other = pairing.other[block] {
                    norms.append(other.input)
                }
                continue
            }
            guard let flow = gradient(of: block) else { continue }
            norms.append(flow.residual)
            if flow.skipActive { norms.append(flow.skip) }
        }
        return LogScale(values: norms)
    }

    public func draw(in rect: Rect, on buffer: inout CellBuffer) {
        let title = pairing?.title ?? "gradient flow: skip vs residual"
        buffer.drawBox(rect, title: title, style: Theme.border)
        let inside = rect.inset(by: 1)
        guard !inside.isEmpty else { return }
        let blocks = self.blocks
        guard !blocks.isEmpty else {
            buffer.put("no residual blocks", x: inside.x, y: inside.y, maxWidth: inside.width)
            return
        }
        let scale = self.scale
        // The last row inside the box is kept for the scale line.
        let blockRows = inside.height - 1
        let rowsPerBlock = blockRows >= 2 * blocks.count ? 2 : 1
        let nameWidth = (blocks.map { snapshot.layers[$0].name.count }.max() ?? 0) + 2
        let window = visibleBlocks(capacity: blockRows / rowsPerBlock)

        buffer.withClip(inside) { buffer in
            for (row, block) in blocks[window].enumerated() {
                drawBlock(
                    block, rowsPerBlock: rowsPerBlock, scale: scale, nameWidth: nameWidth,
                    rect: Rect(
                        x: inside.x, y: inside.y + row * rowsPerBlock, width: inside.width,
                        height: rowsPerBlock),
                    on: &buffer)
            }
            drawScaleLine(
                scale, rowsPerBlock: rowsPerBlock, nameWidth: nameWidth, rect: inside, on: &buffer)
        }
        buffer.drawScrollHint(
            hiddenAbove: window.lowerBound, hiddenBelow: blocks.count - window.upperBound,
            box: rect)
    }

    /// Positions in `blocks` to draw when only `capacity` blocks fit: a window around the
    /// block the backward pass is at, or the deepest blocks before it starts.
    public func visibleBlocks(capacity: Int) -> Range<Int> {
        let count = blocks.count
        guard capacity < count else { return 0..<count }
        guard capacity > 0 else { return 0..<0 }
        var focus = 0
        if case .backward(let layer) = snapshot.lastPhase {
            // Layers below the deepest block (fc, pooling) map to the top of the list, and the
            // stem to the bottom.
            focus = blocks.firstIndex { $0 <= layer } ?? (count - 1)
        }
        let first = min(max(focus - capacity / 2, 0), count - capacity)
        return first..<(first + capacity)
    }

    private func gradient(of layer: Int) -> GradientFlow? {
        snapshot.gradients.indices.contains(layer) ? snapshot.gradients[layer] : nil
    }

    /// Columns for "  ∇W 1.2e-03" beside the bars.
    static let weightColumnWidth = 13

    /// Width of one bar in a row of `width` columns: the name, and per bar a 5-column label
    /// and an 8-column number. It is 0, leaving only the numbers, when the row is too narrow.
    private func barWidth(rowsPerBlock: Int, nameWidth: Int, width: Int) -> Int {
        let paths = rowsPerBlock == 2 ? 1 : 2
        let width =
            rowsPerBlock == 2 && pairing == nil
                && width - nameWidth - 13 >= 10 + Self.weightColumnWidth
            ? width - Self.weightColumnWidth : width
        return max(0, (width - nameWidth - paths * 13 - (paths - 1)) / paths)
    }

    private func drawBlock(
        _ block: Int, rowsPerBlock: Int, scale: LogScale?, nameWidth: Int, rect: Rect,
        on buffer: inout CellBuffer
    ) {
        let layer = snapshot.layers[block]
        if case .backward(let current) = snapshot.lastPhase, current == block {
            buffer.set(x: rect.x, y: rect.y, glyph: "◀", style: Theme.backwardMarker)
        }
        buffer.put(layer.name, x: rect.x + 1, y: rect.y)

        let barWidth = barWidth(rowsPerBlock: rowsPerBlock, nameWidth: nameWidth, width: rect.width)
        let start = rect.x + nameWidth
        if let pairing {
            let other = pairing.other.indices.contains(block) ? pairing.other[block] : nil
            drawComparison(
                gradient(of: block), other, labels: pairing.labels, rowsPerBlock: rowsPerBlock,
                scale: scale, barWidth: barWidth, x: start, y: rect.y, on: &buffer)
            return
        }
        guard let flow = gradient(of: block) else {
            buffer.put("not reached yet", x: start, y: rect.y, style: Theme.note)
            return
        }
        let skip: Double? = flow.skipActive ? flow.skip : nil
        if rowsPerBlock == 2 {
            let end = drawPath(
                "skip", norm: skip, scale: scale, barWidth: barWidth, x: start, y: rect.y,
                style: Theme.skipPath, on: &buffer)
            drawPath(
                "res", norm: flow.residual, scale: scale, barWidth: barWidth, x: start,
                y: rect.y + 1, style: Theme.residualPath, on: &buffer)
            // The weight-gradient norm and the update-to-weight ratio go to the right of the
            // bars when the panel is wide enough.
            if rect.maxX - end >= Self.weightColumnWidth {
                buffer.put(
                    "  ∇W " + Format.scientific(flow.weight), x: end, y: rect.y,
                    style: Theme.note)
                let ratio = flow.updateRatio.map(Format.scientific) ?? "–"
                buffer.put(" Δ/W " + ratio, x: end, y: rect.y + 1, style: Theme.note)
            }
        } else {
            let end = drawPath(
                "skip", norm: skip, scale: scale, barWidth: barWidth, x: start,
                y: rect.y, style: Theme.skipPath, on: &buffer)
            drawPath(
                "res", norm: flow.residual, scale: scale, barWidth: barWidth, x: end + 1,
                y: rect.y, style: Theme.residualPath, on: &buffer)
        }
    }

    /// Draws two input-gradient norms of a block (A and B in compare mode, now and what-if)
    /// with their labels, on two rows or side by side on one.
    private func drawComparison(
        _ flow: GradientFlow?, _ other: GradientFlow?, labels: (String, String),
        rowsPerBlock: Int, scale: LogScale?, barWidth: Int, x: Int, y: Int,
        on buffer: inout CellBuffer
    ) {
        var column = x
        for (index, entry) in [(labels.0, flow), (labels.1, other)].enumerated() {
            let row = rowsPerBlock == 2 ? y + index : y
            if rowsPerBlock == 2 { column = x }
            guard let value = entry.1 else {
                // The note keeps to the slot of a bar and its number, so on a narrow panel
                // the B entry is not written over the A entry's note.
                let slot = 5 + barWidth + 8
                let note = slot >= 5 + 15 ? "not reached yet" : "–"
                buffer.put(
                    padRight(entry.0, to: 5) + note, x: column, y: row, style: Theme.note,
                    maxWidth: slot)
                column += slot + 1
                continue
            }
            column =
                drawPath(
                    entry.0, norm: value.input, scale: scale, barWidth: barWidth, x: column,
                    y: row, style: index == 0 ? Theme.skipPath : Theme.residualPath, on: &buffer)
                + 1
        }
    }

    /// Draws "label bar number", or "label off" when `norm` is nil because the path is
    /// disabled, and returns the column after it.
    @discardableResult
    private func drawPath(
        _ label: String, norm: Double?, scale: LogScale?, barWidth: Int, x: Int, y: Int,
        style: CellStyle, on buffer: inout CellBuffer
    ) -> Int {
        buffer.put(padRight(label, to: 5), x: x, y: y)
        let barStart = x + 5
        guard let norm else {
            buffer.put("off", x: barStart, y: y, style: Theme.skipOff)
            return barStart + barWidth + 8
        }
        let bar = scale.map { $0.bar(for: norm, width: barWidth) } ?? ""
        buffer.put(bar, x: barStart, y: y, style: style)
        buffer.put(padLeft(Format.scientific(norm), to: 8), x: barStart + barWidth, y: y)
        return barStart + barWidth + 8
    }

    private func drawScaleLine(
        _ scale: LogScale?, rowsPerBlock: Int, nameWidth: Int, rect: Rect,
        on buffer: inout CellBuffer
    ) {
        let y = rect.maxY - 1
        guard let scale else {
            buffer.put(
                "the backward pass fills this panel", x: rect.x + 1, y: y, style: Theme.note)
            return
        }
        let lower = LogScale.label(scale.lowerExponent)
        let upper = LogScale.label(scale.upperExponent)
        let barWidth = barWidth(rowsPerBlock: rowsPerBlock, nameWidth: nameWidth, width: rect.width)
        let start = rect.x + nameWidth + 5
        // The labels go under the ends of the bars when the bars are wide enough to keep them
        // apart; otherwise the range is written out.
        if rowsPerBlock == 2 && barWidth >= lower.count + upper.count + 2 {
            buffer.put("log10", x: rect.x + 1, y: y, style: Theme.note)
            buffer.put(lower, x: start, y: y, style: Theme.note)
            buffer.putRightAligned(upper, maxX: start + barWidth, y: y, style: Theme.note)
        } else {
            buffer.put(
                "bars: log10 scale from \(lower) to \(upper)", x: rect.x + 1, y: y,
                style: Theme.note)
        }
    }
}

/// A log10 axis from 10^lowerExponent to 10^upperExponent, for bars of positive values.
public struct LogScale: Sendable, Equatable {
    public var lowerExponent: Int
    public var upperExponent: Int

    static let eighths: [Character] = ["▏", "▎", "▍", "▌", "▋", "▊", "▉"]

    /// Creates the smallest range of whole powers of ten, at least one decade wide, that
    /// contains every positive finite value. Returns nil when there is no such value.
    public init?(values: [Double]) {
        let logs = values.filter { $0 > 0 && $0.isFinite }.map { log10($0) }
        guard let low = logs.min(), let high = logs.max() else { return nil }
        lowerExponent = Int(low.rounded(.down))
        upperExponent = max(Int(high.rounded(.up)), lowerExponent + 1)
    }

    /// Draws a bar of full and partial blocks, `width` columns wide at the top of the scale.
    /// Positive values below the scale still get one eighth of a column, so a tiny gradient
    /// stays visible. Zero and non-finite values get no bar.
    public func bar(for value: Double, width: Int) -> String {
        guard value > 0, value.isFinite, width > 0 else { return "" }
        let span = Double(upperExponent - lowerExponent)
        let fraction = min(max((log10(value) - Double(lowerExponent)) / span, 0), 1)
        let eighthCount = max(1, Int((fraction * Double(width * 8)).rounded()))
        var bar = String(repeating: "█", count: eighthCount / 8)
        if eighthCount % 8 > 0 {
            bar.append(Self.eighths[eighthCount % 8 - 1])
        }
        return bar
    }

    /// Formats the axis label for a power of ten: -4 -> "1e-04".
    public static func label(_ exponent: Int) -> String {
        String(format: "1e%+03d", exponent)
    }
}
