import Foundation
import Training

/// Draws the depth-by-time strip: one row per layer (input side at the top), one column
/// per iteration or group of iterations (newest at the right), each cell shaded by the log
/// of the gradient norm at the layer's input. To the right of the cells are the latest
/// column's fraction of zero outputs and batch-norm scale drift. Below them is the alarm
/// nearest the input, or a line stating that there is none.
public struct DepthTimeView {
    public var strip: DepthTimeStrip
    public var colorCount: Int

    public init(strip: DepthTimeStrip, colorCount: Int) {
        self.strip = strip
        self.colorCount = colorCount
    }

    /// Width of the label column: the longest name plus a mark for an alarm.
    private var labelWidth: Int { (strip.names.map(\.count).max() ?? 4) + 2 }
    /// Width of the two number columns on the right: " zero%  Δγ".
    private static let numbersWidth = 14

    /// Returns the strip rows that `rows` screen rows show: all of them when they fit, else
    /// an even sample that keeps the first and the last.
    static func sampledRows(count: Int, rows: Int) -> [Int] {
        guard rows > 0, count > 0 else { return [] }
        guard count > rows else { return Array(0..<count) }
        if rows == 1 { return [count - 1] }
        return (0..<rows).map { $0 * (count - 1) / (rows - 1) }
    }

    public func draw(in inside: Rect, on buffer: inout CellBuffer) {
        buffer.withClip(inside) { buffer in
            let x = inside.x + 1
            guard !strip.columns.isEmpty else {
                buffer.put(
                    "depth × time: no finished iteration yet (press s or Space)", x: x,
                    y: inside.y, style: Theme.note)
                return
            }
            let cellsWidth = max(0, inside.width - 2 - labelWidth - Self.numbersWidth)
            let visible = Array(strip.columns.suffix(cellsWidth))
            let bodyRows = max(0, inside.height - 2)
            let rows = Self.sampledRows(count: strip.layers.count, rows: bodyRows)
            let (low, high) = range(of: visible)

            let first = visible.first!.firstIteration
            let last = visible.last!.lastIteration
            let per =
                strip.iterationsPerColumn == 1 ? "" : " (\(strip.iterationsPerColumn)/col)"
            let legend =
                "iter \(first)–\(last)\(per) · |dL/dx| "
                + "\(Format.scientific(pow(10, Double(low)))) to "
                + "\(Format.scientific(pow(10, Double(high))))"
            buffer.put(legend, x: x, y: inside.y, maxWidth: labelWidth + cellsWidth)
            let numbersX = x + labelWidth + cellsWidth + 1
            buffer.put(" zero%    Δγ", x: numbersX, y: inside.y, style: Theme.columnHeader)

            let alarmed = Set(strip.alarms.map(\.layer))
            let latest = strip.columns.last!
            for (screenRow, row) in rows.enumerated() {
                let y = inside.y + 1 + screenRow
                let layer = strip.layers[row]
                let mark = alarmed.contains(layer) ? "!" : " "
                buffer.put(
                    mark + strip.names[row], x: x, y: y,
                    style: alarmed.contains(layer) ? Theme.warning : .plain)
                for (column, values) in visible.enumerated() {
                    drawCell(
                        values.logGradient[row], low: low, high: high,
                        x: x + labelWidth + column, y: y, on: &buffer)
                }
                let zero = latest.zeroFraction[row]
                let zeroText = zero.isNaN ? "-" : String(format: "%.0f%%", zero * 100)
                let drift = latest.gammaDrift[row]
                buffer.put(
                    zeroText.leftPadded(to: 6) + Format.scientific(Double(drift)).leftPadded(to: 8),
                    x: numbersX, y: y)
            }

            let bottom = inside.maxY - 1
            if let alarm = strip.headline {
                let more = strip.alarms.count > 1 ? " (+\(strip.alarms.count - 1) more)" : ""
                buffer.put("! " + alarm.text + more, x: x, y: bottom, style: Theme.warning)
            } else {
                buffer.put(
                    "no alarm: all input gradients within 1e-3..1e3 of the last block",
                    x: x, y: bottom, style: Theme.note)
            }
        }
    }

    /// Returns the finite range of the log norms in the visible columns, widened when flat.
    private func range(of columns: [DepthTimeStrip.Column]) -> (Float, Float) {
        var low = Float.infinity
        var high = -Float.infinity
        for column in columns {
            for value in column.logGradient where value.isFinite {
                low = min(low, value)
                high = max(high, value)
            }
        }
        guard low <= high else { return (0, 1) }
        if high - low < 1e-6 { return (low - 0.5, high + 0.5) }
        return (low, high)
    }

    private func drawCell(
        _ value: Float, low: Float, high: Float, x: Int, y: Int, on buffer: inout CellBuffer
    ) {
        guard value.isFinite else {
            buffer.put("·", x: x, y: y, style: Theme.note)
            return
        }
        let fraction = (value - low) / (high - low)
        func level(_ steps: Int) -> Int { min(max(Int(fraction * Float(steps)), 0), steps - 1) }
        if colorCount == 0 {
            buffer.put(String(HeatMap.shades[level(HeatMap.shades.count)]), x: x, y: y)
            return
        }
        let ramp = colorCount >= 256 ? HeatMap.ramp256 : HeatMap.ramp8
        buffer.put("█", x: x, y: y, style: CellStyle(foreground: ramp[level(ramp.count)]))
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}
