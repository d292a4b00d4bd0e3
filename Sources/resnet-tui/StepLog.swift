import Foundation
import Training

/// The `--log` CSV file of `train`: a header, then one row per step.
final class StepLog {
    private let handle: FileHandle
    private let path: String
    private var pending = ""

    /// Creates or truncates the file at `path` and writes the header, which names three
    /// columns per block: `<block>.skip`, `<block>.residual` and `<block>.input`, the norm
    /// of the whole gradient at the block's input (their sum).
    init(path: String, blockNames: [String]) throws {
        self.path = path
        guard FileManager.default.createFile(atPath: path, contents: nil) else {
            throw TrainingFailure(
                description: "\(path): cannot create the log file; check that its directory "
                    + "exists and is writable")
        }
        handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        var columns = ["step", "epoch", "loss", "accuracy", "learning_rate", "images_per_second"]
        for name in blockNames {
            columns += ["\(name).skip", "\(name).residual", "\(name).input"]
        }
        pending = columns.joined(separator: ",") + "\n"
    }

    /// Adds a row. `gradients` has one entry per block, nil when its backward phase has
    /// not run, which leaves its cells empty.
    func append(
        step: Int, epoch: Int, loss: Double, accuracy: Double, learningRate: Double,
        imagesPerSecond: Double, gradients: [GradientFlow?]
    ) throws {
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
        pending += cells.joined(separator: ",") + "\n"
        // Writing in chunks keeps system calls rare without holding a long run in memory.
        if pending.utf8.count >= 1 << 16 {
            try flush()
        }
    }

    func close() throws {
        try flush()
        try handle.close()
    }

    private func flush() throws {
        do {
            try handle.write(contentsOf: Data(pending.utf8))
        } catch {
            throw TrainingFailure(
                description: "\(path): write failed (\(error.localizedDescription)); "
                    + "check free disk space")
        }
        pending = ""
    }

    /// Six significant digits, enough for a plot and short enough for a long run.
    private func number(_ value: Double) -> String {
        String(format: "%.6g", value)
    }
}
