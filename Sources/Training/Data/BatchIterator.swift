import Engine

/// Draws fixed-size batches from a split in a seeded random order that changes each epoch.
///
/// The order of epoch e depends only on the seed and e. Each epoch visits every sample at
/// most once. The count % batchSize samples left at the end of an epoch's order are
/// dropped, so every batch has the same size. `next` copies into buffers the caller
/// allocated once and allocates nothing itself.
public struct BatchIterator: Sendable {
    public let dataset: Dataset
    public let batchSize: Int
    public let seed: UInt64
    public var batchesPerEpoch: Int { dataset.count / batchSize }

    /// The epoch of the batch `next` returned last, starting at 0; 0 before the first batch.
    public private(set) var epoch: Int
    /// Index within its epoch of the batch `next` returned last; -1 before the first batch.
    public private(set) var batchInEpoch: Int
    /// Sample indices of the current epoch, in the order they are drawn.
    private var order: [Int]

    /// Throws `DataError.batchTooLarge` when the split has fewer than `batchSize` samples.
    public init(dataset: Dataset, batchSize: Int, seed: UInt64) throws(DataError) {
        precondition(batchSize > 0, "batch size must be positive, got \(batchSize)")
        guard batchSize <= dataset.count else {
            throw .batchTooLarge(
                batchSize: batchSize, count: dataset.count, dataset: dataset.displayName)
        }
        self.dataset = dataset
        self.batchSize = batchSize
        self.seed = seed
        self.epoch = 0
        self.batchInEpoch = -1
        self.order = Array(0..<dataset.count)
        shuffleOrder()
    }

    /// Indices into the split of the samples in the batch `next` returned last; empty
    /// before the first batch.
    public var lastBatchIndices: ArraySlice<Int> {
        guard batchInEpoch >= 0 else { return [] }
        return order[batchInEpoch * batchSize..<(batchInEpoch + 1) * batchSize]
    }

    /// Copies the next batch into `images`, shape [batchSize, channels, height, width],
    /// and `labels`, which must have batchSize elements. Starts a new epoch, with a new
    /// order, when the current one has no full batch left.
    public mutating func next(into images: Tensor, labels: inout [Int32]) {
        let expectedShape = [batchSize, dataset.channels, dataset.height, dataset.width]
        precondition(
            images.shape == expectedShape,
            "batch tensor has shape \(images.shape), expected \(expectedShape)")
        precondition(
            labels.count == batchSize,
            "labels array has \(labels.count) elements, expected \(batchSize)")

        if batchInEpoch + 1 >= batchesPerEpoch {
            epoch += 1
            batchInEpoch = 0
            shuffleOrder()
        } else {
            batchInEpoch += 1
        }

        let sampleSize = dataset.sampleSize
        let start = batchInEpoch * batchSize
        dataset.images.withUnsafeBufferPointer { source in
            for slot in 0..<batchSize {
                let sample = order[start + slot]
                (images.data + slot * sampleSize).update(
                    from: source.baseAddress! + sample * sampleSize, count: sampleSize)
            }
        }
        labels.withUnsafeMutableBufferPointer { destination in
            for slot in 0..<batchSize {
                destination[slot] = dataset.labels[order[start + slot]]
            }
        }
    }

    /// Sets `order` to the permutation of epoch `epoch`, starting from the identity so the
    /// result does not depend on earlier epochs.
    private mutating func shuffleOrder() {
        for i in order.indices {
            order[i] = i
        }
        var generator = SeededGenerator(seed: seed, stream: UInt64(epoch))
        generator.shuffle(&order)
    }
}
