/// One network of an experiment, with the label that its CSV rows and verdict lines use.
public struct ExperimentRun: Sendable, Equatable {
    public var label: String
    public var spec: ModelSpec

    public init(label: String, spec: ModelSpec) {
        self.label = label
        self.spec = spec
    }
}

/// Expectation for one pair of runs, judged on the mean training loss over the
/// last tenth of the steps.
public enum LossExpectation: Sendable, Equatable {
    /// The second run ends with a higher loss than the first, by more than the noise.
    case higher
    /// The second run does not end with a higher loss than the first: lower, or equal
    /// within the noise.
    case notHigher
}

/// A pair of runs, by index into `Experiment.runs`, and what the experiment expects of them.
public struct ExperimentComparison: Sendable, Equatable {
    public var first: Int
    public var second: Int
    public var expectation: LossExpectation

    public init(first: Int, second: Int, expectation: LossExpectation) {
        self.first = first
        self.second = second
        self.expectation = expectation
    }
}

/// A built-in scenario: the networks to train side by side on the same batches, what to look
/// for, and the comparisons its verdict checks.
public struct Experiment: Sendable, Equatable {
    public var name: String
    /// One line for `experiment --list`.
    public var summary: String
    /// The effect to watch for, printed before the runs start and shown in the UI.
    public var lookFor: String
    public var runs: [ExperimentRun]
    public var comparisons: [ExperimentComparison]
    /// Default steps, image size of the shapes data (channels, height, width), batch and
    /// base width, chosen by the measurements recorded in BENCHMARKS.md.
    public var steps: Int
    public var inputSize: [Int]
    public var batch: Int
    public var width: Int
    public var learningRate: Double
    /// Whether the headless run prints the near-identity gauge of each network before the
    /// first step and after the last.
    public var measuresGauge = false

    /// Every built-in experiment, in the order `--list` prints them.
    public static let all: [Experiment] = [
        plainVersusResidual, depth, batchNorm, zeroInit,
    ]

    /// Returns the built-in experiment called `name`, or nil.
    public static func named(_ name: String) -> Experiment? {
        all.first { $0.name == name }
    }

    // The defaults below come from the runs in BENCHMARKS.md: 8 channels at 16x16 keeps a
    // 300-step run of plain20 near 8 s of CPU time, and plain20 still ends clearly above
    // plain8 and resnet20.
    static let defaultInput = [1, 16, 16]
    static let defaultWidth = 8

    // Depths 8 and 20, not He et al.'s 20 and 56: in 300 and 600 steps at this size resnet56
    // still ended above resnet20 (BENCHMARKS.md), so that pair could not show the pattern
    // within the five-minute budget. The `depth` experiment runs the deeper pairs.
    static let plainVersusResidual = Experiment(
        name: "plain-vs-residual",
        summary: "plain8, plain20, resnet8 and resnet20: does depth hurt without skips?",
        lookFor: "The deeper plain net (plain20) should end with a higher training loss than "
            + "plain8, while resnet20 ends no higher than resnet8, the pattern of He et al. "
            + "2015 (figures 1 and 6, there with 20 and 56 layers on CIFAR-10). At step 1 the "
            + "plain nets' first-block gradient is larger relative to their last block's than "
            + "the residual nets': with batch norm a plain stack grows the gradient toward "
            + "the input.",
        runs: [
            run("plain8", depth: 8, skips: false),
            run("plain20", depth: 20, skips: false),
            run("resnet8", depth: 8, skips: true),
            run("resnet20", depth: 20, skips: true),
        ],
        comparisons: [
            ExperimentComparison(first: 0, second: 1, expectation: .higher),
            ExperimentComparison(first: 2, second: 3, expectation: .notHigher),
        ],
        steps: 600, inputSize: defaultInput, batch: 32, width: defaultWidth,
        learningRate: 0.05)

    static let depth = Experiment(
        name: "depth",
        summary: "plain and residual nets at depths 8, 20, 56 and 110 (eight runs, slow)",
        lookFor: "Plain nets should end with a higher training loss the deeper they are, and "
            + "residual nets should not. The first block's gradient relative to the last "
            + "block's grows with depth in the plain nets and stays small in the residual ones.",
        runs: [8, 20, 56, 110].flatMap { depth in
            [
                run("plain\(depth)", depth: depth, skips: false),
                run("resnet\(depth)", depth: depth, skips: true),
            ]
        },
        comparisons: [0, 2, 4].flatMap { index in
            [
                ExperimentComparison(first: index, second: index + 2, expectation: .higher),
                ExperimentComparison(
                    first: index + 1, second: index + 3, expectation: .notHigher),
            ]
        },
        steps: 300, inputSize: defaultInput, batch: 32, width: defaultWidth,
        learningRate: 0.05)

    static let batchNorm = Experiment(
        name: "batchnorm",
        summary: "resnet20 and plain20 with batch norm on and off",
        lookFor: "Without batch norm, both nets should train slower (a higher final loss) or "
            + "diverge, and the plain net's gradient shrinks toward the input instead of "
            + "growing.",
        runs: [
            run("resnet20", depth: 20, skips: true),
            run("resnet20 --no-bn", depth: 20, skips: true, batchNorm: false),
            run("plain20", depth: 20, skips: false),
            run("plain20 --no-bn", depth: 20, skips: false, batchNorm: false),
        ],
        comparisons: [
            ExperimentComparison(first: 0, second: 1, expectation: .higher),
            ExperimentComparison(first: 2, second: 3, expectation: .higher),
        ],
        steps: 300, inputSize: defaultInput, batch: 32, width: defaultWidth,
        learningRate: 0.05)

    static let zeroInit = Experiment(
        name: "zero-init",
        summary: "resnet56 with and without --zero-init-residual, with the near-identity gauge",
        lookFor: "With --zero-init-residual every identity block starts as the identity: "
            + "block gain 1, residual-branch gain 0, and the first block's gradient about the "
            + "size of the last block's. The zero-init net should end no higher than the default.",
        runs: [
            run("resnet56", depth: 56, skips: true),
            run("resnet56 --zero-init-residual", depth: 56, skips: true, zeroInit: true),
        ],
        comparisons: [
            ExperimentComparison(first: 0, second: 1, expectation: .notHigher)
        ],
        steps: 300, inputSize: defaultInput, batch: 32, width: defaultWidth,
        learningRate: 0.05, measuresGauge: true)

    private static func run(
        _ label: String, depth: Int, skips: Bool, batchNorm: Bool = true,
        zeroInit: Bool = false
    ) -> ExperimentRun {
        // Every depth used here has the 6n + 2 form, so the force unwrap cannot fail.
        var spec = ModelSpec.cifar(depth: depth, baseWidth: 16, batchNorm: batchNorm)!
        if !skips {
            spec.name = "plain\(depth)"
            spec.skipOff = Set(1...spec.blockCount)
        }
        spec.zeroInitResidual = zeroInit
        return ExperimentRun(label: label, spec: spec)
    }

    /// Returns the runs with `width` as every network's base width.
    public func runs(width: Int) -> [ExperimentRun] {
        runs.map { run in
            var run = run
            run.spec.baseWidth = width
            return run
        }
    }
}
