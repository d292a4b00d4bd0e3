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
      resnet-tui --help | --version

    Options:
      --data SPEC       training data: shapes (built-in, the default), mnist:DIR or
                        fashion-mnist:DIR (IDX files, plain or .gz)
      --model NAME      resnetD with D = 6n+2: resnet8, resnet14, resnet20 (default), ...
      --batch N         images per step (default 32)
      --lr RATE         SGD learning rate (default 0.05)
      --momentum M      SGD momentum (default 0.9)
      --weight-decay W  L2 weight decay added to the gradient (default 5e-4)
      --threads N       compute threads (default: the number of cores)
      --seed N          seed for weights, data order and the built-in data (default 0)
      --steps N         train: iterations to run (default 100)

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
        let parsed = try ParsedArguments(rest, specs: commonFlags)
        if parsed.has("help") {
            print(usage, terminator: "")
            return
        }
        try runInteractive(parsed)
    case "train":
        let parsed = try ParsedArguments(
            rest, specs: commonFlags + [FlagSpec(name: "steps", takesValue: true, help: "")])
        if parsed.has("help") {
            print(usage, terminator: "")
            return
        }
        try runTrain(parsed)
    case "bench":
        try runBench(rest)
    case "help":
        print(usage, terminator: "")
    default:
        let commands = ["train", "help"]
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
    let modelName = parsed.string("model", default: "resnet20")
    guard modelName.hasPrefix("resnet"), let depth = Int(modelName.dropFirst(6)),
        ResNetConfig(depth: depth).blocksPerStage != nil
    else {
        throw UsageError(
            description: "invalid model '\(modelName)': expected resnetD with D = 6n+2, "
                + "such as resnet8, resnet20 or resnet56")
    }
    let source = try openBatchSource(
        spec: parsed.string("data", default: "shapes"), batchSize: batch, seed: seed)
    let config = ResNetConfig(
        depth: depth, inputChannels: source.channels, inputHeight: source.height,
        inputWidth: source.width, classCount: source.classCount)
    let model = ResNet(config: config, batchSize: batch)
    var generator = SeededGenerator(seed: seed)
    model.initialize(using: &generator)
    return Stepper(
        model: model, data: source.batches, pool: ThreadPool(threads: threads),
        optimizer: optimizer)
}

func runInteractive(_ parsed: ParsedArguments) throws {
    try App.checkTerminal()
    let session = TrainingSession(stepper: try makeStepper(parsed))
    session.start()
    defer { session.stop() }
    try App.run(session: session)
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
    let seconds = Date().timeIntervalSince(start)
    FileHandle.standardError.write(
        Data("trained \(steps) steps in \(String(format: "%.1f", seconds)) s\n".utf8))
}

struct TrainingFailure: Error, CustomStringConvertible {
    var description: String
}
