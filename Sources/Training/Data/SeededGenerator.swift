/// A deterministic random number generator: SplitMix64, a 64-bit counter with a fixed
/// increment whose value is scrambled by two multiply-xorshift rounds.
///
/// The same seed gives the same sequence on every platform and Swift version, so data
/// sets, shuffles and weight initialisations that draw from it are reproducible. It is not
/// a cryptographic generator.
///
/// The helpers `nextUnitFloat`, `nextInt(below:)` and `shuffle(_:)` are written here rather
/// than taken from the standard library (`Float.random(in:using:)`, `shuffle(using:)`),
/// because the standard library does not promise to keep its algorithms, and so its
/// sequences, the same across releases.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    public private(set) var state: UInt64

    public init(seed: UInt64) {
        self.state = seed
    }

    /// Creates a generator for one stream among many drawn from the same seed, for example
    /// one stream per sample, so each stream can be computed without running the others.
    public init(seed: UInt64, stream: UInt64) {
        var mixer = SeededGenerator(seed: seed ^ 0x6A09_E667_F3BC_C909)
        let base = mixer.next()
        self.state = base &+ stream &* 0xD1B5_4A32_D192_ED03
        _ = next()
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Returns a uniform value in [0, 1) with 24 random bits, the precision of a Float.
    public mutating func nextUnitFloat() -> Float {
        Float(next() >> 40) * 0x1p-24
    }

    /// Returns a uniform value in [lower, upper).
    public mutating func nextFloat(in lower: Float, _ upper: Float) -> Float {
        lower + (upper - lower) * nextUnitFloat()
    }

    /// Returns a value in 0..<bound by the multiply-shift method. The bias is below
    /// bound / 2^64, which is negligible for any bound used here.
    public mutating func nextInt(below bound: Int) -> Int {
        precondition(bound > 0, "nextInt(below:) needs a positive bound, got \(bound)")
        return Int(next().multipliedFullWidth(by: UInt64(bound)).high)
    }

    /// Shuffles `elements` in place with the Fisher-Yates algorithm.
    public mutating func shuffle<Element>(_ elements: inout [Element]) {
        guard elements.count > 1 else { return }
        for i in stride(from: elements.count - 1, to: 0, by: -1) {
            let j = nextInt(below: i + 1)
            elements.swapAt(i, j)
        }
    }
}
