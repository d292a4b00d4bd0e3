import Foundation
import Testing

/// Overwrites elements of the F32 tensor `name` in the safetensors file at `path` with
/// `value`, in place. The header is read with Foundation's JSON parser, so the product's
/// reader is not involved.
func plant(_ value: Float, in name: String, elements: [Int], path: String) throws {
    var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    var headerLength = 0
    for index in 0..<8 { headerLength |= Int(bytes[index]) << (8 * index) }
    let header = Data(bytes[8..<(8 + headerLength)])
    let object = try #require(try JSONSerialization.jsonObject(with: header) as? [String: Any])
    let entry = try #require(object[name] as? [String: Any], "no tensor \(name) in \(path)")
    let offsets = try #require(entry["data_offsets"] as? [Int])
    for element in elements {
        let position = 8 + headerLength + offsets[0] + 4 * element
        #expect(position + 4 <= 8 + headerLength + offsets[1], "element \(element) of \(name)")
        bytes.replaceSubrange(position..<position + 4, with: floatBytes([value]))
    }
    try Data(bytes).write(to: URL(fileURLWithPath: path))
}

@Suite struct NumericalGuardTests {
    let model = ["--model", "resnet8", "--input", "1,8,8", "--batch", "4", "--threads", "1"]

    @Test(arguments: [
        (Float.nan, "3 NaN values"),
        (-Float.infinity, "3 infinite values"),
    ])
    func trainRejectsNonFiniteCheckpoint(value: Float, counts: String) throws {
        let directory = try makeTemporaryDirectory()
        let path = directory + "/planted.safetensors"
        let saved = try run(["train", "--steps", "1", "--save", path] + model)
        #expect(saved.status == 0, "stderr: \(saved.stderr)")
        try plant(value, in: "layer2.0.conv1.weight", elements: [4, 9, 30], path: path)

        let result = try run(["train", "--steps", "1", "--load", path] + model)
        #expect(result.status == 1, "stdout: \(result.stdout)")
        #expect(
            result.stderr
                == "resnet-tui: \(path): layer2.0.conv1.weight contains \(counts) "
                + "(first at element 4)\n")
        #expect(result.stdout.isEmpty, "training ran: \(result.stdout)")
    }

    @Test func trainWarnsOfTwoValueBatchNorm() throws {
        let resnet50 = [
            "train", "--model", "resnet50", "--width", "4", "--input", "3,32,32", "--steps", "1",
            "--no-eval", "--threads", "1",
        ]
        let result = try run(resnet50 + ["--batch", "2"])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        #expect(
            result.stderr.hasPrefix(
                "warning: batch 2 leaves layer4.0.bn2 and 8 more batch norms with under 4 "
                    + "values per channel"),
            "stderr: \(result.stderr)")

        let larger = try run(resnet50 + ["--batch", "4"])
        #expect(larger.status == 0, "stderr: \(larger.stderr)")
        #expect(!larger.stderr.contains("warning"), "stderr: \(larger.stderr)")
    }

    @Test func trainReportsDivergedStep() throws {
        // With learning rate 100 and no batch norm, step 2 reaches a loss near 3e10 and the
        // loss of step 3 is NaN.
        let directory = try makeTemporaryDirectory()
        let log = directory + "/run.csv"
        let result = try run(
            [
                "train", "--steps", "5", "--lr", "100", "--no-bn", "--schedule", "constant",
                "--log", log,
            ]
                + model)
        #expect(result.status == 1, "stdout: \(result.stdout)")
        #expect(
            result.stderr
                == "resnet-tui: loss is NaN at step 3, so training stopped before that step's "
                + "update; lower --lr and try again\n")
        let rows = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n")
        #expect(rows.count == 3, "the log has a header and the two finished steps")
    }
}
