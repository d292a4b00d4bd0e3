import Foundation
import Testing

/// Drives the release binary in a real terminal (tmux) as a user would: stepping moves the
/// stepper's marker, `t` turns a block's skip off and its skip-path norm with it, and `q`
/// leaves the terminal settings as they were.
@Suite(.serialized)
struct SteppingTests {
    /// The first number in scientific notation on the gradient-panel line of `block`'s
    /// skip path, or "off" when the panel shows the skip as off.
    static func skipNorm(of block: String, in lines: [String]) -> String? {
        guard let line = lines.first(where: { $0.contains("\(block) skip") }) else { return nil }
        let segment = line.components(separatedBy: "\(block) skip").last ?? ""
        if segment.trimmingCharacters(in: .whitespaces).hasPrefix("off") { return "off" }
        let tokens = segment.split(whereSeparator: { " │".contains($0) })
        return tokens.last { $0.contains("e-") || $0.contains("e+") }.map(String.init)
    }

    @Test func steppingTogglingAndQuit() throws {
        #expect(
            FileManager.default.isExecutableFile(atPath: Tmux.binary),
            "missing \(Tmux.binary): run `swift build -c release` first")
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("resnet-tui-terminal-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let before = directory.appendingPathComponent("stty-before").path
        let after = directory.appendingPathComponent("stty-after").path

        let tmux = try Tmux(width: 120, height: 40)
        try tmux.type(
            "stty -g > \(before); \(Tmux.binary) --model resnet8 --threads 2; "
                + "echo \"EXIT=$?\"; stty -g > \(after)")
        var screen = try tmux.waitFor(text: "network")
        #expect(screen.contains { $0.contains("layer1.0") }, "\(screen.joined(separator: "\n"))")

        // Load the batch, then the stem, then the first block.
        try tmux.keys("n", "n")
        screen = try tmux.waitFor { $0.contains { $0.contains("▶stem") } }
        #expect(screen.contains { $0.contains("▶stem") }, "marker not on the stem row")
        try tmux.keys("n")
        screen = try tmux.waitFor { $0.contains { $0.contains("▶layer1.0") } }
        #expect(screen.contains { $0.contains("▶layer1.0") }, "marker did not move to layer1.0")
        #expect(!screen.contains { $0.contains("▶stem") }, "marker still on the stem row")

        // Finish the iteration: every block's skip-path norm appears.
        try tmux.keys("s")
        screen = try tmux.waitFor { Self.skipNorm(of: "layer2.0", in: $0) != nil }
        let skipOn = Self.skipNorm(of: "layer2.0", in: screen)
        #expect(
            skipOn != nil && skipOn != "off",
            "layer2.0 skip norm missing: \(screen.joined(separator: "\n"))")

        // Select layer2.0 (the second block) and turn its skip off.
        try tmux.keys("j", "t")
        screen = try tmux.waitFor { $0.contains { $0.contains("layer2.0") && $0.contains("○") } }
        #expect(
            screen.contains { $0.contains("layer2.0") && $0.contains("○") },
            "layer2.0 does not show its skip as off: \(screen.joined(separator: "\n"))")
        try tmux.keys("s")
        screen = try tmux.waitFor { $0.contains { $0.contains("iter 2") } }
        #expect(
            Self.skipNorm(of: "layer2.0", in: screen) == "off",
            "skip norm of layer2.0 after toggling: \(screen.joined(separator: "\n"))")
        #expect(
            screen.contains { $0.contains("iter 2") },
            "second iteration did not finish: \(screen.joined(separator: "\n"))")

        try tmux.keys("q")
        screen = try tmux.waitForStatus("EXIT")
        #expect(screen.contains { $0.contains("EXIT=0") }, "\(screen.joined(separator: "\n"))")
        #expect(!screen.contains { $0.contains("network") }, "the UI is still on the screen")
        _ = try tmux.waitFor { _ in FileManager.default.fileExists(atPath: after) }
        let sttyBefore = try String(contentsOfFile: before, encoding: .utf8)
        let sttyAfter = try String(contentsOfFile: after, encoding: .utf8)
        #expect(sttyBefore == sttyAfter, "terminal settings changed")
    }

    /// Outside a UTF-8 locale the UI must draw only ASCII, or the terminal would show
    /// mojibake and lines of the wrong width.
    @Test func asciiOutsideUtf8Locale() throws {
        let tmux = try Tmux(width: 100, height: 30)
        try tmux.type("LC_ALL=C \(Tmux.binary) --model resnet8 --threads 2; echo \"EXIT=$?\"")
        var screen = try tmux.waitFor(text: "network")
        try tmux.keys("s", "s")
        screen = try tmux.waitFor { $0.contains { $0.contains("iter 2") } }
        #expect(screen.contains { $0.contains("iter 2") }, "\(screen.joined(separator: "\n"))")
        let ui = screen.filter { !$0.isEmpty }
        for (row, line) in ui.enumerated() {
            #expect(line.allSatisfy { $0.isASCII }, "row \(row) is not ASCII: \(line)")
        }
        #expect(screen.contains { $0.hasPrefix("+ network") }, "box corners are not ASCII")
        try tmux.keys("q")
        screen = try tmux.waitForStatus("EXIT")
        #expect(screen.contains { $0.contains("EXIT=0") }, "\(screen.joined(separator: "\n"))")
    }

    /// A left click on a block's row selects it, as the terminal reports the click in the
    /// SGR mouse format that xterm-256color's terminfo entry names.
    @Test func mouseClickSelectsBlock() throws {
        let tmux = try Tmux(width: 120, height: 40)
        try tmux.type("\(Tmux.binary) --model resnet20 --threads 2; echo \"EXIT=$?\"")
        var screen = try tmux.waitFor(text: "network")
        let row = try #require(screen.firstIndex { $0.contains("layer2.1") && $0.contains("skip") })
        // SGR coordinates count from 1: press and release of button 1 at column 10.
        try tmux.run(
            "send-keys", "-t", "main", "-l", "\u{1B}[<0;10;\(row + 1)M\u{1B}[<0;10;\(row + 1)m")
        screen = try tmux.waitFor { $0.contains { $0.contains("▸ layer2.1") } }
        #expect(screen.contains { $0.contains("▸ layer2.1") }, "\(screen.joined(separator: "\n"))")
        try tmux.keys("q")
        screen = try tmux.waitForStatus("EXIT")
        #expect(screen.contains { $0.contains("EXIT=0") }, "\(screen.joined(separator: "\n"))")
    }
}
