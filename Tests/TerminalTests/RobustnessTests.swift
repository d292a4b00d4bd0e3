import Foundation
import Testing

/// Terminal situations that break TUIs elsewhere: resize storms, tiny windows, other
/// terminal types, and signals. After each, the shell's `stty -g` must be unchanged.
@Suite(.serialized)
struct RobustnessTests {
    /// Runs the binary in a fresh tmux shell with `prefix` before the command (such as
    /// `TERM=vt100`), saving `stty -g` before and after, and returns the session and the
    /// two file paths.
    static func start(
        _ tmux: Tmux, prefix: String = "", arguments: String = "--model resnet8 --threads 2"
    ) throws -> (before: String, after: String) {
        let base =
            NSTemporaryDirectory()
            + "resnet-tui-robust-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let before = base + ".before"
        let after = base + ".after"
        try tmux.type(
            "stty -g > \(before); \(prefix) \(Tmux.binary) \(arguments); echo \"EXIT=$?\"; "
                + "stty -g > \(after)")
        return (before, after)
    }

    static func exitLine(_ tmux: Tmux) throws -> [String] {
        try tmux.waitForStatus("EXIT")
    }

    static func expectSameTerminal(before: String, after: String, _ tmux: Tmux) throws {
        _ = try tmux.waitFor { _ in FileManager.default.fileExists(atPath: after) }
        let first = try String(contentsOfFile: before, encoding: .utf8)
        let second = try String(contentsOfFile: after, encoding: .utf8)
        #expect(first == second, "stty settings changed")
        try? FileManager.default.removeItem(atPath: before)
        try? FileManager.default.removeItem(atPath: after)
    }

    @Test func resizeStormWhileTraining() throws {
        let tmux = try Tmux(width: 120, height: 40)
        let (before, after) = try Self.start(tmux)
        _ = try tmux.waitFor(text: "network")
        try tmux.keys("Space")
        let sizes = [(160, 50), (80, 24), (40, 12), (1, 1), (200, 60), (60, 16), (120, 40)]
        for round in 0..<200 {
            let (width, height) = sizes[round % sizes.count]
            try tmux.resize(width: width, height: height)
        }
        try tmux.resize(width: 120, height: 40)
        // Redrawn at the final size without a key press.
        let screen = try tmux.waitFor {
            $0.contains { $0.contains("network") } && $0.contains { $0.contains("RUNNING") }
        }
        #expect(screen.contains { $0.contains("RUNNING") }, "\(screen.joined(separator: "\n"))")
        try tmux.keys("q")
        let exit = try Self.exitLine(tmux)
        #expect(exit.contains { $0.contains("EXIT=0") }, "\(exit.joined(separator: "\n"))")
        try Self.expectSameTerminal(before: before, after: after, tmux)
    }

    @Test func shrinkToOneCellAndBack() throws {
        let tmux = try Tmux(width: 100, height: 30)
        let (before, after) = try Self.start(tmux)
        _ = try tmux.waitFor(text: "network")
        try tmux.resize(width: 1, height: 1)
        _ = try tmux.waitFor(timeout: 2) { _ in false }
        try tmux.resize(width: 30, height: 8)
        var screen = try tmux.waitFor(text: "too small")
        #expect(screen.contains { $0.contains("too small") }, "\(screen.joined(separator: "\n"))")
        try tmux.resize(width: 100, height: 30)
        screen = try tmux.waitFor(text: "network")
        #expect(screen.contains { $0.contains("network") }, "not redrawn after growing back")
        try tmux.keys("q")
        _ = try Self.exitLine(tmux)
        try Self.expectSameTerminal(before: before, after: after, tmux)
    }

    @Test(arguments: ["xterm", "linux", "vt100"])
    func otherTerminalTypes(term: String) throws {
        let tmux = try Tmux(width: 100, height: 30)
        let (before, after) = try Self.start(tmux, prefix: "TERM=\(term)")
        var screen = try tmux.waitFor(text: "network")
        #expect(
            screen.contains { $0.contains("network") }, "\(term): \(screen.joined(separator: "\n"))"
        )
        try tmux.keys("s")
        screen = try tmux.waitFor { $0.contains { $0.contains("iter 1") } }
        #expect(screen.contains { $0.contains("iter 1") }, "\(term): step did not run")
        try tmux.keys("q")
        screen = try Self.exitLine(tmux)
        #expect(
            screen.contains { $0.contains("EXIT=0") }, "\(term): \(screen.joined(separator: "\n"))")
        try Self.expectSameTerminal(before: before, after: after, tmux)
    }

    @Test func dumbTerminalIsRejected() throws {
        let tmux = try Tmux(width: 100, height: 30)
        let (before, after) = try Self.start(tmux, prefix: "TERM=dumb")
        let screen = try Self.exitLine(tmux)
        let text = screen.joined(separator: "\n")
        #expect(text.contains("EXIT=1"), "\(text)")
        #expect(text.contains("resnet-tui train"), "the error points to train: \(text)")
        try Self.expectSameTerminal(before: before, after: after, tmux)
    }

    @Test(arguments: [("TERM", 143), ("HUP", 129), ("INT", 130), ("SEGV", 139), ("ABRT", 134)])
    func signalRestoresTerminal(signal: String, status: Int) throws {
        let tmux = try Tmux(width: 100, height: 30)
        let (before, after) = try Self.start(tmux)
        _ = try tmux.waitFor(text: "network")
        try tmux.keys("Space")
        _ = try tmux.waitFor(text: "RUNNING")
        try tmux.type("")
        // The binary is the only child of this test's shell. Signalling by the shell's pid
        // leaves the binaries of tests running beside this one alone.
        let shell = try tmux.run("display-message", "-p", "-t", "main", "#{pane_pid}")
            .trimmingCharacters(in: .whitespacesAndNewlines)
        _ = try Tmux.spawn(["pkill", "-\(signal)", "-P", shell])
        let screen = try Self.exitLine(tmux)
        #expect(
            screen.contains { $0.contains("EXIT=\(status)") },
            "SIG\(signal): \(screen.joined(separator: "\n"))")
        try Self.expectSameTerminal(before: before, after: after, tmux)
        // The cursor is visible again: tmux reports cursor_flag 1.
        let cursor = try tmux.run("display-message", "-p", "-t", "main", "#{cursor_flag}")
        #expect(cursor.trimmingCharacters(in: .whitespacesAndNewlines) == "1", "cursor hidden")
        let alternate = try tmux.run("display-message", "-p", "-t", "main", "#{alternate_on}")
        #expect(
            alternate.trimmingCharacters(in: .whitespacesAndNewlines) == "0",
            "alternate screen still on")
    }

    @Test func suspendAndResume() throws {
        let tmux = try Tmux(width: 100, height: 30)
        // Bash goes on with the rest of a command list when a job stops, so the binary runs
        // alone here and the exit status is read after it.
        let before = NSTemporaryDirectory() + "resnet-tui-suspend-\(getpid()).before"
        let after = NSTemporaryDirectory() + "resnet-tui-suspend-\(getpid()).after"
        try tmux.type("stty -g > \(before)")
        try tmux.type("\(Tmux.binary) --model resnet8 --threads 2")
        _ = try tmux.waitFor(text: "network")
        try tmux.keys("C-z")
        var screen = try tmux.waitFor(text: "Stopped")
        #expect(screen.contains { $0.contains("Stopped") }, "\(screen.joined(separator: "\n"))")
        try tmux.type("fg")
        screen = try tmux.waitFor(text: "network")
        #expect(screen.contains { $0.contains("network") }, "not repainted after fg")
        try tmux.keys("s")
        screen = try tmux.waitFor { $0.contains { $0.contains("iter 1") } }
        #expect(screen.contains { $0.contains("iter 1") }, "keys do not work after fg")
        try tmux.keys("q")
        // Typed too early, the next command would reach the UI as keys.
        _ = try tmux.waitFor { !$0.contains { $0.contains("network") } }
        try tmux.type("echo \"EXIT=$?\"; stty -g > \(after)")
        screen = try Self.exitLine(tmux)
        #expect(screen.contains { $0.contains("EXIT=0") }, "\(screen.joined(separator: "\n"))")
        try Self.expectSameTerminal(before: before, after: after, tmux)
    }

    /// The UI thread never waits for the engine: while a long iteration computes, `?` opens
    /// the help and Esc closes it before the iteration ends. Nothing is timed; the check is
    /// that the status line still shows the iteration under way.
    @Test func keysAnswerWhileIterationComputes() throws {
        let tmux = try Tmux(width: 120, height: 40)
        let (before, after) = try Self.start(
            tmux, arguments: "--model resnet56 --batch 256 --threads 2")
        _ = try tmux.waitFor(text: "network")
        try tmux.keys("s")
        _ = try tmux.waitFor(text: "fwd")
        try tmux.keys("?")
        var screen = try tmux.waitFor(text: "keys (? or Esc closes)")
        #expect(screen.contains { $0.contains("keys (? or Esc closes)") }, "help did not open")
        #expect(
            screen.contains { $0.contains("iter 0 done") },
            "the iteration ended first, so this proves nothing:\n\(screen.joined(separator: "\n"))")
        try tmux.keys("Escape")
        screen = try tmux.waitFor { !$0.contains { $0.contains("keys (? or Esc closes)") } }
        #expect(!screen.contains { $0.contains("keys (? or Esc closes)") }, "help did not close")
        try tmux.keys("q")
        screen = try Self.exitLine(tmux)
        #expect(screen.contains { $0.contains("EXIT=0") }, "\(screen.joined(separator: "\n"))")
        try Self.expectSameTerminal(before: before, after: after, tmux)
    }

    /// Ctrl-S stops the terminal from reading the program's output, so its writes block;
    /// Ctrl-Q lets them through again, and the UI must carry on and quit cleanly.
    @Test func outputPausedAndResumed() throws {
        let tmux = try Tmux(width: 100, height: 30)
        let (before, after) = try Self.start(tmux)
        _ = try tmux.waitFor(text: "network")
        try tmux.keys("Space")
        _ = try tmux.waitFor(text: "RUNNING")
        try tmux.keys("C-s")
        usleep(1_500_000)
        try tmux.keys("C-q")
        try tmux.keys("Space")
        var screen = try tmux.waitFor(text: "PAUSED")
        #expect(screen.contains { $0.contains("PAUSED") }, "\(screen.joined(separator: "\n"))")
        try tmux.keys("q")
        screen = try Self.exitLine(tmux)
        #expect(screen.contains { $0.contains("EXIT=0") }, "\(screen.joined(separator: "\n"))")
        try Self.expectSameTerminal(before: before, after: after, tmux)
    }

    @Test func standardOutputClosed() throws {
        let tmux = try Tmux(width: 100, height: 30)
        let (before, after) = try Self.start(tmux, arguments: "--model resnet8 >&-")
        let screen = try Self.exitLine(tmux)
        let text = screen.joined(separator: "\n")
        #expect(text.contains("EXIT=1"), "\(text)")
        #expect(text.contains("resnet-tui train"), "\(text)")
        try Self.expectSameTerminal(before: before, after: after, tmux)
    }

    @Test func standardInputNotTerminal() throws {
        let output = try Tmux.spawn(["sh", "-c", "echo | \(Tmux.binary); echo EXIT=$?"])
        #expect(output.contains("EXIT=1"), "\(output)")
        #expect(output.contains("resnet-tui train"), "\(output)")
    }
}
