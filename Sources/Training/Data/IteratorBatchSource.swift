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

    /// Returns a copy of the iterator, which contains the epoch's order and the batch index.
    public func savePosition() -> any Sendable { iterator }

    public func restorePosition(_ position: any Sendable) {
        guard let saved = position as? BatchIterator else {
            preconditionFailure("position \(type(of: position)) is not a BatchIterator")
        }
        iterator = saved
    }
}
