import Foundation
import Training

let traceCommand = CommandDescription(
    name: "trace",
    summary: """
        Runs training iterations phase by phase and writes DIR/trace.jsonl: one JSON object
        per phase (load_batch, forward, loss, backward, update) with the layer, the statistics
        and histogram of its output in the forward pass, and in the backward pass the norm of
        the gradient reaching its input, split for blocks into the skip and residual paths,
        and each parameter's gradient norm. Prints the loss of each iteration and the ratio of
        the first block's input-gradient norm to the last block's.
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
    if let batchFile = parsed.values["batch-file"] {
        // TODO: read `images` and `labels` from the safetensors batch file, once the
        // checkpoint reader is merged, and feed that batch to every iteration.
        throw TrainingFailure(
            description: "--batch-file \(batchFile): batch files are not supported yet by "
                + "this build; leave --batch-file out to trace batches of --data")
    }
    let steps = try parsed.int("steps", default: 1, range: 1...1_000_000)
    let (stepper, _) = try makeTrainingRun(parsed)

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

    for _ in 0..<steps {
        var lines = Data()
        repeat {
            let phase = stepper.advance()
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
        printLine(iterationSummary(stepper.snapshot))
    }
    // TODO: write DIR/grads.safetensors (the last iteration's gradients, before the update)
    // and DIR/after.safetensors (the checkpoint after the last update) with the checkpoint
    // writer, once it is merged. Gradients would have to be copied before the update phase.
    printLine("wrote \(path)")
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
