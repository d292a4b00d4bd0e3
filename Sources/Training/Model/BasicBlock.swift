import Engine

/// The basic residual block of He et al. 2015: O = relu(F(x) + S(x)) with
/// F(x) = bn2(conv2(relu(bn1(conv1(x))))), both convolutions 3x3, and S the identity, or a
/// 1x1 convolution with batch norm (torchvision's `downsample`) when the stride or the
/// channel count changes. With the skip off the block computes O = relu(F(x)).
///
/// Layout is NCHW; x is [N, inChannels, H, W] and O is [N, outChannels, H/stride, W/stride].
public final class BasicBlock: @unchecked Sendable {
    public let name: String
    let conv1: ConvNorm
    let conv2: ConvNorm
    /// The projection shortcut, or nil for the identity.
    let downsample: ConvNorm?
    public var skipEnabled = true

    /// relu(bn1(conv1(x))), the input of conv2.
    private let hidden: Tensor
    /// The block's output O [N, outChannels, outH, outW].
    public let output: Tensor

    /// g = dL/dO * relu'(F(x) + S(x)), or relu'(F(x)) with the skip off.
    private let gradPreActivation: Tensor
    /// dL/d(hidden), then overwritten in place by its product with the ReLU mask.
    private let gradHidden: Tensor
    private let gradHiddenMasked: Tensor
    /// S^T(g) [N, inChannels, H, W]: the part of dL/dx that comes through the skip path.
    public let gradSkip: Tensor
    /// F^T(g) [N, inChannels, H, W]: the part of dL/dx that comes through the residual path.
    public let gradResidual: Tensor
    /// dL/dx = gradSkip + gradResidual.
    public let gradInput: Tensor

    public init(
        name: String, batch: Int, inChannels: Int, outChannels: Int, height: Int, width: Int,
        stride: Int, batchNorm: Bool
    ) {
        self.name = name
        let geometry1 = ConvGeometry(
            batch: batch, inChannels: inChannels, outChannels: outChannels, inHeight: height,
            inWidth: width, kernelSize: 3, stride: stride, padding: 1)
        conv1 = ConvNorm(
            prefix: name + ".conv1", normName: name + ".bn1", geometry: geometry1,
            batchNorm: batchNorm)
        let geometry2 = ConvGeometry(
            batch: batch, inChannels: outChannels, outChannels: outChannels,
            inHeight: geometry1.outHeight, inWidth: geometry1.outWidth, kernelSize: 3, stride: 1,
            padding: 1)
        conv2 = ConvNorm(
            prefix: name + ".conv2", normName: name + ".bn2", geometry: geometry2,
            batchNorm: batchNorm)
        if stride != 1 || inChannels != outChannels {
            let projection = ConvGeometry(
                batch: batch, inChannels: inChannels, outChannels: outChannels, inHeight: height,
                inWidth: width, kernelSize: 1, stride: stride, padding: 0)
            downsample = ConvNorm(
                prefix: name + ".downsample.0", normName: name + ".downsample.1",
                geometry: projection, batchNorm: batchNorm)
        } else {
            downsample = nil
        }
        let outShape = [batch, outChannels, geometry1.outHeight, geometry1.outWidth]
        let inShape = [batch, inChannels, height, width]
        hidden = Tensor(shape: outShape)
        output = Tensor(shape: outShape)
        gradPreActivation = Tensor(shape: outShape)
        gradHidden = Tensor(shape: outShape)
        gradHiddenMasked = Tensor(shape: outShape)
        gradSkip = Tensor(shape: inShape)
        gradResidual = Tensor(shape: inShape)
        gradInput = Tensor(shape: inShape)
    }

    var units: [ConvNorm] { [conv1, conv2] + (downsample.map { [$0] } ?? []) }

    public var parameters: [Parameter] { units.flatMap(\.parameters) }

    /// Draws Kaiming-normal convolution weights and resets batch norm to weight 1, bias 0.
    public func initialize<G: RandomNumberGenerator>(using generator: inout G) {
        for unit in units { unit.initialize(using: &generator) }
    }

    /// The parameters the last backward pass reached: all but an unused projection.
    var trainableParameters: [Parameter] {
        (skipEnabled ? units : [conv1, conv2]).flatMap(\.parameters)
    }

    public func forward(input: Tensor, training: Bool, pool: ThreadPool) {
        conv1.forward(input: input, training: training, pool: pool)
        ReLU.forward(output: hidden, input: conv1.output, pool: pool)
        conv2.forward(input: hidden, training: training, pool: pool)
        if skipEnabled {
            var shortcut = input
            if let downsample {
                downsample.forward(input: input, training: training, pool: pool)
                shortcut = downsample.output
            }
            Elementwise.addReLU(output: output, conv2.output, shortcut, pool: pool)
        } else {
            ReLU.forward(output: output, input: conv2.output, pool: pool)
        }
    }

    /// Computes dL/dx split into its skip and residual parts, and every parameter gradient.
    public func backward(gradOutput: Tensor, input: Tensor, pool: ThreadPool) {
        ReLU.backward(
            gradInput: gradPreActivation, gradOutput: gradOutput, output: output, pool: pool)

        // Residual path: F^T(g).
        conv2.backward(
            gradInput: gradHidden, gradOutput: gradPreActivation, input: hidden, pool: pool)
        ReLU.backward(gradInput: gradHiddenMasked, gradOutput: gradHidden, output: hidden, pool: pool)
        conv1.backward(
            gradInput: gradResidual, gradOutput: gradHiddenMasked, input: input, pool: pool)

        // Skip path: S^T(g). An unused projection's gradients are zeroed for display, but
        // `trainableParameters` leaves it out of the update, as PyTorch's SGD skips parameters
        // whose .grad is None.
        if skipEnabled, let downsample {
            downsample.backward(
                gradInput: gradSkip, gradOutput: gradPreActivation, input: input, pool: pool)
        } else if skipEnabled {
            gradSkip.copy(from: gradPreActivation)
        } else {
            gradSkip.fill(0)
            for parameter in downsample?.parameters ?? [] { parameter.gradient.fill(0) }
        }
        Elementwise.add(output: gradInput, gradSkip, gradResidual, pool: pool)
    }
}
