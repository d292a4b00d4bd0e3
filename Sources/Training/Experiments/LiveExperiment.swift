/// The near-identity gauge as the UI shows it: the gains of every block and the iteration
/// they were measured after.
public struct GaugeSnapshot: Sendable, Equatable {
    public var gains: [BlockGain]
    public var iteration: Int

    public init(gains: [BlockGain], iteration: Int) {
        self.gains = gains
        self.iteration = iteration
    }

    /// Returns the gain of the block at `layer`, or nil if it was not measured.
    public func gain(ofLayer layer: Int) -> BlockGain? {
        gains.first { $0.layer == layer }
    }
}

/// A guided experiment in the UI: model A beside compare mode's copy B, what to look for,
/// and the verdict once enough steps have run.
public struct LiveExperiment: Sendable, Equatable {
    public var name: String
    public var labels: [String]
    /// The pair the verdict compares, as indices of A (0) and B (1), and its expectation.
    public var comparison: ExperimentComparison
    /// A short form of what to look for, which fits a status line.
    public var lookFor: String
    /// Input-gradient norms of every block of A and of B, one sample per finished step.
    public var samples: [[GradientSample]] = [[], []]
    /// The verdict's one-line summary, or nil before `minimumSteps`.
    public var verdict: String?
    public var reproduced: Bool?

    /// Steps before the first verdict: the final-loss window is a tenth of the steps, so
    /// 50 steps give it 5 losses.
    public static let minimumSteps = 50

    /// Names of the experiments the UI can run, in the order `e` cycles through them. The
    /// depth experiment trains eight networks, more than compare mode's two.
    public static let names = ["plain-vs-residual", "batchnorm", "zero-init"]
}

extension Stepper {
    /// Starts the built-in experiment `name`: restarts this model (A) from its seed beside a
    /// copy (B) that differs in the one setting the experiment studies, fed the same
    /// batches. For plain-vs-residual A gets every skip on and B every skip off; for
    /// batchnorm B flips batch norm; for zero-init B flips `--zero-init-residual`.
    public func startExperiment(named name: String) {
        guard LiveExperiment.names.contains(name), let experiment = Experiment.named(name)
        else {
            snapshot.message =
                "experiment \(name) is not available in the UI; run resnet-tui experiment \(name)"
            return
        }
        var spec = model.config.spec
        var twinSpec = spec
        let comparison: ExperimentComparison
        let lookFor: String
        let labels: [String]
        switch name {
        case "plain-vs-residual":
            for layer in snapshot.layers.indices where snapshot.layers[layer].kind == .block {
                setSkip(layer: layer, enabled: true)
            }
            spec.skipOff = []
            twinSpec.skipOff = Set(1...max(spec.blockCount, 1))
            comparison = ExperimentComparison(first: 0, second: 1, expectation: .higher)
            lookFor = "B (every skip off) should end with a higher training loss than A"
            labels = ["skips on", "skips off"]
        case "batchnorm":
            twinSpec.batchNorm = !spec.batchNorm
            let withoutNorm = spec.batchNorm ? 1 : 0
            comparison = ExperimentComparison(
                first: 1 - withoutNorm, second: withoutNorm, expectation: .higher)
            lookFor = "the run without batch norm should end higher or diverge"
            labels =
                spec.batchNorm ? ["batch norm", "no batch norm"] : ["no batch norm", "batch norm"]
        default:
            twinSpec.zeroInitResidual = !spec.zeroInitResidual
            let zeroInit = spec.zeroInitResidual ? 0 : 1
            comparison = ExperimentComparison(
                first: 1 - zeroInit, second: zeroInit, expectation: .notHigher)
            lookFor = "the zero-init run should end no higher; press b then d for the gains"
            labels =
                spec.zeroInitResidual
                ? ["zero-init", "default init"] : ["default init", "zero-init"]
        }
        setComparing(true, twinSpec: twinSpec, twinLabel: labels[1])
        snapshot.experiment = LiveExperiment(
            name: experiment.name, labels: ["A " + labels[0], "B " + labels[1]],
            comparison: comparison, lookFor: lookFor)
        snapshot.message =
            "experiment \(name): \(lookFor); verdict after "
            + "\(LiveExperiment.minimumSteps) steps (space to run)"
    }

    /// Records this step's gradient samples of A and B and, from `minimumSteps` on, judges
    /// the experiment with the same rules as the headless command. Clears the experiment
    /// when compare mode was turned off.
    func recordExperimentStep() {
        guard var experiment = snapshot.experiment else { return }
        guard let twin else {
            snapshot.experiment = nil
            return
        }
        // After `r` or a rewind the iteration count goes back, so later samples are dropped.
        experiment.samples = experiment.samples.map { samples in
            samples.filter { $0.step < snapshot.iteration }
        }
        let blocks = snapshot.layers.indices.filter { snapshot.layers[$0].kind == .block }
        let own = blocks.map { snapshot.gradients[$0]?.input ?? .nan }
        let other = blocks.map { twin.snapshot.gradients[$0]?.input ?? .nan }
        experiment.samples[0].append(GradientSample(step: snapshot.iteration, norms: own))
        experiment.samples[1].append(GradientSample(step: snapshot.iteration, norms: other))
        if snapshot.iteration >= LiveExperiment.minimumSteps {
            let names = blocks.map { snapshot.layers[$0].name }
            let histories = [
                RunHistory(
                    label: "A", losses: snapshot.history.map(\.loss),
                    divergedAtStep: snapshot.divergedAtStep, blockNames: names,
                    gradientSamples: experiment.samples[0]),
                RunHistory(
                    label: "B", losses: twin.snapshot.history.map(\.loss),
                    divergedAtStep: twin.snapshot.divergedAtStep, blockNames: names,
                    gradientSamples: experiment.samples[1]),
            ]
            let verdict = VerdictRules.judge(
                comparisons: [experiment.comparison], histories: histories)
            experiment.verdict = verdict.summary
            experiment.reproduced = verdict.reproduced
        }
        snapshot.experiment = experiment
    }

    /// Measures the near-identity gauge of every block on the current batch and shows it in
    /// the status line and the detail panel. Allowed after a backward pass or at an
    /// iteration boundary after the first iteration; training goes on unchanged.
    public func measureGauge() {
        let atUpdate: Bool
        if case .update = snapshot.phases[snapshot.nextPhase] {
            atUpdate = true
        } else {
            atUpdate = false
        }
        guard (atIterationBoundary && snapshot.iteration > 0) || atUpdate else {
            snapshot.message = "d needs a finished forward and backward pass: press b or s first"
            return
        }
        let gains = NearIdentityGauge.measure(model: model, pool: pool)
        snapshot.gauge = GaugeSnapshot(gains: gains, iteration: snapshot.iteration)
        var text = "gauge, median over blocks: " + Self.gaugeMedians(gains)
        // Compare mode's copy runs in lockstep, so it is at the same phase.
        if let twin {
            let twinGains = NearIdentityGauge.measure(model: twin.model, pool: pool)
            text =
                "gauge, median over blocks: A " + Self.gaugeMedians(gains) + "; B "
                + Self.gaugeMedians(twinGains)
        }
        snapshot.message = text + " (identity: 1 and 0); per block in the detail panel"
    }

    /// Returns "block X, branch Y": the median gains over the identity-skip blocks with the
    /// skip on, or over every block when there are none.
    private static func gaugeMedians(_ gains: [BlockGain]) -> String {
        let identity = gains.filter { !$0.hasProjection && $0.skipActive }
        let described = identity.isEmpty ? gains : identity
        let blockGains = described.map(\.blockGain).sorted()
        let branchGains = described.map(\.branchGain).sorted()
        guard !blockGains.isEmpty else { return "no blocks" }
        return "block " + VerdictRules.number(blockGains[blockGains.count / 2]) + ", branch "
            + VerdictRules.number(branchGains[branchGains.count / 2])
    }
}
