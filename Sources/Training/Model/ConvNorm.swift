import Engine

/// A convolution followed by batch norm, the unit every ResNet layer is made of. Without
/// batch norm the convolution gets a bias instead, so the unit computes W*x + b.
///
/// Layout is NCHW. The unit owns the tensors its forward pass keeps for the backward pass.
final class ConvNorm: @unchecked Sendable {
    let kernel: Conv2dKernel
    /// [outChannels, inChannels, k, k]
    let weight: Parameter
    /// [outChannels], present only without batch norm.
    let bias: Parameter?
    let norm: BatchNormState?
    /// Convolution output [N, outChannels, outH, outW]; the batch-norm input.
    let convOutput: Tensor
    /// The unit's output [N, outChannels, outH, outW]: batch-norm output, or `convOutput`
    /// itself without batch norm.
    let output: Tensor
    /// dL/d(convOutput), scratch for the backward pass.
    private let gradConvOutput: Tensor

    init(
        prefix: String, normName: String, geometry: ConvGeometry, batchNorm: Bool
    ) {
        kernel = Conv2dKernel(geometry: geometry)
        let k = geometry.kernelSize
        weight = Parameter(
            name: prefix + ".weight",
            shape: [geometry.outChannels, geometry.inChannels, k, k])
        let outShape = [geometry.batch, geometry.outChannels, geometry.outHeight, geometry.outWidth]
        convOutput = Tensor(shape: outShape)
        if batchNorm {
            bias = nil
            norm = BatchNormState(prefix: normName, channels: geometry.outChannels)
            output = Tensor(shape: outShape)
            gradConvOutput = Tensor(shape: outShape)
        } else {
            bias = Parameter(name: prefix + ".bias", shape: [geometry.outChannels])
            norm = nil
            output = convOutput
            gradConvOutput = Tensor(shape: [0])
        }
    }

    /// The unit's entries of torchvision's `state_dict()`, in its order: the convolution's
    /// weight (and bias), then batch norm's weight, bias, running_mean, running_var and
    /// num_batches_tracked.
    var stateEntries: [StateEntry] {
        var entries: [StateEntry] = [.floats(name: weight.name, tensor: weight.value)]
        if let bias { entries.append(.floats(name: bias.name, tensor: bias.value)) }
        if let norm {
            entries += [
                .floats(name: norm.gamma.name, tensor: norm.gamma.value),
                .floats(name: norm.beta.name, tensor: norm.beta.value),
                .floats(name: norm.name + ".running_mean", tensor: norm.runningMean),
                .floats(name: norm.name + ".running_var", tensor: norm.runningVar),
                .counter(name: norm.name + ".num_batches_tracked", norm: norm),
            ]
        }
        return entries
    }

    var parameters: [Parameter] {
        [weight] + (bias.map { [$0] } ?? []) + (norm.map { [$0.gamma, $0.beta] } ?? [])
    }

    var parameterCount: Int { parameters.reduce(0) { $0 + $1.value.count } }

    func initialize<G: RandomNumberGenerator>(using generator: inout G) {
        fillKaimingNormalFanOut(weight.value, using: &generator)
        if let bias {
            // torchvision leaves conv biases out of ResNet; with --no-bn they start at zero.
            bias.value.fill(0)
        }
        norm?.reset()
    }

    func forward(input: Tensor, training: Bool, pool: ThreadPool) {
        kernel.forward(
            output: convOutput, input: input, weight: weight.value, bias: bias?.value, pool: pool)
        guard let norm else { return }
        if training {
            BatchNorm.forwardTraining(
                output: output, input: convOutput, gamma: norm.gamma.value,
                beta: norm.beta.value, runningMean: norm.runningMean,
                runningVar: norm.runningVar, savedMean: norm.savedMean,
                savedInvStd: norm.savedInvStd, momentum: BatchNormState.momentum,
                eps: BatchNormState.eps, pool: pool)
            norm.batchesTracked += 1
        } else {
            BatchNorm.forwardInference(
                output: output, input: convOutput, gamma: norm.gamma.value,
                beta: norm.beta.value, runningMean: norm.runningMean,
                runningVar: norm.runningVar, eps: BatchNormState.eps, pool: pool)
        }
    }

    /// Writes dL/dinput into `gradInput` (skipped when nil) and the parameter gradients,
    /// given dL/doutput; `input` is the tensor the forward pass read.
    func backward(gradInput: Tensor?, gradOutput: Tensor, input: Tensor, pool: ThreadPool) {
        var gradConv = gradOutput
        if let norm {
            BatchNorm.backward(
                gradInput: gradConvOutput, gradGamma: norm.gamma.gradient,
                gradBeta: norm.beta.gradient, gradOutput: gradOutput, input: convOutput,
                gamma: norm.gamma.value, savedMean: norm.savedMean,
                savedInvStd: norm.savedInvStd, pool: pool)
            gradConv = gradConvOutput
        }
        kernel.backward(
            gradInput: gradInput, gradWeight: weight.gradient, gradBias: bias?.gradient,
            gradOutput: gradConv, input: input, weight: weight.value, pool: pool)
    }
}

/// One entry of a model's state dict, named as in torchvision.
public enum StateEntry {
    /// A Float32 parameter or buffer; loading copies into `tensor`.
    case floats(name: String, tensor: Tensor)
    /// A batch norm's `num_batches_tracked`, a 0-dim Int64 in PyTorch.
    case counter(name: String, norm: BatchNormState)

    public var name: String {
        switch self {
        case .floats(let name, _), .counter(let name, _): return name
        }
    }
}

/// Batch-norm parameters and statistics with PyTorch's `BatchNorm2d` defaults.
public final class BatchNormState: @unchecked Sendable {
    /// PyTorch's default: running = (1 - momentum) * running + momentum * batch statistic.
    static let momentum: Float = 0.1
    static let eps: Float = 1e-5

    let gamma: Parameter
    let beta: Parameter
    let runningMean: Tensor
    /// Running estimate of the unbiased variance, as PyTorch keeps it.
    let runningVar: Tensor
    /// Mean and 1/sqrt(var + eps) of the last training batch, per channel, for backward.
    let savedMean: Tensor
    let savedInvStd: Tensor
    /// PyTorch's `num_batches_tracked`; stored in checkpoints, unused by the update rule.
    public var batchesTracked: Int64 = 0
    /// Prefix of the state-dict names, such as `layer1.0.bn1`.
    public let name: String

    init(prefix: String, channels: Int) {
        name = prefix
        gamma = Parameter(name: prefix + ".weight", shape: [channels])
        beta = Parameter(name: prefix + ".bias", shape: [channels])
        runningMean = Tensor(shape: [channels])
        runningVar = Tensor(shape: [channels])
        savedMean = Tensor(shape: [channels])
        savedInvStd = Tensor(shape: [channels])
        reset()
    }

    func reset() {
        gamma.value.fill(1)
        beta.value.fill(0)
        runningMean.fill(0)
        runningVar.fill(1)
        batchesTracked = 0
    }
}
