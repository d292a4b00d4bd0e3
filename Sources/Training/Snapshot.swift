/// What the session publishes after every phase: an immutable value that the UI and the
/// headless commands read without locks, while the session thread goes on computing.

/// The kind of a layer in the stepper's list.
public enum LayerKind: String, Sendable {
    case stem
    case block
    case pool
    case fc
}

/// A layer of the network as the UI lists it.
public struct LayerInfo: Sendable, Equatable {
    /// torchvision-style name: `conv1`, `layer1.0`, `avgpool`, `fc`.
    public var name: String
    public var kind: LayerKind
    /// Output shape of one sample: channels, height, width (height and width are 1 for fc).
    public var outputShape: [Int]
    public var parameterCount: Int
    /// Whether the skip connection is on; always false for layers that are not blocks.
    public var skipEnabled: Bool
    /// Whether the skip is a 1x1 convolution with batch norm instead of the identity.
    public var hasProjection: Bool
    /// Convolutions in a block's residual branch: 2 in a basic block, 3 in a bottleneck
    /// block, 0 for layers that are not blocks.
    public var residualConvolutions = 0

    public init(
        name: String, kind: LayerKind, outputShape: [Int], parameterCount: Int,
        skipEnabled: Bool, hasProjection: Bool
    ) {
        self.name = name
        self.kind = kind
        self.outputShape = outputShape
        self.parameterCount = parameterCount
        self.skipEnabled = skipEnabled
        self.hasProjection = hasProjection
    }
}

/// Statistics of a layer's output over the whole batch.
public struct ActivationStats: Sendable, Equatable {
    public var mean: Double
    public var std: Double
    public var min: Double
    public var max: Double
    /// Fraction of elements exactly equal to zero (dead ReLU outputs).
    public var zeroFraction: Double
    /// Counts of values in `histogramBins` equal-width bins from `min` to `max`.
    public var histogram: [Int]

    public static let histogramBins = 32

    public init(
        mean: Double, std: Double, min: Double, max: Double, zeroFraction: Double,
        histogram: [Int]
    ) {
        self.mean = mean
        self.std = std
        self.min = min
        self.max = max
        self.zeroFraction = zeroFraction
        self.histogram = histogram
    }
}

/// The gradient that reaches a layer's input in the backward pass.
///
/// For a block O = relu(F(x) + S(x)) with g = dL/dO * relu'(F(x) + S(x)), the input gradient
/// is S^T(g) + F^T(g). `skip` is the norm of the first term, `residual` of the second and
/// `input` of their sum. With the skip off, `skip` is zero. For layers that are not blocks
/// only `input` and `weight` are set.
public struct GradientFlow: Sendable, Equatable {
    public var skip: Double
    public var residual: Double
    public var input: Double
    /// Cosine between the skip and the residual terms, 0 when either is zero.
    public var cosine: Double
    /// Norm of the gradient of all the layer's weights together.
    public var weight: Double
    /// Whether the block's skip was on when this gradient was computed. A toggle shows in
    /// `LayerInfo.skipEnabled` at once but changes the computation only from the next
    /// iteration, so views label these numbers with this value.
    public var skipActive = true
    /// Norm of the layer's last SGD step over the norm of its weights, set by the update
    /// phase, or nil before it and for a layer without weights. A common rule of thumb puts
    /// healthy training near 1e-3, and far above it the step is too large.
    public var updateRatio: Double?

    public init(skip: Double, residual: Double, input: Double, cosine: Double, weight: Double) {
        self.skip = skip
        self.residual = residual
        self.input = input
        self.cosine = cosine
        self.weight = weight
    }
}

/// One step of a training iteration.
public enum Phase: Sendable, Equatable {
    case loadBatch
    case forward(layer: Int)
    case loss
    case backward(layer: Int)
    case update

    /// The layer this phase computes, if it computes one.
    public var layer: Int? {
        switch self {
        case .forward(let layer), .backward(let layer): return layer
        default: return nil
        }
    }
}

/// One finished training iteration.
public struct StepRecord: Sendable, Equatable {
    public var iteration: Int
    public var loss: Double
    /// Fraction of the batch classified correctly, from 0 to 1.
    public var accuracy: Double

    public init(iteration: Int, loss: Double, accuracy: Double) {
        self.iteration = iteration
        self.loss = loss
        self.accuracy = accuracy
    }
}

/// A feature map of one sample and channel of a layer's output, for the heat map.
public struct FeatureMap: Sendable, Equatable {
    public var layer: Int
    public var sample: Int
    public var channel: Int
    public var height: Int
    public var width: Int
    /// Row-major values, `height * width` of them.
    public var values: [Float]

    public init(layer: Int, sample: Int, channel: Int, height: Int, width: Int, values: [Float]) {
        self.layer = layer
        self.sample = sample
        self.channel = channel
        self.height = height
        self.width = width
        self.values = values
    }
}

/// The second model of compare mode: a copy started from the same weights and fed the same
/// batches, with every block's skip the opposite of the first model's at the start.
public struct ComparisonSnapshot: Sendable, Equatable {
    /// Per layer, the skip setting of the copy.
    public var skipEnabled: [Bool]
    public var gradients: [GradientFlow?]
    public var history: [StepRecord]
    public var currentLoss: Double?
    /// A short name for the copy, such as "skips off".
    public var label: String

    public init(
        skipEnabled: [Bool], gradients: [GradientFlow?], history: [StepRecord],
        currentLoss: Double?, label: String
    ) {
        self.skipEnabled = skipEnabled
        self.gradients = gradients
        self.history = history
        self.currentLoss = currentLoss
        self.label = label
    }
}

/// A what-if recomputation: the current iteration run again with one block's skip flipped,
/// leaving weights, optimizer state, batch-norm statistics and the data order untouched.
public struct WhatIfSnapshot: Sendable, Equatable {
    /// The block whose skip was flipped.
    public var layer: Int
    /// The skip setting the recomputation used for that block.
    public var skipEnabled: Bool
    public var gradients: [GradientFlow?]
    public var loss: Double

    public init(layer: Int, skipEnabled: Bool, gradients: [GradientFlow?], loss: Double) {
        self.layer = layer
        self.skipEnabled = skipEnabled
        self.gradients = gradients
        self.loss = loss
    }
}

/// The session's state after a phase.
public struct SessionSnapshot: Sendable {
    public var modelName: String
    public var datasetName: String
    public var batchSize: Int
    public var learningRate: Double
    public var threads: Int
    public var layers: [LayerInfo]
    /// Every phase of one iteration, in order.
    public var phases: [Phase]
    /// Index into `phases` of the next phase to run; 0 at an iteration boundary.
    public var nextPhase: Int
    /// Iterations finished so far.
    public var iteration: Int
    public var epoch: Int
    /// Per layer, the statistics of its output in the current iteration, or nil before its
    /// forward phase has run.
    public var activations: [ActivationStats?]
    /// Per layer, the gradient reaching its input in the current iteration, or nil before its
    /// backward phase has run.
    public var gradients: [GradientFlow?]
    /// Loss of the current iteration once the loss phase has run.
    public var currentLoss: Double?
    public var history: [StepRecord]
    public var isRunning: Bool
    /// Wall time of the last full iteration, in milliseconds.
    public var stepMilliseconds: Double
    public var imagesPerSecond: Double
    /// A message for the status line, such as an error or a divergence warning.
    public var message: String?
    /// The step whose loss became NaN or infinite, until the weights are reset.
    public var divergedAtStep: Int?
    /// The NaN and infinite values of the last batch loaded, or nil when it was finite.
    /// Such a batch ends its iteration before the forward pass.
    public var invalidInput: NonFiniteValues?
    /// The sample of the batch and the channel that `featureMaps` and `inputMap` show, as
    /// requested; each map records what it could take.
    public var featureSample: Int
    public var featureChannel: Int
    /// Per layer, one channel of one sample of its output in the current iteration, or nil
    /// before its forward phase has run.
    public var featureMaps: [FeatureMap?]
    /// The same channel and sample of the current batch's input images (layer -1).
    public var inputMap: FeatureMap?
    /// Channels, height and width of one input image.
    public var inputShape: [Int] = []
    /// The second model while compare mode is on, else nil.
    public var comparison: ComparisonSnapshot?
    /// The last what-if recomputation of the current iteration, cleared when the next
    /// iteration starts.
    public var whatIf: WhatIfSnapshot?
    /// Accuracy on the held-out sample of the test split at the last evaluation, and the
    /// iteration it was measured after; nil before the first.
    public var testAccuracy: (accuracy: Double, iteration: Int, count: Int)?
    /// Every block against the iterations so far, with the alarms of the
    /// latest iteration; nil for a snapshot not made by a stepper.
    public var depthStrip: DepthTimeStrip?
    /// Iterations that `u` can go back, and the memory the saved states take.
    public var rewind = RewindStatus()
    /// The near-identity gauge of every block from the last `d`, or nil.
    public var gauge: GaugeSnapshot?
    /// The guided experiment in progress, or nil.
    public var experiment: LiveExperiment?
    /// Per layer, the tensors its formulas name, with shapes and norms: the forward terms
    /// after its forward phase, then the backward terms after its backward phase. Empty
    /// before the layer's forward phase in the current iteration.
    public var formulaTerms: [[FormulaTerm]] = []
    /// The loss formulas' tensors after the loss phase of the current iteration, else empty.
    public var lossTerms: [FormulaTerm] = []

    public init(
        modelName: String, datasetName: String, batchSize: Int, learningRate: Double,
        threads: Int, layers: [LayerInfo], phases: [Phase]
    ) {
        self.modelName = modelName
        self.datasetName = datasetName
        self.batchSize = batchSize
        self.learningRate = learningRate
        self.threads = threads
        self.layers = layers
        self.phases = phases
        self.nextPhase = 0
        self.iteration = 0
        self.epoch = 0
        self.activations = Array(repeating: nil, count: layers.count)
        self.gradients = Array(repeating: nil, count: layers.count)
        self.currentLoss = nil
        self.history = []
        self.isRunning = false
        self.stepMilliseconds = 0
        self.imagesPerSecond = 0
        self.message = nil
        self.divergedAtStep = nil
        self.featureSample = 0
        self.featureChannel = 0
        self.featureMaps = Array(repeating: nil, count: layers.count)
        self.inputMap = nil
    }

    /// The phase that ran last, or nil at an iteration boundary.
    public var lastPhase: Phase? { nextPhase > 0 ? phases[nextPhase - 1] : nil }
}

/// Requests the UI sends to a session; each is applied between two phases.
public enum SessionCommand: Sendable, Equatable {
    /// Runs the next phase.
    case advancePhase
    /// Runs the remaining phases of the current iteration.
    case finishIteration
    /// Starts continuous training, or pauses it if it is running.
    case toggleRunning
    case pause
    /// Turns the skip connection of the block at this layer index on or off.
    case toggleSkip(layer: Int)
    /// Turns every skip off if any is on, otherwise turns every skip on.
    case toggleAllSkips
    /// Runs phases until the loss is computed.
    case runForward
    /// Runs phases until the gradient reaches the input, leaving the update to run next.
    case runBackward
    /// Multiplies the learning rate by the factor.
    case scaleLearningRate(Double)
    /// Draws the initial weights again from the seed and clears the history.
    case resetWeights
    /// Chooses the sample of the batch and the channel that the feature maps show.
    case viewFeatureMap(sample: Int, channel: Int)
    /// Turns compare mode on or off.
    case toggleCompare
    /// Saves the model's checkpoint.
    case saveCheckpoint
    /// Checks the gradients of this layer's parameters against finite differences.
    case gradientCheck(layer: Int)
    /// Recomputes the current iteration with this block's skip flipped, for display only.
    case whatIf(layer: Int)
    /// Goes back to the saved state at the start of the last or the current iteration.
    case rewind
    /// Measures the near-identity gauge of every block on the current batch.
    case measureGauge
    /// Starts the built-in experiment of this name beside the current model.
    case startExperiment(name: String)
}

/// A running session as the UI sees it.
public protocol SessionControl: AnyObject, Sendable {
    func send(_ command: SessionCommand)
    /// The latest published snapshot; reading it never waits for a phase to finish.
    var snapshot: SessionSnapshot { get }
}
