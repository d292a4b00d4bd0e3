import Engine

/// Feeds a stepper from a dataset split through a shuffling `BatchIterator`.
public final class IteratorBatchSource: BatchSource, @unchecked Sendable {
    public let name: String
    private var iterator: BatchIterator

    public init(name: String, iterator: BatchIterator) {
        self.name = name
        self.iterator = iterator
    }

    public func nextBatch(images: Tensor, labels: inout [Int32]) -> Int {
        // The iterator advances its epoch when it starts a new pass, so the epoch is read
        // after the batch is taken.
        iterator.next(into: images, labels: &labels)
        return iterator.epoch
    }
}
