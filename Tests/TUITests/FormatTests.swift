import TUI
import Testing
import Training

@Test func countSuffixes() {
    let cases: [(Int, String)] = [
        (0, "0"), (464, "464"), (999, "999"), (1000, "1.0k"), (4672, "4.7k"),
        (14_208, "14.2k"), (999_949, "999.9k"), (999_950, "1.0M"), (1_234_567, "1.2M"),
    ]
    for (value, expected) in cases {
        #expect(Format.count(value) == expected, "count(\(value))")
    }
}

@Test func scientificNotation() {
    let cases: [(Double, String)] = [
        (0.0123, "1.2e-02"), (0.000901, "9.0e-04"), (0, "0.0e+00"), (12345, "1.2e+04"),
        (0.0999, "1.0e-01"), (-0.5, "-5.0e-01"), (.nan, "nan"), (.infinity, "inf"),
        (-.infinity, "-inf"),
    ]
    for (value, expected) in cases {
        #expect(Format.scientific(value) == expected, "scientific(\(value))")
    }
}

@Test func statisticSwitchesToScientific() {
    #expect(Format.statistic(0.456) == "0.456")
    #expect(Format.statistic(-12.3456) == "-12.346")
    #expect(Format.statistic(0) == "0.000")
    #expect(Format.statistic(0.0001234) == "1.2e-04")
    #expect(Format.statistic(12345) == "1.2e+04")
}

@Test func shapeDropsUnitSpatialSize() {
    #expect(Format.shape([16, 28, 28]) == "16×28×28")
    #expect(Format.shape([64, 1, 1]) == "64")
    #expect(Format.shape([10]) == "10")
}

@Test func learningRateDropsTrailingZeros() {
    #expect(Format.learningRate(0.1) == "0.1")
    #expect(Format.learningRate(0.05) == "0.05")
    #expect(Format.learningRate(1) == "1")
    #expect(Format.learningRate(0.0005) == "5.0e-04")
}

@Test func phaseNamesLayers() {
    let layers = Fixtures.layers
    #expect(Format.phase(.forward(layer: 2), layers: layers) == "▶ fwd layer2.0")
    #expect(Format.phase(.backward(layer: 3), layers: layers) == "◀ bwd layer3.0")
    #expect(Format.phase(.loss, layers: layers) == "loss")
    #expect(Format.phase(.update, layers: layers) == "update")
    #expect(Format.phase(.loadBatch, layers: layers) == "load batch")
    #expect(Format.phase(.forward(layer: 9), layers: layers) == "▶ fwd layer 9")
}

@Test func logScaleSpansWholeDecades() throws {
    let scale = try #require(LogScale(values: [0.0123, 0.000901, 0, -1, .nan]))
    #expect(scale.lowerExponent == -4)
    #expect(scale.upperExponent == -1)
    #expect(LogScale(values: [0, .nan]) == nil)
    let single = try #require(LogScale(values: [0.01]))
    #expect(single.lowerExponent == -2)
    #expect(single.upperExponent == -1, "a scale is at least one decade wide")
}

@Test func logScaleBarLengths() {
    let scale = LogScale(values: [1e-4, 1e-1])!
    // 1e-4 ... 1e-1 is three decades over 12 columns: four columns per decade.
    #expect(scale.bar(for: 1e-1, width: 12) == String(repeating: "█", count: 12))
    #expect(scale.bar(for: 1e-2, width: 12) == String(repeating: "█", count: 8))
    #expect(scale.bar(for: 1e-3, width: 12) == "████")
    #expect(scale.bar(for: 1e-4, width: 12) == "▏", "the bottom of the scale keeps one eighth")
    #expect(scale.bar(for: 10, width: 12).count == 12, "values above the scale are capped")
    #expect(scale.bar(for: 0, width: 12) == "")
    // 10^-2.5 is half way: 6 columns.
    #expect(scale.bar(for: 0.0031623, width: 12) == "██████")
    // 10^-2.25 is 7.0 columns: 56 eighths.
    #expect(scale.bar(for: 0.0056234, width: 12) == "███████")
    #expect(scale.bar(for: 0.0060, width: 12) == "███████▏")
}

@Test func logScaleLabels() {
    #expect(LogScale.label(-4) == "1e-04")
    #expect(LogScale.label(0) == "1e+00")
    #expect(LogScale.label(2) == "1e+02")
}

@Test func brailleChartDescendingLine() {
    // Two values over one cell: the first at the top-left dot, the second at the
    // bottom-right dot, joined by a vertical run in the right column.
    let lines = BrailleChart.lines(values: [1, 0], width: 1, height: 1, low: 0, high: 1)
    // Left column top dot 0x01; right column rows 0...3: 0x08 | 0x10 | 0x20 | 0x80.
    #expect(lines == [String(Unicode.Scalar(0x2800 + 0x01 + 0x08 + 0x10 + 0x20 + 0x80)!)])
}

@Test func brailleChartShape() {
    let values = (0..<50).map { Double($0) }
    let lines = BrailleChart.lines(values: values, width: 10, height: 3, low: 0, high: 49)
    #expect(lines.count == 3)
    for line in lines {
        #expect(line.count == 10)
        #expect(line.unicodeScalars.allSatisfy { (0x2800...0x28FF).contains($0.value) })
    }
    // A rising line starts at the bottom-left and ends at the top-right.
    #expect(lines[2].unicodeScalars.first!.value != 0x2800)
    #expect(lines[0].unicodeScalars.last!.value != 0x2800)
    #expect(lines[0].unicodeScalars.first!.value == 0x2800)
}

@Test func brailleChartLeavesGapForNaN() {
    let lines = BrailleChart.lines(
        values: [1, .nan, .nan, .nan, 1], width: 4, height: 1, low: 0, high: 2)
    let scalars = lines[0].unicodeScalars.map(\.value)
    #expect(scalars[0] != 0x2800)
    #expect(scalars[1] == 0x2800, "the non-finite values leave empty cells")
    #expect(scalars[2] == 0x2800)
    #expect(scalars[3] != 0x2800)
}

@Test func sparklineHistogram() {
    #expect(Sparkline.histogram([8, 0, 4, 1], bins: 4) == "█ ▄▁")
    #expect(Sparkline.histogram([1, 1, 0, 0], bins: 2) == "█ ")
    #expect(Sparkline.histogram([0, 0], bins: 2) == "  ")
    #expect(Sparkline.histogram([], bins: 2) == "")
}

@Test func histogramRowsStack() {
    let rows = Sparkline.histogramRows([4, 2, 0, 1], bins: 4, rows: 2)
    // Heights in eighths of a cell over 2 rows (16 eighths): 16, 8, 0, 4.
    #expect(rows == ["█   ", "██ ▄"])
}

@Test func smoothingFollowsTrend() {
    let values = (0..<100).map { Double($0 % 2 == 0 ? 1 : 3) }
    let smooth = LossPanel.smoothed(values)
    #expect(smooth.count == values.count)
    // The alternating 1, 3 series averages near 2 once the average has settled.
    #expect(abs(smooth[99] - 2) < 0.3, "\(smooth[99])")
    #expect(smooth.first == 1)
}

@Test func smoothingRestartsAfterNaN() {
    let smooth = LossPanel.smoothed([1, 1, .nan, 5])
    #expect(smooth[2].isNaN)
    #expect(smooth[3] == 5)
}
