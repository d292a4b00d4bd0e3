/// A problem with data that the user supplied: a data spec, a directory or a file.
///
/// Every `description` is one line that names the path or value, states the problem and
/// tells the user what to do next, so the command-line tool and the UI can show it as it is.
public enum DataError: Error, Equatable, Sendable, CustomStringConvertible {
    case invalidSpec(String)
    case directoryNotFound(path: String, expectedFiles: [String])
    case notADirectory(path: String)
    /// None of `candidates` exists in `directory`.
    case fileNotFound(directory: String, candidates: [String])
    case readFailed(path: String, reason: String)
    case fileTooLarge(path: String, bytes: Int, limit: Int)
    /// zlib rejected the compressed data; `detail` is zlib's message.
    case gzipDamaged(path: String, detail: String)
    /// The input ended before the end of the gzip stream.
    case gzipTruncated(path: String, inflatedBytes: Int)
    /// Bytes after a complete gzip member that do not start another member.
    case gzipTrailingGarbage(path: String, bytes: Int)
    case inflatedTooLarge(path: String, limit: Int)
    case zlibFailed(path: String, code: Int32)
    case badMagic(path: String, expected: UInt32, found: UInt32)
    case invalidDimensions(path: String, detail: String)
    /// The file's length differs from what its header implies. `content` describes the
    /// header, for example "10000 images of 28x28".
    case lengthMismatch(path: String, content: String, expectedBytes: Int, actualBytes: Int)
    /// The file is shorter than its format's fixed header, so there is no header to read.
    case shorterThanHeader(path: String, headerBytes: Int, actualBytes: Int)
    case countMismatch(imagesPath: String, images: Int, labelsPath: String, labels: Int)
    case labelOutOfRange(path: String, index: Int, label: Int, classCount: Int)
    /// A file of fixed-size records, such as a CIFAR-10 batch, whose length is zero or not
    /// a multiple of the record size. `format` names the data set, such as "CIFAR-10".
    case recordLengthMismatch(path: String, bytes: Int, recordBytes: Int, format: String)
    /// The label byte of record `record` (counting from 0) is not a class.
    case recordLabelOutOfRange(path: String, record: Int, label: Int, classCount: Int)
    /// The train and test images differ in size.
    case imageSizeMismatch(trainPath: String, train: String, testPath: String, test: String)
    case batchTooLarge(batchSize: Int, count: Int, dataset: String)

    public var description: String {
        switch self {
        case .invalidSpec(let spec):
            return "invalid data spec '\(spec)': expected shapes, mnist:DIR, fashion-mnist:DIR "
                + "or cifar10:DIR"
        case .directoryNotFound(let path, let expectedFiles):
            return "\(path): directory not found; check the path, or download "
                + "\(expectedFiles.joined(separator: ", ")) into it (plain or gzip-compressed)"
        case .notADirectory(let path):
            return "\(path): not a directory; give the directory that contains the data files"
        case .fileNotFound(let directory, let candidates):
            return "\(directory): none of \(candidates.joined(separator: ", ")) found; "
                + "download the missing file into this directory"
        case .readFailed(let path, let reason):
            return "\(path): read failed (\(reason)); check that the file is readable"
        case .fileTooLarge(let path, let bytes, let limit):
            return "\(path): file has \(bytes) bytes, more than the limit of \(limit) bytes; "
                + "check that this is the right file"
        case .gzipDamaged(let path, let detail):
            return "\(path): damaged gzip data (\(Self.explainZlib(detail))); "
                + "download the file again"
        case .gzipTruncated(let path, let inflatedBytes):
            return "\(path): gzip stream cut short after \(inflatedBytes) inflated bytes; "
                + "download the file again"
        case .gzipTrailingGarbage(let path, let bytes):
            return "\(path): \(bytes) bytes after the end of the gzip stream are not gzip data; "
                + "download the file again"
        case .inflatedTooLarge(let path, let limit):
            return "\(path): inflates to more than the limit of \(limit) bytes; "
                + "check that this is the right file"
        case .zlibFailed(let path, let code):
            return "\(path): zlib failed with \(Self.zlibCodeName(code)); "
                + "check free memory and the installed zlib, then try again"
        case .badMagic(let path, let expected, let found):
            return "\(path): bad magic number \(Self.hex(found)), expected \(Self.hex(expected)); "
                + "check that this is the right IDX file"
        case .invalidDimensions(let path, let detail):
            return "\(path): invalid dimensions: \(detail); check that this is an MNIST-style file"
        case .lengthMismatch(let path, let content, let expectedBytes, let actualBytes):
            if actualBytes < expectedBytes {
                return "\(path): truncated: header says \(content) (\(expectedBytes) bytes) "
                    + "but the file has \(actualBytes) bytes; download the file again"
            }
            return "\(path): too long: header says \(content) (\(expectedBytes) bytes) "
                + "but the file has \(actualBytes) bytes; download the file again"
        case .shorterThanHeader(let path, let headerBytes, let actualBytes):
            return "\(path): the file has \(actualBytes) bytes, too few for the "
                + "\(headerBytes)-byte IDX header; download the file again"
        case .countMismatch(let imagesPath, let images, let labelsPath, let labels):
            return "\(imagesPath) has \(images) images but \(labelsPath) has \(labels) labels; "
                + "use image and label files of the same split"
        case .labelOutOfRange(let path, let index, let label, let classCount):
            return "\(path): label \(label) at index \(index) is outside 0..<\(classCount); "
                + "check that this is a 10-class label file"
        case .recordLengthMismatch(let path, let bytes, let recordBytes, let format):
            let records = bytes / recordBytes
            let remainder = bytes % recordBytes
            if bytes == 0 {
                return "\(path): empty file, expected \(format) records of \(recordBytes) bytes; "
                    + "download the file again"
            }
            return "\(path): \(bytes) bytes is not a whole number of \(recordBytes)-byte "
                + "\(format) records (\(records) records and \(remainder) bytes left over); "
                + "the file is truncated or not a \(format) binary batch, download it again"
        case .recordLabelOutOfRange(let path, let record, let label, let classCount):
            return "\(path): label \(label) of record \(record) is outside 0..<\(classCount); "
                + "check that this is a CIFAR-10 binary batch (CIFAR-100 records have two "
                + "label bytes)"
        case .imageSizeMismatch(let trainPath, let train, let testPath, let test):
            return "\(trainPath) has \(train) images but \(testPath) has \(test) images; "
                + "use train and test files of the same data set"
        case .batchTooLarge(let batchSize, let count, let dataset):
            return "batch size \(batchSize) is larger than the \(count) samples of \(dataset); "
                + "use a batch size of at most \(count)"
        }
    }

    private static func hex(_ value: UInt32) -> String {
        let digits = String(value, radix: 16)
        return "0x" + String(repeating: "0", count: max(0, 8 - digits.count)) + digits
    }

    /// Names the zlib status codes (zlib.h, 1.2.x) that are not about the data itself.
    private static func zlibCodeName(_ code: Int32) -> String {
        switch code {
        case -2: return "Z_STREAM_ERROR (-2)"
        case -4: return "Z_MEM_ERROR (-4, out of memory)"
        case -6: return "Z_VERSION_ERROR (-6, header and library versions differ)"
        default: return "code \(code)"
        }
    }

    /// Spells out the two zlib (1.2.x) messages that report a damaged gzip trailer.
    private static func explainZlib(_ message: String) -> String {
        switch message {
        case "incorrect data check": return "CRC-32 in the gzip trailer does not match the data"
        case "incorrect length check": return "length in the gzip trailer does not match the data"
        default: return "zlib: \(message)"
        }
    }
}
