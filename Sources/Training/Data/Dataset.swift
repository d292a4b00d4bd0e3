/// One split of an image classification data set, held in memory and normalised.
public struct Dataset: Sendable {
    public enum Split: String, Sendable {
        case train
        case test
    }

    /// The data set's name as the user gave it: `shapes`, `mnist` or `fashion-mnist`.
    public let name: String
    public let split: Split
    /// Pixel values in NCHW order, shape [count, channels, height, width], already
    /// normalised with `channelMeans` and `channelStds`.
    public let images: [Float]
    /// Class of each image, in 0..<classCount.
    public let labels: [Int32]
    public let count: Int
    public let channels: Int
    public let height: Int
    public let width: Int
    public let classCount: Int
    /// Name of each class, `classCount` of them.
    public let classNames: [String]
    /// Per channel, the mean of the raw train-split pixels in [0, 1], subtracted from every
    /// pixel of both splits.
    public let channelMeans: [Float]
    /// Per channel, the standard deviation of the raw train-split pixels in [0, 1], which
    /// every pixel of both splits is divided by after subtracting the mean.
    public let channelStds: [Float]

    /// Values per image: channels * height * width.
    public var sampleSize: Int { channels * height * width }

    /// A short label for messages, such as "mnist train".
    public var displayName: String { "\(name) \(split.rawValue)" }

    public init(
        name: String, split: Split, images: [Float], labels: [Int32], channels: Int,
        height: Int, width: Int, classNames: [String], channelMeans: [Float],
        channelStds: [Float]
    ) {
        precondition(channels > 0 && height > 0 && width > 0, "empty image size")
        precondition(
            images.count == labels.count * channels * height * width,
            "\(images.count) pixel values for \(labels.count) images of "
                + "\(channels)x\(height)x\(width)")
        precondition(channelMeans.count == channels && channelStds.count == channels)
        precondition(
            labels.allSatisfy { $0 >= 0 && Int($0) < classNames.count },
            "label outside 0..<\(classNames.count)")
        self.name = name
        self.split = split
        self.images = images
        self.labels = labels
        self.count = labels.count
        self.channels = channels
        self.height = height
        self.width = width
        self.classCount = classNames.count
        self.classNames = classNames
        self.channelMeans = channelMeans
        self.channelStds = channelStds
    }

    /// Returns the normalised pixels of image `index`, shape [channels, height, width].
    public func image(at index: Int) -> ArraySlice<Float> {
        images[index * sampleSize..<(index + 1) * sampleSize]
    }
}

/// A data set's train and test splits, normalised with the same train-split statistics.
public struct DataSource: Sendable {
    public let name: String
    public let train: Dataset
    public let test: Dataset

    public init(name: String, train: Dataset, test: Dataset) {
        precondition(
            train.channels == test.channels && train.height == test.height
                && train.width == test.width && train.classCount == test.classCount,
            "train and test splits differ in image size or class count")
        self.name = name
        self.train = train
        self.test = test
    }

    /// Loads the data set that `spec` names. `seed` and `shapesSize` (channels, height,
    /// width; 1x28x28 when nil) only affect generated data (`shapes`).
    public static func load(
        _ spec: DataSpec, seed: UInt64 = 0, shapesSize: [Int]? = nil
    ) throws(DataError) -> DataSource {
        switch spec {
        case .shapes:
            var configuration = ShapesConfiguration(seed: seed)
            if let shapesSize {
                precondition(shapesSize.count == 3, "shapes size \(shapesSize) is not C,H,W")
                configuration.channels = shapesSize[0]
                configuration.height = shapesSize[1]
                configuration.width = shapesSize[2]
            }
            return shapes(configuration)
        case .mnist(let directory):
            return try MNIST.load(directory: directory, name: "mnist", classNames: MNIST.digitNames)
        case .fashionMNIST(let directory):
            return try MNIST.load(
                directory: directory, name: "fashion-mnist", classNames: MNIST.fashionNames)
        case .cifar10(let directory):
            return try CIFAR10.load(directory: directory)
        }
    }
}

/// Mean and standard deviation per channel of NCHW values, accumulated in Double because
/// a Float sum over millions of pixels would lose the low digits.
func channelStatistics(
    of values: UnsafeBufferPointer<Float>, channels: Int, planeSize: Int
) -> (means: [Float], stds: [Float]) {
    var sums = [Double](repeating: 0, count: channels)
    var squareSums = [Double](repeating: 0, count: channels)
    let samples = values.count / (channels * planeSize)
    for sample in 0..<samples {
        for channel in 0..<channels {
            let start = (sample * channels + channel) * planeSize
            var sum = 0.0
            var squareSum = 0.0
            for i in start..<start + planeSize {
                let value = Double(values[i])
                sum += value
                squareSum += value * value
            }
            sums[channel] += sum
            squareSums[channel] += squareSum
        }
    }

    let n = Double(max(samples * planeSize, 1))
    var means: [Float] = []
    var stds: [Float] = []
    for channel in 0..<channels {
        let mean = sums[channel] / n
        let variance = max(squareSums[channel] / n - mean * mean, 0)
        means.append(Float(mean))
        // A constant channel keeps std 1 so normalising does not divide by zero.
        stds.append(variance > 1e-12 ? Float(variance.squareRoot()) : 1)
    }
    return (means, stds)
}

/// Normalises NCHW values in place: (value - mean) / std, per channel.
func normalize(
    _ values: UnsafeMutableBufferPointer<Float>, channels: Int, planeSize: Int,
    means: [Float], stds: [Float]
) {
    let samples = values.count / (channels * planeSize)
    for sample in 0..<samples {
        for channel in 0..<channels {
            let mean = means[channel]
            let inverseStd = 1 / stds[channel]
            let start = (sample * channels + channel) * planeSize
            for i in start..<start + planeSize {
                values[i] = (values[i] - mean) * inverseStd
            }
        }
    }
}
