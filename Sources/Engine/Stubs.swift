// Placeholder signatures: the engine helper replaces this file with one file per layer family.
public final class ThreadPool: @unchecked Sendable {
    public let threadCount: Int
    public init(threads: Int) { threadCount = threads; fatalError("todo") }
    /// Splits 0..<count into contiguous ranges, one per worker, and runs body on each.
    public func parallelFor(_ count: Int, _ body: (Range<Int>) -> Void) { fatalError("todo") }
}

public struct ConvGeometry: Equatable, Sendable {
    public var batch: Int
    public var inChannels: Int
    public var outChannels: Int
    public var inHeight: Int
    public var inWidth: Int
    public var kernelSize: Int
    public var stride: Int
    public var padding: Int
    public init(batch: Int, inChannels: Int, outChannels: Int, inHeight: Int, inWidth: Int,
                kernelSize: Int, stride: Int, padding: Int) {
        self.batch = batch; self.inChannels = inChannels; self.outChannels = outChannels
        self.inHeight = inHeight; self.inWidth = inWidth; self.kernelSize = kernelSize
        self.stride = stride; self.padding = padding
    }
    public var outHeight: Int { (inHeight + 2 * padding - kernelSize) / stride + 1 }
    public var outWidth: Int { (inWidth + 2 * padding - kernelSize) / stride + 1 }
}

public final class Conv2dKernel: @unchecked Sendable {
    public let geometry: ConvGeometry
    public init(geometry: ConvGeometry) { self.geometry = geometry }
    public func forward(output: Tensor, input: Tensor, weight: Tensor, bias: Tensor?, pool: ThreadPool) { fatalError("todo") }
    public func backward(gradInput: Tensor?, gradWeight: Tensor, gradBias: Tensor?, gradOutput: Tensor,
                         input: Tensor, weight: Tensor, pool: ThreadPool) { fatalError("todo") }
}

public enum BatchNorm {
    public static func forwardTraining(output: Tensor, input: Tensor, gamma: Tensor, beta: Tensor,
        runningMean: Tensor, runningVar: Tensor, savedMean: Tensor, savedInvStd: Tensor,
        momentum: Float, eps: Float, pool: ThreadPool) { fatalError("todo") }
    public static func forwardInference(output: Tensor, input: Tensor, gamma: Tensor, beta: Tensor,
        runningMean: Tensor, runningVar: Tensor, eps: Float, pool: ThreadPool) { fatalError("todo") }
    public static func backward(gradInput: Tensor, gradGamma: Tensor, gradBeta: Tensor, gradOutput: Tensor,
        input: Tensor, gamma: Tensor, savedMean: Tensor, savedInvStd: Tensor, pool: ThreadPool) { fatalError("todo") }
}

public enum ReLU {
    public static func forward(output: Tensor, input: Tensor, pool: ThreadPool) { fatalError("todo") }
    public static func backward(gradInput: Tensor, gradOutput: Tensor, output: Tensor, pool: ThreadPool) { fatalError("todo") }
}

public enum Elementwise {
    public static func add(output: Tensor, _ a: Tensor, _ b: Tensor, pool: ThreadPool) { fatalError("todo") }
}

public enum GlobalAvgPool {
    public static func forward(output: Tensor, input: Tensor, pool: ThreadPool) { fatalError("todo") }
    public static func backward(gradInput: Tensor, gradOutput: Tensor, pool: ThreadPool) { fatalError("todo") }
}

public enum Linear {
    public static func forward(output: Tensor, input: Tensor, weight: Tensor, bias: Tensor?, pool: ThreadPool) { fatalError("todo") }
    public static func backward(gradInput: Tensor?, gradWeight: Tensor, gradBias: Tensor?, gradOutput: Tensor,
        input: Tensor, weight: Tensor, pool: ThreadPool) { fatalError("todo") }
}

public enum SoftmaxCrossEntropy {
    public static func forward(probabilities: Tensor, logits: Tensor, labels: [Int32]) -> (loss: Double, correct: Int) { fatalError("todo") }
    public static func backward(gradLogits: Tensor, probabilities: Tensor, labels: [Int32]) { fatalError("todo") }
}

public enum SGD {
    public static func step(parameter: Tensor, gradient: Tensor, momentumBuffer: Tensor,
        learningRate: Float, momentum: Float, weightDecay: Float, pool: ThreadPool) { fatalError("todo") }
}
