import Foundation
import Testing
import Training

struct SessionFileTests {
    static let header =
        #"{"arguments":["--model","resnet8"],"data":"shapes","format":"resnet-tui-session","#
        + #""model":"resnet8","seed":0,"type":"header","version":1}"#

    static func temporaryPath(_ name: String) -> String {
        FileManager.default.temporaryDirectory
            .appendingPathComponent("session-\(getpid())-\(name).jsonl").path
    }

    @Test(arguments: [
        ("not json", 1, "expected a JSON object"),
        (#"{"type":"key"}"#, 1, "the first line must be the header"),
        (header.replacingOccurrences(of: #""version":1"#, with: #""version":2"#), 1, "version 2"),
        (header.replacingOccurrences(of: "resnet-tui-session", with: "other"), 1, "format"),
        (
            header + "\n"
                + #"{"type":"key","phasesRun":5,"iteration":0,"phase":5,"key":"z","command":"zap"}"#,
            2, "unknown command 'zap'"
        ),
        (
            header + "\n"
                + #"{"type":"key","phasesRun":5,"iteration":0,"phase":5,"key":"t","command":"toggle-skip"}"#,
            2, "a missing layer"
        ),
        (
            header + "\n"
                + #"{"type":"key","phasesRun":9,"iteration":0,"phase":9,"key":"T","command":"toggle-all-skips"}"#
                + "\n"
                + #"{"type":"key","phasesRun":5,"iteration":0,"phase":5,"key":"T","command":"toggle-all-skips"}"#,
            3, "below the line above"
        ),
        (header + "\n" + #"{"type":"bogus"}"#, 2, "unknown line type 'bogus'"),
        (
            header + "\n"
                + #"{"type":"end","phasesRun":0,"iteration":0,"phase":0,"checksum":"00"}"#
                + "\n" + #"{"type":"end","phasesRun":0,"iteration":0,"phase":0,"checksum":"00"}"#,
            3, "follows the end line"
        ),
    ])
    func parseRejectsInvalidLine(text: String, line: Int, fragment: String) {
        do {
            _ = try SessionFile.parse(text, path: "s.jsonl")
            Issue.record("accepted: \(text)")
        } catch let error as SessionFileError {
            #expect(error.line == line, "\(error)")
            #expect(error.description.contains(fragment), "\(error)")
            #expect(!error.description.contains("\n"), "error spans lines: \(error)")
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test func parseRejectsEmptyAndMissingFiles() throws {
        #expect(throws: SessionFileError.self) { try SessionFile.parse("\n", path: "e") }
        let missing = Self.temporaryPath("missing")
        do {
            _ = try SessionFile.read(path: missing)
            Issue.record("read a missing file")
        } catch let error as SessionFileError {
            #expect(error.description == "invalid session file \(missing): no such file")
        }
    }

    @Test func recordedSessionReplaysToSameChecksum() throws {
        let path = Self.temporaryPath("record")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let stepper = try RewindTests.makeStepper(seed: 5)
        let session = TrainingSession(stepper: stepper)
        let header = SessionFile.Header(
            arguments: ["--model", "resnet8"], model: "resnet8", data: "shapes", seed: 5)
        session.recorder = try SessionRecorder(path: path, header: header)
        let block = ResNet.firstBlockLayer
        let commands: [SessionCommand] = [
            .finishIteration, .finishIteration, .finishIteration, .toggleSkip(layer: block),
            .scaleLearningRate(2), .finishIteration, .finishIteration, .runBackward,
            .gradientCheck(layer: block), .whatIf(layer: block + 1), .finishIteration,
            .rewind, .rewind, .toggleAllSkips, .advancePhase, .finishIteration,
            .finishIteration, .scaleLearningRate(0.5), .runForward,
        ]
        session.start()
        for command in commands { session.send(command) }
        // The last command stops in the seventh iteration at the loss; no earlier command
        // leaves the session there. Polling ends when it arrives or after 120 s.
        let deadline = Date().addingTimeInterval(120)
        while Date() < deadline {
            let snapshot = session.snapshot
            if snapshot.iteration == 6 && snapshot.lastPhase == .loss { break }
            usleep(10_000)
        }
        session.stop()

        let file = try SessionFile.read(path: path)
        #expect(
            file.events.map(\.command) == [
                "toggle-skip", "scale-lr", "gradcheck", "what-if", "rewind", "rewind",
                "toggle-all-skips", "scale-lr",
            ])
        let end = try #require(file.end)
        let checksum = String(format: "%016llx", stepper.model.weightsChecksum())
        #expect(end.checksum == checksum)
        #expect(end.iteration == 6)
        try #require(file.events.count == 8)

        let replayed = SessionReplay.run(file, on: try RewindTests.makeStepper(seed: 5))
        #expect(replayed == end, "replay ended at \(replayed), recorded \(end)")

        // Without the first learning-rate change the run ends elsewhere, so the checksum
        // differs.
        var altered = file
        altered.events.remove(at: 1)
        let different = SessionReplay.run(altered, on: try RewindTests.makeStepper(seed: 5))
        #expect(different.checksum != end.checksum)
    }

    @Test func fileTextRoundTrips() throws {
        let text =
            Self.header + "\n"
            + #"{"command":"scale-lr","factor":2,"iteration":3,"key":"+","phase":0,"phasesRun":45,"type":"key"}"#
            + "\n"
            + #"{"checksum":"cf222949a82102f6","iteration":16,"loss":2.25,"phase":0,"phasesRun":273,"type":"end"}"#
            + "\n"
        let file = try SessionFile.parse(text, path: "s.jsonl")
        #expect(file.events.first?.factor == 2)
        #expect(file.end?.loss == 2.25)
        #expect(file.text == text)
    }
}
