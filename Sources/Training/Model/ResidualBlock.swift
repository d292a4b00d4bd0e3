import Engine

/// A residual block of He et al. 2015: O = relu(F(x) + S(x)), where F is a chain of
/// convolution units with a ReLU between consecutive units and S is the identity, or a 1x1
/// convolution with batch norm (torchvision's `downsample`) when the stride or the channel
/// count changes. With the skip off the block computes O = relu(F(x)).
///
/// `BasicBlock` and `BottleneckBlock` choose the units of F; this class runs any chain.
///
/// Layout is NCHW; x is [N, inChannels, H, W] and O is [N, outChannels, H/stride, W/stride].
public class ResidualBlock: @unchecked Sendable {
    public let name: String
    /// The units of F in order: `conv1`/`bn1`, `conv2`/`bn2` and, in a bottleneck, `conv3`/`bn3`.
    let residualUnits: [ConvNorm]
    /// The projection shortcut, or nil for the identity.
    let downsample: ConvNorm?
    public var skipEnabled = true

    /// relu(output of unit i), the input of unit i + 1, for every unit but the last.
    let hidden: [Tensor]
    /// The block's output O [N, outChannels, outH, outW].
    public let output: Tensor

    /// g = dL/dO * relu'(F(x) + S(x)), or relu'(F(x)) with the skip off.
    let gradPreActivation: Tensor
    /// dL/d(hidden[i]) as unit i + 1's backward pass writes it.
    private let gradHidden: [Tensor]
    /// gradHidden[i] times the ReLU mask of hidden[i]: dL/d(output of unit i).
    private let gradHiddenMasked: [Tensor]
    /// S^T(g) [N, inChannels, H, W]: the part of dL/dx that comes through the skip path.
    public let gradSkip: Tensor
    /// F^T(g) [N, inChannels, H, W]: the part of dL/dx that comes through the residual path.
    public let gradResidual: Tensor
    /// dL/dx = gradSkip + gradResidual.
    public let gradInput: Tensor

    /// Creates a block whose residual path runs `convolutions` in order, each followed by
    /// batch norm, or given a bias without batch norm. The first convolution reads the
    /// block's input, and the last one's output shape is the block's output shape. `stride`
    /// is the block's total stride, which the projection shortcut repeats.
    init(name: String, convolutions: [ConvGeometry], stride: Int, batchNorm: Bool) {
        precondition(!convolutions.isEmpty, "a residual block needs at least one convolution")
        self.name = name

        residualUnits = convolutions.enumerated().map { index, geometry in
            ConvNorm(
                prefix: "\(name).conv\(index + 1)", normName: "\(name).bn\(index + 1)",
                geometry: geometry, batchNorm: batchNorm)
        }
        let first = convolutions[0]
        let last = convolutions[convolutions.count - 1]
        if stride != 1 || last.outChannels != first.inChannels {
            let projection = ConvGeometry(
                batch: first.batch, inChannels: first.inChannels, outChannels: last.outChannels,
                inHeight: first.inHeight, inWidth: first.inWidth, kernelSize: 1,
                stride: stride, padding: 0)
            precondition(
                projection.outHeight == last.outHeight && projection.outWidth == last.outWidth,
                "projection of block \(name) gives \(projection.outputShape), "
                    + "expected \(last.outputShape)")
            downsample = ConvNorm(
                prefix: name + ".downsample.0", normName: name + ".downsample.1",
                geometry: projection, batchNorm: batchNorm)
        } else {
            downsample = nil
        }

        hidden = convolutions.dropLast().map { Tensor(shape: $0.outputShape) }
        gradHidden = convolutions.dropLast().map { Tensor(shape: $0.outputShape) }
        gradHiddenMasked = convolutions.dropLast().map { Tensor(shape: $0.outputShape) }
        let outShape = last.outputShape
        output = Tensor(shape: outShape)
        gradPreActivation = Tensor(shape: outShape)
        gradSkip = Tensor(shape: first.inputShape)
        gradResidual = Tensor(shape: first.inputShape)
        gradInput = Tensor(shape: first.inputShape)
    }

    /// Every unit in state-dict order: the residual path, then the projection.
    var units: [ConvNorm] { residualUnits + (downsample.map { [$0] } ?? []) }

    public var parameters: [Parameter] { units.flatMap(\.parameters) }

    public var hasProjection: Bool { downsample != nil }

    /// Draws Kaiming-normal convolution weights and resets batch norm to weight 1, bias 0.
    /// With `zeroResidual` the residual path's last unit starts at zero: its batch-norm
    /// weight, or without batch norm its convolution weight.
    public func initialize<G: RandomNumberGenerator>(
        using generator: inout G, zeroResidual: Bool = false
    ) {
        var seeded = SeededGenerator(seed: generator.next())
        initializeUnits(using: &seeded, zeroResidual: zeroResidual)
    }

    func initializeUnits(using generator: inout SeededGenerator, zeroResidual: Bool) {
        for unit in units { unit.initialize(using: &generator) }
        guard zeroResidual, let last = residualUnits.last else { return }
        if let norm = last.norm {
            norm.gamma.value.fill(0)
        } else {
            last.weight.value.fill(0)
        }
    }

    /// The parameters the last backward pass reached: all but an unused projection.
    var trainableParameters: [Parameter] {
        (skipEnabled ? units : residualUnits).flatMap(\.parameters)
    }

    public func forward(input: Tensor, training: Bool, pool: ThreadPool) {
        var unitInput = input
        for (index, unit) in residualUnits.enumerated() {
            unit.forward(input: unitInput, training: training, pool: pool)
            if index < hidden.count {
                ReLU.forward(output: hidden[index], input: unit.output, pool: pool)
                unitInput = hidden[index]
            }
        }
        let residual = residualUnits[residualUnits.count - 1].output
        if skipEnabled {
            var shortcut = input
            if let downsample {
                downsample.forward(input: input, training: training, pool: pool)
                shortcut = downsample.output
            }
            Elementwise.addReLU(output: output, residual, shortcut, pool: pool)
        } else {
            ReLU.forward(output: output, input: residual, pool: pool)
        }
    }

    /// Computes dL/dx split into its skip and residual parts, and every parameter gradient.
    public func backward(gradOutput: Tensor, input: Tensor, pool: ThreadPool) {
        ReLU.backward(
            gradInput: gradPreActivation, gradOutput: gradOutput, output: output, pool: pool)
        backwardResidualPath(gradBranchOutput: gradPreActivation, input: input, pool: pool)

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

extension ResidualBlock {
    /// The residual branch's output F(x), before the skip is added and the ReLU applied.
    var branchOutput: Tensor { residualUnits[residualUnits.count - 1].output }

    /// Writes F^T(`gradBranchOutput`) into `gradResidual`, from the last unit back to the
    /// first, and the residual units' parameter gradients. Reads the hidden activations of
    /// the last forward pass, which must have run on `input`.
    func backwardResidualPath(gradBranchOutput: Tensor, input: Tensor, pool: ThreadPool) {
        for index in residualUnits.indices.reversed() {
            let isFirst = index == 0
            let isLast = index == residualUnits.count - 1
            residualUnits[index].backward(
                gradInput: isFirst ? gradResidual : gradHidden[index - 1],
                gradOutput: isLast ? gradBranchOutput : gradHiddenMasked[index],
                input: isFirst ? input : hidden[index - 1], pool: pool)
            if !isFirst {
                ReLU.backward(
                    gradInput: gradHiddenMasked[index - 1], gradOutput: gradHidden[index - 1],
                    output: hidden[index - 1], pool: pool)
            }
        }
    }
}

/// The basic block: F(x) = bn2(conv2(relu(bn1(conv1(x))))), both convolutions 3x3, the
/// first with the block's stride.
public final class BasicBlock: ResidualBlock, @unchecked Sendable {
    public init(
        name: String, batch: Int, inChannels: Int, outChannels: Int, height: Int, width: Int,
        stride: Int, batchNorm: Bool
    ) {
        let geometry1 = ConvGeometry(
            batch: batch, inChannels: inChannels, outChannels: outChannels, inHeight: height,
            inWidth: width, kernelSize: 3, stride: stride, padding: 1)
        let geometry2 = ConvGeometry(
            batch: batch, inChannels: outChannels, outChannels: outChannels,
            inHeight: geometry1.outHeight, inWidth: geometry1.outWidth, kernelSize: 3, stride: 1,
            padding: 1)
        super.init(
            name: name, convolutions: [geometry1, geometry2], stride: stride, batchNorm: batchNorm)
    }
}

/// The bottleneck block as torchvision builds it (ResNet v1.5): a 1x1 convolution down to
/// `width` channels, a 3x3 convolution with the block's stride, and a 1x1 convolution up to
/// 4 * width channels. The stride sits on the 3x3 convolution, not on the first 1x1 as in
/// He et al. 2015.
public final class BottleneckBlock: ResidualBlock, @unchecked Sendable {
    public init(
        name: String, batch: Int, inChannels: Int, width: Int, height: Int, inputWidth: Int,
        stride: Int, batchNorm: Bool
    ) {
        let reduce = ConvGeometry(
            batch: batch, inChannels: inChannels, outChannels: width, inHeight: height,
            inWidth: inputWidth, kernelSize: 1, stride: 1, padding: 0)
        let spatial = ConvGeometry(
            batch: batch, inChannels: width, outChannels: width, inHeight: height,
            inWidth: inputWidth, kernelSize: 3, stride: stride, padding: 1)
        let expand = ConvGeometry(
            batch: batch, inChannels: width, outChannels: width * BlockKind.bottleneck.expansion,
            inHeight: spatial.outHeight, inWidth: spatial.outWidth, kernelSize: 1, stride: 1,
            padding: 0)
        super.init(
            name: name, convolutions: [reduce, spatial, expand], stride: stride,
            batchNorm: batchNorm)
    }
}
