import Foundation
import Training

/// Directory that each input's files are written to, one per fuzzing process. It is left
/// behind when the fuzzer exits.
let fuzzDirectory: String = {
    let path = NSTemporaryDirectory() + "fuzz-datafiles-\(getpid())"
    try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}()

/// Limit on each file's size before and after inflating, so an input that inflates to
/// gigabytes is rejected by the reader instead of exhausting the fuzzer's memory.
let maxFileBytes = 256 << 10

/// Writes the input as data files and loads them through the readers that take a path:
/// `MNIST.load` and `CIFAR10.load`, which open each file with `Gzip.readFile` (inflating
/// it when it starts with the gzip magic bytes) and parse it.
///
/// The first byte chooses the layout. Even: an MNIST directory of four IDX files. Odd: a
/// CIFAR-10 directory whose five training batches are copies of the first part and whose
/// test batch is the second. Then come the lengths of all parts but the last, as 16-bit
/// little-endian integers, and the parts themselves. The last part takes the rest. A
/// length of 0xFFFF leaves that file out.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzDataFiles(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let layout = bytes.first else { return 0 }
    let mnist = layout % 2 == 0
    let names =
        mnist
        ? MNIST.fileNames : CIFAR10.trainFileNames.prefix(1) + [CIFAR10.testFileName]
    let parts = split(Array(bytes.dropFirst()), into: names.count)
    removeFiles()
    for (name, part) in zip(names, parts) {
        guard let part else { continue }
        write(part, to: name)
        if !mnist && name == CIFAR10.trainFileNames[0] {
            for other in CIFAR10.trainFileNames.dropFirst() { write(part, to: other) }
        }
    }

    let source: DataSource
    do {
        source =
            mnist
            ? try MNIST.load(
                directory: fuzzDirectory, name: "mnist", classNames: (0..<10).map(String.init),
                maxFileBytes: maxFileBytes)
            : try CIFAR10.load(directory: fuzzDirectory, maxFileBytes: maxFileBytes)
    } catch {
        // Formats the message as `--data` prints it.
        _ = error.description
        return 0
    }
    for split in [source.train, source.test] {
        precondition(split.labels.count == split.count, "\(split.count) images, labels differ")
        precondition(split.images.count == split.count * split.sampleSize, "pixel count")
        precondition(split.labels.allSatisfy { (0..<10).contains($0) }, "label out of range")
        precondition(split.images.allSatisfy(\.isFinite), "a normalised pixel is not finite")
    }
    return 0
}

/// Splits `bytes` into `count` parts as `fuzzDataFiles` describes. A nil part is a file to
/// leave out.
func split(_ bytes: [UInt8], into count: Int) -> [[UInt8]?] {
    var lengths: [Int] = []
    var position = 0
    for _ in 0..<(count - 1) {
        guard position + 1 < bytes.count else {
            lengths.append(0)
            continue
        }
        lengths.append(Int(bytes[position]) | Int(bytes[position + 1]) << 8)
        position += 2
    }
    var parts: [[UInt8]?] = []
    for length in lengths {
        if length == 0xFFFF {
            parts.append(nil)
            continue
        }
        let end = min(position + length, bytes.count)
        parts.append(Array(bytes[position..<end]))
        position = end
    }
    parts.append(Array(bytes[min(position, bytes.count)...]))
    return parts
}

func write(_ bytes: [UInt8], to name: String) {
    let path = (fuzzDirectory as NSString).appendingPathComponent(name)
    FileManager.default.createFile(atPath: path, contents: Data(bytes))
}

func removeFiles() {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: fuzzDirectory)) ?? []
    for entry in entries {
        unlink((fuzzDirectory as NSString).appendingPathComponent(entry))
    }
}
