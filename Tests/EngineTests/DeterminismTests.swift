import Engine
import Testing

/// Runs `compute` on each pool of `poolsToCompare` and expects every returned tensor to match
/// the single-thread result bit for bit.
private func expectSameBitsOnEveryPool(
    _ names: [String], sourceLocation: SourceLocation = #_sourceLocation,
    _ compute: (ThreadPool) -> [Tensor]
) {
    let baseline = compute(poolsToCompare[0])
    for pool in poolsToCompare.dropFirst() {
        let results = compute(pool)
        for (i, name) in names.enumerated() {
            expectBitwiseEqual(
                results[i], baseline[i], "\(name) with \(pool.threadCount) threads vs 1",
                sourceLocation: sourceLocation)
        }
    }
}

@Test func batchNormIsBitwiseIdenticalAcrossThreadCounts() {
    var generator = SeededGenerator(seed: 51)
    let shape = [8, 16, 9, 9]
    let input = randomTensor(shape, in: -2...3, &generator)
    let gamma = randomTensor([16], &generator)
    let beta = randomTensor([16], &generator)
    let upstream = randomTensor(shape, &generator)
    expectSameBitsOnEveryPool([
        "output", "runningMean", "runningVar", "savedMean", "savedInvStd", "inference",
        "gradInput", "gradGamma", "gradBeta",
    ]) { pool in
        let output = Tensor(shape: shape)
        let runningMean = Tensor(shape: [16])
        let runningVar = Tensor(shape: [16], values: [Float](repeating: 1, count: 16))
        let savedMean = Tensor(shape: [16])
        let savedInvStd = Tensor(shape: [16])
        BatchNorm.forwardTraining(
            output: output, input: input, gamma: gamma, beta: beta, runningMean: runningMean,
            runningVar: runningVar, savedMean: savedMean, savedInvStd: savedInvStd,
            momentum: 0.1, eps: 1e-5, pool: pool)
        let inference = Tensor(shape: shape)
        BatchNorm.forwardInference(
            output: inference, input: input, gamma: gamma, beta: beta, runningMean: runningMean,
            runningVar: runningVar, eps: 1e-5, pool: pool)
        let gradInput = Tensor(shape: shape)
        let gradGamma = Tensor(shape: [16])
        let gradBeta = Tensor(shape: [16])
        BatchNorm.backward(
            gradInput: gradInput, gradGamma: gradGamma, gradBeta: gradBeta, gradOutput: upstream,
            input: input, gamma: gamma, savedMean: savedMean, savedInvStd: savedInvStd, pool: pool)
        return [
            output, runningMean, runningVar, savedMean, savedInvStd, inference, gradInput,
            gradGamma, gradBeta,
        ]
    }
}

@Test func pointwiseKernelsAreBitwiseIdenticalAcrossThreadCounts() {
    // 100_003 elements: more than 3 x 16_384, so three threads each get a range, and not a
    // multiple of 16, so the scalar tail runs.
    var generator = SeededGenerator(seed: 52)
    let shape = [100_003]
    let a = randomTensor(shape, &generator)
    let b = randomTensor(shape, &generator)
    let gradient = randomTensor(shape, &generator)
    expectSameBitsOnEveryPool([
        "relu", "reluGrad", "add", "accumulate", "scale", "sgdParameter", "sgdBuffer",
    ]) { pool in
        let relu = Tensor(shape: shape)
        ReLU.forward(output: relu, input: a, pool: pool)
        let reluGrad = Tensor(shape: shape)
        ReLU.backward(gradInput: reluGrad, gradOutput: b, output: relu, pool: pool)
        let sum = Tensor(shape: shape)
        Elementwise.add(output: sum, a, b, pool: pool)
        let accumulated = sum.clone()
        Elementwise.accumulate(into: accumulated, from: b, pool: pool)
        let scaled = a.clone()
        Elementwise.scale(scaled, by: 0.3, pool: pool)
        let parameter = a.clone()
        let buffer = Tensor(shape: shape)
        for _ in 0..<3 {
            SGD.step(
                parameter: parameter, gradient: gradient, momentumBuffer: buffer,
                learningRate: 0.05, momentum: 0.9, weightDecay: 5e-4, pool: pool)
        }
        return [relu, reluGrad, sum, accumulated, scaled, parameter, buffer]
    }
}

@Test func poolingAndLinearAreBitwiseIdenticalAcrossThreadCounts() {
    var generator = SeededGenerator(seed: 53)
    let input = randomTensor([8, 16, 12, 12], &generator)
    let poolUpstream = randomTensor([8, 16, 6, 6], &generator)
    let averageUpstream = randomTensor([8, 16], &generator)
    let features = randomTensor([37, 64], &generator)
    let weight = randomTensor([10, 64], &generator)
    let bias = randomTensor([10], &generator)
    let linearUpstream = randomTensor([37, 10], &generator)
    expectSameBitsOnEveryPool([
        "maxPool", "maxPoolGrad", "average", "averageGrad", "linear", "linearGradInput",
        "linearGradWeight", "linearGradBias",
    ]) { pool in
        let maxPooled = Tensor(shape: [8, 16, 6, 6])
        var indices = [Int32](repeating: 0, count: maxPooled.count)
        MaxPool2d.forward(output: maxPooled, indices: &indices, input: input, pool: pool)
        let maxPoolGrad = Tensor(shape: input.shape)
        MaxPool2d.backward(
            gradInput: maxPoolGrad, gradOutput: poolUpstream, indices: indices, pool: pool)
        let average = Tensor(shape: [8, 16])
        GlobalAvgPool.forward(output: average, input: input, pool: pool)
        let averageGrad = Tensor(shape: input.shape)
        GlobalAvgPool.backward(gradInput: averageGrad, gradOutput: averageUpstream, pool: pool)
        let linear = Tensor(shape: [37, 10])
        Linear.forward(output: linear, input: features, weight: weight, bias: bias, pool: pool)
        let gradInput = Tensor(shape: features.shape)
        let gradWeight = Tensor(shape: weight.shape)
        let gradBias = Tensor(shape: [10])
        Linear.backward(
            gradInput: gradInput, gradWeight: gradWeight, gradBias: gradBias,
            gradOutput: linearUpstream, input: features, weight: weight, pool: pool)
        return [
            maxPooled, maxPoolGrad, average, averageGrad, linear, gradInput, gradWeight, gradBias,
        ]
    }
}

/// Geometries that reach each path of the weight-gradient accumulation: several sample
/// chunks per work item (32x32 images), gradOutput rows padded to 16 floats and output
/// channels padded to 4 (7x7 output, 6 channels), and a 1x1 stride-2 projection.
private let accumulationGeometries = [
    ConvGeometry(
        batch: 20, inChannels: 16, outChannels: 16, inHeight: 32, inWidth: 32, kernelSize: 3,
        stride: 1, padding: 1),
    ConvGeometry(
        batch: 5, inChannels: 3, outChannels: 6, inHeight: 14, inWidth: 14, kernelSize: 3,
        stride: 2, padding: 1),
    ConvGeometry(
        batch: 12, inChannels: 16, outChannels: 32, inHeight: 16, inWidth: 16, kernelSize: 1,
        stride: 2, padding: 0),
]

/// Integer inputs and gradients in -3...3 keep every partial sum of the weight and bias
/// gradients an integer below 2^24, so Float addition is exact in any order. Every run at
/// every thread count must then equal the exact integer sum bit for bit: a lost or doubled
/// update from a race shows as a different integer.
@Test(arguments: accumulationGeometries.indices)
func convWeightGradientSumsIntegersExactly(geometryIndex: Int) {
    let g = accumulationGeometries[geometryIndex]
    var generator = SeededGenerator(seed: 61 + UInt64(geometryIndex))
    let input = randomIntegerTensor(g.inputShape, in: -3...3, &generator)
    let upstream = randomIntegerTensor(g.outputShape, in: -3...3, &generator)
    let exactGradWeight = Tensor(shape: g.weightShape)
    let exactGradBias = Tensor(shape: [g.outChannels])
    Conv2dReference.backward(
        geometry: g, gradInput: Tensor(shape: g.inputShape), gradWeight: exactGradWeight,
        gradBias: exactGradBias, gradOutput: upstream, input: input,
        weight: Tensor(shape: g.weightShape))
    for i in 0..<exactGradWeight.count {
        precondition(exactGradWeight[i] == exactGradWeight[i].rounded(), "reference not exact")
    }

    for pool in poolsToCompare {
        let kernel = Conv2dKernel(geometry: g)
        let gradWeight = Tensor(shape: g.weightShape)
        let gradBias = Tensor(shape: [g.outChannels])
        for run in 0..<40 {
            gradWeight.fill(.nan)
            kernel.backwardWeight(
                gradWeight: gradWeight, gradBias: gradBias, gradOutput: upstream, input: input,
                pool: pool)
            let differing = (0..<gradWeight.count).filter {
                gradWeight[$0].bitPattern != exactGradWeight[$0].bitPattern
            }
            if !differing.isEmpty {
                expectBitwiseEqual(
                    gradWeight, exactGradWeight,
                    "gradWeight of geometry \(geometryIndex), \(pool.threadCount) threads, run \(run)"
                )
                break
            }
        }
        expectBitwiseEqual(
            gradBias, exactGradBias,
            "gradBias of geometry \(geometryIndex), \(pool.threadCount) threads")
    }
}

/// 3 blocks and a partial one, so three threads each get blocks and the tail runs.
@Test func reductionIsBitwiseIdenticalAcrossThreadCounts() {
    var generator = SeededGenerator(seed: 71)
    let count = 3 * Reduction.blockSize + 1_001
    let a = randomTensor([count], &generator)
    let b = randomTensor([count], &generator)
    var exactDot = 0.0
    for i in 0..<count { exactDot += Double(a[i]) * Double(b[i]) }

    let baselineDot = Reduction.dot(a, b, pool: poolsToCompare[0])
    let baselineNorm = Reduction.norm(a, pool: poolsToCompare[0])
    #expect(abs(baselineDot - exactDot) <= 1e-9 * Double(count))
    #expect(abs(baselineNorm - a.norm()) <= 1e-12 * a.norm())
    for pool in poolsToCompare.dropFirst() {
        let dot = Reduction.dot(a, b, pool: pool)
        let norm = Reduction.norm(a, pool: pool)
        #expect(dot.bitPattern == baselineDot.bitPattern, "dot, \(pool.threadCount) threads")
        #expect(norm.bitPattern == baselineNorm.bitPattern, "norm, \(pool.threadCount) threads")
    }
}
