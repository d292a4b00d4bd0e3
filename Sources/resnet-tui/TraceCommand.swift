import Foundation
import Training

let traceCommand = CommandDescription(
    name: "trace",
    summary: """
        Runs training iterations phase by phase and writes DIR/trace.jsonl: one JSON object
        per phase (load_batch, forward, loss, backward, update) with the layer, the statistics
        and histogram of its output in the forward pass, and in the backward pass the norm of
        the gradient reaching its input, split for blocks into the skip and residual paths,
        and each parameter's gradient norm. Also writes DIR/grads.safetensors, every
        parameter's gradient of the last iteration before its update (an unused projection's
        as zeros), and DIR/after.safetensors, the checkpoint after the last update, which
        --load reads. Prints the loss of each iteration and the ratio of the first block's
        input-gradient norm to the last block's.
        """,
    usage: "resnet-tui trace --out DIR [--steps N] [options]",
    flags: commonFlags + modelFlags + checkpointFlags + [
        FlagSpec(name: "out", takesValue: true, help: ""),
        FlagSpec(name: "steps", takesValue: true, help: "iterations to run (default 1)"),
        FlagSpec(name: "batch-file", takesValue: true, help: ""),
    ],
    notes: """
        Example:
          resnet-tui trace --model resnet20 --out trace-resnet20 --steps 1
          resnet-tui trace --model plain56 --batch-file batch.safetensors --out t --lr 0
        """)

/// One line of trace.jsonl. Fields that do not apply to a phase are left out.
struct TraceRecord: Encodable {
    var iteration: Int
    /// load_batch, forward, loss, backward or update.
    var phase: String
    var layer: String?
    var layerIndex: Int?
    var kind: String?
    var epoch: Int?
    var loss: Double?
    var accuracy: Double?
    var learningRate: Double?
    var activation: ActivationRecord?
    var gradient: GradientRecord?
}

/// Statistics of a layer's output over the batch. `histogram` counts the values in equal
/// bins from `min` to `max`.
struct ActivationRecord: Encodable {
    var mean: Double
    var std: Double
    var min: Double
    var max: Double
    var zeroFraction: Double
    var histogram: [Int]
}

/// Norms of the gradient reaching a layer's input and of its parameters' gradients. For a
/// block O = relu(F(x) + S(x)), `skip` is the norm of the part through S and `residual` of
/// the part through F; both are absent for other layers.
struct GradientRecord: Encodable {
    /// Absent for the stem, whose input gradient is not computed.
    var input: Double?
    var skip: Double?
    var residual: Double?
    var cosine: Double?
    /// Norm of all the layer's parameter gradients together.
    var weight: Double
    /// Each parameter's gradient norm, by state-dict name.
    var parameters: [String: Double]
}

func runTrace(_ parsed: ParsedArguments) throws {
    guard let directory = parsed.values["out"] else {
        throw UsageError(description: "missing --out DIR: the directory to write trace.jsonl to")
    }
    let steps = try parsed.int("steps", default: 1, range: 1...1_000_000)
    let stepper = try makeTraceStepper(parsed)
    stepper.rewindDepth = 0

    do {
        try FileManager.default.createDirectory(
            atPath: directory, withIntermediateDirectories: true)
    } catch {
        throw TrainingFailure(
            description: "\(directory): cannot create the directory "
                + "(\(error.localizedDescription)); check the path and its permissions")
    }
    let path = (directory as NSString).appendingPathComponent("trace.jsonl")
    guard FileManager.default.createFile(atPath: path, contents: nil),
        let handle = FileHandle(forWritingAtPath: path)
    else {
        throw TrainingFailure(
            description: "\(path): cannot create the file; check that the directory is writable")
    }
    defer { try? handle.close() }

    let encoder = JSONEncoder()
    encoder.keyEncodingStrategy = .convertToSnakeCase
    encoder.outputFormatting = [.sortedKeys]
    // JSON has no NaN or infinity; diverging networks produce them, so they become strings.
    encoder.nonConformingFloatEncodingStrategy = .convertToString(
        positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
    let parameterGroups = groupParametersByLayer(stepper)
    var gradients: SafetensorsFile?

    for iteration in 0..<steps {
        var lines = Data()
        gradients = nil
        var phase = Phase.loadBatch
        repeat {
            // The update changes the weights the gradients belong to, so the last
            // iteration's gradients are copied just before it.
            let next = stepper.snapshot.phases[stepper.snapshot.nextPhase]
            if iteration == steps - 1, case .update = next {
                gradients = gradientFile(stepper.model, iteration: iteration + 1)
            }
            phase = stepper.advance()
            let record = traceRecord(phase, stepper: stepper, parameterGroups: parameterGroups)
            lines.append(try encoder.encode(record))
            lines.append(0x0a)
        } while !stepper.atIterationBoundary
        do {
            try handle.write(contentsOf: lines)
        } catch {
            throw TrainingFailure(
                description: "\(path): write failed (\(error.localizedDescription)); "
                    + "check free disk space")
        }
        if case .loss = phase {
            // The stepper ends an iteration at a non-finite loss, so it has no record.
            let loss = stepper.snapshot.currentLoss ?? .nan
            let value = loss.isNaN ? "NaN" : (loss > 0 ? "+Inf" : "-Inf")
            printLine(
                "iteration \(iteration + 1): loss \(value), so the iteration stopped before the "
                    + "backward pass and the update")
        } else {
            printLine(iterationSummary(stepper.snapshot))
        }
    }
    printLine("wrote \(path)")
    try writeTraceCheckpoints(directory: directory, model: stepper.model, gradients: gradients)
    try saveIfRequested(parsed, model: stepper.model)
}

/// Builds the stepper of a trace. With `--batch-file` the model is built for the file's
/// batch size and, for the shapes data without `--input`, for its image size, and every
/// iteration takes that batch.
private func makeTraceStepper(_ parsed: ParsedArguments) throws -> Stepper {
    guard let batchPath = parsed.values["batch-file"] else {
        return try makeTrainingRun(parsed).stepper
    }
    let batch = try BatchFile.read(path: batchPath)
    guard (2...4096).contains(batch.count) else {
        throw BatchFileError(
            path: batchPath,
            message: "images has \(batch.count) image\(batch.count == 1 ? "" : "s"), "
                + "expected 2 to 4096 (batch norm in training needs at least 2)")
    }
    if let requested = parsed.values["batch"], Int(requested) != batch.count {
        throw UsageError(
            description: "--batch \(requested) differs from the \(batch.count) images of "
                + "\(batchPath); leave --batch out to use the file's batch size")
    }
    var arguments = parsed.arguments + ["--batch", String(batch.count)]
    let dataName = parsed.string("data", default: "shapes")
    if parsed.values["input"] == nil, dataName == "shapes" {
        arguments += ["--input", batch.shape.dropFirst().map(String.init).joined(separator: ",")]
    }
    let run = try makeTrainingRun(try traceCommand.parse(arguments))
    let model = run.stepper.model
    try batch.check(
        channels: model.config.inputChannels, height: model.config.inputHeight,
        width: model.config.inputWidth, classCount: model.config.classCount)
    return Stepper(
        model: model, data: FixedBatchSource(batch, name: batchPath), pool: run.stepper.pool,
        optimizer: run.stepper.optimizer, seed: run.stepper.seed)
}

/// Returns every parameter's current gradient under its state-dict name, with the model's
/// checkpoint metadata and the iteration the gradients come from.
private func gradientFile(_ model: ResNet, iteration: Int) -> SafetensorsFile {
    var metadata = model.config.checkpointMetadata
    metadata["content"] = "gradients"
    metadata["iteration"] = String(iteration)
    let tensors = model.parameters.map { parameter in
        SafetensorsTensor(
            name: parameter.name, shape: parameter.gradient.shape,
            floats: parameter.gradient.toArray())
    }
    return SafetensorsFile(metadata: metadata, tensors: tensors)
}

/// Writes DIR/after.safetensors and, when the last iteration reached its update,
/// DIR/grads.safetensors. A diverged last iteration has no gradients, so a grads file left
/// by an earlier trace is removed rather than kept beside the new trace.
private func writeTraceCheckpoints(
    directory: String, model: ResNet, gradients: SafetensorsFile?
) throws {
    let afterPath = (directory as NSString).appendingPathComponent("after.safetensors")
    let gradientsPath = (directory as NSString).appendingPathComponent("grads.safetensors")
    if let gradients {
        try gradients.write(to: gradientsPath)
        printLine("wrote \(gradientsPath)")
    } else {
        try? FileManager.default.removeItem(atPath: gradientsPath)
        printLine(
            "no \(gradientsPath): the last iteration's loss is not finite, so it has no "
                + "gradients")
    }
    try model.saveCheckpoint(to: afterPath)
    printLine("wrote \(afterPath)")
}

/// Builds the trace line for `phase`, which `stepper` has just run.
private func traceRecord(
    _ phase: Phase, stepper: Stepper, parameterGroups: [[Parameter]]
) -> TraceRecord {
    let snapshot = stepper.snapshot
    // The iteration counter moves on in the update phase; report that phase's own number.
    var iteration = snapshot.iteration + 1
    var record = TraceRecord(iteration: iteration, phase: "")
    switch phase {
    case .loadBatch:
        record.phase = "load_batch"
        record.epoch = snapshot.epoch + 1
    case .forward(let layer):
        record.phase = "forward"
        describe(layer, in: snapshot, record: &record)
        if let stats = snapshot.activations[layer] {
            record.activation = ActivationRecord(
                mean: stats.mean, std: stats.std, min: stats.min, max: stats.max,
                zeroFraction: stats.zeroFraction, histogram: stats.histogram)
        }
    case .loss:
        record.phase = "loss"
        record.loss = snapshot.currentLoss
    case .backward(let layer):
        record.phase = "backward"
        describe(layer, in: snapshot, record: &record)
        if let flow = snapshot.gradients[layer] {
            let info = snapshot.layers[layer]
            let isBlock = info.kind == .block
            var norms: [String: Double] = [:]
            for parameter in parameterGroups[layer] {
                norms[parameter.name] = parameter.gradient.norm()
            }
            record.gradient = GradientRecord(
                input: info.kind == .stem ? nil : flow.input, skip: isBlock ? flow.skip : nil,
                residual: isBlock ? flow.residual : nil, cosine: isBlock ? flow.cosine : nil,
                weight: flow.weight, parameters: norms)
        }
    case .update:
        iteration = snapshot.iteration
        record.iteration = iteration
        record.phase = "update"
        record.loss = snapshot.history.last?.loss
        record.accuracy = snapshot.history.last?.accuracy
        record.learningRate = stepper.optimizer.learningRate
    }
    return record
}

private func describe(_ layer: Int, in snapshot: SessionSnapshot, record: inout TraceRecord) {
    let info = snapshot.layers[layer]
    record.layer = info.name
    record.layerIndex = layer
    record.kind = info.kind.rawValue
}

/// Returns, per layer in stepper order, the parameters whose state-dict names belong to
/// it: `conv1.` and `bn1.` for the stem, the layer's name and a dot for the others.
func groupParametersByLayer(_ stepper: Stepper) -> [[Parameter]] {
    stepper.snapshot.layers.map { info in
        let prefixes = info.kind == .stem ? ["conv1.", "bn1."] : [info.name + "."]
        return stepper.model.parameters.filter { parameter in
            prefixes.contains { parameter.name.hasPrefix($0) }
        }
    }
}

/// Returns a line with the iteration's loss and how much the gradient norm grows or shrinks from
/// the last block's input to the first block's.
private func iterationSummary(_ snapshot: SessionSnapshot) -> String {
    let blocks = snapshot.layers.indices.filter { snapshot.layers[$0].kind == .block }
    var text = "iteration \(snapshot.iteration): loss "
    text += snapshot.history.last.map { String(format: "%.6g", $0.loss) } ?? "n/a"
    if let first = blocks.first, let last = blocks.last,
        let firstNorm = snapshot.gradients[first]?.input,
        let lastNorm = snapshot.gradients[last]?.input, lastNorm > 0
    {
        text += ", input-gradient norm \(snapshot.layers[first].name) / "
        text += "\(snapshot.layers[last].name) = " + String(format: "%.4g", firstNorm / lastNorm)
    }
    return text
}
