import Foundation
import Training

/// The `--log` CSV file of `train`: a header, then one row per step.
final class StepLog {
    private let file: CSVFile

    /// Creates or truncates the file at `path` and writes the header, which names three
    /// columns per block: `<block>.skip`, `<block>.residual` and `<block>.input`, the norm
    /// of the whole gradient at the block's input (their sum).
    init(path: String, blockNames: [String]) throws {
        var columns = ["step", "epoch", "loss", "accuracy", "learning_rate", "images_per_second"]
        for name in blockNames {
            columns += ["\(name).skip", "\(name).residual", "\(name).input"]
        }
        file = try CSVFile(path: path, columns: columns)
    }

    /// Adds a row. `gradients` has one entry per block, nil when its backward phase has
    /// not run, which leaves its cells empty.
    func append(
        step: Int, epoch: Int, loss: Double, accuracy: Double, learningRate: Double,
        imagesPerSecond: Double, gradients: [GradientFlow?]
    ) throws {
        let number = CSVFile.number
        var cells = [
            "\(step)", "\(epoch)", number(loss), number(accuracy), number(learningRate),
            String(format: "%.1f", imagesPerSecond),
        ]
        for flow in gradients {
            cells += [
                flow.map { number($0.skip) } ?? "", flow.map { number($0.residual) } ?? "",
                flow.map { number($0.input) } ?? "",
            ]
        }
        try file.append(cells)
    }

    func close() throws {
        try file.close()
    }
}
