import Foundation
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
    var arguments = file.header.arguments
    if let threads = flags.values["threads"] { arguments += ["--threads", threads] }
    let parsed: ParsedArguments
    do {
        parsed = try ParsedArguments(arguments, specs: commonFlags + modelFlags + checkpointFlags)
    } catch let error as UsageError {
        throw SessionFileError(
            path: path, line: 1, message: "invalid header arguments: \(error.description)")
    }
    let (stepper, data) = try makeTrainingRun(parsed)
    // The UI scores the test split after some iterations and this overwrites the model's
    // input batch, which a gradient check at an iteration boundary then uses. The replay
    // does the same, so every recorded key acts on the same tensors.
    stepper.setEvaluationSet(data.test)
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
