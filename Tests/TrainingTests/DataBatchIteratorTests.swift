import Engine
import Testing
import Training

@Suite struct DataBatchIteratorTests {
    static let data = DataSource.shapes(
        ShapesConfiguration(trainCount: 100, testCount: 10, channels: 2, height: 6, width: 5))

    /// Draws `epochs` epochs and returns their sample indices, one array per epoch.
    private func drawEpochs(_ iterator: inout BatchIterator, epochs: Int) -> [[Int]] {
        let dataset = iterator.dataset
        let images = Tensor(shape: [
            iterator.batchSize, dataset.channels, dataset.height, dataset.width,
        ])
        var labels = [Int32](repeating: -1, count: iterator.batchSize)
        var result: [[Int]] = []
        for _ in 0..<epochs {
            var indices: [Int] = []
            for _ in 0..<iterator.batchesPerEpoch {
                iterator.next(into: images, labels: &labels)
                indices += iterator.lastBatchIndices
            }
            result.append(indices)
        }
        return result
    }

    @Test func everySampleOncePerEpoch() throws {
        var iterator = try BatchIterator(dataset: Self.data.train, batchSize: 10, seed: 1)
        #expect(iterator.batchesPerEpoch == 10)
        for (epoch, indices) in drawEpochs(&iterator, epochs: 3).enumerated() {
            #expect(indices.sorted() == Array(0..<100), "epoch \(epoch) indices")
        }
    }

    @Test func orderChangesBetweenEpochs() throws {
        var iterator = try BatchIterator(dataset: Self.data.train, batchSize: 10, seed: 1)
        let epochs = drawEpochs(&iterator, epochs: 3)
        #expect(epochs[0] != epochs[1])
        #expect(epochs[1] != epochs[2])
        #expect(epochs[0] != Array(0..<100), "first epoch is not shuffled")
    }

    @Test func sameSeedSameOrder() throws {
        var first = try BatchIterator(dataset: Self.data.train, batchSize: 10, seed: 9)
        var second = try BatchIterator(dataset: Self.data.train, batchSize: 10, seed: 9)
        var other = try BatchIterator(dataset: Self.data.train, batchSize: 10, seed: 10)
        let firstEpochs = drawEpochs(&first, epochs: 2)
        #expect(firstEpochs == drawEpochs(&second, epochs: 2))
        #expect(firstEpochs != drawEpochs(&other, epochs: 2))
    }

    @Test func incompleteBatchDropped() throws {
        var iterator = try BatchIterator(dataset: Self.data.train, batchSize: 30, seed: 2)
        #expect(iterator.batchesPerEpoch == 3)
        for (epoch, indices) in drawEpochs(&iterator, epochs: 2).enumerated() {
            #expect(indices.count == 90, "epoch \(epoch) sample count")
            #expect(Set(indices).count == 90, "epoch \(epoch) repeats a sample")
        }
    }

    @Test func epochCounter() throws {
        let dataset = Self.data.train
        var iterator = try BatchIterator(dataset: dataset, batchSize: 25, seed: 3)
        let images = Tensor(shape: [25, 2, 6, 5])
        var labels = [Int32](repeating: 0, count: 25)
        #expect(iterator.epoch == 0)
        #expect(iterator.lastBatchIndices.isEmpty)
        var observed: [[Int]] = []
        for _ in 0..<9 {
            iterator.next(into: images, labels: &labels)
            observed.append([iterator.epoch, iterator.batchInEpoch])
        }
        let expected = [
            [0, 0], [0, 1], [0, 2], [0, 3], [1, 0], [1, 1], [1, 2], [1, 3], [2, 0],
        ]
        #expect(observed == expected)
    }

    @Test func batchCopiesImagesAndLabels() throws {
        let dataset = Self.data.train
        var iterator = try BatchIterator(dataset: dataset, batchSize: 8, seed: 4)
        let images = Tensor(shape: [8, 2, 6, 5])
        var labels = [Int32](repeating: -1, count: 8)
        for _ in 0..<15 {
            iterator.next(into: images, labels: &labels)
            for (slot, sample) in iterator.lastBatchIndices.enumerated() {
                #expect(labels[slot] == dataset.labels[sample], "slot \(slot), sample \(sample)")
                let copied = Array(images.buffer[slot * 60..<(slot + 1) * 60])
                #expect(
                    copied == Array(dataset.image(at: sample)), "slot \(slot), sample \(sample)")
            }
        }
    }

    @Test func batchLargerThanSplit() {
        expectDataError(containing: ["batch size 11", "10 samples of shapes test", "at most 10"]) {
            try BatchIterator(dataset: Self.data.test, batchSize: 11, seed: 0)
        }
    }
}
