import Engine
import Foundation
import Testing
import Training

/// Feeds the same random batch every time, optionally with one NaN pixel.
final class FixedBatchSource: BatchSource, @unchecked Sendable {
    let name = "fixed"
    var poisoned = false

    func nextBatch(images: Tensor, labels: inout [Int32]) -> Int {
        var generator = SeededGenerator(seed: 5)
        for i in 0..<images.count {
            images[i] = Float(Double.random(in: -1...1, using: &generator))
        }
        if poisoned { images[0] = .nan }
        for i in labels.indices { labels[i] = Int32(i % 10) }
        return 0
    }
}

struct StepperTests {
    static func makeStepper(seed: UInt64 = 9) -> (Stepper, FixedBatchSource) {
        let config = ResNetConfig(
            depth: 8, inputChannels: 1, inputHeight: 8, inputWidth: 8, classCount: 10)
        let model = ResNet(config: config, batchSize: 4)
        var generator = SeededGenerator(seed: seed)
        model.initialize(using: &generator)
        let source = FixedBatchSource()
        let stepper = Stepper(
            model: model, data: source, pool: ThreadPool(threads: 2),
            optimizer: OptimizerSettings(), seed: seed)
        return (stepper, source)
    }

    static func weights(of stepper: Stepper) -> [[Float]] {
        stepper.model.parameters.map { $0.value.toArray() }
    }

    @Test func runForwardStopsAfterLoss() {
        let (stepper, _) = Self.makeStepper()
        stepper.runForward()
        #expect(stepper.snapshot.lastPhase == .loss)
        #expect(stepper.snapshot.currentLoss != nil)
        #expect(stepper.snapshot.gradients.allSatisfy { $0 == nil })
    }

    @Test func runBackwardStopsBeforeUpdate() {
        let (stepper, _) = Self.makeStepper()
        let before = Self.weights(of: stepper)
        stepper.runBackward()
        #expect(stepper.snapshot.lastPhase == .backward(layer: 0))
        #expect(stepper.snapshot.phases[stepper.snapshot.nextPhase] == .update)
        #expect(stepper.snapshot.gradients.allSatisfy { $0 != nil })
        #expect(Self.weights(of: stepper) == before, "weights changed before the update")
        #expect(stepper.snapshot.iteration == 0)
    }

    @Test func runForwardFromBackwardFinishesIteration() {
        let (stepper, _) = Self.makeStepper()
        stepper.runBackward()
        stepper.runForward()
        #expect(stepper.snapshot.iteration == 1)
        #expect(stepper.snapshot.lastPhase == .loss)
    }

    @Test func divergedLossLeavesWeightsUntouched() throws {
        let (stepper, _) = Self.makeStepper()
        stepper.finishIteration()
        // An infinite classifier bias makes the logits, and so the loss, NaN. A NaN input
        // cannot do it, because the stepper rejects such a batch before the forward pass.
        let classifier = try #require(stepper.model.parameters.last)
        classifier.value[0] = .infinity
        let before = Self.weights(of: stepper)
        stepper.setRunning(true)
        stepper.finishIteration()
        #expect(stepper.atIterationBoundary)
        #expect(stepper.snapshot.isRunning == false)
        #expect(stepper.snapshot.invalidInput == nil)
        #expect(stepper.snapshot.divergedAtStep == 2)
        let message = stepper.snapshot.message ?? ""
        #expect(message.contains("iteration 2"), "message: \(message)")
        #expect(message.contains("NaN"), "message: \(message)")
        #expect(stepper.snapshot.iteration == 1, "a diverged step was recorded")
        #expect(Self.weights(of: stepper) == before, "the diverged iteration changed weights")
        #expect(Self.weights(of: stepper).allSatisfy { $0.allSatisfy { !$0.isNaN } })
    }

    @Test func nonFiniteBatchStopsBeforeForward() {
        let (stepper, source) = Self.makeStepper()
        stepper.finishIteration()
        let before = Self.weights(of: stepper)
        source.poisoned = true
        stepper.setRunning(true)
        // runForward must return even though the loss phase never runs.
        stepper.runForward()
        #expect(stepper.atIterationBoundary)
        #expect(stepper.snapshot.isRunning == false)
        #expect(stepper.snapshot.currentLoss == nil, "the forward pass ran")
        #expect(stepper.snapshot.iteration == 1)
        #expect(stepper.snapshot.divergedAtStep == nil)
        #expect(
            stepper.snapshot.invalidInput
                == NonFiniteValues(
                    name: "input batch 2", nanCount: 1, infinityCount: 0, firstIndex: 0))
        let message = stepper.snapshot.message ?? ""
        #expect(
            message.hasPrefix("input batch 2 contains 1 NaN value (first at element 0)"),
            "message: \(message)")
        #expect(Self.weights(of: stepper) == before, "the weights changed")

        stepper.runBackward()
        #expect(stepper.atIterationBoundary, "runBackward went past the rejected batch")
        #expect(stepper.snapshot.iteration == 1)

        source.poisoned = false
        stepper.finishIteration()
        #expect(stepper.snapshot.invalidInput == nil)
        #expect(stepper.snapshot.iteration == 2)
    }

    @Test func nonFiniteValuesCountsEachKind() {
        let values: [Float] = [1, .infinity, .nan, 2, -.infinity, .nan, .nan]
        let found = NonFiniteValues(name: "batch", values: values)
        #expect(found?.nanCount == 3)
        #expect(found?.infinityCount == 2)
        #expect(found?.firstIndex == 1)
        #expect(
            found?.description
                == "batch contains 3 NaN values and 2 infinite values (first at element 1)")
        #expect(NonFiniteValues(name: "finite", values: [Float](repeating: 1, count: 9)) == nil)
    }

    @Test func resetRestoresInitialWeights() {
        let (stepper, _) = Self.makeStepper(seed: 21)
        let initial = Self.weights(of: stepper)
        stepper.finishIteration()
        stepper.finishIteration()
        #expect(Self.weights(of: stepper) != initial)
        stepper.resetWeights()
        #expect(Self.weights(of: stepper) == initial)
        #expect(stepper.snapshot.iteration == 0)
        #expect(stepper.snapshot.history.isEmpty)
        #expect(stepper.model.parameters.allSatisfy { $0.momentumBuffer.norm() == 0 })
    }

    @Test func skipToggleWaitsForNextIteration() {
        let (stepper, _) = Self.makeStepper()
        let block = ResNet.firstBlockLayer
        stepper.runForward()
        stepper.toggleSkip(layer: block)
        #expect(stepper.snapshot.layers[block].skipEnabled == false, "request shows at once")
        stepper.finishIteration()
        #expect(stepper.snapshot.gradients[block]?.skipActive == true, "ran with the skip on")
        #expect((stepper.snapshot.gradients[block]?.skip ?? 0) > 0)
        stepper.finishIteration()
        #expect(stepper.snapshot.gradients[block]?.skipActive == false)
        #expect(stepper.snapshot.gradients[block]?.skip == 0)
    }

    @Test func compareModeStepsCopyInLockstep() throws {
        let (stepper, _) = Self.makeStepper(seed: 4)
        let initial = Self.weights(of: stepper)
        stepper.finishIteration()
        stepper.setComparing(true)
        let twin = try #require(stepper.twin)
        #expect(Self.weights(of: stepper) == initial, "A restarts from the seed")
        #expect(Self.weights(of: twin) == initial, "B starts from the same weights")
        let blocks = stepper.snapshot.layers.indices.filter {
            stepper.snapshot.layers[$0].kind == .block
        }
        for layer in blocks {
            #expect(twin.model.skipEnabled(layer: layer) == false, "B's skip at \(layer)")
        }
        #expect(stepper.snapshot.comparison?.label == "skips off")

        stepper.runForward()
        #expect(twin.model.images.toArray() == stepper.model.images.toArray(), "same batch")
        #expect(twin.model.labels == stepper.model.labels)
        stepper.finishIteration()
        stepper.finishIteration()
        let comparison = try #require(stepper.snapshot.comparison)
        #expect(comparison.history.count == 2)
        #expect(stepper.snapshot.history.count == 2)
        #expect(comparison.gradients.allSatisfy { $0 != nil })

        // B must match a plain model trained alone from the same seed on the same batches.
        let (plain, _) = Self.makeStepper(seed: 4)
        for layer in blocks { plain.setSkip(layer: layer, enabled: false) }
        plain.finishIteration()
        plain.finishIteration()
        #expect(comparison.history.map(\.loss) == plain.snapshot.history.map(\.loss))
        #expect(Self.weights(of: twin) == Self.weights(of: plain))
        #expect(comparison.history[1].loss != stepper.snapshot.history[1].loss)

        stepper.setComparing(false)
        #expect(stepper.twin == nil)
        #expect(stepper.snapshot.comparison == nil)
    }

    @Test(arguments: [0.9, 0.0])
    func updateRatioMatchesWeightChange(momentum: Double) throws {
        let (stepper, _) = Self.makeStepper()
        stepper.optimizer.momentum = momentum
        // Two iterations, so the momentum buffer contains more than one gradient.
        stepper.finishIteration()
        stepper.runBackward()
        let layer = ResNet.firstBlockLayer
        let before = stepper.model.parameters(ofLayer: layer).map { $0.value.toArray() }
        stepper.advance()  // the update
        let after = stepper.model.parameters(ofLayer: layer).map { $0.value.toArray() }
        var stepSquares = 0.0
        var weightSquares = 0.0
        for (old, new) in zip(before.joined(), after.joined()) {
            stepSquares += Double(new - old) * Double(new - old)
            weightSquares += Double(new) * Double(new)
        }
        let expected = (stepSquares / weightSquares).squareRoot()
        let ratio = try #require(stepper.snapshot.gradients[layer]?.updateRatio)
        #expect(abs(ratio - expected) <= 1e-3 * expected, "ratio \(ratio) expected \(expected)")
    }

    /// Returns every value the what-if run must leave alone: weights, gradients, momentum
    /// buffers and batch-norm state, as bit patterns.
    static func trainingState(of stepper: Stepper) -> [[UInt32]] {
        var state: [[UInt32]] = []
        for parameter in stepper.model.parameters {
            state.append(parameter.value.toArray().map(\.bitPattern))
            state.append(parameter.gradient.toArray().map(\.bitPattern))
            state.append(parameter.momentumBuffer.toArray().map(\.bitPattern))
        }
        for entry in stepper.model.stateEntries {
            switch entry {
            case .floats(_, let tensor): state.append(tensor.toArray().map(\.bitPattern))
            case .counter(_, let norm): state.append([UInt32(norm.batchesTracked)])
            }
        }
        return state
    }

    @Test func whatIfLeavesTrainingUntouched() throws {
        let (stepper, _) = Self.makeStepper(seed: 8)
        let (reference, _) = Self.makeStepper(seed: 8)
        let block = ResNet.firstBlockLayer + 1
        for run in [stepper, reference] {
            run.finishIteration()
            run.runBackward()
        }
        let before = Self.trainingState(of: stepper)
        stepper.whatIf(layer: block)
        #expect(Self.trainingState(of: stepper) == before, "what-if changed training state")
        let whatIf = try #require(stepper.snapshot.whatIf)
        #expect(whatIf.layer == block)
        #expect(whatIf.skipEnabled == false)
        #expect(whatIf.gradients[block]?.skip == 0, "the flipped block ran with its skip off")
        let earlier = ResNet.firstBlockLayer
        #expect(whatIf.gradients[earlier]?.input != stepper.snapshot.gradients[earlier]?.input)

        // The run goes on exactly as a run that never asked what if.
        stepper.finishIteration()
        stepper.finishIteration()
        reference.finishIteration()
        reference.finishIteration()
        #expect(Self.weights(of: stepper) == Self.weights(of: reference))
        #expect(stepper.snapshot.history.map(\.loss) == reference.snapshot.history.map(\.loss))
        #expect(stepper.snapshot.whatIf == nil, "cleared by the next iteration")
    }

    @Test func whatIfMatchesRunWithSkipOff() throws {
        let (stepper, _) = Self.makeStepper(seed: 12)
        let (flipped, _) = Self.makeStepper(seed: 12)
        let block = ResNet.firstBlockLayer
        flipped.setSkip(layer: block, enabled: false)
        stepper.runBackward()
        flipped.runBackward()
        stepper.whatIf(layer: block)
        let whatIf = try #require(stepper.snapshot.whatIf)
        #expect(whatIf.loss == flipped.snapshot.currentLoss)
        for layer in whatIf.gradients.indices {
            #expect(
                whatIf.gradients[layer]?.input == flipped.snapshot.gradients[layer]?.input,
                "layer \(layer)")
        }
    }

    @Test func whatIfNeedsBackwardPass() {
        let (stepper, _) = Self.makeStepper()
        stepper.runForward()
        stepper.whatIf(layer: ResNet.firstBlockLayer)
        #expect(stepper.snapshot.whatIf == nil)
        #expect(stepper.snapshot.message?.contains("press b") == true)
    }

    @Test func evaluatesTestSampleOnSchedule() throws {
        let (stepper, _) = Self.makeStepper()
        let data = DataSource.shapes(
            ShapesConfiguration(trainCount: 0, testCount: 50, height: 8, width: 8, seed: 2))
        stepper.setEvaluationSet(data.test, limit: 20)
        stepper.evaluationInterval = 3
        #expect(stepper.evaluationSet?.count == 20)
        stepper.finishIteration()
        let first = try #require(stepper.snapshot.testAccuracy)
        #expect(first.iteration == 1)
        #expect(first.count == 20)
        stepper.finishIteration()
        #expect(stepper.snapshot.testAccuracy?.iteration == 1, "not due at iteration 2")
        stepper.finishIteration()
        #expect(stepper.snapshot.testAccuracy?.iteration == 3)
    }

    @Test func saveCheckpointWritesLoadableFile() throws {
        let (stepper, _) = Self.makeStepper(seed: 6)
        stepper.finishIteration()
        let path = FileManager.default.temporaryDirectory
            .appendingPathComponent("stepper-save-\(getpid()).safetensors").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        stepper.checkpointPath = path
        stepper.saveCheckpoint()
        #expect(stepper.snapshot.message?.contains("saved \(path)") == true)
        let (other, _) = Self.makeStepper(seed: 99)
        try other.model.loadCheckpoint(from: path)
        #expect(Self.weights(of: other) == Self.weights(of: stepper))
    }

    @Test func saveCheckpointReportsFailure() {
        let (stepper, _) = Self.makeStepper()
        stepper.checkpointPath = "/nonexistent-directory/x.safetensors"
        stepper.saveCheckpoint()
        #expect(stepper.snapshot.message?.hasPrefix("save failed") == true)
    }

    @Test func gradientCheckKeyLeavesTrainingUntouched() throws {
        let (stepper, _) = Self.makeStepper(seed: 14)
        let (reference, _) = Self.makeStepper(seed: 14)
        for run in [stepper, reference] { run.runBackward() }
        let before = Self.trainingState(of: stepper)
        let images = stepper.model.images.toArray()
        stepper.gradientCheck(layer: ResNet.firstBlockLayer)
        #expect(Self.trainingState(of: stepper) == before, "gradcheck changed training state")
        #expect(stepper.model.images.toArray() == images)
        let checks = stepper.lastGradientCheck
        #expect(!checks.isEmpty)
        #expect(checks.allSatisfy { $0.name.hasPrefix("layer1.0.") }, "\(checks.map(\.name))")
        let worst = checks.map(\.maxError).max() ?? .nan
        #expect(worst < 0.1, "worst relative error \(worst)")
        #expect(stepper.snapshot.message?.contains("gradcheck layer1.0") == true)
        stepper.finishIteration()
        reference.finishIteration()
        #expect(Self.weights(of: stepper) == Self.weights(of: reference))
    }

    @Test func learningRateScalesAndClamps() {
        let (stepper, _) = Self.makeStepper()
        let start = stepper.optimizer.learningRate
        stepper.scaleLearningRate(by: 2)
        #expect(stepper.snapshot.learningRate == start * 2)
        stepper.scaleLearningRate(by: 0.5)
        stepper.scaleLearningRate(by: 0.5)
        #expect(stepper.optimizer.learningRate == start / 2)
        for _ in 0..<100 { stepper.scaleLearningRate(by: 0.5) }
        #expect(stepper.optimizer.learningRate == 1e-6)
    }
}

struct FeatureMapTests {
    @Test func captureTakesOneChannelOfOneSample() {
        let tensor = Tensor(shape: [2, 3, 2, 2])
        for i in 0..<tensor.count { tensor[i] = Float(i) }
        let map = FeatureMap(of: tensor, layer: 4, sample: 1, channel: 2)
        #expect(map?.values == [20, 21, 22, 23])
        #expect(map?.height == 2)
        #expect(map?.width == 2)
        let clamped = FeatureMap(of: tensor, layer: 4, sample: 9, channel: 9)
        #expect(clamped?.sample == 1)
        #expect(clamped?.channel == 2)
    }

    @Test func captureOfLogitsIsOneRow() {
        let logits = Tensor(shape: [2, 5], values: (0..<10).map(Float.init))
        let map = FeatureMap(of: logits, layer: 7, sample: 1, channel: 0)
        #expect(map?.values == [5, 6, 7, 8, 9])
        #expect(map?.height == 1)
    }

    @Test func stepperRecapturesOnViewChange() {
        let (stepper, _) = StepperTests.makeStepper()
        stepper.runForward()
        let before = stepper.snapshot.featureMaps[1]
        #expect(before != nil)
        #expect(stepper.snapshot.inputMap != nil)
        stepper.viewFeatureMap(sample: 2, channel: 3)
        let after = stepper.snapshot.featureMaps[1]
        #expect(after?.sample == 2)
        #expect(after?.channel == 3)
        #expect(after?.values != before?.values)
        #expect(stepper.snapshot.inputMap?.sample == 2)
    }
}
