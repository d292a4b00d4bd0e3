/// The reason a batch-norm training step cannot run on an input.
public enum BatchNormError: Error, Equatable, CustomStringConvertible {
    /// Each channel has a single value (batch 1 and spatial size 1), so the batch variance
    /// is 0/0 and the unbiased running variance is undefined.
    case tooFewValuesPerChannel(inputShape: [Int])

    public var description: String {
        switch self {
        case .tooFewValuesPerChannel(let shape):
            return "Expected more than 1 value per channel when training, got input shape "
                + "\(shape). Use a batch of at least 2 samples, or evaluate in inference mode."
        }
    }
}

/// Batch normalisation over the channel axis, as torch.nn.BatchNorm2d computes it (and
/// BatchNorm1d for `[N, C]`). Inputs are `[N, C, spatial...]`: every dimension after C counts
/// as spatial, and each channel is normalised over its `n = N * spatial` values.
///
/// Shapes: input, output, gradInput and gradOutput `[N, C, ...]`; gamma, beta, running and
/// saved statistics and their gradients `[C]`.
///
/// Training forward saves, per channel, the batch mean (`savedMean`) and
/// `1 / sqrt(biasedVariance + eps)` (`savedInvStd`), which backward reads instead of
/// recomputing them. Sums run in Double, and the variance takes a second pass over
/// `x - mean`, so a channel with a large mean keeps its variance accurate.
///
/// Every kernel splits over channels, so results do not depend on the thread count.
public enum BatchNorm {
    /// Throws `BatchNormError.tooFewValuesPerChannel` when the input has one value per
    /// channel, the case where PyTorch raises. Call it on inputs whose shape a user controls
    /// before `forwardTraining`, which treats that case as a programming error.
    public static func validateTrainingInput(_ input: Tensor) throws(BatchNormError) {
        precondition(input.rank >= 2, "batch norm input must be [N, C, ...], got \(input.shape)")
        if input.count / input.shape[1] <= 1 {
            throw .tooFewValuesPerChannel(inputShape: input.shape)
        }
    }

    /// Normalises with the batch statistics, writes `savedMean` and `savedInvStd`, and moves
    /// the running statistics towards the batch ones:
    /// `running = (1 - momentum) * running + momentum * batchValue`, where the variance
    /// moved into `runningVar` is the unbiased one, `variance * n / (n - 1)`.
    ///
    /// Requires more than one value per channel: check with `validateTrainingInput` first.
    public static func forwardTraining(
        output: Tensor, input: Tensor, gamma: Tensor, beta: Tensor,
        runningMean: Tensor, runningVar: Tensor, savedMean: Tensor, savedInvStd: Tensor,
        momentum: Float, eps: Float, pool: ThreadPool
    ) {
        let layout = ChannelLayout(input)
        precondition(
            layout.valuesPerChannel > 1,
            BatchNormError.tooFewValuesPerChannel(inputShape: input.shape).description)
        checkShape(output, input.shape, "output")
        for (tensor, name) in [
            (gamma, "gamma"), (beta, "beta"), (runningMean, "runningMean"),
            (runningVar, "runningVar"), (savedMean, "savedMean"), (savedInvStd, "savedInvStd"),
        ] {
            checkShape(tensor, [layout.channels], name)
        }

        let n = Double(layout.valuesPerChannel)
        pool.parallelFor(layout.channels) { channels in
            for c in channels {
                // Mean, then the biased variance as the mean of (x - mean)^2.
                let mean = layout.sum(input.data, channel: c) { $0 } / n
                let meanVector = SIMD8<Double>(repeating: mean)
                let variance =
                    layout.sum(input.data, channel: c) { x in
                        let centred = x - meanVector
                        return centred * centred
                    } / n
                let invStd = 1 / (variance + Double(eps)).squareRoot()
                savedMean.data[c] = Float(mean)
                savedInvStd.data[c] = Float(invStd)

                // Normalise: y = gamma * (x - mean) * invStd + beta = x * scale + shift.
                let scale = Double(gamma.data[c]) * invStd
                let shift = Float(Double(beta.data[c]) - mean * scale)
                layout.map(from: input.data, to: output.data, channel: c) { x in
                    x * Float(scale) + shift
                }

                // Running statistics, with the unbiased variance as PyTorch uses.
                let unbiased = variance * n / (n - 1)
                runningMean.data[c] = (1 - momentum) * runningMean.data[c] + momentum * Float(mean)
                runningVar.data[c] =
                    (1 - momentum) * runningVar.data[c] + momentum * Float(unbiased)
            }
        }
    }

    /// Normalises with the running statistics:
    /// `y = gamma * (x - runningMean) / sqrt(runningVar + eps) + beta`.
    public static func forwardInference(
        output: Tensor, input: Tensor, gamma: Tensor, beta: Tensor,
        runningMean: Tensor, runningVar: Tensor, eps: Float, pool: ThreadPool
    ) {
        let layout = ChannelLayout(input)
        checkShape(output, input.shape, "output")
        for (tensor, name) in [
            (gamma, "gamma"), (beta, "beta"), (runningMean, "runningMean"),
            (runningVar, "runningVar"),
        ] {
            checkShape(tensor, [layout.channels], name)
        }
        pool.parallelFor(layout.channels) { channels in
            for c in channels {
                let invStd = 1 / (Double(runningVar.data[c]) + Double(eps)).squareRoot()
                let scale = Double(gamma.data[c]) * invStd
                let shift = Float(Double(beta.data[c]) - Double(runningMean.data[c]) * scale)
                layout.map(from: input.data, to: output.data, channel: c) { x in
                    x * Float(scale) + shift
                }
            }
        }
    }

    /// Writes the gradients of a training-mode forward pass, with xhat = (x - mean) * invStd:
    /// - gradGamma = sum(dy * xhat), gradBeta = sum(dy) over the channel's n values,
    /// - gradInput = gamma * invStd / n * (n * dy - sum(dy) - xhat * sum(dy * xhat)).
    public static func backward(
        gradInput: Tensor, gradGamma: Tensor, gradBeta: Tensor, gradOutput: Tensor,
        input: Tensor, gamma: Tensor, savedMean: Tensor, savedInvStd: Tensor, pool: ThreadPool
    ) {
        let layout = ChannelLayout(input)
        checkShape(gradInput, input.shape, "gradInput")
        checkShape(gradOutput, input.shape, "gradOutput")
        for (tensor, name) in [
            (gradGamma, "gradGamma"), (gradBeta, "gradBeta"), (gamma, "gamma"),
            (savedMean, "savedMean"), (savedInvStd, "savedInvStd"),
        ] {
            checkShape(tensor, [layout.channels], name)
        }

        let n = Double(layout.valuesPerChannel)
        pool.parallelFor(layout.channels) { channels in
            for c in channels {
                let mean = savedMean.data[c]
                let invStd = savedInvStd.data[c]
                let meanVector = SIMD8<Double>(repeating: Double(mean))
                let invStdVector = SIMD8<Double>(repeating: Double(invStd))
                let sumDy = layout.sum(gradOutput.data, channel: c) { $0 }
                let sumDyXhat = layout.sumOfProducts(
                    gradOutput.data, input.data, channel: c
                ) { dy, x in
                    dy * ((x - meanVector) * invStdVector)
                }
                gradBeta.data[c] = Float(sumDy)
                gradGamma.data[c] = Float(sumDyXhat)

                // gradInput = k * (dy - sum(dy) / n - xhat * sum(dy * xhat) / n).
                let k = gamma.data[c] * invStd
                let meanDy = Float(sumDy / n)
                let meanDyXhat = Float(sumDyXhat / n)
                layout.combine(gradOutput.data, input.data, into: gradInput.data, channel: c) {
                    dy, x in
                    let xhat = (x - mean) * invStd
                    return k * (dy - meanDy - xhat * meanDyXhat)
                }
            }
        }
    }
}

/// The positions of one channel's values in an `[N, C, spatial...]` tensor: `batch` runs
/// of `spatial` contiguous floats, `channels * spatial` apart.
private struct ChannelLayout {
    let batch: Int
    let channels: Int
    let spatial: Int

    init(_ tensor: Tensor) {
        precondition(tensor.rank >= 2, "batch norm input must be [N, C, ...], got \(tensor.shape)")
        batch = tensor.shape[0]
        channels = tensor.shape[1]
        spatial = tensor.shape.dropFirst(2).reduce(1, *)
    }

    var valuesPerChannel: Int { batch * spatial }

    /// Sums `term(x)` over the channel's values in Double: each run is read 8 floats at a
    /// time into 8 Double lanes, and the lanes are added at the end. The order is fixed.
    @inline(__always)
    func sum(
        _ data: UnsafeMutablePointer<Float>, channel: Int,
        _ term: (SIMD8<Double>) -> SIMD8<Double>
    ) -> Double {
        var lanes = SIMD8<Double>()
        var tail = 0.0
        for n in 0..<batch {
            let run = data + (n * channels + channel) * spatial
            var i = 0
            while i + 8 <= spatial {
                let x = UnsafeRawPointer(run + i).loadUnaligned(as: SIMD8<Float>.self)
                lanes += term(SIMD8<Double>(x))
                i += 8
            }
            while i < spatial {
                tail += term(SIMD8<Double>(repeating: Double(run[i])))[0]
                i += 1
            }
        }
        return lanes.sum() + tail
    }

    /// Sums `term(a, b)` over the channel's values of two tensors of the same layout, in the
    /// same order as `sum`.
    @inline(__always)
    func sumOfProducts(
        _ a: UnsafeMutablePointer<Float>, _ b: UnsafeMutablePointer<Float>, channel: Int,
        _ term: (SIMD8<Double>, SIMD8<Double>) -> SIMD8<Double>
    ) -> Double {
        var lanes = SIMD8<Double>()
        var tail = 0.0
        for n in 0..<batch {
            let offset = (n * channels + channel) * spatial
            var i = 0
            while i + 8 <= spatial {
                let x = UnsafeRawPointer(a + offset + i).loadUnaligned(as: SIMD8<Float>.self)
                let y = UnsafeRawPointer(b + offset + i).loadUnaligned(as: SIMD8<Float>.self)
                lanes += term(SIMD8<Double>(x), SIMD8<Double>(y))
                i += 8
            }
            while i < spatial {
                let x = SIMD8<Double>(repeating: Double(a[offset + i]))
                let y = SIMD8<Double>(repeating: Double(b[offset + i]))
                tail += term(x, y)[0]
                i += 1
            }
        }
        return lanes.sum() + tail
    }

    /// Writes `transform(x)` for every value of the channel.
    @inline(__always)
    func map(
        from source: UnsafeMutablePointer<Float>, to destination: UnsafeMutablePointer<Float>,
        channel: Int, _ transform: (Float) -> Float
    ) {
        for n in 0..<batch {
            let offset = (n * channels + channel) * spatial
            for i in offset..<(offset + spatial) {
                destination[i] = transform(source[i])
            }
        }
    }

    /// Writes `transform(a, b)` for every value of the channel.
    @inline(__always)
    func combine(
        _ a: UnsafeMutablePointer<Float>, _ b: UnsafeMutablePointer<Float>,
        into destination: UnsafeMutablePointer<Float>, channel: Int,
        _ transform: (Float, Float) -> Float
    ) {
        for n in 0..<batch {
            let offset = (n * channels + channel) * spatial
            for i in offset..<(offset + spatial) {
                destination[i] = transform(a[i], b[i])
            }
        }
    }
}
