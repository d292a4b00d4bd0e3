import Foundation
import Training

/// Everything the snapshot holds about the selected block: its settings, the statistics and
/// histogram of its output, and the gradient norms at its input. Tab switches it to the feature
/// map, the input image, the current layer's formulas or the depth-by-time strip. The wide
/// layout shows it when the network panel leaves enough rows free. A narrow one shows it in
/// the network panel's place once Tab has turned it on.
public struct DetailPanel {
    public var snapshot: SessionSnapshot
    public var state: UIState
    /// True when the panel takes the network panel's place on a narrow screen, where its title
    /// also numbers the view and names what Tab shows next.
    public var replacesNetworkPanel = false

    public init(snapshot: SessionSnapshot, state: UIState) {
        self.snapshot = snapshot
        self.state = state
    }

    /// Rows below which the panel is left out: the border, the settings, statistics and
    /// gradient rows, and a histogram of at least three rows with its axis.
    public static let minimumHeight = 9

    public func draw(in rect: Rect, on buffer: inout CellBuffer) {
        guard let index = state.selectedLayer, snapshot.layers.indices.contains(index) else {
            buffer.drawBox(rect, title: "selected block", style: Theme.border)
            return
        }
        let layer = snapshot.layers[index]
        let title: String
        if replacesNetworkPanel {
            title = narrowTitle(layer: layer, room: rect.width - 5)
        } else {
            // The formulas follow the stepper, not the selection, so their title names the
            // current layer.
            switch state.detailView {
            case .formulas: title = "formulas of the current layer (Tab)"
            case .depthTime: title = "depth × time: every layer's input gradient (Tab)"
            default: title = "selected: \(layer.name) · \(Self.name(of: state.detailView)) (Tab)"
            }
        }
        buffer.drawBox(rect, title: title, style: Theme.border)
        let inside = rect.inset(by: 1)
        guard !inside.isEmpty else { return }
        switch state.detailView {
        case .statistics:
            drawStatistics(layer: layer, index: index, inside: inside, on: &buffer)
        case .featureMap:
            let map =
                snapshot.featureMaps.indices.contains(index) ? snapshot.featureMaps[index] : nil
            drawHeatMap(map, of: layer.name, inside: inside, on: &buffer)
        case .input:
            drawHeatMap(snapshot.inputMap, of: "input", inside: inside, on: &buffer)
        case .formulas:
            let lines = Formulas(snapshot: snapshot, selectedLayer: state.selectedLayer)
                .lines(width: inside.width - 2, rows: inside.height)
            buffer.withClip(inside) { buffer in
                for (row, line) in lines.enumerated() {
                    buffer.put(line, x: inside.x + 1, y: inside.y + row)
                }
            }
        case .depthTime:
            if let strip = snapshot.depthStrip {
                DepthTimeView(strip: strip, colorCount: state.colorCount)
                    .draw(in: inside, on: &buffer)
            }
        }
    }

    /// Returns the name of `view` as the panel's titles write it.
    static func name(of view: DetailView) -> String {
        switch view {
        case .statistics: return "statistics"
        case .featureMap: return "feature map"
        case .input: return "input image"
        case .formulas: return "formulas"
        case .depthTime: return "depth × time"
        }
    }

    /// Returns the title on a narrow screen, such as "statistics of layer1.0 · view 1/5 ·
    /// Tab: feature map", shortened to fit `room` columns. On the last view the Tab hint
    /// names the network list, which Tab brings back.
    private func narrowTitle(layer: LayerInfo, room: Int) -> String {
        let views = DetailView.allCases
        let position = views.firstIndex(of: state.detailView)! + 1
        let subject: String
        switch state.detailView {
        case .statistics, .featureMap:
            subject = "\(Self.name(of: state.detailView)) of \(layer.name)"
        case .input: subject = "input image"
        case .formulas: subject = "formulas of the current layer"
        case .depthTime: subject = "depth × time"
        }
        let tab =
            position == views.count
            ? "Tab: back to the network list" : "Tab: \(Self.name(of: state.detailView.next))"
        let shortTab = position == views.count ? "Tab: network list" : "Tab: next"
        let candidates = [
            "\(subject) · view \(position)/\(views.count) · \(tab)",
            "\(subject) · \(tab)",
            "\(subject) · \(shortTab)",
        ]
        return candidates.first { $0.count <= room } ?? candidates[candidates.count - 1]
    }

    /// Draws one channel of one sample as a heat map, with its size, channel, sample and
    /// value range on the first row and the keys that change them.
    private func drawHeatMap(
        _ map: FeatureMap?, of name: String, inside: Rect, on buffer: inout CellBuffer
    ) {
        buffer.withClip(inside) { buffer in
            let x = inside.x + 1
            guard let map else {
                buffer.put(
                    "\(name): not computed yet in this iteration (press n or f)", x: x,
                    y: inside.y, style: Theme.note)
                return
            }
            let heatMap = HeatMap(map: map, colorCount: state.colorCount)
            let (low, high) = heatMap.range
            let channels = channelCount(name: name, map: map)
            let header =
                "\(map.height)×\(map.width)  channel \(map.channel + 1)/\(channels)  "
                + "sample \(map.sample + 1)/\(snapshot.batchSize)  "
                + "min \(Format.statistic(Double(low)))  max \(Format.statistic(Double(high)))"
            buffer.put(header, x: x, y: inside.y)
            let area = Rect(
                x: x, y: inside.y + 1, width: inside.width - 2, height: inside.height - 2)
            heatMap.draw(in: area, on: &buffer)
            buffer.put(
                "[ ] channel  { } sample  dark = low, bright = high", x: x, y: inside.maxY - 1,
                style: Theme.note)
        }
    }

    private func channelCount(name: String, map: FeatureMap) -> Int {
        if map.layer >= 0, snapshot.layers.indices.contains(map.layer) {
            return snapshot.layers[map.layer].outputShape.first ?? 1
        }
        return snapshot.inputShape.first ?? 1
    }

    private func drawStatistics(
        layer: LayerInfo, index: Int, inside: Rect, on buffer: inout CellBuffer
    ) {
        buffer.withClip(inside) { buffer in
            let x = inside.x + 1
            var y = inside.y
            buffer.put(settings(of: layer), x: x, y: y)
            y += 1

            let stats =
                snapshot.activations.indices.contains(index) ? snapshot.activations[index] : nil
            let flow = snapshot.gradients.indices.contains(index) ? snapshot.gradients[index] : nil
            buffer.put(gradientText(flow, width: inside.width - 2), x: x, y: inside.maxY - 1)
            guard let stats else {
                buffer.put(
                    "output: not computed yet in this iteration", x: x, y: y, style: Theme.note)
                return
            }
            buffer.put(
                "output  mean \(Format.statistic(stats.mean))  std \(Format.statistic(stats.std))"
                    + "  zero \(Format.percent(stats.zeroFraction))",
                x: x, y: y)
            y += 1

            // Histogram rows between the statistics and the gradient row, with one row for
            // the axis labels.
            var histogramRows = inside.maxY - 2 - y
            if let gain = snapshot.gauge?.gain(ofLayer: index), histogramRows > 1 {
                buffer.put(gaugeText(gain, width: inside.width - 2), x: x, y: inside.maxY - 2)
                histogramRows -= 1
            }
            guard histogramRows > 0 else { return }
            let bins = min(stats.histogram.count, inside.width - 2)
            let columns = Sparkline.histogramRows(stats.histogram, bins: bins, rows: histogramRows)
            for (row, text) in columns.enumerated() {
                buffer.put(text, x: x, y: y + row, style: Theme.skipPath)
            }
            y += histogramRows
            buffer.put(Format.statistic(stats.min), x: x, y: y, style: Theme.note)
            buffer.putRightAligned(
                Format.statistic(stats.max), maxX: x + bins, y: y, style: Theme.note)
        }
    }

    private func settings(of layer: LayerInfo) -> String {
        var parts = [
            Format.shape(layer.outputShape), "\(layer.parameterCount) parameters",
        ]
        if layer.kind == .block {
            let path = layer.hasProjection ? "1x1 projection skip" : "identity skip"
            parts.append(path + (layer.skipEnabled ? " on" : " off"))
        }
        return parts.joined(separator: " · ")
    }

    private func gaugeText(_ gain: BlockGain, width: Int) -> String {
        Format.fitted(
            [
                "gain  block \(String(format: "%.3f", gain.blockGain))",
                "branch \(String(format: "%.3f", gain.branchGain))",
                "(identity: 1 and 0)", "d after iter \(snapshot.gauge?.iteration ?? 0)",
            ], width: width)
    }

    private func gradientText(_ flow: GradientFlow?, width: Int) -> String {
        guard let flow else { return "gradient: not reached by the backward pass yet" }
        let skip = flow.skipActive ? Format.scientific(flow.skip) : "off"
        return Format.fitted(
            [
                "grad  input \(Format.scientific(flow.input))", "skip \(skip)",
                "residual \(Format.scientific(flow.residual))",
                "cos \(String(format: "%.2f", flow.cosine))",
                "∇W \(Format.scientific(flow.weight))",
                "Δ/W \(flow.updateRatio.map(Format.scientific) ?? "–")",
            ], width: width)
    }
}
