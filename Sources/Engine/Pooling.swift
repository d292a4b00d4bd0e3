/// Pooling over the spatial axes of NCHW tensors. Every kernel splits over (sample, channel)
/// planes, which are independent, so results do not depend on the thread count.

/// The mean over each channel's H x W plane, as torch.nn.AdaptiveAvgPool2d(1) followed by a
/// flatten computes it.
///
/// Shapes: input and gradInput `[N, C, H, W]`; output and gradOutput `[N, C]`.
public enum GlobalAvgPool {
    /// Writes `output[n, c] = mean(input[n, c, :, :])`, summed in Double.
    public static func forward(output: Tensor, input: Tensor, pool: ThreadPool) {
        precondition(
            input.rank == 4, "GlobalAvgPool input must be [N, C, H, W], got \(input.shape)")
        checkShape(output, [input.shape[0], input.shape[1]], "output")
        let planeSize = input.shape[2] * input.shape[3]
        pool.parallelFor(output.count) { planes in
            for plane in planes {
                let values = input.data + plane * planeSize
                var sum = 0.0
                for i in 0..<planeSize { sum += Double(values[i]) }
                output.data[plane] = Float(sum / Double(planeSize))
            }
        }
    }

    /// Writes `gradInput[n, c, h, w] = gradOutput[n, c] / (H * W)`.
    public static func backward(gradInput: Tensor, gradOutput: Tensor, pool: ThreadPool) {
        precondition(
            gradInput.rank == 4,
            "GlobalAvgPool gradInput must be [N, C, H, W], got \(gradInput.shape)")
        checkShape(gradOutput, [gradInput.shape[0], gradInput.shape[1]], "gradOutput")
        let planeSize = gradInput.shape[2] * gradInput.shape[3]
        pool.parallelFor(gradOutput.count) { planes in
            for plane in planes {
                let value = gradOutput.data[plane] / Float(planeSize)
                (gradInput.data + plane * planeSize).update(repeating: value, count: planeSize)
            }
        }
    }
}

/// Max pooling with a square window, as torch.nn.MaxPool2d computes it (dilation 1, floor
/// output size). Padding is implicit negative infinity: a padded position is never selected.
///
/// Shapes: input and gradInput `[N, C, H, W]`; output, gradOutput and indices
/// `[N, C, outH, outW]` with `out = (in + 2 * padding - kernelSize) / stride + 1`.
///
/// Forward stores in `indices` the position `h * W + w` of each window's maximum inside its
/// input plane, PyTorch's `return_indices` convention, and backward routes gradients there.
/// Ties go to the first maximum in row-major scan order. A NaN counts as larger than every
/// number, so a window containing NaN outputs NaN and points at its last NaN, as PyTorch's
/// CPU kernel does (`val > maxval || isnan(val)`).
public enum MaxPool2d {
    /// Returns the output height or width for an input height or width of `inputSize`.
    public static func outputSize(inputSize: Int, kernelSize: Int, stride: Int, padding: Int)
        -> Int
    {
        (inputSize + 2 * padding - kernelSize) / stride + 1
    }

    /// Writes the maximum of each window to `output` and its position to `indices`.
    /// The defaults are the 3x3, stride 2, padding 1 pool of the ResNet stem.
    public static func forward(
        output: Tensor, indices: inout [Int32], input: Tensor, kernelSize: Int = 3,
        stride: Int = 2, padding: Int = 1, pool: ThreadPool
    ) {
        let shape = checkedOutputShape(
            input: input, kernelSize: kernelSize, stride: stride, padding: padding)
        checkShape(output, shape, "output")
        precondition(
            indices.count == output.count,
            "indices has \(indices.count) elements, expected \(output.count)")
        let (height, width) = (input.shape[2], input.shape[3])
        let (outHeight, outWidth) = (shape[2], shape[3])
        indices.withUnsafeMutableBufferPointer { indexBuffer in
            let indexBase = indexBuffer.baseAddress!
            pool.parallelFor(input.shape[0] * input.shape[1]) { planes in
                for plane in planes {
                    let x = input.data + plane * height * width
                    let y = output.data + plane * outHeight * outWidth
                    let index = indexBase + plane * outHeight * outWidth
                    for oy in 0..<outHeight {
                        let rows =
                            max(
                                0, oy * stride - padding)..<min(
                                height, oy * stride - padding + kernelSize)
                        for ox in 0..<outWidth {
                            let columns =
                                max(
                                    0, ox * stride - padding)..<min(
                                    width, ox * stride - padding + kernelSize)
                            var best = -Float.infinity
                            var bestIndex = rows.lowerBound * width + columns.lowerBound
                            for iy in rows {
                                for ix in columns {
                                    let value = x[iy * width + ix]
                                    if value > best || value.isNaN {
                                        best = value
                                        bestIndex = iy * width + ix
                                    }
                                }
                            }
                            y[oy * outWidth + ox] = best
                            index[oy * outWidth + ox] = Int32(bestIndex)
                        }
                    }
                }
            }
        }
    }

    /// Writes gradInput: zero everywhere, plus each output's gradient added at the input
    /// position in `indices`. Overlapping windows that chose the same input add up.
    public static func backward(
        gradInput: Tensor, gradOutput: Tensor, indices: [Int32], pool: ThreadPool
    ) {
        precondition(gradInput.rank == 4, "gradInput must be [N, C, H, W], got \(gradInput.shape)")
        precondition(
            gradOutput.rank == 4 && gradOutput.shape[0...1] == gradInput.shape[0...1],
            "gradOutput shape \(gradOutput.shape) does not match gradInput \(gradInput.shape)")
        precondition(
            indices.count == gradOutput.count,
            "indices has \(indices.count) elements, expected \(gradOutput.count)")
        let planeSize = gradInput.shape[2] * gradInput.shape[3]
        let outPlaneSize = gradOutput.shape[2] * gradOutput.shape[3]
        indices.withUnsafeBufferPointer { indexBuffer in
            let indexBase = indexBuffer.baseAddress!
            pool.parallelFor(gradInput.shape[0] * gradInput.shape[1]) { planes in
                for plane in planes {
                    let dx = gradInput.data + plane * planeSize
                    let dy = gradOutput.data + plane * outPlaneSize
                    let index = indexBase + plane * outPlaneSize
                    dx.update(repeating: 0, count: planeSize)
                    for i in 0..<outPlaneSize {
                        let target = Int(index[i])
                        precondition(
                            target >= 0 && target < planeSize,
                            "max-pool index \(target) out of range")
                        dx[target] += dy[i]
                    }
                }
            }
        }
    }

    /// Validates the pooling parameters against PyTorch's rules and returns the output shape.
    private static func checkedOutputShape(
        input: Tensor, kernelSize: Int, stride: Int, padding: Int
    ) -> [Int] {
        precondition(input.rank == 4, "MaxPool2d input must be [N, C, H, W], got \(input.shape)")
        precondition(kernelSize > 0 && stride > 0, "kernelSize and stride must be positive")
        precondition(
            padding >= 0 && padding <= kernelSize / 2,
            "padding \(padding) must be between 0 and half the kernel size \(kernelSize)")
        let outHeight = outputSize(
            inputSize: input.shape[2], kernelSize: kernelSize, stride: stride, padding: padding)
        let outWidth = outputSize(
            inputSize: input.shape[3], kernelSize: kernelSize, stride: stride, padding: padding)
        precondition(
            outHeight > 0 && outWidth > 0, "pooling window larger than input \(input.shape)")
        return [input.shape[0], input.shape[1], outHeight, outWidth]
    }
}
