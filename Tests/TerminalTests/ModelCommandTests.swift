import Foundation
import Testing

/// Runs the release binary as a script would: `summary` totals, usage errors, and
/// checkpoints saved by `train --save` and read back by `train --load`.
@Suite struct ModelCommandTests {
    /// The binary under test: $RESNET_TUI_BINARY, or the one `swift build -c release` makes.
    static var binary: String {
        ProcessInfo.processInfo.environment["RESNET_TUI_BINARY"] ?? Tmux.binary
    }

    struct Result {
        var status: Int32
        var output: String
        var error: String
    }

    static func run(_ arguments: [String]) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        let directory = NSTemporaryDirectory() + "resnet-tui-run-\(UUID().uuidString)"
        try FileManager.default.createDirectory(
            atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let outputPath = directory + "/stdout"
        let errorPath = directory + "/stderr"
        _ = FileManager.default.createFile(atPath: outputPath, contents: nil)
        _ = FileManager.default.createFile(atPath: errorPath, contents: nil)
        let output = try FileHandle(forWritingTo: URL(fileURLWithPath: outputPath))
        let error = try FileHandle(forWritingTo: URL(fileURLWithPath: errorPath))
        process.standardOutput = output
        process.standardError = error
        try process.run()
        process.waitUntilExit()
        try output.close()
        try error.close()
        return Result(
            status: process.terminationStatus,
            output: String(
                decoding: FileManager.default.contents(atPath: outputPath) ?? Data(), as: UTF8.self),
            error: String(
                decoding: FileManager.default.contents(atPath: errorPath) ?? Data(), as: UTF8.self))
    }

    @Test(arguments: [
        ("resnet18", "11,689,512"), ("resnet34", "21,797,672"), ("resnet50", "25,557,032"),
        ("resnet101", "44,549,160"), ("resnet152", "60,192,808"),
    ])
    func summaryTotalMatchesTorchvision(model: String, total: String) throws {
        let result = try Self.run(["summary", "--model", model])
        #expect(result.status == 0, "\(result.error)")
        let lines = result.output.split(separator: "\n")
        #expect(lines.first?.hasPrefix("\(model), input 3x224x224, 1000 classes") == true)
        #expect(lines.last?.hasPrefix("total parameters: \(total) ") == true, "\(lines.last ?? "")")
        #expect(
            lines.contains {
                $0.hasPrefix("conv1 ") && $0.contains("7x7 s2 p3") && $0.contains("64*3*7*7")
            })
    }

    @Test func summaryOnSmallInputShowsShapes() throws {
        let result = try Self.run(["summary", "--model", "resnet50", "--input", "3,64,64"])
        #expect(result.status == 0)
        let maxpool = result.output.split(separator: "\n").first { $0.hasPrefix("maxpool ") }
        #expect(maxpool?.contains("64x32x32") == true)
        #expect(maxpool?.contains("64x16x16") == true)
    }

    @Test func invalidModelIsUsageError() throws {
        let result = try Self.run(["summary", "--model", "resnet19"])
        #expect(result.status == 2)
        #expect(result.error.hasPrefix("resnet-tui: invalid model 'resnet19': expected one of "))
        let misspelled = try Self.run(["summary", "--model", "resnet18", "--widht", "8"])
        #expect(misspelled.status == 2)
        #expect(misspelled.error.contains("did you mean --width?"))
    }

    @Test func savedCheckpointLoadsWithoutModelFlag() throws {
        let directory = NSTemporaryDirectory() + "resnet-tui-ckpt-\(UUID().uuidString)"
        try FileManager.default.createDirectory(
            atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/plain8.safetensors"
        let save = try Self.run([
            "train", "--model", "plain8", "--width", "4", "--no-bn", "--steps", "2", "--batch", "4",
            "--threads", "1", "--save", path,
        ])
        #expect(save.status == 0, "\(save.error)")
        let load = try Self.run([
            "train", "--steps", "1", "--batch", "4", "--threads", "1", "--load", path,
        ])
        #expect(load.status == 0, "\(load.error)")
        let wrongModel = try Self.run([
            "train", "--model", "resnet8", "--steps", "1", "--batch", "4", "--load", path,
        ])
        #expect(wrongModel.status == 1)
        #expect(wrongModel.error.contains("checkpoint does not match resnet8"))
        #expect(wrongModel.error.contains("it was saved from plain8"))
        #expect(wrongModel.error.split(separator: "\n").count == 1)
    }

    @Test func hostileCheckpointFailsInOneLine() throws {
        let directory = NSTemporaryDirectory() + "resnet-tui-ckpt-\(UUID().uuidString)"
        try FileManager.default.createDirectory(
            atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/hostile.safetensors"
        // The header length claims 2^40 bytes.
        try Data([0, 0, 0, 0, 0, 1, 0, 0] + Array("{}".utf8)).write(to: URL(fileURLWithPath: path))
        let result = try Self.run(["train", "--steps", "1", "--load", path])
        #expect(result.status == 1)
        #expect(
            result.error
                == "resnet-tui: \(path): header length 1099511627776 runs past the end of the "
                + "10-byte file\n")
    }
}
