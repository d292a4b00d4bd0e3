import Foundation

/// The unsigned-byte image tensor of an IDX file: `count` images of `rows` x `columns`.
public struct IDXImages: Sendable {
    public let count: Int
    public let rows: Int
    public let columns: Int
    /// Pixels 0...255, row-major, `count * rows * columns` of them.
    public let pixels: ArraySlice<UInt8>
}

/// Readers for the IDX format of MNIST and Fashion-MNIST. All integers in the header are
/// big-endian 32-bit. An image file is the magic 0x00000803, then count, rows and columns,
/// then one byte per pixel. A label file is the magic 0x00000801, then count, then one
/// byte per label.
public enum IDX {
    public static let imagesMagic: UInt32 = 0x0000_0803
    public static let labelsMagic: UInt32 = 0x0000_0801
    /// Upper bound on rows and columns, far above any MNIST-style data set, that keeps
    /// the expected length computable without overflow.
    public static let maxSide = 4096

    /// Parses an image file. `path` only names the file in errors. The header's counts
    /// are checked against `bytes.count` before anything is allocated from them.
    public static func parseImages(_ bytes: [UInt8], path: String) throws(DataError) -> IDXImages {
        let headerSize = 16
        try checkMagic(bytes, expected: imagesMagic, headerSize: headerSize, path: path)
        let count = readInt(bytes, at: 4)
        let rows = readInt(bytes, at: 8)
        let columns = readInt(bytes, at: 12)
        guard (1...maxSide).contains(rows), (1...maxSide).contains(columns) else {
            throw .invalidDimensions(
                path: path,
                detail: "images of \(rows)x\(columns), expected 1 to \(maxSide) "
                    + "rows and columns")
        }

        // count < 2^32 and rows * columns <= 2^24, so the product fits in 64 bits.
        let expected = headerSize + count * rows * columns
        guard bytes.count == expected else {
            throw .lengthMismatch(
                path: path, content: "\(count) images of \(rows)x\(columns)",
                expectedBytes: expected, actualBytes: bytes.count)
        }
        return IDXImages(
            count: count, rows: rows, columns: columns, pixels: bytes[headerSize...])
    }

    /// Parses a label file and checks that every label is in 0..<classCount.
    public static func parseLabels(
        _ bytes: [UInt8], path: String, classCount: Int
    ) throws(DataError) -> [Int32] {
        let headerSize = 8
        try checkMagic(bytes, expected: labelsMagic, headerSize: headerSize, path: path)
        let count = readInt(bytes, at: 4)
        let expected = headerSize + count
        guard bytes.count == expected else {
            throw .lengthMismatch(
                path: path, content: "\(count) labels", expectedBytes: expected,
                actualBytes: bytes.count)
        }

        var labels = [Int32](repeating: 0, count: count)
        for index in 0..<count {
            let label = Int(bytes[headerSize + index])
            guard label < classCount else {
                throw .labelOutOfRange(
                    path: path, index: index, label: label, classCount: classCount)
            }
            labels[index] = Int32(label)
        }
        return labels
    }

    private static func checkMagic(
        _ bytes: [UInt8], expected: UInt32, headerSize: Int, path: String
    ) throws(DataError) {
        guard bytes.count >= 4 else {
            throw .shorterThanHeader(path: path, headerBytes: headerSize, actualBytes: bytes.count)
        }
        let magic = UInt32(readInt(bytes, at: 0))
        guard magic == expected else {
            throw .badMagic(path: path, expected: expected, found: magic)
        }
        guard bytes.count >= headerSize else {
            throw .lengthMismatch(
                path: path, content: "nothing (the \(headerSize)-byte IDX header is cut short)",
                expectedBytes: headerSize, actualBytes: bytes.count)
        }
    }

    private static func readInt(_ bytes: [UInt8], at offset: Int) -> Int {
        var value = 0
        for i in offset..<offset + 4 {
            value = value << 8 | Int(bytes[i])
        }
        return value
    }
}

/// Loader for MNIST and Fashion-MNIST directories.
public enum MNIST {
    public static let digitNames = (0..<10).map { String($0) }
    /// Fashion-MNIST's class names in label order.
    public static let fashionNames = [
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
        "Bag", "Ankle boot",
    ]

    /// The four files of a directory, by their canonical names.
    public static let fileNames = [
        "train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte",
    ]

    /// Names under which the file `canonicalName` is accepted, in the order they are
    /// tried: the dash spelling and the dot spelling (`train-images.idx3-ubyte`, used by
    /// some mirrors), each plain or with `.gz`. Whether a file is gzip is decided by its
    /// content, not by this suffix.
    public static func candidateNames(for canonicalName: String) -> [String] {
        var dotted = canonicalName
        if let range = canonicalName.range(of: "-idx") {
            dotted.replaceSubrange(range, with: ".idx")
        }
        return [canonicalName, canonicalName + ".gz", dotted, dotted + ".gz"]
    }

    /// Loads the train and test splits from `directory` and normalises both with the mean
    /// and standard deviation computed from the train split's pixels (for MNIST these
    /// come out as 0.1307 and 0.3081). Images become [N, 1, rows, columns].
    public static func load(
        directory: String, name: String, classNames: [String],
        maxFileBytes: Int = Gzip.defaultMaxBytes
    ) throws(DataError) -> DataSource {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) else {
            throw .directoryNotFound(path: directory, expectedFiles: fileNames)
        }
        guard isDirectory.boolValue else {
            throw .notADirectory(path: directory)
        }

        let paths = try fileNames.map { name throws(DataError) in
            try locate(name, in: directory)
        }
        let trainImages = try IDX.parseImages(
            Gzip.readFile(atPath: paths[0], maxBytes: maxFileBytes), path: paths[0])
        let trainLabels = try IDX.parseLabels(
            Gzip.readFile(atPath: paths[1], maxBytes: maxFileBytes), path: paths[1],
            classCount: classNames.count)
        let testImages = try IDX.parseImages(
            Gzip.readFile(atPath: paths[2], maxBytes: maxFileBytes), path: paths[2])
        let testLabels = try IDX.parseLabels(
            Gzip.readFile(atPath: paths[3], maxBytes: maxFileBytes), path: paths[3],
            classCount: classNames.count)

        guard trainImages.count == trainLabels.count else {
            throw .countMismatch(
                imagesPath: paths[0], images: trainImages.count, labelsPath: paths[1],
                labels: trainLabels.count)
        }
        guard testImages.count == testLabels.count else {
            throw .countMismatch(
                imagesPath: paths[2], images: testImages.count, labelsPath: paths[3],
                labels: testLabels.count)
        }
        guard trainImages.rows == testImages.rows, trainImages.columns == testImages.columns
        else {
            throw .imageSizeMismatch(
                trainPath: paths[0], train: "\(trainImages.rows)x\(trainImages.columns)",
                testPath: paths[2], test: "\(testImages.rows)x\(testImages.columns)")
        }

        let (mean, std) = pixelStatistics(trainImages.pixels)
        // One table lookup per pixel instead of a division and a subtraction.
        let table = (0..<256).map { (Float($0) / 255 - mean) / std }
        func makeSplit(_ images: IDXImages, _ labels: [Int32], _ split: Dataset.Split) -> Dataset {
            Dataset(
                name: name, split: split, images: images.pixels.map { table[Int($0)] },
                labels: labels, channels: 1, height: images.rows, width: images.columns,
                classNames: classNames, channelMeans: [mean], channelStds: [std])
        }
        return DataSource(
            name: name, train: makeSplit(trainImages, trainLabels, .train),
            test: makeSplit(testImages, testLabels, .test))
    }

    private static func locate(_ canonicalName: String, in directory: String) throws(DataError)
        -> String
    {
        let candidates = candidateNames(for: canonicalName)
        for candidate in candidates {
            let path = (directory as NSString).appendingPathComponent(candidate)
            if FileManager.default.fileExists(atPath: path) {
                return path
            }
        }
        throw .fileNotFound(directory: directory, candidates: candidates)
    }

    /// Computes the mean and standard deviation of pixels scaled to [0, 1], exactly, from a
    /// histogram of the 256 byte values.
    private static func pixelStatistics(_ pixels: ArraySlice<UInt8>) -> (Float, Float) {
        var histogram = [Int](repeating: 0, count: 256)
        for pixel in pixels {
            histogram[Int(pixel)] += 1
        }
        var sum = 0.0
        var squareSum = 0.0
        for (value, frequency) in histogram.enumerated() {
            let x = Double(value) / 255
            sum += x * Double(frequency)
            squareSum += x * x * Double(frequency)
        }
        let n = Double(max(pixels.count, 1))
        let mean = sum / n
        let variance = squareSum / n - mean * mean
        // A blank train split keeps std 1 so normalising does not divide by zero.
        let std = variance > 1e-12 ? variance.squareRoot() : 1
        return (Float(mean), Float(std))
    }
}
