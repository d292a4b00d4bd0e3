import Foundation
import Testing

/// The `resnet-tui` executable that `swift build` or `swift test` put next to the test
/// bundle, in the build directory of the current configuration.
let binary: String? = {
    var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    for _ in 0..<4 {
        let candidate = directory.appendingPathComponent("resnet-tui").path
        if FileManager.default.isExecutableFile(atPath: candidate) {
            return candidate
        }
        directory = directory.deletingLastPathComponent()
    }
    return nil
}()

struct Run {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// Runs the binary with `arguments`, stdin empty and stdout and stderr in files (so they
/// are not terminals), and waits for it.
func run(_ arguments: [String]) throws -> Run {
    let path = try #require(binary, "resnet-tui not found near \(CommandLine.arguments[0])")
    let directory = NSTemporaryDirectory() + "resnet-tui-cli-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let outPath = directory + "/out"
    let errPath = directory + "/err"
    FileManager.default.createFile(atPath: outPath, contents: nil)
    FileManager.default.createFile(atPath: errPath, contents: nil)
    let out = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
    let err = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))

    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    process.standardInput = FileHandle.nullDevice
    process.standardOutput = out
    process.standardError = err
    try process.run()
    process.waitUntilExit()
    try out.close()
    try err.close()
    return Run(
        status: process.terminationStatus,
        stdout: String(
            decoding: FileManager.default.contents(atPath: outPath) ?? Data(), as: UTF8.self),
        stderr: String(
            decoding: FileManager.default.contents(atPath: errPath) ?? Data(), as: UTF8.self))
}

func makeTemporaryDirectory() throws -> String {
    let path = NSTemporaryDirectory() + "resnet-tui-cli-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// Flags each command must list in its help, beside the common ones.
let commandFlags: [String: [String]] = [
    "train": [
        "--steps", "--epochs", "--log", "--schedule", "--input", "--data", "--model", "--no-eval",
    ],
    "trace": ["--out", "--steps", "--batch-file", "--input", "--model"],
    "gradcheck": ["--step", "--samples", "--threshold", "--model", "--batch"],
    "soak": ["--steps", "--save-every", "--dir", "--warmup", "--max-growth", "--model"],
]

@Suite struct CommandLineTests {
    @Test(arguments: ["train", "trace", "gradcheck", "soak"])
    func helpListsFlags(command: String) throws {
        let result = try run([command, "--help"])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        #expect(result.stdout.hasPrefix("Usage: resnet-tui \(command)"), "\(result.stdout)")
        for flag in commandFlags[command] ?? [] {
            #expect(result.stdout.contains("  \(flag) "), "\(command) help lacks \(flag)")
        }
        for line in result.stdout.split(separator: "\n") {
            #expect(line.count <= 80, "help line longer than 80: \(line)")
        }
    }

    @Test(arguments: [
        ("train", "--stepz", "--steps"), ("trace", "--outt", "--out"),
        ("gradcheck", "--treshold", "--threshold"), ("tui", "--modle", "--model"),
    ])
    func unknownFlagNamesClosest(command: String, typo: String, closest: String) throws {
        let arguments = command == "tui" ? [typo, "x"] : [command, typo, "x"]
        let result = try run(arguments)
        #expect(result.status == 2)
        #expect(
            result.stderr.contains("unknown flag \(typo); did you mean \(closest)?"),
            "\(result.stderr)")
        #expect(result.stdout.isEmpty)
    }

    @Test func unknownCommandIsUsageError() throws {
        let result = try run(["trian"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("did you mean 'train'?"), "\(result.stderr)")
    }

    @Test func farTypoListsValidNames() throws {
        let command = try run(["foo"])
        #expect(command.status == 2)
        #expect(command.stderr.contains("valid: 'bench'"), "\(command.stderr)")
        let flag = try run(["train", "--bogus"])
        #expect(flag.status == 2)
        #expect(flag.stderr.contains("valid: --batch"), "\(flag.stderr)")
        #expect(!flag.stderr.contains("did you mean"), "\(flag.stderr)")
    }

    @Test func shortHelpFlag() throws {
        let result = try run(["train", "-h"])
        #expect(result.status == 0)
        #expect(result.stdout.contains("Usage: resnet-tui train"), "\(result.stdout)")
    }

    @Test func stepsAndEpochsTogether() throws {
        let result = try run(["train", "--steps", "2", "--epochs", "1"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("either --steps or --epochs"), "\(result.stderr)")
    }

    @Test func invalidInputSize() throws {
        let result = try run(["train", "--input", "3,0,8"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("invalid value '3,0,8' for --input"), "\(result.stderr)")
    }

    @Test func missingDataDirectoryFails() throws {
        let result = try run(["train", "--data", "cifar10:/nonexistent/cifar", "--steps", "1"])
        #expect(result.status == 1)
        #expect(
            result.stderr.contains("/nonexistent/cifar: directory not found"), "\(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
    }

    @Test func trainWritesLogAndEpochLine() throws {
        let directory = try makeTemporaryDirectory()
        let log = directory + "/run.csv"
        let result = try run([
            "train", "--model", "resnet8", "--input", "1,8,8", "--batch", "8", "--steps", "3",
            "--log", log, "--threads", "1",
        ])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        // stderr is a file here, so no progress bar and no escape codes.
        #expect(!result.stderr.contains("\u{1b}"), "\(result.stderr)")
        #expect(result.stdout.contains("epoch 1/1 (3 of 1250 steps)"), "\(result.stdout)")
        #expect(result.stdout.contains("test loss"), "\(result.stdout)")

        let rows = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n")
        #expect(rows.count == 4)
        let header = rows[0].split(separator: ",").map(String.init)
        #expect(
            header == [
                "step", "epoch", "loss", "accuracy", "learning_rate", "images_per_second",
                "layer1.0.skip", "layer1.0.residual", "layer1.0.input", "layer2.0.skip",
                "layer2.0.residual", "layer2.0.input", "layer3.0.skip", "layer3.0.residual",
                "layer3.0.input",
            ])
        for (index, row) in rows.dropFirst().enumerated() {
            let cells = row.split(separator: ",", omittingEmptySubsequences: false)
            #expect(cells.count == header.count, "row \(row)")
            #expect(cells.first == "\(index + 1)"[...], "row \(row)")
            #expect(cells.dropFirst(2).allSatisfy { Double($0) != nil }, "row \(row)")
        }
        // Cosine schedule: full rate at the first step, lower at the last.
        let firstRate = Double(rows[1].split(separator: ",")[4])
        let lastRate = Double(rows[3].split(separator: ",")[4])
        #expect(firstRate == 0.05)
        #expect((lastRate ?? 1) < 0.05)
    }

    @Test func trainNoEvalSkipsTestSplit() throws {
        let result = try run([
            "train", "--model", "resnet8", "--input", "1,8,8", "--batch", "8", "--steps", "2",
            "--threads", "1", "--no-eval",
        ])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        #expect(
            result.stdout.contains("epoch 1/1 (2 of 1250 steps)  train loss"), "\(result.stdout)")
        #expect(!result.stdout.contains("test"), "\(result.stdout)")
    }

    @Test func trainOnCIFARDirectory() throws {
        // Six batch files of 20 records each, with labels cycling through the 10 classes and
        // pixels that depend on the label, so the reader and the 3x32x32 model meet end to
        // end.
        let directory = try makeTemporaryDirectory()
        let names = (1...5).map { "data_batch_\($0).bin" } + ["test_batch.bin"]
        for name in names {
            var bytes: [UInt8] = []
            for record in 0..<20 {
                let label = UInt8(record % 10)
                bytes.append(label)
                for index in 0..<3072 {
                    bytes.append(UInt8(truncatingIfNeeded: index &* Int(label + 1)))
                }
            }
            try Data(bytes).write(to: URL(fileURLWithPath: directory + "/" + name))
        }
        let result = try run([
            "train", "--data", "cifar10:\(directory)", "--model", "resnet8", "--batch", "10",
            "--steps", "2", "--threads", "1",
        ])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        #expect(result.stdout.contains("epoch 1/1 (2 of 10 steps)"), "\(result.stdout)")
    }

    @Test func traceWritesOnePhasePerLine() throws {
        let directory = try makeTemporaryDirectory()
        let result = try run([
            "trace", "--out", directory, "--model", "resnet8", "--input", "1,8,8", "--batch",
            "4", "--steps", "2", "--threads", "1",
        ])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        #expect(result.stdout.contains("iteration 2: loss"), "\(result.stdout)")

        let text = try String(contentsOfFile: directory + "/trace.jsonl", encoding: .utf8)
        let lines = text.split(separator: "\n")
        // resnet8 has 6 layers (stem, 3 blocks, pool, fc): 1 + 6 + 1 + 6 + 1 phases.
        #expect(lines.count == 2 * 15)
        var phases: [String] = []
        for line in lines {
            let object = try #require(
                try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            phases.append(object["phase"] as? String ?? "?")
            if object["phase"] as? String == "backward", object["kind"] as? String == "block" {
                let gradient = try #require(object["gradient"] as? [String: Any])
                #expect(gradient["skip"] is Double, "\(line)")
                #expect(gradient["residual"] is Double, "\(line)")
                #expect(gradient["parameters"] is [String: Any], "\(line)")
            }
            if object["phase"] as? String == "forward" {
                let activation = try #require(object["activation"] as? [String: Any])
                #expect((activation["histogram"] as? [Int])?.count == 32, "\(line)")
            }
        }
        let forward = Array(repeating: "forward", count: 6)
        let backward = Array(repeating: "backward", count: 6)
        #expect(
            Array(phases.prefix(15)) == ["load_batch"] + forward + ["loss"] + backward + ["update"])
    }

    @Test func traceNeedsOut() throws {
        let result = try run(["trace", "--steps", "1"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("missing --out"), "\(result.stderr)")
    }

    @Test func gradcheckPassesOnSmallModel() throws {
        let result = try run(["gradcheck", "--samples", "2", "--threads", "1"])
        #expect(result.status == 0, "stdout: \(result.stdout) stderr: \(result.stderr)")
        #expect(result.stdout.contains("passed"), "\(result.stdout)")
        for layer in ["stem", "layer1.0", "layer2.0", "layer3.0", "fc"] {
            #expect(result.stdout.contains("\n\(layer) "), "no row for \(layer): \(result.stdout)")
        }
    }

    @Test func gradcheckFailsAboveThreshold() throws {
        // No finite difference in Float comes within 1e-9 of every gradient.
        let result = try run(["gradcheck", "--samples", "1", "--threshold", "1e-9"])
        #expect(result.status == 1)
        #expect(result.stdout.contains("FAILED"), "\(result.stdout)")
        #expect(result.stderr.contains("gradient check failed"), "\(result.stderr)")
    }
}
