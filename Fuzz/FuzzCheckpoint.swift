import Engine
import Training

/// The model that every input is loaded into: resnet8 with base width 2, for 1x4x4 images
/// and 10 classes. Fuzz/make_seeds.py writes seeds with its tensor names and shapes.
nonisolated(unsafe) let fixedModel: ResNet = {
    let spec = try! ModelSpec.parse(name: "resnet8", width: 2)
    let config = ResNetConfig(
        spec: spec, inputChannels: 1, inputHeight: 4, inputWidth: 4, classCount: 10)
    let model = ResNet(config: config, batchSize: 2)
    var generator = SeededGenerator(seed: 1)
    model.initialize(using: &generator)
    return model
}()

/// Parses the input as a safetensors checkpoint and loads it into a fixed model, then into
/// a model built from the checkpoint's own metadata when that model is small. This runs
/// the path of `--load FILE`: the strict check of names, dtypes and shapes, the NaN and
/// infinity check, and the rebuilding of a model from metadata.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCheckpoint(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let file = try? SafetensorsFile.parse(bytes) else { return 0 }
    loadIntoFixedModel(file)
    loadIntoModelFromMetadata(file)
    return 0
}

/// Loads `file` into `fixedModel` and checks that the load is all or nothing: a rejected
/// file leaves every tensor as it was, and an accepted one leaves the file's values, all
/// finite, in tensors of the same names.
func loadIntoFixedModel(_ file: SafetensorsFile) {
    let before = fixedModel.checkpoint().tensors
    do {
        try fixedModel.load(file, path: "fuzz")
    } catch {
        precondition(fixedModel.checkpoint().tensors == before, "a rejected load changed the model")
        // Formats the message as `--load` prints it.
        _ = error.description
        return
    }
    var loaded: [String: SafetensorsTensor] = [:]
    for tensor in fixedModel.checkpoint().tensors { loaded[tensor.name] = tensor }
    for tensor in file.tensors {
        precondition(loaded[tensor.name] == tensor, "\(tensor.name) differs after the load")
    }
    for tensor in loaded.values {
        precondition(tensor.floats?.allSatisfy(\.isFinite) ?? true, "\(tensor.name) is not finite")
    }
}

/// Builds the model that the metadata describes, as `--load` does without `--model`, and
/// loads the file into it. Models over 100,000 parameters or 4096 input values are skipped,
/// so that one input cannot take the fuzzer's time or memory.
func loadIntoModelFromMetadata(_ file: SafetensorsFile) {
    let config: ResNetConfig
    do {
        guard let stored = try ResNetConfig.fromCheckpoint(metadata: file.metadata, path: "fuzz")
        else { return }
        config = stored
    } catch {
        _ = error.description
        return
    }
    let inputValues = config.inputChannels * config.inputHeight * config.inputWidth
    guard inputValues <= 4096, config.classCount <= 1000, config.parameterCount <= 100_000
    else { return }
    let model = ResNet(config: config, batchSize: 2)
    _ = try? model.load(file, path: "fuzz")
}
