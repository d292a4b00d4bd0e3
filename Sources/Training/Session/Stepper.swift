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
    public private(set) var snapshot: SessionSnapshot

    /// Skip states requested while an iteration was under way, by layer; they take effect
    /// at the next iteration boundary, so one iteration never mixes two networks.
    private var pendingSkips: [Int: Bool] = [:]
    /// Compute time of the current iteration's phases so far, in nanoseconds. Time spent
    /// waiting between phases for the user's next key is not counted.
    private var iterationNanoseconds: UInt64 = 0
    private var correct = 0

    public init(model: ResNet, data: BatchSource, pool: ThreadPool, optimizer: OptimizerSettings) {
        self.model = model
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
    }

    public var atIterationBoundary: Bool { snapshot.nextPhase == 0 }

    /// Runs the next phase and returns it.
    @discardableResult
    public func advance() -> Phase {
        let phase = snapshot.phases[snapshot.nextPhase]
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
            iterationNanoseconds = 0
            snapshot.epoch = data.nextBatch(images: model.images, labels: &model.labels)
            snapshot.activations = Array(repeating: nil, count: model.layerCount)
            snapshot.gradients = Array(repeating: nil, count: model.layerCount)
            snapshot.currentLoss = nil
        case .forward(let layer):
            model.forward(layer: layer, training: true, pool: pool)
            snapshot.activations[layer] = ActivationStats(of: model.output(ofLayer: layer))
        case .loss:
            let result = model.loss()
            snapshot.currentLoss = result.loss
            correct = result.correct
            if !result.loss.isFinite {
                snapshot.isRunning = false
                snapshot.message =
                    "loss is \(result.loss) at step \(snapshot.iteration + 1): "
                    + "training paused; lower the learning rate or restart"
            }
        case .backward(let layer):
            snapshot.gradients[layer] = model.backward(layer: layer, pool: pool)
        case .update:
            model.update(
                learningRate: Float(optimizer.learningRate), momentum: Float(optimizer.momentum),
                weightDecay: Float(optimizer.weightDecay), pool: pool)
            iterationNanoseconds += DispatchTime.now().uptimeNanoseconds - start
            finishRecord()
        }
        snapshot.nextPhase = (snapshot.nextPhase + 1) % snapshot.phases.count
        return phase
    }

    /// Runs phases up to and including the update of the current iteration.
    public func finishIteration() {
        repeat { advance() } while !atIterationBoundary
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
        if atIterationBoundary { applyPendingSkips() }
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

    private func finishRecord() {
        let seconds = Double(iterationNanoseconds) / 1e9
        snapshot.iteration += 1
        snapshot.stepMilliseconds = seconds * 1000
        snapshot.imagesPerSecond = seconds > 0 ? Double(model.batchSize) / seconds : 0
        snapshot.history.append(
            StepRecord(
                iteration: snapshot.iteration, loss: snapshot.currentLoss ?? .nan,
                accuracy: Double(correct) / Double(model.batchSize)))
    }
}
