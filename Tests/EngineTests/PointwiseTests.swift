import Engine
import Testing

@Test func reluForwardAndBackwardMatchDefinition() {
    var generator = SeededGenerator(seed: 21)
    // Values at least 0.1 away from the kink, so finite differences do not straddle it.
    let magnitudes = randomTensor([3, 4, 5], in: 0.1...2, &generator)
    let input = Tensor(shape: magnitudes.shape)
    for i in 0..<input.count {
        input[i] = Bool.random(using: &generator) ? magnitudes[i] : -magnitudes[i]
    }
    let upstream = randomTensor(input.shape, &generator)
    let pool = ThreadPool(threads: 2)
    let output = Tensor(shape: input.shape)
    ReLU.forward(output: output, input: input, pool: pool)
    expectClose(
        output, DoubleReference.relu(input.doubles), tolerance: Tolerance(absolute: 0, relative: 0),
        "forward")

    let gradInput = Tensor(shape: input.shape)
    ReLU.backward(gradInput: gradInput, gradOutput: upstream, output: output, pool: pool)
    let expected = numericalGradient(of: input.doubles) {
        weightedSum(DoubleReference.relu($0), upstream.doubles)
    }
    expectClose(
        gradInput, expected, tolerance: Tolerance(absolute: 1e-6, relative: 1e-6), "gradInput")
}

@Test func reluHandlesZeroAndNaN() {
    // 20 elements so both the 16-lane loop and the scalar tail see the special values.
    var values = [Float](repeating: 1, count: 20)
    values[0] = 0
    values[1] = .nan
    values[2] = -3
    values[17] = .nan
    values[18] = 0
    values[19] = -1
    let input = Tensor(shape: [20], values: values)
    let output = Tensor(shape: [20])
    let pool = ThreadPool(threads: 1)
    ReLU.forward(output: output, input: input, pool: pool)
    #expect(output[0] == 0)
    #expect(output[1].isNaN)
    #expect(output[2] == 0)
    #expect(output[17].isNaN)
    #expect(output[19] == 0)

    let upstream = Tensor(shape: [20], values: (0..<20).map { Float($0) + 0.5 })
    let gradInput = Tensor(shape: [20])
    ReLU.backward(gradInput: gradInput, gradOutput: upstream, output: output, pool: pool)
    // threshold_backward(grad, result, 0) gives 0 where result <= 0, and passes the gradient
    // where the result is NaN.
    #expect(gradInput[0] == 0)
    #expect(gradInput[1] == 1.5)
    #expect(gradInput[2] == 0)
    #expect(gradInput[3] == 3.5)
    #expect(gradInput[17] == 17.5)
    #expect(gradInput[18] == 0)
    #expect(gradInput[19] == 0)
}

@Test func elementwiseHelpersComputeExactValues() {
    let pool = ThreadPool(threads: 3)
    let count = 70_001
    let a = Tensor(shape: [count], values: (0..<count).map { Float($0 % 97) })
    let b = Tensor(shape: [count], values: (0..<count).map { Float(-($0 % 13)) * 0.5 })
    let sum = Tensor(shape: [count])
    Elementwise.add(output: sum, a, b, pool: pool)
    let exact = Tolerance(absolute: 0, relative: 0)
    let first: [Double] = a.doubles
    let second: [Double] = b.doubles
    let expectedSum: [Double] = (0..<count).map { first[$0] + second[$0] }
    expectClose(sum, expectedSum, tolerance: exact, "add")

    Elementwise.accumulate(into: sum, from: a, pool: pool)
    let expectedAccumulated: [Double] = (0..<count).map { expectedSum[$0] + first[$0] }
    expectClose(sum, expectedAccumulated, tolerance: exact, "accumulate")

    Elementwise.scale(sum, by: -0.5, pool: pool)
    let expectedScaled: [Double] = expectedAccumulated.map { -0.5 * $0 }
    expectClose(sum, expectedScaled, tolerance: exact, "scale")
}

@Test func addGradientIsUpstreamForBothInputs() {
    // d(sum((a + b) * r))/da = r, checked numerically against the kernel's forward.
    var generator = SeededGenerator(seed: 23)
    let a = randomTensor([2, 3, 4], &generator)
    let b = randomTensor([2, 3, 4], &generator)
    let upstream = randomTensor([2, 3, 4], &generator)
    let pool = ThreadPool(threads: 1)
    let output = Tensor(shape: a.shape)
    Elementwise.add(output: output, a, b, pool: pool)
    expectClose(
        output, zip(a.doubles, b.doubles).map { $0 + $1 },
        tolerance: Tolerance(absolute: 1e-7, relative: 1e-7), "forward")
    let expected = numericalGradient(of: a.doubles) { x in
        weightedSum(zip(x, b.doubles).map { $0 + $1 }, upstream.doubles)
    }
    expectClose(upstream, expected, tolerance: Tolerance(absolute: 1e-7, relative: 1e-6), "gradA")
}

/// 37 elements: two full vectors and a scalar tail, with a NaN, -0 and a sum of exactly 0.
@Test func addReLUMatchesAddThenReLU() {
    var generator = SeededGenerator(seed: 81)
    let a = randomTensor([37], &generator)
    let b = randomTensor([37], &generator)
    a[3] = .nan
    a[20] = -0.0
    b[20] = 0
    a[36] = 0.5
    b[36] = -0.5
    let pool = ThreadPool(threads: 2)
    let sum = Tensor(shape: [37])
    Elementwise.add(output: sum, a, b, pool: pool)
    let expected = Tensor(shape: [37])
    ReLU.forward(output: expected, input: sum, pool: pool)
    let fused = Tensor(shape: [37])
    Elementwise.addReLU(output: fused, a, b, pool: pool)
    expectBitwiseEqual(fused, expected, "addReLU vs add then ReLU")
    #expect(fused[3].isNaN)
}
