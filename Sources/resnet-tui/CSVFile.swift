import Foundation
import Training

/// A CSV file written row by row: `train --log` and `experiment --csv` use it. Rows are
/// buffered and written in chunks, which keeps system calls rare without holding a long
/// run in memory.
final class CSVFile {
    private let handle: FileHandle
    private let path: String
    private var pending = ""

    /// Creates or truncates the file at `path` and writes `columns` as its header.
    init(path: String, columns: [String]) throws {
        self.path = path
        guard FileManager.default.createFile(atPath: path, contents: nil) else {
            throw TrainingFailure(
                description: "\(path): cannot create the CSV file; check that its directory "
                    + "exists and is writable")
        }
        handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        pending = columns.joined(separator: ",") + "\n"
    }

    func append(_ cells: [String]) throws {
        pending += cells.joined(separator: ",") + "\n"
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
    static func number(_ value: Double) -> String {
        String(format: "%.6g", value)
    }
}
