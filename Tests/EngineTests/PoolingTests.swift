import Engine
import Testing

@Test func globalAvgPoolMatchesReference() {
    var generator = SeededGenerator(seed: 31)
    let input = randomTensor([3, 4, 5, 6], &generator)
    let upstream = randomTensor([3, 4], &generator)
    let pool = ThreadPool(threads: 2)
    let output = Tensor(shape: [3, 4])
    GlobalAvgPool.forward(output: output, input: input, pool: pool)
    let reference = { (x: [Double]) in DoubleReference.globalAvgPool(x, planes: 12, planeSize: 30) }
    expectClose(
        output, reference(input.doubles), tolerance: Tolerance(absolute: 1e-6, relative: 1e-6),
        "forward")

    let gradInput = Tensor(shape: input.shape)
    GlobalAvgPool.backward(gradInput: gradInput, gradOutput: upstream, pool: pool)
    let expected = numericalGradient(of: input.doubles) {
        weightedSum(reference($0), upstream.doubles)
    }
    expectClose(
        gradInput, expected, tolerance: Tolerance(absolute: 1e-7, relative: 1e-6), "gradInput")
}

@Test(arguments: [(3, 2, 1), (2, 2, 0), (3, 1, 1), (2, 1, 1)])
func maxPoolMatchesFiniteDifferences(kernelSize: Int, stride: Int, padding: Int) {
    // Distinct values 0.01 apart, shuffled: no ties, and a step of 1e-5 never changes a max.
    var generator = SeededGenerator(seed: UInt64(kernelSize * 100 + stride * 10 + padding))
    let (planes, height, width) = (6, 7, 6)
    let count = planes * height * width
    let values = (0..<count).map { Float($0) * 0.01 - 1 }.shuffled(using: &generator)
    let input = Tensor(shape: [2, 3, height, width], values: values)
    let outHeight = MaxPool2d.outputSize(
        inputSize: height, kernelSize: kernelSize, stride: stride, padding: padding)
    let outWidth = MaxPool2d.outputSize(
        inputSize: width, kernelSize: kernelSize, stride: stride, padding: padding)
    let outShape = [2, 3, outHeight, outWidth]
    let upstream = randomTensor(outShape, &generator)
    let pool = ThreadPool(threads: 2)

    let output = Tensor(shape: outShape)
    var indices = [Int32](repeating: -1, count: output.count)
    MaxPool2d.forward(
        output: output, indices: &indices, input: input, kernelSize: kernelSize, stride: stride,
        padding: padding, pool: pool)
    let reference = { (x: [Double]) in
        DoubleReference.maxPool(
            x, planes: planes, height: height, width: width, kernelSize: kernelSize,
            stride: stride, padding: padding)
    }
    expectClose(
        output, reference(input.doubles), tolerance: Tolerance(absolute: 0, relative: 0), "forward")

    let gradInput = Tensor(shape: input.shape)
    gradInput.fill(7)
    MaxPool2d.backward(gradInput: gradInput, gradOutput: upstream, indices: indices, pool: pool)
    let expected = numericalGradient(of: input.doubles) {
        weightedSum(reference($0), upstream.doubles)
    }
    expectClose(
        gradInput, expected, tolerance: Tolerance(absolute: 1e-6, relative: 1e-6), "gradInput")
}

@Test func maxPoolTiesGoToFirstMax() {
    // A 4x4 plane of equal values: with k3 s2 p1, each window's first in-image position wins.
    let input = Tensor(shape: [1, 1, 4, 4], values: [Float](repeating: 2, count: 16))
    let output = Tensor(shape: [1, 1, 2, 2])
    var indices = [Int32](repeating: -1, count: 4)
    let pool = ThreadPool(threads: 1)
    MaxPool2d.forward(output: output, indices: &indices, input: input, pool: pool)
    #expect(output.toArray() == [2, 2, 2, 2])
    // Windows start at rows/columns -1 (clamped to 0) and 1.
    #expect(indices == [0, 1, 4, 5])

    // A tie between two positions of one window, the later one first in memory order last.
    let tied = Tensor(shape: [1, 1, 2, 2], values: [1, 5, 5, 0])
    let tiedOutput = Tensor(shape: [1, 1, 1, 1])
    var tiedIndex: [Int32] = [-1]
    MaxPool2d.forward(
        output: tiedOutput, indices: &tiedIndex, input: tied, kernelSize: 2, stride: 2,
        padding: 0, pool: pool)
    #expect(tiedOutput[0] == 5)
    #expect(tiedIndex == [1])
}

@Test func maxPoolPropagatesNaN() {
    // Window [3, NaN, 9, NaN]: PyTorch's CPU kernel takes every NaN it meets, so the output is
    // NaN and the index is the last NaN.
    let input = Tensor(shape: [1, 1, 2, 2], values: [3, .nan, 9, .nan])
    let output = Tensor(shape: [1, 1, 1, 1])
    var indices: [Int32] = [-1]
    let pool = ThreadPool(threads: 1)
    MaxPool2d.forward(
        output: output, indices: &indices, input: input, kernelSize: 2, stride: 2, padding: 0,
        pool: pool)
    #expect(output[0].isNaN)
    #expect(indices == [3])

    let gradInput = Tensor(shape: input.shape)
    MaxPool2d.backward(
        gradInput: gradInput, gradOutput: Tensor(shape: [1, 1, 1, 1], values: [4]),
        indices: indices, pool: pool)
    #expect(gradInput.toArray() == [0, 0, 0, 4])
}

@Test func maxPoolOverlappingWindowsSumGradients() {
    // k3 s2 p1 on 5x5: window row (or column) o covers rows 2o-1...2o+1. Windows 0 and 1
    // share row 1, and windows 1 and 2 share row 3. The 9 at (1, 1) is the max of the four
    // windows (0,0), (0,1), (1,0) and (1,1). The 5 at (3, 4) is the max of (1,2) and (2,2).
    var values = [Float](repeating: 0, count: 25)
    values[1 * 5 + 1] = 9
    values[3 * 5 + 4] = 5
    let input = Tensor(shape: [1, 1, 5, 5], values: values)
    let output = Tensor(shape: [1, 1, 3, 3])
    var indices = [Int32](repeating: -1, count: 9)
    let pool = ThreadPool(threads: 1)
    MaxPool2d.forward(output: output, indices: &indices, input: input, pool: pool)
    #expect(output.toArray() == [9, 9, 0, 9, 9, 5, 0, 0, 5])
    #expect(indices.filter { $0 == 6 }.count == 4)
    #expect(indices.filter { $0 == 19 }.count == 2)

    let upstream = Tensor(shape: [1, 1, 3, 3], values: [1, 2, 3, 4, 5, 6, 7, 8, 9])
    let gradInput = Tensor(shape: input.shape)
    gradInput.fill(7)
    MaxPool2d.backward(gradInput: gradInput, gradOutput: upstream, indices: indices, pool: pool)
    #expect(gradInput[6] == 1 + 2 + 4 + 5)
    #expect(gradInput[19] == 6 + 9)
    var expected = [Float](repeating: 0, count: 25)
    for i in 0..<9 { expected[Int(indices[i])] += upstream[i] }
    #expect(gradInput.toArray() == expected)
}
