import Foundation
import Testing
import Training

/// Damaged copies of the real MNIST files, written to a temporary directory, each of which
/// must fail with a one-line message that names the file and the problem.
@Suite struct DataCorruptionTests {
    @Test func badMagicNumber() throws {
        let directory = try makeTemporaryDirectory()
        var bytes = try realTestLabelBytes.get()
        bytes[3] = 0x03
        let path = try write(bytes, to: directory, name: "t10k-labels-idx1-ubyte")
        expectDataError(containing: [path, "bad magic number 0x00000803, expected 0x00000801"]) {
            try IDX.parseLabels(Gzip.readFile(atPath: path), path: path, classCount: 10)
        }
    }

    @Test(arguments: [0, 3])
    func fileShorterThanHeader(length: Int) throws {
        let directory = try makeTemporaryDirectory()
        let path = try write(
            Array(repeating: 0, count: length), to: directory, name: "t10k-images-idx3-ubyte")
        expectDataError(
            containing: [path, "has \(length) bytes, too few for the 16-byte IDX header"]
        ) {
            try IDX.parseImages(Gzip.readFile(atPath: path), path: path)
        }
    }

    @Test func truncatedPlainFile() throws {
        let directory = try makeTemporaryDirectory()
        let bytes = Array(try realTestImageBytes.get().prefix(1000))
        let path = try write(bytes, to: directory, name: "t10k-images-idx3-ubyte")
        expectDataError(
            containing: [
                path, "truncated", "10000 images of 28x28 (7840016 bytes)", "has 1000 bytes",
            ]
        ) {
            try IDX.parseImages(Gzip.readFile(atPath: path), path: path)
        }
    }

    @Test func truncatedFileInsideGzip() throws {
        let directory = try makeTemporaryDirectory()
        let bytes = Array(try realTestLabelBytes.get().prefix(5008))
        let path = try write(gzipStored(bytes), to: directory, name: "t10k-labels-idx1-ubyte.gz")
        expectDataError(
            containing: [path, "truncated", "10000 labels (10008 bytes)", "has 5008 bytes"]
        ) {
            try IDX.parseLabels(Gzip.readFile(atPath: path), path: path, classCount: 10)
        }
    }

    @Test func headerShorterThanItself() throws {
        let directory = try makeTemporaryDirectory()
        let bytes = Array(try realTestImageBytes.get().prefix(10))
        let path = try write(bytes, to: directory, name: "t10k-images-idx3-ubyte")
        expectDataError(containing: [path, "truncated", "16-byte IDX header", "has 10 bytes"]) {
            try IDX.parseImages(Gzip.readFile(atPath: path), path: path)
        }
    }

    @Test func extraBytesAfterData() throws {
        let directory = try makeTemporaryDirectory()
        let bytes = try realTestLabelBytes.get() + [1, 2, 3]
        let path = try write(bytes, to: directory, name: "t10k-labels-idx1-ubyte")
        expectDataError(containing: [path, "too long", "10000 labels", "has 10011 bytes"]) {
            try IDX.parseLabels(Gzip.readFile(atPath: path), path: path, classCount: 10)
        }
    }

    @Test func zeroImageSize() throws {
        let directory = try makeTemporaryDirectory()
        var bytes = try realTestImageBytes.get()
        bytes.replaceSubrange(8..<12, with: bigEndianBytes(0))
        let path = try write(bytes, to: directory, name: "t10k-images-idx3-ubyte")
        expectDataError(containing: [path, "invalid dimensions", "images of 0x28"]) {
            try IDX.parseImages(Gzip.readFile(atPath: path), path: path)
        }
    }

    @Test func imageAndLabelCountsDisagree() throws {
        let directory = try makeTemporaryDirectory()
        try writeSmallMNIST(to: directory)
        let labels = try realTestLabelBytes.get()
        let labelsPath = try write(
            labelFile(from: labels, first: 0, count: 199), to: directory,
            name: "train-labels-idx1-ubyte")
        let imagesPath = (directory as NSString).appendingPathComponent("train-images-idx3-ubyte")
        expectDataError(
            containing: [imagesPath, "200 images", labelsPath, "199 labels"]
        ) {
            try DataSource.load(.mnist(directory: directory))
        }
    }

    @Test func labelOutOfRange() throws {
        let directory = try makeTemporaryDirectory()
        try writeSmallMNIST(to: directory)
        var labels = labelFile(from: try realTestLabelBytes.get(), first: 200, count: 100)
        labels[8 + 42] = 10
        let path = try write(labels, to: directory, name: "t10k-labels-idx1-ubyte")
        expectDataError(containing: [path, "label 10 at index 42 is outside 0..<10"]) {
            try DataSource.load(.mnist(directory: directory))
        }
    }

    @Test func gzipWithFlippedCRC() throws {
        let directory = try makeTemporaryDirectory()
        var bytes = [UInt8](
            try Data(contentsOf: URL(fileURLWithPath: mnistPath("t10k-labels-idx1-ubyte.gz"))))
        // The trailer is CRC-32 then ISIZE, 4 bytes each, little-endian.
        bytes[bytes.count - 8] ^= 0x01
        let path = try write(bytes, to: directory, name: "t10k-labels-idx1-ubyte.gz")
        expectDataError(containing: [path, "damaged gzip data", "CRC-32"]) {
            try Gzip.readFile(atPath: path)
        }
    }

    @Test func gzipWithWrongLength() throws {
        let directory = try makeTemporaryDirectory()
        var bytes = [UInt8](
            try Data(contentsOf: URL(fileURLWithPath: mnistPath("t10k-labels-idx1-ubyte.gz"))))
        bytes[bytes.count - 1] ^= 0x01
        let path = try write(bytes, to: directory, name: "t10k-labels-idx1-ubyte.gz")
        expectDataError(containing: [path, "damaged gzip data", "length in the gzip trailer"]) {
            try Gzip.readFile(atPath: path)
        }
    }

    @Test func gzipCutShort() throws {
        let directory = try makeTemporaryDirectory()
        let real = [UInt8](
            try Data(contentsOf: URL(fileURLWithPath: mnistPath("t10k-images-idx3-ubyte.gz"))))
        for length in [real.count / 2, real.count - 4, 12] {
            let path = try write(
                Array(real.prefix(length)), to: directory, name: "cut-\(length).gz")
            expectDataError(containing: [path, "gzip stream cut short"]) {
                try Gzip.readFile(atPath: path)
            }
        }
    }

    @Test func gzipWithTrailingGarbage() throws {
        let directory = try makeTemporaryDirectory()
        let real = [UInt8](
            try Data(contentsOf: URL(fileURLWithPath: mnistPath("t10k-labels-idx1-ubyte.gz"))))
        let path = try write(real + [0, 0, 0], to: directory, name: "t10k-labels-idx1-ubyte.gz")
        expectDataError(containing: [path, "3 bytes after the end of the gzip stream"]) {
            try Gzip.readFile(atPath: path)
        }
    }

    @Test func multiMemberGzipReadsEveryMember() throws {
        let directory = try makeTemporaryDirectory()
        let labels = try realTestLabelBytes.get()
        let joined = gzipStored(Array(labels[0..<3000])) + gzipStored(Array(labels[3000...]))
        let path = try write(joined, to: directory, name: "t10k-labels-idx1-ubyte.gz")
        let read = try Gzip.readFile(atPath: path)
        #expect(read.count == labels.count)
        let firstDifference = read.indices.first { $0 < labels.count && read[$0] != labels[$0] }
        #expect(
            firstDifference == nil,
            "inflated bytes differ from the source at index \(firstDifference ?? -1)")
    }

    @Test func multiMemberGzipAfterRealMember() throws {
        // A real deflate member followed by a stored one: the reader must inflate the
        // second member, which the IDX check then reports as 5 bytes too many.
        let directory = try makeTemporaryDirectory()
        let real = [UInt8](
            try Data(contentsOf: URL(fileURLWithPath: mnistPath("t10k-labels-idx1-ubyte.gz"))))
        let path = try write(
            real + gzipStored([1, 2, 3, 4, 5]), to: directory, name: "t10k-labels-idx1-ubyte.gz")
        let read = try Gzip.readFile(atPath: path)
        #expect(read.count == 10_013)
        #expect(Array(read.suffix(5)) == [1, 2, 3, 4, 5])
        expectDataError(containing: [path, "too long", "has 10013 bytes"]) {
            try IDX.parseLabels(read, path: path, classCount: 10)
        }
    }

    @Test func inflatedSizeLimit() throws {
        let path = mnistPath("t10k-images-idx3-ubyte.gz")
        expectDataError(containing: [path, "inflates to more than the limit of 2000000 bytes"]) {
            try Gzip.readFile(atPath: path, maxBytes: 2_000_000)
        }
    }

    @Test func plainFileLimit() throws {
        let directory = try makeTemporaryDirectory()
        let path = try write(try realTestLabelBytes.get(), to: directory, name: "labels")
        expectDataError(containing: [path, "file has 10008 bytes", "limit of 1000 bytes"]) {
            try Gzip.readFile(atPath: path, maxBytes: 1000)
        }
    }

    @Test func plainFileNamedGz() throws {
        let directory = try makeTemporaryDirectory()
        try writeSmallMNIST(to: directory, names: MNIST.fileNames.map { $0 + ".gz" })
        let data = try DataSource.load(.mnist(directory: directory))
        #expect(data.train.count == 200)
        #expect(data.test.count == 100)
    }

    @Test func gzipFileWithoutGzSuffix() throws {
        let directory = try makeTemporaryDirectory()
        try writeSmallMNIST(to: directory, gzip: true)
        let data = try DataSource.load(.mnist(directory: directory))
        #expect(data.train.count == 200)
        #expect(data.test.labels == Array(try realMNIST.get().test.labels[200..<300]))
    }

    @Test func dotSpelling() throws {
        let directory = try makeTemporaryDirectory()
        let names = [
            "train-images.idx3-ubyte", "train-labels.idx1-ubyte", "t10k-images.idx3-ubyte",
            "t10k-labels.idx1-ubyte",
        ]
        try writeSmallMNIST(to: directory, names: names)
        let data = try DataSource.load(.fashionMNIST(directory: directory))
        #expect(data.train.count == 200)
        #expect(data.test.count == 100)
        #expect(data.name == "fashion-mnist")
        #expect(data.train.classNames[9] == "Ankle boot")
        // Same pixels as the real test split: images 200..<300 of t10k.
        let real = try realMNIST.get().test
        let mean = data.train.channelMeans[0]
        let std = data.train.channelStds[0]
        let realMean = real.channelMeans[0]
        let realStd = real.channelStds[0]
        let observed = data.test.image(at: 0).map { $0 * std + mean }
        let expected = real.image(at: 200).map { $0 * realStd + realMean }
        let maxDifference = zip(observed, expected).map { abs($0 - $1) }.max()!
        #expect(maxDifference < 1e-5, "raw pixels: max difference \(maxDifference), tolerance 1e-5")
    }

    @Test func missingDirectory() throws {
        let directory = try makeTemporaryDirectory() + "/absent"
        expectDataError(
            containing: [
                directory, "directory not found", "train-images-idx3-ubyte",
                "t10k-labels-idx1-ubyte",
            ]
        ) {
            try DataSource.load(.mnist(directory: directory))
        }
    }

    @Test func pathIsAFile() throws {
        let path = mnistPath("t10k-labels-idx1-ubyte.gz")
        expectDataError(containing: [path, "not a directory"]) {
            try DataSource.load(.mnist(directory: path))
        }
    }

    @Test func missingFile() throws {
        let directory = try makeTemporaryDirectory()
        try writeSmallMNIST(to: directory)
        try FileManager.default.removeItem(
            atPath: (directory as NSString).appendingPathComponent("t10k-images-idx3-ubyte"))
        expectDataError(
            containing: [
                directory,
                "t10k-images-idx3-ubyte, t10k-images-idx3-ubyte.gz, "
                    + "t10k-images.idx3-ubyte, t10k-images.idx3-ubyte.gz", "found",
            ]
        ) {
            try DataSource.load(.mnist(directory: directory))
        }
    }
}
