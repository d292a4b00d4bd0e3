import Engine

/// One batch read from a safetensors file with exactly two tensors: `images` (F32, shape
/// N,C,H,W, already normalised) and `labels` (I64, shape N). The reader checks dtypes,
/// shapes and finite pixel values, and `check` compares the batch with a model's input.
public struct BatchFile: Sendable {
    public let path: String
    /// N, C, H, W.
    public let shape: [Int]
    public let images: [Float]
    public let labels: [Int32]

    public var count: Int { shape[0] }

    /// Reads and validates the batch file at `path`.
    public static func read(path: String) throws(BatchFileError) -> BatchFile {
        let file: SafetensorsFile
        do {
            file = try SafetensorsFile.read(path: path)
        } catch {
            throw BatchFileError(path: path, message: error.message)
        }
        return try BatchFile(file, path: path)
    }

    /// Validates the tensors of `file`. `path` names the source in errors.
    public init(_ file: SafetensorsFile, path: String) throws(BatchFileError) {
        func invalid(_ message: String) -> BatchFileError {
            BatchFileError(path: path, message: message)
        }
        for tensor in file.tensors where tensor.name != "images" && tensor.name != "labels" {
            throw invalid(
                "unexpected tensor '\(tensor.name)'; a batch file contains only images and labels")
        }
        guard let images = file.tensor(named: "images") else {
            throw invalid("missing tensor 'images' (F32, shape N,C,H,W)")
        }
        guard let labels = file.tensor(named: "labels") else {
            throw invalid("missing tensor 'labels' (I64, shape N)")
        }
        guard images.dtype == .F32 else {
            throw invalid("images has dtype \(images.dtype.rawValue), expected F32")
        }
        guard images.shape.count == 4, images.shape.allSatisfy({ $0 > 0 }) else {
            throw invalid(
                "images has shape \(images.shape), expected N,C,H,W with every dimension at "
                    + "least 1")
        }
        guard labels.dtype == .I64 else {
            throw invalid("labels has dtype \(labels.dtype.rawValue), expected I64")
        }
        guard labels.shape == [images.shape[0]] else {
            throw invalid(
                "labels has shape \(labels.shape), expected [\(images.shape[0])]: one label per "
                    + "image")
        }
        let pixels = images.floats!
        if let index = pixels.firstIndex(where: { !$0.isFinite }) {
            throw invalid(
                "images contains \(pixels[index]) at element \(index); expected finite values")
        }
        let values = labels.int64s!
        if let index = values.firstIndex(where: { $0 < 0 || $0 > Int64(Int32.max) }) {
            throw invalid("labels[\(index)] is \(values[index]), expected a class index from 0")
        }
        self.path = path
        self.shape = images.shape
        self.images = pixels
        self.labels = values.map { Int32($0) }
    }

    /// Throws unless the images are C,H,W = `channels`,`height`,`width` and every label is
    /// below `classCount`.
    public func check(channels: Int, height: Int, width: Int, classCount: Int)
        throws(BatchFileError)
    {
        guard Array(shape.dropFirst()) == [channels, height, width] else {
            throw BatchFileError(
                path: path,
                message: "images have shape \(shape), but the model takes "
                    + "\(channels)x\(height)x\(width) images; pass --input "
                    + "\(shape[1]),\(shape[2]),\(shape[3]) or use a matching batch")
        }
        if let index = labels.firstIndex(where: { $0 >= classCount }) {
            throw BatchFileError(
                path: path,
                message: "labels[\(index)] is \(labels[index]), but the model has "
                    + "\(classCount) classes (0 to \(classCount - 1))")
        }
    }
}

/// A batch file that cannot be read or does not fit the model, with the problem in one line.
public struct BatchFileError: Error, Equatable, CustomStringConvertible {
    public var path: String
    public var message: String

    public init(path: String, message: String) {
        self.path = path
        self.message = message
    }

    public var description: String { "\(path): \(message)" }
}

/// Feeds the same batch to every iteration. The epoch it reports is the number of batches
/// taken before, because each iteration is one pass over the file.
public final class FixedBatchSource: BatchSource, @unchecked Sendable {
    public let name: String
    private let batch: BatchFile
    private var batchesTaken = 0

    public init(_ batch: BatchFile, name: String) {
        self.batch = batch
        self.name = name
    }

    public func nextBatch(images: Tensor, labels: inout [Int32]) -> Int {
        precondition(images.shape == batch.shape, "batch \(batch.shape) into \(images.shape)")
        for index in batch.images.indices { images[index] = batch.images[index] }
        labels = batch.labels
        batchesTaken += 1
        return batchesTaken - 1
    }

    /// Returns the number of batches taken, the epoch the next batch reports.
    public func savePosition() -> any Sendable { batchesTaken }

    public func restorePosition(_ position: any Sendable) {
        guard let saved = position as? Int else {
            preconditionFailure("position \(type(of: position)) is not a batch count")
        }
        batchesTaken = saved
    }
}
