/// 2-D convolution (cross-correlation, as torch.nn.Conv2d computes it) on NCHW tensors with a
/// square kernel, equal stride in both directions and zero padding.
///
/// Shapes:
/// - input `[batch, inChannels, inHeight, inWidth]`
/// - weight `[outChannels, inChannels, kernelSize, kernelSize]`
/// - bias `[outChannels]`
/// - output `[batch, outChannels, outHeight, outWidth]`
public struct ConvGeometry: Equatable, Sendable {
    public var batch: Int
    public var inChannels: Int
    public var outChannels: Int
    public var inHeight: Int
    public var inWidth: Int
    public var kernelSize: Int
    public var stride: Int
    public var padding: Int

    public init(
        batch: Int, inChannels: Int, outChannels: Int, inHeight: Int, inWidth: Int,
        kernelSize: Int, stride: Int, padding: Int
    ) {
        self.batch = batch
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.inHeight = inHeight
        self.inWidth = inWidth
        self.kernelSize = kernelSize
        self.stride = stride
        self.padding = padding
    }

    public var outHeight: Int { (inHeight + 2 * padding - kernelSize) / stride + 1 }
    public var outWidth: Int { (inWidth + 2 * padding - kernelSize) / stride + 1 }

    public var inputShape: [Int] { [batch, inChannels, inHeight, inWidth] }
    public var weightShape: [Int] { [outChannels, inChannels, kernelSize, kernelSize] }
    public var outputShape: [Int] { [batch, outChannels, outHeight, outWidth] }

    /// Multiply-adds of one forward pass, counted as two floating-point operations each.
    public var forwardFlops: Int {
        2 * batch * outChannels * outHeight * outWidth * inChannels * kernelSize * kernelSize
    }

    /// Checks that the sizes are positive and the kernel fits in the padded input.
    func validate() {
        precondition(
            batch > 0 && inChannels > 0 && outChannels > 0 && inHeight > 0 && inWidth > 0,
            "convolution sizes must be positive: \(self)")
        precondition(kernelSize > 0 && stride > 0 && padding >= 0, "invalid convolution: \(self)")
        precondition(outHeight > 0 && outWidth > 0, "kernel larger than padded input: \(self)")
    }
}

/// The fast convolution: per sample, im2col into a scratch matrix, then a register-tiled SIMD
/// matrix product.
///
/// Forward and the input gradient are split over samples. The weight gradient is split over
/// groups of im2col rows (weight columns) and the bias gradient over output channels: each
/// thread owns whole gradient elements and sums over the batch in a fixed order, so the
/// result does not depend on the thread count.
///
/// The object owns its scratch buffers, sized from `geometry` on first use, so repeated calls
/// do not allocate. It is not safe to run two calls on the same object at once.
public final class Conv2dKernel: @unchecked Sendable {
    public let geometry: ConvGeometry

    /// Rows of the im2col matrix: inChannels * kernelSize * kernelSize.
    private let patchSize: Int
    /// `patchSize` rounded up to the tile height, 4. The extra rows stay zero.
    private let paddedPatchSize: Int
    /// Output pixels per channel: outHeight * outWidth.
    private let pixelCount: Int
    /// `pixelCount` rounded up to the tile width, 64. The extra columns stay zero.
    private let paddedPixelCount: Int
    /// `outChannels` rounded up to the tile height, 4.
    private let paddedOutChannels: Int

    /// Per thread: an im2col matrix `[paddedPatchSize, paddedPixelCount]` in forward, the
    /// column gradient of the same shape in backward.
    private var threadColumns: [ScratchBuffer] = []
    /// Per thread: the forward product `[paddedOutChannels, paddedPixelCount]`.
    private var threadProducts: [ScratchBuffer] = []
    /// Per thread: the im2col rows of one weight-gradient group for a chunk of samples,
    /// `[weightChunk, weightGroupRows, dotWidth]`.
    private var threadPatchRows: [ScratchBuffer] = []
    /// gradOutput copied to `[batch, paddedOutChannels, dotWidth]` with zero padding, for
    /// geometries whose gradOutput cannot be read in place (see `prepareWeightScratch`).
    private var paddedGradOutput: ScratchBuffer?
    /// The weight as `[paddedOutChannels, patchSize]` (forward) or transposed to
    /// `[paddedPatchSize, outChannels]` (backward).
    private var packedWeight: ScratchBuffer?

    /// `pixelCount` rounded up to 16: the row length the weight-gradient dot products read.
    private let dotWidth: Int
    /// im2col rows per weight-gradient work item. Eight rows keep the split fine enough for
    /// two or three threads on a 1x1 convolution with 16 input channels.
    private let weightGroupRows = 8
    /// Samples per weight-gradient chunk: as many as keep one group's im2col rows and the
    /// chunk's gradOutput rows within `chunkBudgetBytes`, at least 1 and at most the batch. It depends only on the geometry,
    /// never on the thread count, so the summation order is the same on every pool.
    private let weightChunk: Int
    /// Half of a 1 MiB L2 (Zen 4), which leaves room for the weight-gradient tiles' other
    /// traffic. Only the speed depends on it.
    private static let chunkBudgetBytes = 512 << 10

    /// Forward without im2col, for stride-1 shapes that `DirectConvPlan` supports and whose
    /// output channels are a multiple of the tile height.
    private let forwardPlan: DirectConvPlan?
    /// Input gradient without col2im: for stride 1 with 2 * padding = kernelSize - 1, the
    /// input gradient is the stride-1 convolution of gradOutput with the weight flipped in
    /// both spatial axes and with input and output channels swapped.
    private let backwardPlan: DirectConvPlan?
    /// Weight gradient without im2col rows, for 3x3 kernels with outChannels % 16 == 0.
    private let weightPlan: WeightGradient3x3?
    /// Per thread: the zero-bordered input planes, pixel-major gradOutput rows and tile sums
    /// of `weightPlan`.
    private var threadWeightPadded: [ScratchBuffer] = []
    private var threadTransposedGrad: [ScratchBuffer] = []
    private var threadWeightSums: [ScratchBuffer] = []
    /// Per thread: the zero-bordered input planes of `forwardPlan`.
    private var threadForwardPadded: [ScratchBuffer] = []
    /// Per thread: the zero-bordered gradOutput planes of `backwardPlan`.
    private var threadBackwardPadded: [ScratchBuffer] = []

    public init(geometry: ConvGeometry) {
        geometry.validate()
        self.geometry = geometry
        patchSize = geometry.inChannels * geometry.kernelSize * geometry.kernelSize
        paddedPatchSize = roundUp(patchSize, to: tileRows)
        pixelCount = geometry.outHeight * geometry.outWidth
        paddedPixelCount = roundUp(pixelCount, to: tileColumns)
        paddedOutChannels = roundUp(geometry.outChannels, to: tileRows)
        dotWidth = roundUp(pixelCount, to: 16)
        let sampleBytes =
            (weightGroupRows + paddedOutChannels) * dotWidth * MemoryLayout<Float>.stride
        weightChunk = min(geometry.batch, max(1, Conv2dKernel.chunkBudgetBytes / sampleBytes))

        let g = geometry
        if g.stride == 1 && g.outChannels % tileRows == 0
            && DirectConvPlan.supports(outHeight: g.outHeight, outWidth: g.outWidth)
        {
            forwardPlan = DirectConvPlan(
                channels: g.inChannels, height: g.inHeight, width: g.inWidth,
                kernelSize: g.kernelSize, padding: g.padding)
        } else {
            forwardPlan = nil
        }
        if g.stride == 1 && 2 * g.padding == g.kernelSize - 1 && g.inChannels % tileRows == 0
            && DirectConvPlan.supports(outHeight: g.inHeight, outWidth: g.inWidth)
        {
            backwardPlan = DirectConvPlan(
                channels: g.outChannels, height: g.outHeight, width: g.outWidth,
                kernelSize: g.kernelSize, padding: g.padding)
        } else {
            backwardPlan = nil
        }
        weightPlan = WeightGradient3x3.supports(g) ? WeightGradient3x3(geometry: g) : nil
    }

    deinit {
        forwardPlan?.deallocate()
        backwardPlan?.deallocate()
    }

    // MARK: Forward

    /// Writes `output = conv(input, weight) + bias`.
    public func forward(
        output: Tensor, input: Tensor, weight: Tensor, bias: Tensor?, pool: ThreadPool
    ) {
        let g = geometry
        checkShape(input, g.inputShape, "input")
        checkShape(output, g.outputShape, "output")
        checkShape(weight, g.weightShape, "weight")
        if let bias { checkShape(bias, [g.outChannels], "bias") }
        prepareThreadScratch(threads: pool.threadCount)
        let inputStride = g.inChannels * g.inHeight * g.inWidth
        let outputStride = g.outChannels * pixelCount
        if let plan = forwardPlan {
            pool.parallelFor(g.batch) { samples, thread in
                let padded = self.threadForwardPadded[thread].data
                for n in samples {
                    plan.copyInterior(source: input.data + n * inputStride, padded: padded)
                    let out = output.data + n * outputStride
                    plan.multiply(
                        rows: g.outChannels, weight: weight.data, padded: padded, output: out)
                    if let bias { self.addBias(bias, to: out) }
                }
            }
            return
        }

        // The product tile covers 4 output channels, so pad the weight rows to a multiple of 4.
        let weightRows: UnsafePointer<Float>
        if paddedOutChannels == g.outChannels {
            weightRows = UnsafePointer(weight.data)
        } else {
            let packed = packedWeightBuffer()
            packed.data.update(repeating: 0, count: packed.count)
            packed.data.update(from: weight.data, count: weight.count)
            weightRows = UnsafePointer(packed.data)
        }

        // When the output planes already have the tile's shape, the product goes straight
        // into the output and only the bias is added afterwards.
        let writesInPlace = paddedPixelCount == pixelCount && paddedOutChannels == g.outChannels
        pool.parallelFor(g.batch) { samples, thread in
            let columns = self.threadColumns[thread].data
            let product = self.threadProducts[thread].data
            for n in samples {
                self.im2col(input: input.data + n * inputStride, columns: columns)
                if writesInPlace {
                    let out = output.data + n * outputStride
                    multiplyTiles(
                        rows: g.outChannels, columns: self.pixelCount, depth: self.patchSize,
                        a: weightRows, aStride: self.patchSize, b: columns,
                        bStride: self.pixelCount, c: out, cStride: self.pixelCount)
                    if let bias { self.addBias(bias, to: out) }
                    continue
                }
                multiplyTiles(
                    rows: self.paddedOutChannels, columns: self.paddedPixelCount,
                    depth: self.patchSize, a: weightRows, aStride: self.patchSize,
                    b: columns, bStride: self.paddedPixelCount, c: product,
                    cStride: self.paddedPixelCount)
                let out = output.data + n * outputStride
                for o in 0..<g.outChannels {
                    let shift = bias?.data[o] ?? 0
                    let source = product + o * self.paddedPixelCount
                    let destination = out + o * self.pixelCount
                    for p in 0..<self.pixelCount {
                        destination[p] = source[p] + shift
                    }
                }
            }
        }
    }

    /// Adds `bias[o]` to every pixel of output plane `o` of one sample.
    private func addBias(_ bias: Tensor, to out: UnsafeMutablePointer<Float>) {
        for o in 0..<geometry.outChannels {
            let shift = bias.data[o]
            let plane = out + o * pixelCount
            for p in 0..<pixelCount { plane[p] += shift }
        }
    }

    // MARK: Backward

    /// Writes the gradients of the loss with respect to the input (skipped when `gradInput` is
    /// nil), the weight and the bias (skipped when `gradBias` is nil), given `gradOutput`.
    public func backward(
        gradInput: Tensor?, gradWeight: Tensor, gradBias: Tensor?, gradOutput: Tensor,
        input: Tensor, weight: Tensor, pool: ThreadPool
    ) {
        let g = geometry
        checkShape(input, g.inputShape, "input")
        checkShape(weight, g.weightShape, "weight")
        backwardPasses(
            gradInput: gradInput, gradWeight: gradWeight, gradBias: gradBias,
            gradOutput: gradOutput, input: input, weight: weight, pool: pool)
    }

    /// Writes the gradient of the loss with respect to the input, given `gradOutput`.
    public func backwardInput(
        gradInput: Tensor, gradOutput: Tensor, weight: Tensor, pool: ThreadPool
    ) {
        checkShape(weight, geometry.weightShape, "weight")
        backwardPasses(
            gradInput: gradInput, gradWeight: nil, gradBias: nil, gradOutput: gradOutput,
            input: nil, weight: weight, pool: pool)
    }

    /// Writes the gradients of the loss with respect to the weight and the bias (skipped when
    /// `gradBias` is nil), given `gradOutput`.
    public func backwardWeight(
        gradWeight: Tensor, gradBias: Tensor?, gradOutput: Tensor, input: Tensor,
        pool: ThreadPool
    ) {
        checkShape(input, geometry.inputShape, "input")
        backwardPasses(
            gradInput: nil, gradWeight: gradWeight, gradBias: gradBias, gradOutput: gradOutput,
            input: input, weight: nil, pool: pool)
    }

    /// Runs the input-gradient pass when `gradInput` is non-nil (which needs `weight`) and the
    /// weight-gradient pass when `gradWeight` is non-nil (which needs `input`).
    private func backwardPasses(
        gradInput: Tensor?, gradWeight: Tensor?, gradBias: Tensor?, gradOutput: Tensor,
        input: Tensor?, weight: Tensor?, pool: ThreadPool
    ) {
        let g = geometry
        checkShape(gradOutput, g.outputShape, "gradOutput")
        if let gradWeight { checkShape(gradWeight, g.weightShape, "gradWeight") }
        if let gradInput { checkShape(gradInput, g.inputShape, "gradInput") }
        if let gradBias { checkShape(gradBias, [g.outChannels], "gradBias") }
        prepareThreadScratch(threads: pool.threadCount)
        if let gradInput, let weight {
            backwardInputPass(
                gradInput: gradInput, gradOutput: gradOutput, weight: weight, pool: pool)
        }
        if let gradWeight, let input {
            backwardWeightPass(
                gradWeight: gradWeight, gradOutput: gradOutput, input: input, pool: pool)
        }
        if let gradBias {
            backwardBiasPass(gradBias: gradBias, gradOutput: gradOutput, pool: pool)
        }
    }

    /// Input gradient, split over samples: gradColumns = weight^T · gradOutput[n], then col2im.
    private func backwardInputPass(
        gradInput: Tensor, gradOutput: Tensor, weight: Tensor, pool: ThreadPool
    ) {
        let g = geometry
        if let plan = backwardPlan {
            backwardInputDirect(
                plan: plan, gradInput: gradInput, gradOutput: gradOutput, weight: weight,
                pool: pool)
            return
        }
        // gradColumns = weight^T · gradOutput needs the weight as [patch, outChannels] rows,
        // padded to a multiple of 4 rows for the tile.
        let transposed = packedWeightBuffer()
        transposed.data.update(repeating: 0, count: transposed.count)
        for o in 0..<g.outChannels {
            for k in 0..<patchSize {
                transposed.data[k * g.outChannels + o] = weight.data[o * patchSize + k]
            }
        }
        let inputStride = g.inChannels * g.inHeight * g.inWidth
        let outputStride = g.outChannels * pixelCount
        pool.parallelFor(g.batch) { samples, thread in
            // The forward product buffer serves as the padded gradOutput rows. Its columns
            // past `pixelCount` are zero, because every product written there had zero input
            // columns, so the GEMM below reads zeros in the padding.
            let gradRows = self.threadProducts[thread].data
            let gradColumns = self.threadColumns[thread].data
            for n in samples {
                // gradOutput planes whose length is a multiple of the tile width are read in
                // place; others are copied into zero-padded rows.
                let rows: UnsafePointer<Float>
                if self.paddedPixelCount == self.pixelCount {
                    rows = UnsafePointer(gradOutput.data + n * outputStride)
                } else {
                    for o in 0..<g.outChannels {
                        (gradRows + o * self.paddedPixelCount).update(
                            from: gradOutput.data + n * outputStride + o * self.pixelCount,
                            count: self.pixelCount)
                    }
                    rows = UnsafePointer(gradRows)
                }
                multiplyTiles(
                    rows: self.paddedPatchSize, columns: self.paddedPixelCount,
                    depth: g.outChannels, a: transposed.data, aStride: g.outChannels,
                    b: rows, bStride: self.paddedPixelCount, c: gradColumns,
                    cStride: self.paddedPixelCount)
                self.col2im(columns: gradColumns, gradInput: gradInput.data + n * inputStride)
            }
        }
    }

    /// Input gradient as the stride-1 convolution of gradOutput with the flipped, transposed
    /// weight, split over samples. Each element is one FMA chain over (o, ky, kx).
    private func backwardInputDirect(
        plan: DirectConvPlan, gradInput: Tensor, gradOutput: Tensor, weight: Tensor,
        pool: ThreadPool
    ) {
        let g = geometry
        let k = g.kernelSize
        let flipped = packedWeightBuffer().data
        let depth = plan.depth
        for o in 0..<g.outChannels {
            for c in 0..<g.inChannels {
                let source = weight.data + (o * g.inChannels + c) * k * k
                let destination = flipped + c * depth + o * k * k
                for ky in 0..<k {
                    for kx in 0..<k {
                        destination[ky * k + kx] = source[(k - 1 - ky) * k + (k - 1 - kx)]
                    }
                }
            }
        }
        let inputStride = g.inChannels * g.inHeight * g.inWidth
        let outputStride = g.outChannels * pixelCount
        pool.parallelFor(g.batch) { samples, thread in
            let padded = self.threadBackwardPadded[thread].data
            for n in samples {
                plan.copyInterior(source: gradOutput.data + n * outputStride, padded: padded)
                plan.multiply(
                    rows: g.inChannels, weight: flipped, padded: padded,
                    output: gradInput.data + n * inputStride)
            }
        }
    }

    /// Weight gradient, split over groups of `weightGroupRows` im2col rows (weight columns).
    ///
    /// Each thread builds the im2col rows of its group for a chunk of samples in its own
    /// buffer, which stays in its core's cache, and multiplies them with the gradOutput rows.
    /// Every element of gradWeight is one thread's sum: over chunks in order, and within a
    /// chunk over samples in order in SIMD lanes that are added at the end of the chunk. The
    /// chunk size depends only on the geometry, so the bits do not depend on the thread
    /// count.
    private func backwardWeightPass(
        gradWeight: Tensor, gradOutput: Tensor, input: Tensor, pool: ThreadPool
    ) {
        let g = geometry
        gradWeight.fill(0)
        if let plan = weightPlan {
            prepareWeightPlanScratch(plan: plan, threads: pool.threadCount)
            pool.parallelFor(plan.itemCount) { items, thread in
                plan.accumulate(
                    items: items, gradWeight: gradWeight.data, gradOutput: gradOutput.data,
                    input: input.data, padded: self.threadWeightPadded[thread].data,
                    transposed: self.threadTransposedGrad[thread].data,
                    sums: self.threadWeightSums[thread].data)
            }
            return
        }
        prepareWeightScratch(threads: pool.threadCount)

        // The dot products read `dotWidth` floats per row, so gradOutput rows need a zero tail
        // when the pixel count is not a multiple of 16, and zero rows up to a multiple of 4
        // output channels.
        let outputStride = g.outChannels * pixelCount
        let gradSource: UnsafePointer<Float>
        let gradSampleStride: Int
        let gradRowStride: Int
        if let padded = paddedGradOutput {
            gradSampleStride = paddedOutChannels * dotWidth
            gradRowStride = dotWidth
            pool.parallelFor(g.batch) { samples in
                for n in samples {
                    for o in 0..<g.outChannels {
                        (padded.data + n * gradSampleStride + o * self.dotWidth).update(
                            from: gradOutput.data + n * outputStride + o * self.pixelCount,
                            count: self.pixelCount)
                    }
                }
            }
            gradSource = UnsafePointer(padded.data)
        } else {
            gradSource = UnsafePointer(gradOutput.data)
            gradSampleStride = outputStride
            gradRowStride = pixelCount
        }

        let inputStride = g.inChannels * g.inHeight * g.inWidth
        let groupCount = (paddedPatchSize + weightGroupRows - 1) / weightGroupRows
        let slotStride = weightGroupRows * dotWidth
        pool.parallelFor(groupCount) { groups, thread in
            let rows = self.threadPatchRows[thread].data
            // Chunks are the outer loop, so a chunk's gradOutput rows stay in this core's L2
            // while every group of the thread reads them.
            var chunkStart = 0
            while chunkStart < g.batch {
                let chunkCount = min(self.weightChunk, g.batch - chunkStart)
                for group in groups {
                    let firstRow = group * self.weightGroupRows
                    let rowCount = min(self.weightGroupRows, self.paddedPatchSize - firstRow)
                    for slot in 0..<chunkCount {
                        let sample = input.data + (chunkStart + slot) * inputStride
                        for r in 0..<rowCount {
                            let destination = rows + slot * slotStride + r * self.dotWidth
                            if firstRow + r < self.patchSize {
                                self.im2colRow(
                                    firstRow + r, input: sample, destination: destination)
                            } else {
                                destination.update(repeating: 0, count: self.dotWidth)
                            }
                        }
                    }
                    for outputBlock in 0..<(self.paddedOutChannels / tileRows) {
                        let o0 = outputBlock * tileRows
                        for rowBlock in 0..<(rowCount / tileRows) {
                            let k0 = firstRow + rowBlock * tileRows
                            let sums = dotTile(
                                grad: gradSource + chunkStart * gradSampleStride
                                    + o0 * gradRowStride,
                                gradSampleStride: gradSampleStride, gradRowStride: gradRowStride,
                                columns: UnsafePointer(rows + rowBlock * tileRows * self.dotWidth),
                                columnSampleStride: slotStride, columnRowStride: self.dotWidth,
                                sampleCount: chunkCount, width: self.dotWidth)
                            for i in 0..<tileRows where o0 + i < g.outChannels {
                                for j in 0..<tileRows where k0 + j < self.patchSize {
                                    gradWeight.data[(o0 + i) * self.patchSize + k0 + j] +=
                                        sums[i * 4 + j]
                                }
                            }
                        }
                    }
                }
                chunkStart += chunkCount
            }
        }
    }

    /// Bias gradient, split over output channels: per channel, the sum over samples in order
    /// of each sample's 16-lane sum over pixels.
    private func backwardBiasPass(gradBias: Tensor, gradOutput: Tensor, pool: ThreadPool) {
        let g = geometry
        pool.parallelFor(g.outChannels) { channels in
            for o in channels {
                var total: Float = 0
                for n in 0..<g.batch {
                    let row = gradOutput.data + (n * g.outChannels + o) * self.pixelCount
                    var lanes = SIMD16<Float>()
                    var p = 0
                    while p + 16 <= self.pixelCount {
                        lanes += loadVector(row + p)
                        p += 16
                    }
                    var tail: Float = 0
                    while p < self.pixelCount {
                        tail += row[p]
                        p += 1
                    }
                    total += horizontalSum(lanes) + tail
                }
                gradBias.data[o] = total
            }
        }
    }

    // MARK: im2col

    /// Writes the im2col matrix of one sample: row (c, ky, kx) and column (oy, ox) hold
    /// input[c, oy * stride - padding + ky, ox * stride - padding + kx], or 0 in the padding.
    /// Only the first `pixelCount` columns and `patchSize` rows are written.
    private func im2col(input: UnsafePointer<Float>, columns: UnsafeMutablePointer<Float>) {
        for row in 0..<patchSize {
            im2colRow(row, input: input, destination: columns + row * paddedPixelCount)
        }
    }

    /// Writes row `row` = (c, ky, kx) of the im2col matrix, its first `pixelCount` columns.
    @inline(__always)
    private func im2colRow(
        _ row: Int, input: UnsafePointer<Float>, destination rowStart: UnsafeMutablePointer<Float>
    ) {
        let g = geometry
        let (k, s, pad) = (g.kernelSize, g.stride, g.padding)
        let c = row / (k * k)
        let ky = row / k % k
        let kx = row % k
        let plane = input + c * g.inHeight * g.inWidth
        let (first, end) = validOutputColumns(kx: kx)
        for oy in 0..<g.outHeight {
            let iy = oy * s - pad + ky
            let destination = rowStart + oy * g.outWidth
            guard iy >= 0 && iy < g.inHeight else {
                destination.update(repeating: 0, count: g.outWidth)
                continue
            }
            destination.update(repeating: 0, count: first)
            (destination + end).update(repeating: 0, count: g.outWidth - end)
            let source = plane + iy * g.inWidth - pad + kx
            if s == 1 {
                (destination + first).update(from: source + first, count: end - first)
            } else {
                for ox in first..<end {
                    destination[ox] = source[ox * s]
                }
            }
        }
    }

    /// Adds each im2col column gradient back to the input pixel it was copied from, after
    /// zeroing the sample's input gradient. The scan order is fixed.
    private func col2im(columns: UnsafePointer<Float>, gradInput: UnsafeMutablePointer<Float>) {
        let g = geometry
        let (k, s, pad) = (g.kernelSize, g.stride, g.padding)
        gradInput.update(repeating: 0, count: g.inChannels * g.inHeight * g.inWidth)
        for c in 0..<g.inChannels {
            let plane = gradInput + c * g.inHeight * g.inWidth
            for ky in 0..<k {
                for kx in 0..<k {
                    let row = columns + ((c * k + ky) * k + kx) * paddedPixelCount
                    let (first, end) = validOutputColumns(kx: kx)
                    for oy in 0..<g.outHeight {
                        let iy = oy * s - pad + ky
                        guard iy >= 0 && iy < g.inHeight else { continue }
                        let source = row + oy * g.outWidth
                        let destination = plane + iy * g.inWidth - pad + kx
                        if s == 1 {
                            // Contiguous on both sides, so the compiler can vectorise it.
                            for ox in first..<end { destination[ox] += source[ox] }
                        } else {
                            for ox in first..<end { destination[ox * s] += source[ox] }
                        }
                    }
                }
            }
        }
    }

    /// Returns the output columns `first..<end` whose input column ox * stride - padding + kx lies
    /// inside the image.
    private func validOutputColumns(kx: Int) -> (first: Int, end: Int) {
        let g = geometry
        let lowNumerator = g.padding - kx
        let first = lowNumerator <= 0 ? 0 : (lowNumerator + g.stride - 1) / g.stride
        let highNumerator = g.inWidth - 1 + g.padding - kx
        let end = highNumerator < 0 ? 0 : min(g.outWidth, highNumerator / g.stride + 1)
        let clampedFirst = min(first, g.outWidth)
        return (clampedFirst, max(end, clampedFirst))
    }

    // MARK: Scratch

    private func prepareThreadScratch(threads: Int) {
        while threadColumns.count < threads {
            threadColumns.append(ScratchBuffer(count: paddedPatchSize * paddedPixelCount))
            threadProducts.append(ScratchBuffer(count: paddedOutChannels * paddedPixelCount))
        }
        // The planes' borders stay zero: only `copyInterior` writes to these buffers.
        if let plan = forwardPlan {
            while threadForwardPadded.count < threads {
                threadForwardPadded.append(ScratchBuffer(count: plan.paddedCount))
            }
        }
        if let plan = backwardPlan {
            while threadBackwardPadded.count < threads {
                threadBackwardPadded.append(ScratchBuffer(count: plan.paddedCount))
            }
        }
    }

    private func prepareWeightPlanScratch(plan: WeightGradient3x3, threads: Int) {
        // The padded planes' borders stay zero: only the plan's interior copies write there.
        while threadWeightPadded.count < threads {
            threadWeightPadded.append(ScratchBuffer(count: plan.paddedCount))
            threadTransposedGrad.append(ScratchBuffer(count: plan.transposedCount))
            threadWeightSums.append(ScratchBuffer(count: plan.itemCount * 9 * 32))
        }
    }

    private func prepareWeightScratch(threads: Int) {
        while threadPatchRows.count < threads {
            threadPatchRows.append(ScratchBuffer(count: weightChunk * weightGroupRows * dotWidth))
        }
        let readsInPlace = dotWidth == pixelCount && paddedOutChannels == geometry.outChannels
        if !readsInPlace && paddedGradOutput == nil {
            paddedGradOutput = ScratchBuffer(
                count: geometry.batch * paddedOutChannels * dotWidth)
        }
    }

    private func packedWeightBuffer() -> ScratchBuffer {
        if let packedWeight { return packedWeight }
        let count = max(paddedOutChannels * patchSize, paddedPatchSize * geometry.outChannels)
        let buffer = ScratchBuffer(count: count)
        packedWeight = buffer
        return buffer
    }
}

// MARK: - SIMD tiles

/// Output rows of one product tile.
private let tileRows = 4
/// Output columns of one product tile: four 16-lane vectors.
private let tileColumns = 64

private func roundUp(_ value: Int, to multiple: Int) -> Int {
    (value + multiple - 1) / multiple * multiple
}

@inline(__always)
func loadVector(_ pointer: UnsafePointer<Float>) -> SIMD16<Float> {
    UnsafeRawPointer(pointer).loadUnaligned(as: SIMD16<Float>.self)
}

@inline(__always)
func storeVector(_ vector: SIMD16<Float>, _ pointer: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(pointer).storeBytes(of: vector, as: SIMD16<Float>.self)
}

/// Writes C = A · B for a `rows` x `columns` block of C, where `rows` is a multiple of 4 and
/// `columns` a multiple of 64. A is `rows` x `depth`, B is `depth` x `columns`; the strides are
/// the row lengths in floats.
///
/// Column panels are the outer loop so that the 64-column slice of B stays in cache while
/// every 4-row block of A passes over it. Each element is one FMA chain over `depth` in
/// increasing order, so the result does not depend on how callers split the work.
private func multiplyTiles(
    rows: Int, columns: Int, depth: Int, a: UnsafePointer<Float>, aStride: Int,
    b: UnsafePointer<Float>, bStride: Int, c: UnsafeMutablePointer<Float>, cStride: Int
) {
    var column = 0
    while column < columns {
        var row = 0
        while row < rows {
            multiplyTile(
                depth: depth, a: a + row * aStride, aStride: aStride, b: b + column,
                bStride: bStride, c: c + row * cStride + column, cStride: cStride)
            row += tileRows
        }
        column += tileColumns
    }
}

/// Computes one 4 x 64 tile of C = A · B.
@inline(__always)
private func multiplyTile(
    depth: Int, a: UnsafePointer<Float>, aStride: Int, b: UnsafePointer<Float>, bStride: Int,
    c: UnsafeMutablePointer<Float>, cStride: Int
) {
    let a0 = a
    let a1 = a + aStride
    let a2 = a + 2 * aStride
    let a3 = a + 3 * aStride
    var bRow = b
    var start = 0
    repeat {
        var tile = Tile4x64()
        let end = min(start + Tile4x64.depthBlock, depth)
        for d in start..<end {
            tile.add(
                a0[d], a1[d], a2[d], a3[d], loadVector(bRow), loadVector(bRow + 16),
                loadVector(bRow + 32), loadVector(bRow + 48))
            bRow += bStride
        }
        tile.write(to: c, stride: cStride, firstBlock: start == 0)
        start = end
    } while start < depth
}

/// Sums, over `sampleCount` samples and `width` pixels, the products of 4 gradOutput rows
/// with 4 im2col rows. Lanes accumulate over samples in order, and the 16 lanes are added
/// last. Lane `4 * i + j` of the result is the sum for gradient row `i` and im2col row `j`.
@inline(__always)
private func dotTile(
    grad: UnsafePointer<Float>, gradSampleStride: Int, gradRowStride: Int,
    columns: UnsafePointer<Float>, columnSampleStride: Int, columnRowStride: Int,
    sampleCount: Int, width: Int
) -> SIMD16<Float> {
    var d00 = SIMD16<Float>()
    var d01 = SIMD16<Float>()
    var d02 = SIMD16<Float>()
    var d03 = SIMD16<Float>()
    var d10 = SIMD16<Float>()
    var d11 = SIMD16<Float>()
    var d12 = SIMD16<Float>()
    var d13 = SIMD16<Float>()
    var d20 = SIMD16<Float>()
    var d21 = SIMD16<Float>()
    var d22 = SIMD16<Float>()
    var d23 = SIMD16<Float>()
    var d30 = SIMD16<Float>()
    var d31 = SIMD16<Float>()
    var d32 = SIMD16<Float>()
    var d33 = SIMD16<Float>()

    for slot in 0..<sampleCount {
        let g = grad + slot * gradSampleStride
        let x = columns + slot * columnSampleStride
        let gs = gradRowStride
        let xs = columnRowStride
        var p = 0
        while p < width {
            let g0 = loadVector(g + p)
            let g1 = loadVector(g + gs + p)
            let g2 = loadVector(g + 2 * gs + p)
            let g3 = loadVector(g + 3 * gs + p)
            let x0 = loadVector(x + p)
            let x1 = loadVector(x + xs + p)
            let x2 = loadVector(x + 2 * xs + p)
            let x3 = loadVector(x + 3 * xs + p)
            d00.addProduct(g0, x0)
            d01.addProduct(g0, x1)
            d02.addProduct(g0, x2)
            d03.addProduct(g0, x3)
            d10.addProduct(g1, x0)
            d11.addProduct(g1, x1)
            d12.addProduct(g1, x2)
            d13.addProduct(g1, x3)
            d20.addProduct(g2, x0)
            d21.addProduct(g2, x1)
            d22.addProduct(g2, x2)
            d23.addProduct(g2, x3)
            d30.addProduct(g3, x0)
            d31.addProduct(g3, x1)
            d32.addProduct(g3, x2)
            d33.addProduct(g3, x3)
            p += 16
        }
    }

    return SIMD16<Float>(
        horizontalSum(d00), horizontalSum(d01), horizontalSum(d02), horizontalSum(d03),
        horizontalSum(d10), horizontalSum(d11), horizontalSum(d12), horizontalSum(d13),
        horizontalSum(d20), horizontalSum(d21), horizontalSum(d22), horizontalSum(d23),
        horizontalSum(d30), horizontalSum(d31), horizontalSum(d32), horizontalSum(d33))
}

/// Adds the 16 lanes pairwise in a fixed tree. The standard library's `sum()` is not
/// specialised for SIMD16<Float> in this build and shows up as a generic call in profiles.
@inline(__always)
func horizontalSum(_ v: SIMD16<Float>) -> Float {
    let eight = v.lowHalf + v.highHalf
    let four = eight.lowHalf + eight.highHalf
    let two = four.lowHalf + four.highHalf
    return two[0] + two[1]
}

/// A zero-filled, 64-byte aligned Float buffer owned by a kernel.
final class ScratchBuffer: @unchecked Sendable {
    let count: Int
    let data: UnsafeMutablePointer<Float>

    init(count: Int) {
        self.count = count
        let raw = UnsafeMutableRawPointer.allocate(
            byteCount: max(count, 1) * MemoryLayout<Float>.stride, alignment: 64)
        data = raw.bindMemory(to: Float.self, capacity: max(count, 1))
        data.initialize(repeating: 0, count: max(count, 1))
    }

    deinit {
        UnsafeMutableRawPointer(data).deallocate()
    }
}

/// Stops with a message naming the tensor when its shape is not `expected`.
func checkShape(_ tensor: Tensor, _ expected: [Int], _ name: String) {
    precondition(
        tensor.shape == expected, "\(name) has shape \(tensor.shape), expected \(expected)")
}
