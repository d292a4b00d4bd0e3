import Engine
import Foundation
import Testing

private let floatTolerance = Tolerance(absolute: 2e-5, relative: 1e-4)

@Test(arguments: [true, false])
func linearGradientsMatchFiniteDifferences(hasBias: Bool) {
    let (batch, inFeatures, outFeatures) = (3, 21, 5)
    var generator = SeededGenerator(seed: hasBias ? 41 : 42)
    let input = randomTensor([batch, inFeatures], &generator)
    let weight = randomTensor([outFeatures, inFeatures], &generator)
    let bias = hasBias ? randomTensor([outFeatures], &generator) : nil
    let upstream = randomTensor([batch, outFeatures], &generator)
    let pool = ThreadPool(threads: 2)

    let output = Tensor(shape: [batch, outFeatures])
    Linear.forward(output: output, input: input, weight: weight, bias: bias, pool: pool)
    let (x, w, b, r) = (input.doubles, weight.doubles, bias?.doubles, upstream.doubles)
    func reference(_ x: [Double], _ w: [Double], _ b: [Double]?) -> [Double] {
        DoubleReference.linear(
            x, w, b, batch: batch, inFeatures: inFeatures, outFeatures: outFeatures)
    }
    expectClose(output, reference(x, w, b), tolerance: floatTolerance, "forward")

    let gradInput = Tensor(shape: input.shape)
    let gradWeight = Tensor(shape: weight.shape)
    let gradBias = hasBias ? Tensor(shape: [outFeatures]) : nil
    gradInput.fill(7)
    gradWeight.fill(7)
    gradBias?.fill(7)
    Linear.backward(
        gradInput: gradInput, gradWeight: gradWeight, gradBias: gradBias, gradOutput: upstream,
        input: input, weight: weight, pool: pool)
    expectClose(
        gradInput, numericalGradient(of: x) { weightedSum(reference($0, w, b), r) },
        tolerance: floatTolerance, "gradInput")
    expectClose(
        gradWeight, numericalGradient(of: w) { weightedSum(reference(x, $0, b), r) },
        tolerance: floatTolerance, "gradWeight")
    if let b, let gradBias {
        expectClose(
            gradBias, numericalGradient(of: b) { weightedSum(reference(x, w, $0), r) },
            tolerance: floatTolerance, "gradBias")
    }
}

@Test func softmaxCrossEntropyMatchesReference() {
    let (batch, classes) = (4, 10)
    var generator = SeededGenerator(seed: 43)
    let logits = randomTensor([batch, classes], in: -3...3, &generator)
    let labels: [Int32] = [0, 9, 4, 4]
    let probabilities = Tensor(shape: logits.shape)
    let (loss, correct) = SoftmaxCrossEntropy.forward(
        probabilities: probabilities, logits: logits, labels: labels)
    let expectedLoss = DoubleReference.softmaxCrossEntropy(
        logits.doubles, labels: labels, classes: classes)
    expectClose(
        [loss], [expectedLoss], tolerance: Tolerance(absolute: 1e-12, relative: 1e-12), "loss")

    var expectedCorrect = 0
    var expectedProbabilities: [Double] = []
    for n in 0..<batch {
        let row = Array(logits.doubles[(n * classes)..<((n + 1) * classes)])
        if row.firstIndex(of: row.max()!) == Int(labels[n]) { expectedCorrect += 1 }
        let exps = row.map { exp($0 - row.max()!) }
        expectedProbabilities += exps.map { $0 / exps.reduce(0, +) }
    }
    #expect(correct == expectedCorrect)
    expectClose(
        probabilities, expectedProbabilities, tolerance: Tolerance(absolute: 1e-7, relative: 1e-6),
        "probabilities")

    let gradLogits = Tensor(shape: logits.shape)
    SoftmaxCrossEntropy.backward(
        gradLogits: gradLogits, probabilities: probabilities, labels: labels)
    let expected = numericalGradient(of: logits.doubles) {
        DoubleReference.softmaxCrossEntropy($0, labels: labels, classes: classes)
    }
    expectClose(
        gradLogits, expected, tolerance: Tolerance(absolute: 1e-7, relative: 1e-5), "gradLogits")
}

@Test func softmaxCrossEntropyIsFiniteForHugeLogits() {
    // Row 0: label logit 1e8 + 128 is the max. Row 1: the label is 256 below the max, so
    // its loss is 256 (exp(-256) vanishes next to 1). A naive exp(1e8) would overflow.
    let logits = Tensor(shape: [2, 3], values: [1e8, 1e8 + 128, -1e8, 1e8 + 256, 1e8, 1e8])
    let labels: [Int32] = [1, 2]
    let probabilities = Tensor(shape: [2, 3])
    let (loss, correct) = SoftmaxCrossEntropy.forward(
        probabilities: probabilities, logits: logits, labels: labels)
    #expect(loss.isFinite)
    let expectedLoss = DoubleReference.softmaxCrossEntropy(
        logits.doubles, labels: labels, classes: 3)
    expectClose(
        [loss], [expectedLoss], tolerance: Tolerance(absolute: 1e-9, relative: 1e-12), "loss")
    expectClose([loss], [128], tolerance: Tolerance(absolute: 1e-9, relative: 0), "loss by hand")
    #expect(correct == 1)
    #expect(probabilities.toArray().allSatisfy { $0.isFinite })

    let gradLogits = Tensor(shape: [2, 3])
    SoftmaxCrossEntropy.backward(
        gradLogits: gradLogits, probabilities: probabilities, labels: labels)
    expectClose(
        gradLogits, [0, 0, 0, 0.5, 0, -0.5], tolerance: Tolerance(absolute: 1e-7, relative: 0),
        "gradLogits")
}

@Test func softmaxCrossEntropyArgmaxTakesFirstMax() {
    // Both rows tie at their first two classes: the first max (class 0) is the prediction.
    let logits = Tensor(shape: [2, 3], values: [2, 2, 1, 5, 5, 5])
    let probabilities = Tensor(shape: [2, 3])
    let firstLabels = SoftmaxCrossEntropy.forward(
        probabilities: probabilities, logits: logits, labels: [0, 0])
    let secondLabels = SoftmaxCrossEntropy.forward(
        probabilities: probabilities, logits: logits, labels: [1, 2])
    #expect(firstLabels.correct == 2)
    #expect(secondLabels.correct == 0)
}

@Test func sgdMatchesHandComputedSteps() {
    // lr 0.1, momentum 0.9, weight decay 0.01, parameters [1, -2], gradients
    // [0.5, 1] then [-0.25, 3]:
    //   step 1: d = [0.51, 0.98],  buf = d,                   p = [0.949, -2.098]
    //   step 2: d = [-0.24051, 2.97902], buf = 0.9 buf + d = [0.21849, 3.86102],
    //           p = [0.927151, -2.484102]
    let pool = ThreadPool(threads: 1)
    let parameter = Tensor(shape: [2], values: [1, -2])
    let buffer = Tensor(shape: [2])
    let tolerance = Tolerance(absolute: 1e-6, relative: 1e-6)
    SGD.step(
        parameter: parameter, gradient: Tensor(shape: [2], values: [0.5, 1]),
        momentumBuffer: buffer, learningRate: 0.1, momentum: 0.9, weightDecay: 0.01, pool: pool)
    expectClose(parameter, [0.949, -2.098], tolerance: tolerance, "parameter after step 1")
    expectClose(buffer, [0.51, 0.98], tolerance: tolerance, "buffer after step 1")
    SGD.step(
        parameter: parameter, gradient: Tensor(shape: [2], values: [-0.25, 3]),
        momentumBuffer: buffer, learningRate: 0.1, momentum: 0.9, weightDecay: 0.01, pool: pool)
    expectClose(parameter, [0.927151, -2.484102], tolerance: tolerance, "parameter after step 2")
    expectClose(buffer, [0.21849, 3.86102], tolerance: tolerance, "buffer after step 2")

    // Without momentum: p -= lr * d. Step 2 of element 0: d = -0.25 + 0.00949 = -0.24051.
    let plain = Tensor(shape: [2], values: [1, -2])
    let unused = Tensor(shape: [2])
    SGD.step(
        parameter: plain, gradient: Tensor(shape: [2], values: [0.5, 1]), momentumBuffer: unused,
        learningRate: 0.1, momentum: 0, weightDecay: 0.01, pool: pool)
    SGD.step(
        parameter: plain, gradient: Tensor(shape: [2], values: [-0.25, 3]),
        momentumBuffer: unused, learningRate: 0.1, momentum: 0, weightDecay: 0.01, pool: pool)
    expectClose(
        plain, [0.973051, -2.098 - 0.297902], tolerance: tolerance, "parameter, no momentum")
    expectClose(unused, [0, 0], tolerance: Tolerance(absolute: 0, relative: 0), "unused buffer")
}
