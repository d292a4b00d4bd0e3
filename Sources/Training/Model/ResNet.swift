import Engine

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

    /// Returns the parameters of one layer in stepper order: the stem's, a block's (its projection
    /// included), none for the pooling layer, and the classifier's.
    public func parameters(ofLayer layer: Int) -> [Parameter] {
        if layer == 0 { return stem.parameters }
        if let index = blockIndex(ofLayer: layer) { return blocks[index].parameters }
        return layer == layerCount - 1 ? [fcWeight, fcBias] : []
    }

    /// Draws fresh weights as torchvision's ResNet does: Kaiming normal (fan_out, ReLU gain)
    /// for convolutions, batch norm weight 1 and bias 0, and PyTorch's default uniform
    /// initialisation for the classifier; with `zeroInitResidual` in the spec, each block's
    /// residual path starts at zero. Momentum buffers are cleared and batch-norm statistics
    /// reset.
    ///
    /// The weights come from a `SeededGenerator` seeded by one draw from `generator`. With the
    /// concrete type the compiler specializes the sampling loops. Through a generic `G` from
    /// another module every draw ran unspecialized generic code, and resnet152 took about
    /// 20 s to initialize.
    public func initialize<G: RandomNumberGenerator>(using generator: inout G) {
        var seeded = SeededGenerator(seed: generator.next())
        stem.initialize(using: &seeded)
        for block in blocks {
            block.initializeUnits(using: &seeded, zeroResidual: config.spec.zeroInitResidual)
        }
        let bound = 1 / Double(fcWeight.value.shape[1]).squareRoot()
        fillUniform(fcWeight.value, bound: bound, using: &seeded)
        fillUniform(fcBias.value, bound: bound, using: &seeded)
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

    /// A wrong gradient that every backward pass produces on purpose, for testing the
    /// gradient check; nil, the default, in training.
    public var gradientFault: GradientFault?

    /// The gradient that reaches a layer's input: the norm of dL/dinput and, for blocks, its
    /// skip and residual parts. The stem's input gradient is not computed and reads as 0.
    public func backward(layer: Int, pool: ThreadPool) -> GradientFlow {
        var flow = computeBackward(layer: layer, pool: pool)
        if applyGradientFault(layer: layer) {
            flow.weight = Self.norm(of: parameters(ofLayer: layer))
        }
        return flow
    }

    private func computeBackward(layer: Int, pool: ThreadPool) -> GradientFlow {
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
            let skip = Reduction.norm(block.gradSkip, pool: pool)
            let residual = Reduction.norm(block.gradResidual, pool: pool)
            let dot = Reduction.dot(block.gradSkip, block.gradResidual, pool: pool)
            let cosine = skip > 0 && residual > 0 ? dot / (skip * residual) : 0
            return GradientFlow(
                skip: skip, residual: residual,
                input: Reduction.norm(block.gradInput, pool: pool), cosine: cosine,
                weight: Self.norm(of: block.parameters))
        }
    }

    /// dL/d(output of `layer`), which the next layer's backward pass wrote.
    func gradient(intoOutputOf layer: Int) -> Tensor {
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
            var info = LayerInfo(
                name: layerNames[layer], kind: kind, outputShape: outputShape,
                parameterCount: parameters, skipEnabled: skipEnabled(layer: layer),
                hasProjection: hasProjection)
            info.residualConvolutions =
                blockIndex(ofLayer: layer).map {
                    blocks[$0].residualUnits.count
                } ?? 0
            return info
        }
    }
}
