import Training

/// The whole screen: header, panels, hint bar and, on top, the help overlay.
///
/// From 110 columns the network panel takes the left side at full height and the gradient
/// and loss panels share the right side. Narrower screens put the network panel on top and
/// the other two side by side below it. There the detail panel, once Tab has turned it on,
/// takes the network panel's place at full width, so that formulas and the depth-by-time
/// strip keep their columns. The stepper's current layer stays named in the header.
public enum Screen {
    public static let minimumWidth = 60
    public static let minimumHeight = 16
    /// Width from which the network panel gets its own column.
    public static let wideLayoutWidth = 110

    /// Rectangles of the parts of the screen.
    public struct Layout: Sendable, Equatable {
        public var header: Rect
        /// The network panel, empty when the detail panel takes its place on a narrow screen.
        public var network: Rect
        /// The detail panel: in the wide layout when rows are left under the network panel,
        /// and on a narrow screen in the network panel's place when Tab has turned it on.
        public var detail: Rect?
        public var gradients: Rect
        public var loss: Rect
        public var hints: Rect
    }

    /// Computes the layout for a `width` x `height` screen; returns nil below the minimum size.
    /// `narrowDetailVisible` puts the detail panel in the network panel's place below
    /// `wideLayoutWidth` columns and changes nothing on a wider screen.
    public static func layout(
        width: Int, height: Int, snapshot: SessionSnapshot, narrowDetailVisible: Bool = false
    ) -> Layout? {
        guard width >= minimumWidth && height >= minimumHeight else { return nil }
        let headerHeight = StatusLine(snapshot: snapshot).height(width: width)
        let header = Rect(x: 0, y: 0, width: width, height: headerHeight)
        let hints = Rect(x: 0, y: height - 1, width: width, height: 1)
        let body = Rect(x: 0, y: headerHeight, width: width, height: height - headerHeight - 1)
        let networkPreferredHeight = NetworkPanel(snapshot: snapshot, state: UIState())
            .preferredHeight
        let gradientsPreferredHeight = GradientPanel(snapshot: snapshot).preferredHeight
        // The loss chart gets at least this many rows: summary, three chart rows, the axis and
        // the border.
        let lossMinimum = 7

        if width >= wideLayoutWidth {
            let leftWidth = width * 55 / 100
            var network = Rect(x: 0, y: body.y, width: leftWidth, height: body.height)
            var detail: Rect?
            if body.height - networkPreferredHeight >= DetailPanel.minimumHeight {
                network.height = networkPreferredHeight
                detail = Rect(
                    x: 0, y: network.maxY, width: leftWidth,
                    height: body.height - networkPreferredHeight)
            } else if body.height >= 2 * DetailPanel.minimumHeight + 2 {
                // A deep network's list scrolls, so it gives up rows to the detail panel,
                // where the depth-by-time strip of a deep network is most worth seeing.
                let detailHeight = max(DetailPanel.minimumHeight, body.height * 2 / 5)
                network.height = body.height - detailHeight
                detail = Rect(x: 0, y: network.maxY, width: leftWidth, height: detailHeight)
            }
            let gradientsHeight = max(
                min(gradientsPreferredHeight, body.height - lossMinimum),
                min(gradientsPreferredHeight, body.height / 2))
            let right = Rect(x: leftWidth, y: body.y, width: width - leftWidth, height: body.height)
            let gradients = Rect(
                x: right.x, y: right.y, width: right.width, height: gradientsHeight)
            let loss = Rect(
                x: right.x, y: gradients.maxY, width: right.width,
                height: right.height - gradientsHeight)
            return Layout(
                header: header, network: network, detail: detail, gradients: gradients,
                loss: loss, hints: hints)
        }

        var network: Rect
        var detail: Rect?
        if narrowDetailVisible {
            // The detail panel gets three fifths of the body, or more when the gradient
            // panel needs fewer rows, so that a basic block's rules fit at 80x24. The loss
            // chart keeps its minimum rows in either case.
            let detailHeight = min(
                body.height - lossMinimum,
                max(body.height - max(gradientsPreferredHeight, lossMinimum), body.height * 3 / 5))
            network = Rect(x: 0, y: body.y, width: width, height: 0)
            detail = Rect(x: 0, y: body.y, width: width, height: detailHeight)
        } else {
            let networkHeight = min(
                networkPreferredHeight,
                max(body.height - max(gradientsPreferredHeight, lossMinimum), body.height / 2))
            network = Rect(x: 0, y: body.y, width: width, height: networkHeight)
        }
        let top = detail?.maxY ?? network.maxY
        let bottom = Rect(x: 0, y: top, width: width, height: body.maxY - top)
        // The gradient rows need about 40 columns to show both norms with their labels, so
        // on narrow screens the loss chart gives up columns first.
        let gradientsWidth = max(width * 55 / 100, min(40, width - 20))
        let gradients = Rect(x: 0, y: bottom.y, width: gradientsWidth, height: bottom.height)
        let loss = Rect(
            x: gradientsWidth, y: bottom.y, width: width - gradientsWidth, height: bottom.height)
        return Layout(
            header: header, network: network, detail: detail, gradients: gradients, loss: loss,
            hints: hints)
    }

    /// Draws the whole screen for `snapshot` into `buffer`, which is cleared first.
    public static func draw(
        snapshot: SessionSnapshot, state: UIState, into buffer: inout CellBuffer
    ) {
        buffer.fill(buffer.bounds)
        guard
            let layout = layout(
                width: buffer.width, height: buffer.height, snapshot: snapshot,
                narrowDetailVisible: state.narrowDetailVisible)
        else {
            drawTooSmall(into: &buffer)
            return
        }
        StatusLine(snapshot: snapshot).draw(in: layout.header, on: &buffer)
        if !layout.network.isEmpty {
            NetworkPanel(snapshot: snapshot, state: state).draw(in: layout.network, on: &buffer)
        }
        if let detail = layout.detail {
            var panel = DetailPanel(snapshot: snapshot, state: state)
            panel.replacesNetworkPanel = layout.network.isEmpty
            panel.draw(in: detail, on: &buffer)
        }
        GradientPanel(snapshot: snapshot).draw(in: layout.gradients, on: &buffer)
        LossPanel(snapshot: snapshot, chartStyle: state.chartStyle).draw(
            in: layout.loss, on: &buffer)
        HintBar().draw(in: layout.hints, on: &buffer)
        if state.helpVisible {
            HelpOverlay(scroll: state.helpScroll).draw(in: buffer.bounds, on: &buffer)
        }
    }

    /// Draws a centred message with the current and the required terminal size.
    /// The message is wrapped to the screen's width; a screen too small even for that gets
    /// the two sizes alone.
    static func drawTooSmall(into buffer: inout CellBuffer) {
        let sentence =
            "Terminal too small: \(buffer.width)×\(buffer.height). resnet-tui needs at least "
            + "\(minimumWidth)×\(minimumHeight). Enlarge the window, or press q to quit."
        var lines = wrap(sentence, width: buffer.width)
        if lines.count > buffer.height {
            lines = wrap(
                "\(buffer.width)×\(buffer.height) < \(minimumWidth)×\(minimumHeight) q quits",
                width: buffer.width)
        }
        let top = max(0, (buffer.height - lines.count) / 2)
        for (offset, line) in lines.enumerated() {
            let x = max(0, (buffer.width - line.count) / 2)
            buffer.put(line, x: x, y: top + offset, style: Theme.warning)
        }
    }

    /// Splits `text` at spaces into lines of at most `width` characters; a word longer than
    /// `width` is cut.
    static func wrap(_ text: String, width: Int) -> [String] {
        guard width > 0 else { return [] }
        var lines: [String] = []
        var current = ""
        for word in text.split(separator: " ") {
            let word = String(word.prefix(width))
            if current.isEmpty {
                current = word
            } else if current.count + 1 + word.count <= width {
                current += " " + word
            } else {
                lines.append(current)
                current = word
            }
        }
        if !current.isEmpty { lines.append(current) }
        return lines
    }
}
