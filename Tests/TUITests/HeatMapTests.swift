import TUI
import Testing
import Training

/// Returns a 4x4 map whose values rise from the top-left (0) to the bottom-right (15).
func gradientMap(layer: Int = 2) -> FeatureMap {
    FeatureMap(
        layer: layer, sample: 0, channel: 0, height: 4, width: 4, values: (0..<16).map(Float.init))
}

@Test func heatMapColourUsesHalfBlocks() {
    var buffer = CellBuffer(width: 4, height: 2)
    let used = HeatMap(map: gradientMap(), colorCount: 256).draw(
        in: Rect(x: 0, y: 0, width: 4, height: 2), on: &buffer)
    #expect(used.columns == 4)
    #expect(used.rows == 2)
    #expect(buffer.lines() == ["▀▀▀▀", "▀▀▀▀"])
    // The top-left pixel is the minimum and the bottom-right the maximum, so their colours
    // are the two ends of the ramp and differ.
    let topLeft = buffer[0, 0].style.foreground
    let bottomRight = buffer[3, 1].style.background
    #expect(topLeft != bottomRight)
    // Upper and lower pixels of one cell come from different rows.
    #expect(buffer[0, 0].style.foreground != buffer[0, 0].style.background)
}

@Test func heatMapMonochromeUsesShades() {
    var buffer = CellBuffer(width: 4, height: 4)
    HeatMap(map: gradientMap(), colorCount: 0).draw(
        in: Rect(x: 0, y: 0, width: 4, height: 4), on: &buffer)
    let lines = buffer.lines()
    #expect(lines[0].first == " ", "minimum is blank: \(lines)")
    #expect(lines[3].last == "█", "maximum is a full block: \(lines)")
    for line in lines {
        #expect(line.allSatisfy { " ░▒▓█".contains($0) }, "\(line)")
    }
}

@Test func heatMapShrinksLargeMap() {
    let map = FeatureMap(
        layer: 0, sample: 0, channel: 0, height: 32, width: 32,
        values: Array(repeating: 1, count: 1024))
    var buffer = CellBuffer(width: 10, height: 5)
    let used = HeatMap(map: map, colorCount: 256).draw(
        in: Rect(x: 0, y: 0, width: 10, height: 5), on: &buffer)
    #expect(used.columns <= 10)
    #expect(used.rows <= 5)
    #expect(used.columns > 0)
}

@Test func tabCyclesDetailViews() {
    let snapshot = Fixtures.backwardThroughLayer1()
    var state = UIState(snapshot: snapshot)
    var seen: [DetailView] = [state.detailView]
    for _ in 0..<5 {
        state = handleKey(.character("\t"), state: state, snapshot: snapshot).state
        seen.append(state.detailView)
    }
    #expect(seen == [.statistics, .featureMap, .input, .formulas, .depthTime, .statistics])
}

@Test func bracketKeysRequestChannelAndSample() {
    let snapshot = Fixtures.backwardThroughLayer1()
    let state = UIState(snapshot: snapshot)
    let next = handleKey(.character("]"), state: state, snapshot: snapshot)
    #expect(next.command == .viewFeatureMap(sample: 0, channel: 1))
    let back = handleKey(.character("["), state: next.state, snapshot: snapshot)
    #expect(back.command == .viewFeatureMap(sample: 0, channel: 0))
    let floor = handleKey(.character("["), state: back.state, snapshot: snapshot)
    #expect(floor.command == .viewFeatureMap(sample: 0, channel: 0), "channel below 0")
    let sample = handleKey(.character("}"), state: state, snapshot: snapshot)
    #expect(sample.command == .viewFeatureMap(sample: 1, channel: 0))
}

@Test func detailPanelDrawsFeatureMap() {
    var snapshot = Fixtures.backwardThroughLayer1()
    let selected = UIState(snapshot: snapshot).selectedLayer ?? 1
    snapshot.featureMaps[selected] = gradientMap(layer: selected)
    var state = UIState(snapshot: snapshot)
    state.detailView = .featureMap
    let lines = drawScreen(snapshot, width: 120, height: 40, state: state)
    let text = lines.joined(separator: "\n")
    #expect(text.contains("feature map (Tab)"), "\(text)")
    #expect(text.contains("4×4  channel 1/"), "\(text)")
    #expect(text.contains("▀▀▀▀"), "\(text)")
}

@Test func detailPanelWithoutMapSaysSo() {
    let snapshot = Fixtures.backwardThroughLayer1()
    var state = UIState(snapshot: snapshot)
    state.detailView = .input
    let text = drawScreen(snapshot, width: 120, height: 40, state: state).joined(separator: "\n")
    #expect(text.contains("input: not computed yet"), "\(text)")
}

@Test func comparisonShowsBothModels() {
    var snapshot = Fixtures.backwardThroughLayer1()
    var otherGradients = snapshot.gradients
    otherGradients[3] = GradientFlow(skip: 0, residual: 0.5, input: 0.75, cosine: 0, weight: 0.1)
    snapshot.comparison = ComparisonSnapshot(
        skipEnabled: snapshot.layers.map { _ in false }, gradients: otherGradients,
        history: [StepRecord(iteration: 1, loss: 2.5, accuracy: 0.25)], currentLoss: nil,
        label: "skips off")
    snapshot.history = [StepRecord(iteration: 1, loss: 2.25, accuracy: 0.5)]
    let lines = drawScreen(snapshot, width: 120, height: 40)
    let text = lines.joined(separator: "\n")
    #expect(text.contains("A vs B (skips off)"), "\(text)")
    #expect(text.contains("7.5e-01"), "B's input norm for layer3.0\n\(text)")
    #expect(text.contains("B ┄ 2.500 (25.0%)"), "\(text)")
    #expect(text.contains("A ─ 2.250"), "\(text)")
}

/// On a narrow window B's "not reached" note must not run into A's.
@Test func comparisonNotReachedStaysApart() {
    var snapshot = Fixtures.base()
    snapshot.comparison = ComparisonSnapshot(
        skipEnabled: snapshot.layers.map { _ in false }, gradients: snapshot.gradients,
        history: [], currentLoss: nil, label: "skips off")
    for (width, height) in [(80, 24), (60, 16)] {
        let lines = drawScreen(snapshot, width: width, height: height)
        let text = lines.joined(separator: "\n")
        #expect(!text.contains("reachedB"), "\(width)x\(height)\n\(text)")
        #expect(!text.contains("reachB"), "\(width)x\(height)\n\(text)")
    }
}

@Test func compareKeySendsCommand() {
    let snapshot = Fixtures.backwardThroughLayer1()
    let outcome = handleKey(.character("c"), state: UIState(snapshot: snapshot), snapshot: snapshot)
    #expect(outcome.command == .toggleCompare)
}

@Test func clickOnBlockRowSelectsIt() throws {
    let snapshot = Fixtures.backwardThroughLayer1()
    let controller = AppController(session: RecordingSession(snapshot: snapshot))
    var buffer = CellBuffer(width: 120, height: 40)
    controller.render(into: &buffer)
    let lines = buffer.lines()
    let row = try #require(lines.firstIndex { $0.contains("layer3.0") && $0.contains("proj") })
    #expect(controller.handle(.click(x: 5, y: row)))
    #expect(controller.state.selectedLayer == 3)
    // The stem row is not a block, so a click there keeps the selection.
    let stemRow = try #require(lines.firstIndex { $0.contains("conv1") })
    _ = controller.handle(.click(x: 5, y: stemRow))
    #expect(controller.state.selectedLayer == 3)
    // A click outside the network panel changes nothing.
    _ = controller.handle(.click(x: 119, y: 39))
    #expect(controller.state.selectedLayer == 3)
}

@Test func formulasFollowTheStepper() {
    // Fixture: the backward pass has just run through layer1.0 (index 1), a block whose
    // skip was off.
    let snapshot = Fixtures.backwardThroughLayer1()
    let lines = Formulas(snapshot: snapshot, selectedLayer: 3).lines
    let text = lines.joined(separator: "\n")
    #expect(lines.first?.hasPrefix("layer1.0:") == true, "\(text)")
    #expect(text.contains("O = relu(F(x) + S(x))"), "\(text)")
    #expect(text.contains("S(x) = 0 (skip off)"), "\(text)")
    #expect(text.contains("dL/dx = S^T(g) + F^T(g)"), "\(text)")
    #expect(text.contains("|F^T(g)| = 2.6e-04"), "\(text)")
    #expect(text.contains("|S^T(g)| = 0 (skip off)"), "\(text)")
}

@Test func formulasOfLossAfterLossPhase() {
    var snapshot = Fixtures.backwardThroughLayer1()
    snapshot.nextPhase = snapshot.phases.firstIndex(of: .loss)! + 1
    let text = Formulas(snapshot: snapshot, selectedLayer: 1).lines.joined(separator: "\n")
    #expect(text.contains("dL/dz = (p - onehot(label)) / B"), "\(text)")
    #expect(text.contains("L = 1.234"), "\(text)")
}
