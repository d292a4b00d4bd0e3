import Foundation
import Testing

/// Presses every key the help overlay lists, in the real binary inside tmux, and checks
/// the screen for what each key's help line promises.
@Suite(.serialized)
struct KeyTourTests {
    /// Sends `keys` and waits until the screen contains `text`; records a failure naming the
    /// key and showing the screen when it never does.
    static func press(
        _ tmux: Tmux, _ keys: [String], expect text: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        try tmux.run(["send-keys", "-t", "main"] + keys)
        let screen = try tmux.waitFor(text: text)
        #expect(
            screen.contains { $0.contains(text) },
            "after \(keys.joined(separator: " ")): no '\(text)'\n\(screen.joined(separator: "\n"))",
            sourceLocation: sourceLocation)
    }

    @Test func everyHelpKeyActs() throws {
        let tmux = try Tmux(width: 150, height: 50)
        let checkpoint = NSTemporaryDirectory() + "resnet-tui-keys-\(getpid()).safetensors"
        defer { try? FileManager.default.removeItem(atPath: checkpoint) }
        try tmux.type(
            "\(Tmux.binary) --model resnet8 --threads 2 --save \(checkpoint); echo \"EXIT=$?\"")
        _ = try tmux.waitFor(text: "network")

        // resnet8 has 6 layers: 1 load + 6 forward + loss + 6 backward + update = 15 phases.
        try Self.press(tmux, ["f"], expect: "phase 8/15 loss")
        try Self.press(tmux, ["b"], expect: "phase 14/15 ◀ bwd stem")
        try Self.press(tmux, ["x"], expect: "now vs x = layer1.0 skip off")
        try Self.press(tmux, ["g"], expect: "gradcheck layer1.0: worst relative error")
        try Self.press(tmux, ["s"], expect: "iter 1 done")
        try Self.press(tmux, ["Right"], expect: "phase 1/15 load batch")
        try Self.press(tmux, ["n"], expect: "▶ fwd stem")
        try Self.press(tmux, ["+"], expect: "lr 0.1 ")
        try Self.press(tmux, ["-", "-"], expect: "lr 0.025")
        try Self.press(tmux, ["j"], expect: "▸ layer2.0")
        try Self.press(tmux, ["Down"], expect: "▸ layer3.0")
        try Self.press(tmux, ["k"], expect: "▸ layer2.0")
        try Self.press(tmux, ["Up"], expect: "▸ layer1.0")
        try Self.press(tmux, ["t"], expect: "skip changes apply when the next iteration starts")
        try Self.press(tmux, ["T"], expect: "proj ○")
        // The heat maps need the selected block's output of this iteration.
        try Self.press(tmux, ["f"], expect: "phase 8/15 loss")
        try Self.press(tmux, ["Tab"], expect: "feature map (Tab)")
        try Self.press(tmux, ["]"], expect: "channel 2/16")
        try Self.press(tmux, ["["], expect: "channel 1/16")
        try Self.press(tmux, ["}"], expect: "sample 2/32")
        try Self.press(tmux, ["{"], expect: "sample 1/32")
        try Self.press(tmux, ["Tab"], expect: "input image (Tab)")
        try Self.press(tmux, ["Tab"], expect: "formulas of the current layer (Tab)")
        try Self.press(tmux, ["Tab"], expect: "iter 1–1 · |dL/dx|")
        try Self.press(tmux, ["Tab"], expect: "statistics (Tab)")
        try Self.press(tmux, ["c"], expect: "A vs B")
        try Self.press(tmux, ["s"], expect: "A ─ ")
        try Self.press(tmux, ["c"], expect: "compare mode off")
        try Self.press(tmux, ["r"], expect: "weights and data order reset from seed 0")
        try Self.press(tmux, ["w"], expect: "saved \(checkpoint) after iteration 0")
        #expect(FileManager.default.fileExists(atPath: checkpoint), "w wrote no file")
        try Self.press(tmux, ["l"], expect: "phase 1/15 load batch")
        try Self.press(tmux, ["Space"], expect: "RUNNING")
        try Self.press(tmux, ["Space"], expect: "PAUSED")
        try Self.press(tmux, ["?"], expect: "keys (? or Esc closes)")
        try tmux.keys("Escape")
        let closed = try tmux.waitFor { !$0.contains { $0.contains("keys (? or Esc closes)") } }
        #expect(!closed.contains { $0.contains("keys (? or Esc closes)") }, "Esc left help open")
        try tmux.keys("q")
        let screen = try tmux.waitForStatus("EXIT")
        #expect(screen.contains { $0.contains("EXIT=0") }, "\(screen.joined(separator: "\n"))")
    }

    /// A deep plain network's first iteration explodes toward the input; the strip marks
    /// the first block and the status line names it.
    @Test func depthStripRaisesExplodingAlarm() throws {
        let tmux = try Tmux(width: 120, height: 40)
        try tmux.type("\(Tmux.binary) --model plain56 --threads 2; echo \"EXIT=$?\"")
        _ = try tmux.waitFor(text: "network")
        try Self.press(tmux, ["Tab", "Tab", "Tab", "Tab"], expect: "depth × time")
        try Self.press(tmux, ["s"], expect: "alarm: exploding gradient at layer1.0")
        try Self.press(tmux, ["s"], expect: "iter 2 done")
        let screen = try tmux.waitFor(text: "iter 1–2")
        #expect(
            screen.contains { $0.contains("│  layer3.8") }, "\(screen.joined(separator: "\n"))")
        try tmux.keys("q")
        let exit = try tmux.waitForStatus("EXIT")
        #expect(exit.contains { $0.contains("EXIT=0") }, "\(exit.joined(separator: "\n"))")
    }

    /// At 80x24 Tab shows each detail view in the network list's place, and Tab on the last
    /// view brings the list back.
    @Test func narrowTabCyclesDetailViews() throws {
        let tmux = try Tmux(width: 80, height: 24)
        try tmux.type("\(Tmux.binary) --model resnet8 --threads 2; echo \"EXIT=$?\"")
        _ = try tmux.waitFor(text: "┌ network")
        try Self.press(tmux, ["s"], expect: "iter 1 done")
        // The heat maps need the selected block's output of this iteration.
        try Self.press(tmux, ["f"], expect: "phase 8/15 loss")
        try Self.press(
            tmux, ["Tab"], expect: "statistics of layer1.0 · view 1/5 · Tab: feature map")
        let statistics = try tmux.screen()
        #expect(
            !statistics.contains { $0.contains("┌ network") },
            "network list still drawn\n\(statistics.joined(separator: "\n"))")
        #expect(
            statistics.contains { $0.contains("output  mean") },
            "\(statistics.joined(separator: "\n"))")
        try Self.press(tmux, ["Tab"], expect: "feature map of layer1.0 · view 2/5")
        try Self.press(tmux, ["]"], expect: "channel 2/16")
        try Self.press(tmux, ["Tab"], expect: "input image · view 3/5 · Tab: formulas")
        try Self.press(tmux, ["Tab"], expect: "formulas of the current layer · view 4/5")
        try Self.press(tmux, ["n"], expect: "phase 9/15 ◀ bwd fc")
        try Self.press(tmux, ["n", "n"], expect: "|S^T(g)| = ")
        try Self.press(
            tmux, ["Tab"], expect: "depth × time · view 5/5 · Tab: back to the network list")
        try Self.press(tmux, ["Tab"], expect: "┌ network")
        let back = try tmux.screen()
        #expect(
            !back.contains { $0.contains("view 5/5") }, "\(back.joined(separator: "\n"))")
        let widest = back.map(\.count).max() ?? 0
        #expect(widest <= 80, "a line is \(widest) wide")
        try tmux.keys("q")
        let exit = try tmux.waitForStatus("EXIT")
        #expect(exit.contains { $0.contains("EXIT=0") }, "\(exit.joined(separator: "\n"))")
    }

    @Test func resizeThroughSizesAndBack() throws {
        let tmux = try Tmux(width: 160, height: 50)
        try tmux.type("\(Tmux.binary) --model resnet8 --threads 2; echo \"EXIT=$?\"")
        _ = try tmux.waitFor(text: "network")
        for (width, height, text) in [
            (80, 24, "network"), (40, 12, "too small"), (160, 50, "network"),
        ] {
            try tmux.resize(width: width, height: height)
            let screen = try tmux.waitFor(text: text)
            #expect(
                screen.contains { $0.contains(text) },
                "\(width)x\(height): \(screen.joined(separator: "\n"))")
            let widest = screen.map(\.count).max() ?? 0
            #expect(widest <= width, "\(width)x\(height): a line is \(widest) wide")
        }
        try tmux.keys("q")
        let screen = try tmux.waitForStatus("EXIT")
        #expect(screen.contains { $0.contains("EXIT=0") }, "\(screen.joined(separator: "\n"))")
    }
}
