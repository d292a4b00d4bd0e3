import Foundation

/// A safetensors file (the format of Hugging Face's `safetensors` 0.4): an 8-byte
/// little-endian header length N, N bytes of a UTF-8 JSON object, then the data buffer.
/// The object maps each tensor name to its `dtype`, `shape` and `data_offsets` [begin, end)
/// relative to the start of the buffer, and may hold a `__metadata__` object of strings.
/// Tensors are little-endian and row-major.
///
/// The reader accepts a file only if the tensors tile the buffer exactly. Sorted by offset,
/// each tensor begins where the previous one ends, the first begins at 0 and the last ends
/// at the end of the file. So the reader rejects aliasing, holes and trailing bytes, as the
/// reference implementation (Python package safetensors 0.8.0) does. It also rejects a
/// repeated tensor name, which that implementation resolves to the last entry.
public struct SafetensorsFile: Sendable {
    /// The `__metadata__` strings; empty when the file has none.
    public var metadata: [String: String]
    /// The tensors in the order of their data offsets.
    public var tensors: [SafetensorsTensor]

    public init(metadata: [String: String] = [:], tensors: [SafetensorsTensor] = []) {
        self.metadata = metadata
        self.tensors = tensors
    }

    public func tensor(named name: String) -> SafetensorsTensor? {
        tensors.first { $0.name == name }
    }
}

/// The element types of the safetensors format and their sizes in bytes.
public enum SafetensorsDType: String, Sendable, CaseIterable {
    case BOOL, U8, I8, F8_E5M2, F8_E4M3, I16, U16, F16, BF16, I32, U32, F32, F64, I64, U64

    public var byteCount: Int {
        switch self {
        case .BOOL, .U8, .I8, .F8_E5M2, .F8_E4M3: 1
        case .I16, .U16, .F16, .BF16: 2
        case .I32, .U32, .F32: 4
        case .F64, .I64, .U64: 8
        }
    }
}

/// One tensor of a safetensors file with its raw little-endian bytes.
public struct SafetensorsTensor: Sendable, Equatable {
    public var name: String
    public var dtype: SafetensorsDType
    /// Dimensions. A 0-dim scalar has an empty shape and one element.
    public var shape: [Int]
    public var bytes: [UInt8]

    public init(name: String, dtype: SafetensorsDType, shape: [Int], bytes: [UInt8]) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.bytes = bytes
    }

    /// Creates an F32 tensor from `floats`, whose count must equal the product of `shape`.
    public init(name: String, shape: [Int], floats: [Float]) {
        precondition(floats.count == shape.reduce(1, *), "\(floats.count) values for \(shape)")
        let bytes = floats.withUnsafeBytes { Array($0) }
        self.init(name: name, dtype: .F32, shape: shape, bytes: bytes)
    }

    /// Creates an I64 tensor from `int64s`, whose count must equal the product of `shape`.
    public init(name: String, shape: [Int], int64s: [Int64]) {
        precondition(int64s.count == shape.reduce(1, *), "\(int64s.count) values for \(shape)")
        let bytes = int64s.map(\.littleEndian).withUnsafeBytes { Array($0) }
        self.init(name: name, dtype: .I64, shape: shape, bytes: bytes)
    }

    public var elementCount: Int { shape.reduce(1, *) }

    /// The values of an F32 tensor, or nil for another dtype.
    public var floats: [Float]? {
        guard dtype == .F32 else { return nil }
        return (0..<elementCount).map { index in
            var bits: UInt32 = 0
            for byte in 0..<4 { bits |= UInt32(bytes[index * 4 + byte]) << (8 * byte) }
            return Float(bitPattern: bits)
        }
    }

    /// The values of an I64 tensor, or nil for another dtype.
    public var int64s: [Int64]? {
        guard dtype == .I64 else { return nil }
        return (0..<elementCount).map { index in
            var bits: UInt64 = 0
            for byte in 0..<8 { bits |= UInt64(bytes[index * 8 + byte]) << (8 * byte) }
            return Int64(bitPattern: bits)
        }
    }
}

/// A safetensors file that cannot be read or written, with the path when there is one.
public struct SafetensorsError: Error, Equatable, CustomStringConvertible {
    public enum Kind: Equatable, Sendable {
        /// Fewer than the 8 bytes of the header length.
        case fileTooShort
        /// The header length points past the end of the file.
        case headerPastEnd
        /// Larger than the 100 MB the reference implementation allows.
        case headerTooLarge
        /// Not a JSON object of valid entries, or a value of the wrong type.
        case invalidHeader
        /// A tensor name, or a key inside an entry, appears twice.
        case duplicateKey
        case unknownDType
        /// The shape's element count or byte size exceeds the integer range.
        case shapeOverflow
        /// The byte range does not hold exactly elements * dtype size bytes.
        case sizeMismatch
        /// Two tensors share bytes.
        case overlappingData
        /// Bytes between two tensors, or before the first, belong to no tensor.
        case hole
        /// A tensor's byte range ends past the end of the file.
        case dataPastEnd
        /// Bytes after the last tensor belong to no tensor.
        case trailingBytes
        /// The file could not be opened, read or written.
        case io
    }

    public var kind: Kind
    public var message: String
    public var path: String?

    public init(_ kind: Kind, _ message: String, path: String? = nil) {
        self.kind = kind
        self.message = message
        self.path = path
    }

    static func invalidHeader(_ message: String) -> SafetensorsError {
        SafetensorsError(.invalidHeader, "invalid header: \(message)")
    }

    static func duplicateKey(_ key: String) -> SafetensorsError {
        SafetensorsError(.duplicateKey, "duplicate key '\(key)' in the header")
    }

    public var description: String {
        path.map { "\($0): \(message)" } ?? message
    }
}

extension SafetensorsFile {
    /// The maximum header length that safetensors 0.8.0 accepts, in bytes.
    static let maxHeaderLength: UInt64 = 100_000_000

    /// Reads and validates the file at `path`.
    public static func read(path: String) throws(SafetensorsError) -> SafetensorsFile {
        let bytes: [UInt8]
        do {
            bytes = try FileBytes.read(path: path)
        } catch {
            let reason: String
            switch error {
            case .failed(let text): reason = text
            case .tooLarge(let size): reason = "\(size) bytes is more than this machine can hold"
            }
            throw SafetensorsError(.io, "cannot read the file: \(reason)", path: path)
        }
        do {
            return try parse(bytes)
        } catch var error {
            error.path = path
            throw error
        }
    }

    /// Parses and validates a whole file's bytes.
    public static func parse(_ bytes: [UInt8]) throws(SafetensorsError) -> SafetensorsFile {
        guard bytes.count >= 8 else {
            throw SafetensorsError(
                .fileTooShort,
                "file is \(bytes.count) bytes, shorter than the 8-byte header length")
        }
        var headerLength: UInt64 = 0
        for index in 0..<8 { headerLength |= UInt64(bytes[index]) << (8 * index) }
        guard headerLength <= UInt64(bytes.count - 8) else {
            throw SafetensorsError(
                .headerPastEnd,
                "header length \(headerLength) runs past the end of the \(bytes.count)-byte "
                    + "file")
        }
        guard headerLength <= maxHeaderLength else {
            throw SafetensorsError(
                .headerTooLarge,
                "header length \(headerLength) exceeds the limit of \(maxHeaderLength) bytes")
        }
        let headerEnd = 8 + Int(headerLength)
        let header = Array(bytes[8..<headerEnd])
        guard header.first == UInt8(ascii: "{") else {
            throw SafetensorsError.invalidHeader("the header does not start with '{'")
        }
        guard case .object(let members) = try HeaderJSONParser.parse(header) else {
            throw SafetensorsError.invalidHeader("the header is not a JSON object")
        }

        var metadata: [String: String] = [:]
        var entries: [Entry] = []
        for (name, value) in members {
            if name == "__metadata__" {
                metadata = try parseMetadata(value)
            } else {
                entries.append(try parseEntry(name: name, value: value))
            }
        }

        let dataSize = bytes.count - headerEnd
        try checkTiling(entries, dataSize: dataSize)
        let tensors = entries.sorted { ($0.begin, $0.end) < ($1.begin, $1.end) }.map { entry in
            SafetensorsTensor(
                name: entry.name, dtype: entry.dtype, shape: entry.shape,
                bytes: Array(bytes[(headerEnd + entry.begin)..<(headerEnd + entry.end)]))
        }
        return SafetensorsFile(metadata: metadata, tensors: tensors)
    }

    private struct Entry {
        var name: String
        var dtype: SafetensorsDType
        var shape: [Int]
        var begin: Int
        var end: Int
    }

    private static func parseMetadata(_ value: HeaderJSON) throws(SafetensorsError)
        -> [String: String]
    {
        guard case .object(let members) = value else {
            throw SafetensorsError.invalidHeader(
                "__metadata__ is \(value.typeName), expected an object of strings")
        }
        var metadata: [String: String] = [:]
        for (key, item) in members {
            guard case .string(let text) = item else {
                throw SafetensorsError.invalidHeader(
                    "__metadata__ value '\(key)' is \(item.typeName), expected a string")
            }
            metadata[key] = text
        }
        return metadata
    }

    /// Parses a JSON number as a non-negative integer that fits in Int.
    private static func nonNegativeInteger(_ value: HeaderJSON, tensor: String, field: String)
        throws(SafetensorsError) -> Int
    {
        guard case .number(let text) = value else {
            throw SafetensorsError(
                .invalidHeader,
                "invalid header: \(field) of tensor '\(tensor)' contains \(value.typeName), "
                    + "expected integers")
        }
        guard text.allSatisfy(\.isASCIIDigit) else {
            throw SafetensorsError(
                .invalidHeader,
                "invalid header: \(field) of tensor '\(tensor)' contains \(text), expected "
                    + "non-negative integers")
        }
        guard let integer = Int(text) else {
            throw SafetensorsError(
                field == "shape" ? .shapeOverflow : .invalidHeader,
                "invalid header: \(field) of tensor '\(tensor)' contains \(text), beyond the "
                    + "64-bit integer range")
        }
        return integer
    }

    private static func parseEntry(name: String, value: HeaderJSON) throws(SafetensorsError)
        -> Entry
    {
        guard case .object(let fields) = value else {
            throw SafetensorsError.invalidHeader(
                "tensor '\(name)' is \(value.typeName), expected an object")
        }
        var dtypeValue: HeaderJSON?
        var shapeValue: HeaderJSON?
        var offsetsValue: HeaderJSON?
        for (key, field) in fields {
            switch key {
            case "dtype": dtypeValue = field
            case "shape": shapeValue = field
            case "data_offsets": offsetsValue = field
            default:
                throw SafetensorsError.invalidHeader(
                    "tensor '\(name)' has an unknown field '\(key)'")
            }
        }
        guard case .string(let dtypeName)? = dtypeValue else {
            throw SafetensorsError.invalidHeader("tensor '\(name)' has no dtype string")
        }
        guard let dtype = SafetensorsDType(rawValue: dtypeName) else {
            throw SafetensorsError(
                .unknownDType, "tensor '\(name)' has unknown dtype '\(dtypeName)'")
        }
        guard case .array(let shapeItems)? = shapeValue else {
            throw SafetensorsError.invalidHeader("tensor '\(name)' has no shape array")
        }
        guard case .array(let offsetItems)? = offsetsValue, offsetItems.count == 2 else {
            throw SafetensorsError.invalidHeader(
                "tensor '\(name)' has no data_offsets array of two integers")
        }
        var shape: [Int] = []
        for item in shapeItems {
            shape.append(try nonNegativeInteger(item, tensor: name, field: "shape"))
        }
        let begin = try nonNegativeInteger(offsetItems[0], tensor: name, field: "data_offsets")
        let end = try nonNegativeInteger(offsetItems[1], tensor: name, field: "data_offsets")
        guard begin <= end else {
            throw SafetensorsError.invalidHeader(
                "tensor '\(name)' has data_offsets [\(begin), \(end)] that end before they begin")
        }

        // Overflow checks: the element count and the byte size must both fit in Int, or a
        // hostile shape such as [2^32, 2^32] would wrap to a small size that passes the
        // length check below.
        var elements = 1
        for dimension in shape {
            let (product, overflow) = elements.multipliedReportingOverflow(by: dimension)
            guard !overflow else {
                throw SafetensorsError(
                    .shapeOverflow,
                    "tensor '\(name)' has shape \(shape), whose element count exceeds the "
                        + "64-bit integer range")
            }
            elements = product
        }
        let (byteSize, overflow) = elements.multipliedReportingOverflow(by: dtype.byteCount)
        guard !overflow else {
            throw SafetensorsError(
                .shapeOverflow,
                "tensor '\(name)' has shape \(shape), whose byte size exceeds the 64-bit "
                    + "integer range")
        }
        guard end - begin == byteSize else {
            throw SafetensorsError(
                .sizeMismatch,
                "tensor '\(name)' (\(dtype.rawValue), shape \(shape)) needs \(byteSize) bytes "
                    + "but data_offsets [\(begin), \(end)] span \(end - begin)")
        }
        return Entry(name: name, dtype: dtype, shape: shape, begin: begin, end: end)
    }

    private static func checkTiling(_ entries: [Entry], dataSize: Int) throws(SafetensorsError) {
        let sorted = entries.sorted { ($0.begin, $0.end) < ($1.begin, $1.end) }
        var position = 0
        var previous: String?
        for entry in sorted {
            if entry.end > dataSize {
                throw SafetensorsError(
                    .dataPastEnd,
                    "tensor '\(entry.name)' ends at data byte \(entry.end), past the end of "
                        + "the \(dataSize)-byte data buffer")
            }
            if entry.begin < position {
                throw SafetensorsError(
                    .overlappingData,
                    "tensors '\(previous ?? "")' and '\(entry.name)' share bytes: "
                        + "'\(entry.name)' begins at data byte \(entry.begin), before "
                        + "'\(previous ?? "")' ends at \(position)")
            }
            if entry.begin > position {
                let after = previous.map { "after tensor '\($0)'" } ?? "at the start of the data"
                throw SafetensorsError(
                    .hole,
                    "data bytes \(position)..<\(entry.begin) \(after) belong to no tensor")
            }
            position = entry.end
            previous = entry.name
        }
        if position < dataSize {
            throw SafetensorsError(
                .trailingBytes,
                "\(dataSize - position) bytes after the last tensor belong to no tensor")
        }
    }
}

extension SafetensorsFile {
    /// Serializes the file: metadata first, then the tensors in order, each placed right
    /// after the previous one. The header is padded with spaces to a multiple of 8 bytes so
    /// the data buffer starts aligned, as the reference implementation writes it.
    public func serialized() -> [UInt8] {
        var header = "{"
        var members: [String] = []
        if !metadata.isEmpty {
            let pairs = metadata.keys.sorted().map { key in
                "\(jsonString(key)):\(jsonString(metadata[key]!))"
            }
            members.append("\"__metadata__\":{" + pairs.joined(separator: ",") + "}")
        }
        var offset = 0
        for tensor in tensors {
            let shape = tensor.shape.map(String.init).joined(separator: ",")
            let end = offset + tensor.bytes.count
            members.append(
                "\(jsonString(tensor.name)):{\"dtype\":\"\(tensor.dtype.rawValue)\","
                    + "\"shape\":[\(shape)],\"data_offsets\":[\(offset),\(end)]}")
            offset = end
        }
        header += members.joined(separator: ",") + "}"
        var headerBytes = Array(header.utf8)
        while headerBytes.count % 8 != 0 { headerBytes.append(0x20) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(8 + headerBytes.count + offset)
        let length = UInt64(headerBytes.count)
        for index in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: length >> (8 * index))) }
        bytes += headerBytes
        for tensor in tensors { bytes += tensor.bytes }
        return bytes
    }

    /// Writes the file so that `path` contains either its old contents or the whole new
    /// file, never a part. The bytes go to a temporary file in the same directory, which is
    /// flushed to disk and then renamed over `path`.
    public func write(to path: String) throws(SafetensorsError) {
        try writeAtomically(serialized(), to: path)
    }
}

/// Returns `text` as a JSON string literal.
func jsonString(_ text: String) -> String {
    var result = "\""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": result += "\\\""
        case "\\": result += "\\\\"
        case "\n": result += "\\n"
        case "\r": result += "\\r"
        case "\t": result += "\\t"
        case _ where scalar.value < 0x20:
            result += "\\u" + String(format: "%04x", scalar.value)
        default: result.unicodeScalars.append(scalar)
        }
    }
    return result + "\""
}

/// Writes `bytes` to a temporary file next to `path`, fsyncs it, renames it to `path` and
/// fsyncs the directory, so a crash leaves either the old file or the new one. A crash
/// before the rename leaves the temporary file, `.NAME.PID.tmp`, which the next save to
/// the same path deletes unless the PID has been reused by a running process.
func writeAtomically(_ bytes: [UInt8], to path: String) throws(SafetensorsError) {
    let url = URL(fileURLWithPath: path)
    let directory = url.deletingLastPathComponent().path
    removeAbandonedTemporaryFiles(of: url.lastPathComponent, in: directory)
    let temporary =
        (directory as NSString).appendingPathComponent(
            ".\(url.lastPathComponent).\(getpid()).tmp")
    func failure(_ step: String) -> SafetensorsError {
        SafetensorsError(.io, "cannot \(step): \(String(cString: strerror(errno)))", path: path)
    }
    let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    guard descriptor >= 0 else { throw failure("create \(temporary)") }
    var written = 0
    while written < bytes.count {
        let result = bytes.withUnsafeBytes { buffer in
            Foundation.write(descriptor, buffer.baseAddress! + written, bytes.count - written)
        }
        if result < 0 {
            if errno == EINTR { continue }
            let error = failure("write \(temporary)")
            close(descriptor)
            unlink(temporary)
            throw error
        }
        written += result
    }
    if fsync(descriptor) != 0 {
        let error = failure("flush \(temporary) to disk")
        close(descriptor)
        unlink(temporary)
        throw error
    }
    close(descriptor)
    if rename(temporary, path) != 0 {
        let error = failure("rename \(temporary) to \(path)")
        unlink(temporary)
        throw error
    }
    // The rename is durable only once the directory entry is flushed too.
    let directoryDescriptor = open(directory, O_RDONLY)
    if directoryDescriptor >= 0 {
        fsync(directoryDescriptor)
        close(directoryDescriptor)
    }
}

/// Deletes the temporary files `.NAME.PID.tmp` in `directory` whose process no longer
/// exists, left by saves to `NAME` that were killed before their rename. A file whose PID
/// belongs to a running process is kept, because that process may still be writing it.
///
/// NOTE: kill(pid, 0) checks only this PID namespace. A save from another container that
/// shares the directory can lose its temporary file, and its rename then fails with an error.
func removeAbandonedTemporaryFiles(of name: String, in directory: String) {
    guard let entries = try? FileManager.default.contentsOfDirectory(atPath: directory) else {
        return
    }
    let prefix = ".\(name)."
    for entry in entries where entry.hasPrefix(prefix) && entry.hasSuffix(".tmp") {
        let digits = entry.dropFirst(prefix.count).dropLast(".tmp".count)
        guard let pid = pid_t(digits), pid > 0, pid != getpid() else { continue }
        // Signal 0 only checks whether the process exists. ESRCH means that it does not.
        guard kill(pid, 0) != 0, errno == ESRCH else { continue }
        unlink((directory as NSString).appendingPathComponent(entry))
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { isASCII && isNumber }
}
