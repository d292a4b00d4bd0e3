import Foundation
import Testing

/// `replay`, `--save` and `--record` checks that fail before any training runs.
struct ReplayCommandTests {
    static let header =
        #"{"arguments":["--model","resnet8","--input","1,8,8"],"data":"shapes","#
        + #""format":"resnet-tui-session","model":"resnet8","seed":0,"type":"header","#
        + #""version":1}"#

    static func keyLine(layer: Int) -> String {
        #"{"command":"toggle-skip","iteration":1,"key":"t","layer":"# + "\(layer)"
            + #","phase":0,"phasesRun":15,"type":"key"}"#
    }

    @Test func blockMissingFromModelIsRejected() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/session.jsonl"
        // resnet8 has blocks at layers 1 to 3 only.
        try (Self.header + "\n" + Self.keyLine(layer: 99) + "\n")
            .write(toFile: path, atomically: true, encoding: .utf8)
        let result = try run(["replay", path])
        #expect(result.status == 1, "\(result.stderr)")
        #expect(
            result.stderr.contains(
                "line 2: toggle-skip names layer 99, which is not a block of resnet8"),
            "\(result.stderr)")
        #expect(!result.stdout.contains("replayed"), "\(result.stdout)")

        try (Self.header + "\n" + Self.keyLine(layer: 2) + "\n")
            .write(toFile: path, atomically: true, encoding: .utf8)
        let valid = try run(["replay", path])
        #expect(valid.status == 0, "\(valid.stderr)")
        #expect(valid.stdout.contains("replayed 1 keys"), "\(valid.stdout)")
    }

    @Test func saveIntoMissingFolderFailsBeforeTraining() throws {
        let result = try run([
            "train", "--model", "resnet8", "--input", "1,8,8", "--steps", "1", "--no-eval",
            "--save", "/nonexistent-folder/x.safetensors",
        ])
        #expect(result.status == 1)
        #expect(
            result.stderr.contains("the folder /nonexistent-folder does not exist"),
            "\(result.stderr)")
        #expect(!result.stdout.contains("step"), "trained before failing: \(result.stdout)")
    }

    /// The tests run without a terminal, so the UI would refuse with "not a terminal". A
    /// session file in a missing folder must be reported before that. `replay` of an empty
    /// file or of a folder fails with a message naming it.
    @Test func recordIntoMissingFolderIsReportedBeforeTheTerminal() throws {
        let result = try run([
            "--model", "resnet8", "--input", "1,8,8", "--record", "/nonexistent-folder/s.jsonl",
        ])
        #expect(result.status == 1)
        #expect(
            result.stderr.contains("--record /nonexistent-folder/s.jsonl: the folder "
                + "/nonexistent-folder does not exist"),
            "\(result.stderr)")

        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let empty = directory + "/empty.jsonl"
        FileManager.default.createFile(atPath: empty, contents: Data())
        let emptyResult = try run(["replay", empty])
        #expect(emptyResult.status == 1)
        #expect(emptyResult.stderr.contains(empty), "\(emptyResult.stderr)")
        let folderResult = try run(["replay", directory])
        #expect(folderResult.status == 1)
        #expect(folderResult.stderr.contains("it is a folder"), "\(folderResult.stderr)")
    }
}
