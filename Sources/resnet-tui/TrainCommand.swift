import Engine
import Foundation
import Training

let trainCommand = CommandDescription(
    name: "train",
    summary: """
        Trains without the UI. Prints one line per epoch with the mean training loss and
        accuracy of its steps and the loss and accuracy on the test split, evaluated in
        inference mode (batch norm with its running statistics). A progress bar is drawn on
        stderr when stderr is a terminal.
        """,
    usage: "resnet-tui train [--steps N | --epochs N] [--log FILE.csv] [options]",
    flags: commonFlags + modelFlags + checkpointFlags
        + ["steps", "epochs", "schedule", "log"].map {
            FlagSpec(name: $0, takesValue: true, help: "")
        } + [FlagSpec(name: "no-eval", takesValue: false, help: "")],
    notes: """
        Example:
          resnet-tui train --model resnet20 --data mnist:DIR --epochs 1 --log run.csv
        """)

/// Learning-rate schedule over a run of `totalSteps` steps.
enum LearningRateSchedule: String {
    case constant
    /// Half a cosine from the base rate down to zero: rate * (1 + cos(pi * step / total)) / 2.
    case cosine

    /// Returns the rate for step `step`, counting from 0.
    func rate(base: Double, step: Int, totalSteps: Int) -> Double {
        switch self {
        case .constant:
            return base
        case .cosine:
            let progress = Double(step) / Double(max(totalSteps, 1))
            return base * (1 + cos(Double.pi * progress)) / 2
        }
    }
}

/// Sums the training loss and accuracy of the steps of one epoch.
private struct EpochTotals {
    var steps = 0
    var loss = 0.0
    var accuracy = 0.0
    var start = Date()
}

func runTrain(_ parsed: ParsedArguments) throws {
    if parsed.values["steps"] != nil && parsed.values["epochs"] != nil {
        throw UsageError(description: "give either --steps or --epochs, not both")
    }
    let scheduleName = parsed.string("schedule", default: "cosine")
    guard let schedule = LearningRateSchedule(rawValue: scheduleName) else {
        throw UsageError(
            description: "invalid value '\(scheduleName)' for --schedule: expected cosine or "
                + "constant")
    }
    let (stepper, data) = try makeTrainingRun(parsed)
    // Headless training never rewinds, so it skips copying the state every iteration.
    stepper.rewindDepth = 0
    let steps: Int
    if parsed.values["epochs"] != nil {
        let epochs = try parsed.int("epochs", default: 1, range: 1...100_000)
        steps = epochs * data.batchesPerEpoch
    } else {
        steps = try parsed.int("steps", default: 100, range: 1...100_000_000)
    }
    let baseRate = stepper.optimizer.learningRate
    let blockLayers = stepper.snapshot.layers.indices.filter {
        stepper.snapshot.layers[$0].kind == .block
    }
    let log = try parsed.values["log"].map { path in
        try StepLog(path: path, blockNames: blockLayers.map { stepper.snapshot.layers[$0].name })
    }
    let evaluate = !parsed.has("no-eval")
    let progress = ProgressBar(total: steps)
    let epochCount = (steps + data.batchesPerEpoch - 1) / data.batchesPerEpoch
    let start = Date()
    var totals = EpochTotals()

    for step in 0..<steps {
        let rate = schedule.rate(base: baseRate, step: step, totalSteps: steps)
        stepper.optimizer.learningRate = rate
        stepper.finishIteration()
        let snapshot = stepper.snapshot
        if let invalid = snapshot.invalidInput {
            progress.clear()
            try? log?.close()
            throw TrainingFailure(
                description: "\(invalid); training stopped before step \(step + 1)")
        }
        // The loss of this iteration, read from the loss phase, because a stepper may end a
        // diverged iteration before its update and leave no record for it.
        let loss = snapshot.currentLoss ?? .nan
        guard loss.isFinite, let record = snapshot.history.last else {
            progress.clear()
            // Keeps the rows up to the divergence, which show how it came about.
            try? log?.close()
            let value = loss.isNaN ? "NaN" : (loss > 0 ? "+Inf" : "-Inf")
            throw TrainingFailure(
                description: "loss is \(value) at step \(step + 1), so training stopped "
                    + "before that step's update; lower --lr and try again")
        }
        totals.steps += 1
        totals.loss += record.loss
        totals.accuracy += record.accuracy

        let epoch = step / data.batchesPerEpoch
        try log?.append(
            step: record.iteration, epoch: epoch + 1, loss: record.loss,
            accuracy: record.accuracy, learningRate: rate,
            imagesPerSecond: snapshot.imagesPerSecond,
            gradients: blockLayers.map { snapshot.gradients[$0] })
        progress.update(
            done: step + 1,
            status: "epoch \(epoch + 1)/\(epochCount) loss \(format(record.loss, 4)) "
                + "\(format(snapshot.imagesPerSecond, 0)) img/s")

        let epochEnds = (step + 1) % data.batchesPerEpoch == 0 || step + 1 == steps
        if epochEnds {
            var testColumns = ""
            if evaluate {
                // NOTE: a NaN test loss is printed as "NaN" and not treated as an error.
                // PyTorch 2.13 gives one too after one step of resnet50 at batch 2 on 3x32x32
                // images. There layer4's batch norms see 2 values per channel, so the gradient
                // is mostly amplified rounding. From the same weights and batch, conv1.weight
                // reached 5.2e7 here, 5.8e7 in PyTorch float32 and 6.2e6 in float64, and the
                // eval loss was NaN in all three (scripts/compare-step-pytorch.py --batch 2).
                let test = stepper.model.evaluate(data.test, pool: stepper.pool)
                testColumns =
                    "test loss \(format(test.loss, 4)) acc \(format(100 * test.accuracy, 2))%  "
            }
            progress.clear()
            let partial =
                totals.steps < data.batchesPerEpoch
                ? " (\(totals.steps) of \(data.batchesPerEpoch) steps)" : ""
            printLine(
                "epoch \(epoch + 1)/\(epochCount)\(partial)  "
                    + "train loss \(format(totals.loss / Double(totals.steps), 4)) "
                    + "acc \(format(100 * totals.accuracy / Double(totals.steps), 2))%  "
                    + testColumns + "\(format(Date().timeIntervalSince(totals.start), 1)) s")
            totals = EpochTotals()
        }
    }
    try log?.close()
    try saveIfRequested(parsed, model: stepper.model)
    let seconds = Date().timeIntervalSince(start)
    let images = Double(steps * stepper.model.batchSize)
    printLine(
        "trained \(steps) steps of \(stepper.model.batchSize) images in \(format(seconds, 1)) s "
            + "(\(format(images / seconds, 0)) images/s"
            + (evaluate ? ", test evaluation included)" : ")"))
}

/// Writes `line` and a newline to stdout at once, unbuffered, so each line shows up
/// while a long run goes on, even when stdout is a pipe.
func printLine(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

/// Writes `value` with `decimals` decimals. From 1e6 up it uses scientific notation. A
/// value under 1 that zero decimals would show as 0 gets two. NaN and infinities are
/// written as NaN, inf and -inf.
func format(_ value: Double, _ decimals: Int) -> String {
    if value.isNaN { return "NaN" }
    if value.isInfinite { return value > 0 ? "inf" : "-inf" }
    if abs(value) >= 1e6 { return String(format: "%.3e", value) }
    if decimals == 0 && value != 0 && abs(value) < 1 { return String(format: "%.2f", value) }
    return String(format: "%.\(decimals)f", value)
}

struct TrainingFailure: Error, CustomStringConvertible {
    var description: String
}
