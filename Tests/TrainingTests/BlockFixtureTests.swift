import Engine
import FixtureSupport
import Foundation
import Testing
import Training

/// Checks `BasicBlock` against torchvision-style blocks run by PyTorch in training mode,
/// stored in `Fixtures/` by `scripts/make-block-fixtures.py`. The output, dL/dx and every
/// parameter gradient must lie within 1e-4 of the largest magnitude in the expected tensor.
struct BlockFixtureTests {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures")

    /// Records an issue when `observed` does not match the fixture's tensor (see
    /// `Fixture.mismatch`).
    func expectMatches(
        _ observed: Tensor, _ fixture: Fixture, _ tensorName: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        if let mismatch = fixture.mismatch(observed, tensorName) {
            Issue.record(Comment(rawValue: mismatch), sourceLocation: sourceLocation)
        }
    }

    static let fixtureNames = [
        "basic_block_identity_skip_on", "basic_block_identity_skip_off",
        "basic_block_projection_skip_on", "basic_block_projection_skip_off",
    ]

    @Test(arguments: fixtureNames, [1, 2, 3])
    func basicBlockMatchesPyTorch(name: String, threads: Int) throws {
        let fixture = try Fixture(name, in: Self.directory)
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
