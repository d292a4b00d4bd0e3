import Engine

/// A batch source whose position in the data can be saved and restored, so a rewound
/// iteration loads the same batch again.
public protocol RewindableBatchSource: BatchSource {
    /// Returns the source's position: the shuffled order, the index of the next batch and
    /// any random state that the next batches depend on.
    func savePosition() -> any Sendable
    /// Moves the source back to a position that `savePosition()` of this source returned.
    func restorePosition(_ position: any Sendable)
}

extension IteratorBatchSource: RewindableBatchSource {}
extension FixedBatchSource: RewindableBatchSource {}
extension MirroredBatchSource: RewindableBatchSource {
    /// Returns a placeholder, because the mirror copies whatever the first model loaded.
    func savePosition() -> any Sendable { 0 }
    func restorePosition(_ position: any Sendable) {}
}

/// How many iterations the stepper can rewind and the memory its saved states take.
public struct RewindStatus: Sendable, Equatable {
    /// Saved states that `rewind()` can go back to.
    public var available: Int
    /// Maximum number of saved states: `Stepper.rewindDepth`, or fewer when the memory
    /// limit allows fewer; 0 when one state alone exceeds the limit.
    public var capacity: Int
    /// Bytes allocated for saved states, of this model and of compare mode's copy.
    public var bytes: Int

    public init(available: Int = 0, capacity: Int = 0, bytes: Int = 0) {
        self.available = available
        self.capacity = capacity
        self.bytes = bytes
    }
}

/// The training state at an iteration boundary: every state-dict tensor (weights and
/// batch-norm running statistics), the batch-norm counters, the momentum buffers, the
/// data position, the skip settings and optimizer settings, and the counters the
/// snapshot shows. Parameter gradients are not kept, because the next backward pass
/// overwrites every gradient that the update reads.
final class RewindPoint {
    let stateCopies: [Tensor]
    let momentumCopies: [Tensor]
    var counters: [Int64] = []
    var dataPosition: any Sendable = 0
    var skips: [Bool] = []
    var optimizer = OptimizerSettings()
    var iteration = 0
    var epoch = 0
    var historyCount = 0
    var divergedAtStep: Int?
    var testAccuracy: (accuracy: Double, iteration: Int, count: Int)?
    /// The depth-by-time strip as it stood, a value that shares its storage until changed.
    var depthStrip: DepthTimeStrip?

    init(shapesOf model: ResNet) {
        var copies: [Tensor] = []
        for case .floats(_, let tensor) in model.stateEntries {
            copies.append(Tensor(shape: tensor.shape))
        }
        stateCopies = copies
        momentumCopies = model.parameters.map { Tensor(shape: $0.momentumBuffer.shape) }
    }

    /// Bytes of the tensor copies one point of `model` allocates.
    static func bytes(of model: ResNet) -> Int {
        var count = model.parameters.reduce(0) { $0 + $1.momentumBuffer.count }
        for case .floats(_, let tensor) in model.stateEntries { count += tensor.count }
        return count * MemoryLayout<Float>.size
    }
}

/// Saved training states of the last iterations, oldest first. A full ring reuses the
/// oldest point's tensors, so it allocates only while it fills.
struct RewindRing {
    var points: [RewindPoint] = []
    /// Points kept for reuse after a rewind or a reset dropped them.
    var spare: [RewindPoint] = []
    var capacity = 0

    var allocatedBytes: Int = 0

    mutating func clear() {
        spare += points
        points.removeAll()
    }

    /// Returns a point to overwrite: a spare one, the oldest when the ring is full, or a
    /// new one.
    mutating func takePoint(for model: ResNet) -> RewindPoint {
        if points.count >= capacity, !points.isEmpty {
            return points.removeFirst()
        }
        if let point = spare.popLast() { return point }
        allocatedBytes += RewindPoint.bytes(of: model)
        return RewindPoint(shapesOf: model)
    }
}

extension Stepper {
    /// Stores the state at the start of an iteration in the rewind ring. Runs at the
    /// iteration boundary, before the batch is loaded.
    func captureRewindPoint() {
        let bytes = RewindPoint.bytes(of: model)
        rewindRing.capacity = max(0, min(rewindDepth, rewindMemoryLimit / max(bytes, 1)))
        while rewindRing.points.count > max(rewindRing.capacity, 1) {
            rewindRing.spare.append(rewindRing.points.removeFirst())
        }
        guard rewindRing.capacity > 0, let source = data as? RewindableBatchSource else {
            return
        }
        let point = rewindRing.takePoint(for: model)

        var index = 0
        var counters: [Int64] = []
        for entry in model.stateEntries {
            switch entry {
            case .floats(_, let tensor):
                point.stateCopies[index].copy(from: tensor)
                index += 1
            case .counter(_, let norm):
                counters.append(norm.batchesTracked)
            }
        }
        for (copy, parameter) in zip(point.momentumCopies, model.parameters) {
            copy.copy(from: parameter.momentumBuffer)
        }
        point.counters = counters

        point.dataPosition = source.savePosition()
        point.skips = (0..<model.layerCount).map { model.skipEnabled(layer: $0) }
        point.optimizer = optimizer
        point.iteration = snapshot.iteration
        point.epoch = snapshot.epoch
        point.historyCount = snapshot.history.count
        point.divergedAtStep = snapshot.divergedAtStep
        point.testAccuracy = snapshot.testAccuracy
        point.depthStrip = snapshot.depthStrip
        rewindRing.points.append(point)
        publishRewindStatus()
    }

    /// Drops every saved state, after which `rewind()` has nothing to go back to.
    func clearRewindRing() {
        rewindRing.clear()
        twin?.clearRewindRing()
        publishRewindStatus()
    }

    func publishRewindStatus() {
        snapshot.rewind = RewindStatus(
            available: rewindRing.points.count, capacity: rewindRing.capacity,
            bytes: rewindRing.allocatedBytes + (twin?.rewindRing.allocatedBytes ?? 0))
    }

    /// Goes back one iteration: at an iteration boundary to the start of the last finished
    /// iteration, and in the middle of an iteration to its start. Weights, batch-norm
    /// statistics, momentum, the data position, skip and optimizer settings and the loss
    /// history return to what they were there, so running on replays the same iterations
    /// bit for bit. In compare mode the copy goes back with this model. The status line
    /// reports the iteration reached and how many more steps back are available.
    public func rewind() {
        guard let point = rewindRing.points.last else {
            if rewindRing.capacity == 0 && rewindMemoryLimit < RewindPoint.bytes(of: model) {
                let needed = RewindPoint.bytes(of: model) >> 20
                snapshot.message =
                    "rewind is off: one saved state of this model needs \(needed) MiB, more "
                    + "than the limit of \(rewindMemoryLimit >> 20) MiB"
            } else if !(data is RewindableBatchSource) {
                snapshot.message = "rewind is not available: the data source cannot go back"
            } else {
                snapshot.message = "nothing to rewind: no earlier iteration is saved"
            }
            return
        }
        if let twin, twin.rewindRing.points.count != rewindRing.points.count {
            snapshot.message = "rewind failed: compare mode's copy has no matching saved state"
            return
        }
        let discarded = snapshot.nextPhase > 0
        rewindRing.points.removeLast()
        restore(point)
        rewindRing.spare.append(point)
        if let twin, let twinPoint = twin.rewindRing.points.popLast() {
            twin.restore(twinPoint)
            twin.rewindRing.spare.append(twinPoint)
            snapshot.comparison = twin.comparisonSnapshot()
        }
        publishRewindStatus()
        let unfinished = discarded ? ", the start of the unfinished iteration" : ""
        snapshot.message =
            "rewound to iteration \(point.iteration)\(unfinished) "
            + "(\(rewindRing.points.count) more available)"
    }

    private func restore(_ point: RewindPoint) {
        var index = 0
        var counterIndex = 0
        for entry in model.stateEntries {
            switch entry {
            case .floats(_, let tensor):
                tensor.copy(from: point.stateCopies[index])
                index += 1
            case .counter(_, let norm):
                norm.batchesTracked = point.counters[counterIndex]
                counterIndex += 1
            }
        }
        for (copy, parameter) in zip(point.momentumCopies, model.parameters) {
            parameter.momentumBuffer.copy(from: copy)
        }

        (data as? RewindableBatchSource)?.restorePosition(point.dataPosition)
        pendingSkips.removeAll()
        for (layer, enabled) in point.skips.enumerated() where snapshot.layers[layer].kind == .block
        {
            model.setSkip(layer: layer, enabled: enabled)
            snapshot.layers[layer].skipEnabled = enabled
        }

        optimizer = point.optimizer
        snapshot.learningRate = optimizer.learningRate
        snapshot.iteration = point.iteration
        snapshot.epoch = point.epoch
        snapshot.history.removeLast(snapshot.history.count - point.historyCount)
        snapshot.divergedAtStep = point.divergedAtStep
        snapshot.testAccuracy = point.testAccuracy
        snapshot.depthStrip = point.depthStrip
        snapshot.nextPhase = 0
        snapshot.isRunning = false
        snapshot.currentLoss = nil
        snapshot.whatIf = nil
        snapshot.inputMap = nil
        snapshot.activations = Array(repeating: nil, count: model.layerCount)
        snapshot.gradients = Array(repeating: nil, count: model.layerCount)
        snapshot.featureMaps = Array(repeating: nil, count: model.layerCount)
        snapshot.formulaTerms = []
        snapshot.lossTerms = []
    }
}
