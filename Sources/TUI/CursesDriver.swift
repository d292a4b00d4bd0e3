// @preconcurrency because curses exposes its state as C globals (LINES, COLS, COLOR_PAIRS),
// which only this file reads, and only from the UI thread.
@preconcurrency import CNCursesW
import Foundation
import Synchronization

/// Errors that keep the interactive UI from starting.
public enum TerminalError: Error, Equatable, CustomStringConvertible, LocalizedError {
    /// Standard input or standard output is not a terminal (a pipe, a file, a CI job).
    case notATerminal
    /// curses could not set up the terminal, usually because TERM names a terminal type
    /// that the terminfo database does not know.
    case initializationFailed(term: String?)
    /// The terminal type cannot move the cursor (TERM=dumb, for one), so no screen can be
    /// drawn on it.
    case noCursorAddressing(term: String?)

    public var description: String {
        switch self {
        case .notATerminal:
            return "The interactive UI needs a terminal, but standard input or output is not "
                + "one. To train without the UI, run `resnet-tui train`."
        case .initializationFailed(let term):
            return "curses could not initialize the terminal (TERM=\(term ?? "unset")). Set TERM "
                + "to a known type such as xterm-256color, or run `resnet-tui train`."
        case .noCursorAddressing(let term):
            return "the terminal type TERM=\(term ?? "unset") cannot move the cursor, which the UI "
                + "needs. Set TERM to a type such as xterm-256color, or run `resnet-tui train`."
        }
    }

    public var errorDescription: String? { description }
}

/// The signal that asked the process to stop, 0 while none has arrived. A signal handler may
/// only touch lock-free state, so it stores the number here and the UI loop does the
/// terminal clean-up outside the handler.
private let pendingSignal = Atomic<Int32>(0)

/// Terminal settings from before curses started, for the crash handler. Written once before
/// the handlers go in, then only read.
nonisolated(unsafe) private var savedTerminalSettings = termios()
nonisolated(unsafe) private var hasSavedTerminalSettings = false

/// Escape sequences that turn off mouse reporting, show the cursor and leave the alternate
/// screen, prepared before any crash so the handler writes them without allocating.
nonisolated(unsafe) private let crashResetSequence: UnsafeMutableBufferPointer<UInt8> = {
    let bytes = Array("\u{1B}[?1000l\u{1B}[?1002l\u{1B}[?1006l\u{1B}[?25h\u{1B}[?1049l\r\n".utf8)
    let buffer = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: bytes.count)
    _ = buffer.initialize(from: bytes)
    return buffer
}()

/// Restores the terminal from a fatal signal (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT or
/// SIGTRAP) with async-signal-safe calls only. The signal's default action then ends the
/// process, so the exit status and any core dump stay those of the crash.
private func restoreTerminalAndCrash(_ signalNumber: Int32) {
    _ = write(STDOUT_FILENO, crashResetSequence.baseAddress, crashResetSequence.count)
    if hasSavedTerminalSettings {
        _ = tcsetattr(STDIN_FILENO, TCSANOW, &savedTerminalSettings)
    }
    signal(signalNumber, SIG_DFL)
    raise(signalNumber)
}

/// The only code that talks to curses: sets the terminal up, decodes keys and copies a
/// `CellBuffer` to the screen, writing only the cells that changed since the last frame.
final class CursesDriver {
    private let screen: OpaquePointer
    private let window: UnsafeMutablePointer<WINDOW>
    private(set) var width: Int
    private(set) var height: Int
    /// The buffer on screen, or nil when the next frame must repaint every cell.
    private var displayedBuffer: CellBuffer?
    private var isShutDown = false
    private let hasColors: Bool
    /// Colours the terminal shows: 0 without colour (or with colour turned off), else
    /// curses' COLORS, typically 8, 16 or 256.
    let colorCount: Int
    /// True when the locale's character set is UTF-8, so wide characters reach the terminal.
    let isUnicode: Bool
    private let hasDefaultColors: Bool
    /// Colour pair numbers already set up, by foreground and background.
    private var pairs: [PairKey: Int16] = [:]
    private let maximumPairs: Int

    private struct PairKey: Hashable {
        var foreground: PaletteColor
        var background: PaletteColor
    }

    // curses defines these attributes with a macro that Swift does not import:
    // NCURSES_BITS(1, n) is 1 << (n + NCURSES_ATTR_SHIFT) with NCURSES_ATTR_SHIFT = 8
    // (ncurses 6 curses.h: A_REVERSE is bit 10, A_BOLD bit 13).
    private static let reverseAttribute = attr_t(1) << 18
    private static let boldAttribute = attr_t(1) << 21
    private static let buttonPressed = mmask_t(0o2)
    private static let buttonClicked = mmask_t(0o4)

    /// Sets the terminal up for the UI.
    ///
    /// - Throws: `TerminalError.notATerminal` before touching the terminal when standard input
    ///   or output is redirected; `TerminalError.initializationFailed` when curses rejects it.
    /// Pass `color: false` for monochrome output on a colour terminal.
    init(color: Bool = true) throws {
        guard isatty(STDIN_FILENO) != 0 && isatty(STDOUT_FILENO) != 0 else {
            throw TerminalError.notATerminal
        }
        setlocale(LC_ALL, "")
        let codeset = nl_langinfo(nl_item(CODESET)).map { String(cString: $0) } ?? ""
        isUnicode = codeset.uppercased().replacingOccurrences(of: "-", with: "") == "UTF8"

        // The handlers go in before curses starts: ncurses installs its own SIGINT and SIGTERM
        // handlers only where the default handler is still in place.
        for signalNumber in [SIGINT, SIGTERM, SIGHUP] {
            signal(signalNumber) { received in
                pendingSignal.store(received, ordering: .relaxed)
            }
        }
        hasSavedTerminalSettings = tcgetattr(STDIN_FILENO, &savedTerminalSettings) == 0
        _ = crashResetSequence.count
        for signalNumber in [SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP] {
            signal(signalNumber) { received in restoreTerminalAndCrash(received) }
        }

        // newterm, unlike initscr, returns nil on an unknown terminal instead of exiting.
        guard let output = fdopen(STDOUT_FILENO, "w"), let input = fdopen(STDIN_FILENO, "r"),
            let screen = newterm(nil, output, input)
        else {
            throw TerminalError.initializationFailed(
                term: ProcessInfo.processInfo.environment["TERM"])
        }
        self.screen = screen
        // tigetstr returns nil for an absent string capability and -1 for a name that is not
        // a string capability.
        let cursorAddress = tigetstr("cup")
        if cursorAddress == nil || Int(bitPattern: cursorAddress) == -1 {
            endwin()
            delscreen(screen)
            throw TerminalError.noCursorAddressing(
                term: ProcessInfo.processInfo.environment["TERM"])
        }
        guard let window = newwin(0, 0, 0, 0) else {
            endwin()
            throw TerminalError.initializationFailed(
                term: ProcessInfo.processInfo.environment["TERM"])
        }
        self.window = window

        cbreak()
        noecho()
        keypad(window, true)
        // Esc is also the first byte of arrow-key sequences; 25 ms is enough to tell them
        // apart on a local terminal and short enough that Esc feels immediate.
        set_escdelay(25)
        curs_set(0)
        // Button 1 pressed and clicked (curses.h: NCURSES_MOUSE_MASK(1, 2) and (1, 4)). A
        // press is reported too because some terminals never send a click event. endwin
        // turns mouse reporting off again.
        mousemask(Self.buttonPressed | Self.buttonClicked, nil)
        mouseinterval(0)

        hasColors = color && has_colors()
        if hasColors {
            start_color()
            hasDefaultColors = use_default_colors() == OK
        } else {
            hasDefaultColors = false
        }
        maximumPairs = Int(COLOR_PAIRS)
        colorCount = hasColors ? Int(COLORS) : 0
        width = Int(getmaxx(window))
        height = Int(getmaxy(window))
    }

    /// Restores the terminal. Safe to call more than once.
    func shutdown() {
        guard !isShutDown else { return }
        isShutDown = true
        endwin()
    }

    /// Restores the terminal and exits with status 128 + the signal number if SIGINT,
    /// SIGTERM or SIGHUP has arrived since the UI started.
    func exitIfSignalled() {
        let received = pendingSignal.load(ordering: .relaxed)
        guard received != 0 else { return }
        shutdown()
        exit(128 + received)
    }

    /// Waits up to `timeout` for a key and decodes it; returns nil on timeout and for keys the
    /// UI does not use.
    func readKey(timeout: Duration) -> KeyEvent? {
        let (seconds, attoseconds) = timeout.components
        let milliseconds = seconds * 1000 + attoseconds / 1_000_000_000_000_000
        wtimeout(window, Int32(clamping: milliseconds))

        var code: wint_t = 0
        switch wget_wch(window, &code) {
        case KEY_CODE_YES:
            return decodeFunctionKey(Int32(bitPattern: code))
        case OK:
            if code == 27 { return .escape }
            guard let scalar = Unicode.Scalar(code) else { return nil }
            return .character(Character(scalar))
        default:
            return nil
        }
    }

    private func decodeFunctionKey(_ code: Int32) -> KeyEvent? {
        switch code {
        case KEY_UP: return .up
        case KEY_DOWN: return .down
        case KEY_LEFT: return .left
        case KEY_RIGHT: return .right
        case KEY_MOUSE:
            var event = MEVENT()
            guard getmouse(&event) == OK,
                event.bstate & (Self.buttonPressed | Self.buttonClicked) != 0
            else { return nil }
            return .click(x: Int(event.x), y: Int(event.y))
        case KEY_RESIZE:
            // ncurses has already resized its windows when it reports KEY_RESIZE, but only
            // the standard screen: our window is resized here to the new terminal size.
            wresize(window, LINES, COLS)
            width = Int(getmaxx(window))
            height = Int(getmaxy(window))
            displayedBuffer = nil
            return .resize
        default: return nil
        }
    }

    /// Copies `buffer` to the terminal. Only cells that differ from the previous frame are
    /// written, unless the size changed.
    func present(_ buffer: CellBuffer) {
        let repaintAll =
            displayedBuffer.map { $0.width != buffer.width || $0.height != buffer.height }
            ?? true
        if repaintAll {
            werase(window)
            clearok(window, true)
        }
        let rows = min(buffer.height, height)
        let columns = min(buffer.width, width)
        for y in 0..<rows {
            for x in 0..<columns {
                let cell = buffer[x, y]
                if !repaintAll, let displayedBuffer, displayedBuffer[x, y] == cell { continue }
                write(cell, x: x, y: y)
            }
        }
        wrefresh(window)
        displayedBuffer = buffer
    }

    private func write(_ cell: Cell, x: Int, y: Int) {
        var cell = cell
        if !isUnicode { cell.glyph = AsciiFallback.glyph(cell.glyph) }
        var attributes: attr_t = 0
        if cell.style.bold { attributes |= Self.boldAttribute }
        if cell.style.reverse { attributes |= Self.reverseAttribute }
        var wide = cell.glyph.unicodeScalars.prefix(Int(CCHARW_MAX) - 1).map { wchar_t($0.value) }
        wide.append(0)
        var character = cchar_t()
        setcchar(&character, wide, attributes, pair(for: cell.style), nil)
        // Adding to the bottom-right cell returns ERR because the cursor cannot move past it,
        // but the cell is still written.
        mvwadd_wch(window, Int32(y), Int32(x), &character)
    }

    /// Returns the colour pair for a style and sets it up on first use. Pair 0, the terminal's
    /// own colours, serves when the terminal has no colours or no pairs are left.
    private func pair(for style: CellStyle) -> Int16 {
        guard hasColors else { return 0 }
        var key = PairKey(foreground: style.foreground, background: style.background)
        if colorCount < 256 {
            key.foreground = key.foreground.ansi
            key.background = key.background.ansi
        }
        if !hasDefaultColors {
            // Without use_default_colors, -1 is not a valid colour: fall back to white on
            // black, the usual curses defaults.
            if key.foreground == .terminalDefault { key.foreground = .white }
            if key.background == .terminalDefault { key.background = .black }
        }
        if key.foreground == .terminalDefault && key.background == .terminalDefault {
            return 0
        }
        if let existing = pairs[key] { return existing }
        let number = pairs.count + 1
        guard number < maximumPairs, number <= Int(Int16.max) else { return 0 }
        init_pair(Int16(number), key.foreground.rawValue, key.background.rawValue)
        pairs[key] = Int16(number)
        return Int16(number)
    }
}
