import Foundation
import Testing
import Training

struct ExperimentVerdictTests {
    /// 100 losses falling from `start` toward `end`, with an alternating wiggle of `noise`.
    static func losses(from start: Double, to end: Double, noise: Double = 0.02) -> [Double] {
        (0..<100).map { step in
            end + (start - end) * exp(-Double(step) / 15) + (step % 2 == 0 ? noise : -noise)
        }
    }

    static func history(_ label: String, _ losses: [Double], diverged: Int? = nil)
        -> RunHistory
    {
        RunHistory(
            label: label, losses: losses, divergedAtStep: diverged,
            blockNames: ["layer1.0", "layer2.0", "layer3.0"],
            gradientSamples: losses.indices.map {
                GradientSample(step: $0 + 1, norms: [2, 1.5, 1])
            })
    }

    static let plainVersusResidual = Experiment.named("plain-vs-residual")!

    @Test func patternReproduced() {
        let verdict = VerdictRules.judge(
            Self.plainVersusResidual,
            histories: [
                Self.history("plain8", Self.losses(from: 2.3, to: 1.0)),
                Self.history("plain20", Self.losses(from: 2.3, to: 1.5)),
                Self.history("resnet8", Self.losses(from: 2.3, to: 0.9)),
                Self.history("resnet20", Self.losses(from: 2.3, to: 0.7)),
            ])
        #expect(verdict.reproduced == true)
        #expect(verdict.summary.hasPrefix("reproduced: plain20 1.5 > plain8 1"))
    }

    @Test func patternNotReproduced() {
        // The deeper plain net ends level with the shallower one, within the wiggle.
        let verdict = VerdictRules.judge(
            Self.plainVersusResidual,
            histories: [
                Self.history("plain8", Self.losses(from: 2.3, to: 1.0)),
                Self.history("plain20", Self.losses(from: 2.3, to: 1.005)),
                Self.history("resnet8", Self.losses(from: 2.3, to: 0.9)),
                Self.history("resnet20", Self.losses(from: 2.3, to: 0.7)),
            ])
        #expect(verdict.reproduced == false)
        #expect(verdict.summary.hasPrefix("not reproduced: plain20 1.01 ~ plain8 1;"))
        #expect(verdict.comparisonLines[0].hasSuffix("NOT as expected"))
        #expect(verdict.comparisonLines[1].hasSuffix("as expected"))
    }

    @Test func deeperResidualHigherNotReproduced() {
        let verdict = VerdictRules.judge(
            Self.plainVersusResidual,
            histories: [
                Self.history("plain8", Self.losses(from: 2.3, to: 1.0)),
                Self.history("plain20", Self.losses(from: 2.3, to: 1.5)),
                Self.history("resnet8", Self.losses(from: 2.3, to: 0.7)),
                Self.history("resnet20", Self.losses(from: 2.3, to: 0.9)),
            ])
        #expect(verdict.reproduced == false)
        #expect(verdict.summary.contains("resnet20 0.903 > resnet8 0.703"))
    }

    @Test func divergedRunCountsHigher() {
        let comparison = ExperimentComparison(first: 0, second: 1, expectation: .higher)
        let verdict = VerdictRules.judge(
            comparisons: [comparison],
            histories: [
                Self.history("bn", Self.losses(from: 2.3, to: 1.0)),
                Self.history(
                    "no-bn", Array(Self.losses(from: 2.3, to: 0.5).prefix(7)), diverged: 8),
            ])
        #expect(verdict.reproduced == true)
        #expect(verdict.findings[1].divergedAtStep == 8)
        #expect(verdict.comparisonLines[0].contains("diverged, while bn did not"))
    }

    @Test func stalledRunDetected() {
        let findings = VerdictRules.findings(
            of: Self.history("flat", Self.losses(from: 2.3, to: 2.25)))
        #expect(findings.stalled)
        let moving = VerdictRules.findings(
            of: Self.history("moving", Self.losses(from: 2.3, to: 1.0)))
        #expect(!moving.stalled)
    }

    @Test func vanishedGradientNamed() {
        var history = Self.history("deep", Self.losses(from: 2.3, to: 2.0))
        history.gradientSamples = (1...100).map {
            GradientSample(step: $0, norms: [1e-5, 1e-2, 1])
        }
        let verdict = VerdictRules.judge(comparisons: [], histories: [history])
        let extreme = verdict.findings[0].firstExtreme
        #expect(extreme?.block == "layer1.0")
        #expect(abs((extreme?.ratio ?? 0) - 1e-5) < 1e-9)
        #expect(verdict.lines[0].contains("layer1.0's input gradient is 1/1.00e+05 of the last"))
        #expect(verdict.lines[0].contains("(vanished)"))
    }

    @Test func explodedGradientNamed() {
        var history = Self.history("deep", Self.losses(from: 2.3, to: 2.0))
        history.gradientSamples = (1...100).map {
            GradientSample(step: $0, norms: [50, 5e3, 1])
        }
        let findings = VerdictRules.findings(of: history)
        #expect(findings.firstExtreme?.block == "layer2.0")
        #expect(
            VerdictRules.judge(comparisons: [], histories: [history]).lines[0]
                .contains("5000x the last block's (exploded)"))
    }

    @Test func deadGradientNamed() {
        var history = Self.history("dead", Self.losses(from: 2.3, to: 2.3))
        history.gradientSamples = (1...100).map {
            GradientSample(step: $0, norms: $0 < 50 ? [3, 2, 1] : [0, 0, 0])
        }
        let verdict = VerdictRules.judge(comparisons: [], histories: [history])
        #expect(verdict.findings[0].finalGradientZero)
        #expect(verdict.findings[0].finalExtreme == nil)
        #expect(verdict.lines[0].contains("at the end every block's input gradient is 0"))
    }

    @Test func noStepsNoVerdict() {
        let comparison = ExperimentComparison(first: 0, second: 1, expectation: .higher)
        let verdict = VerdictRules.judge(
            comparisons: [comparison],
            histories: [Self.history("a", []), Self.history("b", [])])
        #expect(verdict.reproduced == nil)
        #expect(verdict.summary == "not enough steps yet to judge")
    }
}
