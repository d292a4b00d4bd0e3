import Foundation
import Training

/// The header rows: the run's settings and RUNNING or PAUSED on the first row, progress and
/// speed on the second, then the session's message and the guided experiment's row, when
/// there are any, each wrapped to at most two rows. Epochs count from 1, as in `train`.
public struct StatusLine {
    public var snapshot: SessionSnapshot

    public init(snapshot: SessionSnapshot) {
        self.snapshot = snapshot
    }

    /// Rows that the message and the experiment row may each wrap to, at most.
    static let wrapRows = 2

    /// Rows the header needs on a screen `width` columns wide: two, plus the message and the
    /// guided experiment's row, each wrapped to at most two rows.
    public func height(width: Int) -> Int {
        2 + messageLines(width: width).count + experimentLines(width: width).count
    }

    private func messageLines(width: Int) -> [String] {
        guard let message = snapshot.message else { return [] }
        return Self.wrap(message, width: width - 3, rows: Self.wrapRows)
    }

    private func experimentLines(width: Int) -> [String] {
        guard let experiment = snapshot.experiment else { return [] }
        return Self.wrap(
            experimentText(experiment), width: width - 1, rows: Self.wrapRows)
    }

    /// Splits `text` at spaces into at most `rows` rows of at most `width` characters. A
    /// text that needs more rows ends its last row with "…".
    static func wrap(_ text: String, width: Int, rows: Int) -> [String] {
        guard width > 1 else { return [String(text.prefix(max(width, 0)))] }
        var lines: [String] = []
        var current = ""
        for word in text.split(separator: " ", omittingEmptySubsequences: false) {
            let candidate = current.isEmpty ? String(word) : current + " " + word
            if candidate.count <= width {
                current = candidate
                continue
            }
            if !current.isEmpty { lines.append(current) }
            current = String(word)
            while current.count > width {
                lines.append(String(current.prefix(width)))
                current = String(current.dropFirst(width))
            }
        }
        if !current.isEmpty || lines.isEmpty { lines.append(current) }
        guard lines.count > rows else { return lines }
        var kept = Array(lines.prefix(rows))
        kept[rows - 1] = String(kept[rows - 1].prefix(width - 1)) + "…"
        return kept
    }

    public func draw(in rect: Rect, on buffer: inout CellBuffer) {
        buffer.withClip(rect) { buffer in
            drawSettings(row: rect.y, rect: rect, on: &buffer)
            if rect.height > 1 {
                drawProgress(row: rect.y + 1, rect: rect, on: &buffer)
            }
            var row = rect.y + 2
            for (index, line) in messageLines(width: rect.width).enumerated() where row < rect.maxY
            {
                buffer.fill(Rect(x: rect.x, y: row, width: rect.width, height: 1))
                buffer.put(
                    (index == 0 ? " ! " : "   ") + line, x: rect.x, y: row, style: Theme.warning,
                    maxWidth: rect.width)
                row += 1
            }
            for line in experimentLines(width: rect.width) where row < rect.maxY {
                buffer.fill(Rect(x: rect.x, y: row, width: rect.width, height: 1))
                buffer.put(
                    " " + line, x: rect.x, y: row, style: Theme.note, maxWidth: rect.width)
                row += 1
            }
        }
    }

    /// Returns the experiment's name and models, then its verdict, or what to look for until the
    /// verdict is due.
    private func experimentText(_ experiment: LiveExperiment) -> String {
        let models = experiment.labels.joined(separator: " vs ")
        let result =
            experiment.verdict
            ?? "look for: \(experiment.lookFor) (verdict after "
            + "\(LiveExperiment.minimumSteps) steps)"
        return "experiment \(experiment.name) (\(models)): \(result)"
    }

    private func drawSettings(row: Int, rect: Rect, on buffer: inout CellBuffer) {
        buffer.fill(Rect(x: rect.x, y: row, width: rect.width, height: 1), style: Theme.bar)
        let threads = snapshot.threads == 1 ? "1 thread" : "\(snapshot.threads) threads"
        var parts = [
            snapshot.modelName, snapshot.datasetName, "batch \(snapshot.batchSize)",
            "lr \(Format.learningRate(snapshot.learningRate))", threads,
        ]
        let rewind = snapshot.rewind
        if rewind.capacity > 0 {
            let mebibytes = String(format: "%.1f", Double(rewind.bytes) / Double(1 << 20))
            // With no state saved, the figure would count only buffers kept for reuse, so it
            // is left out.
            parts.append(
                rewind.available == 0
                    ? "rewind 0/\(rewind.capacity)"
                    : "rewind \(rewind.available)/\(rewind.capacity) (\(mebibytes) MiB)")
        }
        let state = snapshot.isRunning ? " ● RUNNING " : " ‖ PAUSED "
        let room = rect.width - state.count - 1
        let settings = Format.fitted(parts, width: room - 1, separator: " · ")
        buffer.put(" " + settings, x: rect.x, y: row, style: Theme.bar)
        buffer.putRightAligned(state, maxX: rect.maxX, y: row, style: Theme.barEmphasis)
    }

    private func drawProgress(row: Int, rect: Rect, on buffer: inout CellBuffer) {
        buffer.fill(Rect(x: rect.x, y: row, width: rect.width, height: 1))
        let phaseText: String
        if let last = snapshot.lastPhase {
            phaseText = Format.phase(last, layers: snapshot.layers)
        } else if snapshot.iteration > 0 {
            phaseText = "weights updated, next: load batch"
        } else {
            phaseText = "ready, next: load batch"
        }
        let speed =
            snapshot.stepMilliseconds > 0
            ? [
                String(format: "%.1f ms/step", snapshot.stepMilliseconds),
                String(format: "%.0f img/s", snapshot.imagesPerSecond),
            ]
            : ["– ms/step"]
        var column = buffer.put(
            " iter \(snapshot.iteration) done · epoch \(snapshot.epoch + 1) · phase "
                + "\(snapshot.nextPhase)/\(snapshot.phases.count) ",
            x: rect.x, y: row)
        column = buffer.put(phaseText, x: column, y: row, style: phaseStyle)
        // Whole figures only: on a narrow window img/s goes first, then ms/step.
        let fitting = Format.fitted(speed, width: rect.maxX - column - 3, separator: " · ")
        if !fitting.isEmpty && !fitting.hasSuffix("…") {
            buffer.put(" · " + fitting, x: column, y: row)
        }
    }

    private var phaseStyle: CellStyle {
        switch snapshot.lastPhase {
        case .forward: return Theme.forwardMarker
        case .backward: return Theme.backwardMarker
        default: return Theme.selectedRow
        }
    }
}
