/// The key bindings: a one-line summary for the bottom row and the full list for the help
/// overlay, kept in one file so the two cannot disagree.
public enum KeyHelp {
    public static let hintBar =
        " n/→ next  s step  f/b fwd/bwd  space run  t/T skip  +/- lr  ? help  q quit"

    /// Key and description, one binding per line.
    public static let bindings: [(keys: String, action: String)] = [
        ("n  →", "run the next phase (one layer forward or backward)"),
        ("s", "run the rest of the current iteration"),
        ("f", "run the forward pass up to the loss"),
        ("b", "run the backward pass down to the input"),
        ("space", "start or pause continuous training"),
        ("j  ↓", "select the next block"),
        ("k  ↑", "select the previous block"),
        ("t", "turn the selected block's skip connection on or off"),
        ("T", "turn every skip off, or every skip on if all are off"),
        ("+  -", "double / halve the learning rate"),
        ("r", "reset the weights from the seed"),
        ("?  Esc", "close this help"),
        ("q", "quit"),
    ]

    /// Meanings of the glyphs in the panels.
    public static let legend: [(glyph: String, meaning: String)] = [
        ("▸", "selected block"),
        ("▶  ◀", "layer whose forward / backward phase ran last"),
        ("skip ● ○", "identity skip on / off"),
        ("proj ● ○", "1x1 projection skip on / off"),
        ("skip res", "gradient norm through the skip / residual path"),
    ]
}

/// The bottom row: the most used keys.
public struct HintBar {
    public init() {}

    public func draw(in rect: Rect, on buffer: inout CellBuffer) {
        buffer.fill(rect, style: Theme.bar)
        buffer.put(KeyHelp.hintBar, x: rect.x, y: rect.y, style: Theme.bar, maxWidth: rect.width)
    }
}

/// A box in the middle of the screen that lists every key and the meaning of the glyphs.
public struct HelpOverlay {
    public init() {}

    /// Rows the overlay needs: the border, the bindings, a blank row, the legend title and
    /// the legend.
    public static var preferredHeight: Int {
        KeyHelp.bindings.count + KeyHelp.legend.count + 4
    }

    public func draw(in screen: Rect, on buffer: inout CellBuffer) {
        let width = min(64, screen.width - 2)
        let height = min(Self.preferredHeight, screen.height - 2)
        let rect = Rect(
            x: screen.x + (screen.width - width) / 2, y: screen.y + (screen.height - height) / 2,
            width: width, height: height)
        buffer.drawBox(rect, title: "keys (? or Esc closes)", style: Theme.selectedRow)
        let inside = rect.inset(by: 1)
        buffer.withClip(inside) { buffer in
            var y = inside.y
            for binding in KeyHelp.bindings {
                buffer.put(
                    padRight(binding.keys, to: 8), x: inside.x + 1, y: y, style: Theme.selectedRow)
                buffer.put(binding.action, x: inside.x + 9, y: y)
                y += 1
            }
            y += 1
            for entry in KeyHelp.legend {
                buffer.put(
                    padRight(entry.glyph, to: 10), x: inside.x + 1, y: y, style: Theme.selectedRow)
                buffer.put(entry.meaning, x: inside.x + 11, y: y)
                y += 1
            }
        }
    }
}
