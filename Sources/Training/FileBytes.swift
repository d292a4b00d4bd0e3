import Foundation

/// An error of `FileBytes.read`.
public enum FileReadError: Error, Equatable {
    /// The file is larger than the caller's limit. `bytes` is its size, or for a pipe the
    /// count read before the limit was passed.
    case tooLarge(bytes: Int)
    /// The file could not be opened or read. `reason` is short and lower-case, such as
    /// "no such file" or "permission denied".
    case failed(reason: String)
}

/// Whole-file reads through open(2) and read(2).
///
/// Foundation's `Data(contentsOf:)` in Swift 6.3.1 leaks a 4 KiB buffer on every read of an
/// empty file (found by the datafiles fuzz target). The checkpoint, data and session readers
/// all come here instead, so an empty file is read like any other and no size check is
/// repeated in each of them.
public enum FileBytes {
    /// Returns the contents of the file at `path`. A regular file larger than `maxBytes` is
    /// refused before any byte is read. A pipe or other stream is read until it ends or
    /// passes `maxBytes`. A folder is an error.
    public static func read(path: String, maxBytes: Int = Int.max) throws(FileReadError)
        -> [UInt8]
    {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw .failed(reason: reason(errno)) }
        defer { close(descriptor) }

        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw .failed(reason: reason(errno)) }
        let type = status.st_mode & S_IFMT
        if type == S_IFDIR {
            throw .failed(reason: "it is a folder")
        }
        let isRegular = type == S_IFREG
        let size = Int(status.st_size)
        if isRegular && size > maxBytes {
            throw .tooLarge(bytes: size)
        }

        // A regular file is read into a buffer of its size plus one byte, so a file that
        // grew since fstat shows up as a full buffer and the loop goes on.
        var bytes: [UInt8] = []
        var capacity = isRegular ? size + 1 : 1 << 16
        var count = 0
        while true {
            if count == capacity {
                let limit = maxBytes == Int.max ? Int.max : maxBytes + 1
                capacity = capacity > limit / 2 ? limit : capacity * 2
            }
            if bytes.count < capacity {
                bytes.append(contentsOf: repeatElement(0, count: capacity - bytes.count))
            }
            let got = bytes.withUnsafeMutableBytes { buffer in
                Foundation.read(descriptor, buffer.baseAddress! + count, capacity - count)
            }
            if got < 0 {
                if errno == EINTR { continue }
                throw .failed(reason: reason(errno))
            }
            if got == 0 { break }
            count += got
            if count > maxBytes { throw .tooLarge(bytes: count) }
        }
        bytes.removeSubrange(count...)
        return bytes
    }

    private static func reason(_ code: Int32) -> String {
        switch code {
        case ENOENT: return "no such file"
        case EACCES: return "permission denied"
        case EISDIR: return "it is a folder"
        default: return String(cString: strerror(code))
        }
    }
}
