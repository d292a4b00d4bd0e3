import Foundation
import Testing
import Training

/// The real MNIST files, kept outside the repository next to it: ../shared/data/mnist
/// relative to the repository root.
let mnistDirectory: String = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent()  // TrainingTests
    .deletingLastPathComponent()  // Tests
    .deletingLastPathComponent()  // repository root
    .appendingPathComponent("../shared/data/mnist")
    .standardizedFileURL.path

/// Returns the full path of a real MNIST file, such as "t10k-labels-idx1-ubyte.gz".
func mnistPath(_ name: String) -> String {
    (mnistDirectory as NSString).appendingPathComponent(name)
}

/// The real MNIST data set, loaded once for all tests that need it.
let realMNIST: Result<DataSource, DataError> = Result { () throws(DataError) in
    try DataSource.load(.mnist(directory: mnistDirectory))
}

/// Inflated contents of the real test-split files, the source of the damaged copies.
let realTestImageBytes: Result<[UInt8], DataError> = Result { () throws(DataError) in
    try Gzip.readFile(atPath: mnistPath("t10k-images-idx3-ubyte.gz"))
}
let realTestLabelBytes: Result<[UInt8], DataError> = Result { () throws(DataError) in
    try Gzip.readFile(atPath: mnistPath("t10k-labels-idx1-ubyte.gz"))
}

/// Creates a new empty directory under the system's temporary directory.
func makeTemporaryDirectory() throws -> String {
    let path = (NSTemporaryDirectory() as NSString).appendingPathComponent(
        "resnet-tui-data-\(UUID().uuidString)")
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

func write(_ bytes: [UInt8], to directory: String, name: String) throws -> String {
    let path = (directory as NSString).appendingPathComponent(name)
    try Data(bytes).write(to: URL(fileURLWithPath: path))
    return path
}

/// Big-endian bytes of a 32-bit IDX header field.
func bigEndianBytes(_ value: Int) -> [UInt8] {
    (0..<4).map { UInt8(truncatingIfNeeded: value >> (8 * (3 - $0))) }
}

/// Builds an IDX image file with images first..<first+count of the real test split.
func imageFile(from real: [UInt8], first: Int, count: Int) -> [UInt8] {
    let size = 28 * 28
    let header = Array(real[0..<4]) + bigEndianBytes(count) + Array(real[8..<16])
    return header + Array(real[16 + first * size..<16 + (first + count) * size])
}

/// Builds an IDX label file with labels first..<first+count of the real test split.
func labelFile(from real: [UInt8], first: Int, count: Int) -> [UInt8] {
    Array(real[0..<4]) + bigEndianBytes(count) + Array(real[8 + first..<8 + first + count])
}

/// Writes a small MNIST directory made from the real test split: 200 train and 100 test
/// samples, under the given spelling of file names, gzipped or not.
func writeSmallMNIST(
    to directory: String, names: [String] = MNIST.fileNames, gzip: Bool = false
) throws {
    let images = try realTestImageBytes.get()
    let labels = try realTestLabelBytes.get()
    let files = [
        imageFile(from: images, first: 0, count: 200),
        labelFile(from: labels, first: 0, count: 200),
        imageFile(from: images, first: 200, count: 100),
        labelFile(from: labels, first: 200, count: 100),
    ]
    for (name, bytes) in zip(names, files) {
        _ = try write(gzip ? gzipStored(bytes) : bytes, to: directory, name: name)
    }
}

/// Wraps `bytes` in a gzip member (RFC 1952) whose deflate data is stored blocks without
/// compression (RFC 1951, 3.2.4), so the tests can write valid gzip files without a compressor.
func gzipStored(_ bytes: [UInt8]) -> [UInt8] {
    // ID1 ID2, CM = deflate, no flags, no modification time, no extra flags, OS unknown.
    var output: [UInt8] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255]
    var offset = 0
    repeat {
        let length = min(65_535, bytes.count - offset)
        let isFinal = offset + length == bytes.count
        // BFINAL in bit 0, BTYPE 00 in bits 1-2, then padding to the byte boundary.
        output.append(isFinal ? 1 : 0)
        output += [UInt8(length & 0xff), UInt8(length >> 8)]
        output += [UInt8(~length & 0xff), UInt8((~length >> 8) & 0xff)]
        output += bytes[offset..<offset + length]
        offset += length
    } while offset < bytes.count
    output += littleEndianBytes(crc32(bytes))
    output += littleEndianBytes(UInt32(truncatingIfNeeded: bytes.count))
    return output
}

private func littleEndianBytes(_ value: UInt32) -> [UInt8] {
    (0..<4).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) }
}

/// CRC-32 with the reflected polynomial 0xEDB88320, as gzip uses, computed bit by bit.
func crc32(_ bytes: [UInt8]) -> UInt32 {
    var crc: UInt32 = 0xffff_ffff
    for byte in bytes {
        crc ^= UInt32(byte)
        for _ in 0..<8 {
            crc = crc & 1 == 1 ? (crc >> 1) ^ 0xedb8_8320 : crc >> 1
        }
    }
    return ~crc
}

/// Runs `body`, expects it to throw a `DataError`, and checks that the message is one
/// line that contains every string in `fragments`. Returns the error for further checks.
@discardableResult
func expectDataError<T>(
    containing fragments: [String], sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () throws -> T
) -> DataError? {
    do {
        let value = try body()
        Issue.record(
            "expected a DataError containing \(fragments), observed success: \(value)",
            sourceLocation: sourceLocation)
        return nil
    } catch let error as DataError {
        let message = error.description
        #expect(
            !message.contains("\n"), "message is not one line: \(message)",
            sourceLocation: sourceLocation)
        for fragment in fragments {
            #expect(
                message.contains(fragment),
                "message lacks '\(fragment)': \(message)", sourceLocation: sourceLocation)
        }
        return error
    } catch {
        Issue.record(
            "expected a DataError, observed \(type(of: error)): \(error)",
            sourceLocation: sourceLocation)
        return nil
    }
}
