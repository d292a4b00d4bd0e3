import Foundation
import Training

/// The UI's state machine without the terminal: applies keys to the UI state, forwards the
/// commands to the session and draws the latest snapshot. `App.run` feeds it from curses;
/// tests feed it directly.
public final class AppController {
    public let session: any SessionControl
    public private(set) var state: UIState

    public init(
        session: any SessionControl, chartStyle: ChartStyle = .braille, colorCount: Int = 256
    ) {
        self.session = session
        self.state = UIState(snapshot: session.snapshot, chartStyle: chartStyle)
        self.state.colorCount = colorCount
    }

    /// Size of the last frame drawn, which mouse clicks are mapped against.
    private var screenSize = (width: 0, height: 0)

    /// Applies one key and sends its command to the session. Returns false when the key
    /// requests to quit.
    public func handle(_ key: KeyEvent) -> Bool {
        // The "too small" screen shows nothing of the session, so only q acts on it. A key
        // pressed there must not start training that the user cannot watch.
        let tooSmall =
            screenSize.width > 0
            && (screenSize.width < Screen.minimumWidth || screenSize.height < Screen.minimumHeight)
        if tooSmall {
            return key != .character("q")
        }
        if case .click(let x, let y) = key {
            selectBlock(atX: x, y: y)
            return true
        }
        let outcome = handleKey(
            key, state: state, snapshot: session.snapshot,
            screenWidth: screenSize.width > 0 ? screenSize.width : nil)
        state = outcome.state
        if let command = outcome.command {
            session.send(command)
        }
        return !outcome.quit
    }

    /// Selects the block whose row in the network panel was clicked; a click anywhere else,
    /// or while the help is open, does nothing.
    private func selectBlock(atX x: Int, y: Int) {
        let snapshot = session.snapshot
        guard !state.helpVisible,
            let layout = Screen.layout(
                width: screenSize.width, height: screenSize.height, snapshot: snapshot,
                narrowDetailVisible: state.narrowDetailVisible),
            layout.network.contains(x: x, y: y)
        else { return }
        let panel = NetworkPanel(snapshot: snapshot, state: state)
        guard let layer = panel.layer(atRow: y, in: layout.network),
            snapshot.layers[layer].kind == .block
        else { return }
        state.selectedLayer = layer
    }

    /// Draws the session's latest snapshot into `buffer`.
    public func render(into buffer: inout CellBuffer) {
        screenSize = (buffer.width, buffer.height)
        Screen.draw(snapshot: session.snapshot, state: state, into: &buffer)
    }
}

/// The interactive terminal UI.
public enum App {
    /// Shortest time between two redraws, which caps the frame rate near 30 per second.
    static let frameInterval = Duration.milliseconds(33)

    /// Throws `TerminalError.notATerminal` unless standard input and output are terminals, so
    /// a caller can fail before it loads data or starts a session.
    public static func checkTerminal() throws {
        guard isatty(STDIN_FILENO) != 0 && isatty(STDOUT_FILENO) != 0 else {
            throw TerminalError.notATerminal
        }
    }

    /// Runs the UI on the current terminal until the user presses `q`.
    ///
    /// The loop waits for a key only until the next frame is due. It only reads
    /// `session.snapshot`, which does not wait for a phase to finish, so a session busy with a
    /// long phase never holds up the keys or the redraw. SIGINT, SIGTERM and SIGHUP restore
    /// the terminal and exit the process with status 128 + the signal number.
    ///
    /// - Throws: `TerminalError.notATerminal` when standard input or output is not a
    ///   terminal, before curses touches either; `TerminalError.initializationFailed` when
    ///   curses cannot set up the terminal.
    public static func run(session: any SessionControl, options: DisplayOptions = .init()) throws {
        let driver = try CursesDriver(color: options.color)
        // Outside a UTF-8 locale the terminal cannot show box drawing, blocks or braille, so
        // the charts switch to ASCII and the driver replaces every other non-ASCII glyph.
        let chartStyle = driver.isUnicode ? options.chartStyle : .ascii
        let controller = AppController(
            session: session, chartStyle: chartStyle, colorCount: driver.colorCount)
        defer { driver.shutdown() }

        let clock = ContinuousClock()
        var lastFrame: ContinuousClock.Instant?
        var buffer = CellBuffer(width: driver.width, height: driver.height)

        while true {
            driver.exitIfSignalled()

            let sinceFrame = lastFrame.map { clock.now - $0 } ?? frameInterval
            let wait = max(Duration.milliseconds(1), frameInterval - sinceFrame)
            if let key = driver.readKey(timeout: wait) {
                if key == .resize {
                    buffer = CellBuffer(width: driver.width, height: driver.height)
                }
                guard controller.handle(key) else { return }
            }

            // A held key arrives faster than the frame rate, so keys are applied at once but
            // frames still wait for their turn.
            let now = clock.now
            if let lastFrame, now - lastFrame < frameInterval { continue }
            lastFrame = now
            controller.render(into: &buffer)
            driver.present(buffer)
        }
    }
}

/// Display settings of the UI: colour on or off, and the characters the charts use.
public struct DisplayOptions: Sendable, Equatable {
    /// False for monochrome: set by `--no-color` or a non-empty `NO_COLOR`.
    public var color: Bool
    public var chartStyle: ChartStyle

    public init(color: Bool = true, chartStyle: ChartStyle = .braille) {
        self.color = color
        self.chartStyle = chartStyle
    }

    /// Reads `NO_COLOR`: any non-empty value turns colour off, following https://no-color.org.
    public static func colorAllowed(environment: [String: String]) -> Bool {
        (environment["NO_COLOR"] ?? "").isEmpty
    }
}
