import Foundation
import TUI
import Training

let replayUsage = """
    Usage: resnet-tui replay FILE [--threads N]

    Replays a session file that the UI wrote with --record FILE, without the UI: builds
    the model and data from the file's header, runs the recorded keys between the same
    phases, and prints the final loss and a checksum of the weights and batch-norm
    statistics. Exits with 1 when the checksum differs from the recorded one. Training
    is bitwise equal at any thread count, so --threads changes only the speed.

    """

/// Options of `replay` besides the file; the header's arguments set everything else.
let replayFlags = [
    FlagSpec(name: "threads", takesValue: true, help: ""),
    FlagSpec(name: "help", takesValue: false, help: ""),
]

/// The options that shape training, which a session file's header stores. Display options
/// and `--save`, which the replay must not write, are left out.
let recordedFlagNames: Set<String> = Set(
    (commonFlags + modelFlags).map(\.name).filter { !["help", "threads"].contains($0) } + ["load"])

/// Builds the header of a session file for the UI started with `parsed`.
func sessionHeader(_ parsed: ParsedArguments, stepper: Stepper) -> SessionFile.Header {
    var arguments: [String] = []
    for name in parsed.values.keys.sorted() where recordedFlagNames.contains(name) {
        arguments += ["--\(name)", parsed.values[name]!]
    }
    for name in parsed.switches.sorted() where recordedFlagNames.contains(name) {
        arguments.append("--\(name)")
    }
    return SessionFile.Header(
        arguments: arguments, model: stepper.snapshot.modelName,
        data: parsed.string("data", default: "shapes"), seed: stepper.seed)
}

/// A replay whose final weights differ from the recorded ones.
struct ReplayMismatch: Error, CustomStringConvertible {
    var description: String
}

/// Builds the stepper of the session recorded at `path` from the file's header, with
/// `--threads` from `parsed`, and scores the test split as the UI does.
private func makeRecordedRun(
    _ file: SessionFile, path: String, threads: String?
) throws -> Stepper {
    var arguments = file.header.arguments
    if let threads { arguments += ["--threads", threads] }
    let parsed: ParsedArguments
    do {
        parsed = try ParsedArguments(arguments, specs: commonFlags + modelFlags + checkpointFlags)
    } catch let error as UsageError {
        throw SessionFileError(
            path: path, line: 1, message: "invalid header arguments: \(error.description)")
    }
    let (stepper, data) = try makeTrainingRun(parsed)
    try checkLayers(of: file, path: path, model: stepper.model)
    // The UI scores the test split after some iterations and this overwrites the model's
    // input batch, which a gradient check at an iteration boundary then uses. The replay
    // does the same, so every recorded key acts on the same tensors.
    stepper.setEvaluationSet(data.test)
    return stepper
}

/// Rejects a key line whose layer the recorded model does not have: a skip toggle or a
/// what-if must name a block, a gradient check any layer. The header is line 1, so key
/// line i (from 0) is line i + 2.
private func checkLayers(of file: SessionFile, path: String, model: ResNet) throws {
    for (index, event) in file.events.enumerated() {
        guard let layer = event.layer else { continue }
        let valid =
            event.command == "gradcheck"
            ? (0..<model.layerCount).contains(layer) : model.blockIndex(ofLayer: layer) != nil
        guard valid else {
            throw SessionFileError(
                path: path, line: index + 2,
                message: "\(event.command) names layer \(layer), which is not "
                    + (event.command == "gradcheck" ? "a layer" : "a block")
                    + " of \(model.config.name)")
        }
    }
}

/// Rebuilds the session recorded at `path` up to where the recording ended, for
/// `--replay FILE` in the UI. The returned stepper's status message reports whether the
/// weights match the recorded checksum. The UI opens on that state, and `u` steps back
/// through its last iterations.
func replayForInteractive(path: String, parsed: ParsedArguments) throws -> Stepper {
    let conflicting =
        parsed.values.keys.filter { recordedFlagNames.contains($0) || $0 == "record" }
        + parsed.switches.filter { recordedFlagNames.contains($0) }
    if let name = conflicting.sorted().first {
        throw UsageError(
            description: "--replay takes the model, data and seed from the session file; "
                + "drop --\(name)")
    }
    if parsed.values["experiment"] != nil {
        throw UsageError(description: "--replay replays the file's own keys; drop --experiment")
    }
    try checkOutputPaths(parsed)
    let file = try SessionFile.read(path: path)
    let stepper = try makeRecordedRun(file, path: path, threads: parsed.values["threads"])
    try App.checkTerminal()
    FileHandle.standardError.write(
        Data("replaying \(file.events.count) keys of \(path) before the UI opens...\n".utf8))
    let result = SessionReplay.run(file, on: stepper)
    var message = "replayed \(path): \(file.events.count) keys, \(result.iteration) iterations"
    if let recorded = file.end {
        message +=
            recorded.checksum == result.checksum
            ? "; weights match the recording" : "; weights DIFFER from the recording"
    }
    stepper.announce(message)
    return stepper
}

func runReplay(_ rest: [String]) throws {
    if rest.first == "--help" || rest.first == "-h" {
        print(replayUsage, terminator: "")
        return
    }
    guard let path = rest.first, !path.hasPrefix("-") else {
        throw UsageError(
            description: "missing session file: resnet-tui replay FILE",
            command: "resnet-tui replay")
    }
    let flags: ParsedArguments
    do {
        flags = try ParsedArguments(Array(rest.dropFirst()), specs: replayFlags)
    } catch var error as UsageError {
        error.command = "resnet-tui replay"
        throw error
    }
    if flags.has("help") {
        print(replayUsage, terminator: "")
        return
    }
    let file = try SessionFile.read(path: path)
    let stepper = try makeRecordedRun(file, path: path, threads: flags.values["threads"])
    let result = SessionReplay.run(file, on: stepper)

    print(
        "replayed \(file.events.count) keys over \(result.phasesRun) phases: "
            + "\(result.iteration) iterations done, next phase \(result.phase)")
    print("final loss \(result.loss.map { String(format: "%.6f", $0) } ?? "none")")
    guard let recorded = file.end else {
        print("weights checksum \(result.checksum) (the file has no end line to compare with)")
        return
    }
    let same = recorded.checksum == result.checksum
    print(
        "weights checksum \(result.checksum), recorded \(recorded.checksum): "
            + (same ? "match" : "MISMATCH"))
    guard same else {
        throw ReplayMismatch(
            description: "replay of \(path) ended with weights checksum \(result.checksum), "
                + "but the recorded session ended with \(recorded.checksum)")
    }
}
