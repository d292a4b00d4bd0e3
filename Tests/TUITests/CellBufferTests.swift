import TUI
import Testing

@Test func cellBufferStartsBlank() {
    let buffer = CellBuffer(width: 5, height: 2)
    #expect(buffer.lines() == ["     ", "     "])
}

@Test func putClipsAtBufferEdges() {
    var buffer = CellBuffer(width: 6, height: 2)
    let end = buffer.put("abcdefgh", x: 3, y: 0)
    buffer.put("xyz", x: -2, y: 1)
    buffer.put("hidden", x: 0, y: 5)
    #expect(end == 11, "put returns the column after the text, even past the edge")
    #expect(buffer.lines() == ["   abc", "z     "])
}

@Test func putStopsAtMaxWidth() {
    var buffer = CellBuffer(width: 8, height: 1)
    buffer.put("abcdef", x: 1, y: 0, maxWidth: 3)
    #expect(buffer.lines() == [" abc    "])
}

@Test func putKeepsStyles() {
    var buffer = CellBuffer(width: 4, height: 1)
    let style = CellStyle(foreground: .red, bold: true)
    buffer.put("ab", x: 1, y: 0, style: style)
    #expect(buffer[1, 0].style == style)
    #expect(buffer[2, 0].style == style)
    #expect(buffer[0, 0].style == .plain)
    #expect(buffer[3, 0].style == .plain)
}

@Test func controlCharactersBecomeQuestionMarks() {
    var buffer = CellBuffer(width: 4, height: 1)
    buffer.put("a\tb\u{1b}", x: 0, y: 0)
    #expect(buffer.lines() == ["a?b?"])
}

@Test func withClipDropsWritesOutside() {
    var buffer = CellBuffer(width: 8, height: 3)
    buffer.withClip(Rect(x: 2, y: 1, width: 3, height: 1)) { buffer in
        buffer.put("abcdef", x: 0, y: 1)
        buffer.put("zzz", x: 2, y: 0)
    }
    buffer.put("!", x: 7, y: 2)
    #expect(buffer.lines() == ["        ", "  cde   ", "       !"])
}

@Test func fillCoversRectOnly() {
    var buffer = CellBuffer(width: 5, height: 3)
    buffer.fill(Rect(x: 1, y: 1, width: 3, height: 5), glyph: "#")
    #expect(buffer.lines() == ["     ", " ### ", " ### "])
}

@Test func boxHasCornersAndTitle() {
    var buffer = CellBuffer(width: 12, height: 4)
    buffer.drawBox(Rect(x: 0, y: 0, width: 12, height: 4), title: "loss")
    #expect(
        buffer.lines() == [
            "┌ loss ────┐",
            "│          │",
            "│          │",
            "└──────────┘",
        ])
}

@Test func boxTruncatesLongTitle() {
    var buffer = CellBuffer(width: 10, height: 3)
    buffer.drawBox(Rect(x: 0, y: 0, width: 10, height: 3), title: "gradient flow")
    #expect(buffer.lines()[0] == "┌ grad… ─┐")
}

@Test func linesHaveBufferWidthWithWideGlyphSet() {
    var buffer = CellBuffer(width: 10, height: 1)
    buffer.put("▸▶◀●○⠿█▏─×", x: 0, y: 0)
    let line = buffer.lines()[0]
    #expect(line.count == 10)
    #expect(line == "▸▶◀●○⠿█▏─×")
}

@Test func rectIntersectionAndInset() {
    let outer = Rect(x: 0, y: 0, width: 10, height: 6)
    #expect(outer.inset(by: 1) == Rect(x: 1, y: 1, width: 8, height: 4))
    #expect(
        outer.intersection(Rect(x: 8, y: 4, width: 5, height: 5))
            == Rect(x: 8, y: 4, width: 2, height: 2))
    #expect(outer.intersection(Rect(x: 20, y: 0, width: 2, height: 2)).isEmpty)
}

@Test func truncateAndPadding() {
    #expect(truncate("layer3.0", to: 5) == "laye…")
    #expect(truncate("fc", to: 5) == "fc")
    #expect(truncate("fc", to: 0) == "")
    #expect(padLeft("42", to: 5) == "   42")
    #expect(padRight("42", to: 5) == "42   ")
    #expect(padRight("abcdef", to: 4) == "abc…")
}
