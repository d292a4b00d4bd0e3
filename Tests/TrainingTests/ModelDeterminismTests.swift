import Engine
import Testing
import Training

/// Trains a whole resnet8 for a few iterations at several thread counts and compares every
/// parameter, the losses and the gradient-flow norms bit for bit. Kernel tests cover each
/// kernel alone. This test catches a reduction anywhere in the model, the stepper or the
/// optimizer whose order depends on the thread split.
struct ModelDeterminismTests {
    struct Run: Equatable {
        var parameterBits: [[UInt32]]
        var losses: [Double]
        var skipNorms: [Double]
        var residualNorms: [Double]
    }

    static func train(threads: Int, iterations: Int) throws -> Run {
        let data = DataSource.shapes(
            ShapesConfiguration(trainCount: 64, testCount: 0, height: 16, width: 16, seed: 3))
        let iterator = try BatchIterator(dataset: data.train, batchSize: 8, seed: 3)
        let config = ResNetConfig(
            depth: 8, inputChannels: 1, inputHeight: 16, inputWidth: 16, classCount: 10)
        let model = ResNet(config: config, batchSize: 8)
        var generator = SeededGenerator(seed: 11)
        model.initialize(using: &generator)
        let stepper = Stepper(
            model: model, data: IteratorBatchSource(name: "shapes", iterator: iterator),
            pool: ThreadPool(threads: threads), optimizer: OptimizerSettings())
        var run = Run(parameterBits: [], losses: [], skipNorms: [], residualNorms: [])
        for _ in 0..<iterations {
            stepper.finishIteration()
            let snapshot = stepper.snapshot
            run.losses.append(snapshot.history.last?.loss ?? .nan)
            for flow in snapshot.gradients {
                run.skipNorms.append(flow?.skip ?? -1)
                run.residualNorms.append(flow?.residual ?? -1)
            }
        }
        run.parameterBits = model.parameters.map { $0.value.toArray().map(\.bitPattern) }
        return run
    }

    @Test func trainingIsBitwiseEqualAcrossThreadCounts() throws {
        let single = try Self.train(threads: 1, iterations: 3)
        #expect(single.losses.allSatisfy { $0.isFinite })
        #expect(single.residualNorms.contains { $0 > 0 })
        for threads in [2, 3] {
            let other = try Self.train(threads: threads, iterations: 3)
            #expect(other.losses == single.losses, "losses differ at \(threads) threads")
            #expect(
                other.skipNorms == single.skipNorms, "skip norms differ at \(threads) threads")
            #expect(
                other.residualNorms == single.residualNorms,
                "residual norms differ at \(threads) threads")
            #expect(
                other.parameterBits == single.parameterBits,
                "parameters differ at \(threads) threads")
        }
    }

    @Test func trainingRepeatsWithSameSeed() throws {
        let first = try Self.train(threads: 2, iterations: 2)
        let second = try Self.train(threads: 2, iterations: 2)
        #expect(first == second)
    }
}
