/// An off-screen grid of terminal cells that the views draw into and the curses driver copies
/// to the screen. Tests read it back as text with `lines()`.
///
/// Every glyph is assumed to be one column wide: the views use only box drawing, block
/// elements, braille and a few arrows and circles, which terminals draw in one column.

/// A colour of the xterm 256-colour palette, or the terminal's own default colour.
///
/// `rawValue` is the curses colour number: 0 to 7 are the ANSI colours (`COLOR_BLACK` ...
/// `COLOR_WHITE`), 16 to 231 the 6x6x6 colour cube, 232 to 255 a grey ramp, and -1 the
/// default colour that `use_default_colors` makes available. The driver replaces a colour
/// above 7 by the nearest ANSI colour on a terminal with fewer than 256 colours.
public struct PaletteColor: RawRepresentable, Hashable, Sendable {
    public let rawValue: Int16

    public init(rawValue: Int16) {
        self.rawValue = rawValue
    }

    public static let terminalDefault = PaletteColor(rawValue: -1)
    public static let black = PaletteColor(rawValue: 0)
    public static let red = PaletteColor(rawValue: 1)
    public static let green = PaletteColor(rawValue: 2)
    public static let yellow = PaletteColor(rawValue: 3)
    public static let blue = PaletteColor(rawValue: 4)
    public static let magenta = PaletteColor(rawValue: 5)
    public static let cyan = PaletteColor(rawValue: 6)
    public static let white = PaletteColor(rawValue: 7)

    /// Returns the colour-cube entry with red, green and blue levels from 0 to 5.
    public static func cube(red: Int, green: Int, blue: Int) -> PaletteColor {
        let level = { (value: Int) in min(max(value, 0), 5) }
        return PaletteColor(rawValue: Int16(16 + 36 * level(red) + 6 * level(green) + level(blue)))
    }

    /// The nearest of the eight ANSI colours, for terminals without the 256-colour palette.
    public var ansi: PaletteColor {
        guard rawValue > 7 else { return self }
        let (red, green, blue) = rgbLevels
        // Each channel counts as on at level 3 of 5 or more, the middle of the cube.
        let bits = (red >= 3 ? 1 : 0) | (green >= 3 ? 2 : 0) | (blue >= 3 ? 4 : 0)
        return PaletteColor(rawValue: Int16(bits))
    }

    /// Red, green and blue on the cube's 0...5 scale; greys map to equal levels.
    var rgbLevels: (Int, Int, Int) {
        let index = Int(rawValue)
        if index >= 232 {
            let level = (index - 232) * 6 / 24
            return (level, level, level)
        }
        let cubeIndex = index - 16
        return (cubeIndex / 36, cubeIndex / 6 % 6, cubeIndex % 6)
    }
}

/// Colours and attributes of one cell.
public struct CellStyle: Sendable, Hashable {
    public var foreground: PaletteColor
    public var background: PaletteColor
    public var bold: Bool
    public var reverse: Bool

    public init(
        foreground: PaletteColor = .terminalDefault, background: PaletteColor = .terminalDefault,
        bold: Bool = false, reverse: Bool = false
    ) {
        self.foreground = foreground
        self.background = background
        self.bold = bold
        self.reverse = reverse
    }

    public static let plain = CellStyle()
}

/// One character cell: a single-column glyph and its style.
public struct Cell: Sendable, Equatable {
    public var glyph: Character
    public var style: CellStyle

    public init(glyph: Character = " ", style: CellStyle = .plain) {
        self.glyph = glyph
        self.style = style
    }
}

/// A rectangle of cells; `x` and `y` are the column and row of its top-left cell.
public struct Rect: Sendable, Equatable {
    public var x: Int
    public var y: Int
    public var width: Int
    public var height: Int

    public init(x: Int, y: Int, width: Int, height: Int) {
        self.x = x
        self.y = y
        self.width = max(0, width)
        self.height = max(0, height)
    }

    public var maxX: Int { x + width }
    public var maxY: Int { y + height }
    public var isEmpty: Bool { width == 0 || height == 0 }

    /// Returns the rectangle shrunk by `amount` cells on every side, as for the inside of a box.
    public func inset(by amount: Int) -> Rect {
        Rect(x: x + amount, y: y + amount, width: width - 2 * amount, height: height - 2 * amount)
    }

    /// Returns the part of this rectangle that also lies in `other`, possibly empty.
    public func intersection(_ other: Rect) -> Rect {
        let left = max(x, other.x)
        let top = max(y, other.y)
        return Rect(
            x: left, y: top, width: min(maxX, other.maxX) - left,
            height: min(maxY, other.maxY) - top)
    }

    public func contains(x column: Int, y row: Int) -> Bool {
        column >= x && column < maxX && row >= y && row < maxY
    }
}

/// A `width` x `height` grid of cells with a painter API that clips every write to the
/// buffer and to the current clip rectangle.
public struct CellBuffer: Sendable, Equatable {
    public let width: Int
    public let height: Int
    /// Row-major cells, `width * height` of them.
    public private(set) var cells: [Cell]
    /// Writes outside this rectangle are dropped; see `withClip(_:_:)`.
    public private(set) var clip: Rect

    public init(width: Int, height: Int) {
        precondition(width >= 0 && height >= 0, "buffer size \(width)x\(height) is negative")
        self.width = width
        self.height = height
        self.cells = Array(repeating: Cell(), count: width * height)
        self.clip = Rect(x: 0, y: 0, width: width, height: height)
    }

    public var bounds: Rect { Rect(x: 0, y: 0, width: width, height: height) }

    public subscript(x: Int, y: Int) -> Cell {
        precondition(x >= 0 && x < width && y >= 0 && y < height, "cell (\(x), \(y)) is outside")
        return cells[y * width + x]
    }

    /// Replaces every cell's glyph with `transform(glyph)`, ignoring the clip.
    public mutating func replaceGlyphs(_ transform: (Character) -> Character) {
        for index in cells.indices {
            cells[index].glyph = transform(cells[index].glyph)
        }
    }

    /// Runs `body` with writes restricted to `rect` (inside the current clip), then restores
    /// the previous clip. Views use it so that a long name never spills into the next panel.
    public mutating func withClip(_ rect: Rect, _ body: (inout CellBuffer) -> Void) {
        let saved = clip
        clip = clip.intersection(rect)
        body(&self)
        clip = saved
    }

    /// Sets one cell if it lies inside the clip rectangle.
    public mutating func set(x: Int, y: Int, glyph: Character, style: CellStyle = .plain) {
        guard clip.contains(x: x, y: y) else { return }
        cells[y * width + x] = Cell(glyph: Self.printable(glyph), style: style)
    }

    /// Writes `text` from column `x` of row `y`, one character per column, and returns the
    /// column after the last character. Characters past `maxWidth` columns are not written.
    @discardableResult
    public mutating func put(
        _ text: String, x: Int, y: Int, style: CellStyle = .plain, maxWidth: Int? = nil
    ) -> Int {
        var column = x
        let limit = maxWidth.map { x + max(0, $0) } ?? Int.max
        for character in text {
            if column >= limit { break }
            set(x: column, y: y, glyph: character, style: style)
            column += 1
        }
        return column
    }

    /// Writes `text` right-aligned so that its last character sits in column `maxX - 1`.
    public mutating func putRightAligned(
        _ text: String, maxX: Int, y: Int, style: CellStyle = .plain
    ) {
        put(text, x: maxX - text.count, y: y, style: style)
    }

    /// Fills `rect` with one glyph.
    public mutating func fill(_ rect: Rect, glyph: Character = " ", style: CellStyle = .plain) {
        for row in rect.y..<rect.maxY {
            for column in rect.x..<rect.maxX {
                set(x: column, y: row, glyph: glyph, style: style)
            }
        }
    }

    /// Draws a single-line box on the edge of `rect`, with `title` in the top edge, and clears
    /// its inside. A box needs at least 2x2 cells; smaller rectangles are only cleared.
    public mutating func drawBox(_ rect: Rect, title: String? = nil, style: CellStyle = .plain) {
        fill(rect, style: .plain)
        guard rect.width >= 2 && rect.height >= 2 else { return }
        let right = rect.maxX - 1
        let bottom = rect.maxY - 1
        for column in (rect.x + 1)..<right {
            set(x: column, y: rect.y, glyph: "─", style: style)
            set(x: column, y: bottom, glyph: "─", style: style)
        }
        for row in (rect.y + 1)..<bottom {
            set(x: rect.x, y: row, glyph: "│", style: style)
            set(x: right, y: row, glyph: "│", style: style)
        }
        set(x: rect.x, y: rect.y, glyph: "┌", style: style)
        set(x: right, y: rect.y, glyph: "┐", style: style)
        set(x: rect.x, y: bottom, glyph: "└", style: style)
        set(x: right, y: bottom, glyph: "┘", style: style)
        if let title, rect.width >= 6 {
            // The title sits after "┌─" and keeps one "─" before "┐".
            let room = rect.width - 5
            let shown = truncate(title, to: room)
            var titleStyle = style
            titleStyle.bold = true
            put(" " + shown + " ", x: rect.x + 1, y: rect.y, style: titleStyle)
        }
    }

    /// Returns the glyphs row by row, each string exactly `width` characters long.
    public func lines() -> [String] {
        (0..<height).map { row in
            String(cells[(row * width)..<(row * width + width)].map(\.glyph))
        }
    }

    /// Replaces control characters, which a terminal would interpret instead of print.
    private static func printable(_ glyph: Character) -> Character {
        glyph.unicodeScalars.contains { $0.properties.generalCategory == .control } ? "?" : glyph
    }
}

/// `text` cut to at most `width` characters, ending in "…" when something was cut.
public func truncate(_ text: String, to width: Int) -> String {
    guard width > 0 else { return "" }
    guard text.count > width else { return text }
    return String(text.prefix(width - 1)) + "…"
}

/// `text` padded with spaces on the left to `width` characters, or cut to it.
public func padLeft(_ text: String, to width: Int) -> String {
    text.count >= width
        ? truncate(text, to: width) : String(repeating: " ", count: width - text.count) + text
}

/// `text` padded with spaces on the right to `width` characters, or cut to it.
public func padRight(_ text: String, to width: Int) -> String {
    text.count >= width
        ? truncate(text, to: width) : text + String(repeating: " ", count: width - text.count)
}
