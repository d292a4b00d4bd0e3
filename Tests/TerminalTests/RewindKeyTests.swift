import Foundation
import Testing

/// Drives rewind (`u`, Left), what-if (`x`), gradcheck (`g`), the formulas view and a
/// recorded session in the release binary under tmux, reading what the screen shows.
/// The command lines start with `--threads`, because a robustness test signals every
/// process whose command line starts with the binary and `--model resnet8`.
@Suite(.serialized)
struct RewindKeyTests {
    /// Returns the number after "last " in the loss panel's summary: the last finished
    /// iteration's loss, printed with three decimals.
    static func lastLoss(in lines: [String]) -> String? {
        guard let line = lines.first(where: { $0.contains("last ") }) else { return nil }
        let tail = line.components(separatedBy: "last ").last ?? ""
        return tail.split(separator: " ").first.map(String.init)
    }

    static func text(_ lines: [String]) -> String { "\n" + lines.joined(separator: "\n") }

    /// Returns whether every one of `texts` is on some line of the screen.
    static func shows(_ texts: [String], _ lines: [String]) -> Bool {
        texts.allSatisfy { text in lines.contains { $0.contains(text) } }
    }

    static func makeDirectory(_ name: String) throws -> URL {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("resnet-tui-\(name)-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return directory
    }

    @Test func rewindReplaysAndSessionFileMatches() throws {
        let directory = try Self.makeDirectory("rewind")
        defer { try? FileManager.default.removeItem(at: directory) }
        let record = directory.appendingPathComponent("session.jsonl").path
        let tmux = try Tmux(width: 140, height: 44)
        try tmux.type(
            "\(Tmux.binary) --threads 2 --model resnet8 --seed 7 --record \(record); "
                + "echo \"EXIT=$?\"")
        var screen = try tmux.waitFor(text: "network")

        try tmux.keys("s")
        screen = try tmux.waitFor(text: "iter 1 done")
        try tmux.keys("s")
        screen = try tmux.waitFor(text: "iter 2 done")
        let secondLoss = try #require(Self.lastLoss(in: screen), "\(Self.text(screen))")
        try tmux.keys("s")
        screen = try tmux.waitFor(text: "iter 3 done")
        #expect(screen.contains { $0.contains("rewind 3/16") }, "\(Self.text(screen))")

        try tmux.keys("u")
        screen = try tmux.waitFor(text: "rewound to iteration 2 (2 more available)")
        #expect(screen.contains { $0.contains("iter 2 done") }, "\(Self.text(screen))")
        #expect(Self.lastLoss(in: screen) == secondLoss, "\(Self.text(screen))")
        try tmux.keys("Left")
        screen = try tmux.waitFor(text: "rewound to iteration 1 (1 more available)")
        #expect(screen.contains { $0.contains("iter 1 done") }, "\(Self.text(screen))")

        // Running on replays iteration 2: the same loss as the first time.
        try tmux.keys("s")
        screen = try tmux.waitFor(text: "iter 2 done")
        #expect(Self.lastLoss(in: screen) == secondLoss, "\(Self.text(screen))")

        // Left in the middle of an iteration only explains itself: the run stays after the
        // loaded batch.
        try tmux.keys("n", "Left")
        screen = try tmux.waitFor(text: "Left steps back only at an iteration boundary")
        #expect(screen.contains { $0.contains("iter 2 done") }, "\(Self.text(screen))")
        #expect(screen.contains { $0.contains("phase 1/15") }, "\(Self.text(screen))")

        // Toggles and learning-rate changes that the session file must carry.
        try tmux.keys("s", "t", "+", "+", "s", "j", "t", "s", "-", "u", "s")
        screen = try tmux.waitFor { lines in
            lines.contains { $0.contains("iter 5 done") }
                && lines.contains { $0.contains("lr 0.2") }
        }
        // The rewind undid the learning-rate change made after iteration 5: 0.05 doubled
        // twice.
        #expect(screen.contains { $0.contains("lr 0.2 ") }, "\(Self.text(screen))")
        try tmux.keys("q")
        screen = try tmux.waitForStatus("EXIT")
        #expect(screen.contains { $0.contains("EXIT=0") }, "\(Self.text(screen))")

        let contents = try String(contentsOfFile: record, encoding: .utf8)
        #expect(contents.contains(#""command":"toggle-skip""#), "\(contents)")
        #expect(contents.contains(#""command":"scale-lr""#), "\(contents)")
        #expect(contents.contains(#""command":"rewind""#), "\(contents)")
        #expect(contents.contains(#""type":"end""#), "\(contents)")

        try tmux.type("clear; \(Tmux.binary) replay \(record) --threads 1; echo \"REPLAY=$?\"")
        screen = try tmux.waitForStatus("REPLAY", timeout: 60)
        #expect(screen.contains { $0.contains("REPLAY=0") }, "\(Self.text(screen))")
        let checksumLine = screen.first { $0.contains("weights checksum") } ?? ""
        #expect(checksumLine.hasSuffix("match"), "\(Self.text(screen))")

        let recorded = contents.components(separatedBy: #""checksum":""#).last?.prefix(16)
        #expect(
            checksumLine.hasPrefix("weights checksum \(recorded ?? "missing"), recorded"),
            "\(checksumLine) against the file's \(recorded ?? "missing")")

        // The UI rebuilds the same session and opens where the recording ended.
        try tmux.type(
            "clear; \(Tmux.binary) --threads 2 --replay \(record); echo \"UIREPLAY=$?\"")
        screen = try tmux.waitFor(text: "weights match the recording", timeout: 60)
        #expect(screen.contains { $0.contains("iter 5 done") }, "\(Self.text(screen))")
        #expect(screen.contains { $0.contains("lr 0.2 ") }, "\(Self.text(screen))")
        try tmux.keys("q")
        screen = try tmux.waitForStatus("UIREPLAY")
        #expect(screen.contains { $0.contains("UIREPLAY=0") }, "\(Self.text(screen))")

        // The file fixes the model; another one on the command line is an error.
        try tmux.type("clear; \(Tmux.binary) --replay \(record) --model resnet20; echo \"BAD=$?\"")
        screen = try tmux.waitForStatus("BAD")
        #expect(screen.contains { $0.contains("drop --model") }, "\(Self.text(screen))")
        #expect(!screen.contains { $0.contains("BAD=0") }, "\(Self.text(screen))")
    }

    @Test func whatIfGradcheckAndFormulas() throws {
        let tmux = try Tmux(width: 140, height: 44)
        try tmux.type("\(Tmux.binary) --threads 2 --model resnet8; echo \"EXIT=$?\"")
        var screen = try tmux.waitFor(text: "network")

        try tmux.keys("x")
        screen = try tmux.waitFor(text: "x needs a finished backward pass")
        try tmux.keys("b")
        screen = try tmux.waitFor(text: "phase 14/15")
        try tmux.keys("x")
        screen = try tmux.waitFor(text: "what-if: layer1.0 with its skip off")
        #expect(
            screen.contains { $0.contains("what-if: layer1.0 with its skip off") },
            "\(Self.text(screen))")

        try tmux.keys("g")
        screen = try tmux.waitFor(text: "gradcheck layer1.0: worst relative error")
        let gradcheck = screen.first { $0.contains("gradcheck layer1.0") } ?? ""
        #expect(gradcheck.contains("passed"), "\(Self.text(screen))")

        // The formulas view follows the stepper: the stem, then the first block.
        try tmux.keys("s", "Tab", "Tab", "Tab")
        screen = try tmux.waitFor(text: "formulas of the current layer")
        try tmux.keys("n", "n")
        screen = try tmux.waitFor { Self.shows(["phase 2/15", "y = relu(BN(W * x))"], $0) }
        #expect(screen.contains { $0.contains("W 16×1×3×3 |W| ") }, "\(Self.text(screen))")
        try tmux.keys("n")
        screen = try tmux.waitFor { Self.shows(["phase 3/15", "y1 = relu(BN1(W1 * x))"], $0) }
        #expect(screen.contains { $0.contains("F(x) = BN2(W2 * y1)") }, "\(Self.text(screen))")
        #expect(
            !screen.contains { $0.contains("|dL/dW1|") },
            "a weight gradient shows before the backward pass: \(Self.text(screen))")
        let firstStats = screen.first { $0.contains("O: mean") }
        #expect(firstStats != nil, "\(Self.text(screen))")

        // The same layer in the next iteration shows the statistics of a new batch.
        try tmux.keys("s", "n", "n", "n")
        screen = try tmux.waitFor { Self.shows(["iter 2 done", "phase 3/15", "O: mean"], $0) }
        let secondStats = screen.first { $0.contains("O: mean") }
        #expect(secondStats != nil, "\(Self.text(screen))")
        #expect(secondStats != firstStats, "the next batch left O as it was")

        // The loss, the pooling layer's 1/N and the first block's weight gradients.
        try tmux.keys("f")
        screen = try tmux.waitFor(text: "(S - y, averaged over the batch)")
        #expect(screen.contains { $0.contains("|dL/dz| ") }, "\(Self.text(screen))")
        try tmux.keys("n", "n")
        screen = try tmux.waitFor(text: "N = 49 positions")
        #expect(
            screen.contains { $0.contains("|dL/dO| = |dL/dh| / sqrt(N) = |dL/dh| / 7") },
            "\(Self.text(screen))")
        try tmux.keys("n", "n", "n")
        screen = try tmux.waitFor { Self.shows(["phase 13/15", "layer1.0: "], $0) }
        #expect(screen.contains { $0.contains("|dL/dW1| ") }, "\(Self.text(screen))")
        #expect(screen.contains { $0.contains("|dL/dW2| ") }, "\(Self.text(screen))")
        #expect(screen.contains { $0.contains("|dL/dO| ") }, "\(Self.text(screen))")
        try tmux.keys("q")
        screen = try tmux.waitForStatus("EXIT")
        #expect(screen.contains { $0.contains("EXIT=0") }, "\(Self.text(screen))")
    }
}
