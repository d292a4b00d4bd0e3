import Foundation
import Training

/// Flags that choose and change the model, shared by every command that builds one.
let modelFlags = [
    FlagSpec(name: "width", takesValue: true, help: ""),
    FlagSpec(name: "blocks", takesValue: true, help: ""),
    FlagSpec(name: "no-bn", takesValue: false, help: ""),
    FlagSpec(name: "no-skip", takesValue: false, help: ""),
    FlagSpec(name: "skip-off", takesValue: true, help: ""),
    FlagSpec(name: "zero-init-residual", takesValue: false, help: ""),
]

/// Flags that load the model's weights from a checkpoint and save them to one.
let checkpointFlags = [
    FlagSpec(name: "load", takesValue: true, help: ""),
    FlagSpec(name: "save", takesValue: true, help: ""),
]

let modelUsage = """
      --model NAME      resnet8/14/20/32/44/56/110 (CIFAR layout, default resnet20),
                        plain8 ... plain110 (the same with every skip off), or
                        resnet18/34/50/101/152 (ImageNet layout: 7x7/2 stem, max pool)
      --width W         base width: channels of the stem and the first stage
                        (default 16 for the CIFAR layout, 64 for the ImageNet layout)
      --blocks LIST     blocks per stage instead of the name's layout, such as 1,1,1,1
                        with resnet50 for a bottleneck network of 4 blocks
      --no-bn           no batch norm; every convolution gets a bias instead
      --no-skip         turn every skip connection off
      --skip-off LIST   turn the skips of these blocks off, numbered from 1: 1,4,7
      --zero-init-residual
                        start each block's residual branch at zero: its last batch-norm
                        weight, or without batch norm its last convolution
      --load FILE       load weights from a safetensors checkpoint; without --model the
                        model named in the checkpoint is built
      --save FILE       save a safetensors checkpoint when the command ends
    """

/// Parses `--model` (default resnet20) and the model flags.
func parseModelSpec(_ parsed: ParsedArguments) throws -> ModelSpec {
    let width: Int? =
        parsed.values["width"] == nil
        ? nil : try parsed.int("width", default: 0, range: 1...4096)
    do {
        return try ModelSpec.parse(
            name: parsed.string("model", default: "resnet20"), width: width,
            blocks: parsed.values["blocks"], batchNorm: !parsed.has("no-bn"),
            noSkip: parsed.has("no-skip"),
            skipOff: parsed.values["skip-off"],
            zeroInitResidual: parsed.has("zero-init-residual"))
    } catch {
        throw UsageError(description: error.description)
    }
}

/// Reads the model config stored in the checkpoint at `path`, or nil when it has none.
func checkpointConfig(path: String) throws -> ResNetConfig? {
    let file: SafetensorsFile
    do {
        file = try SafetensorsFile.read(path: path)
    } catch {
        throw CheckpointError.file(error)
    }
    return try ResNetConfig.fromCheckpoint(metadata: file.metadata, path: path)
}

/// Builds the model the flags or the `--load` checkpoint describe, for images of the given
/// shape, and loads the checkpoint's weights when `--load` is given. Without `--load` the
/// weights are drawn from `seed`.
func makeModel(
    _ parsed: ParsedArguments, channels: Int, height: Int, width: Int, classCount: Int,
    batch: Int, seed: UInt64
) throws -> ResNet {
    var spec = try parseModelSpec(parsed)
    let loadPath = parsed.values["load"]
    if let loadPath, parsed.values["model"] == nil,
        let stored = try checkpointConfig(path: loadPath)
    {
        spec = stored.spec
    }
    let config = ResNetConfig(
        spec: spec, inputChannels: channels, inputHeight: height, inputWidth: width,
        classCount: classCount)
    try checkMemory(config: config, batch: batch, modelName: config.name)
    let model = ResNet(config: config, batchSize: batch)
    var generator = SeededGenerator(seed: seed)
    model.initialize(using: &generator)
    if let loadPath {
        try model.loadCheckpoint(from: loadPath)
        // On stderr, so a script reading the command's output gets only its results.
        FileHandle.standardError.write(Data("loaded checkpoint \(loadPath)\n".utf8))
    }
    return model
}

/// Saves the model to the `--save` path, if one was given.
func saveIfRequested(_ parsed: ParsedArguments, model: ResNet) throws {
    guard let path = parsed.values["save"] else { return }
    try model.saveCheckpoint(to: path)
    print("saved checkpoint \(path)")
}

/// Fails at once when `--save` or `--record` names a path in a folder that does not exist
/// or cannot be written, rather than after a long run whose weights or keys would then be
/// lost.
func checkOutputPaths(_ parsed: ParsedArguments) throws {
    for option in ["save", "record"] {
        guard let path = parsed.values[option] else { continue }
        let folder = (path as NSString).deletingLastPathComponent
        let directory = folder.isEmpty ? "." : folder
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory),
            isDirectory.boolValue
        else {
            throw TrainingFailure(
                description: "--\(option) \(path): the folder \(directory) does not exist")
        }
        guard FileManager.default.isWritableFile(atPath: directory) else {
            throw TrainingFailure(
                description: "--\(option) \(path): the folder \(directory) is not writable")
        }
    }
}

/// Returns a warning that names the batch-norm layers normalising each channel over fewer
/// than `ResNetConfig.minimumBatchNormValuesPerChannel` values in a training batch of
/// `batch` images, or nil when there are none.
func batchNormSampleWarning(config: ResNetConfig, batch: Int) -> String? {
    let limit = ResNetConfig.minimumBatchNormValuesPerChannel
    let small = config.batchNormSampleSizes(batch: batch).filter {
        $0.valuesPerChannel < limit
    }
    guard let smallest = small.min(by: { $0.valuesPerChannel < $1.valuesPerChannel }) else {
        return nil
    }
    let others = small.count == 1 ? "" : " and \(small.count - 1) more batch norms"
    return "warning: batch \(batch) leaves \(smallest.name)\(others) with under \(limit) values "
        + "per channel: their gradients are mostly rounding error and can blow up the "
        + "weights (in PyTorch too). Raise --batch or the image size."
}
