import TUI
import Testing
import Training

/// Draws the whole screen and returns it as text lines.
func drawScreen(
    _ snapshot: SessionSnapshot, width: Int, height: Int, state: UIState? = nil
) -> [String] {
    var buffer = CellBuffer(width: width, height: height)
    Screen.draw(snapshot: snapshot, state: state ?? UIState(snapshot: snapshot), into: &buffer)
    return buffer.lines()
}

/// Draws one panel alone into a buffer of its own size.
func drawPanel(
    width: Int, height: Int, _ draw: (Rect, inout CellBuffer) -> Void
) -> [String] {
    var buffer = CellBuffer(width: width, height: height)
    draw(Rect(x: 0, y: 0, width: width, height: height), &buffer)
    return buffer.lines()
}

let screenSizes = [(80, 24), (120, 40), (160, 50)]

@Test(arguments: screenSizes)
func screenLinesMatchBufferSize(width: Int, height: Int) {
    for snapshot in [Fixtures.backwardThroughLayer1(), Fixtures.forwardThroughLayer2()] {
        let lines = drawScreen(snapshot, width: width, height: height)
        #expect(lines.count == height)
        for (row, line) in lines.enumerated() {
            #expect(line.count == width, "row \(row): \(line)")
        }
    }
}

@Test(arguments: screenSizes)
func backwardMarkerOnLayerRow(width: Int, height: Int) throws {
    let lines = drawScreen(Fixtures.backwardThroughLayer1(), width: width, height: height)
    let row = try #require(
        line(containing: "◀layer1.0 16×32×32", in: lines), "\(screenText(lines))")
    #expect(row.contains("skip ○"), "layer1.0's skip is off: \(row)")
    #expect(!lines.contains { $0.contains("▶") && $0.contains("layer") }, "\(screenText(lines))")
    #expect(lines[1].contains("◀ bwd layer1.0"), "status row: \(lines[1])")
    #expect(lines[1].contains("phase 13/15"), "status row: \(lines[1])")
}

@Test(arguments: screenSizes)
func forwardMarkerOnLayerRow(width: Int, height: Int) throws {
    let lines = drawScreen(Fixtures.forwardThroughLayer2(), width: width, height: height)
    let row = try #require(line(containing: "▶layer2.0", in: lines), "\(screenText(lines))")
    #expect(row.contains("32×16×16"), "\(row)")
    #expect(row.contains("proj ●"), "\(row)")
    #expect(row.contains("14.2k"), "\(row)")
    #expect(lines[0].contains("RUNNING"), "header: \(lines[0])")
    #expect(lines[1].contains("▶ fwd layer2.0"), "status row: \(lines[1])")
}

@Test(arguments: screenSizes)
func headerShowsSettingsAndSpeed(width: Int, height: Int) {
    let lines = drawScreen(Fixtures.backwardThroughLayer1(), width: width, height: height)
    for text in ["resnet8", "cifar10", "batch 128", "lr 0.1", "PAUSED"] {
        #expect(lines[0].contains(text), "\(text) missing from: \(lines[0])")
    }
    for text in ["iter 20", "epoch 1", "85.3 ms/step", "1501 img/s"] {
        #expect(lines[1].contains(text), "\(text) missing from: \(lines[1])")
    }
}

@Test(arguments: screenSizes)
func hintBarOnLastRow(width: Int, height: Int) {
    let lines = drawScreen(Fixtures.backwardThroughLayer1(), width: width, height: height)
    #expect(
        lines[height - 1].hasPrefix(KeyHelp.hintBar(width: width)),
        "last row: \(lines[height - 1])")
}

@Test(arguments: [40, 60, 80, 200])
func hintBarKeepsHelpAndQuit(width: Int) {
    let bar = KeyHelp.hintBar(width: width)
    #expect(bar.count <= width, "\(bar)")
    #expect(bar.hasSuffix("? help  q quit"), "\(bar)")
    if width >= 200 {
        #expect(bar.contains("Tab view"), "\(bar)")
    }
}

@Test(arguments: screenSizes)
func gradientNumbersOnScreen(width: Int, height: Int) throws {
    let lines = drawScreen(Fixtures.backwardThroughLayer1(), width: width, height: height)
    let deepest = try #require(line(containing: "layer3.0 skip", in: lines), "\(screenText(lines))")
    #expect(deepest.contains("1.2e-02"), "\(deepest)")
    let residual3 = try #require(line(containing: "3.4e-03", in: lines), "\(screenText(lines))")
    #expect(residual3.contains("res"), "\(residual3)")
    #expect(line(containing: "6.8e-03", in: lines) != nil, "\(screenText(lines))")
    #expect(line(containing: "9.0e-04", in: lines) != nil, "\(screenText(lines))")
    let offBlock = try #require(
        line(containing: "◀layer1.0 skip off", in: lines), "\(screenText(lines))")
    // The weight-gradient column may follow; the skip path itself shows no norm.
    let skipPart =
        offBlock.components(separatedBy: "skip off").last?
        .components(separatedBy: "∇W").first ?? ""
    #expect(!skipPart.contains("e-0"), "a disabled skip shows no norm: \(offBlock)")
    #expect(line(containing: "2.6e-04", in: lines) != nil, "\(screenText(lines))")
}

@Test(arguments: screenSizes)
func lossSummaryOnScreen(width: Int, height: Int) {
    let lines = drawScreen(Fixtures.backwardThroughLayer1(), width: width, height: height)
    #expect(
        line(containing: "last 1.300  acc 30.0%  now 1.234", in: lines) != nil,
        "\(screenText(lines))")
    #expect(line(containing: "iter 1", in: lines) != nil, "\(screenText(lines))")
    #expect(line(containing: "iter 20", in: lines) != nil, "\(screenText(lines))")
}

@Test func activationStatsInNetworkRows() throws {
    let lines = drawScreen(Fixtures.backwardThroughLayer1(), width: 80, height: 24)
    let conv = try #require(line(containing: "conv1", in: lines), "\(screenText(lines))")
    #expect(conv.contains("0.100   0.456   45%"), "\(conv)")
    #expect(conv.contains("464"), "\(conv)")
    let pool = try #require(line(containing: "avgpool", in: lines), "\(screenText(lines))")
    #expect(pool.contains("64 "), "\(pool)")
    #expect(!pool.contains("skip"), "only blocks have a skip column entry: \(pool)")
}

@Test func selectionCursorOnSelectedBlock() throws {
    let snapshot = Fixtures.forwardThroughLayer2()
    let lines = drawScreen(
        snapshot, width: 80, height: 24, state: UIState(selectedLayer: 3, helpVisible: false))
    let selected = try #require(line(containing: "▸", in: lines), "\(screenText(lines))")
    #expect(selected.contains("layer3.0"), "\(selected)")
    #expect(lines.filter { $0.contains("▸") }.count == 1, "\(screenText(lines))")
}

@Test func wideScreenShowsSelectedBlockDetail() throws {
    let snapshot = Fixtures.backwardThroughLayer1()
    let lines = drawScreen(
        snapshot, width: 120, height: 40, state: UIState(selectedLayer: 2, helpVisible: false))
    #expect(line(containing: "selected: layer2.0", in: lines) != nil, "\(screenText(lines))")
    #expect(line(containing: "1x1 projection skip on", in: lines) != nil, "\(screenText(lines))")
    let gradient = try #require(line(containing: "grad  input", in: lines), "\(screenText(lines))")
    #expect(gradient.contains("7.0e-03"), "\(gradient)")
    #expect(gradient.contains("skip 6.8e-03"), "\(gradient)")
}

@Test func tooSmallScreenNamesSizes() {
    let lines = drawScreen(Fixtures.backwardThroughLayer1(), width: 40, height: 12)
    #expect(lines.count == 12)
    #expect(lines.allSatisfy { $0.count == 40 })
    #expect(line(containing: "Terminal too small: 40×12", in: lines) != nil, "\(screenText(lines))")
    #expect(line(containing: "at least 60×16", in: lines) != nil, "\(screenText(lines))")
    #expect(line(containing: "network", in: lines) == nil, "no panels below the minimum")
    #expect(line(containing: "q to quit", in: lines) != nil, "\(screenText(lines))")
}

@Test(arguments: [(20, 5), (12, 3), (1, 1)])
func tinyScreenStillNamesSizes(width: Int, height: Int) {
    let lines = drawScreen(Fixtures.backwardThroughLayer1(), width: width, height: height)
    #expect(lines.count == height)
    #expect(lines.allSatisfy { $0.count == width })
    let text = lines.joined(separator: " ")
    if width >= 12 {
        #expect(text.contains("\(width)×\(height)"), "\(screenText(lines))")
        #expect(text.contains("60×16"), "\(screenText(lines))")
    }
}

@Test func minimumScreenDrawsPanels() {
    let lines = drawScreen(Fixtures.backwardThroughLayer1(), width: 60, height: 16)
    #expect(lines.allSatisfy { $0.count == 60 })
    #expect(line(containing: "network", in: lines) != nil, "\(screenText(lines))")
    #expect(line(containing: "◀layer1.0", in: lines) != nil, "\(screenText(lines))")
    #expect(line(containing: "1.2e-02", in: lines) != nil, "\(screenText(lines))")
}

@Test func messageGetsItsOwnRow() {
    var snapshot = Fixtures.backwardThroughLayer1()
    snapshot.message = "loss is nan: lower the learning rate"
    let lines = drawScreen(snapshot, width: 80, height: 24)
    #expect(lines[2].hasPrefix(" ! loss is nan: lower the learning rate"), "\(lines[2])")
    #expect(lines[3].hasPrefix("┌ network"), "\(lines[3])")
}

@Test func helpOverlayListsEveryKey() {
    let snapshot = Fixtures.backwardThroughLayer1()
    let lines = drawScreen(
        snapshot, width: 80, height: 24, state: UIState(selectedLayer: 1, helpVisible: true))
    // Not every line fits at 80x24, so the overlay shows a scroll hint and scrolls with j.
    #expect(line(containing: "more", in: lines) != nil, "no scroll hint\(screenText(lines))")
    var seen = lines
    var state = UIState(selectedLayer: 1, helpVisible: true)
    for _ in 0..<HelpOverlay.contentLines {
        state = handleKey(.character("j"), state: state, snapshot: snapshot).state
        seen += drawScreen(snapshot, width: 80, height: 24, state: state)
    }
    for binding in KeyHelp.bindings {
        #expect(
            line(containing: binding.action, in: seen) != nil,
            "\(binding.keys) missing\(screenText(lines))")
    }
    for entry in KeyHelp.legend {
        #expect(
            line(containing: entry.meaning, in: seen) != nil,
            "\(entry.glyph) missing after scrolling\(screenText(lines))")
    }
    #expect(line(containing: "keys (? or Esc closes)", in: lines) != nil, "\(screenText(lines))")
}

@Test func deepNetworkScrollsToStepperMarker() throws {
    var snapshot = Fixtures.base(layers: Fixtures.deepLayers)
    let last = Fixtures.deepLayers.count - 1
    snapshot.nextPhase = Fixtures.nextPhase(after: .forward(layer: last), layerCount: last + 1)
    // The selection is the first block, the marker on fc at the bottom: they do not fit
    // together in 60x16, so the marker wins.
    let lines = drawScreen(
        snapshot, width: 60, height: 16, state: UIState(selectedLayer: 1, helpVisible: false))
    #expect(line(containing: "▶fc", in: lines) != nil, "\(screenText(lines))")
    #expect(line(containing: "more", in: lines) != nil, "a hidden-row count\(screenText(lines))")
}

@Test func networkWindowKeepsBothFocusRows() {
    var snapshot = Fixtures.base(layers: Fixtures.deepLayers)
    snapshot.nextPhase = Fixtures.nextPhase(after: .forward(layer: 6), layerCount: 12)
    let panel = NetworkPanel(snapshot: snapshot, state: UIState(selectedLayer: 4))
    let first = panel.firstVisibleLayer(visibleRows: 4)
    #expect((first...(first + 3)).contains(4), "selection visible, first row \(first)")
    #expect((first...(first + 3)).contains(6), "marker visible, first row \(first)")
    #expect(panel.firstVisibleLayer(visibleRows: 20) == 0, "everything fits")
}

@Test func gradientPanelFollowsBackwardPass() {
    var snapshot = Fixtures.base(layers: Fixtures.deepLayers)
    snapshot.nextPhase = Fixtures.nextPhase(after: .backward(layer: 2), layerCount: 12)
    let panel = GradientPanel(snapshot: snapshot)
    // Blocks deepest first are layers 9...1, so layer 2 is at position 7.
    #expect(panel.blocks == [9, 8, 7, 6, 5, 4, 3, 2, 1])
    let window = panel.visibleBlocks(capacity: 4)
    #expect(window.contains(7), "window \(window)")
    #expect(window.count == 4)
    #expect(panel.visibleBlocks(capacity: 20) == 0..<9)
}

@Test func gradientPanelBeforeBackward() {
    let snapshot = Fixtures.forwardThroughLayer2()
    let lines = drawPanel(width: 44, height: 10) { rect, buffer in
        GradientPanel(snapshot: snapshot).draw(in: rect, on: &buffer)
    }
    #expect(lines[1].contains("layer3.0 not reached yet"), "\(screenText(lines))")
    #expect(lines[8].contains("the backward pass fills this panel"), "\(screenText(lines))")
}

@Test func gradientBarsShareOneScale() throws {
    let snapshot = Fixtures.backwardThroughLayer1()
    let lines = drawPanel(width: 44, height: 10) { rect, buffer in
        GradientPanel(snapshot: snapshot).draw(in: rect, on: &buffer)
    }
    // The scale runs from 1e-04 to 1e-01, so a larger norm has a longer bar.
    func barLength(_ row: String) -> Int {
        row.filter { "█▉▊▋▌▍▎▏".contains($0) }.count
    }
    let skip3 = try #require(line(containing: "1.2e-02", in: lines), "\(screenText(lines))")
    let residual2 = try #require(line(containing: "9.0e-04", in: lines), "\(screenText(lines))")
    #expect(barLength(skip3) > barLength(residual2), "\(screenText(lines))")
    #expect(line(containing: "1e-04", in: lines) != nil, "\(screenText(lines))")
    #expect(line(containing: "1e-01", in: lines) != nil, "\(screenText(lines))")
}

@Test func lossPanelWithoutHistory() {
    var snapshot = Fixtures.forwardThroughLayer2()
    snapshot.history = []
    let lines = drawPanel(width: 36, height: 8) { rect, buffer in
        LossPanel(snapshot: snapshot).draw(in: rect, on: &buffer)
    }
    #expect(lines[1].contains("no finished iteration yet"), "\(screenText(lines))")
    #expect(lines[2].contains("press s to run an iteration"), "\(screenText(lines))")
}

@Test func lossPanelLabelsRange() {
    let snapshot = Fixtures.backwardThroughLayer1()
    let lines = drawPanel(width: 36, height: 8) { rect, buffer in
        LossPanel(snapshot: snapshot).draw(in: rect, on: &buffer)
    }
    #expect(
        lines[2].hasPrefix("│2.250 "), "the highest loss labels the top row\(screenText(lines))")
    #expect(
        lines[5].hasPrefix("│1.300 "), "the lowest loss labels the bottom row\(screenText(lines))")
    #expect(lines[6].contains("iter 1"), "\(screenText(lines))")
}

@Test func layoutRectanglesStayOnScreen() throws {
    let snapshot = Fixtures.backwardThroughLayer1()
    for (width, height) in [(60, 16), (80, 24), (100, 30), (120, 40), (200, 60)] {
        let layout = try #require(Screen.layout(width: width, height: height, snapshot: snapshot))
        let screen = Rect(x: 0, y: 0, width: width, height: height)
        var rects = [layout.header, layout.network, layout.gradients, layout.loss, layout.hints]
        if let detail = layout.detail { rects.append(detail) }
        for rect in rects {
            #expect(screen.intersection(rect) == rect, "\(rect) leaves \(width)x\(height)")
            #expect(!rect.isEmpty, "\(rect) is empty at \(width)x\(height)")
        }
        // No two panels overlap.
        for (index, first) in rects.enumerated() {
            for second in rects[(index + 1)...] {
                #expect(first.intersection(second).isEmpty, "\(first) overlaps \(second)")
            }
        }
    }
    #expect(Screen.layout(width: 59, height: 24, snapshot: snapshot) == nil)
    #expect(Screen.layout(width: 80, height: 15, snapshot: snapshot) == nil)
}

/// A message wider than the screen wraps onto a second row at a space, so its end stays
/// visible. One longer than two rows ends with an ellipsis.
@Test func longMessageWrapsToTwoRows() {
    var snapshot = Fixtures.base()
    snapshot.message =
        "gradcheck layer1.0: worst relative error 3.1e-04 (layer1.0.bn1.weight); passed: "
        + "float noise stays under 0.05"
    let lines = drawScreen(snapshot, width: 80, height: 24)
    #expect(lines[2].hasPrefix(" ! gradcheck layer1.0: worst relative error"), "\(lines[2])")
    #expect(lines[3].contains("float noise stays under 0.05"), "\(lines[3])")
    #expect(lines[4].hasPrefix("┌ network"), "\(lines[4])")

    snapshot.message = String(repeating: "word ", count: 60)
    let long = drawScreen(snapshot, width: 80, height: 24)
    #expect(long[3].trimmingCharacters(in: .whitespaces).hasSuffix("…"), "\(long[3])")
    #expect(long[4].hasPrefix("┌ network"), "\(long[4])")
}

/// The loss panel's first row drops whole figures when it is narrow, never a cut one.
@Test func lossSummaryDropsWholeFigures() {
    var snapshot = Fixtures.backwardThroughLayer1()
    snapshot.testAccuracy = (accuracy: 0.106, iteration: 12, count: 1000)
    let wide = drawPanel(width: 60, height: 8) { rect, buffer in
        LossPanel(snapshot: snapshot).draw(in: rect, on: &buffer)
    }
    #expect(wide[1].contains("test 10.6% @12"), "\(screenText(wide))")
    // 38 columns inside the frame: room for "test" but not for its figures.
    let narrow = drawPanel(width: 40, height: 8) { rect, buffer in
        LossPanel(snapshot: snapshot).draw(in: rect, on: &buffer)
    }
    #expect(narrow[1].contains("last "), "\(screenText(narrow))")
    #expect(!narrow[1].contains("test"), "a cut figure is left\(screenText(narrow))")
}
