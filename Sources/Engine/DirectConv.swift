/// Stride-1 convolution without an im2col matrix.
///
/// The source planes are copied once into a buffer with a zero border of `padding` pixels.
/// In that padded copy, im2col row (c, ky, kx) at output pixel (oy, ox) is the element at
/// `c * paddedPlane + (oy + ky) * paddedWidth + ox + kx`. So the micro-kernel reads each
/// 16-pixel vector of the im2col matrix straight from the padded planes, at a per-row offset
/// plus a per-vector offset, and nothing copies the 9x larger im2col matrix.
///
/// Each output element is the same FMA chain, over the same products in the same order, as
/// the im2col GEMM computes, so the forward results are bitwise the same as that path's.
struct DirectConvPlan {
    /// Channels of the source planes, which the depth of the product runs over.
    let channels: Int
    let kernelSize: Int
    let padding: Int
    /// Source plane size, equal to the output plane size (stride 1, 2 * padding = k - 1) or
    /// larger (padding smaller than that).
    let height: Int
    let width: Int
    let outHeight: Int
    let outWidth: Int
    let paddedWidth: Int
    let paddedPlane: Int
    /// Per im2col row (c, ky, kx): its element offset in the padded planes.
    let rowOffsets: UnsafeMutablePointer<Int>

    var depth: Int { channels * kernelSize * kernelSize }
    var pixelCount: Int { outHeight * outWidth }
    var paddedCount: Int { channels * paddedPlane }

    /// Whether the direct path handles this stride-1 shape: whole 64-pixel tiles, and each
    /// 16-pixel vector inside one output row, or an 8-pixel output row per half vector.
    static func supports(outHeight: Int, outWidth: Int) -> Bool {
        (outHeight * outWidth) % 64 == 0 && (outWidth % 16 == 0 || outWidth == 8)
    }

    init(channels: Int, height: Int, width: Int, kernelSize: Int, padding: Int) {
        self.channels = channels
        self.kernelSize = kernelSize
        self.padding = padding
        self.height = height
        self.width = width
        outHeight = height + 2 * padding - kernelSize + 1
        outWidth = width + 2 * padding - kernelSize + 1
        paddedWidth = width + 2 * padding
        paddedPlane = (height + 2 * padding) * paddedWidth
        let depth = channels * kernelSize * kernelSize
        rowOffsets = UnsafeMutablePointer<Int>.allocate(capacity: depth)
        for c in 0..<channels {
            for ky in 0..<kernelSize {
                for kx in 0..<kernelSize {
                    rowOffsets[(c * kernelSize + ky) * kernelSize + kx] =
                        c * paddedPlane + ky * paddedWidth + kx
                }
            }
        }
    }

    /// Releases `rowOffsets`. The owner calls it once, in its `deinit`.
    func deallocate() {
        rowOffsets.deallocate()
    }

    /// Copies the source planes of one sample into the interior of `padded`, whose border
    /// the caller zeroed once and nothing writes.
    func copyInterior(source: UnsafePointer<Float>, padded: UnsafeMutablePointer<Float>) {
        for c in 0..<channels {
            let plane = source + c * height * width
            let destination = padded + c * paddedPlane + padding * paddedWidth + padding
            for y in 0..<height {
                let row = plane + y * width
                let target = destination + y * paddedWidth
                for x in 0..<width { target[x] = row[x] }
            }
        }
    }

    /// Writes `output = weight · im2col(padded)` for one sample. `weight` is
    /// `[rows, depth]` with `rows` a multiple of 4, and `output` is `[rows, pixelCount]`.
    func multiply(
        rows: Int, weight: UnsafePointer<Float>, padded: UnsafePointer<Float>,
        output: UnsafeMutablePointer<Float>
    ) {
        if outWidth % 16 == 0 {
            multiplyTiles(rows: rows, weight: weight, padded: padded, output: output, split: false)
        } else {
            multiplyTiles(rows: rows, weight: weight, padded: padded, output: output, split: true)
        }
    }

    /// Offset in the padded plane of output pixel `pixel`, for the row offset zero.
    @inline(__always)
    private func pixelOffset(_ pixel: Int) -> Int {
        pixel / outWidth * paddedWidth + pixel % outWidth
    }

    @inline(__always)
    private func multiplyTiles(
        rows: Int, weight: UnsafePointer<Float>, padded: UnsafePointer<Float>,
        output: UnsafeMutablePointer<Float>, split: Bool
    ) {
        var tileStart = 0
        while tileStart < pixelCount {
            // Low and high half of each of the tile's four vectors. Without `split` a vector
            // lies in one output row and only the low offsets are read.
            let offsets = VectorOffsets(
                low: (
                    pixelOffset(tileStart), pixelOffset(tileStart + 16),
                    pixelOffset(tileStart + 32), pixelOffset(tileStart + 48)
                ),
                high: (
                    pixelOffset(tileStart + 8), pixelOffset(tileStart + 24),
                    pixelOffset(tileStart + 40), pixelOffset(tileStart + 56)
                ))
            var row = 0
            while row < rows {
                directTile(
                    depth: depth, a: weight + row * depth, aStride: depth, padded: padded,
                    rowOffsets: rowOffsets, offsets: offsets, split: split,
                    c: output + row * pixelCount + tileStart, cStride: pixelCount)
                row += 4
            }
            tileStart += 64
        }
    }
}

struct VectorOffsets {
    var low: (Int, Int, Int, Int)
    var high: (Int, Int, Int, Int)
}

@inline(__always)
private func loadPixels(
    _ base: UnsafePointer<Float>, _ low: Int, _ high: Int, split: Bool
) -> SIMD16<Float> {
    if split {
        let lowHalf = UnsafeRawPointer(base + low).loadUnaligned(as: SIMD8<Float>.self)
        let highHalf = UnsafeRawPointer(base + high).loadUnaligned(as: SIMD8<Float>.self)
        return SIMD16(lowHalf: lowHalf, highHalf: highHalf)
    }
    return UnsafeRawPointer(base + low).loadUnaligned(as: SIMD16<Float>.self)
}

/// Computes one 4 x 64 tile of `A · im2col(padded)`, with one FMA chain per element over
/// the depth in increasing order.
@inline(__always)
private func directTile(
    depth: Int, a: UnsafePointer<Float>, aStride: Int, padded: UnsafePointer<Float>,
    rowOffsets: UnsafePointer<Int>, offsets: VectorOffsets, split: Bool,
    c: UnsafeMutablePointer<Float>, cStride: Int
) {
    let a0 = a
    let a1 = a + aStride
    let a2 = a + 2 * aStride
    let a3 = a + 3 * aStride
    let (l0, l1, l2, l3) = offsets.low
    let (h0, h1, h2, h3) = offsets.high
    var start = 0
    repeat {
        var tile = Tile4x64()
        let end = min(start + Tile4x64.depthBlock, depth)
        for d in start..<end {
            let base = padded + rowOffsets[d]
            tile.add(
                a0[d], a1[d], a2[d], a3[d], loadPixels(base, l0, h0, split: split),
                loadPixels(base, l1, h1, split: split), loadPixels(base, l2, h2, split: split),
                loadPixels(base, l3, h3, split: split))
        }
        tile.write(to: c, stride: cStride, firstBlock: start == 0)
        start = end
    } while start < depth
}
