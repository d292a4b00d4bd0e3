import TUI
import Testing
import Training

@Test func initialSelectionIsFirstBlock() {
    let state = UIState(snapshot: Fixtures.backwardThroughLayer1())
    #expect(state.selectedLayer == 1)
    #expect(!state.helpVisible)
}

@Test func commandKeys() {
    let snapshot = Fixtures.backwardThroughLayer1()
    let state = UIState(selectedLayer: 2, helpVisible: false)
    let cases: [(KeyEvent, SessionCommand)] = [
        (.character("n"), .advancePhase),
        (.right, .advancePhase),
        (.character("s"), .finishIteration),
        (.character(" "), .toggleRunning),
        (.character("t"), .toggleSkip(layer: 2)),
        (.character("T"), .toggleAllSkips),
        (.character("f"), .runForward),
        (.character("b"), .runBackward),
        (.character("+"), .scaleLearningRate(2)),
        (.character("="), .scaleLearningRate(2)),
        (.character("-"), .scaleLearningRate(0.5)),
        (.character("r"), .resetWeights),
        (.character("w"), .saveCheckpoint),
        (.character("g"), .gradientCheck(layer: 2)),
        (.character("x"), .whatIf(layer: 2)),
        (.character("l"), .advancePhase),
    ]
    for (key, command) in cases {
        let outcome = handleKey(key, state: state, snapshot: snapshot)
        #expect(outcome.command == command, "key \(key)")
        #expect(outcome.state == state, "key \(key) leaves the UI state alone")
        #expect(!outcome.quit, "key \(key)")
    }
}

@Test func selectionMovesBetweenBlocksOnly() {
    let snapshot = Fixtures.backwardThroughLayer1()
    // Blocks are layers 1, 2 and 3; conv1, avgpool and fc are skipped.
    let cases: [(KeyEvent, Int, Int)] = [
        (.character("j"), 1, 2), (.down, 2, 3), (.down, 3, 3),
        (.character("k"), 3, 2), (.up, 2, 1), (.up, 1, 1),
    ]
    for (key, from, to) in cases {
        let outcome = handleKey(
            key, state: UIState(selectedLayer: from), snapshot: snapshot)
        #expect(outcome.state.selectedLayer == to, "\(key) from \(from)")
        #expect(outcome.command == nil, "\(key) sends nothing")
    }
}

@Test func selectionOnNonBlockFallsBackToBlock() {
    let snapshot = Fixtures.backwardThroughLayer1()
    let outcome = handleKey(
        .character("t"), state: UIState(selectedLayer: 5), snapshot: snapshot)
    #expect(outcome.command == .toggleSkip(layer: 1), "t always acts on a block")
    #expect(outcome.state.selectedLayer == 1)
}

@Test func toggleSkipWithoutBlocksSendsNothing() {
    var snapshot = Fixtures.base()
    snapshot.layers = snapshot.layers.filter { $0.kind != .block }
    let outcome = handleKey(.character("t"), state: UIState(), snapshot: snapshot)
    #expect(outcome.command == nil)
    #expect(outcome.state.selectedLayer == nil)
}

@Test func quitKey() {
    let snapshot = Fixtures.backwardThroughLayer1()
    for helpVisible in [false, true] {
        let outcome = handleKey(
            .character("q"), state: UIState(selectedLayer: 1, helpVisible: helpVisible),
            snapshot: snapshot)
        #expect(outcome.quit, "q quits with help \(helpVisible ? "open" : "closed")")
        #expect(outcome.command == nil)
    }
}

@Test func helpOpensAndCloses() {
    let snapshot = Fixtures.backwardThroughLayer1()
    let closed = UIState(selectedLayer: 1, helpVisible: false)
    let opened = handleKey(.character("?"), state: closed, snapshot: snapshot)
    #expect(opened.state.helpVisible)
    #expect(opened.command == nil)
    #expect(!handleKey(.character("?"), state: opened.state, snapshot: snapshot).state.helpVisible)
    #expect(!handleKey(.escape, state: opened.state, snapshot: snapshot).state.helpVisible)
    #expect(
        !handleKey(.escape, state: closed, snapshot: snapshot).state.helpVisible,
        "Esc with the help closed changes nothing")
}

@Test func helpSwallowsOtherKeys() {
    let snapshot = Fixtures.backwardThroughLayer1()
    let state = UIState(selectedLayer: 1, helpVisible: true)
    for key: KeyEvent in [
        .character("n"), .character("s"), .character(" "), .right, .character("t"),
    ] {
        let outcome = handleKey(key, state: state, snapshot: snapshot)
        #expect(outcome.command == nil, "\(key) does nothing while the help is open")
        #expect(outcome.state == state, "\(key)")
    }
}

@Test func unknownKeysDoNothing() {
    let snapshot = Fixtures.backwardThroughLayer1()
    let state = UIState(selectedLayer: 2)
    for key: KeyEvent in [.character("z"), .resize, .escape] {
        let outcome = handleKey(key, state: state, snapshot: snapshot)
        #expect(outcome == KeyOutcome(state: state), "\(key)")
    }
}

@Test func controllerSendsCommandsToSession() {
    let session = RecordingSession(snapshot: Fixtures.backwardThroughLayer1())
    let controller = AppController(session: session)
    let keys: [KeyEvent] = [
        .character("n"), .down, .character("t"), .character("?"), .character("s"), .escape,
        .character(" "), .character("T"),
    ]
    for key in keys {
        #expect(controller.handle(key), "\(key) keeps the UI running")
    }
    #expect(
        session.commands == [
            .advancePhase, .toggleSkip(layer: 2), .toggleRunning, .toggleAllSkips,
        ],
        "s is ignored while the help is open")
    #expect(!controller.handle(.character("q")))
    #expect(session.commands.count == 4, "q sends nothing")
}

@Test func controllerRendersSessionSnapshot() {
    let session = RecordingSession(snapshot: Fixtures.forwardThroughLayer2())
    let controller = AppController(session: session)
    var buffer = CellBuffer(width: 80, height: 24)
    controller.render(into: &buffer)
    let lines = buffer.lines()
    #expect(line(containing: "▶layer2.0", in: lines) != nil, "\(screenText(lines))")
    #expect(line(containing: "▸ layer1.0", in: lines) != nil, "\(screenText(lines))")
}

@Test func tooSmallScreenTakesOnlyQuit() {
    let session = RecordingSession(snapshot: Fixtures.backwardThroughLayer1())
    let controller = AppController(session: session)
    var small = CellBuffer(width: 40, height: 10)
    controller.render(into: &small)
    for key: KeyEvent in [.character("s"), .character(" "), .character("t"), .character("?")] {
        #expect(controller.handle(key), "\(key) keeps the UI running")
    }
    #expect(session.commands.isEmpty, "\(session.commands)")
    #expect(!controller.state.helpVisible)

    var large = CellBuffer(width: 80, height: 24)
    controller.render(into: &large)
    #expect(controller.handle(.character("s")))
    #expect(session.commands == [.finishIteration])
    controller.render(into: &small)
    #expect(!controller.handle(.character("q")), "q still quits")
}

@Test func notATerminalMessageSuggestsTrain() {
    let message = TerminalError.notATerminal.description
    #expect(message.contains("needs a terminal"), "\(message)")
    #expect(message.contains("resnet-tui train"), "\(message)")
}

@Test func runWithoutTerminalThrows() {
    // swift test runs with standard input and output redirected, so no curses screen opens.
    // NOTE: when the tests run from an interactive shell with stdin and stdout on a terminal,
    // this check is skipped, because App.run would take over that terminal.
    guard !standardStreamsAreTerminals() else { return }
    let session = RecordingSession(snapshot: Fixtures.base())
    #expect(throws: TerminalError.notATerminal) {
        try App.run(session: session)
    }
}

@Test func rewindKeys() {
    let midIteration = Fixtures.backwardThroughLayer1()
    #expect(midIteration.nextPhase > 0)
    let state = UIState(snapshot: midIteration)
    #expect(handleKey(.character("u"), state: state, snapshot: midIteration).command == .rewind)
    // The session decides whether Left acts, because it tracks the current phase.
    #expect(handleKey(.left, state: state, snapshot: midIteration).command == .rewindAtBoundary)
}
