import Foundation

/// A one-line progress bar on stderr, redrawn in place with a carriage return. It draws
/// only when stderr is a terminal, so logs and pipes never receive control characters.
final class ProgressBar {
    private let total: Int
    private let enabled: Bool
    private var lastDraw = Date.distantPast
    private var visible = false

    init(total: Int, enabled: Bool = isatty(STDERR_FILENO) != 0) {
        self.total = total
        self.enabled = enabled
    }

    /// Redraws the bar for `done` of `total` steps with the given status text, at most
    /// ten times a second and always for the last step.
    func update(done: Int, status: String) {
        guard enabled else { return }
        let now = Date()
        guard done == total || now.timeIntervalSince(lastDraw) >= 0.1 else { return }
        lastDraw = now
        let width = 24
        let filled = total > 0 ? width * done / total : width
        let bar =
            String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        // ESC [ K erases the rest of the line, so a shorter status leaves nothing behind.
        write("\r[\(bar)] \(done)/\(total) \(status)\u{1b}[K")
        visible = true
    }

    /// Erases the bar, so that a line printed next starts at the left edge.
    func clear() {
        guard enabled, visible else { return }
        write("\r\u{1b}[K")
        visible = false
    }

    private func write(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }
}
