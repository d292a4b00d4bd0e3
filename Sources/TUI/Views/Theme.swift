/// Styles shared by the views. Colour only repeats what a glyph or a word already shows
/// (▶ and ◀, "skip" and "res", RUNNING and PAUSED), so the UI stays readable without colour.
enum Theme {
    static let bar = CellStyle(reverse: true)
    static let barEmphasis = CellStyle(bold: true, reverse: true)
    static let border = CellStyle.plain
    static let columnHeader = CellStyle(foreground: .cyan)
    static let selectedRow = CellStyle(bold: true)
    static let forwardMarker = CellStyle(foreground: .green, bold: true)
    static let backwardMarker = CellStyle(foreground: .magenta, bold: true)
    static let skipOn = CellStyle(foreground: .green)
    static let skipOff = CellStyle(foreground: .red, bold: true)
    static let skipPath = CellStyle(foreground: .cyan)
    static let residualPath = CellStyle(foreground: .yellow)
    static let chart = CellStyle(foreground: .green)
    static let note = CellStyle(foreground: .blue)
    static let warning = CellStyle(foreground: .red, bold: true)
}

extension CellBuffer {
    /// Writes how many rows of a scrolled list are hidden, as " ↑ 2 ↓ 3 more ", into the
    /// bottom border of `box`; writes nothing when no row is hidden.
    mutating func drawScrollHint(hiddenAbove: Int, hiddenBelow: Int, box: Rect) {
        var parts: [String] = []
        if hiddenAbove > 0 { parts.append("↑ \(hiddenAbove)") }
        if hiddenBelow > 0 { parts.append("↓ \(hiddenBelow)") }
        guard !parts.isEmpty else { return }
        let text = " " + parts.joined(separator: " ") + " more "
        putRightAligned(text, maxX: box.maxX - 2, y: box.maxY - 1, style: Theme.note)
    }
}
