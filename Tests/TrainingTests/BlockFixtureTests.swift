import Engine
import Foundation
import Testing
import Training

/// Checks `BasicBlock` against torchvision-style blocks run by PyTorch in training mode,
/// stored in `Fixtures/` by `scripts/make-block-fixtures.py`. The output, dL/dx and every
/// parameter gradient must lie within 1e-4 of the largest magnitude in the expected tensor.
struct BlockFixtureTests {
    /// One fixture: the block's settings and its named tensors, read from NAME.json and
    /// NAME.bin (little-endian float32).
    struct BlockFixture {
        private struct Header: Decodable {
            var settings: [String: Double]
            var tensors: [Entry]
        }

        private struct Entry: Decodable {
            var name: String
            var shape: [Int]
            var offset: Int
        }

        let name: String
        let settings: [String: Double]
        private let entries: [String: Entry]
        private let values: [Float]

        init(_ name: String) throws {
            self.name = name
            let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
                .appendingPathComponent("Fixtures")
            let headerData = try Data(
                contentsOf: directory.appendingPathComponent(name + ".json"))
            let header = try JSONDecoder().decode(Header.self, from: headerData)
            settings = header.settings
            entries = Dictionary(uniqueKeysWithValues: header.tensors.map { ($0.name, $0) })
            let payload = try Data(contentsOf: directory.appendingPathComponent(name + ".bin"))
            values = payload.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        }

        func hasTensor(_ tensorName: String) -> Bool { entries[tensorName] != nil }

        func shape(_ tensorName: String) -> [Int] {
            guard let entry = entries[tensorName] else {
                preconditionFailure("fixture \(name) has no tensor '\(tensorName)'")
            }
            return entry.shape
        }

        func floats(_ tensorName: String) -> [Float] {
            let count = shape(tensorName).reduce(1, *)
            let offset = entries[tensorName]!.offset
            return Array(values[offset..<(offset + count)])
        }

        func tensor(_ tensorName: String) -> Tensor {
            Tensor(shape: shape(tensorName), values: floats(tensorName))
        }

        func int(_ setting: String) -> Int { Int(settings[setting]!) }
    }

    /// Records one issue when `observed` differs from the fixture's tensor by more than 1e-4
    /// of the expected tensor's max magnitude.
    func expectMatches(
        _ observed: Tensor, _ fixture: BlockFixture, _ tensorName: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        let what = "\(fixture.name).\(tensorName)"
        guard observed.shape == fixture.shape(tensorName) else {
            Issue.record(
                "\(what): expected shape \(fixture.shape(tensorName)), observed \(observed.shape)",
                sourceLocation: sourceLocation)
            return
        }
        let expected = fixture.floats(tensorName)
        let scale = expected.map { abs(Double($0)) }.max() ?? 0
        let tolerance = 1e-4 * max(scale, 1e-30)
        var worst: (index: Int, difference: Double)? = nil
        for i in expected.indices {
            let difference = abs(Double(observed[i]) - Double(expected[i]))
            if !(difference <= tolerance), worst == nil || !(difference <= worst!.difference) {
                worst = (i, difference)
            }
        }
        if let worst {
            Issue.record(
                """
                \(what): worst element \(worst.index) expected \(expected[worst.index]), \
                observed \(observed[worst.index]), difference \(worst.difference); tolerance \
                \(tolerance) (1e-4 x max |expected| \(scale))
                """,
                sourceLocation: sourceLocation)
        }
    }

    static let fixtureNames = [
        "basic_block_identity_skip_on", "basic_block_identity_skip_off",
        "basic_block_projection_skip_on", "basic_block_projection_skip_off",
    ]

    @Test(arguments: fixtureNames, [1, 2, 3])
    func basicBlockMatchesPyTorch(name: String, threads: Int) throws {
        let fixture = try BlockFixture(name)
        let input = fixture.tensor("input")
        let (batch, height, width) = (input.shape[0], input.shape[2], input.shape[3])
        let blockName = "layer2.0"
        let block = BasicBlock(
            name: blockName, batch: batch, inChannels: fixture.int("inChannels"),
            outChannels: fixture.int("outChannels"), height: height, width: width,
            stride: fixture.int("stride"), batchNorm: true)
        block.skipEnabled = fixture.int("skip") == 1

        // Every parameter of the block comes from the fixture, under its name relative to
        // the block.
        var loaded = 0
        for parameter in block.parameters {
            let localName = String(parameter.name.dropFirst(blockName.count + 1))
            try #require(fixture.hasTensor(localName), "fixture has no \(localName)")
            parameter.value.copy(from: fixture.tensor(localName))
            loaded += 1
        }
        #expect(loaded == (fixture.hasTensor("downsample.0.weight") ? 9 : 6))

        let pool = ThreadPool(threads: threads)
        block.forward(input: input, training: true, pool: pool)
        block.backward(gradOutput: fixture.tensor("gradOutput"), input: input, pool: pool)

        expectMatches(block.output, fixture, "output")
        expectMatches(block.gradInput, fixture, "gradInput")
        for parameter in block.parameters {
            let localName = String(parameter.name.dropFirst(blockName.count + 1))
            expectMatches(parameter.gradient, fixture, "grad." + localName)
        }
    }
}
