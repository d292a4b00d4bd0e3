import Engine
import Foundation
import Testing
import Training

/// Whole models checked against PyTorch. scripts/make-model-fixtures.py builds each network
/// in PyTorch, saves its initial weights as a checkpoint (CASE.checkpoint.safetensors) and
/// one training step on a fixed batch (CASE.expected.safetensors): the loss, every parameter
/// gradient and the state dict after SGD. This test loads the checkpoint PyTorch wrote,
/// runs the same step layer by layer as the stepper does, and compares every tensor within
/// 1e-4 of its largest magnitude.
@Suite struct ModelFixtureTests {
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()
        .appendingPathComponent("Fixtures/models")
        .path

    static let cases = [
        "resnet20", "plain20", "resnet20-no-bn", "bottleneck", "bottleneck-skip-off",
    ]

    @Test(arguments: cases)
    func oneStepMatchesPyTorch(name: String) throws {
        let checkpointPath = "\(Self.directory)/\(name).checkpoint.safetensors"
        let expected = try SafetensorsFile.read(
            path: "\(Self.directory)/\(name).expected.safetensors")
        let checkpoint = try SafetensorsFile.read(path: checkpointPath)
        let config = try #require(
            try ResNetConfig.fromCheckpoint(metadata: checkpoint.metadata, path: checkpointPath))

        let images = try #require(expected.tensor(named: "images"))
        let labels = try #require(expected.tensor(named: "labels")?.int64s)
        let model = ResNet(config: config, batchSize: images.shape[0])
        try model.loadCheckpoint(from: checkpointPath)
        for (index, value) in try #require(images.floats).enumerated() {
            model.images[index] = value
        }
        model.labels = labels.map { Int32($0) }

        let pool = ThreadPool(threads: 2)
        for layer in 0..<model.layerCount {
            model.forward(layer: layer, training: true, pool: pool)
        }
        let loss = model.loss().loss
        let expectedLoss = try #require(expected.tensor(named: "loss"))
        let lossValue = expectedLoss.bytes.withUnsafeBytes { $0.loadUnaligned(as: Double.self) }
        #expect(
            abs(loss - lossValue) <= 1e-5 * abs(lossValue),
            "\(name) loss \(loss), PyTorch \(lossValue)")
        for layer in (0..<model.layerCount).reversed() {
            _ = model.backward(layer: layer, pool: pool)
        }
        for parameter in model.parameters {
            let reference = try #require(expected.tensor(named: "grad." + parameter.name)?.floats)
            expectClose(
                parameter.gradient.toArray(), reference.map(Double.init),
                "\(name) grad \(parameter.name)")
        }

        model.update(learningRate: 0.1, momentum: 0.9, weightDecay: 5e-4, pool: pool)
        let after = model.checkpoint()
        #expect(after.tensors.count == checkpoint.tensors.count)
        for tensor in after.tensors {
            let reference = try #require(expected.tensor(named: "after." + tensor.name))
            #expect(tensor.shape == reference.shape, "\(tensor.name)")
            if let counts = tensor.int64s {
                #expect(counts == reference.int64s, "\(name) after \(tensor.name)")
            } else {
                expectClose(
                    try #require(tensor.floats), try #require(reference.floats).map(Double.init),
                    "\(name) after \(tensor.name)")
            }
        }
    }

    /// Checkpoints written by resnet-tui, which the fixture script loads into PyTorch with
    /// `load_state_dict(strict=True)`, also load back here and keep their bytes.
    @Test(arguments: ["resnet20", "resnet50", "plain14-no-bn"])
    func ownCheckpointRoundTrips(name: String) throws {
        let path = "\(Self.directory)/\(name).resnet-tui.safetensors"
        let file = try SafetensorsFile.read(path: path)
        let config = try #require(
            try ResNetConfig.fromCheckpoint(metadata: file.metadata, path: path))
        let model = ResNet(config: config, batchSize: 2)
        try model.loadCheckpoint(from: path)
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(model.checkpoint().serialized() == bytes)
    }
}
