/// The sixteen SIMD16 accumulators of a 4 x 64 tile of a matrix product C = A · B: four rows
/// of A against 64 columns of B. Four rows by four vectors of B plus one broadcast weight
/// fit the 32 vector registers of AVX-512. Every accumulator is its own chain of FMAs in
/// the order the caller feeds the depth, so the result does not depend on how the callers
/// load their B vectors.
struct Tile4x64 {
    private var c00 = SIMD16<Float>(), c01 = SIMD16<Float>(), c02 = SIMD16<Float>()
    private var c03 = SIMD16<Float>(), c10 = SIMD16<Float>(), c11 = SIMD16<Float>()
    private var c12 = SIMD16<Float>(), c13 = SIMD16<Float>(), c20 = SIMD16<Float>()
    private var c21 = SIMD16<Float>(), c22 = SIMD16<Float>(), c23 = SIMD16<Float>()
    private var c30 = SIMD16<Float>(), c31 = SIMD16<Float>(), c32 = SIMD16<Float>()
    private var c33 = SIMD16<Float>()

    /// Adds one step of the depth: row i gains `a_i` times the 64 values in `b0`...`b3`.
    @inline(__always)
    mutating func add(
        _ a0: Float, _ a1: Float, _ a2: Float, _ a3: Float,
        _ b0: SIMD16<Float>, _ b1: SIMD16<Float>, _ b2: SIMD16<Float>, _ b3: SIMD16<Float>
    ) {
        let w0 = SIMD16<Float>(repeating: a0)
        c00.addProduct(w0, b0)
        c01.addProduct(w0, b1)
        c02.addProduct(w0, b2)
        c03.addProduct(w0, b3)
        let w1 = SIMD16<Float>(repeating: a1)
        c10.addProduct(w1, b0)
        c11.addProduct(w1, b1)
        c12.addProduct(w1, b2)
        c13.addProduct(w1, b3)
        let w2 = SIMD16<Float>(repeating: a2)
        c20.addProduct(w2, b0)
        c21.addProduct(w2, b1)
        c22.addProduct(w2, b2)
        c23.addProduct(w2, b3)
        let w3 = SIMD16<Float>(repeating: a3)
        c30.addProduct(w3, b0)
        c31.addProduct(w3, b1)
        c32.addProduct(w3, b2)
        c33.addProduct(w3, b3)
    }

    /// How many steps of the depth one tile sums before its result joins the running
    /// total in memory. One running sum over a depth of K gathers rounding error that grows
    /// with K. Summing blocks and then the blocks' results keeps it near that of a sum of
    /// 256 + K / 256 terms. Take depths of 2,048 to 4,608, as in resnet50's last stages: the
    /// forward's RMS error against a sum in Double fell from 0.8e-6 to 1.1e-6 of the
    /// output's RMS to 2.6e-7 to 2.9e-7 (`ConvAccuracyTests`). A resnet20 step, whose
    /// depths of 144 to 576 take at most three blocks, needs about 1 % more CPU time.
    static let depthBlock = 256

    /// Stores the tile at `c` for the first block of the depth and adds it to what is there
    /// for every later one.
    @inline(__always)
    func write(to c: UnsafeMutablePointer<Float>, stride: Int, firstBlock: Bool) {
        if firstBlock {
            store(to: c, stride: stride)
        } else {
            accumulate(into: c, stride: stride)
        }
    }

    /// Adds the tile to four rows of 64 floats, `stride` floats apart, starting at `c`.
    @inline(__always)
    func accumulate(into c: UnsafeMutablePointer<Float>, stride: Int) {
        storeVector(loadVector(c) + c00, c)
        storeVector(loadVector(c + 16) + c01, c + 16)
        storeVector(loadVector(c + 32) + c02, c + 32)
        storeVector(loadVector(c + 48) + c03, c + 48)
        storeVector(loadVector(c + stride) + c10, c + stride)
        storeVector(loadVector(c + stride + 16) + c11, c + stride + 16)
        storeVector(loadVector(c + stride + 32) + c12, c + stride + 32)
        storeVector(loadVector(c + stride + 48) + c13, c + stride + 48)
        storeVector(loadVector(c + 2 * stride) + c20, c + 2 * stride)
        storeVector(loadVector(c + 2 * stride + 16) + c21, c + 2 * stride + 16)
        storeVector(loadVector(c + 2 * stride + 32) + c22, c + 2 * stride + 32)
        storeVector(loadVector(c + 2 * stride + 48) + c23, c + 2 * stride + 48)
        storeVector(loadVector(c + 3 * stride) + c30, c + 3 * stride)
        storeVector(loadVector(c + 3 * stride + 16) + c31, c + 3 * stride + 16)
        storeVector(loadVector(c + 3 * stride + 32) + c32, c + 3 * stride + 32)
        storeVector(loadVector(c + 3 * stride + 48) + c33, c + 3 * stride + 48)
    }

    /// Writes the tile to four rows of 64 floats, `stride` floats apart, starting at `c`.
    @inline(__always)
    func store(to c: UnsafeMutablePointer<Float>, stride: Int) {
        storeVector(c00, c)
        storeVector(c01, c + 16)
        storeVector(c02, c + 32)
        storeVector(c03, c + 48)
        storeVector(c10, c + stride)
        storeVector(c11, c + stride + 16)
        storeVector(c12, c + stride + 32)
        storeVector(c13, c + stride + 48)
        storeVector(c20, c + 2 * stride)
        storeVector(c21, c + 2 * stride + 16)
        storeVector(c22, c + 2 * stride + 32)
        storeVector(c23, c + 2 * stride + 48)
        storeVector(c30, c + 3 * stride)
        storeVector(c31, c + 3 * stride + 16)
        storeVector(c32, c + 3 * stride + 32)
        storeVector(c33, c + 3 * stride + 48)
    }
}
