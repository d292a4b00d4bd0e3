import Foundation

/// A private tmux server running one shell, for driving the release binary as a user would.
/// Each instance uses its own socket name, so tests never touch the user's tmux sessions.
final class Tmux {
    let socket: String
    let width: Int
    let height: Int

    /// The repository root, found from this file's path.
    static let repository = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The release binary that `swift build -c release` (run by scripts/test) produces.
    static var binary: String {
        repository.appendingPathComponent(".build/release/resnet-tui").path
    }

    init(width: Int = 120, height: Int = 40) throws {
        socket = "resnet-tui-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        self.width = width
        self.height = height
        try run(
            "new-session", "-d", "-x", "\(width)", "-y", "\(height)", "-s", "main",
            "env", "-i", "PATH=/usr/bin:/bin", "HOME=\(NSTemporaryDirectory())", "TERM=xterm-256color",
            "LANG=C.UTF-8", "PS1=$ ", "bash", "--norc", "--noprofile")
    }

    deinit {
        _ = try? run("kill-server")
    }

    @discardableResult
    func run(_ arguments: String...) throws -> String {
        try run(arguments)
    }

    @discardableResult
    func run(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["tmux", "-L", socket] + arguments
        // Output goes through a file, not a pipe: the tmux server that `new-session` forks
        // inherits the client's descriptors, so a pipe would never reach end of file.
        let path = NSTemporaryDirectory() + "\(socket)-\(UInt32.random(in: 0...UInt32.max)).out"
        FileManager.default.createFile(atPath: path, contents: nil)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let output = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        process.standardOutput = output
        process.standardError = output
        try process.run()
        process.waitUntilExit()
        try output.close()
        let data = FileManager.default.contents(atPath: path) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    /// Types `text` followed by Enter into the shell.
    func type(_ text: String) throws {
        try run("send-keys", "-t", "main", "-l", text)
        try run("send-keys", "-t", "main", "Enter")
    }

    /// Sends tmux key names such as `n`, `Right`, `Space` or `C-c`.
    func keys(_ names: String...) throws {
        try run(["send-keys", "-t", "main"] + names)
    }

    func screen() throws -> [String] {
        try run("capture-pane", "-p", "-t", "main").components(separatedBy: "\n")
    }

    func resize(width: Int, height: Int) throws {
        try run("resize-window", "-t", "main", "-x", "\(width)", "-y", "\(height)")
    }

    /// Polls the screen until `condition` holds or `timeout` seconds pass, and returns the
    /// last screen read. Waiting is polling, not a timed assertion: the caller checks the
    /// condition on what it gets back.
    @discardableResult
    func waitFor(
        timeout: Double = 20, _ condition: ([String]) -> Bool
    ) throws -> [String] {
        let deadline = Date().addingTimeInterval(timeout)
        var lines = try screen()
        while !condition(lines) && Date() < deadline {
            usleep(50_000)
            lines = try screen()
        }
        return lines
    }

    func waitFor(text: String, timeout: Double = 20) throws -> [String] {
        try waitFor(timeout: timeout) { $0.contains { $0.contains(text) } }
    }
}
