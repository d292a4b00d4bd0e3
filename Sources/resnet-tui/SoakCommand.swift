import Engine
import Foundation
import Training

let soakCommand = CommandDescription(
    name: "soak",
    summary: """
        Trains without the UI for --steps iterations while random events, drawn from --seed,
        change the run: each step turns one random block's skip connection off or on with
        probability 1/20 and sets the learning rate to --lr divided by 1, 2, 4 or 8 with
        probability 1/25. Every --save-every steps it saves a checkpoint to DIR. It reads the
        resident set size (RSS) from /proc/self/statm after --warmup steps and after the last
        step, then loads every saved checkpoint into a freshly built model and compares its
        tensors with the ones saved. Exits with 1 when RSS grew by more than --max-growth
        percent, a checkpoint fails to load or differs, or the loss diverges.
        """,
    usage: "resnet-tui soak --dir DIR [--steps N] [--save-every K] [options]",
    flags: commonFlags + modelFlags + [
        FlagSpec(name: "steps", takesValue: true, help: "iterations to run (default 2000)"),
        FlagSpec(name: "save-every", takesValue: true, help: ""),
        FlagSpec(name: "dir", takesValue: true, help: ""),
        FlagSpec(name: "warmup", takesValue: true, help: ""),
        FlagSpec(name: "max-growth", takesValue: true, help: ""),
    ],
    notes: """
        Example:
          resnet-tui soak --model resnet20 --steps 5000 --save-every 250 --dir /tmp/soak
        """)

/// Returns the resident set size of this process in bytes, from the second field of
/// /proc/self/statm (resident pages) times the page size. Returns nil where that file is
/// missing, as outside Linux.
func residentBytes() -> Int? {
    guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else {
        return nil
    }
    let fields = text.split(separator: " ")
    guard fields.count > 1, let pages = Int(fields[1]) else { return nil }
    return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
}

/// Returns a 64-bit FNV-1a hash of every tensor's name, dtype, shape and bytes, in file
/// order. Two state dicts with the same hash are equal with near certainty.
func tensorChecksum(_ file: SafetensorsFile) -> UInt64 {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    func mix<Bytes: Sequence>(_ bytes: Bytes) where Bytes.Element == UInt8 {
        for byte in bytes {
            hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3
        }
    }
    for tensor in file.tensors {
        mix(tensor.name.utf8)
        mix(tensor.dtype.rawValue.utf8)
        mix(tensor.shape.map(String.init).joined(separator: ",").utf8)
        mix(tensor.bytes)
    }
    return hash
}

/// A checkpoint written during a soak run, with the checksum of the tensors saved.
private struct SavedCheckpoint {
    var path: String
    var step: Int
    var checksum: UInt64
}

func runSoak(_ parsed: ParsedArguments) throws {
    guard let directory = parsed.values["dir"] else {
        throw UsageError(description: "missing --dir DIR, the directory for the checkpoints")
    }
    let steps = try parsed.int("steps", default: 2000, range: 2...100_000_000)
    let saveEvery = try parsed.int("save-every", default: 100, range: 1...100_000_000)
    let warmup = try parsed.int(
        "warmup", default: min(max(steps / 10, saveEvery), steps - 1), range: 1...(steps - 1))
    let maxGrowth = try parsed.double("max-growth", default: 5, range: 0...1000)
    let seed = UInt64(try parsed.int("seed", default: 0, range: 0...Int.max))
    do {
        try FileManager.default.createDirectory(
            atPath: directory, withIntermediateDirectories: true)
    } catch {
        throw TrainingFailure(
            description: "failed to create --dir \(directory): \(error.localizedDescription)")
    }

    let (stepper, data) = try makeTrainingRun(parsed)
    stepper.setEvaluationSet(data.test)
    let baseRate = stepper.optimizer.learningRate
    let blockLayers = stepper.snapshot.layers.indices.filter {
        stepper.snapshot.layers[$0].kind == .block
    }
    // The events draw from their own stream, so they do not shift the data order or the
    // initial weights, which also derive from --seed.
    var events = SeededGenerator(seed: seed, stream: 0x50A4)
    var toggles = 0
    var rateChanges = 0
    var saved: [SavedCheckpoint] = []
    var warmupBytes: Int?
    var largestBytes = 0
    let start = Date()

    for step in 1...steps {
        if events.nextInt(below: 20) == 0, !blockLayers.isEmpty {
            stepper.toggleSkip(layer: blockLayers[events.nextInt(below: blockLayers.count)])
            toggles += 1
        }
        if events.nextInt(below: 25) == 0 {
            stepper.optimizer.learningRate = baseRate / Double(1 << events.nextInt(below: 4))
            rateChanges += 1
        }
        stepper.finishIteration()
        try checkSoakStep(
            stepper.snapshot, step: step, learningRate: stepper.optimizer.learningRate)

        if step % saveEvery == 0 || step == steps {
            let path = (directory as NSString).appendingPathComponent(
                "soak-step-\(step).safetensors")
            let checkpoint = stepper.model.checkpoint()
            try checkpoint.write(to: path)
            saved.append(
                SavedCheckpoint(path: path, step: step, checksum: tensorChecksum(checkpoint)))
        }
        let bytes = residentBytes() ?? 0
        largestBytes = max(largestBytes, bytes)
        if step == warmup { warmupBytes = bytes }
        if step % saveEvery == 0 || step == warmup || step == steps {
            let skipsOff = blockLayers.filter { !stepper.snapshot.layers[$0].skipEnabled }.count
            printLine(
                "step \(step)/\(steps)  loss \(format(stepper.snapshot.history.last?.loss ?? .nan, 4))"
                    + "  lr \(format(stepper.optimizer.learningRate, 5))  skips off \(skipsOff)"
                    + "  RSS \(megabytes(bytes))")
        }
    }
    let endBytes = residentBytes() ?? 0
    let seconds = Date().timeIntervalSince(start)
    printLine(
        "\(steps) steps in \(format(seconds, 1)) s: \(toggles) skip toggles, \(rateChanges) "
            + "learning-rate changes, \(saved.count) checkpoints saved")

    var failures: [String] = []
    for checkpoint in saved {
        if let problem = reloadProblem(checkpoint, batchSize: stepper.model.batchSize) {
            failures.append(problem)
        }
    }
    printLine("checkpoints: \(saved.count - failures.count) of \(saved.count) loaded and equal")

    guard let warmupBytes, warmupBytes > 0, endBytes > 0 else {
        throw TrainingFailure(description: "cannot read RSS from /proc/self/statm")
    }
    let growth = 100 * Double(endBytes - warmupBytes) / Double(warmupBytes)
    printLine(
        "RSS from /proc/self/statm: \(megabytes(warmupBytes)) after step \(warmup), "
            + "\(megabytes(endBytes)) after step \(steps) (\(format(growth, 2))%, limit "
            + "\(format(maxGrowth, 2))%), largest \(megabytes(largestBytes))")
    if steps - warmup < steps / 2 {
        printLine(
            "note: memory was compared over only the last \(steps - warmup) of \(steps) steps; "
                + "give --steps at least twice --save-every (\(saveEvery)) for a longer window")
    }
    if growth > maxGrowth {
        failures.append(
            "RSS grew by \(format(growth, 2))% from step \(warmup) to step \(steps), more than "
                + "--max-growth \(format(maxGrowth, 2))%")
    }
    guard failures.isEmpty else {
        throw TrainingFailure(description: "soak failed: " + failures.joined(separator: "; "))
    }
}

/// Throws when the step just run stopped early, on a batch with NaN or infinite values or
/// at a loss that diverged.
private func checkSoakStep(_ snapshot: SessionSnapshot, step: Int, learningRate: Double)
    throws
{
    if let invalid = snapshot.invalidInput {
        throw TrainingFailure(description: "soak failed: \(invalid) at step \(step)")
    }
    if let diverged = snapshot.divergedAtStep {
        throw TrainingFailure(
            description: "soak failed: the loss diverged at step \(diverged) (learning rate "
                + "\(learningRate)); lower --lr and try again")
    }
}

/// Builds a fresh model from the checkpoint's metadata, loads the checkpoint into it and
/// compares the tensors' checksum with the one taken at the save. Returns the problem, or
/// nil when the checkpoint loaded and matched.
private func reloadProblem(_ checkpoint: SavedCheckpoint, batchSize: Int) -> String? {
    do {
        let file = try SafetensorsFile.read(path: checkpoint.path)
        guard
            let config = try ResNetConfig.fromCheckpoint(
                metadata: file.metadata, path: checkpoint.path)
        else {
            return "\(checkpoint.path) has no model in its metadata"
        }
        let model = ResNet(config: config, batchSize: batchSize)
        try model.load(file, path: checkpoint.path)
        let checksum = tensorChecksum(model.checkpoint())
        guard checksum == checkpoint.checksum else {
            return "\(checkpoint.path): the loaded tensors differ from the ones saved at step "
                + "\(checkpoint.step)"
        }
        return nil
    } catch {
        return "\(error)"
    }
}

private func megabytes(_ bytes: Int) -> String {
    String(format: "%.1f MB", Double(bytes) / 1e6)
}
