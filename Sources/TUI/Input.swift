import Training

/// A key press as the driver decodes it, independent of curses key codes.
public enum KeyEvent: Sendable, Equatable {
    case character(Character)
    case up
    case down
    case left
    case right
    case escape
    /// The terminal changed size; the driver has already read the new size.
    case resize
    /// A left mouse click at a screen cell, column `x` and row `y` from the top left.
    case click(x: Int, y: Int)
}

/// UI state that the snapshot does not contain: the selection and the help overlay.
public struct UIState: Sendable, Equatable {
    /// Index into `snapshot.layers` of the selected block, or nil when the model has none.
    public var selectedLayer: Int?
    public var helpVisible: Bool
    /// Lines of the help overlay scrolled past, changed with j/k or the arrows.
    public var helpScroll = 0
    public var chartStyle: ChartStyle
    /// The detail panel's content, which Tab cycles through.
    public var detailView: DetailView = .statistics
    /// Whether a screen narrower than `Screen.wideLayoutWidth` shows the detail panel in
    /// place of the network list. The wide layout shows the panel whenever it has the rows,
    /// so it ignores this flag.
    public var narrowDetailVisible = false
    /// The sample of the batch and the channel the heat maps show, as requested with `{` `}`
    /// and `[` `]`.
    public var featureSample = 0
    public var featureChannel = 0
    /// Colours the terminal shows: 0 without colour, 8 or 16, or 256.
    public var colorCount = 256

    public init(
        selectedLayer: Int? = nil, helpVisible: Bool = false, chartStyle: ChartStyle = .braille
    ) {
        self.selectedLayer = selectedLayer
        self.helpVisible = helpVisible
        self.chartStyle = chartStyle
    }

    /// Creates the state at start-up, with the first block selected and the help closed.
    public init(snapshot: SessionSnapshot, chartStyle: ChartStyle = .braille) {
        self.init(selectedLayer: Self.blockIndices(of: snapshot).first, chartStyle: chartStyle)
    }

    /// Indices of the layers that are residual blocks, the only layers the cursor visits,
    /// because the only per-layer command (`t`, toggle the skip) acts on a block.
    public static func blockIndices(of snapshot: SessionSnapshot) -> [Int] {
        snapshot.layers.indices.filter { snapshot.layers[$0].kind == .block }
    }
}

/// The result of one key press.
public struct KeyOutcome: Sendable, Equatable {
    public var state: UIState
    /// The command to send to the session, if the key requests one.
    public var command: SessionCommand?
    public var quit: Bool

    public init(state: UIState, command: SessionCommand? = nil, quit: Bool = false) {
        self.state = state
        self.command = command
        self.quit = quit
    }
}

/// Maps a key press to the next UI state and the session command it requests.
///
/// `n` or Right runs the next phase, `s` finishes the iteration, `f` runs to the loss, `b`
/// runs the backward pass to the input and Space starts or pauses training. `+` (or `=`)
/// doubles and `-` halves the learning rate, and `r` resets the weights from the seed.
/// Up/`k` and Down/`j` move the selection between blocks, `t` toggles the selected block's
/// skip and `T` toggles all skips. `u`, and Left at an iteration boundary, rewind one
/// iteration. `?` opens or closes the help, Esc closes it, and
/// `q` quits. While the help is open, only `?`, Esc and `q` act, so a key pressed to read the help
/// does not also step the network.
///
/// Tab cycles the detail views. On a screen narrower than `Screen.wideLayoutWidth`
/// (`screenWidth`), the cycle has one more stop: the first Tab shows the detail panel in
/// place of the network list, and Tab on the last view brings the list back. A nil
/// `screenWidth` (no frame drawn yet) cycles as the wide layout does.
public func handleKey(
    _ key: KeyEvent, state: UIState, snapshot: SessionSnapshot, screenWidth: Int? = nil
) -> KeyOutcome {
    var next = state
    let blocks = UIState.blockIndices(of: snapshot)

    // The layer list can change between snapshots (a new model), so a selection that no
    // longer names a block falls back to the first block.
    if let selected = next.selectedLayer, !blocks.contains(selected) {
        next.selectedLayer = blocks.first
    } else if next.selectedLayer == nil {
        next.selectedLayer = blocks.first
    }

    if key == .character("q") {
        return KeyOutcome(state: next, quit: true)
    }
    if next.helpVisible {
        switch key {
        case .character("?"), .escape:
            next.helpVisible = false
            next.helpScroll = 0
        case .character("j"), .down:
            next.helpScroll = min(next.helpScroll + 1, HelpOverlay.contentLines - 1)
        case .character("k"), .up:
            next.helpScroll = max(next.helpScroll - 1, 0)
        default:
            break
        }
        return KeyOutcome(state: next)
    }

    switch key {
    case .character("n"), .character("l"), .right:
        return KeyOutcome(state: next, command: .advancePhase)
    case .character("s"):
        return KeyOutcome(state: next, command: .finishIteration)
    case .character(" "):
        return KeyOutcome(state: next, command: .toggleRunning)
    case .character("j"), .down:
        next.selectedLayer = neighbour(of: next.selectedLayer, in: blocks, offset: 1)
        return KeyOutcome(state: next)
    case .character("k"), .up:
        next.selectedLayer = neighbour(of: next.selectedLayer, in: blocks, offset: -1)
        return KeyOutcome(state: next)
    case .character("t"):
        guard let selected = next.selectedLayer else { return KeyOutcome(state: next) }
        return KeyOutcome(state: next, command: .toggleSkip(layer: selected))
    case .character("T"):
        return KeyOutcome(state: next, command: .toggleAllSkips)
    case .character("x"):
        guard let selected = next.selectedLayer else { return KeyOutcome(state: next) }
        return KeyOutcome(state: next, command: .whatIf(layer: selected))
    case .character("g"):
        guard let selected = next.selectedLayer else { return KeyOutcome(state: next) }
        return KeyOutcome(state: next, command: .gradientCheck(layer: selected))
    case .character("u"):
        return KeyOutcome(state: next, command: .rewind)
    case .left:
        // Left reverses Right only at an iteration boundary, where one step back is a whole
        // iteration. The session checks the boundary, because a step sent just before may
        // not show in this snapshot yet.
        return KeyOutcome(state: next, command: .rewindAtBoundary)
    case .character("d"):
        return KeyOutcome(state: next, command: .measureGauge)
    case .character("e"):
        return KeyOutcome(
            state: next, command: .startExperiment(name: nextExperiment(after: snapshot)))
    case .character("w"):
        return KeyOutcome(state: next, command: .saveCheckpoint)
    case .character("c"):
        return KeyOutcome(state: next, command: .toggleCompare)
    case .character("f"):
        return KeyOutcome(state: next, command: .runForward)
    case .character("b"):
        return KeyOutcome(state: next, command: .runBackward)
    case .character("+"), .character("="):
        return KeyOutcome(state: next, command: .scaleLearningRate(2))
    case .character("-"):
        return KeyOutcome(state: next, command: .scaleLearningRate(0.5))
    case .character("r"):
        return KeyOutcome(state: next, command: .resetWeights)
    case .character("?"):
        next.helpVisible = true
        return KeyOutcome(state: next)
    case .character("\t"):
        let narrow = screenWidth.map { $0 < Screen.wideLayoutWidth } ?? false
        if !narrow {
            next.detailView = next.detailView.next
        } else if !next.narrowDetailVisible {
            next.narrowDetailVisible = true
        } else if next.detailView == DetailView.allCases.last {
            next.narrowDetailVisible = false
            next.detailView = .statistics
        } else {
            next.detailView = next.detailView.next
        }
        return KeyOutcome(state: next)
    case .character("]"), .character("["):
        next.featureChannel = max(0, next.featureChannel + (key == .character("]") ? 1 : -1))
        if let maximum = channelCount(of: next.selectedLayer, in: snapshot) {
            next.featureChannel = min(next.featureChannel, maximum - 1)
        }
        return KeyOutcome(
            state: next,
            command: .viewFeatureMap(sample: next.featureSample, channel: next.featureChannel))
    case .character("}"), .character("{"):
        next.featureSample = max(0, next.featureSample + (key == .character("}") ? 1 : -1))
        next.featureSample = min(next.featureSample, max(snapshot.batchSize - 1, 0))
        return KeyOutcome(
            state: next,
            command: .viewFeatureMap(sample: next.featureSample, channel: next.featureChannel))
    default:
        return KeyOutcome(state: next)
    }
}

/// Returns the name of the experiment that `e` starts: the first one, or the one after the
/// experiment in progress.
private func nextExperiment(after snapshot: SessionSnapshot) -> String {
    let names = LiveExperiment.names
    guard let current = snapshot.experiment?.name, let index = names.firstIndex(of: current)
    else { return names[0] }
    return names[(index + 1) % names.count]
}

/// Returns the channel count of `layer`'s output, or nil when it is unknown.
private func channelCount(of layer: Int?, in snapshot: SessionSnapshot) -> Int? {
    guard let layer, snapshot.layers.indices.contains(layer) else { return nil }
    let shape = snapshot.layers[layer].outputShape
    return shape.count >= 3 ? shape[0] : nil
}

/// Content of the detail panel below the network.
public enum DetailView: Sendable, Equatable, CaseIterable {
    /// Statistics and histogram of the selected block's output.
    case statistics
    /// One channel of one sample of the selected block's output as a heat map.
    case featureMap
    /// The same sample of the input images, so the user sees what goes in.
    case input
    /// The forward and backward rules of the current layer with shapes and norms.
    case formulas
    /// Every layer's input-gradient norm over the iterations so far, with alarms.
    case depthTime

    /// The view that Tab moves to.
    public var next: DetailView {
        let all = Self.allCases
        return all[(all.firstIndex(of: self)! + 1) % all.count]
    }
}

/// Returns the block `offset` places away from `selected`, stopping at the first and last.
private func neighbour(of selected: Int?, in blocks: [Int], offset: Int) -> Int? {
    guard let selected, let position = blocks.firstIndex(of: selected) else {
        return blocks.first
    }
    let target = min(max(position + offset, 0), blocks.count - 1)
    return blocks[target]
}
