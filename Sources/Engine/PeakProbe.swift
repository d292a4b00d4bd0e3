#if canImport(Glibc)
    import Glibc
#endif

/// A measurement of the machine's Float32 multiply-add rate, the denominator of the
/// benchmark's "% of peak" figures.
public enum PeakProbe {
    /// Returns the GFLOP/s (2 per multiply-add) that `threads` threads reach together on
    /// twelve independent chains of SIMD16 multiply-adds whose operands stay in registers.
    /// Twelve chains cover the latency of a multiply-add (4 cycles on Zen 4) times its
    /// throughput, so the rate is bound by the FMA units alone. Each thread runs
    /// `iterations` rounds of 12 multiply-adds.
    public static func measureGflops(threads: Int, iterations: Int = 20_000_000) -> Double {
        let pool = ThreadPool(threads: threads)
        let sink = UnsafeMutablePointer<Float>.allocate(capacity: threads)
        defer { sink.deallocate() }
        var start = timespec()
        clock_gettime(CLOCK_MONOTONIC, &start)
        pool.parallelFor(threads) { parts in
            for part in parts {
                sink[part] = runChains(iterations: iterations, seed: Float(part))
            }
        }
        var end = timespec()
        clock_gettime(CLOCK_MONOTONIC, &end)
        let seconds = Double(end.tv_sec - start.tv_sec) + Double(end.tv_nsec - start.tv_nsec) / 1e9
        let flops = Double(threads) * Double(iterations) * 12 * 16 * 2
        return flops / seconds / 1e9
    }

    @inline(never)
    private static func runChains(iterations: Int, seed: Float) -> Float {
        let multiplier = SIMD16<Float>(repeating: 0.999_999)
        let addend = SIMD16<Float>(repeating: 1e-7 * (seed + 1))
        var c0 = SIMD16<Float>(repeating: 1)
        var c1 = c0 + 1
        var c2 = c0 + 2
        var c3 = c0 + 3
        var c4 = c0 + 4
        var c5 = c0 + 5
        var c6 = c0 + 6
        var c7 = c0 + 7
        var c8 = c0 + 8
        var c9 = c0 + 9
        var c10 = c0 + 10
        var c11 = c0 + 11
        for _ in 0..<iterations {
            c0 = addend.addingProduct(c0, multiplier)
            c1 = addend.addingProduct(c1, multiplier)
            c2 = addend.addingProduct(c2, multiplier)
            c3 = addend.addingProduct(c3, multiplier)
            c4 = addend.addingProduct(c4, multiplier)
            c5 = addend.addingProduct(c5, multiplier)
            c6 = addend.addingProduct(c6, multiplier)
            c7 = addend.addingProduct(c7, multiplier)
            c8 = addend.addingProduct(c8, multiplier)
            c9 = addend.addingProduct(c9, multiplier)
            c10 = addend.addingProduct(c10, multiplier)
            c11 = addend.addingProduct(c11, multiplier)
        }
        let total = (c0 + c1 + c2 + c3) + (c4 + c5 + c6 + c7) + (c8 + c9 + c10 + c11)
        return horizontalSum(total)
    }
}
