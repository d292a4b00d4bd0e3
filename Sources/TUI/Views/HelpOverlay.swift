/// The key bindings: a one-line summary for the bottom row and the full list for the help
/// overlay, kept in one file so the two cannot disagree.
public enum KeyHelp {
    /// The bottom row's key hints, most useful first. `? help` and `q quit` come last but
    /// are kept when the row is too narrow for every hint.
    public static let hints = [
        "n/→ next", "s step", "f/b fwd/bwd", "space run", "t/T skip", "c compare", "+/- lr",
        "Tab view",
    ]
    public static let essentialHints = ["? help", "q quit"]

    /// The hint row for the full width.
    public static var hintBar: String { hintBar(width: Int.max) }

    /// Returns the hint row for a screen `width` columns wide: the essential hints always, and as
    /// many of the others, in order, as fit before them.
    public static func hintBar(width: Int) -> String {
        let separator = "  "
        let tail = essentialHints.joined(separator: separator)
        var chosen: [String] = []
        var used = 1 + tail.count
        for hint in hints where used + hint.count + separator.count <= width {
            chosen.append(hint)
            used += hint.count + separator.count
        }
        return " " + (chosen + essentialHints).joined(separator: separator)
    }

    /// Key and description, one binding per line.
    public static let bindings: [(keys: String, action: String)] = [
        ("n  l  →", "run the next phase (one layer forward or backward)"),
        ("s", "run the rest of the current iteration"),
        ("f", "run the forward pass up to the loss"),
        ("b", "run the backward pass down to the input"),
        ("space", "start or pause continuous training"),
        ("j  ↓", "select the next block"),
        ("k  ↑", "select the previous block"),
        ("t", "turn the selected block's skip connection on or off"),
        ("T", "turn every skip off, or every skip on if all are off"),
        ("+  -", "double / halve the learning rate"),
        ("r", "reset the weights and the data order from the seed"),
        ("w", "save a checkpoint (to --save, or named by the step)"),
        ("c", "compare: restart beside a copy with the skips flipped"),
        ("x", "what-if: redo this iteration with the block's skip flipped"),
        ("g", "check the block's gradients against finite differences"),
        ("d", "near-identity gauge: each block's and residual branch's gain"),
        ("e", "start the next guided experiment beside a changed copy"),
        ("u", "rewind one iteration; running on replays it bit for bit"),
        ("←", "rewind one iteration, at an iteration boundary only"),
        ("Tab", "detail panel: statistics, map, input, formulas, strip"),
        ("", "below 110 columns the panel replaces the network list, and"),
        ("", "Tab after the strip brings the network list back"),
        ("[  ]", "previous / next channel of the feature map"),
        ("{  }", "previous / next sample of the batch"),
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
        ("cos", "cosine between the skip and the residual gradient"),
        ("zero", "fraction of a layer's outputs that are exactly 0"),
        ("acc", "accuracy on the current training batch"),
        ("last now", "loss of the last finished / the running iteration"),
        ("gain", "block / branch gain from d; the identity has 1 / 0"),
        ("∇W Δ/W", "weight-gradient norm / last step over weights"),
        ("test @K", "accuracy on 1000 test images after iteration K"),
        ("Δγ !", "strip: batch-norm scale drift / a block with an alarm"),
        ("histogram", "a layer's outputs from their minimum to maximum"),
    ]
}

/// The bottom row: the most used keys.
public struct HintBar {
    public init() {}

    public func draw(in rect: Rect, on buffer: inout CellBuffer) {
        buffer.fill(rect, style: Theme.bar)
        buffer.put(
            KeyHelp.hintBar(width: rect.width), x: rect.x, y: rect.y, style: Theme.bar,
            maxWidth: rect.width)
    }
}

/// A box in the middle of the screen that lists every key and the meaning of the glyphs.
public struct HelpOverlay {
    /// Rows scrolled past at the top, for screens too short to show every line.
    public var scroll: Int

    public init(scroll: Int = 0) {
        self.scroll = scroll
    }

    /// Rows the overlay needs: the border, the bindings, a blank row, the legend title and
    /// the legend.
    public static var preferredHeight: Int {
        contentLines + 2
    }

    public func draw(in screen: Rect, on buffer: inout CellBuffer) {
        let width = min(72, screen.width - 2)
        let height = min(Self.preferredHeight, screen.height - 2)
        let rect = Rect(
            x: screen.x + (screen.width - width) / 2, y: screen.y + (screen.height - height) / 2,
            width: width, height: height)
        buffer.drawBox(rect, title: "keys (? or Esc closes)", style: Theme.selectedRow)
        let inside = rect.inset(by: 1)
        var rows: [(label: String, text: String, labelWidth: Int)] = []
        for binding in KeyHelp.bindings {
            rows.append((binding.keys, binding.action, 8))
        }
        rows.append(("", "", 0))
        for entry in KeyHelp.legend {
            rows.append((entry.glyph, entry.meaning, 10))
        }
        let maximumScroll = max(0, rows.count - inside.height)
        let first = min(max(scroll, 0), maximumScroll)
        buffer.withClip(inside) { buffer in
            for (offset, row) in rows.dropFirst(first).prefix(inside.height).enumerated() {
                let y = inside.y + offset
                buffer.put(
                    padRight(row.label, to: row.labelWidth), x: inside.x + 1, y: y,
                    style: Theme.selectedRow)
                buffer.put(row.text, x: inside.x + 1 + row.labelWidth + 1, y: y)
            }
        }
        buffer.drawScrollHint(
            hiddenAbove: first, hiddenBelow: rows.count - first - min(inside.height, rows.count),
            box: rect)
    }

    /// Lines of the overlay's content: bindings, a blank line and the legend.
    public static var contentLines: Int { KeyHelp.bindings.count + 1 + KeyHelp.legend.count }
}
