import Foundation
import Training

/// The loss of every finished iteration as a braille line chart, with the latest loss and
/// accuracy above it and the loss of the iteration in progress once its loss phase has run.
public struct LossPanel {
    public var snapshot: SessionSnapshot
    public var chartStyle: ChartStyle

    public init(snapshot: SessionSnapshot, chartStyle: ChartStyle = .braille) {
        self.snapshot = snapshot
        self.chartStyle = chartStyle
    }

    public func draw(in rect: Rect, on buffer: inout CellBuffer) {
        buffer.drawBox(rect, title: "loss and accuracy", style: Theme.border)
        let inside = rect.inset(by: 1)
        guard !inside.isEmpty else { return }
        // A tall panel gives the training accuracy its own chart below the loss.
        let accuracyRows = inside.height >= 14 ? 4 : 0
        buffer.withClip(inside) { buffer in
            drawSummary(rect: inside, on: &buffer)
            let chartRect = Rect(
                x: inside.x, y: inside.y + 1, width: inside.width,
                height: inside.height - 2 - accuracyRows)
            drawChart(rect: chartRect, on: &buffer)
            if accuracyRows > 0 {
                drawAccuracy(
                    rect: Rect(
                        x: inside.x, y: inside.maxY - accuracyRows, width: inside.width,
                        height: accuracyRows),
                    on: &buffer)
            }
        }
    }

    /// Draws the smoothed training-batch accuracy on a fixed 0 to 100% scale under a label
    /// row, with compare mode's model B dotted.
    private func drawAccuracy(rect: Rect, on buffer: inout CellBuffer) {
        let history = snapshot.history
        let otherHistory = snapshot.comparison?.history ?? []
        buffer.put("accuracy", x: rect.x, y: rect.y, style: Theme.note)
        guard !history.isEmpty || !otherHistory.isEmpty else { return }
        let labelWidth = 6
        buffer.put("100%", x: rect.x + labelWidth - 5, y: rect.y + 1, style: Theme.note)
        buffer.put("0%", x: rect.x + labelWidth - 3, y: rect.maxY - 1, style: Theme.note)
        let plot = Rect(
            x: rect.x + labelWidth, y: rect.y + 1, width: rect.width - labelWidth,
            height: rect.height - 1)
        guard !plot.isEmpty else { return }
        var cells = LineChart.cells(
            values: Self.smoothed(history.map(\.accuracy)), width: plot.width,
            height: plot.height, low: 0, high: 1, style: chartStyle)
        if !otherHistory.isEmpty {
            let other = LineChart.cells(
                values: Self.smoothed(otherHistory.map(\.accuracy)), width: plot.width,
                height: plot.height, low: 0, high: 1, style: chartStyle, dotted: true)
            for row in cells.indices {
                for column in cells[row].indices { cells[row][column] |= other[row][column] }
            }
        }
        for (row, line) in LineChart.render(cells, style: chartStyle).enumerated() {
            buffer.put(line, x: plot.x, y: plot.y + row, style: Theme.chart)
        }
    }

    /// Returns an exponential moving average whose span grows with the history (about a twentieth
    /// of it, at least 1 step), so the curve stays readable from 10 to 10,000 steps. A
    /// non-finite value is passed through and restarts the average after it.
    public static func smoothed(_ values: [Double]) -> [Double] {
        let span = max(1.0, Double(values.count) / 20)
        let alpha = 2 / (span + 1)
        var average: Double?
        return values.map { value in
            guard value.isFinite else {
                average = nil
                return value
            }
            let next = average.map { $0 + alpha * (value - $0) } ?? value
            average = next
            return next
        }
    }

    private func drawSummary(rect: Rect, on buffer: inout CellBuffer) {
        if let comparison = snapshot.comparison {
            func summary(_ history: [StepRecord]) -> String {
                guard let latest = history.last else { return "–" }
                return "\(Format.statistic(latest.loss)) (\(Format.percent(latest.accuracy)))"
            }
            let text = "A ─ \(summary(snapshot.history))  B ┄ \(summary(comparison.history))"
            buffer.put(text, x: rect.x, y: rect.y, style: Theme.selectedRow)
            return
        }
        var parts: [String]
        if let latest = snapshot.history.last {
            parts = [
                "last \(Format.statistic(latest.loss))", "acc \(Format.percent(latest.accuracy))",
            ]
        } else {
            parts = ["no finished iteration yet"]
        }
        // At an iteration boundary the current loss is the last one, already shown.
        if let current = snapshot.currentLoss, snapshot.nextPhase != 0 {
            parts.append("now \(Format.statistic(current))")
        }
        if let test = snapshot.testAccuracy {
            parts.append("test \(Format.percent(test.accuracy)) @\(test.iteration)")
        }
        buffer.put(
            Format.fitted(parts, width: rect.width), x: rect.x, y: rect.y,
            style: Theme.selectedRow)
    }

    private func drawChart(rect: Rect, on buffer: inout CellBuffer) {
        let history = snapshot.history
        let otherHistory = snapshot.comparison?.history ?? []
        let finite = (history + otherHistory).map(\.loss).filter(\.isFinite)
        guard var low = finite.min(), var high = finite.max(), rect.height > 0 else {
            if rect.height > 0 {
                buffer.put("press s to run an iteration", x: rect.x, y: rect.y, style: Theme.note)
            }
            return
        }
        if high == low {
            // A flat history still gets a range, so the line sits in the middle between two
            // distinct labels.
            let margin = max(abs(low) * 0.05, 0.001)
            low -= margin
            high += margin
        }
        let top = Format.statistic(high)
        let bottom = Format.statistic(low)
        let labelWidth = max(top.count, bottom.count) + 1
        buffer.put(top, x: rect.x, y: rect.y, style: Theme.note)
        if rect.height > 1 {
            buffer.put(bottom, x: rect.x, y: rect.maxY - 1, style: Theme.note)
        }
        let plot = Rect(
            x: rect.x + labelWidth, y: rect.y, width: rect.width - labelWidth,
            height: rect.height)
        guard !plot.isEmpty else { return }
        let comparing = snapshot.comparison != nil
        // Alone, the raw loss is dotted under its smoothed curve. In compare mode, A's and
        // B's smoothed curves are solid and dotted, and the raw values are left out.
        var cells = LineChart.cells(
            values: Self.smoothed(history.map(\.loss)), width: plot.width,
            height: plot.height, low: low, high: high, style: chartStyle)
        if !comparing && history.count > 2 {
            let raw = LineChart.cells(
                values: history.map(\.loss), width: plot.width, height: plot.height, low: low,
                high: high, style: chartStyle, dotted: true)
            for row in cells.indices {
                for column in cells[row].indices { cells[row][column] |= raw[row][column] }
            }
        }
        if comparing, !otherHistory.isEmpty {
            // Both series span the full width. Lockstep gives them the same iterations
            // unless one diverged, which skips its record.
            let other = LineChart.cells(
                values: Self.smoothed(otherHistory.map(\.loss)), width: plot.width,
                height: plot.height,
                low: low, high: high, style: chartStyle, dotted: true)
            for row in cells.indices {
                for column in cells[row].indices { cells[row][column] |= other[row][column] }
            }
        }
        let chart = LineChart.render(cells, style: chartStyle)
        for (row, line) in chart.enumerated() {
            buffer.put(line, x: plot.x, y: plot.y + row, style: Theme.chart)
        }

        // The x axis under the chart: the first and last iteration in the history.
        let axisY = rect.maxY
        let axisHistory = history.isEmpty ? otherHistory : history
        guard let firstRecord = axisHistory.first, let lastRecord = axisHistory.last else {
            return
        }
        let first = "iter \(firstRecord.iteration)"
        let last = "iter \(lastRecord.iteration)"
        buffer.put(first, x: plot.x, y: axisY, style: Theme.note)
        if axisHistory.count > 1 && plot.width >= first.count + last.count + 1 {
            buffer.putRightAligned(last, maxX: plot.maxX, y: axisY, style: Theme.note)
        }
    }
}

/// The character set of line charts: braille patterns (2x4 dots per cell), half blocks (1x2 per
/// cell) for fonts without braille, or `*` characters for terminals without Unicode.
public enum ChartStyle: String, Sendable, CaseIterable {
    case braille
    case block
    case ascii

    /// Dot columns and dot rows in one character cell.
    var dotsPerCell: (columns: Int, rows: Int) {
        switch self {
        case .braille: return (2, 4)
        case .block: return (1, 2)
        case .ascii: return (1, 1)
        }
    }

    /// Returns the character for a cell whose dots are set in `bits`, numbered as `dotBit`
    /// numbers them.
    func glyph(bits: UInt32) -> Unicode.Scalar {
        switch self {
        case .braille:
            return Unicode.Scalar(0x2800 + bits)!
        case .block:
            return ([" ", "▀", "▄", "█"] as [Unicode.Scalar])[Int(bits)]
        case .ascii:
            return bits == 0 ? " " : "*"
        }
    }

    /// Returns the bit of the dot in column `x` and row `y` (top down) of a cell. For braille
    /// these are the bits of the Unicode braille block (U+2800 + bits). For blocks, bit 0 is
    /// the upper half and bit 1 the lower.
    func dotBit(x: Int, y: Int) -> UInt32 {
        switch self {
        case .braille: return BrailleChart.dotBits[x][y]
        case .block, .ascii: return UInt32(1) << y
        }
    }
}

/// Line charts drawn with braille patterns, which give each cell a 2x4 grid of dots.
public enum BrailleChart {
    /// Bit of the dot in column `x` (0 or 1) and row `y` (0 to 3, top down) of a braille
    /// cell, in the order of the Unicode braille block (U+2800 + bits).
    static let dotBits: [[UInt32]] = [[0x01, 0x02, 0x04, 0x40], [0x08, 0x10, 0x20, 0x80]]

    /// `values` as `height` strings of `width` braille cells; see `LineChart.lines`.
    public static func lines(
        values: [Double], width: Int, height: Int, low: Double, high: Double
    ) -> [String] {
        LineChart.lines(
            values: values, width: width, height: height, low: low, high: high, style: .braille)
    }

    static func columnValues(_ values: [Double], columns: Int) -> [Double?] {
        LineChart.columnValues(values, columns: columns)
    }
}

/// Line charts in any `ChartStyle`.
public enum LineChart {
    /// `values` as `height` strings of `width` cells, `low` at the bottom dot row and `high`
    /// at the top, joined by straight segments across the full width. With more values than
    /// dot columns, each column shows the mean of a run of consecutive values. A non-finite
    /// value (a diverged loss) leaves a gap.
    public static func lines(
        values: [Double], width: Int, height: Int, low: Double, high: Double,
        style: ChartStyle
    ) -> [String] {
        render(
            cells(values: values, width: width, height: height, low: low, high: high, style: style),
            style: style)
    }

    /// Turns dot bits from `cells` (one array per row) into text.
    public static func render(_ cells: [[UInt32]], style: ChartStyle) -> [String] {
        cells.map { row in
            String(String.UnicodeScalarView(row.map { style.glyph(bits: $0) }))
        }
    }

    /// The dots of the chart that `lines` draws, one bit set per dot, so two charts can be
    /// merged with `|`. A `dotted` line sets only every other dot column, which sets it
    /// apart from a solid one without colour.
    public static func cells(
        values: [Double], width: Int, height: Int, low: Double, high: Double,
        style: ChartStyle, dotted: Bool = false
    ) -> [[UInt32]] {
        guard width > 0, height > 0 else { return [] }
        let (dotsAcross, dotsDown) = style.dotsPerCell
        let dotRows = height * dotsDown
        var cells = Array(repeating: Array(repeating: UInt32(0), count: width), count: height)

        var previousRow: Int?
        let columns = columnValues(values, columns: width * dotsAcross)
        for (column, value) in columns.enumerated() {
            guard let value else {
                previousRow = nil
                continue
            }
            if dotted && column % 2 == 1 { continue }
            let fraction = high > low ? (value - low) / (high - low) : 0.5
            let row = Int(((1 - min(max(fraction, 0), 1)) * Double(dotRows - 1)).rounded())
            // A vertical run of dots from the previous column's row keeps steep parts of the
            // line connected.
            for dotRow in min(row, previousRow ?? row)...max(row, previousRow ?? row) {
                cells[dotRow / dotsDown][column / dotsAcross] |= style.dotBit(
                    x: column % dotsAcross, y: dotRow % dotsDown)
            }
            previousRow = dotted ? nil : row
        }
        return cells
    }

    /// Returns one value per dot column, nil where nothing is drawn. More values than columns
    /// are averaged in runs, and fewer are spread over the columns and interpolated.
    static func columnValues(_ values: [Double], columns: Int) -> [Double?] {
        if values.count > columns {
            return (0..<columns).map { column in
                let start = column * values.count / columns
                let end = (column + 1) * values.count / columns
                let run = values[start..<end].filter(\.isFinite)
                return run.isEmpty ? nil : run.reduce(0, +) / Double(run.count)
            }
        }
        var result = [Double?](repeating: nil, count: columns)
        guard let first = values.first else { return result }
        if values.count == 1 {
            result[0] = first.isFinite ? first : nil
            return result
        }
        let step = Double(columns - 1) / Double(values.count - 1)
        for index in 0..<(values.count - 1) {
            let (from, to) = (values[index], values[index + 1])
            let start = Int((Double(index) * step).rounded())
            let end = Int((Double(index + 1) * step).rounded())
            // A segment with a non-finite end is not drawn, but its finite end still gets its
            // dot, so a point between two gaps stays visible.
            guard from.isFinite && to.isFinite else {
                if from.isFinite { result[start] = from }
                if to.isFinite { result[end] = to }
                continue
            }
            for column in start...end {
                let t = end > start ? Double(column - start) / Double(end - start) : 0
                result[column] = from + t * (to - from)
            }
        }
        return result
    }
}
