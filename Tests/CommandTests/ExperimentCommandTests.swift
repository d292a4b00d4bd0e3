import Foundation
import Testing

struct ExperimentCommandTests {
    @Test func listNamesEveryExperiment() throws {
        let result = try run(["experiment", "--list"])
        #expect(result.status == 0, "\(result.stderr)")
        for name in ["plain-vs-residual", "depth", "batchnorm", "zero-init"] {
            #expect(result.stdout.contains(name + " "), "\(name) missing:\n\(result.stdout)")
        }
    }

    @Test func unknownExperimentRejected() throws {
        let result = try run(["experiment", "plain-vs-resid"])
        #expect(result.status == 2)
        #expect(
            result.stderr.contains(
                "unknown experiment 'plain-vs-resid'; did you mean "
                    + "'plain-vs-residual'?"), "\(result.stderr)")
    }

    @Test func shortRunWritesCSVAndVerdict() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let csv = directory + "/pvr.csv"
        let result = try run([
            "experiment", "plain-vs-residual", "--steps", "12", "--input", "1,8,8",
            "--width", "4", "--threads", "2", "--csv", csv,
        ])
        #expect(result.status == 0, "\(result.stderr)")
        let rows = try String(contentsOfFile: csv, encoding: .utf8)
            .split(separator: "\n").map {
                $0.split(separator: ",", omittingEmptySubsequences: false)
            }
        // plain20 and resnet20 have 9 blocks, the most of the four networks.
        #expect(
            rows.first?.map(String.init) == ["step", "model", "loss", "accuracy", "learning_rate"]
                + (1...9).map { "block\($0)" })
        #expect(rows.count == 1 + 4 * 12)
        let models = Set(rows.dropFirst().map { String($0[1]) })
        #expect(models == ["plain8", "plain20", "resnet8", "resnet20"])
        // plain8 has 3 blocks, so its last 6 block cells are empty.
        let plain8 = try #require(rows.first { $0.count > 1 && $0[1] == "plain8" })
        let norms = plain8[5..<8].map { Double($0) }
        #expect(norms.allSatisfy { $0 != nil }, "\(plain8)")
        #expect(norms.allSatisfy { ($0 ?? 0) > 0 }, "\(plain8)")
        #expect(plain8[8...].allSatisfy { $0.isEmpty })
        // 12 steps give a window of 1; whichever way it goes, the verdict is one of the two.
        let verdict = result.stdout.split(separator: "\n").first {
            $0.hasPrefix("reproduced: ") || $0.hasPrefix("not reproduced: ")
        }
        #expect(verdict != nil, "no verdict:\n\(result.stdout)")
        #expect(result.stdout.contains("plain20 vs plain8: "))
        #expect(result.stdout.contains("resnet20 vs resnet8: "))
    }
}
