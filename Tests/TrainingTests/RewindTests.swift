import Engine
import Foundation
import Testing
import Training

struct RewindTests {
    /// Builds a resnet8 stepper on 40 shapes images of 8x8 in batches of 4, so an epoch is
    /// 10 iterations and the runs below cross a reshuffle.
    static func makeStepper(seed: UInt64 = 3) throws -> Stepper {
        let data = DataSource.shapes(
            ShapesConfiguration(trainCount: 40, testCount: 8, height: 8, width: 8, seed: seed))
        let iterator = try BatchIterator(dataset: data.train, batchSize: 4, seed: seed)
        let config = ResNetConfig(
            depth: 8, inputChannels: 1, inputHeight: 8, inputWidth: 8, classCount: 10)
        let model = ResNet(config: config, batchSize: 4)
        var generator = SeededGenerator(seed: seed)
        model.initialize(using: &generator)
        return Stepper(
            model: model, data: IteratorBatchSource(name: "shapes", iterator: iterator),
            pool: ThreadPool(threads: 2), optimizer: OptimizerSettings(), seed: seed)
    }

    static func run(_ stepper: Stepper, iterations: Int) {
        for _ in 0..<iterations { stepper.finishIteration() }
    }

    /// Bit patterns of the history's losses and accuracies.
    static func historyBits(_ history: [StepRecord]) -> [[UInt64]] {
        history.map { [UInt64($0.iteration), $0.loss.bitPattern, $0.accuracy.bitPattern] }
    }

    static func momentum(of stepper: Stepper) -> [[UInt32]] {
        stepper.model.parameters.map { $0.momentumBuffer.toArray().map(\.bitPattern) }
    }

    @Test func replayAfterRewindIsBitwiseEqual() throws {
        let straight = try Self.makeStepper()
        Self.run(straight, iterations: 14)

        let rewound = try Self.makeStepper()
        Self.run(rewound, iterations: 14)
        // Settings changed after the rewind point must be undone by the rewind.
        rewound.toggleSkip(layer: ResNet.firstBlockLayer)
        rewound.scaleLearningRate(by: 2)
        for _ in 0..<5 { rewound.rewind() }
        #expect(rewound.snapshot.iteration == 9)
        #expect(rewound.snapshot.history.count == 9)
        #expect(rewound.optimizer.learningRate == straight.optimizer.learningRate)
        #expect(rewound.model.skipEnabled(layer: ResNet.firstBlockLayer))
        #expect(rewound.snapshot.layers[ResNet.firstBlockLayer].skipEnabled)
        Self.run(rewound, iterations: 5)

        #expect(rewound.snapshot.iteration == 14)
        #expect(rewound.snapshot.epoch == straight.snapshot.epoch)
        #expect(
            StepperTests.trainingState(of: rewound) == StepperTests.trainingState(of: straight),
            "weights, gradients, momentum or batch-norm statistics differ after the replay")
        #expect(Self.momentum(of: rewound) == Self.momentum(of: straight))
        #expect(
            Self.historyBits(rewound.snapshot.history)
                == Self.historyBits(straight.snapshot.history))
        // The depth-by-time strip is rewound with the rest and refilled by the replay.
        #expect(rewound.snapshot.depthStrip == straight.snapshot.depthStrip)
        #expect(rewound.snapshot.depthStrip?.columns.count == 14)
    }

    @Test func rewindMessageCountsSavedStates() throws {
        let stepper = try Self.makeStepper()
        Self.run(stepper, iterations: 20)
        #expect(stepper.snapshot.rewind.available == 16)
        stepper.rewind()
        #expect(stepper.snapshot.message == "rewound to iteration 19 (15 more available)")
        #expect(stepper.snapshot.rewind.available == 15)
    }

    @Test func rewindMidIterationReturnsToItsStart() throws {
        let straight = try Self.makeStepper()
        Self.run(straight, iterations: 3)
        let stepper = try Self.makeStepper()
        Self.run(stepper, iterations: 2)
        stepper.runBackward()
        stepper.rewind()
        #expect(stepper.atIterationBoundary)
        #expect(stepper.snapshot.iteration == 2)
        #expect(stepper.snapshot.message?.contains("start of the unfinished iteration") == true)
        #expect(stepper.snapshot.gradients.allSatisfy { $0 == nil })
        stepper.finishIteration()
        #expect(StepperTests.weights(of: stepper) == StepperTests.weights(of: straight))
    }

    @Test func boundaryRewindIgnoresMidIteration() throws {
        let stepper = try Self.makeStepper()
        Self.run(stepper, iterations: 2)
        stepper.advance()
        stepper.rewind(onlyAtBoundary: true)
        #expect(stepper.snapshot.nextPhase == 1)
        #expect(stepper.snapshot.iteration == 2)
        #expect(stepper.snapshot.message?.hasPrefix("Left steps back only") == true)
        stepper.finishIteration()
        stepper.rewind(onlyAtBoundary: true)
        #expect(stepper.snapshot.iteration == 2)
        #expect(stepper.snapshot.message == "rewound to iteration 2 (2 more available)")
    }

    @Test func ringKeepsOnlyDepthStates() throws {
        let stepper = try Self.makeStepper()
        stepper.rewindDepth = 4
        Self.run(stepper, iterations: 10)
        let perState =
            (stepper.model.parameters.reduce(0) { $0 + $1.momentumBuffer.count }
                + stepper.model.stateEntries.reduce(0) { sum, entry in
                    if case .floats(_, let tensor) = entry { return sum + tensor.count }
                    return sum
                }) * MemoryLayout<Float>.size
        #expect(stepper.snapshot.rewind.capacity == 4)
        #expect(stepper.snapshot.rewind.bytes == 4 * perState)
        for expected in [9, 8, 7, 6] {
            stepper.rewind()
            #expect(stepper.snapshot.iteration == expected)
        }
        stepper.rewind()
        #expect(stepper.snapshot.iteration == 6)
        #expect(stepper.snapshot.message == "nothing to rewind: no earlier iteration is saved")
    }

    @Test func memoryLimitTurnsRewindOff() throws {
        let stepper = try Self.makeStepper()
        stepper.rewindMemoryLimit = 1000
        Self.run(stepper, iterations: 2)
        #expect(stepper.snapshot.rewind.capacity == 0)
        #expect(stepper.snapshot.rewind.bytes == 0)
        stepper.rewind()
        #expect(stepper.snapshot.iteration == 2)
        #expect(stepper.snapshot.message?.hasPrefix("rewind is off") == true)
    }

    @Test func resetClearsSavedStates() throws {
        let stepper = try Self.makeStepper()
        Self.run(stepper, iterations: 3)
        stepper.resetWeights()
        #expect(stepper.snapshot.rewind.available == 0)
        stepper.rewind()
        #expect(stepper.snapshot.message == "nothing to rewind: no earlier iteration is saved")
    }

    @Test func compareModeRewindsBothModels() throws {
        let straight = try Self.makeStepper()
        straight.setComparing(true)
        Self.run(straight, iterations: 8)

        let rewound = try Self.makeStepper()
        rewound.setComparing(true)
        Self.run(rewound, iterations: 8)
        for _ in 0..<3 { rewound.rewind() }
        #expect(rewound.snapshot.iteration == 5)
        #expect(rewound.snapshot.comparison?.history.count == 5)
        Self.run(rewound, iterations: 3)

        let straightCopy = try #require(straight.twin)
        let rewoundCopy = try #require(rewound.twin)
        #expect(
            StepperTests.trainingState(of: rewound) == StepperTests.trainingState(of: straight))
        #expect(
            StepperTests.trainingState(of: rewoundCopy)
                == StepperTests.trainingState(of: straightCopy),
            "compare mode's copy differs after the replay")
        #expect(
            Self.historyBits(rewoundCopy.snapshot.history)
                == Self.historyBits(straightCopy.snapshot.history))
    }

    /// `r` goes back to the first batch too: after a reset, the first iteration gives the
    /// loss it gave at the start, not that of the next batch in the data.
    @Test func resetReplaysTheFirstBatch() throws {
        let stepper = try Self.makeStepper()
        Self.run(stepper, iterations: 1)
        let firstLoss = try #require(stepper.snapshot.history.last?.loss)
        Self.run(stepper, iterations: 2)
        stepper.resetWeights()
        Self.run(stepper, iterations: 1)
        #expect(stepper.snapshot.history.last?.loss.bitPattern == firstLoss.bitPattern)
    }
}
