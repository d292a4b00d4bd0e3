import TUI
import Testing
import Training

/// The detail panel below `Screen.wideLayoutWidth` columns: Tab shows it in the network
/// panel's place, and every view must be readable at 80x24 and 100x30.
struct NarrowDetailTests {
    static let narrowSizes = [(80, 24), (100, 30)]

    /// The fixture mid-backward through layer1.0, with a feature map of the selected block,
    /// an input image, the formula terms of layer1.0 and a depth-by-time strip of 40
    /// iterations, so that every view has something to draw.
    static func snapshot() -> SessionSnapshot {
        var snapshot = Fixtures.backwardThroughLayer1()
        snapshot.featureMaps[1] = gradientMap(layer: 1)
        snapshot.inputShape = [3, 32, 32]
        snapshot.inputMap = gradientMap(layer: -1)
        var terms = [
            FormulaTerm(symbol: "W1", shape: [16, 16, 3, 3], norm: 2.5),
            FormulaTerm(symbol: "W2", shape: [16, 16, 3, 3], norm: 3.5),
            FormulaTerm(symbol: "dL/dO", shape: [16, 32, 32], norm: 0.0123),
            FormulaTerm(symbol: "g", shape: [16, 32, 32], norm: 0.0071),
            FormulaTerm(symbol: "dL/dW1", shape: [16, 16, 3, 3], norm: 0.0621),
            FormulaTerm(symbol: "dL/dW2", shape: [16, 16, 3, 3], norm: 0.031),
        ]
        for symbol in ["x", "y1", "F(x)", "S(x)", "O"] {
            terms.append(FormulaTerm(symbol: symbol, shape: [16, 32, 32], norm: 150))
        }
        snapshot.formulaTerms = Array(repeating: [], count: Fixtures.layers.count)
        snapshot.formulaTerms[1] = terms
        var strip = DepthTimeStrip(
            layers: [1, 2, 3], names: ["layer1.0", "layer2.0", "layer3.0"])
        for iteration in 1...40 {
            strip.append(
                iteration: iteration, gradients: [0.004, 0.002, 0.001],
                zeroFractions: [0.25, 0.5, 0.75], gammaDrift: [0.01, 0.02, 0.03])
        }
        snapshot.depthStrip = strip
        return snapshot
    }

    static func state(_ view: DetailView, snapshot: SessionSnapshot) -> UIState {
        var state = UIState(snapshot: snapshot)
        state.selectedLayer = 1
        state.detailView = view
        state.narrowDetailVisible = true
        return state
    }

    /// Text that each view must show in full on a narrow screen.
    static func expectedText(of view: DetailView) -> [String] {
        switch view {
        case .statistics:
            return [
                "statistics of layer1.0 · view 1/5 · Tab: feature map",
                "16×32×32 · 4672 parameters · identity skip off",
                "output  mean 0.200  std 0.456  zero 45.0%",
                "grad  input 2.6e-04",
            ]
        case .featureMap:
            return [
                "feature map of layer1.0 · view 2/5 · Tab: input image",
                "4×4  channel 1/16  sample 1/128", "▀▀▀▀", "[ ] channel  { } sample",
            ]
        case .input:
            return [
                "input image · view 3/5 · Tab: formulas", "4×4  channel 1/3  sample 1/128", "▀▀▀▀",
            ]
        case .formulas:
            return [
                "formulas of the current layer · view 4/5 · Tab: depth × time",
                "layer1.0: 16×32×32 -> 16×32×32, 4672 parameters",
                "forward   y1 = relu(BN1(W1 * x))", "F(x) = BN2(W2 * y1)",
                "S(x) = 0 (skip off)", "O = relu(F(x) + S(x))",
                "backward  g = dL/dO ⊙ relu'(F(x) + S(x))", "dL/dx = S^T(g) + F^T(g)",
                "|S^T(g)| = 0 (skip off), |F^T(g)| = 2.6e-04", "weights   |dL/dW| = 2.0e-02",
            ]
        case .depthTime:
            return [
                "depth × time · view 5/5 · Tab: back to the network list", "zero%    Δγ",
                " layer1.0", " layer3.0", "75% 3.0e-02", "no alarm",
            ]
        }
    }

    @Test(arguments: narrowSizes)
    func everyViewReplacesNetworkList(width: Int, height: Int) {
        let snapshot = Self.snapshot()
        for view in DetailView.allCases {
            let lines = drawScreen(
                snapshot, width: width, height: height, state: Self.state(view, snapshot: snapshot))
            for text in Self.expectedText(of: view) {
                #expect(
                    line(containing: text, in: lines) != nil,
                    "\(view) at \(width)x\(height): no '\(text)'\(screenText(lines))")
            }
            #expect(
                line(containing: "┌ network", in: lines) == nil,
                "\(view) at \(width)x\(height): network list still drawn\(screenText(lines))")
            #expect(
                lines[1].contains("◀ bwd layer1.0"),
                "\(view) at \(width)x\(height): status row lost the current layer: \(lines[1])")
            #expect(
                line(containing: "┌ gradient flow", in: lines) != nil,
                "\(view) at \(width)x\(height)\(screenText(lines))")
            #expect(
                line(containing: "┌ loss and accuracy", in: lines) != nil,
                "\(view) at \(width)x\(height)\(screenText(lines))")
            #expect(lines.allSatisfy { $0.count == width }, "\(view) at \(width)x\(height)")
        }
    }

    /// At 80 columns the strip has 52 cell columns: 76 text columns less 10 for the labels
    /// and 14 for the numbers. So 40 iterations show whole, and of 100 the newest 52 show,
    /// with the numbers column kept.
    @Test func stripKeepsNewestColumnsAt80() throws {
        let snapshot = Self.snapshot()
        let narrow = drawScreen(
            snapshot, width: 80, height: 24, state: Self.state(.depthTime, snapshot: snapshot))
        #expect(line(containing: "iter 1–40", in: narrow) != nil, "\(screenText(narrow))")
        let row = try #require(line(containing: " layer2.0", in: narrow), "\(screenText(narrow))")
        #expect(row.filter { $0 == "█" }.count == 40, "\(row)")
        #expect(row.contains("50% 2.0e-02"), "\(row)")

        var long = snapshot
        for iteration in 41...100 {
            long.depthStrip?.append(
                iteration: iteration, gradients: [0.004, 0.002, 0.001],
                zeroFractions: [0.25, 0.5, 0.75], gammaDrift: [0.01, 0.02, 0.03])
        }
        let cut = drawScreen(
            long, width: 80, height: 24, state: Self.state(.depthTime, snapshot: long))
        #expect(line(containing: "iter 49–100", in: cut) != nil, "\(screenText(cut))")
        let cutRow = try #require(line(containing: " layer2.0", in: cut), "\(screenText(cut))")
        #expect(cutRow.contains("50% 2.0e-02"), "numbers column kept: \(cutRow)")
    }

    /// At 80x24 a block's formulas need more rows than the panel has, so lines of figures
    /// go and every rule stays. At 100x30 the figures fit too.
    @Test func formulasDropFiguresBeforeRules() {
        let snapshot = Self.snapshot()
        let narrow = drawScreen(
            snapshot, width: 80, height: 24, state: Self.state(.formulas, snapshot: snapshot))
        #expect(line(containing: "|dL/dW1| 6.2e-02", in: narrow) == nil, "\(screenText(narrow))")
        #expect(line(containing: "more rows", in: narrow) == nil, "\(screenText(narrow))")
        let roomy = drawScreen(
            snapshot, width: 100, height: 30, state: Self.state(.formulas, snapshot: snapshot))
        #expect(line(containing: "|dL/dW1| 6.2e-02", in: roomy) != nil, "\(screenText(roomy))")
        #expect(line(containing: "|dL/dO| 1.2e-02", in: roomy) != nil, "\(screenText(roomy))")
    }

    @Test func formulasWrapToPanelWidth() {
        let formulas = Formulas(snapshot: Self.snapshot(), selectedLayer: 1)
        let rows = formulas.lines(width: 40, rows: 100)
        for row in rows {
            #expect(row.count <= 40, "'\(row)' is \(row.count) wide")
        }
        let text = rows.joined(separator: "\n")
        #expect(text.contains("forward   y1 = relu(BN1(W1 * x))\n"), "\(text)")
        #expect(text.contains("\n          W1 16×16×3×3 |W1| 2.5e+00"), "\(text)")
        #expect(text.contains("|S^T(g)| = 0 (skip off),\n          |F^T(g)| = 2.6e-04"), "\(text)")
        #expect(formulas.lines(width: 200, rows: 100) == formulas.lines, "wide: unchanged")
    }

    /// In 56 columns, the text width of the wide layout's detail panel at 110 columns, a
    /// weight's note does not fit beside its formula: it gets its own row, and it is the
    /// first to go when rows run short.
    @Test func weightNoteMovesThenGoes() throws {
        let formulas = Formulas(snapshot: Self.snapshot(), selectedLayer: 1)
        let roomy = formulas.lines(width: 56, rows: 12)
        let forward = try #require(roomy.firstIndex { $0.hasPrefix("forward   y1 =") }, "\(roomy)")
        #expect(roomy[forward] == "forward   y1 = relu(BN1(W1 * x))", "\(roomy)")
        #expect(roomy[forward + 1] == "          W1 16×16×3×3 |W1| 2.5e+00", "\(roomy)")

        let short = formulas.lines(width: 56, rows: 10)
        let text = short.joined(separator: "\n")
        #expect(short.count == 10, "\(text)")
        #expect(!text.contains("|W1|"), "\(text)")
        #expect(!text.contains("more rows"), "\(text)")
        #expect(text.contains("S(x) = 0 (skip off)"), "\(text)")
        #expect(text.contains("|S^T(g)| = 0 (skip off), |F^T(g)| = 2.6e-04"), "\(text)")
        #expect(text.contains("weights   |dL/dW| = 2.0e-02"), "\(text)")
    }

    @Test func shortPanelCountsHiddenRows() {
        let rows = Formulas(snapshot: Self.snapshot(), selectedLayer: 1).lines(width: 76, rows: 4)
        #expect(rows.count == 4)
        #expect(rows[0].hasPrefix("layer1.0:"), "\(rows)")
        #expect(rows[3].hasPrefix("… "), "\(rows)")
        #expect(rows[3].contains("more rows"), "\(rows)")
    }

    @Test func tabCyclesWithNetworkListAtNarrowWidth() {
        let snapshot = Self.snapshot()
        var state = UIState(snapshot: snapshot)
        var seen = [(state.narrowDetailVisible, state.detailView)]
        for _ in 0..<6 {
            state =
                handleKey(.character("\t"), state: state, snapshot: snapshot, screenWidth: 80)
                .state
            seen.append((state.narrowDetailVisible, state.detailView))
        }
        let expected: [(Bool, DetailView)] = [
            (false, .statistics), (true, .statistics), (true, .featureMap), (true, .input),
            (true, .formulas), (true, .depthTime), (false, .statistics),
        ]
        #expect(seen.map(\.0) == expected.map(\.0))
        #expect(seen.map(\.1) == expected.map(\.1))
    }

    @Test func tabAtWideWidthKeepsFiveViews() {
        let snapshot = Self.snapshot()
        var state = UIState(snapshot: snapshot)
        var views = [state.detailView]
        for _ in 0..<5 {
            state =
                handleKey(.character("\t"), state: state, snapshot: snapshot, screenWidth: 110)
                .state
            views.append(state.detailView)
            #expect(!state.narrowDetailVisible)
        }
        #expect(views == [.statistics, .featureMap, .input, .formulas, .depthTime, .statistics])
    }

    /// The controller passes the width of the last frame to the key map, so Tab after an
    /// 80x24 frame shows the panel.
    @Test func controllerShowsPanelAfterTab() {
        let snapshot = Self.snapshot()
        let controller = AppController(session: RecordingSession(snapshot: snapshot))
        var buffer = CellBuffer(width: 80, height: 24)
        controller.render(into: &buffer)
        #expect(line(containing: "┌ network", in: buffer.lines()) != nil)
        _ = controller.handle(.character("\t"))
        controller.render(into: &buffer)
        let lines = buffer.lines()
        #expect(line(containing: "view 1/5", in: lines) != nil, "\(screenText(lines))")
        #expect(line(containing: "┌ network", in: lines) == nil, "\(screenText(lines))")
        // A click where the list was selects nothing, because the list is hidden.
        let before = controller.state.selectedLayer
        _ = controller.handle(.click(x: 5, y: 6))
        #expect(controller.state.selectedLayer == before)
    }

    @Test func wideLayoutIgnoresNarrowFlag() {
        let snapshot = Self.snapshot()
        for (width, height) in [(110, 30), (120, 40), (160, 50)] {
            let off = Screen.layout(width: width, height: height, snapshot: snapshot)
            let on = Screen.layout(
                width: width, height: height, snapshot: snapshot, narrowDetailVisible: true)
            #expect(off == on, "\(width)x\(height)")
        }
    }

    @Test func narrowLayoutRectanglesStayOnScreen() throws {
        let snapshot = Self.snapshot()
        for (width, height) in [(60, 16), (80, 24), (100, 30), (109, 60)] {
            let layout = try #require(
                Screen.layout(
                    width: width, height: height, snapshot: snapshot, narrowDetailVisible: true))
            let detail = try #require(layout.detail, "\(width)x\(height)")
            #expect(layout.network.isEmpty, "\(width)x\(height)")
            #expect(detail.width == width, "\(width)x\(height)")
            #expect(layout.loss.height >= 7, "\(width)x\(height): loss chart \(layout.loss)")
            let rects = [layout.header, detail, layout.gradients, layout.loss, layout.hints]
            let screen = Rect(x: 0, y: 0, width: width, height: height)
            for rect in rects {
                #expect(screen.intersection(rect) == rect, "\(rect) leaves \(width)x\(height)")
            }
            for (index, first) in rects.enumerated() {
                for second in rects[(index + 1)...] {
                    #expect(first.intersection(second).isEmpty, "\(first) overlaps \(second)")
                }
            }
        }
    }

    @Test func tooSmallMessageWithPanelOn() {
        let snapshot = Self.snapshot()
        let lines = drawScreen(
            snapshot, width: 40, height: 12, state: Self.state(.formulas, snapshot: snapshot))
        #expect(
            line(containing: "Terminal too small: 40×12", in: lines) != nil, "\(screenText(lines))")
        #expect(line(containing: "formulas", in: lines) == nil, "\(screenText(lines))")
    }
}
