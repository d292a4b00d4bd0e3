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

    /// The residual path's convolutions in order, for a batch of `batch` images.
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

    /// The 1x1 projection shortcut, when the block has one.
    public func projection(batch: Int) -> ConvGeometry? {
        guard hasProjection else { return nil }
        return ConvGeometry(
            batch: batch, inChannels: inChannels, outChannels: outChannels, inHeight: inHeight,
            inWidth: inWidth, kernelSize: 1, stride: stride, padding: 0)
    }
}

extension ResNetConfig {
    /// The stem for a batch of `batch` images.
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

/// A ResNet laid out as the stepper walks it: stem, blocks, pool, classifier.
/// Layer indices run over that list; `forward(layer:)` and `backward(layer:)` compute one
/// entry each, reading the tensors that the neighbouring entries wrote.
public final class ResNet: @unchecked Sendable {
    public let config: ResNetConfig
    public let batchSize: Int

    let stem: ConvNorm
    let stemPlan: StemPlan
    /// relu(stem convolution unit's output) [N, w, H', W'], the max pool's input; the same
    /// tensor as `stemOutput` without a max pool.
    let stemActivation: Tensor
    /// The stem's output, after the max pool if there is one.
    let stemOutput: Tensor
    /// Position of each max-pool output's maximum in its input plane, for backward.
    var maxPoolIndices: [Int32]
    public let blocks: [ResidualBlock]
    /// Pooled features [N, featureChannels].
    let pooled: Tensor
    /// Classifier weight [classes, 4w] and bias [classes], torchvision's `fc`.
    let fcWeight: Parameter
    let fcBias: Parameter
    /// [N, classes]
    let logits: Tensor
    let probabilities: Tensor

    /// The batch being trained on: images [N, C, H, W] and labels.
    public let images: Tensor
    public var labels: [Int32]

    let gradLogits: Tensor
    let gradPooled: Tensor
    /// dL/d(last block's output) [N, 4w, h, w].
    let gradFeatures: Tensor
    /// dL/d(stemActivation) as the max pool's backward pass writes it.
    let gradStemActivation: Tensor
    /// dL/d(stem convolution unit's output): the gradient masked by the stem ReLU.
    let gradStemMasked: Tensor

    /// Layer names in stepper order, matching `LayerInfo.name`.
    public let layerNames: [String]

    public init(config: ResNetConfig, batchSize: Int) {
        precondition(!config.spec.stageBlocks.isEmpty, "model \(config.spec.name) has no blocks")
        self.config = config
        self.batchSize = batchSize
        stemPlan = config.stemPlan(batch: batchSize)
        let stemGeometry = stemPlan.convolution
        stem = ConvNorm(
            prefix: "conv1", normName: "bn1", geometry: stemGeometry,
            batchNorm: config.batchNorm)
        stemActivation = Tensor(shape: stemGeometry.outputShape)
        stemOutput =
            stemPlan.hasMaxPool ? Tensor(shape: [batchSize] + stemPlan.outputShape) : stemActivation
        maxPoolIndices = Array(repeating: 0, count: stemPlan.hasMaxPool ? stemOutput.count : 0)

        blocks = config.blockPlans.enumerated().map { index, plan in
            let block: ResidualBlock
            switch plan.kind {
            case .basic:
                block = BasicBlock(
                    name: plan.name, batch: batchSize, inChannels: plan.inChannels,
                    outChannels: plan.width, height: plan.inHeight, width: plan.inWidth,
                    stride: plan.stride, batchNorm: config.batchNorm)
            case .bottleneck:
                block = BottleneckBlock(
                    name: plan.name, batch: batchSize, inChannels: plan.inChannels,
                    width: plan.width, height: plan.inHeight, inputWidth: plan.inWidth,
                    stride: plan.stride, batchNorm: config.batchNorm)
            }
            block.skipEnabled = config.spec.skipEnabled(block: index)
            return block
        }
        let features = blocks[blocks.count - 1].output.shape
        let channels = features[1]
        pooled = Tensor(shape: [batchSize, channels])
        fcWeight = Parameter(name: "fc.weight", shape: [config.classCount, channels])
        fcBias = Parameter(name: "fc.bias", shape: [config.classCount])
        logits = Tensor(shape: [batchSize, config.classCount])
        probabilities = Tensor(shape: [batchSize, config.classCount])
        images = Tensor(
            shape: [batchSize, config.inputChannels, config.inputHeight, config.inputWidth])
        labels = Array(repeating: 0, count: batchSize)
        gradLogits = Tensor(shape: logits.shape)
        gradPooled = Tensor(shape: pooled.shape)
        gradFeatures = Tensor(shape: features)
        gradStemActivation =
            stemPlan.hasMaxPool ? Tensor(shape: stemActivation.shape) : Tensor(shape: [0])
        gradStemMasked = Tensor(shape: stemActivation.shape)
        layerNames = ["stem"] + blocks.map(\.name) + ["avgpool", "fc"]
    }

    public var layerCount: Int { blocks.count + 3 }

    /// Index of the first block in the layer list.
    public static let firstBlockLayer = 1

    public func blockIndex(ofLayer layer: Int) -> Int? {
        let index = layer - Self.firstBlockLayer
        return blocks.indices.contains(index) ? index : nil
    }

    /// Every parameter, in torchvision's state-dict order.
    public var parameters: [Parameter] {
        stem.parameters + blocks.flatMap(\.parameters) + [fcWeight, fcBias]
    }

    /// Every entry of torchvision's `state_dict()` for this model, in its order.
    public var stateEntries: [StateEntry] {
        stem.stateEntries + blocks.flatMap { $0.units.flatMap(\.stateEntries) }
            + [
                .floats(name: fcWeight.name, tensor: fcWeight.value),
                .floats(name: fcBias.name, tensor: fcBias.value),
            ]
    }

    var trainableParameters: [Parameter] {
        stem.parameters + blocks.flatMap(\.trainableParameters) + [fcWeight, fcBias]
    }

    public var parameterCount: Int { parameters.reduce(0) { $0 + $1.value.count } }

    /// Draws fresh weights as torchvision's ResNet does: Kaiming normal (fan_out, ReLU gain)
    /// for convolutions, batch norm weight 1 and bias 0, and PyTorch's default uniform
    /// initialisation for the classifier; with `zeroInitResidual` in the spec, each block's
    /// residual path starts at zero. Momentum buffers are cleared and batch-norm statistics
    /// reset.
    public func initialize<G: RandomNumberGenerator>(using generator: inout G) {
        stem.initialize(using: &generator)
        for block in blocks {
            block.initialize(using: &generator, zeroResidual: config.spec.zeroInitResidual)
        }
        let bound = 1 / Double(fcWeight.value.shape[1]).squareRoot()
        fillUniform(fcWeight.value, bound: bound, using: &generator)
        fillUniform(fcBias.value, bound: bound, using: &generator)
        for parameter in parameters {
            parameter.momentumBuffer.fill(0)
            parameter.gradient.fill(0)
        }
    }

    public func skipEnabled(layer: Int) -> Bool {
        blockIndex(ofLayer: layer).map { blocks[$0].skipEnabled } ?? false
    }

    public func setSkip(layer: Int, enabled: Bool) {
        if let index = blockIndex(ofLayer: layer) { blocks[index].skipEnabled = enabled }
    }

    /// The output tensor of a layer: [N, C, H, W] for the stem and blocks, [N, C] for the
    /// pool and the classifier.
    public func output(ofLayer layer: Int) -> Tensor {
        if layer == 0 { return stemOutput }
        if let index = blockIndex(ofLayer: layer) { return blocks[index].output }
        return layer == layerCount - 2 ? pooled : logits
    }

    private func input(ofLayer layer: Int) -> Tensor {
        layer == 0 ? images : output(ofLayer: layer - 1)
    }

    public func forward(layer: Int, training: Bool, pool: ThreadPool) {
        switch layer {
        case 0:
            stem.forward(input: images, training: training, pool: pool)
            ReLU.forward(output: stemActivation, input: stem.output, pool: pool)
            if stemPlan.hasMaxPool {
                MaxPool2d.forward(
                    output: stemOutput, indices: &maxPoolIndices, input: stemActivation,
                    pool: pool)
            }
        case layerCount - 2:
            GlobalAvgPool.forward(output: pooled, input: input(ofLayer: layer), pool: pool)
        case layerCount - 1:
            Linear.forward(
                output: logits, input: pooled, weight: fcWeight.value, bias: fcBias.value,
                pool: pool)
        default:
            blocks[layer - 1].forward(input: input(ofLayer: layer), training: training, pool: pool)
        }
    }

    /// Computes softmax cross-entropy of the logits against `labels`, mean over the batch,
    /// and dL/dlogits = (softmax - onehot) / N.
    public func loss() -> (loss: Double, correct: Int) {
        let result = SoftmaxCrossEntropy.forward(
            probabilities: probabilities, logits: logits, labels: labels)
        SoftmaxCrossEntropy.backward(
            gradLogits: gradLogits, probabilities: probabilities, labels: labels)
        return result
    }

    /// The gradient that reaches a layer's input: the norm of dL/dinput and, for blocks, its
    /// skip and residual parts. The stem's input gradient is not computed and reads as 0.
    public func backward(layer: Int, pool: ThreadPool) -> GradientFlow {
        switch layer {
        case layerCount - 1:
            Linear.backward(
                gradInput: gradPooled, gradWeight: fcWeight.gradient, gradBias: fcBias.gradient,
                gradOutput: gradLogits, input: pooled, weight: fcWeight.value, pool: pool)
            return flow(input: gradPooled, parameters: [fcWeight, fcBias])
        case layerCount - 2:
            GlobalAvgPool.backward(gradInput: gradFeatures, gradOutput: gradPooled, pool: pool)
            return flow(input: gradFeatures, parameters: [])
        case 0:
            var gradActivation = gradient(intoOutputOf: 0)
            if stemPlan.hasMaxPool {
                MaxPool2d.backward(
                    gradInput: gradStemActivation, gradOutput: gradActivation,
                    indices: maxPoolIndices, pool: pool)
                gradActivation = gradStemActivation
            }
            ReLU.backward(
                gradInput: gradStemMasked, gradOutput: gradActivation, output: stemActivation,
                pool: pool)
            stem.backward(gradInput: nil, gradOutput: gradStemMasked, input: images, pool: pool)
            return flow(input: nil, parameters: stem.parameters)
        default:
            let block = blocks[layer - 1]
            block.backward(
                gradOutput: gradient(intoOutputOf: layer), input: input(ofLayer: layer),
                pool: pool)
            let skip = block.gradSkip.norm()
            let residual = block.gradResidual.norm()
            var dot = 0.0
            for i in 0..<block.gradSkip.count {
                dot += Double(block.gradSkip[i]) * Double(block.gradResidual[i])
            }
            let cosine = skip > 0 && residual > 0 ? dot / (skip * residual) : 0
            return GradientFlow(
                skip: skip, residual: residual, input: block.gradInput.norm(), cosine: cosine,
                weight: Self.norm(of: block.parameters))
        }
    }

    /// dL/d(output of `layer`), which the next layer's backward pass wrote.
    private func gradient(intoOutputOf layer: Int) -> Tensor {
        let next = layer + 1
        if let index = blockIndex(ofLayer: next) { return blocks[index].gradInput }
        return gradFeatures
    }

    private func flow(input: Tensor?, parameters: [Parameter]) -> GradientFlow {
        GradientFlow(
            skip: 0, residual: 0, input: input?.norm() ?? 0, cosine: 0,
            weight: Self.norm(of: parameters))
    }

    static func norm(of parameters: [Parameter]) -> Double {
        parameters.reduce(0.0) { sum, parameter in
            let n = parameter.gradient.norm()
            return sum + n * n
        }.squareRoot()
    }

    /// One SGD step over the parameters the last backward pass reached.
    public func update(
        learningRate: Float, momentum: Float, weightDecay: Float, pool: ThreadPool
    ) {
        for parameter in trainableParameters {
            SGD.step(
                parameter: parameter.value, gradient: parameter.gradient,
                momentumBuffer: parameter.momentumBuffer, learningRate: learningRate,
                momentum: momentum, weightDecay: weightDecay, pool: pool)
        }
    }

    /// `LayerInfo` rows for the UI, in stepper order.
    public var layerInfos: [LayerInfo] {
        (0..<layerCount).map { layer in
            let shape = Array(output(ofLayer: layer).shape.dropFirst())
            let outputShape = shape.count == 1 ? [shape[0], 1, 1] : shape
            let parameters: Int
            var hasProjection = false
            if layer == 0 {
                parameters = stem.parameterCount
            } else if let index = blockIndex(ofLayer: layer) {
                parameters = blocks[index].units.reduce(0) { $0 + $1.parameterCount }
                hasProjection = blocks[index].downsample != nil
            } else if layer == layerCount - 1 {
                parameters = fcWeight.value.count + fcBias.value.count
            } else {
                parameters = 0
            }
            let kind: LayerKind =
                layer == 0
                ? .stem
                : blockIndex(ofLayer: layer) != nil
                    ? .block
                    : layer == layerCount - 2 ? .pool : .fc
            return LayerInfo(
                name: layerNames[layer], kind: kind, outputShape: outputShape,
                parameterCount: parameters, skipEnabled: skipEnabled(layer: layer),
                hasProjection: hasProjection)
        }
    }
}
