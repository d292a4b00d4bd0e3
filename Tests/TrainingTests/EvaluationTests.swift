import Engine
import Testing
import Training

@Suite struct EvaluationTests {
    /// Returns a resnet8 for 1x8x8 images with weights drawn from seed 3, whatever the batch size.
    private func model(batchSize: Int) -> ResNet {
        let config = ResNetConfig(depth: 8, inputChannels: 1, inputHeight: 8, inputWidth: 8)
        let model = ResNet(config: config, batchSize: batchSize)
        var generator = SeededGenerator(seed: 3)
        model.initialize(using: &generator)
        return model
    }

    @Test func partialBatchMatchesOtherBatchSize() {
        // 10 images: batches of 4 leave a partial batch of 2, batches of 5 divide evenly.
        // In inference mode every sample is computed on its own, so both must agree.
        let data = DataSource.shapes(
            ShapesConfiguration(trainCount: 10, testCount: 10, height: 8, width: 8, seed: 2))
        let pool = ThreadPool(threads: 1)
        let padded = model(batchSize: 4).evaluate(data.test, pool: pool)
        let even = model(batchSize: 5).evaluate(data.test, pool: pool)
        #expect(padded.count == 10)
        #expect(abs(padded.loss - even.loss) < 1e-5, "loss \(padded.loss) vs \(even.loss)")
        #expect(padded.accuracy == even.accuracy)
        #expect(padded.loss.isFinite)
    }

    @Test func runningStatisticsUnchanged() {
        let data = DataSource.shapes(
            ShapesConfiguration(trainCount: 8, testCount: 8, height: 8, width: 8, seed: 2))
        let network = model(batchSize: 4)
        func floatEntries() -> [(String, [Float])] {
            network.stateEntries.compactMap { entry in
                if case .floats(let name, let tensor) = entry { return (name, tensor.toArray()) }
                return nil
            }
        }
        let before = floatEntries()
        _ = network.evaluate(data.test, pool: ThreadPool(threads: 1))
        let after = floatEntries()
        #expect(before.count == after.count)
        for ((name, old), (_, new)) in zip(before, after) {
            #expect(old == new, "\(name) changed during evaluation")
        }
    }
}
