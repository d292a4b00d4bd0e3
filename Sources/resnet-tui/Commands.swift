import Engine
import Foundation
import TUI
import Training

let version = "0.1.0"

let usage = """
    resnet-tui: watch a residual network learn, one layer at a time.

    Usage:
      resnet-tui [options]              open the interactive UI
      resnet-tui train [options]        train without the UI: epoch lines, CSV log
      resnet-tui trace --out DIR        write per-phase statistics to DIR/trace.jsonl
      resnet-tui gradcheck [options]    check gradients against finite differences
      resnet-tui soak --dir DIR         train with random skip toggles, learning-rate
                                        changes and saves; check memory and checkpoints
      resnet-tui experiment NAME        run a built-in experiment headless; --list names them
      resnet-tui summary [options]      print every layer's shapes and parameters
      resnet-tui bench [options]        time the kernels and training steps
      resnet-tui bench-frames           time drawing one UI frame
      resnet-tui replay FILE            replay a session file written with --record
      resnet-tui COMMAND --help         options of one command
      resnet-tui --help | --version

    Options:
      --data SPEC       training data: shapes (built-in, the default), mnist:DIR,
                        fashion-mnist:DIR (IDX files) or cifar10:DIR (binary batches)
      --input C,H,W     image size of the shapes data (default 1,28,28)
    \(modelUsage)
      --batch N         images per step (default 32)
      --lr RATE         SGD learning rate (default 0.05)
      --momentum M      SGD momentum (default 0.9)
      --weight-decay W  L2 weight decay added to the gradient (default 5e-4)
      --threads N       compute threads (default: the number of cores)
      --seed N          seed for weights, data order and the built-in data (default 0)
      --no-color        UI: draw without colour (a non-empty NO_COLOR does the same)
      --charts STYLE    UI: draw charts with braille (default), block or ascii characters;
                        ascii is chosen automatically outside a UTF-8 locale
      --record FILE     UI: write a session file (JSON lines) with the options, every key
                        that changed training and the final weights checksum, for replay
      --replay FILE     UI: rebuild a recorded session (model, data, seed and keys from
                        FILE), then open the UI where the recording ended
      --experiment NAME UI: start a guided experiment beside the model: plain-vs-residual,
                        batchnorm or zero-init (e cycles through them)

    """

let commonFlags = [
    FlagSpec(name: "data", takesValue: true, help: ""),
    FlagSpec(name: "model", takesValue: true, help: ""),
    FlagSpec(name: "batch", takesValue: true, help: ""),
    FlagSpec(name: "lr", takesValue: true, help: ""),
    FlagSpec(name: "momentum", takesValue: true, help: ""),
    FlagSpec(name: "weight-decay", takesValue: true, help: ""),
    FlagSpec(name: "threads", takesValue: true, help: ""),
    FlagSpec(name: "seed", takesValue: true, help: ""),
    FlagSpec(name: "input", takesValue: true, help: ""),
    FlagSpec(name: "help", takesValue: false, help: ""),
]

/// Options of the interactive UI only.
let displayFlags = [
    FlagSpec(name: "no-color", takesValue: false, help: ""),
    FlagSpec(name: "charts", takesValue: true, help: ""),
    FlagSpec(name: "record", takesValue: true, help: ""),
    FlagSpec(name: "replay", takesValue: true, help: ""),
]

func runCommand(_ arguments: [String]) throws {
    if arguments.first == "--version" {
        print("resnet-tui \(version)")
        return
    }
    var rest = arguments
    var command = "tui"
    if let first = arguments.first, !first.hasPrefix("-") {
        command = first
        rest.removeFirst()
    }
    switch command {
    case "tui":
        let parsed = try ParsedArguments(
            rest,
            specs: commonFlags + modelFlags + checkpointFlags + displayFlags
                + [FlagSpec(name: "experiment", takesValue: true, help: "")])
        if parsed.has("help") {
            print(usage, terminator: "")
            return
        }
        try runInteractive(parsed)
    case "summary":
        try runSummary(rest)
    case "bench-frames":
        let parsed = try ParsedArguments(
            rest, specs: commonFlags + [FlagSpec(name: "frames", takesValue: true, help: "")])
        if parsed.has("help") {
            print(
                "Usage: resnet-tui bench-frames [--model M] [--frames N]\n"
                    + "Times drawing one UI frame into the cell buffer at 80x24, 120x40 and "
                    + "200x60.")
            return
        }
        try runFrameBenchmark(parsed)
    case "bench":
        try runBench(rest)
    case "replay":
        try runReplay(rest)
    case "experiment":
        try runExperimentCommand(rest)
    case "help":
        print(usage, terminator: "")
    case _ where subcommands[command] != nil:
        let (description, run) = subcommands[command]!
        do {
            let parsed = try description.parse(rest)
            if parsed.has("help") {
                print(description.helpText, terminator: "")
                return
            }
            try run(parsed)
        } catch var error as UsageError {
            error.command = "resnet-tui \(command)"
            throw error
        }
    default:
        let commands =
            ["summary", "bench", "bench-frames", "replay", "experiment"]
            + subcommands.keys.sorted()
        throw UsageError(
            description: "unknown command '\(command)'"
                + suggestion(for: command, among: commands, quote: "'"))
    }
}

/// Subcommands other than `tui` and `help`, by name: how to parse them and what they run.
let subcommands: [String: (CommandDescription, @Sendable (ParsedArguments) throws -> Void)] = [
    "train": (trainCommand, runTrain),
    "trace": (traceCommand, runTrace),
    "gradcheck": (gradcheckCommand, runGradcheck),
    "soak": (soakCommand, runSoak),
]

/// Builds the stepper that the UI drives.
func makeStepper(_ parsed: ParsedArguments) throws -> Stepper {
    try makeTrainingRun(parsed).stepper
}

/// Builds a stepper from the command line, with the data it trains on.
func makeTrainingRun(_ parsed: ParsedArguments) throws -> (stepper: Stepper, data: OpenedData) {
    try checkOutputPaths(parsed)
    let seed = UInt64(try parsed.int("seed", default: 0, range: 0...Int.max))
    let batch = try parsed.int("batch", default: 32, range: 2...4096)
    let threads = try parsed.int(
        "threads", default: ProcessInfo.processInfo.activeProcessorCount, range: 1...256)
    let optimizer = OptimizerSettings(
        learningRate: try parsed.double("lr", default: 0.05, range: 0...100),
        momentum: try parsed.double("momentum", default: 0.9, range: 0...1),
        weightDecay: try parsed.double("weight-decay", default: 5e-4, range: 0...1))
    let source = try openBatchSource(
        spec: parsed.string("data", default: "shapes"), batchSize: batch, seed: seed,
        shapesSize: try parseInputSize(parsed))
    let model = try makeModel(
        parsed, channels: source.channels, height: source.height, width: source.width,
        classCount: source.classCount, batch: batch, seed: seed)
    let stepper = Stepper(
        model: model, data: source.batches, pool: ThreadPool(threads: threads),
        optimizer: optimizer, seed: seed)
    if let path = parsed.values["load"] {
        stepper.announce("loaded checkpoint \(path)")
    }
    if let warning = batchNormSampleWarning(config: model.config, batch: batch) {
        // Headless commands print it; the UI, which would cover stderr at once, shows the
        // stepper's message in its status line.
        FileHandle.standardError.write(Data((warning + "\n").utf8))
        stepper.announce(warning)
    }
    return (stepper, source)
}

func runInteractive(_ parsed: ParsedArguments) throws {
    let chartName = parsed.string("charts", default: ChartStyle.braille.rawValue)
    guard let chartStyle = ChartStyle(rawValue: chartName) else {
        throw UsageError(
            description: "invalid --charts '\(chartName)': expected braille, block or ascii")
    }
    let options = DisplayOptions(
        color: !parsed.has("no-color")
            && DisplayOptions.colorAllowed(environment: ProcessInfo.processInfo.environment),
        chartStyle: chartStyle)
    if let name = parsed.values["experiment"], !LiveExperiment.names.contains(name) {
        let valid = LiveExperiment.names.joined(separator: ", ")
        throw UsageError(
            description: Experiment.named(name) == nil
                ? "unknown experiment '\(name)'; valid in the UI: \(valid)"
                : "experiment '\(name)' trains more networks than the UI shows; run "
                    + "resnet-tui experiment \(name), or pick one of \(valid)")
    }
    // The terminal is checked after the options, so a wrong option is reported as such
    // even without a terminal, but before a replay's long computation.
    let stepper: Stepper
    if let path = parsed.values["replay"] {
        stepper = try replayForInteractive(path: path, parsed: parsed)
    } else {
        let data: OpenedData
        (stepper, data) = try makeTrainingRun(parsed)
        try App.checkTerminal()
        stepper.setEvaluationSet(data.test)
    }
    stepper.checkpointPath = parsed.values["save"]
    let session = TrainingSession(stepper: stepper)
    var recorder: SessionRecorder?
    if let path = parsed.values["record"] {
        recorder = try SessionRecorder(path: path, header: sessionHeader(parsed, stepper: stepper))
        session.recorder = recorder
    }
    session.start()
    // Sent as a command, not applied before the start, so a session file records it.
    if let name = parsed.values["experiment"] {
        session.send(.startExperiment(name: name))
    }
    do {
        defer { session.stop() }
        try App.run(session: session, options: options)
    }
    if let recorder, let error = recorder.error {
        throw SessionWriteError(path: recorder.path, message: "\(error)")
    }
    try saveIfRequested(parsed, model: stepper.model)
}
