import Engine

/// One row of a model summary: a layer with weights or a pooling layer, or a block that
/// groups the rows after it. Shapes are per sample: channels, height, width, or features.
public struct SummaryRow: Sendable, Equatable {
    /// torchvision's module name, such as `layer2.0.downsample.0`.
    public var name: String
    /// The PyTorch module type, such as `Conv2d` or `BatchNorm2d`, or the block type.
    public var type: String
    public var inputShape: [Int]
    public var outputShape: [Int]
    /// Kernel, stride and padding, such as `3x3 s2 p1`, or empty.
    public var geometry: String
    /// The parameter count as a product or sum, such as `64*3*7*7` or `2*64`, or empty.
    public var formula: String
    public var parameterCount: Int
    /// A block row sums the rows that follow it and is left out of the totals.
    public var isGroup: Bool
}

extension ResNetConfig {
    /// One row per layer in torchvision's module order, computed from the plan alone, so a
    /// summary of resnet152 at 224x224 allocates no tensors.
    public var summaryRows: [SummaryRow] {
        let stem = stemPlan(batch: 1)
        var rows = convRows(stem.convolution, convName: "conv1", normName: "bn1")
        let activation = chw(stem.convolution.outputShape)
        rows.append(
            SummaryRow(
                name: "relu", type: "ReLU", inputShape: activation, outputShape: activation,
                geometry: "", formula: "", parameterCount: 0, isGroup: false))
        if stem.hasMaxPool {
            rows.append(
                SummaryRow(
                    name: "maxpool", type: "MaxPool2d", inputShape: activation,
                    outputShape: stem.outputShape, geometry: "3x3 s2 p1", formula: "",
                    parameterCount: 0, isGroup: false))
        }
        for plan in blockPlans {
            var blockRows: [SummaryRow] = []
            for (index, convolution) in plan.convolutions(batch: 1).enumerated() {
                blockRows += convRows(
                    convolution, convName: "\(plan.name).conv\(index + 1)",
                    normName: "\(plan.name).bn\(index + 1)")
            }
            if let projection = plan.projection(batch: 1) {
                blockRows += convRows(
                    projection, convName: "\(plan.name).downsample.0",
                    normName: "\(plan.name).downsample.1")
            }
            let last = plan.convolutions(batch: 1).last!
            rows.append(
                SummaryRow(
                    name: plan.name, type: plan.kind == .basic ? "BasicBlock" : "Bottleneck",
                    inputShape: [plan.inChannels, plan.inHeight, plan.inWidth],
                    outputShape: chw(last.outputShape), geometry: "", formula: "",
                    parameterCount: blockRows.reduce(0) { $0 + $1.parameterCount },
                    isGroup: true))
            rows += blockRows
        }
        let features = featureChannels
        let last = blockPlans.last?.convolutions(batch: 1).last
        rows.append(
            SummaryRow(
                name: "avgpool", type: "AdaptiveAvgPool2d",
                inputShape: last.map { chw($0.outputShape) } ?? [], outputShape: [features],
                geometry: "", formula: "", parameterCount: 0, isGroup: false))
        rows.append(
            SummaryRow(
                name: "fc", type: "Linear", inputShape: [features], outputShape: [classCount],
                geometry: "", formula: "\(classCount)*\(features)+\(classCount)",
                parameterCount: classCount * features + classCount, isGroup: false))
        return rows
    }

    /// Trainable parameters of the model: convolution weights (and biases without batch
    /// norm), batch-norm weights and biases, and the classifier. Batch-norm running
    /// statistics are buffers and are not counted, as in `sum(p.numel() for p in
    /// model.parameters())`.
    public var parameterCount: Int {
        summaryRows.filter { !$0.isGroup }.reduce(0) { $0 + $1.parameterCount }
    }

    private func convRows(_ geometry: ConvGeometry, convName: String, normName: String)
        -> [SummaryRow]
    {
        let g = geometry
        let weights = g.outChannels * g.inChannels * g.kernelSize * g.kernelSize
        var formula = "\(g.outChannels)*\(g.inChannels)*\(g.kernelSize)*\(g.kernelSize)"
        var count = weights
        if !batchNorm {
            formula += "+\(g.outChannels)"
            count += g.outChannels
        }
        let output = chw(g.outputShape)
        var rows = [
            SummaryRow(
                name: convName, type: "Conv2d", inputShape: chw(g.inputShape),
                outputShape: output,
                geometry: "\(g.kernelSize)x\(g.kernelSize) s\(g.stride) p\(g.padding)",
                formula: formula, parameterCount: count, isGroup: false)
        ]
        if batchNorm {
            rows.append(
                SummaryRow(
                    name: normName, type: "BatchNorm2d", inputShape: output, outputShape: output,
                    geometry: "", formula: "2*\(g.outChannels)",
                    parameterCount: 2 * g.outChannels, isGroup: false))
        }
        return rows
    }

    private func chw(_ shape: [Int]) -> [Int] { Array(shape.dropFirst()) }
}
