import Engine

/// A checkpoint that does not fit the model, or whose file is invalid.
public enum CheckpointError: Error, Equatable, CustomStringConvertible {
    case file(SafetensorsError)
    /// Every missing, unexpected, mis-typed and mis-shaped tensor, each by name.
    case mismatch(path: String, model: String, problems: [String])
    /// Tensors that contain NaN or infinite values, each with its counts.
    case nonFinite(path: String, tensors: [NonFiniteValues])
    /// The metadata does not describe a model this program can build.
    case invalidMetadata(path: String, problem: String)

    public var description: String {
        switch self {
        case .file(let error):
            return error.description
        case .mismatch(let path, let model, let problems):
            // A checkpoint of another model can differ in hundreds of tensors. The first few
            // name the cause, and the count gives the extent.
            let listed = 6
            let more = problems.count > listed ? "; and \(problems.count - listed) more" : ""
            return "\(path): checkpoint does not match \(model) (\(problems.count) problems): "
                + problems.prefix(listed).joined(separator: "; ") + more
        case .nonFinite(let path, let tensors):
            return "\(path): " + tensors.map(\.description).joined(separator: "; ")
        case .invalidMetadata(let path, let problem):
            return "\(path): \(problem)"
        }
    }
}

/// Metadata keys under which checkpoints store the model. Values are strings, as the
/// safetensors format requires.
enum CheckpointKey {
    static let format = "format"
    static let model = "model"
    static let width = "width"
    static let blocks = "blocks"
    static let batchNorm = "batch_norm"
    static let skipOff = "skip_off"
    static let zeroInitResidual = "zero_init_residual"
    static let input = "input"
    static let classes = "classes"
}

extension ResNetConfig {
    /// The model's name, options, input shape and class count as checkpoint metadata.
    /// `format: pt` marks the tensors as a PyTorch state dict, as `safetensors.torch` does.
    public var checkpointMetadata: [String: String] {
        [
            CheckpointKey.format: "pt",
            CheckpointKey.model: spec.name,
            CheckpointKey.width: String(spec.baseWidth),
            CheckpointKey.blocks: spec.stageBlocks.map(String.init).joined(separator: ","),
            CheckpointKey.batchNorm: String(spec.batchNorm),
            CheckpointKey.skipOff: spec.skipOff.sorted().map(String.init).joined(separator: ","),
            CheckpointKey.zeroInitResidual: String(spec.zeroInitResidual),
            CheckpointKey.input: "\(inputChannels),\(inputHeight),\(inputWidth)",
            CheckpointKey.classes: String(classCount),
        ]
    }

    /// Rebuilds the config from checkpoint metadata; nil when the file has no `model` key,
    /// as in a checkpoint that PyTorch wrote.
    public static func fromCheckpoint(metadata: [String: String], path: String)
        throws(CheckpointError) -> ResNetConfig?
    {
        guard let name = metadata[CheckpointKey.model] else { return nil }
        func invalid(_ key: String) -> CheckpointError {
            .invalidMetadata(
                path: path,
                problem: "invalid metadata \(key)='\(metadata[key] ?? "")'")
        }
        let width = metadata[CheckpointKey.width].flatMap { Int($0) }
        let batchNorm = metadata[CheckpointKey.batchNorm].map { $0 == "true" } ?? true
        let zeroInit = metadata[CheckpointKey.zeroInitResidual] == "true"
        let spec: ModelSpec
        do {
            spec = try ModelSpec.parse(
                name: name, width: width, blocks: metadata[CheckpointKey.blocks],
                batchNorm: batchNorm,
                skipOff: metadata[CheckpointKey.skipOff].flatMap { $0.isEmpty ? nil : $0 },
                zeroInitResidual: zeroInit)
        } catch {
            throw .invalidMetadata(path: path, problem: error.description)
        }
        let input = (metadata[CheckpointKey.input] ?? "").split(separator: ",").compactMap {
            Int($0)
        }
        guard input.count == 3, input.allSatisfy({ (1...65536).contains($0) }) else {
            throw invalid(CheckpointKey.input)
        }
        guard let classes = metadata[CheckpointKey.classes].flatMap({ Int($0) }),
            (1...1_000_000).contains(classes)
        else { throw invalid(CheckpointKey.classes) }
        return ResNetConfig(
            spec: spec, inputChannels: input[0], inputHeight: input[1], inputWidth: input[2],
            classCount: classes)
    }
}

extension ResNet {
    /// Returns the model's state dict under torchvision's names, with the model in the
    /// metadata. `num_batches_tracked` is a 0-dim I64 as PyTorch stores it. The metadata records the
    /// skips as they are now, after any toggles, so loading restores the same network.
    public func checkpoint() -> SafetensorsFile {
        let tensors = stateEntries.map { entry in
            switch entry {
            case .floats(let name, let tensor):
                return SafetensorsTensor(name: name, shape: tensor.shape, floats: tensor.toArray())
            case .counter(let name, let norm):
                return SafetensorsTensor(name: name, shape: [], int64s: [norm.batchesTracked])
            }
        }
        var current = config
        current.spec.skipOff = Set(blocks.indices.filter { !blocks[$0].skipEnabled }.map { $0 + 1 })
        return SafetensorsFile(metadata: current.checkpointMetadata, tensors: tensors)
    }

    /// Saves the checkpoint to `path`; an interrupted save leaves any old file intact.
    public func saveCheckpoint(to path: String) throws(SafetensorsError) {
        try checkpoint().write(to: path)
    }

    /// Loads the tensors of the checkpoint at `path` into the model. Nothing changes unless
    /// every tensor fits: the error lists every missing, unexpected and mis-shaped tensor.
    /// A missing `num_batches_tracked` reads as 0, as PyTorch's batch norm fills it in.
    public func loadCheckpoint(from path: String) throws(CheckpointError) {
        let file: SafetensorsFile
        do {
            file = try SafetensorsFile.read(path: path)
        } catch {
            throw .file(error)
        }
        try load(file, path: path)
    }

    /// Loads `file` into the model; `path` names the source in errors.
    public func load(_ file: SafetensorsFile, path: String) throws(CheckpointError) {
        var byName: [String: SafetensorsTensor] = [:]
        for tensor in file.tensors { byName[tensor.name] = tensor }
        var problems: [String] = []
        var nonFinite: [NonFiniteValues] = []
        var floatValues: [(Tensor, [Float])] = []
        var counters: [(BatchNormState, Int64)] = []
        let entries = stateEntries
        let expectedNames = Set(entries.map(\.name))

        for entry in entries {
            switch entry {
            case .floats(let name, let tensor):
                guard let stored = byName[name] else {
                    problems.append("missing \(name)")
                    continue
                }
                guard stored.dtype == .F32 else {
                    problems.append("\(name) has dtype \(stored.dtype.rawValue), expected F32")
                    continue
                }
                guard stored.shape == tensor.shape else {
                    problems.append(
                        "\(name) has shape \(stored.shape), expected \(tensor.shape)")
                    continue
                }
                let values = stored.floats!
                if let invalid = NonFiniteValues(name: name, values: values) {
                    nonFinite.append(invalid)
                }
                floatValues.append((tensor, values))
            case .counter(let name, let norm):
                guard let stored = byName[name] else {
                    counters.append((norm, 0))
                    continue
                }
                guard stored.dtype == .I64 else {
                    problems.append("\(name) has dtype \(stored.dtype.rawValue), expected I64")
                    continue
                }
                guard stored.shape.isEmpty else {
                    problems.append("\(name) has shape \(stored.shape), expected [] (0-dim)")
                    continue
                }
                counters.append((norm, stored.int64s![0]))
            }
        }
        for tensor in file.tensors where !expectedNames.contains(tensor.name) {
            problems.append("unexpected \(tensor.name)")
        }
        if !problems.isEmpty, let stored = file.metadata[CheckpointKey.model] {
            let count = "\(problems.count) tensors differ"
            problems.insert("it was saved from \(stored) (\(count))", at: 0)
        }
        guard problems.isEmpty else {
            throw .mismatch(path: path, model: config.name, problems: problems)
        }
        guard nonFinite.isEmpty else { throw .nonFinite(path: path, tensors: nonFinite) }

        for (tensor, values) in floatValues {
            for index in values.indices { tensor[index] = values[index] }
        }
        for (norm, count) in counters { norm.batchesTracked = count }
        for parameter in parameters {
            parameter.momentumBuffer.fill(0)
            parameter.gradient.fill(0)
        }
    }
}
