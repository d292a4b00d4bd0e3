/// A direct convolution with the loops written out and sums in Double: slow, but with no
/// tiling to get wrong. Tests compare `Conv2dKernel` against it. The tensors and shapes are
/// those of `Conv2dKernel`.
public enum Conv2dReference {
    /// Writes `output = conv(input, weight) + bias`.
    public static func forward(
        geometry g: ConvGeometry, output: Tensor, input: Tensor, weight: Tensor, bias: Tensor?
    ) {
        g.validate()
        checkShape(input, g.inputShape, "input")
        checkShape(output, g.outputShape, "output")
        checkShape(weight, g.weightShape, "weight")
        for n in 0..<g.batch {
            for o in 0..<g.outChannels {
                for oy in 0..<g.outHeight {
                    for ox in 0..<g.outWidth {
                        var sum = Double(bias?.data[o] ?? 0)
                        forEachTap(g, oy: oy, ox: ox) { c, ky, kx, iy, ix in
                            let x = input.data[
                                ((n * g.inChannels + c) * g.inHeight + iy) * g.inWidth + ix]
                            let w = weight.data[
                                ((o * g.inChannels + c) * g.kernelSize + ky) * g.kernelSize + kx]
                            sum += Double(x) * Double(w)
                        }
                        output.data[
                            ((n * g.outChannels + o) * g.outHeight + oy) * g.outWidth + ox] =
                            Float(sum)
                    }
                }
            }
        }
    }

    /// Writes gradInput (when not nil), gradWeight and gradBias (when not nil).
    public static func backward(
        geometry g: ConvGeometry, gradInput: Tensor?, gradWeight: Tensor, gradBias: Tensor?,
        gradOutput: Tensor, input: Tensor, weight: Tensor
    ) {
        g.validate()
        checkShape(input, g.inputShape, "input")
        checkShape(gradOutput, g.outputShape, "gradOutput")
        checkShape(weight, g.weightShape, "weight")
        checkShape(gradWeight, g.weightShape, "gradWeight")
        if let gradInput { checkShape(gradInput, g.inputShape, "gradInput") }
        if let gradBias { checkShape(gradBias, [g.outChannels], "gradBias") }
        let inputCount = g.batch * g.inChannels * g.inHeight * g.inWidth
        var gradInputSums = [Double](repeating: 0, count: gradInput == nil ? 0 : inputCount)
        var gradWeightSums = [Double](repeating: 0, count: weight.count)
        var gradBiasSums = [Double](repeating: 0, count: g.outChannels)
        for n in 0..<g.batch {
            for o in 0..<g.outChannels {
                for oy in 0..<g.outHeight {
                    for ox in 0..<g.outWidth {
                        let dy = Double(
                            gradOutput.data[
                                ((n * g.outChannels + o) * g.outHeight + oy) * g.outWidth + ox])
                        gradBiasSums[o] += dy
                        forEachTap(g, oy: oy, ox: ox) { c, ky, kx, iy, ix in
                            let inputIndex =
                                ((n * g.inChannels + c) * g.inHeight + iy) * g.inWidth + ix
                            let weightIndex =
                                ((o * g.inChannels + c) * g.kernelSize + ky) * g.kernelSize + kx
                            gradWeightSums[weightIndex] += dy * Double(input.data[inputIndex])
                            if gradInput != nil {
                                gradInputSums[inputIndex] += dy * Double(weight.data[weightIndex])
                            }
                        }
                    }
                }
            }
        }
        if let gradInput {
            for i in 0..<inputCount { gradInput.data[i] = Float(gradInputSums[i]) }
        }
        for i in 0..<weight.count { gradWeight.data[i] = Float(gradWeightSums[i]) }
        if let gradBias {
            for o in 0..<g.outChannels { gradBias.data[o] = Float(gradBiasSums[o]) }
        }
    }

    /// Calls `body(c, ky, kx, iy, ix)` for every kernel tap of output pixel (oy, ox) that falls
    /// inside the input, skipping taps in the zero padding.
    @inline(__always)
    private static func forEachTap(
        _ g: ConvGeometry, oy: Int, ox: Int, _ body: (Int, Int, Int, Int, Int) -> Void
    ) {
        for c in 0..<g.inChannels {
            for ky in 0..<g.kernelSize {
                let iy = oy * g.stride - g.padding + ky
                guard iy >= 0 && iy < g.inHeight else { continue }
                for kx in 0..<g.kernelSize {
                    let ix = ox * g.stride - g.padding + kx
                    guard ix >= 0 && ix < g.inWidth else { continue }
                    body(c, ky, kx, iy, ix)
                }
            }
        }
    }
}
