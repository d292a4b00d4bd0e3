import Engine
import FixtureSupport
import Foundation
import Testing

/// Checks every kernel against PyTorch results stored in `Fixtures/` by
/// `scripts/make-kernel-fixtures.py`. Each output and gradient must lie within 1e-4 of the
/// largest magnitude in the expected tensor, so the bound scales with the tensor and a
/// near-zero element is not held to a relative bound it cannot meet in Float32.

extension Fixture {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures")

    init(_ name: String) throws { try self.init(name, in: Self.directory) }
}

/// Records an issue when `observed` does not match the fixture's tensor (see
/// `Fixture.mismatch`).
func expectMatches(
    _ observed: Tensor, _ fixture: Fixture, _ tensorName: String,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    if let mismatch = fixture.mismatch(observed, tensorName) {
        Issue.record(Comment(rawValue: mismatch), sourceLocation: sourceLocation)
    }
}

private let testPool = ThreadPool(threads: 2)

/// Runs the batch-norm backward pass on the fixture's `gradOutput` with the statistics the
/// forward pass saved, and checks dL/dx, dL/dgamma and dL/dbeta against the fixture.
private func expectBatchNormBackwardMatches(
    _ fixture: Fixture, input: Tensor, gamma: Tensor, savedMean: Tensor, savedInvStd: Tensor,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    let channels = gamma.count
    let gradInput = Tensor(shape: input.shape)
    let gradGamma = Tensor(shape: [channels])
    let gradBeta = Tensor(shape: [channels])
    BatchNorm.backward(
        gradInput: gradInput, gradGamma: gradGamma, gradBeta: gradBeta,
        gradOutput: fixture.tensor("gradOutput"), input: input, gamma: gamma,
        savedMean: savedMean, savedInvStd: savedInvStd, pool: testPool)
    expectMatches(gradInput, fixture, "gradInput", sourceLocation: sourceLocation)
    expectMatches(gradGamma, fixture, "gradGamma", sourceLocation: sourceLocation)
    expectMatches(gradBeta, fixture, "gradBeta", sourceLocation: sourceLocation)
}

@Test(arguments: [
    "conv3x3_s1", "conv3x3_s1_bias", "conv3x3_s2", "conv3x3_s2_bias", "conv1x1_s2",
    "conv1x1_s2_bias", "conv7x7_s2_p3", "conv7x7_s2_p3_bias",
])
func convMatchesPyTorch(name: String) throws {
    let fixture = try Fixture(name)
    let input = fixture.tensor("input")
    let weight = fixture.tensor("weight")
    let hasBias = name.hasSuffix("_bias")
    let bias = hasBias ? fixture.tensor("bias") : nil
    let geometry = ConvGeometry(
        batch: input.shape[0], inChannels: input.shape[1], outChannels: weight.shape[0],
        inHeight: input.shape[2], inWidth: input.shape[3], kernelSize: fixture.int("kernelSize"),
        stride: fixture.int("stride"), padding: fixture.int("padding"))
    let kernel = Conv2dKernel(geometry: geometry)

    let output = Tensor(shape: geometry.outputShape)
    kernel.forward(output: output, input: input, weight: weight, bias: bias, pool: testPool)
    expectMatches(output, fixture, "output")

    let gradInput = Tensor(shape: geometry.inputShape)
    let gradWeight = Tensor(shape: geometry.weightShape)
    let gradBias = hasBias ? Tensor(shape: [geometry.outChannels]) : nil
    kernel.backward(
        gradInput: gradInput, gradWeight: gradWeight, gradBias: gradBias,
        gradOutput: fixture.tensor("gradOutput"), input: input, weight: weight, pool: testPool)
    expectMatches(gradInput, fixture, "gradInput")
    expectMatches(gradWeight, fixture, "gradWeight")
    if let gradBias { expectMatches(gradBias, fixture, "gradBias") }
}

@Test func batchNormTrainingMatchesPyTorch() throws {
    let fixture = try Fixture("batchnorm_train")
    let input = fixture.tensor("input")
    let channels = input.shape[1]
    let output = Tensor(shape: input.shape)
    let runningMean = fixture.tensor("runningMeanBefore")
    let runningVar = fixture.tensor("runningVarBefore")
    let savedMean = Tensor(shape: [channels])
    let savedInvStd = Tensor(shape: [channels])
    let gamma = fixture.tensor("gamma")
    BatchNorm.forwardTraining(
        output: output, input: input, gamma: gamma, beta: fixture.tensor("beta"),
        runningMean: runningMean, runningVar: runningVar, savedMean: savedMean,
        savedInvStd: savedInvStd, momentum: fixture.float("momentum"), eps: fixture.float("eps"),
        pool: testPool)
    expectMatches(output, fixture, "output")
    expectMatches(runningMean, fixture, "runningMeanAfter")
    expectMatches(runningVar, fixture, "runningVarAfter")

    expectBatchNormBackwardMatches(
        fixture, input: input, gamma: gamma, savedMean: savedMean, savedInvStd: savedInvStd)
}

@Test func reluMatchesPyTorch() throws {
    let fixture = try Fixture("relu")
    let input = fixture.tensor("input")
    let output = Tensor(shape: input.shape)
    ReLU.forward(output: output, input: input, pool: testPool)
    expectMatches(output, fixture, "output")
    let gradInput = Tensor(shape: input.shape)
    ReLU.backward(
        gradInput: gradInput, gradOutput: fixture.tensor("gradOutput"), output: output,
        pool: testPool)
    expectMatches(gradInput, fixture, "gradInput")
}

/// Runs max pooling on a fixture and compares output, indices (exactly) and gradInput.
private func checkMaxPool(_ name: String) throws {
    let fixture = try Fixture(name)
    let input = fixture.tensor("input")
    let outputShape = fixture.shape("output")
    let output = Tensor(shape: outputShape)
    var indices = [Int32](repeating: -1, count: output.count)
    MaxPool2d.forward(
        output: output, indices: &indices, input: input, kernelSize: fixture.int("kernelSize"),
        stride: fixture.int("stride"), padding: fixture.int("padding"), pool: testPool)
    expectMatches(output, fixture, "output")
    let expectedIndices = fixture.floats("indices").map { Int32($0) }
    for i in indices.indices where indices[i] != expectedIndices[i] {
        Issue.record(
            "\(name).indices: element \(i) expected \(expectedIndices[i]), observed \(indices[i])")
    }
    let gradInput = Tensor(shape: input.shape)
    MaxPool2d.backward(
        gradInput: gradInput, gradOutput: fixture.tensor("gradOutput"), indices: indices,
        pool: testPool)
    expectMatches(gradInput, fixture, "gradInput")
}

@Test func maxPoolMatchesPyTorch() throws {
    try checkMaxPool("maxpool3x3_s2_p1")
}

/// Tied windows, a NaN shared by four overlapping windows, and a plane of -inf: the chosen
/// indices and the summed gradients must be PyTorch's.
@Test func maxPoolTiesAndNaNMatchPyTorch() throws {
    try checkMaxPool("maxpool_ties_nan")
}

@Test func globalAvgPoolMatchesPyTorch() throws {
    let fixture = try Fixture("global_avg_pool")
    let input = fixture.tensor("input")
    let output = Tensor(shape: fixture.shape("output"))
    GlobalAvgPool.forward(output: output, input: input, pool: testPool)
    expectMatches(output, fixture, "output")
    let gradInput = Tensor(shape: input.shape)
    GlobalAvgPool.backward(
        gradInput: gradInput, gradOutput: fixture.tensor("gradOutput"), pool: testPool)
    expectMatches(gradInput, fixture, "gradInput")
}

@Test func linearMatchesPyTorch() throws {
    let fixture = try Fixture("linear")
    let input = fixture.tensor("input")
    let weight = fixture.tensor("weight")
    let output = Tensor(shape: fixture.shape("output"))
    Linear.forward(
        output: output, input: input, weight: weight, bias: fixture.tensor("bias"),
        pool: testPool)
    expectMatches(output, fixture, "output")
    let gradInput = Tensor(shape: input.shape)
    let gradWeight = Tensor(shape: weight.shape)
    let gradBias = Tensor(shape: [weight.shape[0]])
    Linear.backward(
        gradInput: gradInput, gradWeight: gradWeight, gradBias: gradBias,
        gradOutput: fixture.tensor("gradOutput"), input: input, weight: weight, pool: testPool)
    expectMatches(gradInput, fixture, "gradInput")
    expectMatches(gradWeight, fixture, "gradWeight")
    expectMatches(gradBias, fixture, "gradBias")
}

@Test func softmaxCrossEntropyMatchesPyTorch() throws {
    let fixture = try Fixture("softmax_cross_entropy")
    let logits = fixture.tensor("logits")
    let labels = fixture.floats("labels").map { Int32($0) }
    let probabilities = Tensor(shape: logits.shape)
    let result = SoftmaxCrossEntropy.forward(
        probabilities: probabilities, logits: logits, labels: labels)
    expectMatches(Tensor(shape: [1], values: [Float(result.loss)]), fixture, "loss")
    expectMatches(probabilities, fixture, "probabilities")
    let gradLogits = Tensor(shape: logits.shape)
    SoftmaxCrossEntropy.backward(
        gradLogits: gradLogits, probabilities: probabilities, labels: labels)
    expectMatches(gradLogits, fixture, "gradLogits")
}

@Test func sgdMomentumMatchesPyTorch() throws {
    let fixture = try Fixture("sgd_momentum")
    let parameter = fixture.tensor("parameterBefore")
    let momentumBuffer = Tensor(shape: parameter.shape)
    for gradientName in ["gradient1", "gradient2"] {
        SGD.step(
            parameter: parameter, gradient: fixture.tensor(gradientName),
            momentumBuffer: momentumBuffer, learningRate: fixture.float("learningRate"),
            momentum: fixture.float("momentum"), weightDecay: fixture.float("weightDecay"),
            pool: testPool)
    }
    expectMatches(parameter, fixture, "parameterAfter")
    expectMatches(momentumBuffer, fixture, "momentumBufferAfter")
}

/// Batch-norm backward against PyTorch with upstream gradients that vary within each channel
/// (an all-ones gradient would make gradInput zero and check nothing). Channel 2's upstream
/// gradient is constant, so its gradInput must vanish while the others must not.
@Test func batchNormBackwardNonUniformGradientMatchesPyTorch() throws {
    let fixture = try Fixture("batchnorm_backward_nonuniform")
    let input = fixture.tensor("input")
    let channels = input.shape[1]
    let spatial = input.shape[2] * input.shape[3]
    let expectedGradInput = fixture.floats("gradInput")
    let overallScale = expectedGradInput.map { abs($0) }.max() ?? 0
    for c in 0..<channels {
        var channelScale: Float = 0
        for n in 0..<input.shape[0] {
            let start = (n * channels + c) * spatial
            for i in start..<(start + spatial) {
                channelScale = max(channelScale, abs(expectedGradInput[i]))
            }
        }
        if c == 2 {
            #expect(channelScale < 1e-5 * overallScale, "constant-gradient channel \(c)")
        } else {
            #expect(channelScale > 0.01 * overallScale, "non-trivial gradInput in channel \(c)")
        }
    }

    let output = Tensor(shape: input.shape)
    let savedMean = Tensor(shape: [channels])
    let savedInvStd = Tensor(shape: [channels])
    let gamma = fixture.tensor("gamma")
    BatchNorm.forwardTraining(
        output: output, input: input, gamma: gamma, beta: fixture.tensor("beta"),
        runningMean: Tensor(shape: [channels]),
        runningVar: Tensor(shape: [channels], values: [Float](repeating: 1, count: channels)),
        savedMean: savedMean, savedInvStd: savedInvStd, momentum: fixture.float("momentum"),
        eps: fixture.float("eps"), pool: testPool)
    expectMatches(output, fixture, "output")

    expectBatchNormBackwardMatches(
        fixture, input: input, gamma: gamma, savedMean: savedMean, savedInvStd: savedInvStd)
}
