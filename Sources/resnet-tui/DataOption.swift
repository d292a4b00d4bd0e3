import Training

/// The training split behind `--data`, with the image size the model must be built for.
struct OpenedData {
    var batches: BatchSource
    var channels: Int
    var height: Int
    var width: Int
    var classCount: Int
}

func openBatchSource(spec text: String, batchSize: Int, seed: UInt64) throws -> OpenedData {
    let spec: DataSpec
    do {
        spec = try DataSpec.parse(text)
    } catch {
        throw UsageError(description: error.description)
    }
    let source = try DataSource.load(spec, seed: seed)
    let train = source.train
    let iterator = try BatchIterator(dataset: train, batchSize: batchSize, seed: seed)
    return OpenedData(
        batches: IteratorBatchSource(name: source.name, iterator: iterator),
        channels: train.channels, height: train.height, width: train.width,
        classCount: train.classCount)
}
