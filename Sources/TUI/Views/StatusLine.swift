import Foundation
import Training

/// The header rows: the run's settings and RUNNING or PAUSED on the first row, progress and
/// speed on the second, and the session's message, when it has one, on a third.
public struct StatusLine {
    public var snapshot: SessionSnapshot

    public init(snapshot: SessionSnapshot) {
        self.snapshot = snapshot
    }

    /// Rows the header needs: two, plus one for the message and one for a guided experiment.
    public var height: Int {
        2 + (snapshot.message == nil ? 0 : 1) + (snapshot.experiment == nil ? 0 : 1)
    }

    public func draw(in rect: Rect, on buffer: inout CellBuffer) {
        buffer.withClip(rect) { buffer in
            drawSettings(row: rect.y, rect: rect, on: &buffer)
            if rect.height > 1 {
                drawProgress(row: rect.y + 1, rect: rect, on: &buffer)
            }
            var row = rect.y + 2
            if let message = snapshot.message, rect.height > 2 {
                buffer.fill(Rect(x: rect.x, y: row, width: rect.width, height: 1))
                buffer.put(
                    " ! " + message, x: rect.x, y: row, style: Theme.warning,
                    maxWidth: rect.width)
                row += 1
            }
            if let experiment = snapshot.experiment, row < rect.maxY {
                buffer.fill(Rect(x: rect.x, y: row, width: rect.width, height: 1))
                buffer.put(
                    " " + experimentText(experiment), x: rect.x, y: row, style: Theme.note,
                    maxWidth: rect.width)
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
        let settings = [
            snapshot.modelName, snapshot.datasetName, "batch \(snapshot.batchSize)",
            "lr \(Format.learningRate(snapshot.learningRate))", threads,
        ].joined(separator: " · ")
        let state = snapshot.isRunning ? " ● RUNNING " : " ‖ PAUSED "
        let room = rect.width - state.count - 1
        buffer.put(" " + truncate(settings, to: room - 1), x: rect.x, y: row, style: Theme.bar)
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
            ? String(
                format: "%.1f ms/step · %.0f img/s", snapshot.stepMilliseconds,
                snapshot.imagesPerSecond)
            : "– ms/step"
        var column = buffer.put(
            " iter \(snapshot.iteration) done · epoch \(snapshot.epoch) · phase "
                + "\(snapshot.nextPhase)/\(snapshot.phases.count) ",
            x: rect.x, y: row)
        column = buffer.put(phaseText, x: column, y: row, style: phaseStyle)
        column = buffer.put(" · " + speed, x: column, y: row)
        let rewind = snapshot.rewind
        if rewind.capacity > 0 {
            let mebibytes = String(format: "%.1f", Double(rewind.bytes) / Double(1 << 20))
            buffer.put(
                " · rewind \(rewind.available)/\(rewind.capacity) (\(mebibytes) MiB)", x: column,
                y: row)
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
