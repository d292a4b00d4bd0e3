import Engine
import Testing

/// Small convolutions whose gradients are checked against finite differences.
private let gradientCheckCases: [(name: String, geometry: ConvGeometry, hasBias: Bool)] = [
    (
        "3x3 s1 p1",
        ConvGeometry(
            batch: 2, inChannels: 3, outChannels: 5, inHeight: 6, inWidth: 5, kernelSize: 3,
            stride: 1, padding: 1), true
    ),
    (
        "3x3 s1 p1 no bias",
        ConvGeometry(
            batch: 2, inChannels: 3, outChannels: 4, inHeight: 5, inWidth: 5, kernelSize: 3,
            stride: 1, padding: 1), false
    ),
    (
        "3x3 s2 p1",
        ConvGeometry(
            batch: 2, inChannels: 2, outChannels: 6, inHeight: 7, inWidth: 8, kernelSize: 3,
            stride: 2, padding: 1), true
    ),
    (
        "1x1 s2 p0",
        ConvGeometry(
            batch: 3, inChannels: 4, outChannels: 3, inHeight: 6, inWidth: 7, kernelSize: 1,
            stride: 2, padding: 0), false
    ),
    (
        "1x1 s2 p0 bias",
        ConvGeometry(
            batch: 2, inChannels: 4, outChannels: 5, inHeight: 5, inWidth: 5, kernelSize: 1,
            stride: 2, padding: 0), true
    ),
    (
        "7x7 s2 p3",
        ConvGeometry(
            batch: 2, inChannels: 3, outChannels: 4, inHeight: 9, inWidth: 8, kernelSize: 7,
            stride: 2, padding: 3), true
    ),
    (
        "7x7 s2 p3 no bias",
        ConvGeometry(
            batch: 1, inChannels: 2, outChannels: 3, inHeight: 8, inWidth: 8, kernelSize: 7,
            stride: 2, padding: 3), false
    ),
]

/// Float kernels on values of size ~1 against Double references.
private let floatTolerance = Tolerance(absolute: 2e-5, relative: 1e-4)

@Test(arguments: gradientCheckCases.indices)
func convGradientsMatchFiniteDifferences(caseIndex: Int) {
    let (name, g, hasBias) = gradientCheckCases[caseIndex]
    var generator = SeededGenerator(seed: UInt64(100 + caseIndex))
    let input = randomTensor(g.inputShape, &generator)
    let weight = randomTensor(g.weightShape, &generator)
    let bias = hasBias ? randomTensor([g.outChannels], &generator) : nil
    let upstream = randomTensor(g.outputShape, &generator)
    let pool = ThreadPool(threads: 2)

    let kernel = Conv2dKernel(geometry: g)
    let output = Tensor(shape: g.outputShape)
    kernel.forward(output: output, input: input, weight: weight, bias: bias, pool: pool)
    let (x, w, b, r) = (input.doubles, weight.doubles, bias?.doubles, upstream.doubles)
    expectClose(
        output, DoubleReference.conv(x, w, b, g), tolerance: floatTolerance, "\(name) forward")

    let gradInput = Tensor(shape: g.inputShape)
    let gradWeight = Tensor(shape: g.weightShape)
    let gradBias = hasBias ? Tensor(shape: [g.outChannels]) : nil
    // Stale values in the gradients must be overwritten, never added to.
    gradInput.fill(7)
    gradWeight.fill(7)
    gradBias?.fill(7)
    kernel.backward(
        gradInput: gradInput, gradWeight: gradWeight, gradBias: gradBias, gradOutput: upstream,
        input: input, weight: weight, pool: pool)

    let expectedGradInput = numericalGradient(of: x) {
        weightedSum(DoubleReference.conv($0, w, b, g), r)
    }
    let expectedGradWeight = numericalGradient(of: w) {
        weightedSum(DoubleReference.conv(x, $0, b, g), r)
    }
    expectClose(gradInput, expectedGradInput, tolerance: floatTolerance, "\(name) gradInput")
    expectClose(gradWeight, expectedGradWeight, tolerance: floatTolerance, "\(name) gradWeight")
    if let b, let gradBias {
        let expectedGradBias = numericalGradient(of: b) {
            weightedSum(DoubleReference.conv(x, w, $0, g), r)
        }
        expectClose(gradBias, expectedGradBias, tolerance: floatTolerance, "\(name) gradBias")
    }
}

@Test func convBackwardSkipsGradInputWhenNil() {
    let g = ConvGeometry(
        batch: 2, inChannels: 3, outChannels: 4, inHeight: 6, inWidth: 6, kernelSize: 3,
        stride: 1, padding: 1)
    var generator = SeededGenerator(seed: 7)
    let input = randomTensor(g.inputShape, &generator)
    let weight = randomTensor(g.weightShape, &generator)
    let upstream = randomTensor(g.outputShape, &generator)
    let pool = ThreadPool(threads: 2)
    let kernel = Conv2dKernel(geometry: g)

    let withInput = Tensor(shape: g.weightShape)
    kernel.backward(
        gradInput: Tensor(shape: g.inputShape), gradWeight: withInput, gradBias: nil,
        gradOutput: upstream, input: input, weight: weight, pool: pool)
    let withoutInput = Tensor(shape: g.weightShape)
    kernel.backward(
        gradInput: nil, gradWeight: withoutInput, gradBias: nil, gradOutput: upstream,
        input: input, weight: weight, pool: pool)
    expectBitwiseEqual(withoutInput, withInput, "gradWeight without gradInput")
}

/// Shapes that exercise the tile edges of the fast kernel: channel counts that are not
/// multiples of 4, pixel counts that are not multiples of 64, and the ResNet shapes. The
/// stride-1 cases with 8-, 16- and 32-pixel output rows take the direct path without im2col,
/// in forward and (when 2 * padding = kernelSize - 1) in the input gradient.
private let fastVersusReferenceCases: [ConvGeometry] = [
    ConvGeometry(
        batch: 3, inChannels: 32, outChannels: 32, inHeight: 16, inWidth: 16, kernelSize: 3,
        stride: 1, padding: 1),
    ConvGeometry(
        batch: 2, inChannels: 12, outChannels: 8, inHeight: 8, inWidth: 16, kernelSize: 1,
        stride: 1, padding: 0),
    ConvGeometry(
        batch: 2, inChannels: 6, outChannels: 8, inHeight: 18, inWidth: 18, kernelSize: 3,
        stride: 1, padding: 0),
    ConvGeometry(
        batch: 5, inChannels: 16, outChannels: 16, inHeight: 32, inWidth: 32, kernelSize: 3,
        stride: 1, padding: 1),
    ConvGeometry(
        batch: 3, inChannels: 16, outChannels: 32, inHeight: 32, inWidth: 32, kernelSize: 3,
        stride: 2, padding: 1),
    ConvGeometry(
        batch: 3, inChannels: 64, outChannels: 64, inHeight: 8, inWidth: 8, kernelSize: 3,
        stride: 1, padding: 1),
    ConvGeometry(
        batch: 2, inChannels: 3, outChannels: 10, inHeight: 28, inWidth: 28, kernelSize: 7,
        stride: 2, padding: 3),
    ConvGeometry(
        batch: 6, inChannels: 32, outChannels: 64, inHeight: 14, inWidth: 14, kernelSize: 1,
        stride: 2, padding: 0),
    ConvGeometry(
        batch: 2, inChannels: 5, outChannels: 7, inHeight: 9, inWidth: 11, kernelSize: 3,
        stride: 1, padding: 0),
]

@Test(arguments: fastVersusReferenceCases)
func convFastMatchesReference(geometry g: ConvGeometry) {
    var generator = SeededGenerator(seed: UInt64(g.inChannels * 1000 + g.inHeight))
    let input = randomTensor(g.inputShape, &generator)
    let weight = randomTensor(g.weightShape, in: -0.2...0.2, &generator)
    let bias = randomTensor([g.outChannels], &generator)
    let upstream = randomTensor(g.outputShape, &generator)
    let pool = ThreadPool(threads: 3)

    let kernel = Conv2dKernel(geometry: g)
    let output = Tensor(shape: g.outputShape)
    kernel.forward(output: output, input: input, weight: weight, bias: bias, pool: pool)
    let gradInput = Tensor(shape: g.inputShape)
    let gradWeight = Tensor(shape: g.weightShape)
    let gradBias = Tensor(shape: [g.outChannels])
    kernel.backward(
        gradInput: gradInput, gradWeight: gradWeight, gradBias: gradBias, gradOutput: upstream,
        input: input, weight: weight, pool: pool)

    let expectedOutput = Tensor(shape: g.outputShape)
    Conv2dReference.forward(
        geometry: g, output: expectedOutput, input: input, weight: weight, bias: bias)
    let expectedGradInput = Tensor(shape: g.inputShape)
    let expectedGradWeight = Tensor(shape: g.weightShape)
    let expectedGradBias = Tensor(shape: [g.outChannels])
    Conv2dReference.backward(
        geometry: g, gradInput: expectedGradInput, gradWeight: expectedGradWeight,
        gradBias: expectedGradBias, gradOutput: upstream, input: input, weight: weight)

    // Float sums of up to ~1000 (forward, gradInput) or ~20000 (gradWeight) terms of size
    // ~0.1-1, against a reference summed in Double: allow a few hundred float ulps of the sum.
    let tolerance = Tolerance(absolute: 1e-4, relative: 1e-4)
    let gradWeightTolerance = Tolerance(absolute: 2e-3, relative: 1e-4)
    let label =
        "\(g.inChannels)->\(g.outChannels) \(g.inHeight)x\(g.inWidth) k\(g.kernelSize) s\(g.stride)"
    expectClose(output, expectedOutput.doubles, tolerance: tolerance, "\(label) forward")
    expectClose(gradInput, expectedGradInput.doubles, tolerance: tolerance, "\(label) gradInput")
    expectClose(
        gradWeight, expectedGradWeight.doubles, tolerance: gradWeightTolerance,
        "\(label) gradWeight")
    expectClose(
        gradBias, expectedGradBias.doubles, tolerance: gradWeightTolerance, "\(label) gradBias")
}

/// The im2col path (12x12, 20 output channels) and the paths without im2col (16x16, and 32
/// output channels for the weight gradient).
private let threadCountCases: [ConvGeometry] = [
    ConvGeometry(
        batch: 9, inChannels: 8, outChannels: 20, inHeight: 12, inWidth: 12, kernelSize: 3,
        stride: 1, padding: 1),
    ConvGeometry(
        batch: 9, inChannels: 8, outChannels: 32, inHeight: 16, inWidth: 16, kernelSize: 3,
        stride: 1, padding: 1),
]

@Test(arguments: threadCountCases)
func convIsBitwiseIdenticalAcrossThreadCounts(geometry g: ConvGeometry) {
    var generator = SeededGenerator(seed: 11)
    let input = randomTensor(g.inputShape, &generator)
    let weight = randomTensor(g.weightShape, &generator)
    let bias = randomTensor([g.outChannels], &generator)
    let upstream = randomTensor(g.outputShape, &generator)

    var results: [[Tensor]] = []
    for pool in poolsToCompare {
        let kernel = Conv2dKernel(geometry: g)
        let output = Tensor(shape: g.outputShape)
        let gradInput = Tensor(shape: g.inputShape)
        let gradWeight = Tensor(shape: g.weightShape)
        let gradBias = Tensor(shape: [g.outChannels])
        kernel.forward(output: output, input: input, weight: weight, bias: bias, pool: pool)
        kernel.backward(
            gradInput: gradInput, gradWeight: gradWeight, gradBias: gradBias,
            gradOutput: upstream, input: input, weight: weight, pool: pool)
        results.append([output, gradInput, gradWeight, gradBias])
    }
    let names = ["output", "gradInput", "gradWeight", "gradBias"]
    for threads in 1..<results.count {
        for (i, name) in names.enumerated() {
            expectBitwiseEqual(
                results[threads][i], results[0][i],
                "\(name) with \(poolsToCompare[threads].threadCount) threads vs 1")
        }
    }
}

/// Integer inputs and gradients of magnitude <= 3 make every partial sum an exactly
/// representable integer, so any lost or doubled update from a race changes the result.
/// The second and third geometries take the weight-gradient paths without im2col rows: 16
/// output channels per work item (10x10), and lanes over 16-pixel output rows (16x16).
@Test(arguments: [
    ConvGeometry(
        batch: 7, inChannels: 6, outChannels: 12, inHeight: 10, inWidth: 10, kernelSize: 3,
        stride: 1, padding: 1),
    ConvGeometry(
        batch: 7, inChannels: 8, outChannels: 16, inHeight: 10, inWidth: 10, kernelSize: 3,
        stride: 1, padding: 1),
    ConvGeometry(
        batch: 7, inChannels: 8, outChannels: 16, inHeight: 16, inWidth: 16, kernelSize: 3,
        stride: 1, padding: 1),
])
func convGradWeightHasNoRace(geometry g: ConvGeometry) {
    var generator = SeededGenerator(seed: 13)
    let input = randomIntegerTensor(g.inputShape, in: -3...3, &generator)
    let weight = randomIntegerTensor(g.weightShape, in: -3...3, &generator)
    let upstream = randomIntegerTensor(g.outputShape, in: -3...3, &generator)
    let exactGradWeight = Tensor(shape: g.weightShape)
    let exactGradBias = Tensor(shape: [g.outChannels])
    let exactGradInput = Tensor(shape: g.inputShape)
    Conv2dReference.backward(
        geometry: g, gradInput: exactGradInput, gradWeight: exactGradWeight,
        gradBias: exactGradBias, gradOutput: upstream, input: input, weight: weight)

    for pool in poolsToCompare {
        let kernel = Conv2dKernel(geometry: g)
        let gradWeight = Tensor(shape: g.weightShape)
        let gradBias = Tensor(shape: [g.outChannels])
        let gradInput = Tensor(shape: g.inputShape)
        var failures = 0
        for repetition in 0..<200 where failures == 0 {
            kernel.backward(
                gradInput: gradInput, gradWeight: gradWeight, gradBias: gradBias,
                gradOutput: upstream, input: input, weight: weight, pool: pool)
            for i in 0..<gradWeight.count where gradWeight[i] != exactGradWeight[i] {
                failures += 1
            }
            if failures > 0 {
                expectBitwiseEqual(
                    gradWeight, exactGradWeight,
                    "gradWeight, \(pool.threadCount) threads, repetition \(repetition)")
            }
        }
        expectBitwiseEqual(gradBias, exactGradBias, "gradBias, \(pool.threadCount) threads")
        expectBitwiseEqual(gradInput, exactGradInput, "gradInput, \(pool.threadCount) threads")
    }
}
