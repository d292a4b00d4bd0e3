import Engine
import Foundation

/// A source of training batches.
public protocol BatchSource: AnyObject {
    var name: String { get }
    /// Fills `images` [N, C, H, W] and `labels` (N values) with the next batch and returns
    /// the epoch the batch belongs to, counting from 0.
    func nextBatch(images: Tensor, labels: inout [Int32]) -> Int
}

/// Hyperparameters of SGD with momentum, in PyTorch's form.
public struct OptimizerSettings: Sendable, Equatable {
    public var learningRate: Double
    public var momentum: Double
    public var weightDecay: Double

    public init(learningRate: Double = 0.05, momentum: Double = 0.9, weightDecay: Double = 5e-4) {
        self.learningRate = learningRate
        self.momentum = momentum
        self.weightDecay = weightDecay
    }
}

/// Runs training one phase at a time on the calling thread and keeps the snapshot of what
/// it computed. `TrainingSession` drives a stepper from its own thread; headless commands
/// and tests drive one directly.
public final class Stepper: @unchecked Sendable {
    public let model: ResNet
    public let data: BatchSource
    public let pool: ThreadPool
    public var optimizer: OptimizerSettings
    public internal(set) var snapshot: SessionSnapshot
    /// Seed of the initial weights, which `resetWeights()` draws again.
    public let seed: UInt64

    /// Skip states requested while an iteration was under way, by layer. They take effect
    /// at the next iteration boundary, so one iteration never mixes two networks.
    var pendingSkips: [Int: Bool] = [:]
    /// Compute time of the current iteration's phases so far, in nanoseconds. Time spent
    /// waiting between phases for the user's next key is not counted.
    private var iterationNanoseconds: UInt64 = 0
    private var correct = 0

    /// Saved states of the last iterations, which `rewind()` goes back to.
    var rewindRing = RewindRing()
    /// Maximum number of iterations that `rewind()` can go back.
    public var rewindDepth = 16
    /// Maximum bytes of saved states for rewinding, per model. A model whose single state
    /// is larger cannot rewind.
    public var rewindMemoryLimit = 256 << 20
    /// Phases this stepper has run since it was created, counting the phases of
    /// rewound iterations too. Session files place each recorded key by this count.
    public private(set) var phasesRun = 0

    /// Wraps a model whose weights were drawn from `seed`, so `resetWeights()` can draw the
    /// same weights again.
    public init(
        model: ResNet, data: BatchSource, pool: ThreadPool, optimizer: OptimizerSettings,
        seed: UInt64 = 0
    ) {
        self.model = model
        self.seed = seed
        self.data = data
        self.pool = pool
        self.optimizer = optimizer
        let phases: [Phase] =
            [.loadBatch] + (0..<model.layerCount).map { .forward(layer: $0) } + [.loss]
            + (0..<model.layerCount).reversed().map { .backward(layer: $0) } + [.update]
        snapshot = SessionSnapshot(
            modelName: model.config.name, datasetName: data.name, batchSize: model.batchSize,
            learningRate: optimizer.learningRate, threads: pool.threadCount,
            layers: model.layerInfos, phases: phases)
        snapshot.inputShape = Array(model.images.shape.dropFirst())
        // The stem is left out: nothing needs the gradient at the images, so it is not
        // computed.
        let stripLayers = model.layerInfos.indices.filter { model.layerInfos[$0].kind == .block }
        snapshot.depthStrip = DepthTimeStrip(
            layers: stripLayers, names: stripLayers.map { model.layerInfos[$0].name })
        startGammas = GammaReading(of: model, layers: stripLayers)
        initialDataPosition = (data as? RewindableBatchSource)?.savePosition()
    }

    /// The data's position before the first batch, which `resetWeights()` goes back to.
    private let initialDataPosition: (any Sendable)?

    /// Called by long operations so that a UI can show their progress: at most every
    /// 100 ms between phases, and before a test evaluation. The training session sets it
    /// to publish a snapshot.
    public var progressHandler: (() -> Void)?
    private var lastProgressReport: UInt64 = 0

    private func reportProgress(force: Bool = false) {
        guard let progressHandler else { return }
        let now = DispatchTime.now().uptimeNanoseconds
        guard force || now - lastProgressReport > 100_000_000 else { return }
        lastProgressReport = now
        progressHandler()
    }

    /// The batch-norm scales when the session started or the weights were last reset, which
    /// the depth-by-time strip measures drift from.
    private var startGammas: GammaReading?

    public var atIterationBoundary: Bool { snapshot.nextPhase == 0 }

    /// Test images the UI scores the model on every `evaluationInterval` iterations, or nil.
    public var evaluationSet: Dataset?
    public var evaluationInterval = 100

    /// Takes up to `limit` images from the start of `test` for `evaluationSet`, so an
    /// evaluation costs a fraction of a second rather than a pass over the whole split.
    public func setEvaluationSet(_ test: Dataset, limit: Int = 1000) {
        let count = min(limit, test.count)
        guard count > 0 else { return }
        evaluationSet = Dataset(
            name: test.name, split: test.split,
            images: Array(test.images[0..<count * test.sampleSize]),
            labels: Array(test.labels[0..<count]), channels: test.channels, height: test.height,
            width: test.width, classNames: test.classNames, channelMeans: test.channelMeans,
            channelStds: test.channelStds)
    }

    /// Path that `saveCheckpoint()` writes to, the `--save` path when one was given. When
    /// nil, a name made from the model and the iteration, in the current directory.
    public var checkpointPath: String?

    /// Saves the model's weights and batch-norm statistics as a safetensors checkpoint and
    /// reports the path, or the error, in the status line. The save writes a temporary file
    /// and renames it, so a failure leaves any earlier file as it was.
    public func saveCheckpoint() {
        let name = snapshot.modelName.replacingOccurrences(of: " ", with: "")
        let path = checkpointPath ?? "resnet-tui-\(name)-iter\(snapshot.iteration).safetensors"
        do {
            try model.saveCheckpoint(to: path)
            snapshot.message = "saved \(path) after iteration \(snapshot.iteration)"
        } catch {
            snapshot.message = "save failed: \(error)"
        }
    }

    /// The second model of compare mode, stepped in lockstep with this one.
    public private(set) var twin: Stepper?

    /// Runs the next phase and returns it. In compare mode the copy then runs the same
    /// phase on the same batch.
    @discardableResult
    public func advance() -> Phase {
        let index = snapshot.nextPhase
        phasesRun += 1
        let phase = advanceOwnPhase()
        guard let twin else { return phase }
        if twin.snapshot.nextPhase == index {
            twin.advanceOwnPhase()
        }
        // A diverged loss ends an iteration early on either side. The other side then drops
        // the rest of its iteration too, so both start the next batch together.
        if atIterationBoundary && !twin.atIterationBoundary {
            twin.abandonIteration()
        }
        snapshot.comparison = twin.comparisonSnapshot()
        return phase
    }

    /// Turns compare mode on or off. Turning it on restarts this model from its seed and
    /// builds a copy with the same initial weights and every block's skip the opposite of
    /// this model's, so both runs start from the same point.
    ///
    /// With `twinSpec` the copy is built from that spec instead, skips included, and
    /// `twinLabel` names it. Guided experiments use this to compare batch norm on and off,
    /// or zero-init on and off.
    public func setComparing(_ on: Bool, twinSpec: ModelSpec? = nil, twinLabel: String? = nil) {
        guard on else {
            twin = nil
            snapshot.comparison = nil
            // A guided experiment needs both models, so it ends with compare mode.
            let experiment = snapshot.experiment.map { "; experiment \($0.name) ended" } ?? ""
            snapshot.experiment = nil
            snapshot.message = "compare mode off" + experiment
            return
        }
        resetWeights()
        var twinConfig = model.config
        if let twinSpec { twinConfig.spec = twinSpec }
        let copy = ResNet(config: twinConfig, batchSize: model.batchSize)
        var generator = SeededGenerator(seed: seed)
        copy.initialize(using: &generator)
        let other = Stepper(
            model: copy, data: MirroredBatchSource(of: model, name: data.name), pool: pool,
            optimizer: optimizer, seed: seed)
        let blocks = snapshot.layers.indices.filter { snapshot.layers[$0].kind == .block }
        for layer in blocks where twinSpec == nil {
            other.setSkip(layer: layer, enabled: !snapshot.layers[layer].skipEnabled)
        }
        let allOn = blocks.allSatisfy { snapshot.layers[$0].skipEnabled }
        let allOff = blocks.allSatisfy { !snapshot.layers[$0].skipEnabled }
        if let twinLabel {
            other.label = twinLabel
        } else if allOn {
            other.label = "skips off"
        } else if allOff {
            other.label = "skips on"
        } else {
            other.label = "skips flipped"
        }
        twin = other
        snapshot.comparison = other.comparisonSnapshot()
        snapshot.message =
            "compare mode: both models restarted from seed \(seed); B has \(other.label)"
    }

    /// Name of this model's skip setting when it is the copy in compare mode.
    private var label = ""

    func comparisonSnapshot() -> ComparisonSnapshot {
        ComparisonSnapshot(
            skipEnabled: snapshot.layers.map(\.skipEnabled), gradients: snapshot.gradients,
            history: snapshot.history, currentLoss: snapshot.currentLoss, label: label)
    }

    /// Drops the rest of the current iteration without updating the weights.
    private func abandonIteration() {
        snapshot.nextPhase = 0
    }

    @discardableResult
    private func advanceOwnPhase() -> Phase {
        let phase = snapshot.phases[snapshot.nextPhase]
        var abandonIteration = false
        let start = DispatchTime.now().uptimeNanoseconds
        defer {
            if case .update = phase {
            } else {
                iterationNanoseconds += DispatchTime.now().uptimeNanoseconds - start
            }
        }
        switch phase {
        case .loadBatch:
            applyPendingSkips()
            captureRewindPoint()
            iterationNanoseconds = 0
            snapshot.epoch = data.nextBatch(images: model.images, labels: &model.labels)
            snapshot.invalidInput = NonFiniteValues(
                name: "input batch \(snapshot.iteration + 1)", tensor: model.images)
            if let invalid = snapshot.invalidInput {
                // The forward pass would turn the loss and then every weight into NaN, so
                // this iteration stops before it and the next one loads the next batch.
                abandonIteration = true
                snapshot.isRunning = false
                snapshot.message =
                    "\(invalid), so iteration \(snapshot.iteration + 1) stopped and training "
                    + "paused. The next iteration loads the next batch."
            }
            snapshot.inputMap = FeatureMap(
                of: model.images, layer: -1, sample: snapshot.featureSample,
                channel: snapshot.featureChannel)
            snapshot.featureMaps = Array(repeating: nil, count: model.layerCount)
            snapshot.whatIf = nil
            snapshot.activations = Array(repeating: nil, count: model.layerCount)
            snapshot.gradients = Array(repeating: nil, count: model.layerCount)
            snapshot.currentLoss = nil
            snapshot.formulaTerms = Array(repeating: [], count: model.layerCount)
            snapshot.lossTerms = []
        case .forward(let layer):
            model.forward(layer: layer, training: true, pool: pool)
            snapshot.formulaTerms[layer] = model.forwardTerms(layer: layer, pool: pool)
            snapshot.activations[layer] = ActivationStats(of: model.output(ofLayer: layer))
            snapshot.featureMaps[layer] = FeatureMap(
                of: model.output(ofLayer: layer), layer: layer, sample: snapshot.featureSample,
                channel: snapshot.featureChannel)
        case .loss:
            let result = model.loss()
            snapshot.currentLoss = result.loss
            snapshot.lossTerms = model.lossTerms(pool: pool)
            correct = result.correct
            if !result.loss.isFinite {
                // The backward pass and the update would spread NaN or Inf into every
                // weight, so the iteration stops here and the weights stay as they were.
                abandonIteration = true
                snapshot.isRunning = false
                snapshot.divergedAtStep = snapshot.iteration + 1
                let value = result.loss.isNaN ? "NaN" : (result.loss > 0 ? "+Inf" : "-Inf")
                snapshot.message =
                    "loss is \(value) in iteration \(snapshot.iteration + 1), training paused. "
                    + "Press - to halve the learning rate or r to reset the weights."
            }
        case .backward(let layer):
            var flow = model.backward(layer: layer, pool: pool)
            flow.skipActive = model.skipEnabled(layer: layer)
            snapshot.gradients[layer] = flow
            snapshot.formulaTerms[layer] += model.backwardTerms(layer: layer, pool: pool)
        case .update:
            model.update(
                learningRate: Float(optimizer.learningRate), momentum: Float(optimizer.momentum),
                weightDecay: Float(optimizer.weightDecay), pool: pool)
            iterationNanoseconds += DispatchTime.now().uptimeNanoseconds - start
            recordUpdateRatios()
            finishRecord()
            recordDepthColumn()
            evaluateIfDue()
        }
        snapshot.nextPhase =
            abandonIteration ? 0 : (snapshot.nextPhase + 1) % snapshot.phases.count
        reportProgress()
        return phase
    }

    /// Runs phases until the loss is computed, finishing the current iteration first when
    /// its loss is already known. Stops early at a batch with NaN or infinite values.
    public func runForward() {
        while true {
            let phase = advance()
            if case .loss = phase { return }
            if atIterationBoundary, case .loadBatch = phase { return }
        }
    }

    /// Runs phases until the gradient reaches the network's input (the backward phase of
    /// the first layer), so the update is the next phase. Stops early at a diverged loss
    /// or a batch with NaN or infinite values.
    public func runBackward() {
        while true {
            let phase = advance()
            if case .backward(let layer) = phase, layer == 0 { return }
            if atIterationBoundary, case .loss = phase { return }
            if atIterationBoundary, case .loadBatch = phase { return }
        }
    }

    /// Runs the current iteration's forward and backward passes again on the same batch with
    /// the skip of the block at `layer` flipped, and stores the gradients it gives in
    /// `snapshot.whatIf`. Only allowed once the backward pass has reached the input and
    /// before the update. Parameter gradients, batch-norm running statistics and the skip
    /// setting are restored afterwards, so the update and every later iteration run exactly
    /// as they would have without it.
    public func whatIf(layer: Int) {
        guard model.blockIndex(ofLayer: layer) != nil else { return }
        guard case .update = snapshot.phases[snapshot.nextPhase] else {
            snapshot.message = "x needs a finished backward pass: press b, then x"
            return
        }
        snapshot.message =
            "gradcheck \(snapshot.layers[layer].name): comparing with finite differences..."
        reportProgress(force: true)
        let saved = SavedTrainingState(of: model)
        let original = model.skipEnabled(layer: layer)
        model.setSkip(layer: layer, enabled: !original)
        for index in 0..<model.layerCount {
            model.forward(layer: index, training: true, pool: pool)
        }
        let loss = model.loss().loss
        var flows = [GradientFlow?](repeating: nil, count: model.layerCount)
        for index in (0..<model.layerCount).reversed() {
            var flow = model.backward(layer: index, pool: pool)
            flow.skipActive = model.skipEnabled(layer: index)
            flows[index] = flow
        }
        model.setSkip(layer: layer, enabled: original)
        saved.restore(into: model)
        snapshot.whatIf = WhatIfSnapshot(
            layer: layer, skipEnabled: !original, gradients: flows, loss: loss)
        snapshot.message =
            "what-if: \(snapshot.layers[layer].name) with its skip \(original ? "off" : "on") "
            + "(this iteration only; the run goes on unchanged)"
    }

    /// Compares the analytic gradient of every parameter of the layer with central finite
    /// differences at a few coordinates per tensor, on the batch in the model, and reports
    /// the worst relative error in the status line (and `lastGradientCheck`). Allowed at an
    /// iteration boundary or after the backward pass; gradients, batch-norm statistics,
    /// inputs and labels are restored afterwards, so training goes on unchanged.
    public func gradientCheck(layer: Int, samplesPerTensor: Int = 2) {
        let atUpdate: Bool
        if case .update = snapshot.phases[snapshot.nextPhase] {
            atUpdate = true
        } else {
            atUpdate = false
        }
        guard atIterationBoundary || atUpdate, snapshot.iteration > 0 || atUpdate else {
            snapshot.message = "g needs a finished forward and backward pass: press b or s first"
            return
        }
        let parameters = model.parameters(ofLayer: layer)
        guard !parameters.isEmpty else {
            snapshot.message = "\(snapshot.layers[layer].name) has no weights to check"
            return
        }
        snapshot.message =
            "gradcheck \(snapshot.layers[layer].name): comparing with finite differences..."
        reportProgress(force: true)
        let saved = SavedTrainingState(of: model)
        let images = model.images.clone()
        let labels = model.labels
        let analytic = GradientCheck.analyticGradients(of: model, pool: pool)
        let checks = GradientCheck.compare(
            model, analytic: analytic, step: 1e-3, samplesPerTensor: samplesPerTensor,
            seed: UInt64(snapshot.iteration), pool: pool, only: Set(parameters.map(\.name)))
        saved.restore(into: model)
        model.images.copy(from: images)
        model.labels = labels

        // A NaN error, from a loss that is not finite, counts as the worst.
        guard let worst = checks.max(by: { !($0.maxError.isNaN || $0.maxError >= $1.maxError) })
        else { return }
        lastGradientCheck = checks
        let coordinates = checks.reduce(0) { $0 + $1.coordinates.count }
        let threshold = GradientCheck.defaultThreshold
        let verdict =
            worst.maxError <= threshold
            ? "passed: float rounding and ReLU kinks give up to about "
            : "FAILED: the backward pass of \(worst.name) looks wrong, above the threshold "
        snapshot.message =
            "gradcheck \(snapshot.layers[layer].name): worst relative error "
            + String(format: "%.1e", worst.maxError) + " over \(coordinates) coordinates of "
            + "\(checks.count) tensors (\(worst.name)); \(verdict)"
            + String(format: "%.0e", threshold)
    }

    /// The per-tensor results of the last `gradientCheck`.
    public private(set) var lastGradientCheck: [TensorCheck] = []

    /// Chooses the sample and channel of the feature maps, and takes them again from the
    /// tensors of the current iteration, so the view changes without running a phase.
    public func viewFeatureMap(sample: Int, channel: Int) {
        snapshot.featureSample = min(max(sample, 0), model.batchSize - 1)
        snapshot.featureChannel = max(channel, 0)
        if snapshot.inputMap != nil {
            snapshot.inputMap = FeatureMap(
                of: model.images, layer: -1, sample: snapshot.featureSample,
                channel: snapshot.featureChannel)
        }
        for layer in snapshot.featureMaps.indices where snapshot.featureMaps[layer] != nil {
            snapshot.featureMaps[layer] = FeatureMap(
                of: model.output(ofLayer: layer), layer: layer, sample: snapshot.featureSample,
                channel: snapshot.featureChannel)
        }
    }

    /// Multiplies the learning rate by `factor`, keeping it within 1e-6...10.
    public func scaleLearningRate(by factor: Double) {
        twin?.scaleLearningRate(by: factor)
        optimizer.learningRate = min(10, max(1e-6, optimizer.learningRate * factor))
        snapshot.learningRate = optimizer.learningRate
        snapshot.message = nil
    }

    /// Draws the initial weights again from the seed, clears the optimizer's momentum, the
    /// batch-norm running statistics and the loss history, moves the data back to its first
    /// batch, and starts a new iteration. The skip settings stay as they are, so `r`, `T`
    /// and `s` run the first iteration again on the same batch without the skips.
    public func resetWeights() {
        twin?.resetWeights()
        var generator = SeededGenerator(seed: seed)
        model.initialize(using: &generator)
        if let initialDataPosition, let source = data as? RewindableBatchSource {
            source.restorePosition(initialDataPosition)
        }
        applyPendingSkips()
        clearRewindRing()
        snapshot.nextPhase = 0
        snapshot.iteration = 0
        snapshot.history.removeAll()
        snapshot.activations = Array(repeating: nil, count: model.layerCount)
        snapshot.gradients = Array(repeating: nil, count: model.layerCount)
        snapshot.featureMaps = Array(repeating: nil, count: model.layerCount)
        snapshot.formulaTerms = []
        snapshot.lossTerms = []
        snapshot.inputMap = nil
        snapshot.currentLoss = nil
        snapshot.testAccuracy = nil
        snapshot.divergedAtStep = nil
        snapshot.isRunning = false
        snapshot.depthStrip?.clear()
        if let strip = snapshot.depthStrip {
            startGammas = GammaReading(of: model, layers: strip.layers)
        }
        snapshot.message = "weights and data order reset from seed \(seed)"
        snapshot.comparison = twin?.comparisonSnapshot()
    }

    /// Runs phases up to and including the update of the current iteration.
    public func finishIteration() {
        repeat { advance() } while !atIterationBoundary
    }

    /// Puts `message` in the status line, as the stepper's own messages are.
    public func announce(_ message: String) {
        snapshot.message = message
    }

    public func setRunning(_ running: Bool) {
        snapshot.isRunning = running
        if running { snapshot.message = nil }
    }

    /// Requests a skip state for the block at `layer`; it applies at once at an iteration
    /// boundary and otherwise when the next iteration starts.
    public func setSkip(layer: Int, enabled: Bool) {
        guard model.blockIndex(ofLayer: layer) != nil else { return }
        pendingSkips[layer] = enabled
        snapshot.layers[layer].skipEnabled = enabled
        if atIterationBoundary {
            applyPendingSkips()
        } else {
            snapshot.message =
                "skip changes apply when the next iteration starts; this one keeps its network"
        }
    }

    public func toggleSkip(layer: Int) {
        guard model.blockIndex(ofLayer: layer) != nil else { return }
        setSkip(layer: layer, enabled: !snapshot.layers[layer].skipEnabled)
    }

    /// Turns every skip off if any is on, otherwise turns every skip on.
    public func toggleAllSkips() {
        let anyOn = snapshot.layers.contains { $0.kind == .block && $0.skipEnabled }
        for layer in snapshot.layers.indices where snapshot.layers[layer].kind == .block {
            setSkip(layer: layer, enabled: !anyOn)
        }
    }

    private func applyPendingSkips() {
        for (layer, enabled) in pendingSkips { model.setSkip(layer: layer, enabled: enabled) }
        pendingSkips.removeAll()
    }

    /// Stores ||step|| / ||W|| per layer in the layer's gradient entry, after the update.
    /// The step is rebuilt from what SGD used, so no copy of the weights is needed: with
    /// momentum it is lr * buffer; without, W_old = (W + lr * g) / (1 - lr * wd) and the
    /// step is W_old - W.
    private func recordUpdateRatios() {
        let rate = optimizer.learningRate
        let decay = optimizer.weightDecay
        for layer in 0..<model.layerCount {
            let parameters = model.parameters(ofLayer: layer)
            guard !parameters.isEmpty, snapshot.gradients[layer] != nil else { continue }
            var stepSquares = 0.0
            var weightSquares = 0.0
            for parameter in parameters {
                for i in 0..<parameter.value.count {
                    let now = Double(parameter.value[i])
                    let step: Double
                    if optimizer.momentum != 0 {
                        step = rate * Double(parameter.momentumBuffer[i])
                    } else {
                        let old = (now + rate * Double(parameter.gradient[i])) / (1 - rate * decay)
                        step = old - now
                    }
                    stepSquares += step * step
                    weightSquares += now * now
                }
            }
            snapshot.gradients[layer]?.updateRatio =
                weightSquares > 0 ? (stepSquares / weightSquares).squareRoot() : nil
        }
    }

    /// Scores the model on `evaluationSet` after the first iteration and every
    /// `evaluationInterval` iterations. Runs at an iteration boundary, where overwriting
    /// the model's inputs and outputs is safe, and in inference mode, which leaves the
    /// batch-norm statistics alone.
    private func evaluateIfDue() {
        guard let evaluationSet,
            snapshot.iteration == 1 || snapshot.iteration % evaluationInterval == 0
        else { return }
        let note = "scoring the model on \(evaluationSet.count) test images..."
        let earlier = snapshot.message
        snapshot.message = note
        reportProgress(force: true)
        let result = model.evaluate(evaluationSet, pool: pool)
        snapshot.testAccuracy = (result.accuracy, snapshot.iteration, result.count)
        if snapshot.message == note { snapshot.message = earlier }
    }

    /// Adds the finished iteration to the depth-by-time strip, and puts a new alarm in the
    /// status line the first iteration it appears.
    private func recordDepthColumn() {
        guard var strip = snapshot.depthStrip, let startGammas else { return }
        let before = strip.headline
        strip.append(
            iteration: snapshot.iteration,
            gradients: strip.layers.map { snapshot.gradients[$0]?.input },
            zeroFractions: strip.layers.map { snapshot.activations[$0]?.zeroFraction },
            gammaDrift: GammaReading(of: model, layers: strip.layers).drift(from: startGammas))
        if let alarm = strip.headline {
            if before?.kind != alarm.kind || before?.layer != alarm.layer {
                snapshot.message = "alarm: " + alarm.text
            }
        } else if let before, snapshot.message?.hasPrefix("alarm:") == true {
            snapshot.message =
                "alarm over: \(before.name) back within range in iteration \(snapshot.iteration)"
        }
        snapshot.depthStrip = strip
    }

    private func finishRecord() {
        let seconds = Double(iterationNanoseconds) / 1e9
        snapshot.iteration += 1
        snapshot.stepMilliseconds = seconds * 1000
        snapshot.imagesPerSecond = seconds > 0 ? Double(model.batchSize) / seconds : 0
        snapshot.history.append(
            StepRecord(
                iteration: snapshot.iteration, loss: snapshot.currentLoss ?? .nan,
                accuracy: Double(correct) / Double(model.batchSize)))
        recordExperimentStep()
    }
}

/// Feeds compare mode's copy the batch that the first model loaded last, so both models see
/// the same images in the same order.
final class MirroredBatchSource: BatchSource, @unchecked Sendable {
    let name: String
    private let source: ResNet

    init(of source: ResNet, name: String) {
        self.source = source
        self.name = name
    }

    func nextBatch(images: Tensor, labels: inout [Int32]) -> Int {
        images.copy(from: source.images)
        labels = source.labels
        return 0
    }
}

/// Copies of the parameter gradients and the state-dict tensors and counters (batch-norm
/// running statistics included), taken before a recomputation that must leave training
/// as it was.
struct SavedTrainingState {
    private let gradients: [Tensor]
    private let floats: [(live: Tensor, copy: Tensor)]
    private let counters: [(norm: BatchNormState, count: Int64)]

    init(of model: ResNet) {
        gradients = model.parameters.map { $0.gradient.clone() }
        var floats: [(live: Tensor, copy: Tensor)] = []
        var counters: [(norm: BatchNormState, count: Int64)] = []
        for entry in model.stateEntries {
            switch entry {
            case .floats(_, let tensor): floats.append((tensor, tensor.clone()))
            case .counter(_, let norm): counters.append((norm, norm.batchesTracked))
            }
        }
        self.floats = floats
        self.counters = counters
    }

    /// Writes every saved value back into `model`, the model it was taken from.
    func restore(into model: ResNet) {
        for (parameter, saved) in zip(model.parameters, gradients) {
            parameter.gradient.copy(from: saved)
        }
        for (live, copy) in floats { live.copy(from: copy) }
        for (norm, count) in counters { norm.batchesTracked = count }
    }
}
