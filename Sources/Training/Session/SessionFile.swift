import Foundation

/// A session file: JSON lines that reproduce an interactive session. The first line is the
/// header with the command-line options that built the model and the data, then one line
/// per key that changed state, then an end line with the final loss and weights checksum.
///
/// Each key line stores `phasesRun`, the number of phases the stepper had run when the key
/// was applied. Replaying runs phases up to that count and applies the key, so keys land
/// between the same two phases however fast the session ran. Stepping and run/pause keys
/// are not stored, because the phase counts contain their effect.
public struct SessionFile: Sendable, Equatable {
    public static let format = "resnet-tui-session"
    public static let version = 1
    /// The largest session file `read` accepts: 64 MiB, far above the few kilobytes that an
    /// hour of key presses writes.
    public static let maxBytes = 64 << 20

    public var header: Header
    public var events: [Event]
    /// The end line, or nil when the session did not end normally.
    public var end: End?

    public init(header: Header, events: [Event] = [], end: End? = nil) {
        self.header = header
        self.events = events
        self.end = end
    }

    /// The first line: format and version, and what the replay needs to build the same run.
    public struct Header: Codable, Sendable, Equatable {
        public var type = "header"
        public var format = SessionFile.format
        public var version = SessionFile.version
        /// Options that shape training, such as `["--model", "resnet8", "--seed", "3"]`,
        /// parsed again by the replay. Display and output options are left out.
        public var arguments: [String]
        public var model: String
        public var data: String
        public var seed: UInt64

        public init(arguments: [String], model: String, data: String, seed: UInt64) {
            self.arguments = arguments
            self.model = model
            self.data = data
            self.seed = seed
        }
    }

    /// A key that changed state, and where in the run it was applied.
    public struct Event: Codable, Sendable, Equatable {
        public var type = "key"
        public var phasesRun: Int
        /// Finished iterations and the index of the next phase, for a reader of the file.
        public var iteration: Int
        public var phase: Int
        /// The key as the help lists it, such as `t` or `+`.
        public var key: String
        /// One of `toggle-skip`, `toggle-all-skips`, `scale-lr`, `reset`, `compare`,
        /// `rewind`, `rewind-at-boundary`, `what-if`, `gradcheck` and `experiment`.
        public var command: String
        /// The block's layer index for `toggle-skip`, `what-if` and `gradcheck`.
        public var layer: Int?
        /// The learning-rate factor for `scale-lr`.
        public var factor: Double?
        /// The scenario's name for `experiment`.
        public var experiment: String? = nil
    }

    /// The last line, written when the session ends.
    public struct End: Codable, Sendable, Equatable {
        public var type = "end"
        public var phasesRun: Int
        public var iteration: Int
        public var phase: Int
        /// Loss of the last finished iteration, or nil before the first.
        public var loss: Double?
        /// `ResNet.weightsChecksum()` as 16 hexadecimal digits.
        public var checksum: String
    }
}

/// A session file that cannot be read, with the line at fault.
public struct SessionFileError: Error, CustomStringConvertible, Equatable {
    public var path: String
    /// 1-based line number, or nil for a problem with the whole file.
    public var line: Int?
    public var message: String

    public init(path: String, line: Int?, message: String) {
        self.path = path
        self.line = line
        self.message = message
    }

    public var description: String {
        let place = line.map { "\(path) line \($0)" } ?? path
        return "invalid session file \(place): \(message)"
    }
}

/// A session file that cannot be created or written.
public struct SessionWriteError: Error, CustomStringConvertible {
    public var path: String
    public var message: String

    public init(path: String, message: String) {
        self.path = path
        self.message = message
    }

    public var description: String { "cannot write session file \(path): \(message)" }
}

extension SessionFile.Event {
    /// Describes `command` as applied to `stepper` now, or returns nil for a command that
    /// the phase counts already capture (stepping, run and pause) or that leaves training
    /// alone (views and checkpoint saves).
    init?(_ command: SessionCommand, stepper: Stepper) {
        var key = ""
        var name = ""
        var layer: Int?
        var factor: Double?
        var experiment: String?
        switch command {
        case .toggleSkip(let index):
            (key, name, layer) = ("t", "toggle-skip", index)
        case .toggleAllSkips:
            (key, name) = ("T", "toggle-all-skips")
        case .scaleLearningRate(let value):
            (key, name, factor) = (value >= 1 ? "+" : "-", "scale-lr", value)
        case .resetWeights:
            (key, name) = ("r", "reset")
        case .toggleCompare:
            (key, name) = ("c", "compare")
        case .rewind:
            (key, name) = ("u", "rewind")
        case .rewindAtBoundary:
            (key, name) = ("Left", "rewind-at-boundary")
        case .whatIf(let index):
            (key, name, layer) = ("x", "what-if", index)
        case .gradientCheck(let index):
            (key, name, layer) = ("g", "gradcheck", index)
        case .startExperiment(let scenario):
            (key, name, experiment) = ("e", "experiment", scenario)
        case .advancePhase, .finishIteration, .toggleRunning, .pause, .runForward, .runBackward,
            .viewFeatureMap, .saveCheckpoint, .measureGauge:
            return nil
        }
        self.init(
            phasesRun: stepper.phasesRun, iteration: stepper.snapshot.iteration,
            phase: stepper.snapshot.nextPhase, key: key, command: name, layer: layer,
            factor: factor, experiment: experiment)
    }

    /// The command this line stores, or nil when the name or its argument is invalid.
    var sessionCommand: SessionCommand? {
        switch command {
        case "toggle-skip": return layer.map { .toggleSkip(layer: $0) }
        case "toggle-all-skips": return .toggleAllSkips
        case "scale-lr":
            guard let factor, factor.isFinite, factor > 0 else { return nil }
            return .scaleLearningRate(factor)
        case "reset": return .resetWeights
        case "compare": return .toggleCompare
        case "rewind": return .rewind
        case "rewind-at-boundary": return .rewindAtBoundary
        case "what-if": return layer.map { .whatIf(layer: $0) }
        case "gradcheck": return layer.map { .gradientCheck(layer: $0) }
        case "experiment": return experiment.map { .startExperiment(name: $0) }
        default: return nil
        }
    }
}

extension SessionFile {
    /// Encodes one value as a JSON line with sorted keys, so equal sessions give equal files.
    static func line<Value: Encodable>(_ value: Value) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        // A NaN or infinite number (a loss, for example) is written as a string rather than
        // making the encoder throw. Strings, integers and optionals cannot fail to encode.
        encoder.nonConformingFloatEncodingStrategy = .convertToString(
            positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        let data = try! encoder.encode(value)
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    /// The whole file as text.
    public var text: String {
        var result = Self.line(header)
        for event in events { result += Self.line(event) }
        if let end { result += Self.line(end) }
        return result
    }

    /// Reads and validates a session file. Throws `SessionFileError` naming the first line
    /// that is not valid JSON, has an unknown type or command, or places a key before the
    /// one above it. It also throws when the header is missing or of another format or
    /// version.
    public static func read(path: String) throws -> SessionFile {
        let bytes: [UInt8]
        do {
            bytes = try FileBytes.read(path: path, maxBytes: maxBytes)
        } catch {
            let message: String
            switch error {
            case .failed(let reason) where reason == "no such file": message = reason
            case .failed(let reason): message = "cannot read the file (\(reason))"
            case .tooLarge(let size):
                message = "the file has \(size) bytes, more than a session file's \(maxBytes)"
            }
            throw SessionFileError(path: path, line: nil, message: message)
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw SessionFileError(path: path, line: nil, message: "the file is not UTF-8 text")
        }
        return try parse(text, path: path)
    }

    /// Parses the text of a session file; `path` only names the file in errors.
    public static func parse(_ text: String, path: String) throws -> SessionFile {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        let decoder = JSONDecoder()
        // The writer stores NaN and infinite numbers as strings (see `line`).
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(
            positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        var file: SessionFile?
        for (offset, line) in lines.enumerated() {
            let number = offset + 1
            if line.allSatisfy(\.isWhitespace) { continue }
            func fail(_ message: String) -> SessionFileError {
                SessionFileError(path: path, line: number, message: message)
            }
            let bytes = Data(line.utf8)
            guard let kind = try? decoder.decode(LineType.self, from: bytes) else {
                throw fail("expected a JSON object with a \"type\" field")
            }
            guard var current = file else {
                guard kind.type == "header",
                    let header = try? decoder.decode(Header.self, from: bytes)
                else {
                    throw fail("the first line must be the header")
                }
                guard header.format == format else {
                    throw fail("format '\(header.format)' is not '\(format)'")
                }
                guard header.version == version else {
                    throw fail(
                        "version \(header.version) is not supported; this program reads "
                            + "version \(version)")
                }
                file = SessionFile(header: header)
                continue
            }
            guard current.end == nil else { throw fail("a line follows the end line") }
            let lastCount = current.events.last?.phasesRun ?? 0
            switch kind.type {
            case "key":
                guard let event = try? decoder.decode(Event.self, from: bytes) else {
                    throw fail("a key line needs phasesRun, iteration, phase, key and command")
                }
                guard event.sessionCommand != nil else {
                    throw fail("unknown command '\(event.command)' or a missing layer or factor")
                }
                guard event.phasesRun >= lastCount else {
                    throw fail(
                        "phasesRun \(event.phasesRun) is below the line above's \(lastCount)")
                }
                current.events.append(event)
            case "end":
                guard let end = try? decoder.decode(End.self, from: bytes) else {
                    throw fail("an end line needs phasesRun, iteration, phase and checksum")
                }
                guard end.phasesRun >= lastCount else {
                    throw fail("phasesRun \(end.phasesRun) is below the line above's \(lastCount)")
                }
                current.end = end
            default:
                throw fail("unknown line type '\(kind.type)'")
            }
            file = current
        }
        guard let file else {
            throw SessionFileError(path: path, line: nil, message: "the file is empty")
        }
        return file
    }

    private struct LineType: Decodable {
        var type: String
    }
}

/// Writes a session file while the UI runs: the header at once, each state-changing key as
/// it is applied, and the end line when the session stops. Each line is written whole, so
/// a crash leaves a readable file without an end line.
public final class SessionRecorder: @unchecked Sendable {
    public let path: String
    private let handle: FileHandle
    /// The first write error, which stops the recording.
    public private(set) var error: (any Error)?

    /// Creates or truncates the file at `path` and writes the header.
    public init(path: String, header: SessionFile.Header) throws {
        self.path = path
        guard FileManager.default.createFile(atPath: path, contents: nil),
            let handle = FileHandle(forWritingAtPath: path)
        else {
            throw SessionWriteError(
                path: path, message: "the file could not be created; check the folder exists")
        }
        self.handle = handle
        write(SessionFile.line(header))
    }

    private func write(_ line: String) {
        guard error == nil else { return }
        do {
            try handle.write(contentsOf: Data(line.utf8))
        } catch {
            self.error = error
        }
    }

    /// Writes a key line for `command` if it changes state. Call it just before the
    /// command is applied.
    public func record(_ command: SessionCommand, stepper: Stepper) {
        guard let event = SessionFile.Event(command, stepper: stepper) else { return }
        write(SessionFile.line(event))
    }

    /// Writes the end line and closes the file.
    public func finish(stepper: Stepper) {
        write(SessionFile.line(SessionReplay.end(of: stepper)))
        try? handle.close()
    }
}

/// Runs the keys of a session file on a stepper built from the file's header.
public enum SessionReplay {
    /// Returns the end line for the stepper's current state.
    public static func end(of stepper: Stepper) -> SessionFile.End {
        SessionFile.End(
            phasesRun: stepper.phasesRun, iteration: stepper.snapshot.iteration,
            phase: stepper.snapshot.nextPhase, loss: stepper.snapshot.history.last?.loss,
            checksum: String(format: "%016llx", stepper.model.weightsChecksum()))
    }

    /// Applies every key of `file` between the same phases as in the recorded session, then
    /// runs phases up to the end line's count, and returns the end line of the result. A
    /// file without an end line stops after its last key. `stepper` must be new, built
    /// from the header's arguments.
    public static func run(_ file: SessionFile, on stepper: Stepper) -> SessionFile.End {
        for event in file.events {
            while stepper.phasesRun < event.phasesRun { stepper.advance() }
            // `read` rejects lines without a valid command.
            guard let command = event.sessionCommand else { continue }
            apply(command, to: stepper)
        }
        if let end = file.end {
            while stepper.phasesRun < end.phasesRun { stepper.advance() }
        }
        return end(of: stepper)
    }

    /// Applies a recorded command as `TrainingSession` does.
    static func apply(_ command: SessionCommand, to stepper: Stepper) {
        switch command {
        case .toggleSkip(let layer): stepper.toggleSkip(layer: layer)
        case .toggleAllSkips: stepper.toggleAllSkips()
        case .scaleLearningRate(let factor): stepper.scaleLearningRate(by: factor)
        case .resetWeights: stepper.resetWeights()
        case .toggleCompare: stepper.setComparing(stepper.twin == nil)
        case .rewind: stepper.rewind()
        case .rewindAtBoundary: stepper.rewind(onlyAtBoundary: true)
        case .whatIf(let layer): stepper.whatIf(layer: layer)
        case .gradientCheck(let layer): stepper.gradientCheck(layer: layer)
        case .startExperiment(let name): stepper.startExperiment(named: name)
        case .measureGauge: stepper.measureGauge()
        case .advancePhase, .finishIteration, .toggleRunning, .pause, .runForward, .runBackward,
            .viewFeatureMap, .saveCheckpoint:
            break
        }
    }
}

extension ResNet {
    /// Returns the 64-bit FNV-1a hash of every state-dict entry in order: the bit patterns
    /// of the weights and batch-norm running statistics, and the batch counters. Equal
    /// checksums mean, up to hash collisions, bitwise equal models.
    public func weightsChecksum() -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        func mix(_ value: UInt64, bytes: Int) {
            for shift in stride(from: 0, to: bytes * 8, by: 8) {
                hash ^= (value >> UInt64(shift)) & 0xff
                hash &*= 0x0000_0100_0000_01b3
            }
        }
        for entry in stateEntries {
            switch entry {
            case .floats(_, let tensor):
                for index in 0..<tensor.count { mix(UInt64(tensor[index].bitPattern), bytes: 4) }
            case .counter(_, let norm):
                mix(UInt64(bitPattern: norm.batchesTracked), bytes: 8)
            }
        }
        return hash
    }
}
