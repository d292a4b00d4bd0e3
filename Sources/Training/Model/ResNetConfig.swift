import Engine

/// A ResNet and the images it reads: the model spec, the input shape of one sample and the
/// number of classes.
public struct ResNetConfig: Sendable, Equatable {
    public var spec: ModelSpec
    public var inputChannels: Int
    public var inputHeight: Int
    public var inputWidth: Int
    public var classCount: Int

    public init(
        spec: ModelSpec, inputChannels: Int, inputHeight: Int, inputWidth: Int, classCount: Int
    ) {
        self.spec = spec
        self.inputChannels = inputChannels
        self.inputHeight = inputHeight
        self.inputWidth = inputWidth
        self.classCount = classCount
    }

    /// A CIFAR-style ResNet (He et al. 2015, section 4.2): a 3x3 stem, three stages of n
    /// basic blocks with widths w, 2w, 4w (the later stages start with stride 2), global
    /// average pooling and a linear classifier, 6n + 2 layers with weights in all. A depth
    /// without that form gives a config whose `blocksPerStage` is nil.
    public init(
        depth: Int = 20, baseWidth: Int = 16, inputChannels: Int = 1, inputHeight: Int = 28,
        inputWidth: Int = 28, classCount: Int = 10, batchNorm: Bool = true
    ) {
        let spec =
            ModelSpec.cifar(depth: depth, baseWidth: baseWidth, batchNorm: batchNorm)
            ?? ModelSpec(
                name: "resnet\(depth)", family: .cifar, blockKind: .basic, stageBlocks: [],
                baseWidth: baseWidth, batchNorm: batchNorm)
        self.init(
            spec: spec, inputChannels: inputChannels, inputHeight: inputHeight,
            inputWidth: inputWidth, classCount: classCount)
    }

    public var depth: Int { spec.depth }
    public var baseWidth: Int { spec.baseWidth }
    public var batchNorm: Bool { spec.batchNorm }

    /// Blocks per stage of a CIFAR-style model, n in 6n + 2; nil for other models.
    public var blocksPerStage: Int? {
        spec.family == .cifar && !spec.stageBlocks.isEmpty ? spec.stageBlocks[0] : nil
    }

    /// The model name with its options, such as `plain20 --no-bn`.
    public var name: String { spec.displayName }
}

/// The stem convolution of a model, and the max pool after it in the ImageNet family.
public struct StemPlan: Sendable, Equatable {
    public var convolution: ConvGeometry
    /// Whether a 3x3, stride 2, padding 1 max pool follows the convolution's ReLU.
    public var hasMaxPool: Bool
    /// Output of the stem for one sample: channels, height, width.
    public var outputShape: [Int] {
        let c = convolution
        guard hasMaxPool else { return [c.outChannels, c.outHeight, c.outWidth] }
        let height = MaxPool2d.outputSize(
            inputSize: c.outHeight, kernelSize: 3, stride: 2, padding: 1)
        let width = MaxPool2d.outputSize(
            inputSize: c.outWidth, kernelSize: 3, stride: 2, padding: 1)
        return [c.outChannels, height, width]
    }
}

/// One residual block of a model: its torchvision name, input shape and stride, and the
/// channels of its convolutions.
public struct BlockPlan: Sendable, Equatable {
    public var name: String
    public var kind: BlockKind
    public var inChannels: Int
    /// Channels of the 3x3 convolutions (torchvision's `planes`).
    public var width: Int
    public var inHeight: Int
    public var inWidth: Int
    public var stride: Int

    public var outChannels: Int { width * kind.expansion }

    /// Returns the residual path's convolutions in order, for a batch of `batch` images.
    public func convolutions(batch: Int) -> [ConvGeometry] {
        switch kind {
        case .basic:
            let first = ConvGeometry(
                batch: batch, inChannels: inChannels, outChannels: width, inHeight: inHeight,
                inWidth: inWidth, kernelSize: 3, stride: stride, padding: 1)
            let second = ConvGeometry(
                batch: batch, inChannels: width, outChannels: width, inHeight: first.outHeight,
                inWidth: first.outWidth, kernelSize: 3, stride: 1, padding: 1)
            return [first, second]
        case .bottleneck:
            let reduce = ConvGeometry(
                batch: batch, inChannels: inChannels, outChannels: width, inHeight: inHeight,
                inWidth: inWidth, kernelSize: 1, stride: 1, padding: 0)
            let spatial = ConvGeometry(
                batch: batch, inChannels: width, outChannels: width, inHeight: inHeight,
                inWidth: inWidth, kernelSize: 3, stride: stride, padding: 1)
            let expand = ConvGeometry(
                batch: batch, inChannels: width, outChannels: outChannels,
                inHeight: spatial.outHeight, inWidth: spatial.outWidth, kernelSize: 1,
                stride: 1, padding: 0)
            return [reduce, spatial, expand]
        }
    }

    public var hasProjection: Bool { stride != 1 || inChannels != outChannels }

    /// Returns the 1x1 projection shortcut, or nil when the block has none.
    public func projection(batch: Int) -> ConvGeometry? {
        guard hasProjection else { return nil }
        return ConvGeometry(
            batch: batch, inChannels: inChannels, outChannels: outChannels, inHeight: inHeight,
            inWidth: inWidth, kernelSize: 1, stride: stride, padding: 0)
    }
}

extension ResNetConfig {
    /// Returns the stem for a batch of `batch` images.
    public func stemPlan(batch: Int) -> StemPlan {
        let imagenet = spec.family == .imagenet
        let convolution = ConvGeometry(
            batch: batch, inChannels: inputChannels, outChannels: spec.baseWidth,
            inHeight: inputHeight, inWidth: inputWidth, kernelSize: imagenet ? 7 : 3,
            stride: imagenet ? 2 : 1, padding: imagenet ? 3 : 1)
        return StemPlan(convolution: convolution, hasMaxPool: imagenet)
    }

    /// Every block in order. Stage s (from 0) has width baseWidth * 2^s; its first block has
    /// stride 2 except in stage 0, as in torchvision.
    public var blockPlans: [BlockPlan] {
        let stem = stemPlan(batch: 1).outputShape
        var (channels, height, width) = (stem[0], stem[1], stem[2])
        var plans: [BlockPlan] = []
        for (stage, count) in spec.stageBlocks.enumerated() {
            for index in 0..<count {
                let plan = BlockPlan(
                    name: "layer\(stage + 1).\(index)", kind: spec.blockKind,
                    inChannels: channels, width: spec.baseWidth << stage, inHeight: height,
                    inWidth: width, stride: stage > 0 && index == 0 ? 2 : 1)
                let last = plan.convolutions(batch: 1).last!
                (channels, height, width) = (last.outChannels, last.outHeight, last.outWidth)
                plans.append(plan)
            }
        }
        return plans
    }

    /// Channels that reach the classifier.
    public var featureChannels: Int {
        (spec.baseWidth << (spec.stageBlocks.count - 1)) * spec.blockKind.expansion
    }
}
