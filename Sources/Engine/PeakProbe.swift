#if canImport(Glibc)
    import Glibc
#endif

/// A measurement of the machine's Float32 multiply-add rate, the denominator of the
/// benchmark's "% of peak" figures.
public enum PeakProbe {
    /// The rate of one probe run, in GFLOP/s (2 per multiply-add).
    public struct Rate: Sendable {
        /// Floating-point operations of all threads over wall-clock time.
        public var wallGflops: Double
        /// Floating-point operations over the CPU time that the process used, that is, the
        /// rate of one core while it runs the probe. Other processes that take the cores
        /// lower `wallGflops` but hardly this.
        public var perCoreGflops: Double
    }

    /// Runs twelve independent chains of SIMD16 multiply-adds whose operands stay in
    /// registers, on `threads` threads, and returns the rate. Twelve chains cover the
    /// latency of a multiply-add (4 cycles on Zen 4) times its throughput, so the rate is
    /// bound by the FMA units alone. Each thread runs `iterations` rounds of 12
    /// multiply-adds.
    public static func measure(threads: Int, iterations: Int = 20_000_000) -> Rate {
        let pool = ThreadPool(threads: threads)
        let sink = UnsafeMutablePointer<Float>.allocate(capacity: threads)
        defer { sink.deallocate() }
        let cpuStart = clockSeconds(CLOCK_PROCESS_CPUTIME_ID)
        let start = clockSeconds(CLOCK_MONOTONIC)
        pool.parallelFor(threads) { parts in
            for part in parts {
                sink[part] = runChains(iterations: iterations, seed: Float(part))
            }
        }
        let seconds = clockSeconds(CLOCK_MONOTONIC) - start
        let cpuSeconds = clockSeconds(CLOCK_PROCESS_CPUTIME_ID) - cpuStart
        let gigaflops = Double(threads) * Double(iterations) * 12 * 16 * 2 / 1e9
        return Rate(wallGflops: gigaflops / seconds, perCoreGflops: gigaflops / cpuSeconds)
    }

    private static func clockSeconds(_ clock: clockid_t) -> Double {
        var time = timespec()
        clock_gettime(clock, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
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
