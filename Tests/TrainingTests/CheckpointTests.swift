import Engine
import Foundation
import Testing
import Training

/// Builds a small model with weights drawn from `seed`.
func makeModel(_ name: String = "resnet8", width: Int = 4, seed: UInt64 = 1, batch: Int = 2)
    throws -> ResNet
{
    let spec = try ModelSpec.parse(name: name, width: width)
    let config = ResNetConfig(
        spec: spec, inputChannels: 3, inputHeight: 8, inputWidth: 8, classCount: 5)
    let model = ResNet(config: config, batchSize: batch)
    var generator = TestGenerator(seed: seed)
    model.initialize(using: &generator)
    return model
}

/// Expects loading `file` into `model` to fail, and returns the error's message.
func loadError(
    _ model: ResNet, _ file: SafetensorsFile, sourceLocation: SourceLocation = #_sourceLocation
) -> String {
    do {
        try model.load(file, path: "test.safetensors")
        Issue.record("the checkpoint loaded", sourceLocation: sourceLocation)
        return ""
    } catch {
        return error.description
    }
}

func stateValues(_ model: ResNet) -> [String: [Float]] {
    var values: [String: [Float]] = [:]
    for tensor in model.checkpoint().tensors {
        values[tensor.name] = tensor.floats ?? tensor.int64s!.map(Float.init)
    }
    return values
}

@Suite struct CheckpointTests {
    @Test func savedNamesAndDTypesFollowTorchvision() throws {
        let model = try makeModel("resnet50", width: 2)
        let file = model.checkpoint()
        let names = file.tensors.map(\.name)
        #expect(
            names.prefix(6) == [
                "conv1.weight", "bn1.weight", "bn1.bias", "bn1.running_mean", "bn1.running_var",
                "bn1.num_batches_tracked",
            ])
        #expect(names.contains("layer1.0.downsample.0.weight"))
        #expect(names.contains("layer4.2.bn3.running_var"))
        #expect(names.suffix(2) == ["fc.weight", "fc.bias"])
        let counter = file.tensor(named: "layer2.0.bn1.num_batches_tracked")!
        #expect(counter.dtype == .I64)
        #expect(counter.shape == [])
        #expect(file.metadata["model"] == "resnet50")
        #expect(file.metadata["width"] == "2")
    }

    @Test func saveThenLoadRestoresEveryTensor() throws {
        let directory = try makeTemporaryDirectory()
        let path = directory + "/model.safetensors"
        let saved = try makeModel(seed: 1)
        try saved.saveCheckpoint(to: path)
        let loaded = try makeModel(seed: 2)
        #expect(stateValues(loaded) != stateValues(saved))
        try loaded.loadCheckpoint(from: path)
        #expect(stateValues(loaded) == stateValues(saved))
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: directory)
        #expect(leftovers == ["model.safetensors"], "no temporary file is left behind")
    }

    /// A checkpoint of a deeper model differs in dozens of tensors, so the message names the
    /// first few and counts the rest to stay readable on one line.
    @Test func mismatchMessageCountsTheRest() throws {
        let directory = try makeTemporaryDirectory()
        let path = directory + "/resnet20.safetensors"
        try makeModel("resnet20").saveCheckpoint(to: path)
        let model = try makeModel("resnet8")
        do {
            try model.loadCheckpoint(from: path)
            Issue.record("a resnet20 checkpoint loaded into resnet8")
        } catch {
            guard case .mismatch(_, _, let problems) = error else {
                Issue.record("expected a mismatch, got \(error)")
                return
            }
            #expect(problems.count > 6)
            let text = error.description
            #expect(text.contains("(\(problems.count) problems)"), "\(text)")
            #expect(text.hasSuffix("; and \(problems.count - 6) more"), "\(text)")
            #expect(text.contains(problems[5]), "\(text)")
            #expect(!text.contains(problems[6]), "\(text)")
        }
    }

    @Test func saveReplacesExistingFileWhole() throws {
        let directory = try makeTemporaryDirectory()
        let path = directory + "/model.safetensors"
        try Data(repeating: 0xAB, count: 1 << 20).write(to: URL(fileURLWithPath: path))
        let model = try makeModel()
        try model.saveCheckpoint(to: path)
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(bytes == model.checkpoint().serialized())
    }

    @Test func failedSaveLeavesNoTemporaryFile() throws {
        let directory = try makeTemporaryDirectory()
        // A non-empty directory at the target path makes the final rename fail.
        let target = directory + "/model.safetensors"
        try FileManager.default.createDirectory(
            atPath: target + "/inside", withIntermediateDirectories: true)
        let model = try makeModel()
        #expect(throws: SafetensorsError.self) { try model.saveCheckpoint(to: target) }
        let entries = try FileManager.default.contentsOfDirectory(atPath: directory)
        #expect(entries == ["model.safetensors"])
        #expect(throws: SafetensorsError.self) {
            try model.saveCheckpoint(to: directory + "/missing/model.safetensors")
        }
    }

    @Test func saveDeletesAbandonedTemporaryFiles() throws {
        let directory = try makeTemporaryDirectory()
        // The PID of a process that has exited and been reaped, as after a SIGKILL.
        let exited = Process()
        exited.executableURL = URL(fileURLWithPath: "/bin/true")
        try exited.run()
        exited.waitUntilExit()
        let abandoned = ".model.safetensors.\(exited.processIdentifier).tmp"
        // PID 1 always runs, so its file may still be in use.
        let inUse = ".model.safetensors.1.tmp"
        let otherTarget = ".other.safetensors.\(exited.processIdentifier).tmp"
        for name in [abandoned, inUse, otherTarget] {
            try Data([1, 2, 3]).write(to: URL(fileURLWithPath: directory + "/" + name))
        }
        try makeModel().saveCheckpoint(to: directory + "/model.safetensors")
        let entries = Set(try FileManager.default.contentsOfDirectory(atPath: directory))
        #expect(entries == ["model.safetensors", inUse, otherTarget])
    }

    @Test func mismatchListsEveryProblemByName() throws {
        let model = try makeModel()
        var file = model.checkpoint()
        file.tensors.removeAll { $0.name == "layer1.0.conv2.weight" }
        file.tensors.removeAll { $0.name == "fc.bias" }
        file.tensors.append(
            SafetensorsTensor(name: "layer9.0.conv1.weight", shape: [1], floats: [0]))
        let index = file.tensors.firstIndex { $0.name == "bn1.weight" }!
        file.tensors[index] = SafetensorsTensor(
            name: "bn1.weight", shape: [2, 2], floats: [1, 1, 1, 1])
        let before = stateValues(model)
        let message = loadError(model, file)
        #expect(message.contains("missing layer1.0.conv2.weight"))
        #expect(message.contains("missing fc.bias"))
        #expect(message.contains("unexpected layer9.0.conv1.weight"))
        #expect(message.contains("bn1.weight has shape [2, 2], expected [4]"))
        #expect(message.contains("test.safetensors"))
        #expect(!message.contains("\n"))
        #expect(stateValues(model) == before, "a failed load changes nothing")
    }

    @Test func otherModelIsNamedInMismatch() throws {
        let message = loadError(try makeModel("resnet8"), try makeModel("resnet18").checkpoint())
        #expect(message.contains("it was saved from resnet18"))
    }

    @Test func wrongDTypeIsRejected() throws {
        let model = try makeModel()
        var file = model.checkpoint()
        let index = file.tensors.firstIndex { $0.name == "conv1.weight" }!
        let weight = file.tensors[index]
        file.tensors[index] = SafetensorsTensor(
            name: weight.name, dtype: .F16, shape: weight.shape,
            bytes: Array(weight.bytes.prefix(weight.bytes.count / 2)))
        let counter = file.tensors.firstIndex { $0.name == "bn1.num_batches_tracked" }!
        file.tensors[counter] = SafetensorsTensor(
            name: "bn1.num_batches_tracked", shape: [], floats: [0])
        let message = loadError(model, file)
        #expect(message.contains("conv1.weight has dtype F16, expected F32"))
        #expect(message.contains("bn1.num_batches_tracked has dtype F32, expected I64"))
    }

    @Test func nanValuesAreReportedByName() throws {
        let model = try makeModel()
        var file = model.checkpoint()
        for name in ["layer1.0.bn1.running_var", "fc.weight"] {
            let index = file.tensors.firstIndex { $0.name == name }!
            var values = file.tensors[index].floats!
            values[values.count - 1] = name == "fc.weight" ? .infinity : .nan
            file.tensors[index] = SafetensorsTensor(
                name: name, shape: file.tensors[index].shape, floats: values)
        }
        let message = loadError(model, file)
        #expect(message.hasPrefix("test.safetensors: "), "\(message)")
        #expect(
            message.contains("layer1.0.bn1.running_var contains 1 NaN value (first at element 3)"),
            "\(message)")
        #expect(
            message.contains("fc.weight contains 1 infinite value (first at element 79)"),
            "\(message)")
        #expect(!message.contains("\n"), "\(message)")
    }

    @Test func plantedNaNFileIsRejectedWithCounts() throws {
        let directory = try makeTemporaryDirectory()
        let path = directory + "/nan.safetensors"
        let source = try makeModel(seed: 1)
        try source.saveCheckpoint(to: path)
        // Overwrite three floats of one weight in the file's bytes with a quiet NaN.
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let name = "layer2.0.conv1.weight"
        let file = try SafetensorsFile.parse(bytes)
        let dataSize = file.tensors.reduce(0) { $0 + $1.bytes.count }
        let tensorStart = try #require(
            locate(name, in: file, dataStart: bytes.count - dataSize), "no \(name) in the file")
        for element in [2, 5, 7] {
            let position = tensorStart + 4 * element
            bytes.replaceSubrange(position..<position + 4, with: [0x00, 0x00, 0xC0, 0x7F])
        }
        try Data(bytes).write(to: URL(fileURLWithPath: path))

        let model = try makeModel(seed: 2)
        let before = stateValues(model)
        do {
            try model.loadCheckpoint(from: path)
            Issue.record("a checkpoint with NaN weights loaded")
        } catch {
            #expect(
                error.description
                    == "\(path): layer2.0.conv1.weight contains 3 NaN values (first at element 2)")
        }
        #expect(stateValues(model) == before, "a rejected load changed the model")
    }

    @Test func missingBatchCounterReadsAsZero() throws {
        let source = try makeModel(seed: 1)
        var file = source.checkpoint()
        file.tensors.removeAll { $0.name.hasSuffix("num_batches_tracked") }
        let model = try makeModel(seed: 2)
        let pool = ThreadPool(threads: 1)
        for layer in 0..<model.layerCount {
            model.forward(layer: layer, training: true, pool: pool)
        }
        #expect(model.checkpoint().tensor(named: "bn1.num_batches_tracked")?.int64s == [1])
        try model.load(file, path: "test.safetensors")
        for tensor in model.checkpoint().tensors where tensor.name.hasSuffix("num_batches_tracked")
        {
            #expect(tensor.int64s == [0], "\(tensor.name)")
        }
        #expect(stateValues(model)["conv1.weight"] == stateValues(source)["conv1.weight"])
    }

    @Test func counterWithShapeOneIsRejected() throws {
        let model = try makeModel()
        var file = model.checkpoint()
        let index = file.tensors.firstIndex { $0.name == "bn1.num_batches_tracked" }!
        file.tensors[index] = SafetensorsTensor(
            name: "bn1.num_batches_tracked", shape: [1], int64s: [3])
        #expect(
            loadError(model, file).contains(
                "bn1.num_batches_tracked has shape [1], expected [] (0-dim)"))
    }

    @Test func metadataRecordsToggledSkips() throws {
        let model = try makeModel("resnet8")
        model.setSkip(layer: 2, enabled: false)
        #expect(model.checkpoint().metadata["skip_off"] == "2")
        let config = try #require(
            try ResNetConfig.fromCheckpoint(metadata: model.checkpoint().metadata, path: "x"))
        #expect(config.spec.skipOff == [2])
    }

    @Test func metadataRebuildsTheModel() throws {
        let spec = try ModelSpec.parse(
            name: "resnet20", width: 6, batchNorm: false, skipOff: "2,5",
            zeroInitResidual: true)
        let config = ResNetConfig(
            spec: spec, inputChannels: 1, inputHeight: 28, inputWidth: 28, classCount: 10)
        let rebuilt = try ResNetConfig.fromCheckpoint(
            metadata: config.checkpointMetadata, path: "x")
        #expect(rebuilt == config)
        #expect(try ResNetConfig.fromCheckpoint(metadata: ["format": "pt"], path: "x") == nil)
        #expect(throws: CheckpointError.self) {
            try ResNetConfig.fromCheckpoint(metadata: ["model": "resnet19"], path: "x")
        }
    }
}

/// Returns the byte position in the file of the tensor `name`, given that the data buffer
/// starts at `dataStart` and `file.tensors` is in data order.
private func locate(_ name: String, in file: SafetensorsFile, dataStart: Int) -> Int? {
    var position = dataStart
    for tensor in file.tensors {
        if tensor.name == name { return position }
        position += tensor.bytes.count
    }
    return nil
}
