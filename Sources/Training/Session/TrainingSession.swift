import Foundation
import Synchronization

/// A stepper on its own thread. The UI sends commands and reads the latest snapshot; a
/// command is applied between two phases, and reading the snapshot never waits for one.
public final class TrainingSession: SessionControl, @unchecked Sendable {
    private let stepper: Stepper
    private let published: Locked<SessionSnapshot>
    private let inbox = Locked<[SessionCommand]>([])
    private let wake = DispatchSemaphore(value: 0)
    private let stopped = Atomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)

    /// Recorder that writes every state-changing command to a session file, when set
    /// before `start()`.
    public var recorder: SessionRecorder?

    public init(stepper: Stepper) {
        self.stepper = stepper
        published = Locked(stepper.snapshot)
        // Long work inside one command, such as an iteration of a large model or a test
        // evaluation, shows its phases and messages as it goes.
        stepper.progressHandler = { [weak self] in self?.publish() }
    }

    public var snapshot: SessionSnapshot { published.withLock { $0 } }

    public func send(_ command: SessionCommand) {
        inbox.withLock { $0.append(command) }
        wake.signal()
    }

    public func start() {
        let thread = Thread { [self] in
            loop()
            finished.signal()
        }
        thread.name = "training"
        thread.stackSize = 8 << 20
        thread.start()
    }

    /// Stops the training thread after its current phase and waits for it.
    public func stop() {
        stopped.store(true, ordering: .sequentiallyConsistent)
        wake.signal()
        finished.wait()
        recorder?.finish(stepper: stepper)
        recorder = nil
    }

    private func publish() {
        let snapshot = stepper.snapshot
        published.withLock { $0 = snapshot }
    }

    private func loop() {
        while !stopped.load(ordering: .sequentiallyConsistent) {
            let commands = inbox.withLock { pending in
                defer { pending.removeAll() }
                return pending
            }
            for command in commands {
                recorder?.record(command, stepper: stepper)
                apply(command)
                publish()
            }
            if stepper.snapshot.isRunning {
                stepper.advance()
                // While running, one snapshot per iteration keeps the copying small; the
                // loss phase also publishes so a divergence message shows at once.
                if stepper.atIterationBoundary || !stepper.snapshot.isRunning { publish() }
            } else if commands.isEmpty {
                _ = wake.wait(timeout: .now() + .milliseconds(200))
            }
        }
    }

    private func apply(_ command: SessionCommand) {
        switch command {
        case .advancePhase:
            stepper.setRunning(false)
            stepper.advance()
        case .finishIteration:
            stepper.setRunning(false)
            stepper.finishIteration()
        case .toggleRunning:
            stepper.setRunning(!stepper.snapshot.isRunning)
        case .pause:
            stepper.setRunning(false)
        case .toggleSkip(let layer):
            stepper.toggleSkip(layer: layer)
        case .toggleAllSkips:
            stepper.toggleAllSkips()
        case .runForward:
            stepper.setRunning(false)
            stepper.runForward()
        case .runBackward:
            stepper.setRunning(false)
            stepper.runBackward()
        case .scaleLearningRate(let factor):
            stepper.scaleLearningRate(by: factor)
        case .resetWeights:
            stepper.resetWeights()
        case .whatIf(let layer):
            stepper.setRunning(false)
            stepper.whatIf(layer: layer)
        case .gradientCheck(let layer):
            stepper.setRunning(false)
            stepper.gradientCheck(layer: layer)
        case .rewind:
            stepper.setRunning(false)
            stepper.rewind()
        case .rewindAtBoundary:
            stepper.setRunning(false)
            stepper.rewind(onlyAtBoundary: true)
        case .saveCheckpoint:
            stepper.saveCheckpoint()
        case .measureGauge:
            stepper.setRunning(false)
            stepper.measureGauge()
        case .startExperiment(let name):
            stepper.setRunning(false)
            stepper.startExperiment(named: name)
        case .toggleCompare:
            stepper.setRunning(false)
            stepper.setComparing(stepper.twin == nil)
        case .viewFeatureMap(let sample, let channel):
            stepper.viewFeatureMap(sample: sample, channel: channel)
        }
    }
}
