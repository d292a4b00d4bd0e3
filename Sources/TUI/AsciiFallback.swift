/// ASCII stand-ins for the UI's non-ASCII glyphs, for terminals outside a UTF-8 locale
/// (LC_ALL=C, the Linux console with a legacy font). Each stand-in keeps the meaning that the
/// glyph carries: on and off stay distinct, and forward and backward markers point their way.
public enum AsciiFallback {
    /// Returns `glyph` unchanged when it is ASCII, else its stand-in, or `?` for a glyph
    /// without one.
    public static func glyph(_ glyph: Character) -> Character {
        if glyph.isASCII { return glyph }
        if let mapped = table[glyph] { return mapped }
        if let scalar = glyph.unicodeScalars.first {
            switch scalar.value {
            case 0x2800: return " "
            case 0x2801...0x28FF: return "*"  // braille dots
            case 0x2581...0x2584: return "_"  // lower blocks up to half
            case 0x2585...0x2588: return "#"  // lower blocks above half and the full block
            case 0x2589...0x258F: return "#"  // left blocks
            case 0x2500...0x257F: return "+"  // any other box-drawing piece
            default: break
            }
        }
        return "?"
    }

    /// Replaces every non-ASCII glyph in `buffer` in place.
    public static func apply(to buffer: inout CellBuffer) {
        buffer.replaceGlyphs(glyph)
    }

    static let table: [Character: Character] = [
        "─": "-", "│": "|", "┌": "+", "┐": "+", "└": "+", "┘": "+", "├": "+", "┤": "+",
        "┬": "+", "┴": "+", "┼": "+", "═": "=", "‖": "|",
        "▶": ">", "◀": "<", "▸": "*", "→": ">", "←": "<", "↑": "^", "↓": "v",
        "●": "+", "○": "-", "·": ".", "×": "x", "…": ".", "–": "-", "∇": "g", "Δ": "d", "γ": "g", "⊙": "*",
        "▀": "\"", "▄": "_", "█": "#", "▁": "_", "░": ".", "▒": ":", "▓": "#",
    ]
}
