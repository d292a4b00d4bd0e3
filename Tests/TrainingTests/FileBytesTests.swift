import Foundation
import Testing
import Training

/// Whole-file reads shared by the checkpoint, data and session readers.
struct FileBytesTests {
    @Test func readsWholeFilesOfEverySize() throws {
        let folder = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        var generator = SystemRandomNumberGenerator()
        for size in [0, 1, 4095, 4096, 65_537, 3_000_001] {
            let path = folder + "/file-\(size)"
            let bytes = (0..<size).map { _ in UInt8.random(in: 0...255, using: &generator) }
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            #expect(try FileBytes.read(path: path) == bytes, "size \(size)")
            #expect(try FileBytes.read(path: path, maxBytes: size) == bytes, "size \(size)")
        }
    }

    @Test func refusesWhatItCannotOrMustNotRead() throws {
        let folder = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/ten"
        try Data(repeating: 7, count: 10).write(to: URL(fileURLWithPath: path))

        #expect(throws: FileReadError.tooLarge(bytes: 10)) {
            try FileBytes.read(path: path, maxBytes: 9)
        }
        #expect(throws: FileReadError.failed(reason: "no such file")) {
            try FileBytes.read(path: folder + "/missing")
        }
        #expect(throws: FileReadError.failed(reason: "it is a folder")) {
            try FileBytes.read(path: folder)
        }
        // A stream without end stops at the limit instead of filling memory.
        do {
            _ = try FileBytes.read(path: "/dev/zero", maxBytes: 100_000)
            Issue.record("reading /dev/zero returned")
        } catch {
            guard case .tooLarge(let count) = error else {
                Issue.record("expected tooLarge, got \(error)")
                return
            }
            #expect(count > 100_000)
        }
    }
}
