/// A fully connected layer, `output = input · weight^T + bias`, as torch.nn.Linear computes
/// it.
///
/// Shapes: input and gradInput `[N, in]`; weight and gradWeight `[out, in]`; bias and
/// gradBias `[out]`; output and gradOutput `[N, out]`.
///
/// Forward and gradInput split over samples; gradWeight and gradBias split over output
/// features and sum over samples in order. Results do not depend on the thread count.
public enum Linear {
    /// Writes `output = input · weight^T + bias` (no bias term when `bias` is nil).
    public static func forward(
        output: Tensor, input: Tensor, weight: Tensor, bias: Tensor?, pool: ThreadPool
    ) {
        let (batch, inFeatures, outFeatures) = checkedSizes(input: input, weight: weight)
        checkShape(output, [batch, outFeatures], "output")
        if let bias { checkShape(bias, [outFeatures], "bias") }
        pool.parallelFor(batch) { samples in
            for n in samples {
                let x = input.data + n * inFeatures
                for o in 0..<outFeatures {
                    let w = weight.data + o * inFeatures
                    output.data[n * outFeatures + o] =
                        dot(x, w, count: inFeatures) + (bias?.data[o] ?? 0)
                }
            }
        }
    }

    /// Writes `gradInput = gradOutput · weight` (skipped when nil),
    /// `gradWeight = gradOutput^T · input` and `gradBias` = the column sums of gradOutput
    /// (skipped when nil).
    public static func backward(
        gradInput: Tensor?, gradWeight: Tensor, gradBias: Tensor?, gradOutput: Tensor,
        input: Tensor, weight: Tensor, pool: ThreadPool
    ) {
        let (batch, inFeatures, outFeatures) = checkedSizes(input: input, weight: weight)
        checkShape(gradOutput, [batch, outFeatures], "gradOutput")
        checkShape(gradWeight, weight.shape, "gradWeight")
        if let gradInput { checkShape(gradInput, input.shape, "gradInput") }
        if let gradBias { checkShape(gradBias, [outFeatures], "gradBias") }

        if let gradInput {
            pool.parallelFor(batch) { samples in
                for n in samples {
                    let dx = gradInput.data + n * inFeatures
                    dx.update(repeating: 0, count: inFeatures)
                    for o in 0..<outFeatures {
                        addScaled(
                            gradOutput.data[n * outFeatures + o], weight.data + o * inFeatures,
                            into: dx, count: inFeatures)
                    }
                }
            }
        }

        pool.parallelFor(outFeatures) { features in
            for o in features {
                let dw = gradWeight.data + o * inFeatures
                dw.update(repeating: 0, count: inFeatures)
                var biasSum: Float = 0
                for n in 0..<batch {
                    let dy = gradOutput.data[n * outFeatures + o]
                    addScaled(dy, input.data + n * inFeatures, into: dw, count: inFeatures)
                    biasSum += dy
                }
                gradBias?.data[o] = biasSum
            }
        }
    }

    private static func checkedSizes(input: Tensor, weight: Tensor) -> (Int, Int, Int) {
        precondition(input.rank == 2, "Linear input must be [N, in], got \(input.shape)")
        precondition(weight.rank == 2, "Linear weight must be [out, in], got \(weight.shape)")
        precondition(
            weight.shape[1] == input.shape[1],
            "Linear weight \(weight.shape) does not match input \(input.shape)")
        return (input.shape[0], input.shape[1], weight.shape[0])
    }
}

/// Returns the dot product of two float arrays, summed in 16 SIMD lanes added at the end.
@inline(__always)
private func dot(_ a: UnsafeMutablePointer<Float>, _ b: UnsafeMutablePointer<Float>, count: Int)
    -> Float
{
    var lanes = SIMD16<Float>()
    var i = 0
    while i + 16 <= count {
        lanes.addProduct(loadVector16(a + i), loadVector16(b + i))
        i += 16
    }
    var tail: Float = 0
    while i < count {
        tail += a[i] * b[i]
        i += 1
    }
    return lanes.sum() + tail
}

/// `destination += factor * source` over `count` floats.
@inline(__always)
private func addScaled(
    _ factor: Float, _ source: UnsafeMutablePointer<Float>,
    into destination: UnsafeMutablePointer<Float>, count: Int
) {
    let factorVector = SIMD16<Float>(repeating: factor)
    var i = 0
    while i + 16 <= count {
        var d = loadVector16(destination + i)
        d.addProduct(factorVector, loadVector16(source + i))
        storeVector16(d, destination + i)
        i += 16
    }
    while i < count {
        destination[i] = destination[i].addingProduct(factor, source[i])
        i += 1
    }
}
