import Foundation
import Training

/// The layer list, one row per layer. A row shows the selection cursor (▸) and the stepper
/// marker (▶ after the layer's forward phase, ◀ after its backward phase). Then come the output
/// shape, the parameter count, the skip state of blocks and the statistics of the output.
///
/// When the rows do not fit, the list scrolls to keep the stepper marker and the selection
/// in view, and the bottom border shows how many rows are hidden above and below.
public struct NetworkPanel {
    public var snapshot: SessionSnapshot
    public var state: UIState

    public init(snapshot: SessionSnapshot, state: UIState) {
        self.snapshot = snapshot
        self.state = state
    }

    /// Rows the panel needs to show every layer: the border, the column header and one row
    /// per layer.
    public var preferredHeight: Int { snapshot.layers.count + 3 }

    /// The layer row that carries the stepper marker, with the marker glyph.
    public var stepperMarker: (layer: Int, glyph: Character)? {
        switch snapshot.lastPhase {
        case .forward(let layer): return (layer, "▶")
        case .backward(let layer): return (layer, "◀")
        default: return nil
        }
    }

    public func draw(in rect: Rect, on buffer: inout CellBuffer) {
        buffer.drawBox(rect, title: "network", style: Theme.border)
        let inside = rect.inset(by: 1)
        guard !inside.isEmpty else { return }
        let columns = Columns(layers: snapshot.layers, width: inside.width)
        let visibleRows = inside.height - 1
        let first = firstVisibleLayer(visibleRows: visibleRows)
        let last = min(snapshot.layers.count, first + max(0, visibleRows))
        buffer.withClip(inside) { buffer in
            drawHeader(columns: columns, x: inside.x, y: inside.y, on: &buffer)
            for (row, layer) in (first..<last).enumerated() {
                drawLayer(layer, columns: columns, x: inside.x, y: inside.y + 1 + row, on: &buffer)
            }
        }
        buffer.drawScrollHint(
            hiddenAbove: first, hiddenBelow: snapshot.layers.count - last, box: rect)
    }

    /// Returns the layer drawn at screen row `y` when the panel fills `rect`, or nil for the border,
    /// the header and empty rows.
    public func layer(atRow y: Int, in rect: Rect) -> Int? {
        let inside = rect.inset(by: 1)
        let visibleRows = inside.height - 1
        let row = y - (inside.y + 1)
        guard row >= 0, row < visibleRows else { return nil }
        let layer = firstVisibleLayer(visibleRows: visibleRows) + row
        return snapshot.layers.indices.contains(layer) ? layer : nil
    }

    /// Index of the first layer shown, chosen so that the stepper marker and the selection are
    /// both visible when they fit together, and the stepper marker alone otherwise.
    public func firstVisibleLayer(visibleRows: Int) -> Int {
        let count = snapshot.layers.count
        guard visibleRows > 0, count > visibleRows else { return 0 }
        let focus = [stepperMarker?.layer, state.selectedLayer].compactMap { $0 }
        guard let low = focus.min(), let high = focus.max() else { return 0 }
        let anchor = high - low < visibleRows ? (low + high) / 2 : (stepperMarker?.layer ?? low)
        var first = anchor - visibleRows / 2
        if high - low < visibleRows {
            first = min(first, low)
            first = max(first, high - visibleRows + 1)
        }
        return min(max(first, 0), count - visibleRows)
    }

    private func drawHeader(columns: Columns, x: Int, y: Int, on buffer: inout CellBuffer) {
        var text =
            "  " + padRight("layer", to: columns.name) + padRight("output", to: columns.shape)
        text += padLeft("params", to: Columns.parameters) + "  " + padRight("skip", to: 6)
        text += padLeft("mean", to: Columns.statistic) + padLeft("std", to: Columns.statistic)
        text += padLeft("zero", to: Columns.zero)
        if columns.histogramBins > 0 {
            text += "  " + "histogram"
        }
        buffer.put(text, x: x, y: y, style: Theme.columnHeader)
    }

    private func drawLayer(
        _ index: Int, columns: Columns, x: Int, y: Int, on buffer: inout CellBuffer
    ) {
        let layer = snapshot.layers[index]
        let selected = state.selectedLayer == index
        let rowStyle = selected ? Theme.selectedRow : CellStyle.plain

        if selected {
            buffer.set(x: x, y: y, glyph: "▸", style: Theme.selectedRow)
        }
        if let marker = stepperMarker, marker.layer == index {
            let style = marker.glyph == "▶" ? Theme.forwardMarker : Theme.backwardMarker
            buffer.set(x: x + 1, y: y, glyph: marker.glyph, style: style)
        }

        var column = x + 2
        column = buffer.put(
            padRight(layer.name, to: columns.name), x: column, y: y, style: rowStyle)
        column = buffer.put(
            padRight(Format.shape(layer.outputShape), to: columns.shape), x: column, y: y,
            style: rowStyle)
        column = buffer.put(
            padLeft(Format.count(layer.parameterCount), to: Columns.parameters) + "  ", x: column,
            y: y, style: rowStyle)
        if layer.kind == .block {
            let path = layer.hasProjection ? "proj " : "skip "
            let mark = layer.skipEnabled ? "●" : "○"
            buffer.put(
                path + mark, x: column, y: y,
                style: layer.skipEnabled ? Theme.skipOn : Theme.skipOff)
        }
        column += 6

        let stats = snapshot.activations.indices.contains(index) ? snapshot.activations[index] : nil
        guard let stats else { return }
        column = buffer.put(
            padLeft(Format.statistic(stats.mean), to: Columns.statistic), x: column, y: y)
        column = buffer.put(
            padLeft(Format.statistic(stats.std), to: Columns.statistic), x: column, y: y)
        column = buffer.put(
            padLeft(String(format: "%.0f%%", stats.zeroFraction * 100), to: Columns.zero),
            x: column, y: y)
        if columns.histogramBins > 0 {
            let bars = Sparkline.histogram(stats.histogram, bins: columns.histogramBins)
            buffer.put(bars, x: column + 2, y: y, style: Theme.skipPath)
        }
    }

    /// Column widths, from the longest name and shape, with a histogram when the room allows.
    struct Columns {
        static let parameters = 6
        static let statistic = 8
        static let zero = 6

        let name: Int
        let shape: Int
        /// Bins of the activation histogram to draw, 0 when it does not fit.
        let histogramBins: Int

        init(layers: [LayerInfo], width: Int) {
            name = max(6, (layers.map(\.name.count).max() ?? 0) + 1)
            shape = max(7, (layers.map { Format.shape($0.outputShape).count }.max() ?? 0) + 1)
            let used = 2 + name + shape + Self.parameters + 2 + 6 + 2 * Self.statistic + Self.zero
            let room = width - used - 2
            histogramBins = [32, 16, 8].first { $0 <= room } ?? 0
        }
    }
}

/// Block-element sparklines, eight levels per cell.
public enum Sparkline {
    static let levels: [Character] = ["▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"]

    /// `counts` merged into `bins` equal groups and drawn as one column per group, scaled to
    /// the tallest group. Empty groups are blank so that gaps in a distribution stay visible.
    public static func histogram(_ counts: [Int], bins: Int) -> String {
        guard bins > 0, !counts.isEmpty else { return "" }
        var merged = Array(repeating: 0, count: bins)
        for (index, count) in counts.enumerated() {
            merged[index * bins / counts.count] += count
        }
        let tallest = merged.max() ?? 0
        guard tallest > 0 else { return String(repeating: " ", count: bins) }
        return String(
            merged.map { count -> Character in
                if count == 0 { return " " }
                let level = (count * levels.count - 1) / tallest
                return levels[min(level, levels.count - 1)]
            })
    }

    /// Draws a histogram `rows` cells tall, with `counts` merged into `bins` columns whose
    /// heights, in eighths of a cell, are proportional to their counts. Returns rows top down.
    public static func histogramRows(_ counts: [Int], bins: Int, rows: Int) -> [String] {
        guard bins > 0, rows > 0, !counts.isEmpty else { return [] }
        var merged = Array(repeating: 0, count: bins)
        for (index, count) in counts.enumerated() {
            merged[index * bins / counts.count] += count
        }
        let tallest = max(merged.max() ?? 0, 1)
        let eighths = merged.map { count in
            count == 0 ? 0 : max(1, (count * rows * 8 + tallest / 2) / tallest)
        }
        return (0..<rows).map { row in
            let floor = (rows - 1 - row) * 8
            return String(
                eighths.map { height -> Character in
                    let level = min(max(height - floor, 0), 8)
                    return level == 0 ? " " : levels[level - 1]
                })
        }
    }
}
