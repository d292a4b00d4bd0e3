import Engine
import Foundation
import Training

let experimentCommand = CommandDescription(
    name: "experiment",
    summary: """
        Runs a built-in experiment without the UI: trains each of its networks on the same
        batches from the same seed, prints what to look for, one line per run with its wall
        and CPU time, and a verdict computed from the numbers: final losses (mean over the
        last tenth of the steps), which run stalled or diverged, and which block's input
        gradient vanished or exploded relative to the last block's. The learning rate falls
        from --lr to 0 along a cosine.
        """,
    usage: "resnet-tui experiment NAME [--csv FILE] [--steps N] [options] | --list",
    flags: [
        FlagSpec(name: "list", takesValue: false, help: "list the experiments and exit"),
        FlagSpec(
            name: "csv", takesValue: true,
            help: "write one row per step and network: step, model, loss, accuracy, "
                + "learning rate and the input-gradient norm of every block"),
        FlagSpec(
            name: "steps", takesValue: true,
            help: "steps per network (default: the experiment's, 600 for plain-vs-residual "
                + "and 300 for the others)"),
        FlagSpec(
            name: "width", takesValue: true,
            help: "base width of every network (default: the experiment's, 8)"),
        FlagSpec(
            name: "input", takesValue: true,
            help: "image size of the shapes data: channels, height, width (default 1,16,16)"),
        FlagSpec(name: "batch", takesValue: true, help: "images per step (default 32)"),
        FlagSpec(name: "lr", takesValue: true, help: "learning rate at the start (default 0.05)"),
        FlagSpec(name: "seed", takesValue: true, help: ""),
        FlagSpec(name: "threads", takesValue: true, help: ""),
        FlagSpec(name: "help", takesValue: false, help: ""),
    ],
    notes: """
        Example:
          resnet-tui experiment plain-vs-residual --csv pvr.csv
        """)

/// Runs `experiment NAME [flags]` or `experiment --list`.
func runExperimentCommand(_ arguments: [String]) throws {
    var flags = arguments
    var name: String?
    if let first = arguments.first, !first.hasPrefix("-") {
        name = first
        flags.removeFirst()
    }
    let parsed: ParsedArguments
    do {
        parsed = try experimentCommand.parse(flags)
    } catch var error as UsageError {
        error.command = "resnet-tui experiment"
        throw error
    }
    if parsed.has("help") {
        print(experimentCommand.helpText, terminator: "")
        return
    }
    if parsed.has("list") {
        for experiment in Experiment.all {
            printLine(
                experiment.name.padding(toLength: 19, withPad: " ", startingAt: 0)
                    + experiment.summary)
        }
        return
    }
    let names = Experiment.all.map(\.name)
    guard let name else {
        throw UsageError(
            description: "missing experiment name; valid: " + names.joined(separator: ", "),
            command: "resnet-tui experiment")
    }
    guard let experiment = Experiment.named(name) else {
        throw UsageError(
            description: "unknown experiment '\(name)'"
                + suggestion(for: name, among: names, quote: "'"),
            command: "resnet-tui experiment")
    }
    do {
        try ExperimentRunner(experiment: experiment, parsed: parsed).run()
    } catch var error as UsageError {
        error.command = "resnet-tui experiment"
        throw error
    }
}

/// Trains every network of one experiment in turn and prints the verdict.
struct ExperimentRunner {
    let experiment: Experiment
    let steps: Int
    let width: Int
    let inputSize: [Int]
    let batch: Int
    let learningRate: Double
    let seed: UInt64
    let threads: Int
    let csvPath: String?

    init(experiment: Experiment, parsed: ParsedArguments) throws {
        self.experiment = experiment
        steps = try parsed.int("steps", default: experiment.steps, range: 1...1_000_000)
        width = try parsed.int("width", default: experiment.width, range: 1...4096)
        inputSize = try parseInputSize(parsed) ?? experiment.inputSize
        batch = try parsed.int("batch", default: experiment.batch, range: 2...4096)
        learningRate = try parsed.double(
            "lr", default: experiment.learningRate, range: 0...100)
        seed = UInt64(try parsed.int("seed", default: 0, range: 0...Int.max))
        threads = try parsed.int(
            "threads", default: ProcessInfo.processInfo.activeProcessorCount, range: 1...256)
        csvPath = parsed.values["csv"]
    }

    func run() throws {
        let runs = experiment.runs(width: width)
        printLine(
            "experiment \(experiment.name): \(runs.count) networks, \(steps) steps each, "
                + "batch \(batch), shapes \(inputSize.map(String.init).joined(separator: "x")), "
                + "width \(width), lr \(learningRate) (cosine), seed \(seed), \(threads) threads")
        printLine("look for: \(experiment.lookFor)")
        let maxBlocks = runs.map(\.spec.blockCount).max() ?? 0
        let csv = try csvPath.map { try ExperimentCSV(path: $0, blockCount: maxBlocks) }
        var histories: [RunHistory] = []
        let start = Date()
        let startCPU = processCPUSeconds()
        for run in runs {
            histories.append(try train(run, csv: csv))
        }
        try csv?.close()
        let verdict = VerdictRules.judge(experiment, histories: histories)
        printLine("")
        for line in verdict.lines {
            printLine(line)
        }
        printLine(
            "total: \(format(Date().timeIntervalSince(start), 1)) s wall, "
                + "\(format(processCPUSeconds() - startCPU, 1)) s CPU")
    }

    /// Trains one network for `steps` steps, or until its loss is not finite, appending its
    /// rows to `csv` and printing one line with its times.
    private func train(_ run: ExperimentRun, csv: ExperimentCSV?) throws -> RunHistory {
        let source = try openBatchSource(
            spec: "shapes", batchSize: batch, seed: seed, shapesSize: inputSize)
        let config = ResNetConfig(
            spec: run.spec, inputChannels: source.channels, inputHeight: source.height,
            inputWidth: source.width, classCount: source.classCount)
        try checkMemory(config: config, batch: batch, modelName: run.label)
        let model = ResNet(config: config, batchSize: batch)
        var generator = SeededGenerator(seed: seed)
        model.initialize(using: &generator)
        let stepper = Stepper(
            model: model, data: source.batches, pool: ThreadPool(threads: threads),
            optimizer: OptimizerSettings(learningRate: learningRate), seed: seed)
        let blockLayers = stepper.snapshot.layers.indices.filter {
            stepper.snapshot.layers[$0].kind == .block
        }
        var history = RunHistory(
            label: run.label, losses: [],
            blockNames: blockLayers.map { stepper.snapshot.layers[$0].name },
            gradientSamples: [])
        if experiment.measuresGauge {
            // The gauge needs a batch in the model: the first phase loads it.
            stepper.advance()
            printGauge(of: stepper, label: "\(run.label) before step 1")
        }
        let progress = ProgressBar(total: steps)
        let wallStart = Date()
        let cpuStart = processCPUSeconds()
        for step in 0..<steps {
            let rate = LearningRateSchedule.cosine.rate(
                base: learningRate, step: step, totalSteps: steps)
            stepper.optimizer.learningRate = rate
            stepper.finishIteration()
            let snapshot = stepper.snapshot
            let loss = snapshot.currentLoss ?? .nan
            guard loss.isFinite, let record = snapshot.history.last,
                record.iteration == step + 1
            else {
                history.divergedAtStep = step + 1
                break
            }
            let norms = blockLayers.map { snapshot.gradients[$0]?.input ?? .nan }
            history.losses.append(loss)
            history.gradientSamples.append(GradientSample(step: step + 1, norms: norms))
            try csv?.append(
                step: step + 1, model: run.label, loss: loss, accuracy: record.accuracy,
                learningRate: rate, norms: norms)
            progress.update(done: step + 1, status: "\(run.label) loss \(format(loss, 4))")
        }
        progress.clear()
        if experiment.measuresGauge && stepper.atIterationBoundary {
            printGauge(of: stepper, label: "\(run.label) after step \(history.losses.count)")
        }
        let tail = history.losses.suffix(max(1, history.losses.count / 10))
        let tailMean = tail.isEmpty ? Double.nan : tail.reduce(0, +) / Double(tail.count)
        printLine(
            "\(run.label): \(history.losses.count) steps in "
                + "\(format(Date().timeIntervalSince(wallStart), 1)) s wall, "
                + "\(format(processCPUSeconds() - cpuStart, 1)) s CPU, final loss "
                + "\(format(tailMean, 4)) (mean of the last \(tail.count) steps)"
                + (history.divergedAtStep.map { ", diverged at step \($0)" } ?? ""))
        return history
    }
}

/// Prints the near-identity gauge of every block with an identity skip on the batch in the
/// model: the median and range of the block and branch gains, and the first and last block.
private func printGauge(of stepper: Stepper, label: String) {
    let gains = NearIdentityGauge.measure(model: stepper.model, pool: stepper.pool)
    let identity = gains.filter { !$0.hasProjection }
    guard let first = identity.first, let last = identity.last else { return }
    func summary(_ values: [Double]) -> String {
        let sorted = values.sorted()
        return "median \(gainText(sorted[sorted.count / 2])), range \(gainText(sorted[0]))"
            + " to \(gainText(sorted[sorted.count - 1]))"
    }
    printLine(
        "gauge, \(label), \(identity.count) identity-skip blocks: block gain "
            + summary(identity.map(\.blockGain)) + "; branch gain "
            + summary(identity.map(\.branchGain)) + "; \(first.name) "
            + "\(gainText(first.blockGain))/\(gainText(first.branchGain)), \(last.name) "
            + "\(gainText(last.blockGain))/\(gainText(last.branchGain)) (block/branch)")
}

private func gainText(_ value: Double) -> String {
    String(format: "%.3f", value)
}

/// The `--csv` file of `experiment`: a header, then one row per step and network. Networks
/// with fewer blocks than the deepest leave their last block columns empty.
final class ExperimentCSV {
    private let file: CSVFile
    private let blockCount: Int

    init(path: String, blockCount: Int) throws {
        self.blockCount = blockCount
        let columns =
            ["step", "model", "loss", "accuracy", "learning_rate"]
            + (1...max(blockCount, 1)).map { "block\($0)" }
        file = try CSVFile(path: path, columns: columns)
    }

    /// Adds a row; `norms` holds the input-gradient norm of each block, first block first.
    func append(
        step: Int, model: String, loss: Double, accuracy: Double, learningRate: Double,
        norms: [Double]
    ) throws {
        let number = CSVFile.number
        var cells = ["\(step)", model, number(loss), number(accuracy), number(learningRate)]
        cells += norms.map(number)
        cells += Array(repeating: "", count: max(blockCount - norms.count, 0))
        try file.append(cells)
    }

    func close() throws {
        try file.close()
    }
}
