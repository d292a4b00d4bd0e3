import Foundation
import Training

/// The data behind `--data`: batches of the training split, the test split, and the image
/// size the model must be built for.
struct OpenedData {
    var batches: BatchSource
    var test: Dataset
    var batchesPerEpoch: Int
    var channels: Int
    var height: Int
    var width: Int
    var classCount: Int
}

/// Loads the data set `text` names and starts a shuffled pass over its training split.
/// `shapesSize` (channels, height, width) sets the size of the built-in shapes data. For a
/// data set read from files it must be nil or match the files' image size.
func openBatchSource(spec text: String, batchSize: Int, seed: UInt64, shapesSize: [Int]? = nil)
    throws -> OpenedData
{
    let spec: DataSpec
    do {
        spec = try DataSpec.parse(text)
    } catch {
        throw UsageError(description: error.description)
    }
    let source = try DataSource.load(spec, seed: seed, shapesSize: shapesSize)
    let train = source.train
    if let shapesSize, shapesSize != [train.channels, train.height, train.width] {
        throw UsageError(
            description: "--input \(shapesSize.map(String.init).joined(separator: ",")) does "
                + "not match the \(train.channels)x\(train.height)x\(train.width) images of "
                + "\(source.name); leave --input out for data read from files")
    }
    let iterator = try BatchIterator(dataset: train, batchSize: batchSize, seed: seed)
    return OpenedData(
        batches: IteratorBatchSource(name: source.name, iterator: iterator), test: source.test,
        batchesPerEpoch: iterator.batchesPerEpoch, channels: train.channels,
        height: train.height, width: train.width, classCount: train.classCount)
}

/// Parses `--input C,H,W`: three positive integers, at most 4096 channels and 4096 pixels
/// a side. Returns nil when the flag is absent.
func parseInputSize(_ parsed: ParsedArguments) throws -> [Int]? {
    guard let text = parsed.values["input"] else { return nil }
    let parts = text.split(separator: ",", omittingEmptySubsequences: false)
    let sizes = parts.compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
    guard parts.count == 3, sizes.count == 3, sizes.allSatisfy({ (1...4096).contains($0) }) else {
        throw UsageError(
            description: "invalid value '\(text)' for --input: expected channels,height,width "
                + "as three integers from 1 to 4096, such as 3,32,32")
    }
    // The shapes data keeps both splits in memory as Float.
    let defaults = ShapesConfiguration()
    let imageCount = defaults.trainCount + defaults.testCount
    let limit = 4 << 30
    let bytes = imageCount * sizes.reduce(MemoryLayout<Float>.size, *)
    guard bytes <= limit else {
        throw UsageError(
            description: "--input \(text) would need \(bytes >> 20) MiB for the \(imageCount) "
                + "shapes images, more than the limit of \(limit >> 20) MiB; use a smaller size "
                + "such as 3,64,64")
    }
    return sizes
}
