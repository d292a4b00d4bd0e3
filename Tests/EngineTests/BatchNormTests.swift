import Engine
import Testing

private let floatTolerance = Tolerance(absolute: 2e-5, relative: 1e-4)

/// Input `[N, C, spatial...]` shapes: 4-D images, 2-D features, and a 3-D case.
private let shapes: [[Int]] = [[3, 4, 3, 5], [6, 3], [2, 3, 7]]

@Test(arguments: shapes)
func batchNormTrainingMatchesReference(shape: [Int]) {
    let (batch, channels) = (shape[0], shape[1])
    let spatial = shape.dropFirst(2).reduce(1, *)
    let n = Double(batch * spatial)
    var generator = SeededGenerator(seed: UInt64(shape.reduce(1, *)))
    // A non-zero mean per channel checks that the variance is taken around the mean.
    let input = randomTensor(shape, in: 2...5, &generator)
    let gamma = randomTensor([channels], in: 0.5...1.5, &generator)
    let beta = randomTensor([channels], &generator)
    let upstream = randomTensor(shape, &generator)
    let runningMean = randomTensor([channels], &generator)
    let runningVar = randomTensor([channels], in: 0.5...2, &generator)
    let (oldMean, oldVar) = (runningMean.doubles, runningVar.doubles)
    let (momentum, eps): (Float, Float) = (0.1, 1e-5)
    let pool = ThreadPool(threads: 2)

    #expect(throws: Never.self) { try BatchNorm.validateTrainingInput(input) }
    let output = Tensor(shape: shape)
    let savedMean = Tensor(shape: [channels])
    let savedInvStd = Tensor(shape: [channels])
    BatchNorm.forwardTraining(
        output: output, input: input, gamma: gamma, beta: beta, runningMean: runningMean,
        runningVar: runningVar, savedMean: savedMean, savedInvStd: savedInvStd,
        momentum: momentum, eps: eps, pool: pool)

    let (x, g, b, r) = (input.doubles, gamma.doubles, beta.doubles, upstream.doubles)
    let reference = DoubleReference.batchNormTraining(
        x, gamma: g, beta: b, batch: batch, channels: channels, spatial: spatial, eps: Double(eps))
    expectClose(output, reference.output, tolerance: floatTolerance, "output")
    expectClose(savedMean, reference.mean, tolerance: floatTolerance, "savedMean")
    expectClose(
        savedInvStd, reference.variance.map { 1 / ($0 + Double(eps)).squareRoot() },
        tolerance: floatTolerance, "savedInvStd")
    let m = Double(momentum)
    expectClose(
        runningMean, (0..<channels).map { (1 - m) * oldMean[$0] + m * reference.mean[$0] },
        tolerance: floatTolerance, "runningMean")
    expectClose(
        runningVar,
        (0..<channels).map { (1 - m) * oldVar[$0] + m * reference.variance[$0] * n / (n - 1) },
        tolerance: floatTolerance, "runningVar (unbiased)")

    let gradInput = Tensor(shape: shape)
    let gradGamma = Tensor(shape: [channels])
    let gradBeta = Tensor(shape: [channels])
    gradInput.fill(7)
    gradGamma.fill(7)
    gradBeta.fill(7)
    BatchNorm.backward(
        gradInput: gradInput, gradGamma: gradGamma, gradBeta: gradBeta, gradOutput: upstream,
        input: input, gamma: gamma, savedMean: savedMean, savedInvStd: savedInvStd, pool: pool)

    func loss(_ x: [Double], _ g: [Double], _ b: [Double]) -> Double {
        let y = DoubleReference.batchNormTraining(
            x, gamma: g, beta: b, batch: batch, channels: channels, spatial: spatial,
            eps: Double(eps)
        ).output
        return weightedSum(y, r)
    }
    let expectedGradInput = numericalGradient(of: x) { loss($0, g, b) }
    // The gradient sums of the input gradient are near zero by construction; allow for the
    // cancellation with a slightly larger absolute term.
    expectClose(
        gradInput, expectedGradInput, tolerance: Tolerance(absolute: 5e-5, relative: 1e-4),
        "gradInput")
    expectClose(
        gradGamma, numericalGradient(of: g) { loss(x, $0, b) }, tolerance: floatTolerance,
        "gradGamma")
    expectClose(
        gradBeta, numericalGradient(of: b) { loss(x, g, $0) }, tolerance: floatTolerance,
        "gradBeta")
}

@Test func batchNormVarianceIsAccurateForLargeMean() {
    // Values 1000 + {0, 1, 2, 3}: a one-pass float E[x^2] - E[x]^2 loses the variance 1.25.
    let input = Tensor(shape: [4, 1], values: [1000, 1001, 1002, 1003])
    let output = Tensor(shape: [4, 1])
    let savedMean = Tensor(shape: [1])
    let savedInvStd = Tensor(shape: [1])
    BatchNorm.forwardTraining(
        output: output, input: input, gamma: Tensor(shape: [1], values: [1]),
        beta: Tensor(shape: [1]), runningMean: Tensor(shape: [1]),
        runningVar: Tensor(shape: [1], values: [1]), savedMean: savedMean,
        savedInvStd: savedInvStd, momentum: 0.1, eps: 0, pool: ThreadPool(threads: 1))
    expectClose(savedMean, [1001.5], tolerance: Tolerance(absolute: 0, relative: 1e-7), "mean")
    expectClose(
        savedInvStd, [1 / 1.25.squareRoot()], tolerance: Tolerance(absolute: 0, relative: 1e-6),
        "invStd")
}

@Test func batchNormInferenceUsesRunningStatistics() {
    let input = Tensor(shape: [2, 2, 1, 2], values: [1, 2, 3, 4, 5, 6, 7, 8])
    let output = Tensor(shape: input.shape)
    let gamma = Tensor(shape: [2], values: [2, 0.5])
    let beta = Tensor(shape: [2], values: [1, -1])
    let runningMean = Tensor(shape: [2], values: [3, 5])
    let runningVar = Tensor(shape: [2], values: [4, 16])
    BatchNorm.forwardInference(
        output: output, input: input, gamma: gamma, beta: beta, runningMean: runningMean,
        runningVar: runningVar, eps: 0, pool: ThreadPool(threads: 1))
    // Channel 0: 2 * (x - 3) / 2 + 1; channel 1: 0.5 * (x - 5) / 4 - 1.
    let expected: [Double] = [
        -1, 0, -1 + 0.5 * -2 / 4 + 0, -1 + 0.5 * -1 / 4,
        3, 4, -1 + 0.5 * 2 / 4, -1 + 0.5 * 3 / 4,
    ]
    expectClose(output, expected, tolerance: Tolerance(absolute: 1e-6, relative: 1e-6), "output")
}

@Test func batchNormRejectsOneValuePerChannel() {
    let single = Tensor(shape: [1, 3, 1, 1])
    #expect(throws: BatchNormError.tooFewValuesPerChannel(inputShape: [1, 3, 1, 1])) {
        try BatchNorm.validateTrainingInput(single)
    }
    let message = BatchNormError.tooFewValuesPerChannel(inputShape: [1, 3]).description
    #expect(message.hasPrefix("Expected more than 1 value per channel when training"))
    #expect(throws: Never.self) {
        try BatchNorm.validateTrainingInput(Tensor(shape: [1, 3, 2, 1]))
    }
    #expect(throws: Never.self) { try BatchNorm.validateTrainingInput(Tensor(shape: [2, 3])) }
}
