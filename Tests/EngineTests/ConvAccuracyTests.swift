import Engine
import Foundation
import Testing

/// Convolutions with long sums, as in the last stages of resnet50 and deeper nets: 2,048 to
/// 4,608 products per output element. The products are summed in blocks (see
/// `Tile4x64.depthBlock`), so the rounding error grows far more slowly with the length than
/// that of one running sum.
struct ConvAccuracyTests {
    static let longSums: [ConvGeometry] = [
        // 8-pixel rows: the direct path.
        ConvGeometry(
            batch: 2, inChannels: 256, outChannels: 64, inHeight: 8, inWidth: 8, kernelSize: 3,
            stride: 1, padding: 1),
        // 16 pixels per plane: the im2col path with padded columns.
        ConvGeometry(
            batch: 2, inChannels: 512, outChannels: 64, inHeight: 4, inWidth: 4, kernelSize: 3,
            stride: 1, padding: 1),
        ConvGeometry(
            batch: 2, inChannels: 2048, outChannels: 64, inHeight: 8, inWidth: 8, kernelSize: 1,
            stride: 1, padding: 0),
    ]

    /// Returns the root-mean-square of `ours - reference` over that of `reference`.
    static func relativeError(_ ours: Tensor, _ reference: Tensor) -> Double {
        var error = 0.0
        var size = 0.0
        for i in 0..<ours.count {
            let difference = Double(ours.data[i]) - Double(reference.data[i])
            error += difference * difference
            size += Double(reference.data[i]) * Double(reference.data[i])
        }
        return (error / size).squareRoot()
    }

    @Test(arguments: longSums)
    func longSumsStayAccurate(geometry g: ConvGeometry) {
        var generator = SeededGenerator(seed: UInt64(g.inChannels))
        let input = randomTensor(g.inputShape, &generator)
        let weight = randomTensor(g.weightShape, in: -0.05...0.05, &generator)
        let upstream = randomTensor(g.outputShape, &generator)
        let pool = ThreadPool(threads: 2)
        let kernel = Conv2dKernel(geometry: g)
        let output = Tensor(shape: g.outputShape)
        kernel.forward(output: output, input: input, weight: weight, bias: nil, pool: pool)
        let gradInput = Tensor(shape: g.inputShape)
        let gradWeight = Tensor(shape: g.weightShape)
        kernel.backward(
            gradInput: gradInput, gradWeight: gradWeight, gradBias: nil, gradOutput: upstream,
            input: input, weight: weight, pool: pool)

        let expected = Tensor(shape: g.outputShape)
        Conv2dReference.forward(
            geometry: g, output: expected, input: input, weight: weight, bias: nil)
        let expectedGradInput = Tensor(shape: g.inputShape)
        Conv2dReference.backward(
            geometry: g, gradInput: expectedGradInput, gradWeight: Tensor(shape: g.weightShape),
            gradBias: nil, gradOutput: upstream, input: input, weight: weight)

        let forwardError = Self.relativeError(output, expected)
        let inputError = Self.relativeError(gradInput, expectedGradInput)
        // One running sum per element gave 8.1e-7 to 1.1e-6 (forward) and up to 4.1e-7
        // (gradInput of the 3x3 8x8 case). Blocks of 256 give 2.6e-7 to 2.9e-7 and 2.6e-7.
        #expect(forwardError < 5e-7, "forward \(forwardError)")
        #expect(inputError < 3.3e-7, "gradInput \(inputError)")
    }
}
