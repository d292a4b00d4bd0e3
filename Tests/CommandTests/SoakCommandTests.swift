import Foundation
import Testing

@Suite struct SoakCommandTests {
    @Test func shortSoakPassesAndReloadsCheckpoints() throws {
        let directory = try makeTemporaryDirectory()
        let result = try run([
            "soak", "--model", "resnet8", "--input", "1,8,8", "--batch", "8", "--threads", "1",
            "--steps", "300", "--save-every", "50", "--seed", "3", "--dir", directory,
        ])
        #expect(result.status == 0, "stderr: \(result.stderr)\nstdout: \(result.stdout)")
        #expect(result.stdout.contains("6 checkpoints saved"), "\(result.stdout)")
        #expect(result.stdout.contains("checkpoints: 6 of 6 loaded and equal"), "\(result.stdout)")
        #expect(result.stdout.contains("RSS from /proc/self/statm"), "\(result.stdout)")
        // Seed 3 draws at least one skip toggle and one learning-rate change in 300 steps.
        #expect(!result.stdout.contains(" 0 skip toggles"), "\(result.stdout)")
        #expect(!result.stdout.contains(" 0 learning-rate changes"), "\(result.stdout)")
        let files = try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
        #expect(
            files == [50, 100, 150, 200, 250, 300].map { "soak-step-\($0).safetensors" }.sorted())
    }

    @Test func soakFailsWhenSaveFails() throws {
        // A directory where the checkpoint of step 2 should go makes that save fail.
        let directory = try makeTemporaryDirectory()
        try FileManager.default.createDirectory(
            atPath: directory + "/soak-step-2.safetensors/inside",
            withIntermediateDirectories: true)
        let result = try run([
            "soak", "--model", "resnet8", "--input", "1,8,8", "--batch", "4", "--threads", "1",
            "--steps", "4", "--save-every", "2", "--dir", directory,
        ])
        #expect(result.status == 1, "stdout: \(result.stdout)")
        #expect(result.stderr.contains("soak-step-2.safetensors"), "\(result.stderr)")
    }

    @Test func soakWithoutDirIsUsageError() throws {
        let result = try run(["soak", "--steps", "10"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("missing --dir DIR"), "\(result.stderr)")
    }
}
