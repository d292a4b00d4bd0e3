import Foundation
import Testing
import Training

/// Builds one CIFAR-10 record: the label byte, then the red, green and blue planes, each
/// filled by `pixel(channel, index)` for the 1024 pixels of the plane.
func cifarRecord(label: UInt8, pixel: (Int, Int) -> UInt8) -> [UInt8] {
    var record = [label]
    for channel in 0..<3 {
        for index in 0..<1024 {
            record.append(pixel(channel, index))
        }
    }
    return record
}

/// A record whose planes have distinct values: red 10 + index % 7, green 100 +
/// index % 5, blue 200 + index % 3, so a reader that swaps planes or shifts them by a byte
/// reads different values.
func colouredRecord(label: UInt8) -> [UInt8] {
    cifarRecord(label: label) { channel, index in
        switch channel {
        case 0: return UInt8(10 + index % 7)
        case 1: return UInt8(100 + index % 5)
        default: return UInt8(200 + index % 3)
        }
    }
}

/// Writes the six batch files of a small CIFAR-10 directory, each with `recordsPerFile`
/// coloured records whose labels cycle through 0...9.
func writeSmallCIFAR(to directory: String, recordsPerFile: Int = 3, gzip: Bool = false) throws {
    var label: UInt8 = 0
    for name in CIFAR10.trainFileNames + [CIFAR10.testFileName] {
        var bytes: [UInt8] = []
        for _ in 0..<recordsPerFile {
            bytes += colouredRecord(label: label)
            label = (label + 1) % 10
        }
        _ = try write(gzip ? gzipStored(bytes) : bytes, to: directory, name: name)
    }
}

@Suite struct DataCIFARTests {
    @Test func planesReadInOrder() throws {
        let bytes = colouredRecord(label: 3) + colouredRecord(label: 9)
        let batch = try CIFAR10.parseBatch(bytes, path: "batch.bin")
        #expect(batch.count == 2)
        #expect(batch.labels == [3, 9])
        #expect(batch.pixels.count == 2 * 3072)
        for image in 0..<2 {
            let base = image * 3072
            for index in [0, 1, 31, 32, 1023] {
                #expect(batch.pixels[base + index] == UInt8(10 + index % 7), "red \(index)")
                #expect(batch.pixels[base + 1024 + index] == UInt8(100 + index % 5), "green")
                #expect(batch.pixels[base + 2048 + index] == UInt8(200 + index % 3), "blue")
            }
        }
    }

    @Test func loadNormalisesPerChannel() throws {
        let directory = try makeTemporaryDirectory()
        try writeSmallCIFAR(to: directory)
        let data = try DataSource.load(.cifar10(directory: directory))
        #expect(data.train.count == 15)
        #expect(data.test.count == 3)
        #expect(data.train.channels == 3)
        #expect(data.train.height == 32)
        #expect(data.train.width == 32)
        #expect(data.train.labels.prefix(4) == [0, 1, 2, 3])
        #expect(data.test.labels == [5, 6, 7])
        #expect(data.train.classNames[9] == "truck")

        // Every image has the same planes, so the channel means are those of one record.
        func planeMean(_ offset: Int, _ period: Int) -> Double {
            var sum = 0.0
            for index in 0..<1024 {
                sum += Double(offset + index % period)
            }
            return sum / 1024 / 255
        }
        let expectedMeans = [planeMean(10, 7), planeMean(100, 5), planeMean(200, 3)]
        for channel in 0..<3 {
            let observed = Double(data.train.channelMeans[channel])
            #expect(
                abs(observed - expectedMeans[channel]) < 1e-6,
                "channel \(channel) mean \(observed), expected \(expectedMeans[channel])")
        }

        // Undoing the normalisation gives back the bytes of the test image's planes.
        let image = Array(data.test.image(at: 0))
        for (channel, index, byte) in [(0, 5, 15), (1, 7, 102), (2, 8, 202)] {
            let value = image[channel * 1024 + index]
            let raw =
                value * data.test.channelStds[channel] + data.test.channelMeans[channel]
            #expect(abs(raw * 255 - Float(byte)) < 1e-3, "channel \(channel): \(raw * 255)")
        }
    }

    @Test func gzipBatchesAndArchiveFolder() throws {
        let directory = try makeTemporaryDirectory()
        let nested = (directory as NSString).appendingPathComponent("cifar-10-batches-bin")
        try FileManager.default.createDirectory(atPath: nested, withIntermediateDirectories: true)
        try writeSmallCIFAR(to: nested, recordsPerFile: 2, gzip: true)
        let data = try DataSource.load(.cifar10(directory: directory))
        #expect(data.train.count == 10)
        #expect(data.test.count == 2)
    }

    @Test func truncatedFile() throws {
        let directory = try makeTemporaryDirectory()
        let bytes = Array((colouredRecord(label: 1) + colouredRecord(label: 2)).dropLast(100))
        let path = try write(bytes, to: directory, name: "data_batch_1.bin")
        expectDataError(
            containing: [
                path, "6046 bytes", "3073-byte CIFAR-10 records",
                "1 records and 2973 bytes left over",
            ]
        ) {
            try CIFAR10.parseBatch(Gzip.readFile(atPath: path), path: path)
        }
    }

    @Test func cifar100RecordSizeRejected() throws {
        // CIFAR-100 records carry a coarse and a fine label: 3074 bytes.
        let bytes = [UInt8](repeating: 1, count: 2 * 3074)
        expectDataError(containing: ["c100.bin", "not a whole number of 3073-byte"]) {
            try CIFAR10.parseBatch(bytes, path: "c100.bin")
        }
    }

    @Test func emptyFile() throws {
        expectDataError(containing: ["empty.bin", "empty file"]) {
            try CIFAR10.parseBatch([], path: "empty.bin")
        }
    }

    @Test func labelOutOfRange() throws {
        let bytes = colouredRecord(label: 4) + colouredRecord(label: 10) + colouredRecord(label: 0)
        expectDataError(containing: ["b.bin", "label 10 of record 1", "outside 0..<10"]) {
            try CIFAR10.parseBatch(bytes, path: "b.bin")
        }
    }

    @Test func badLabelInDirectoryNamesFile() throws {
        let directory = try makeTemporaryDirectory()
        try writeSmallCIFAR(to: directory)
        let path = try write(
            colouredRecord(label: 255), to: directory, name: CIFAR10.testFileName)
        expectDataError(containing: [path, "label 255 of record 0"]) {
            try DataSource.load(.cifar10(directory: directory))
        }
    }

    @Test func missingBatchFile() throws {
        let directory = try makeTemporaryDirectory()
        try writeSmallCIFAR(to: directory)
        try FileManager.default.removeItem(
            atPath: (directory as NSString).appendingPathComponent("data_batch_5.bin"))
        expectDataError(containing: [directory, "none of data_batch_5.bin found"]) {
            try DataSource.load(.cifar10(directory: directory))
        }
    }

    @Test func missingDirectory() throws {
        let directory = try makeTemporaryDirectory() + "/absent"
        expectDataError(containing: [directory, "directory not found", "test_batch.bin"]) {
            try DataSource.load(.cifar10(directory: directory))
        }
    }
}

@Suite struct DataCIFARDirectoryTests {
    @Test func truncatedBatchInDirectory() throws {
        let directory = try makeTemporaryDirectory()
        try writeSmallCIFAR(to: directory)
        let bytes = Array(colouredRecord(label: 1).dropLast(1))
        let path = try write(bytes, to: directory, name: "data_batch_3.bin")
        expectDataError(containing: [path, "3072 bytes", "0 records and 3072 bytes left over"]) {
            try DataSource.load(.cifar10(directory: directory))
        }
    }

    @Test func truncatedGzipBatchInDirectory() throws {
        let directory = try makeTemporaryDirectory()
        try writeSmallCIFAR(to: directory)
        let bytes = colouredRecord(label: 1) + [7, 7]
        let path = try write(gzipStored(bytes), to: directory, name: "test_batch.bin")
        expectDataError(containing: [path, "3075 bytes", "1 records and 2 bytes left over"]) {
            try DataSource.load(.cifar10(directory: directory))
        }
    }
}
