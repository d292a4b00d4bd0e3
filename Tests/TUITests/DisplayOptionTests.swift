import TUI
import Testing
import Training

@Test(arguments: screenSizes)
func asciiFallbackLeavesOnlyAscii(width: Int, height: Int) {
    let snapshot = Fixtures.backwardThroughLayer1()
    var buffer = CellBuffer(width: width, height: height)
    Screen.draw(
        snapshot: snapshot, state: UIState(snapshot: snapshot, chartStyle: .ascii),
        into: &buffer)
    let original = buffer.lines()
    AsciiFallback.apply(to: &buffer)
    let lines = buffer.lines()
    #expect(lines.count == height)
    for (row, line) in lines.enumerated() {
        #expect(line.count == width, "row \(row) is \(line.count) wide")
        #expect(line.allSatisfy { $0.isASCII }, "row \(row): \(line)")
        let unmapped = zip(original[row], line).filter { $0.1 == "?" && $0.0 != "?" }
        #expect(unmapped.isEmpty, "row \(row) has glyphs without a stand-in: \(unmapped)")
    }
}

@Test func asciiFallbackKeepsSkipStatesDistinct() {
    #expect(AsciiFallback.glyph("●") != AsciiFallback.glyph("○"))
    #expect(AsciiFallback.glyph("▶") == ">")
    #expect(AsciiFallback.glyph("◀") == "<")
    // The selection marker must differ from the phase marker in the same column pair.
    #expect(AsciiFallback.glyph("▸") != AsciiFallback.glyph("▶"))
    #expect(AsciiFallback.glyph("a") == "a")
}

@Test func blockChartUsesHalfBlocks() {
    // Two values over two cells of one row: the first sits in the top half, and the second
    // in the bottom half joined to the first by a vertical run, which fills the cell.
    let lines = LineChart.lines(
        values: [1, 0], width: 2, height: 1, low: 0, high: 1, style: .block)
    #expect(lines == ["▀█"])
    let top = LineChart.lines(values: [1], width: 1, height: 1, low: 0, high: 1, style: .block)
    #expect(top == ["▀"])
    let bottom = LineChart.lines(values: [0], width: 1, height: 1, low: 0, high: 1, style: .block)
    #expect(bottom == ["▄"])
}

@Test func asciiChartDrawsStars() {
    let lines = LineChart.lines(
        values: [0, 1, 2, 3], width: 4, height: 4, low: 0, high: 3, style: .ascii)
    // Each column also fills the rows back to the previous value, so the line stays joined.
    #expect(lines == ["   *", "  **", " ** ", "**  "])
}

@Test func noColorEnvironment() {
    #expect(DisplayOptions.colorAllowed(environment: [:]))
    #expect(DisplayOptions.colorAllowed(environment: ["NO_COLOR": ""]))
    #expect(!DisplayOptions.colorAllowed(environment: ["NO_COLOR": "1"]))
}
