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

    /// The binary under test: $RESNET_TUI_BINARY, or the release binary that
    /// `swift build -c release` (run by scripts/test) produces.
    static var binary: String {
        ProcessInfo.processInfo.environment["RESNET_TUI_BINARY"]
            ?? repository.appendingPathComponent(".build/release/resnet-tui").path
    }

    init(width: Int = 120, height: Int = 40) throws {
        socket = "resnet-tui-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        self.width = width
        self.height = height
        try run(
            "new-session", "-d", "-x", "\(width)", "-y", "\(height)", "-s", "main",
            "env", "-i", "PATH=/usr/bin:/bin", "HOME=\(NSTemporaryDirectory())",
            "TERM=xterm-256color",
            "LANG=C.UTF-8", "PS1=$ ", "bash", "--norc", "--noprofile")
        // The crash-signal tests must not leave core files behind.
        try type("ulimit -c 0")
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
        try Self.spawn(["tmux", "-L", socket] + arguments)
    }

    /// Runs a program found on PATH and returns its standard output and error together.
    /// Output goes through a file, not a pipe: the tmux server that `new-session` forks
    /// inherits the client's descriptors, so a pipe would never reach end of file. The child
    /// is started with posix_spawn and reaped with waitpid because Foundation's `Process`
    /// was seen to leave the exited tmux client a zombie and never return from
    /// `waitUntilExit` here.
    static func spawn(_ arguments: [String]) throws -> String {
        let path =
            NSTemporaryDirectory()
            + "resnet-tui-tmux-\(getpid())-\(UInt64.random(in: 0...UInt64.max)).out"
        defer { unlink(path) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        // The test runner's threads block most signals, and a spawned child inherits the
        // mask: a tmux server started that way ignores kill-server and outlives the test,
        // and the binary under test would not see SIGINT. The child starts with an empty
        // mask and default handlers instead.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var emptySet = sigset_t()
        sigemptyset(&emptySet)
        var allSignals = sigset_t()
        sigfillset(&allSignals)
        posix_spawnattr_setsigmask(&attributes, &emptySet)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)
        posix_spawnattr_setflags(
            &attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let argv = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let status = posix_spawnp(&pid, arguments[0], &actions, &attributes, argv, environ)
        guard status == 0 else {
            throw TmuxError(
                description: "cannot start \(arguments[0]): \(String(cString: strerror(status)))")
        }
        var exitStatus: Int32 = 0
        while waitpid(pid, &exitStatus, 0) == -1 && errno == EINTR {}
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

    /// Polls the screen until `condition` is true or `timeout` seconds pass, and returns the
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

    /// Waits for the shell to print `NAME=` and an exit status, as `echo "NAME=$?"` does.
    /// The typed command line contains `NAME=$?` too, and a long one can wrap so that this
    /// text starts a row. Only a digit after the `=` marks the status.
    func waitForStatus(_ name: String, timeout: Double = 20) throws -> [String] {
        try waitFor(timeout: timeout) { lines in
            lines.contains { $0.range(of: "\(name)=[0-9]", options: .regularExpression) != nil }
        }
    }
}

struct TmuxError: Error, CustomStringConvertible {
    var description: String
}
