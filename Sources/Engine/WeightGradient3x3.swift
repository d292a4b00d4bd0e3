/// Weight gradient of a 3x3 convolution (any stride and padding) whose output channels are a
/// multiple of 16, without im2col rows.
///
/// Per sample, each thread copies the input planes into a zero-bordered buffer and gradOutput
/// into pixel-major rows `[pixel, outChannel]`. A work item is one input channel c and 16 or
/// 32 output channels: for each output pixel it broadcasts the 9 input values under the
/// kernel window, read straight from the padded plane, and multiplies them with 1 or 2
/// vectors of gradOutput, into 9 or 18 SIMD16 accumulators. With 16 output channels at stride
/// 1 and rows of a multiple of 16 pixels, `accumulateByPixels` runs the lanes over pixels
/// instead and reads gradOutput in place.
///
/// Each gradient element is a sum over samples in order of per-sample FMA chains over the
/// output pixels in scan order. A work item owns its elements, so the bits do not depend on
/// the thread count.
struct WeightGradient3x3 {
    let geometry: ConvGeometry
    let paddedWidth: Int
    let paddedPlane: Int
    /// Output channels per work item: 32 when outChannels is a multiple of 32, else 16.
    let channelBlock: Int
    /// Whether work items use lanes over output pixels (see `accumulateByPixels`).
    let pixelLanes: Bool

    /// Whether this path handles `g`. The resnet20 stem (3 input channels) measured slower
    /// here than with im2col rows (2.4 against 1.9 CPU ms at batch 128), so few input
    /// channels keep the im2col path.
    static func supports(_ g: ConvGeometry) -> Bool {
        g.kernelSize == 3 && g.outChannels % 16 == 0 && g.inChannels >= 8
    }

    init(geometry g: ConvGeometry) {
        geometry = g
        paddedWidth = g.inWidth + 2 * g.padding
        paddedPlane = (g.inHeight + 2 * g.padding) * paddedWidth
        channelBlock = g.outChannels % 32 == 0 ? 32 : 16
        pixelLanes = g.stride == 1 && g.outWidth % 16 == 0 && channelBlock == 16
    }

    var itemCount: Int {
        pixelLanes
            ? geometry.inChannels * (geometry.outChannels / 2)
            : geometry.inChannels * (geometry.outChannels / channelBlock)
    }
    /// Floats of one thread's zero-bordered input planes.
    var paddedCount: Int { geometry.inChannels * paddedPlane }
    /// Floats of one thread's pixel-major gradOutput rows.
    var transposedCount: Int { geometry.outHeight * geometry.outWidth * geometry.outChannels }

    /// Writes the elements of `gradWeight` that the items in `items` own. `padded` has a zero
    /// border that only this function's copies skip, and `sums` has room for 9 * 32 floats per item.
    func accumulate(
        items: Range<Int>, gradWeight: UnsafeMutablePointer<Float>,
        gradOutput: UnsafePointer<Float>, input: UnsafePointer<Float>,
        padded: UnsafeMutablePointer<Float>, transposed: UnsafeMutablePointer<Float>,
        sums: UnsafeMutablePointer<Float>
    ) {
        if pixelLanes {
            accumulateByPixels(
                items: items, gradWeight: gradWeight, gradOutput: gradOutput, input: input,
                padded: padded, sums: sums)
            return
        }
        let g = geometry
        let blocksPerChannel = g.outChannels / channelBlock
        let firstChannel = items.lowerBound / blocksPerChannel
        let endChannel = (items.upperBound + blocksPerChannel - 1) / blocksPerChannel
        let pixelCount = g.outHeight * g.outWidth
        let inputStride = g.inChannels * g.inHeight * g.inWidth
        let outputStride = g.outChannels * pixelCount
        let patchSize = g.inChannels * 9
        sums.update(repeating: 0, count: items.count * 288)
        for n in 0..<g.batch {
            copyPadded(
                input + n * inputStride, channels: firstChannel..<endChannel, padded: padded)
            transpose(gradOutput + n * outputStride, into: transposed)
            for item in items {
                let c = item / blocksPerChannel
                let o0 = item % blocksPerChannel * channelBlock
                let plane = UnsafePointer(padded + c * paddedPlane)
                let itemSums = sums + (item - items.lowerBound) * 288
                if channelBlock == 32 {
                    tile(plane: plane, gradRows: transposed + o0, wide: true, sums: itemSums)
                } else {
                    tile(plane: plane, gradRows: transposed + o0, wide: false, sums: itemSums)
                }
            }
        }
        for item in items {
            let c = item / blocksPerChannel
            let o0 = item % blocksPerChannel * channelBlock
            let itemSums = sums + (item - items.lowerBound) * 288
            for j in 0..<9 {
                for i in 0..<channelBlock {
                    gradWeight[(o0 + i) * patchSize + c * 9 + j] = itemSums[j * 32 + i]
                }
            }
        }
    }

    /// Accumulates the weight gradient for 16 output channels at stride 1 with rows of a
    /// multiple of 16 pixels, where the broadcasts of `tile` measured slow (one per FMA). A work item is one
    /// input channel and two output channels, with 18 accumulators whose lanes run over 16
    /// output pixels: per vector it loads 2 gradOutput and 9 padded input vectors for 18 FMAs.
    /// Each lane sums over samples in order of per-sample chains, and the 16 lanes are added
    /// at the end.
    private func accumulateByPixels(
        items: Range<Int>, gradWeight: UnsafeMutablePointer<Float>,
        gradOutput: UnsafePointer<Float>, input: UnsafePointer<Float>,
        padded: UnsafeMutablePointer<Float>, sums: UnsafeMutablePointer<Float>
    ) {
        let g = geometry
        let pairs = g.outChannels / 2
        let firstChannel = items.lowerBound / pairs
        let endChannel = (items.upperBound + pairs - 1) / pairs
        let pixelCount = g.outHeight * g.outWidth
        let inputStride = g.inChannels * g.inHeight * g.inWidth
        let outputStride = g.outChannels * pixelCount
        let patchSize = g.inChannels * 9
        sums.update(repeating: 0, count: items.count * 288)
        for n in 0..<g.batch {
            copyPadded(
                input + n * inputStride, channels: firstChannel..<endChannel, padded: padded)
            for item in items {
                let c = item / pairs
                let o0 = item % pairs * 2
                pixelTile(
                    plane: padded + c * paddedPlane,
                    gradRows: gradOutput + n * outputStride + o0 * pixelCount,
                    sums: sums + (item - items.lowerBound) * 288)
            }
        }
        // Sums of an item are 18 vectors: [output channel o0 + i, window element j].
        for item in items {
            let c = item / pairs
            let o0 = item % pairs * 2
            let itemSums = sums + (item - items.lowerBound) * 288
            for i in 0..<2 {
                for j in 0..<9 {
                    gradWeight[(o0 + i) * patchSize + c * 9 + j] = horizontalSum(
                        loadVector(itemSums + (i * 9 + j) * 16))
                }
            }
        }
    }

    /// Adds to the 18 vectors at `sums` one sample's products of gradOutput rows o0 and
    /// o0 + 1 (at `gradRows`) with the 9 window shifts of one padded input plane.
    @inline(__always)
    private func pixelTile(
        plane: UnsafePointer<Float>, gradRows: UnsafePointer<Float>,
        sums: UnsafeMutablePointer<Float>
    ) {
        let g = geometry
        let w = paddedWidth
        let secondRow = g.outHeight * g.outWidth
        var a0 = SIMD16<Float>()
        var a1 = SIMD16<Float>()
        var a2 = SIMD16<Float>()
        var a3 = SIMD16<Float>()
        var a4 = SIMD16<Float>()
        var a5 = SIMD16<Float>()
        var a6 = SIMD16<Float>()
        var a7 = SIMD16<Float>()
        var a8 = SIMD16<Float>()
        var b0 = SIMD16<Float>()
        var b1 = SIMD16<Float>()
        var b2 = SIMD16<Float>()
        var b3 = SIMD16<Float>()
        var b4 = SIMD16<Float>()
        var b5 = SIMD16<Float>()
        var b6 = SIMD16<Float>()
        var b7 = SIMD16<Float>()
        var b8 = SIMD16<Float>()
        for oy in 0..<g.outHeight {
            let windowRow = plane + oy * w
            let gradRow = gradRows + oy * g.outWidth
            var ox = 0
            while ox < g.outWidth {
                let x = windowRow + ox
                let g0 = loadVector(gradRow + ox)
                let g1 = loadVector(gradRow + secondRow + ox)
                let x0 = loadVector(x)
                a0.addProduct(x0, g0)
                b0.addProduct(x0, g1)
                let x1 = loadVector(x + 1)
                a1.addProduct(x1, g0)
                b1.addProduct(x1, g1)
                let x2 = loadVector(x + 2)
                a2.addProduct(x2, g0)
                b2.addProduct(x2, g1)
                let x3 = loadVector(x + w)
                a3.addProduct(x3, g0)
                b3.addProduct(x3, g1)
                let x4 = loadVector(x + w + 1)
                a4.addProduct(x4, g0)
                b4.addProduct(x4, g1)
                let x5 = loadVector(x + w + 2)
                a5.addProduct(x5, g0)
                b5.addProduct(x5, g1)
                let x6 = loadVector(x + 2 * w)
                a6.addProduct(x6, g0)
                b6.addProduct(x6, g1)
                let x7 = loadVector(x + 2 * w + 1)
                a7.addProduct(x7, g0)
                b7.addProduct(x7, g1)
                let x8 = loadVector(x + 2 * w + 2)
                a8.addProduct(x8, g0)
                b8.addProduct(x8, g1)
                ox += 16
            }
        }
        let accumulators = (a0, a1, a2, a3, a4, a5, a6, a7, a8, b0, b1, b2, b3, b4, b5, b6, b7, b8)
        withUnsafeBytes(of: accumulators) { bytes in
            let values = bytes.baseAddress!.assumingMemoryBound(to: Float.self)
            for k in 0..<18 {
                storeVector(loadVector(sums + k * 16) + loadVector(values + k * 16), sums + k * 16)
            }
        }
    }

    private func copyPadded(
        _ source: UnsafePointer<Float>, channels: Range<Int>, padded: UnsafeMutablePointer<Float>
    ) {
        let g = geometry
        for c in channels {
            let plane = source + c * g.inHeight * g.inWidth
            let destination = padded + c * paddedPlane + g.padding * paddedWidth + g.padding
            for y in 0..<g.inHeight {
                let row = plane + y * g.inWidth
                let target = destination + y * paddedWidth
                for x in 0..<g.inWidth { target[x] = row[x] }
            }
        }
    }

    /// Writes gradOutput `[outChannels, pixel]` of one sample as `[pixel, outChannels]`.
    private func transpose(_ source: UnsafePointer<Float>, into rows: UnsafeMutablePointer<Float>) {
        let g = geometry
        let pixelCount = g.outHeight * g.outWidth
        for o in 0..<g.outChannels {
            let plane = source + o * pixelCount
            for p in 0..<pixelCount {
                rows[p * g.outChannels + o] = plane[p]
            }
        }
    }

    /// Adds to `sums[j * 32 + i]` one sample's FMA chain over output pixels of
    /// input(window element j) x gradOutput(channel i), for 16 channels, or 32 when `wide`.
    @inline(__always)
    private func tile(
        plane: UnsafePointer<Float>, gradRows: UnsafePointer<Float>, wide: Bool,
        sums: UnsafeMutablePointer<Float>
    ) {
        let g = geometry
        let s = g.stride
        let w = paddedWidth
        let rowStride = g.outChannels
        var a0 = SIMD16<Float>()
        var a1 = SIMD16<Float>()
        var a2 = SIMD16<Float>()
        var a3 = SIMD16<Float>()
        var a4 = SIMD16<Float>()
        var a5 = SIMD16<Float>()
        var a6 = SIMD16<Float>()
        var a7 = SIMD16<Float>()
        var a8 = SIMD16<Float>()
        var b0 = SIMD16<Float>()
        var b1 = SIMD16<Float>()
        var b2 = SIMD16<Float>()
        var b3 = SIMD16<Float>()
        var b4 = SIMD16<Float>()
        var b5 = SIMD16<Float>()
        var b6 = SIMD16<Float>()
        var b7 = SIMD16<Float>()
        var b8 = SIMD16<Float>()
        var gradRow = gradRows
        for oy in 0..<g.outHeight {
            let windowRow = plane + oy * s * w
            for ox in 0..<g.outWidth {
                let x = windowRow + ox * s
                let g0 = loadVector(gradRow)
                let g1 = wide ? loadVector(gradRow + 16) : SIMD16<Float>()
                let x0 = SIMD16<Float>(repeating: x[0])
                let x1 = SIMD16<Float>(repeating: x[1])
                let x2 = SIMD16<Float>(repeating: x[2])
                a0.addProduct(x0, g0)
                a1.addProduct(x1, g0)
                a2.addProduct(x2, g0)
                if wide {
                    b0.addProduct(x0, g1)
                    b1.addProduct(x1, g1)
                    b2.addProduct(x2, g1)
                }
                let x3 = SIMD16<Float>(repeating: x[w])
                let x4 = SIMD16<Float>(repeating: x[w + 1])
                let x5 = SIMD16<Float>(repeating: x[w + 2])
                a3.addProduct(x3, g0)
                a4.addProduct(x4, g0)
                a5.addProduct(x5, g0)
                if wide {
                    b3.addProduct(x3, g1)
                    b4.addProduct(x4, g1)
                    b5.addProduct(x5, g1)
                }
                let x6 = SIMD16<Float>(repeating: x[2 * w])
                let x7 = SIMD16<Float>(repeating: x[2 * w + 1])
                let x8 = SIMD16<Float>(repeating: x[2 * w + 2])
                a6.addProduct(x6, g0)
                a7.addProduct(x7, g0)
                a8.addProduct(x8, g0)
                if wide {
                    b6.addProduct(x6, g1)
                    b7.addProduct(x7, g1)
                    b8.addProduct(x8, g1)
                }
                gradRow += rowStride
            }
        }
        storeVector(loadVector(sums) + a0, sums)
        storeVector(loadVector(sums + 32) + a1, sums + 32)
        storeVector(loadVector(sums + 64) + a2, sums + 64)
        storeVector(loadVector(sums + 96) + a3, sums + 96)
        storeVector(loadVector(sums + 128) + a4, sums + 128)
        storeVector(loadVector(sums + 160) + a5, sums + 160)
        storeVector(loadVector(sums + 192) + a6, sums + 192)
        storeVector(loadVector(sums + 224) + a7, sums + 224)
        storeVector(loadVector(sums + 256) + a8, sums + 256)
        if wide {
            storeVector(loadVector(sums + 16) + b0, sums + 16)
            storeVector(loadVector(sums + 48) + b1, sums + 48)
            storeVector(loadVector(sums + 80) + b2, sums + 80)
            storeVector(loadVector(sums + 112) + b3, sums + 112)
            storeVector(loadVector(sums + 144) + b4, sums + 144)
            storeVector(loadVector(sums + 176) + b5, sums + 176)
            storeVector(loadVector(sums + 208) + b6, sums + 208)
            storeVector(loadVector(sums + 240) + b7, sums + 240)
            storeVector(loadVector(sums + 272) + b8, sums + 272)
        }
    }
}
