import Foundation
import Testing
import Training

@Suite struct DataMNISTTests {
    @Test func realFilesArePresent() {
        var isDirectory: ObjCBool = false
        let exists = FileManager.default.fileExists(
            atPath: mnistDirectory, isDirectory: &isDirectory)
        #expect(exists, "MNIST directory not found: \(mnistDirectory)")
        #expect(isDirectory.boolValue, "MNIST path is not a directory: \(mnistDirectory)")
    }

    @Test func realSplitSizes() throws {
        let mnist = try realMNIST.get()
        #expect(mnist.train.count == 60_000)
        #expect(mnist.test.count == 10_000)
        #expect(mnist.train.labels.count == 60_000)
        #expect(mnist.train.images.count == 60_000 * 28 * 28)
        #expect(mnist.test.images.count == 10_000 * 28 * 28)
        #expect(mnist.train.channels == 1)
        #expect(mnist.train.height == 28)
        #expect(mnist.train.width == 28)
        #expect(mnist.train.classCount == 10)
        #expect(mnist.train.name == "mnist")
        #expect(mnist.train.split == .train)
        #expect(mnist.test.split == .test)
    }

    @Test func realFirstLabels() throws {
        let mnist = try realMNIST.get()
        // The first training image is the well-known 5, the first test image a 7.
        #expect(Array(mnist.train.labels.prefix(5)) == [5, 0, 4, 1, 9])
        #expect(Array(mnist.test.labels.prefix(3)) == [7, 2, 1])
    }

    @Test func realNormalisationStatistics() throws {
        let mnist = try realMNIST.get()
        // The raw-pixel statistics widely quoted for the MNIST train split.
        let mean = try #require(mnist.train.channelMeans.first)
        let std = try #require(mnist.train.channelStds.first)
        #expect(abs(mean - 0.1307) < 0.0001, "mean: expected 0.1307 +- 0.0001, observed \(mean)")
        #expect(abs(std - 0.3081) < 0.0001, "std: expected 0.3081 +- 0.0001, observed \(std)")
        #expect(mnist.test.channelMeans == mnist.train.channelMeans)
        #expect(mnist.test.channelStds == mnist.train.channelStds)
    }

    @Test func realPixelsAreNormalised() throws {
        let mnist = try realMNIST.get()
        let train = statistics(mnist.train.images)
        #expect(abs(train.mean) < 1e-3, "train mean: expected 0 +- 1e-3, observed \(train.mean)")
        #expect(abs(train.std - 1) < 1e-3, "train std: expected 1 +- 1e-3, observed \(train.std)")

        // Black pixels map to -mean/std and white ones to (1 - mean)/std.
        let black = -0.1307 / 0.3081
        let white = (1 - 0.1307) / 0.3081
        #expect(abs(train.min - black) < 1e-3, "min: expected \(black), observed \(train.min)")
        #expect(abs(train.max - white) < 1e-3, "max: expected \(white), observed \(train.max)")

        // The test split, normalised with the train statistics, is close to but not at 0 and 1.
        let test = statistics(mnist.test.images)
        #expect(abs(test.mean) < 0.05, "test mean: expected 0 +- 0.05, observed \(test.mean)")
        #expect(abs(test.std - 1) < 0.05, "test std: expected 1 +- 0.05, observed \(test.std)")
    }

    @Test func realImageLooksLikeADigit() throws {
        let mnist = try realMNIST.get()
        let image = Array(mnist.train.image(at: 0))
        let black = image.min()!
        // The digit sits in the middle: the border rows are black, the centre rows are not.
        let borderInk = (0..<28).filter { image[$0] != black || image[27 * 28 + $0] != black }
        #expect(borderInk.isEmpty, "ink in the first or last row at columns \(borderInk)")
        let centreInk = image[(14 * 28)..<(15 * 28)].filter { $0 > black }.count
        #expect(centreInk >= 3, "centre row: expected at least 3 ink pixels, observed \(centreInk)")
    }

    @Test func realClassBalance() throws {
        let mnist = try realMNIST.get()
        var counts = [Int](repeating: 0, count: 10)
        for label in mnist.train.labels {
            counts[Int(label)] += 1
        }
        // MNIST's classes range from 5421 (digit 5) to 6742 (digit 1) train samples.
        #expect(counts[5] == 5421, "digit 5: expected 5421, observed \(counts[5])")
        #expect(counts[1] == 6742, "digit 1: expected 6742, observed \(counts[1])")
        #expect(counts.reduce(0, +) == 60_000)
    }

    @Test func gzipReaderInflatesRealFile() throws {
        let bytes = try realTestImageBytes.get()
        #expect(bytes.count == 16 + 10_000 * 28 * 28)
        #expect(Array(bytes.prefix(4)) == [0, 0, 8, 3])
    }

    private func statistics(_ values: [Float]) -> (
        mean: Double, std: Double, min: Double, max: Double
    ) {
        var sum = 0.0
        var squareSum = 0.0
        for value in values {
            sum += Double(value)
            squareSum += Double(value) * Double(value)
        }
        let mean = sum / Double(values.count)
        let std = (squareSum / Double(values.count) - mean * mean).squareRoot()
        return (mean, std, Double(values.min()!), Double(values.max()!))
    }
}
