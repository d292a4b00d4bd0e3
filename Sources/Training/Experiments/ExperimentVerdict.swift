import Foundation

/// The training record of one run that a verdict reads.
public struct RunHistory: Sendable, Equatable {
    public var label: String
    /// Training loss per finished step, in order.
    public var losses: [Double]
    /// The step (counting from 1) whose loss was NaN or infinite, which ended the run.
    public var divergedAtStep: Int?
    public var blockNames: [String]
    /// Input-gradient norms of every block at some steps: every step in a headless run, the
    /// steps the UI caught in a live one.
    public var gradientSamples: [GradientSample]

    public init(
        label: String, losses: [Double], divergedAtStep: Int? = nil, blockNames: [String],
        gradientSamples: [GradientSample]
    ) {
        self.label = label
        self.losses = losses
        self.divergedAtStep = divergedAtStep
        self.blockNames = blockNames
        self.gradientSamples = gradientSamples
    }
}

/// The norm of dL/dx at every block's input in one step, first block first.
public struct GradientSample: Sendable, Equatable {
    public var step: Int
    public var norms: [Double]

    public init(step: Int, norms: [Double]) {
        self.step = step
        self.norms = norms
    }
}

/// Loss and gradient findings of one run.
public struct RunFindings: Sendable, Equatable {
    public var label: String
    /// Mean loss over the first and the last tenth of the steps (at least one step each).
    public var startLoss: Double
    public var finalLoss: Double
    /// Standard error of `finalLoss`: the standard deviation of the last tenth over the square
    /// root of its length.
    public var finalLossError: Double
    public var stalled: Bool
    public var divergedAtStep: Int?
    /// The block whose input-gradient norm is furthest from the last block's, in log scale,
    /// and that ratio, at the first sample and averaged (geometric mean) over the samples of
    /// the last tenth of the steps. Nil without samples or with a single block.
    public var firstExtreme: GradientExtreme?
    public var finalExtreme: GradientExtreme?
    /// Whether every block's input gradient was exactly 0 in every sample of the last tenth
    /// of the steps: the ReLUs are dead and the blocks no longer learn.
    public var finalGradientZero = false
}

/// A block and the norm of its input gradient divided by the last block's.
public struct GradientExtreme: Sendable, Equatable {
    public var block: String
    public var ratio: Double
}

/// The outcome of an experiment, computed from the numbers only.
public struct ExperimentVerdict: Sendable {
    public var findings: [RunFindings]
    /// One line per comparison, saying whether it came out as expected.
    public var comparisonLines: [String]
    /// True when every comparison came out as expected, false when one did not, nil when a
    /// run has no finished step yet.
    public var reproduced: Bool?
    /// One line for the UI's status line.
    public var summary: String
    /// Every line the headless command prints: findings per run, then the comparisons and
    /// the summary.
    public var lines: [String]
}

/// The thresholds and rules behind every verdict, shared by the headless command and the UI.
public enum VerdictRules {
    /// A run has stalled when its final loss is above this fraction of its starting loss.
    public static let stallFraction = 0.9
    /// A block's gradient has vanished below this fraction of the last block's, or exploded
    /// above its inverse.
    public static let vanishRatio = 1e-3
    /// Two final losses differ when their gap exceeds this many standard errors of the gap.
    public static let noiseMultiple = 2.0

    /// Judges `histories`, given in the order of `experiment.runs`.
    public static func judge(_ experiment: Experiment, histories: [RunHistory])
        -> ExperimentVerdict
    {
        judge(comparisons: experiment.comparisons, histories: histories)
    }

    /// Judges `histories` against `comparisons`, whose indices point into `histories`.
    public static func judge(comparisons: [ExperimentComparison], histories: [RunHistory])
        -> ExperimentVerdict
    {
        let findings = histories.map(findings(of:))
        var lines = findings.map(describe)
        var comparisonLines: [String] = []
        var outcomes: [Bool?] = []
        var shortParts: [String] = []
        for comparison in comparisons {
            let first = findings[comparison.first]
            let second = findings[comparison.second]
            let (met, line, short) = compare(first, second, expecting: comparison.expectation)
            outcomes.append(met)
            comparisonLines.append(line)
            shortParts.append(short)
        }
        lines += comparisonLines
        let reproduced: Bool?
        let summary: String
        if outcomes.contains(where: { $0 == nil }) {
            reproduced = nil
            summary = "not enough steps yet to judge"
        } else if outcomes.allSatisfy({ $0 == true }) {
            reproduced = true
            summary = "reproduced: " + shortParts.joined(separator: "; ")
        } else {
            reproduced = false
            summary = "not reproduced: " + shortParts.joined(separator: "; ")
        }
        lines.append(summary)
        return ExperimentVerdict(
            findings: findings, comparisonLines: comparisonLines, reproduced: reproduced,
            summary: summary, lines: lines)
    }

    /// Computes the loss and gradient findings of one run.
    public static func findings(of history: RunHistory) -> RunFindings {
        let losses = history.losses.filter(\.isFinite)
        let window = max(1, losses.count / 10)
        let start = mean(losses.prefix(window))
        let tail = Array(losses.suffix(window))
        let final = mean(tail)
        let error = standardDeviation(tail) / Double(tail.count).squareRoot()
        let stalled = losses.count >= 2 && final > stallFraction * start
        let lastSteps = history.losses.count - max(1, history.losses.count / 10)
        let finalSamples = history.gradientSamples.filter { $0.step > lastSteps }
        let finalGradientZero =
            !finalSamples.isEmpty && finalSamples.allSatisfy { $0.norms.allSatisfy { $0 == 0 } }
        return RunFindings(
            label: history.label, startLoss: start, finalLoss: final, finalLossError: error,
            stalled: stalled, divergedAtStep: history.divergedAtStep,
            firstExtreme: extreme(of: Array(history.gradientSamples.prefix(1)), history),
            finalExtreme: extreme(of: finalSamples, history), finalGradientZero: finalGradientZero)
    }

    /// Returns the block whose gradient norm relative to the last block's is furthest from 1
    /// in log scale, averaging the log ratio over `samples`.
    private static func extreme(of samples: [GradientSample], _ history: RunHistory)
        -> GradientExtreme?
    {
        let blockCount = history.blockNames.count
        guard blockCount >= 2, !samples.isEmpty else { return nil }
        var best: GradientExtreme?
        for block in 0..<(blockCount - 1) {
            var logSum = 0.0
            var count = 0
            for sample in samples where sample.norms.count == blockCount {
                let last = sample.norms[blockCount - 1]
                let value = sample.norms[block]
                guard last > 0, value > 0, last.isFinite, value.isFinite else { continue }
                logSum += log10(value / last)
                count += 1
            }
            guard count > 0 else { continue }
            let logRatio = logSum / Double(count)
            if best == nil || abs(logRatio) > abs(log10(best!.ratio)) {
                best = GradientExtreme(block: history.blockNames[block], ratio: pow(10, logRatio))
            }
        }
        return best
    }

    private static func describe(_ run: RunFindings) -> String {
        var text =
            "\(run.label): loss \(number(run.startLoss)) -> \(number(run.finalLoss))"
            + " (+-\(number(run.finalLossError)))"
        if let step = run.divergedAtStep {
            text += ", diverged at step \(step)"
        } else if run.stalled {
            text += ", stalled (final loss above \(Int(stallFraction * 100))% of the start)"
        }
        if let first = run.firstExtreme {
            text += "; at step 1 " + gradientPhrase(first)
        }
        if let final = run.finalExtreme {
            text += "; at the end " + gradientPhrase(final)
        } else if run.finalGradientZero {
            text += "; at the end every block's input gradient is 0 (dead ReLUs)"
        }
        return text
    }

    private static func gradientPhrase(_ extreme: GradientExtreme) -> String {
        var phrase =
            "\(extreme.block)'s input gradient is \(ratioText(extreme.ratio)) the last "
            + "block's"
        if extreme.ratio < vanishRatio {
            phrase += " (vanished)"
        } else if extreme.ratio > 1 / vanishRatio {
            phrase += " (exploded)"
        }
        return phrase
    }

    private static func ratioText(_ ratio: Double) -> String {
        ratio >= 1 ? "\(number(ratio))x" : "1/\(number(1 / ratio)) of"
    }

    /// Returns whether the expectation was met (nil when a run has no steps), a full line and
    /// a short form for the summary.
    private static func compare(
        _ first: RunFindings, _ second: RunFindings, expecting expectation: LossExpectation
    ) -> (Bool?, String, String) {
        guard first.finalLoss.isFinite || first.divergedAtStep != nil,
            second.finalLoss.isFinite || second.divergedAtStep != nil
        else {
            return (nil, "\(second.label) vs \(first.label): no finished steps yet", "")
        }
        // A diverged run counts as ending higher than one that did not.
        let relation: String
        let secondHigher: Bool
        let secondLower: Bool
        switch (first.divergedAtStep != nil, second.divergedAtStep != nil) {
        case (false, true):
            secondHigher = true
            secondLower = false
            relation = "diverged, while \(first.label) did not"
        case (true, false):
            secondHigher = false
            secondLower = true
            relation = "did not diverge, while \(first.label) did"
        default:
            let gap = second.finalLoss - first.finalLoss
            let noise =
                noiseMultiple
                * (first.finalLossError * first.finalLossError
                + second.finalLossError * second.finalLossError).squareRoot()
            secondHigher = gap > noise
            secondLower = gap < -noise
            let word = secondHigher ? "higher" : (secondLower ? "lower" : "equal within noise")
            relation =
                "ends \(word): \(number(second.finalLoss)) vs \(number(first.finalLoss))"
                + " (gap \(number(gap)), noise \(number(noise)))"
        }
        let met: Bool
        let expected: String
        switch expectation {
        case .higher:
            met = secondHigher
            expected = "expected higher"
        case .notHigher:
            met = !secondHigher
            expected = "expected not higher"
        }
        let line =
            "\(second.label) vs \(first.label): \(relation); \(expected), "
            + (met ? "as expected" : "NOT as expected")
        let sign = secondHigher ? ">" : (secondLower ? "<" : "~")
        let short =
            "\(second.label) \(finalText(second)) \(sign) \(first.label) "
            + finalText(first)
        return (met, line, short)
    }

    private static func finalText(_ run: RunFindings) -> String {
        run.divergedAtStep != nil ? "diverged" : number(run.finalLoss)
    }

    private static func mean<C: Collection>(_ values: C) -> Double where C.Element == Double {
        values.isEmpty ? .nan : values.reduce(0, +) / Double(values.count)
    }

    private static func standardDeviation(_ values: [Double]) -> Double {
        guard values.count >= 2 else { return 0 }
        let center = mean(values)
        let squares = values.reduce(0) { $0 + ($1 - center) * ($1 - center) }
        return (squares / Double(values.count - 1)).squareRoot()
    }

    /// Three significant digits, or whole numbers from 100 to 9999, in exponent form outside
    /// 1e-3...1e4.
    public static func number(_ value: Double) -> String {
        guard value.isFinite else { return "\(value)" }
        let magnitude = abs(value)
        if magnitude != 0 && (magnitude < 1e-3 || magnitude >= 1e4) {
            return String(format: "%.2e", value)
        }
        if magnitude >= 100 {
            return String(format: "%.0f", value)
        }
        return String(format: "%.3g", value)
    }
}
