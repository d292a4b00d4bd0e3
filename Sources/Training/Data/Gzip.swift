import CZlib
import Foundation

/// Reading of files that may be gzip-compressed, decided by their first two bytes.
public enum Gzip {
    /// The default limit on a file's size after inflating: 1 GiB, over twenty times the
    /// largest MNIST file, so a damaged or hostile file fails with an error instead of
    /// filling memory.
    public static let defaultMaxBytes = 1 << 30

    /// Returns whether `bytes` starts with the gzip magic bytes 1f 8b (RFC 1952).
    public static func hasMagic<Bytes: Collection>(_ bytes: Bytes) -> Bool
    where Bytes.Element == UInt8 {
        var iterator = bytes.makeIterator()
        return iterator.next() == 0x1f && iterator.next() == 0x8b
    }

    /// Reads the file at `path` and inflates it when it starts with the gzip magic bytes,
    /// whatever its name. Throws `DataError` when the file cannot be read, is damaged, or
    /// is larger than `maxBytes` before or after inflating.
    public static func readFile(atPath path: String, maxBytes: Int = defaultMaxBytes)
        throws(DataError) -> [UInt8]
    {
        let data: [UInt8]
        do {
            data = try FileBytes.read(path: path, maxBytes: maxBytes)
        } catch {
            switch error {
            case .tooLarge(let bytes):
                throw .fileTooLarge(path: path, bytes: bytes, limit: maxBytes)
            case .failed(let reason):
                throw .readFailed(path: path, reason: reason)
            }
        }

        if hasMagic(data) {
            return try inflate(data, path: path, maxBytes: maxBytes)
        }
        return data
    }

    /// Inflates all gzip members in `compressed` and returns their contents joined, as
    /// `gzip -d` does. `path` only names the source in errors.
    ///
    /// Throws `DataError.gzipDamaged` when zlib finds bad data, which includes a CRC-32 or
    /// length mismatch in a member's trailer. Throws `.gzipTruncated` when the input ends
    /// inside a member, and `.gzipTrailingGarbage` when bytes after a member do not start
    /// another member. Throws `.inflatedTooLarge` when the output would exceed `maxBytes`.
    public static func inflate<Bytes: ContiguousBytes>(
        _ compressed: Bytes, path: String, maxBytes: Int = defaultMaxBytes
    ) throws(DataError) -> [UInt8] {
        let result: Result<[UInt8], DataError> = compressed.withUnsafeBytes { input in
            Result { () throws(DataError) in
                try inflateMembers(input, path: path, maxBytes: maxBytes)
            }
        }
        return try result.get()
    }

    private static func inflateMembers(
        _ input: UnsafeRawBufferPointer, path: String, maxBytes: Int
    ) throws(DataError) -> [UInt8] {
        // zlib counts input in 32-bit integers; anything this large fails maxBytes anyway.
        guard input.count <= Int(UInt32.max) else {
            throw .fileTooLarge(path: path, bytes: input.count, limit: maxBytes)
        }
        guard let inputStart = input.baseAddress?.assumingMemoryBound(to: UInt8.self) else {
            throw .gzipTruncated(path: path, inflatedBytes: 0)
        }

        var output: [UInt8] = []
        output.reserveCapacity(min(lastMemberSizeHint(input), maxBytes))
        let chunkSize = 1 << 20
        let chunk = UnsafeMutablePointer<UInt8>.allocate(capacity: chunkSize)
        defer { chunk.deallocate() }

        var stream = z_stream()
        // 15 + 16: a 32 KiB window and a gzip (not zlib) wrapper, with its CRC-32 checked.
        let initStatus = inflateInit2_(
            &stream, 15 + 16, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        guard initStatus == Z_OK else { throw .zlibFailed(path: path, code: initStatus) }
        defer { inflateEnd(&stream) }

        // zlib never writes through next_in; the mutable pointer is only its C signature.
        stream.next_in = UnsafeMutablePointer(mutating: inputStart)
        stream.avail_in = UInt32(input.count)

        while true {
            stream.next_out = chunk
            stream.avail_out = UInt32(chunkSize)
            let status = CZlib.inflate(&stream, Z_NO_FLUSH)

            let produced = chunkSize - Int(stream.avail_out)
            guard produced <= maxBytes - output.count else {
                throw .inflatedTooLarge(path: path, limit: maxBytes)
            }
            output.append(contentsOf: UnsafeBufferPointer(start: chunk, count: produced))

            switch status {
            case Z_OK:
                continue
            case Z_STREAM_END:
                let remaining = Int(stream.avail_in)
                if remaining == 0 {
                    return output
                }
                // A gzip file may hold several members back to back (RFC 1952, 2.2).
                let next = UnsafeRawBufferPointer(start: stream.next_in, count: remaining)
                guard hasMagic(next) else {
                    throw .gzipTrailingGarbage(path: path, bytes: remaining)
                }
                inflateReset(&stream)
            case Z_BUF_ERROR where stream.avail_in == 0:
                // No progress is possible because the input ran out before the member ended.
                throw .gzipTruncated(path: path, inflatedBytes: output.count)
            case Z_DATA_ERROR, Z_NEED_DICT:
                let message = stream.msg.map { String(cString: $0) } ?? "invalid data"
                throw .gzipDamaged(path: path, detail: message)
            default:
                throw .zlibFailed(path: path, code: status)
            }
        }
    }

    /// Returns the size stored in the last 4 bytes (ISIZE, the last member's length modulo
    /// 2^32), to reserve the output once. It is only a hint: multi-member files and files
    /// of 4 GiB or more make it wrong.
    private static func lastMemberSizeHint(_ input: UnsafeRawBufferPointer) -> Int {
        guard input.count >= 18 else { return 0 }
        var size = 0
        for i in 0..<4 {
            size |= Int(input[input.count - 4 + i]) << (8 * i)
        }
        return size
    }
}
