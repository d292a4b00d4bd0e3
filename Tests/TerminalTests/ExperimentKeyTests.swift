import Foundation
import Testing

/// Guided experiments (`--experiment`, `e`) and the near-identity gauge (`d`) in the real
/// binary inside tmux.
@Suite(.serialized)
struct ExperimentKeyTests {
    static let smallModel = "--model resnet8 --input 1,16,16 --width 8 --threads 2"

    @Test func zeroInitExperimentAndGauge() throws {
        let tmux = try Tmux(width: 150, height: 50)
        try tmux.type("\(Tmux.binary) \(Self.smallModel) --experiment zero-init")
        _ = try tmux.waitFor(text: "experiment zero-init (A default init vs B zero-init)")
        try KeyTourTests.press(tmux, ["d"], expect: "d needs a finished forward and backward")
        try KeyTourTests.press(tmux, ["b"], expect: "phase 14/15 ◀ bwd stem")
        // resnet8's only identity-skip block is layer1.0; in B its branch starts at zero.
        try KeyTourTests.press(tmux, ["d"], expect: "; B block 1, branch 0 (identity: 1 and 0)")
        try KeyTourTests.press(tmux, ["d"], expect: "gain  block ")
        try KeyTourTests.press(tmux, ["Space"], expect: "RUNNING")
        let screen = try tmux.waitFor(text: "reproduced: ", timeout: 120)
        #expect(
            screen.contains { $0.contains("experiment zero-init") && $0.contains("reproduced: ") },
            "no verdict in the status line\n\(screen.joined(separator: "\n"))")
        // e cycles plain-vs-residual, batchnorm, zero-init and back to the first.
        try KeyTourTests.press(tmux, ["e"], expect: "experiment plain-vs-residual (A skips on")
        try KeyTourTests.press(tmux, ["e"], expect: "experiment batchnorm (A batch norm vs B no")
        try tmux.keys("q")
    }

    @Test func experimentKeyStartsPlainVersusResidual() throws {
        let tmux = try Tmux(width: 150, height: 50)
        try tmux.type("\(Tmux.binary) \(Self.smallModel)")
        _ = try tmux.waitFor(text: "network")
        try KeyTourTests.press(
            tmux, ["e"], expect: "experiment plain-vs-residual (A skips on vs B skips off)")
        try KeyTourTests.press(tmux, ["e"], expect: "experiment batchnorm")
        try tmux.keys("q")
    }

    @Test func depthExperimentRejectedInUI() throws {
        let tmux = try Tmux(width: 150, height: 50)
        try tmux.type("\(Tmux.binary) --experiment depth; echo \"EXIT=$?\"")
        let screen = try tmux.waitFor(text: "EXIT=2")
        #expect(
            screen.contains { $0.contains("EXIT=2") }, "\(screen.joined(separator: "\n"))")
        #expect(
            screen.joined().contains("run resnet-tui experiment depth"),
            "\(screen.joined(separator: "\n"))")
    }
}
