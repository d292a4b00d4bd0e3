import Engine
import Foundation
import TUI
import Training

let version = "0.1.0"

let usage = """
    resnet-tui: watch a residual network learn, one layer at a time.

    Usage:
      resnet-tui [options]              open the interactive UI
      resnet-tui train [options]        train without the UI and print the loss
      resnet-tui summary [options]      print every layer's shapes and parameters
      resnet-tui --help | --version

    Options:
      --data SPEC       training data: shapes (built-in, the default), mnist:DIR or
                        fashion-mnist:DIR (IDX files, plain or .gz)
    \(modelUsage)
      --batch N         images per step (default 32)
      --lr RATE         SGD learning rate (default 0.05)
      --momentum M      SGD momentum (default 0.9)
      --weight-decay W  L2 weight decay added to the gradient (default 5e-4)
      --threads N       compute threads (default: the number of cores)
      --seed N          seed for weights, data order and the built-in data (default 0)
      --steps N         train: iterations to run (default 100)
      --no-color        UI: draw without colour (a non-empty NO_COLOR does the same)
      --charts STYLE    UI: draw charts with braille (default), block or ascii characters;
                        ascii is chosen automatically outside a UTF-8 locale

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
    FlagSpec(name: "help", takesValue: false, help: ""),
]

/// Options of the interactive UI only.
let displayFlags = [
    FlagSpec(name: "no-color", takesValue: false, help: ""),
    FlagSpec(name: "charts", takesValue: true, help: ""),
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
            rest, specs: commonFlags + modelFlags + checkpointFlags + displayFlags)
        if parsed.has("help") {
            print(usage, terminator: "")
            return
        }
        try runInteractive(parsed)
    case "train":
        let parsed = try ParsedArguments(
            rest,
            specs: commonFlags + modelFlags + checkpointFlags + [
                FlagSpec(name: "steps", takesValue: true, help: "")
            ])
        if parsed.has("help") {
            print(usage, terminator: "")
            return
        }
        try runTrain(parsed)
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
    case "help":
        print(usage, terminator: "")
    default:
        let commands = ["train", "summary", "bench", "bench-frames", "help"]
        let closest = commands.min { editDistance($0, command) < editDistance($1, command) }!
        throw UsageError(description: "unknown command '\(command)'; did you mean '\(closest)'?")
    }
}

/// Builds the stepper that both the UI and `train` drive.
func makeStepper(_ parsed: ParsedArguments) throws -> Stepper {
    let seed = UInt64(try parsed.int("seed", default: 0, range: 0...Int.max))
    let batch = try parsed.int("batch", default: 32, range: 2...4096)
    let threads = try parsed.int(
        "threads", default: ProcessInfo.processInfo.activeProcessorCount, range: 1...256)
    let optimizer = OptimizerSettings(
        learningRate: try parsed.double("lr", default: 0.05, range: 0...100),
        momentum: try parsed.double("momentum", default: 0.9, range: 0...1),
        weightDecay: try parsed.double("weight-decay", default: 5e-4, range: 0...1))
    let source = try openBatchSource(
        spec: parsed.string("data", default: "shapes"), batchSize: batch, seed: seed)
    let model = try makeModel(
        parsed, channels: source.channels, height: source.height, width: source.width,
        classCount: source.classCount, batch: batch, seed: seed)
    return Stepper(
        model: model, data: source.batches, pool: ThreadPool(threads: threads),
        optimizer: optimizer, seed: seed)
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
    try App.checkTerminal()
    let stepper = try makeStepper(parsed)
    let session = TrainingSession(stepper: stepper)
    session.start()
    do {
        defer { session.stop() }
        try App.run(session: session, options: options)
    }
    try saveIfRequested(parsed, model: stepper.model)
}

func runTrain(_ parsed: ParsedArguments) throws {
    let steps = try parsed.int("steps", default: 100, range: 1...10_000_000)
    let stepper = try makeStepper(parsed)
    let start = Date()
    print("step,epoch,loss,accuracy,ms_per_step")
    for _ in 0..<steps {
        stepper.finishIteration()
        let snapshot = stepper.snapshot
        guard let record = snapshot.history.last else { continue }
        print(
            "\(record.iteration),\(snapshot.epoch),\(String(format: "%.5f", record.loss)),"
                + "\(String(format: "%.4f", record.accuracy)),"
                + "\(String(format: "%.1f", snapshot.stepMilliseconds))")
        if !record.loss.isFinite {
            throw TrainingFailure(
                description: "loss is \(record.loss) at step \(record.iteration); "
                    + "lower --lr and try again")
        }
    }
    try saveIfRequested(parsed, model: stepper.model)
    let seconds = Date().timeIntervalSince(start)
    FileHandle.standardError.write(
        Data("trained \(steps) steps in \(String(format: "%.1f", seconds)) s\n".utf8))
}

struct TrainingFailure: Error, CustomStringConvertible {
    var description: String
}
