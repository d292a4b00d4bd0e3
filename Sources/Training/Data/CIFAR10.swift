import Foundation

/// The records of one CIFAR-10 binary batch file.
public struct CIFAR10Batch: Sendable {
    public let count: Int
    /// Pixels 0...255 in the file's order, which is already [count, 3, 32, 32]: per image
    /// the red plane, then green, then blue, each row-major.
    public let pixels: [UInt8]
    public let labels: [Int32]
}

/// Reader for the binary version of CIFAR-10, as unpacked from `cifar-10-binary.tar.gz`.
/// Each batch file is a sequence of 3073-byte records: one label byte in 0...9, then 1024
/// red, 1024 green and 1024 blue bytes of a 32x32 image, row-major. The files have no header, so the record size and the labels are
/// all that can be checked.
public enum CIFAR10 {
    public static let channels = 3
    public static let side = 32
    public static let imageBytes = channels * side * side
    public static let recordBytes = 1 + imageBytes

    public static let classNames = [
        "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
    ]
    public static let trainFileNames = (1...5).map { "data_batch_\($0).bin" }
    public static let testFileName = "test_batch.bin"
    /// The folder that the archive unpacks to, which `load` also looks inside.
    public static let archiveFolder = "cifar-10-batches-bin"

    /// Parses one batch file. `path` only names the file in errors. The length and every
    /// label are checked before the pixels are copied.
    public static func parseBatch(_ bytes: [UInt8], path: String) throws(DataError)
        -> CIFAR10Batch
    {
        guard !bytes.isEmpty, bytes.count % recordBytes == 0 else {
            throw .recordLengthMismatch(
                path: path, bytes: bytes.count, recordBytes: recordBytes, format: "CIFAR-10")
        }
        let count = bytes.count / recordBytes
        for record in 0..<count {
            let label = Int(bytes[record * recordBytes])
            guard label < classNames.count else {
                throw .recordLabelOutOfRange(
                    path: path, record: record, label: label, classCount: classNames.count)
            }
        }

        var pixels = [UInt8](repeating: 0, count: count * imageBytes)
        var labels = [Int32](repeating: 0, count: count)
        bytes.withUnsafeBufferPointer { source in
            pixels.withUnsafeMutableBufferPointer { destination in
                for record in 0..<count {
                    let start = record * recordBytes
                    labels[record] = Int32(source[start])
                    (destination.baseAddress! + record * imageBytes).update(
                        from: source.baseAddress! + start + 1, count: imageBytes)
                }
            }
        }
        return CIFAR10Batch(count: count, pixels: pixels, labels: labels)
    }

    /// Loads `data_batch_1.bin` to `data_batch_5.bin` as the train split and
    /// `test_batch.bin` as the test split, from `directory` or from its
    /// `cifar-10-batches-bin` folder. Files may be gzip-compressed, whatever their name.
    /// Both splits are normalised per channel with the train split's mean and standard
    /// deviation. Images become [N, 3, 32, 32].
    ///
    /// NOTE: the splits are kept as Float, about 600 MB for the 50,000 train images.
    public static func load(directory: String, maxFileBytes: Int = Gzip.defaultMaxBytes)
        throws(DataError) -> DataSource
    {
        let allNames = trainFileNames + [testFileName]
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) else {
            throw .directoryNotFound(path: directory, expectedFiles: allNames)
        }
        guard isDirectory.boolValue else {
            throw .notADirectory(path: directory)
        }
        let folder = try locateFolder(directory, containing: allNames)

        var trainPixels: [UInt8] = []
        var trainLabels: [Int32] = []
        for name in trainFileNames {
            let path = (folder as NSString).appendingPathComponent(name)
            try checkPlainLength(path)
            let batch = try parseBatch(
                Gzip.readFile(atPath: path, maxBytes: maxFileBytes), path: path)
            trainPixels += batch.pixels
            trainLabels += batch.labels
        }
        let testPath = (folder as NSString).appendingPathComponent(testFileName)
        try checkPlainLength(testPath)
        let test = try parseBatch(
            Gzip.readFile(atPath: testPath, maxBytes: maxFileBytes), path: testPath)

        let (means, stds) = byteChannelStatistics(trainPixels)
        func makeSplit(_ pixels: [UInt8], _ labels: [Int32], _ split: Dataset.Split) -> Dataset {
            Dataset(
                name: "cifar10", split: split,
                images: normalizeBytes(pixels, means: means, stds: stds), labels: labels,
                channels: channels, height: side, width: side, classNames: classNames,
                channelMeans: means, channelStds: stds)
        }
        return DataSource(
            name: "cifar10", train: makeSplit(trainPixels, trainLabels, .train),
            test: makeSplit(test.pixels, test.labels, .test))
    }

    /// Checks the length of an uncompressed batch file from its size on disk, before the
    /// file is read into memory. Gzip files are checked by `parseBatch` after inflating.
    private static func checkPlainLength(_ path: String) throws(DataError) {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw .readFailed(path: path, reason: "cannot open the file")
        }
        defer { try? handle.close() }
        let magic = (try? handle.read(upToCount: 2)) ?? Data()
        guard !Gzip.hasMagic(magic) else { return }
        let size = (try? handle.seekToEnd()).map(Int.init) ?? 0
        guard size > 0, size % recordBytes == 0 else {
            throw .recordLengthMismatch(
                path: path, bytes: size, recordBytes: recordBytes, format: "CIFAR-10")
        }
    }

    /// Returns `directory`, or its archive folder when only that contains the files.
    /// Throws `.fileNotFound` naming the first missing file.
    private static func locateFolder(_ directory: String, containing names: [String])
        throws(DataError) -> String
    {
        let nested = (directory as NSString).appendingPathComponent(archiveFolder)
        for folder in [directory, nested] {
            let present = names.filter {
                FileManager.default.fileExists(
                    atPath: (folder as NSString).appendingPathComponent($0))
            }
            if present.count == names.count {
                return folder
            }
            if !present.isEmpty {
                let missing = names.first { !present.contains($0) }!
                throw .fileNotFound(directory: folder, candidates: [missing])
            }
        }
        throw .fileNotFound(directory: directory, candidates: names)
    }

    /// Computes the mean and standard deviation of each channel's pixels scaled to [0, 1],
    /// exactly, from a histogram of the 256 byte values per channel.
    private static func byteChannelStatistics(_ pixels: [UInt8]) -> ([Float], [Float]) {
        let planeBytes = side * side
        var histograms = [[Int]](repeating: [Int](repeating: 0, count: 256), count: channels)
        pixels.withUnsafeBufferPointer { buffer in
            for (index, pixel) in buffer.enumerated() {
                histograms[(index / planeBytes) % channels][Int(pixel)] += 1
            }
        }
        var means: [Float] = []
        var stds: [Float] = []
        for histogram in histograms {
            var sum = 0.0
            var squareSum = 0.0
            var n = 0.0
            for (value, frequency) in histogram.enumerated() {
                let x = Double(value) / 255
                sum += x * Double(frequency)
                squareSum += x * x * Double(frequency)
                n += Double(frequency)
            }
            let mean = sum / max(n, 1)
            let variance = squareSum / max(n, 1) - mean * mean
            means.append(Float(mean))
            // A constant channel keeps std 1 so normalising does not divide by zero.
            stds.append(variance > 1e-12 ? Float(variance.squareRoot()) : 1)
        }
        return (means, stds)
    }

    /// Converts [N, 3, 32, 32] bytes to normalised Floats with one table per channel.
    private static func normalizeBytes(_ pixels: [UInt8], means: [Float], stds: [Float])
        -> [Float]
    {
        let tables = (0..<channels).map { channel in
            (0..<256).map { (Float($0) / 255 - means[channel]) / stds[channel] }
        }
        let planeBytes = side * side
        var values = [Float](repeating: 0, count: pixels.count)
        pixels.withUnsafeBufferPointer { source in
            values.withUnsafeMutableBufferPointer { destination in
                for plane in 0..<pixels.count / planeBytes {
                    let table = tables[plane % channels]
                    let start = plane * planeBytes
                    for i in start..<start + planeBytes {
                        destination[i] = table[Int(source[i])]
                    }
                }
            }
        }
        return values
    }
}
