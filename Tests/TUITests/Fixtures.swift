import TUI
import Training

/// Hand-made snapshots of a resnet8-like network on CIFAR-10: conv1, three blocks, the
/// pooling layer and fc.
enum Fixtures {
    static let layers: [LayerInfo] = [
        LayerInfo(
            name: "conv1", kind: .stem, outputShape: [16, 32, 32], parameterCount: 464,
            skipEnabled: false, hasProjection: false),
        LayerInfo(
            name: "layer1.0", kind: .block, outputShape: [16, 32, 32], parameterCount: 4672,
            skipEnabled: false, hasProjection: false),
        LayerInfo(
            name: "layer2.0", kind: .block, outputShape: [32, 16, 16], parameterCount: 14_208,
            skipEnabled: true, hasProjection: true),
        LayerInfo(
            name: "layer3.0", kind: .block, outputShape: [64, 8, 8], parameterCount: 56_064,
            skipEnabled: true, hasProjection: true),
        LayerInfo(
            name: "avgpool", kind: .pool, outputShape: [64, 1, 1], parameterCount: 0,
            skipEnabled: false, hasProjection: false),
        LayerInfo(
            name: "fc", kind: .fc, outputShape: [10, 1, 1], parameterCount: 650,
            skipEnabled: false, hasProjection: false),
    ]

    /// load batch, forward 0...5, loss, backward 5...0, update.
    static func phases(layerCount: Int) -> [Phase] {
        [.loadBatch] + (0..<layerCount).map { Phase.forward(layer: $0) } + [.loss]
            + (0..<layerCount).reversed().map { Phase.backward(layer: $0) } + [.update]
    }

    /// Index into `phases` of the phase after `phase`.
    static func nextPhase(after phase: Phase, layerCount: Int) -> Int {
        phases(layerCount: layerCount).firstIndex(of: phase)! + 1
    }

    static func base(layers: [LayerInfo] = layers) -> SessionSnapshot {
        var snapshot = SessionSnapshot(
            modelName: "resnet8", datasetName: "cifar10", batchSize: 128, learningRate: 0.1,
            threads: 2, layers: layers, phases: phases(layerCount: layers.count))
        snapshot.iteration = 20
        snapshot.epoch = 0
        snapshot.stepMilliseconds = 85.3
        snapshot.imagesPerSecond = 1500.6
        snapshot.history = (1...20).map { iteration in
            StepRecord(
                iteration: iteration, loss: 2.3 - 0.05 * Double(iteration),
                accuracy: 0.1 + 0.01 * Double(iteration))
        }
        return snapshot
    }

    static func activation(mean: Double) -> ActivationStats {
        var histogram = Array(repeating: 0, count: ActivationStats.histogramBins)
        for bin in 0..<histogram.count { histogram[bin] = 100 - 3 * bin }
        return ActivationStats(
            mean: mean, std: 0.456, min: 0, max: 3.2, zeroFraction: 0.45, histogram: histogram)
    }

    /// Mid-backward: the backward pass of layer1.0 (whose skip is off) has just run, so
    /// every layer has activations and fc down to layer1.0 have gradients.
    static func backwardThroughLayer1() -> SessionSnapshot {
        var snapshot = base()
        snapshot.nextPhase = nextPhase(after: .backward(layer: 1), layerCount: layers.count)
        snapshot.currentLoss = 1.234
        snapshot.activations = (0..<layers.count).map { activation(mean: 0.1 * Double($0 + 1)) }
        snapshot.gradients[5] = GradientFlow(
            skip: 0, residual: 0, input: 0.5, cosine: 0, weight: 0.3)
        snapshot.gradients[4] = GradientFlow(
            skip: 0, residual: 0, input: 0.05, cosine: 0, weight: 0)
        snapshot.gradients[3] = GradientFlow(
            skip: 0.0123, residual: 0.00345, input: 0.013, cosine: 0.2, weight: 0.08)
        snapshot.gradients[2] = GradientFlow(
            skip: 0.00678, residual: 0.000901, input: 0.007, cosine: 0.1, weight: 0.04)
        snapshot.gradients[1] = GradientFlow(
            skip: 0, residual: 0.000256, input: 0.000256, cosine: 0, weight: 0.02)
        // layer1.0 ran with its skip off.
        snapshot.gradients[1]?.skipActive = false
        return snapshot
    }

    /// Mid-forward: the forward pass of layer2.0 has just run.
    static func forwardThroughLayer2() -> SessionSnapshot {
        var snapshot = base()
        snapshot.nextPhase = nextPhase(after: .forward(layer: 2), layerCount: layers.count)
        snapshot.isRunning = true
        for layer in 0...2 {
            snapshot.activations[layer] = activation(mean: 0.5)
        }
        return snapshot
    }

    /// A resnet20-like list: conv1, nine blocks, avgpool, fc.
    static let deepLayers: [LayerInfo] = {
        var list = [layers[0]]
        for stage in 1...3 {
            for block in 0..<3 {
                list.append(
                    LayerInfo(
                        name: "layer\(stage).\(block)", kind: .block,
                        outputShape: [16 << (stage - 1), 32 >> (stage - 1), 32 >> (stage - 1)],
                        parameterCount: 4672, skipEnabled: true,
                        hasProjection: stage > 1 && block == 0))
            }
        }
        return list + [layers[4], layers[5]]
    }()
}

/// A session that records the commands it receives and returns a fixed snapshot.
final class RecordingSession: SessionControl {
    private let state: Locked<(snapshot: SessionSnapshot, commands: [SessionCommand])>

    init(snapshot: SessionSnapshot) {
        state = Locked((snapshot, []))
    }

    func send(_ command: SessionCommand) {
        state.withLock { $0.commands.append(command) }
    }

    var snapshot: SessionSnapshot { state.withLock { $0.snapshot } }
    var commands: [SessionCommand] { state.withLock { $0.commands } }
}

/// Returns the first screen line that contains `text`, or nil.
func line(containing text: String, in lines: [String]) -> String? {
    lines.first { $0.contains(text) }
}

/// Joins the lines with newlines, for failure messages that show the whole screen.
func screenText(_ lines: [String]) -> String {
    "\n" + lines.joined(separator: "\n")
}

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Returns whether both standard input and standard output are terminals.
func standardStreamsAreTerminals() -> Bool {
    isatty(STDIN_FILENO) != 0 && isatty(STDOUT_FILENO) != 0
}
