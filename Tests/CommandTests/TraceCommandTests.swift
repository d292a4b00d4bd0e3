import Foundation
import Testing

/// A tensor as these tests write and read safetensors files, independently of the product's
/// reader and writer.
struct StoredTensor {
    var dtype: String
    var shape: [Int]
    var bytes: [UInt8]

    var floats: [Float] {
        stride(from: 0, to: bytes.count, by: 4).map { offset in
            var bits: UInt32 = 0
            for byte in 0..<4 { bits |= UInt32(bytes[offset + byte]) << (8 * byte) }
            return Float(bitPattern: bits)
        }
    }
}

func floatBytes(_ values: [Float]) -> [UInt8] {
    values.flatMap { value in
        (0..<4).map { UInt8(truncatingIfNeeded: value.bitPattern >> (8 * $0)) }
    }
}

func int64Bytes(_ values: [Int64]) -> [UInt8] {
    values.flatMap { value in
        (0..<8).map { UInt8(truncatingIfNeeded: UInt64(bitPattern: value) >> (8 * $0)) }
    }
}

/// Writes `tensors` as a safetensors file, in the order given.
func writeSafetensors(_ tensors: [(String, StoredTensor)], to path: String) throws {
    var entries: [String] = []
    var offset = 0
    for (name, tensor) in tensors {
        let shape = tensor.shape.map(String.init).joined(separator: ",")
        entries.append(
            "\"\(name)\":{\"dtype\":\"\(tensor.dtype)\",\"shape\":[\(shape)],"
                + "\"data_offsets\":[\(offset),\(offset + tensor.bytes.count)]}")
        offset += tensor.bytes.count
    }
    let header = Array(("{" + entries.joined(separator: ",") + "}").utf8)
    var bytes = (0..<8).map { UInt8(truncatingIfNeeded: UInt64(header.count) >> (8 * $0)) }
    bytes += header
    for (_, tensor) in tensors { bytes += tensor.bytes }
    try Data(bytes).write(to: URL(fileURLWithPath: path))
}

/// Reads every tensor of a safetensors file by name.
func readSafetensors(_ path: String) throws -> [String: StoredTensor] {
    let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    var headerLength = 0
    for index in 0..<8 { headerLength |= Int(bytes[index]) << (8 * index) }
    let header = Data(bytes[8..<(8 + headerLength)])
    let object = try #require(try JSONSerialization.jsonObject(with: header) as? [String: Any])
    var tensors: [String: StoredTensor] = [:]
    for (name, value) in object where name != "__metadata__" {
        let entry = try #require(value as? [String: Any])
        let offsets = try #require(entry["data_offsets"] as? [Int])
        let start = 8 + headerLength + offsets[0]
        let end = 8 + headerLength + offsets[1]
        tensors[name] = StoredTensor(
            dtype: try #require(entry["dtype"] as? String),
            shape: try #require(entry["shape"] as? [Int]), bytes: Array(bytes[start..<end]))
    }
    return tensors
}

/// Returns a batch of `count` images of 1x8x8 with pseudo-random pixels and labels 0...9.
func batchTensors(count: Int = 4, channels: Int = 1, labelShift: Int64 = 0)
    -> [(String, StoredTensor)]
{
    let pixelCount = count * channels * 64
    let pixels = (0..<pixelCount).map { Float(sin(Double($0) * 0.37) * 1.5) }
    let labels = (0..<count).map { Int64($0 % 10) + labelShift }
    return [
        (
            "images",
            StoredTensor(dtype: "F32", shape: [count, channels, 8, 8], bytes: floatBytes(pixels))
        ),
        ("labels", StoredTensor(dtype: "I64", shape: [count], bytes: int64Bytes(labels))),
    ]
}

/// Returns the loss of each `iteration N: loss X` line of trace's output.
func iterationLosses(_ output: String) -> [String] {
    output.split(separator: "\n").compactMap { line in
        guard line.hasPrefix("iteration "), let range = line.range(of: "loss ") else { return nil }
        return String(line[range.upperBound...].prefix { $0 != "," })
    }
}

@Suite struct TraceCommandTests {
    let model = ["--model", "resnet8", "--input", "1,8,8", "--threads", "1"]

    @Test func gradientsMatchCheckpointNames() throws {
        let directory = try makeTemporaryDirectory()
        let result = try run(["trace", "--out", directory, "--batch", "4", "--steps", "2"] + model)
        #expect(result.status == 0, "stderr: \(result.stderr)")

        let gradients = try readSafetensors(directory + "/grads.safetensors")
        let checkpoint = try readSafetensors(directory + "/after.safetensors")
        let buffers = ["running_mean", "running_var", "num_batches_tracked"]
        let parameterNames = checkpoint.keys.filter { name in
            !buffers.contains { name.hasSuffix("." + $0) }
        }
        #expect(Set(gradients.keys) == Set(parameterNames))
        #expect(gradients.count == 29, "resnet8 has 29 parameter tensors")
        for (name, gradient) in gradients {
            #expect(gradient.dtype == "F32", "\(name)")
            #expect(gradient.shape == checkpoint[name]?.shape, "\(name)")
        }

        // The file contains the last iteration's gradients: their norms equal the norms that
        // trace.jsonl reports for that iteration's backward pass.
        let lines = try String(contentsOfFile: directory + "/trace.jsonl", encoding: .utf8)
        var reported: [String: Double] = [:]
        for line in lines.split(separator: "\n") {
            let object = try #require(
                try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            guard object["iteration"] as? Int == 2, object["phase"] as? String == "backward",
                let gradient = object["gradient"] as? [String: Any],
                let norms = gradient["parameters"] as? [String: Double]
            else { continue }
            reported.merge(norms) { first, _ in first }
        }
        #expect(reported.count == gradients.count)
        for (name, norm) in reported {
            let values = try #require(gradients[name]).floats
            let fileNorm = values.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
            #expect(
                abs(fileNorm - norm) <= 1e-6 * max(norm, 1e-30), "\(name): \(fileNorm) vs \(norm)")
        }
        #expect(reported.values.contains { $0 > 0 })
    }

    @Test func afterCheckpointLoadsBack() throws {
        let directory = try makeTemporaryDirectory()
        let first = try run(["trace", "--out", directory, "--batch", "4"] + model)
        #expect(first.status == 0, "stderr: \(first.stderr)")

        // Without --model the checkpoint's metadata chooses the network.
        let again = try makeTemporaryDirectory()
        let second = try run([
            "trace", "--out", again, "--batch", "4", "--input", "1,8,8", "--threads", "1",
            "--load", directory + "/after.safetensors", "--lr", "0", "--momentum", "0",
            "--weight-decay", "0",
        ])
        #expect(second.status == 0, "stderr: \(second.stderr)")
        #expect(
            second.stderr.contains("loaded checkpoint \(directory)/after.safetensors"),
            "stderr: \(second.stderr)")
        #expect(!first.stderr.contains("loaded checkpoint"), "stderr: \(first.stderr)")
        // With every update term zero, the weights come out as they went in.
        let loaded = try readSafetensors(directory + "/after.safetensors")
        let saved = try readSafetensors(again + "/after.safetensors")
        for name in loaded.keys where name.hasSuffix(".weight") || name.hasSuffix(".bias") {
            #expect(saved[name]?.bytes == loaded[name]?.bytes, "\(name)")
        }
        #expect(saved.count == loaded.count)
    }

    @Test func batchFileFeedsEveryIteration() throws {
        let directory = try makeTemporaryDirectory()
        let batch = directory + "/batch.safetensors"
        try writeSafetensors(batchTensors(), to: batch)
        // The file sets the batch size and, for the shapes data, the image size.
        let result = try run([
            "trace", "--out", directory, "--batch-file", batch, "--model", "resnet8", "--steps",
            "3", "--lr", "0", "--threads", "1",
        ])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        let losses = iterationLosses(result.stdout)
        #expect(losses.count == 3, "\(result.stdout)")
        #expect(Set(losses).count == 1, "losses differ: \(losses)")

        // The shapes data gives different batches, so its losses differ.
        let shapes = try run(
            ["trace", "--out", directory, "--batch", "4", "--steps", "3", "--lr", "0"] + model)
        #expect(shapes.status == 0, "stderr: \(shapes.stderr)")
        #expect(Set(iterationLosses(shapes.stdout)).count == 3, "\(shapes.stdout)")
        #expect(iterationLosses(shapes.stdout).first != losses.first)
    }

    @Test(arguments: [
        ("images F64", "images has dtype F64, expected F32"),
        ("labels I32", "labels has dtype I32, expected I64"),
        ("images rank 3", "images has shape [4, 8, 8], expected N,C,H,W"),
        ("labels count", "labels has shape [3], expected [4]"),
        ("label 10", "labels[0] is 10, but the model has 10 classes"),
        ("label -1", "labels[0] is -1, expected a class index from 0"),
        ("3 channels", "images have shape [4, 3, 8, 8], but the model takes 1x8x8 images"),
        ("no labels", "missing tensor 'labels'"),
        ("extra tensor", "unexpected tensor 'weights'"),
        ("NaN pixel", "images contains nan at element 5"),
        ("one image", "images has 1 image, expected 2 to 4096"),
        ("truncated", "runs past the end"),
    ])
    func badBatchFileRejected(problem: String, message: String) throws {
        let directory = try makeTemporaryDirectory()
        let path = directory + "/batch.safetensors"
        var tensors = batchTensors()
        switch problem {
        case "images F64":
            tensors[0].1 = StoredTensor(
                dtype: "F64", shape: [4, 1, 8, 8], bytes: Array(repeating: 0, count: 4 * 64 * 8))
        case "labels I32":
            tensors[1].1 = StoredTensor(
                dtype: "I32", shape: [4], bytes: Array(repeating: 0, count: 16))
        case "images rank 3":
            tensors[0].1.shape = [4, 8, 8]
        case "labels count":
            tensors[1].1 = StoredTensor(dtype: "I64", shape: [3], bytes: int64Bytes([0, 1, 2]))
        case "label 10":
            tensors = batchTensors(labelShift: 10)
        case "label -1":
            tensors = batchTensors(labelShift: -1)
        case "3 channels":
            tensors = batchTensors(channels: 3)
        case "no labels":
            tensors.removeLast()
        case "extra tensor":
            tensors.append(
                ("weights", StoredTensor(dtype: "F32", shape: [1], bytes: floatBytes([1]))))
        case "NaN pixel":
            var pixels = tensors[0].1.floats
            pixels[5] = .nan
            tensors[0].1.bytes = floatBytes(pixels)
        case "one image":
            tensors = batchTensors(count: 1)
        default:
            break
        }
        try writeSafetensors(tensors, to: path)
        if problem == "truncated" {
            let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
            try bytes.prefix(40).write(to: URL(fileURLWithPath: path))
        }
        let result = try run(
            ["trace", "--out", directory, "--batch-file", path, "--steps", "1"] + model)
        #expect(result.status == 1, "\(problem): stdout \(result.stdout)")
        #expect(result.stderr.contains("\(path): "), "\(result.stderr)")
        #expect(result.stderr.contains(message), "\(problem): \(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: directory + "/trace.jsonl"))
    }

    @Test func divergedIterationWritesNoGradients() throws {
        let directory = try makeTemporaryDirectory()
        let stale = directory + "/grads.safetensors"
        FileManager.default.createFile(atPath: stale, contents: Data("old".utf8))
        // Learning rate 100 without batch norm: iteration 2 reaches a loss near 3e10 and
        // iteration 3 a loss of NaN.
        let result = try run(
            ["trace", "--out", directory, "--batch", "4", "--steps", "3", "--lr", "100", "--no-bn"]
                + model)
        #expect(result.status == 0, "stderr: \(result.stderr)")
        #expect(
            result.stdout.contains("iteration 3: loss NaN, so the iteration stopped"),
            "\(result.stdout)")
        #expect(!FileManager.default.fileExists(atPath: stale))
        #expect(FileManager.default.fileExists(atPath: directory + "/after.safetensors"))
    }

    @Test func batchSizeFlagMustMatchFile() throws {
        let directory = try makeTemporaryDirectory()
        let path = directory + "/batch.safetensors"
        try writeSafetensors(batchTensors(), to: path)
        let result = try run(
            ["trace", "--out", directory, "--batch-file", path, "--batch", "8"] + model)
        #expect(result.status == 2)
        #expect(result.stderr.contains("--batch 8 differs from the 4 images"), "\(result.stderr)")
    }
}
