import Foundation
import Training

/// The UI's state machine without the terminal: applies keys to the UI state, forwards the
/// commands to the session and draws the latest snapshot. `App.run` feeds it from curses;
/// tests feed it directly.
public final class AppController {
    public let session: any SessionControl
    public private(set) var state: UIState

    public init(session: any SessionControl) {
        self.session = session
        self.state = UIState(snapshot: session.snapshot)
    }

    /// Applies one key and sends its command to the session. Returns false when the key
    /// requests to quit.
    public func handle(_ key: KeyEvent) -> Bool {
        let outcome = handleKey(key, state: state, snapshot: session.snapshot)
        state = outcome.state
        if let command = outcome.command {
            session.send(command)
        }
        return !outcome.quit
    }

    /// Draws the session's latest snapshot into `buffer`.
    public func render(into buffer: inout CellBuffer) {
        Screen.draw(snapshot: session.snapshot, state: state, into: &buffer)
    }
}

/// The interactive terminal UI.
public enum App {
    /// Shortest time between two redraws, which caps the frame rate near 30 per second.
    static let frameInterval = Duration.milliseconds(33)

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
    /// Throws `TerminalError.notATerminal` unless standard input and output are terminals, so
    /// a caller can fail before it loads data or starts a session.
    public static func checkTerminal() throws {
        guard isatty(STDIN_FILENO) != 0 && isatty(STDOUT_FILENO) != 0 else {
            throw TerminalError.notATerminal
        }
    }

    public static func run(session: any SessionControl) throws {
        let controller = AppController(session: session)
        let driver = try CursesDriver()
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
