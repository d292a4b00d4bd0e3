import Engine
import Testing

/// An allowed error: |observed - expected| <= absolute + relative * |expected|.
struct Tolerance: CustomStringConvertible {
    var absolute: Double
    var relative: Double

    var description: String { "absolute \(absolute) + relative \(relative)" }
}

/// Records one issue when some element of `observed` is outside `tolerance` of `expected`.
/// The message gives the worst element, its expected and observed values, the maximum
/// absolute difference over all elements and the tolerance.
func expectClose(
    _ observed: [Double], _ expected: [Double], tolerance: Tolerance, _ what: String,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    guard observed.count == expected.count else {
        Issue.record(
            "\(what): expected \(expected.count) values, observed \(observed.count)",
            sourceLocation: sourceLocation)
        return
    }
    var maxDifference = 0.0
    var worst: (index: Int, excess: Double)? = nil
    for i in observed.indices {
        let difference = abs(observed[i] - expected[i])
        let allowed = tolerance.absolute + tolerance.relative * abs(expected[i])
        // A NaN difference fails the `<=` test, so NaNs count as failures.
        if !(difference <= allowed) {
            let excess = difference.isNaN ? .infinity : difference - allowed
            if worst == nil || excess > worst!.excess { worst = (i, excess) }
        }
        if difference.isNaN || difference > maxDifference { maxDifference = difference }
    }
    if let worst {
        Issue.record(
            """
            \(what): element \(worst.index) expected \(expected[worst.index]), \
            observed \(observed[worst.index]); max difference \(maxDifference) over \
            \(observed.count) values; tolerance \(tolerance)
            """,
            sourceLocation: sourceLocation)
    }
}

func expectClose(
    _ observed: Tensor, _ expected: [Double], tolerance: Tolerance, _ what: String,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    expectClose(
        observed.toArray().map(Double.init), expected, tolerance: tolerance, what,
        sourceLocation: sourceLocation)
}

/// Records one issue when two tensors differ in any bit, naming the first differing element.
func expectBitwiseEqual(
    _ observed: Tensor, _ expected: Tensor, _ what: String,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    guard observed.shape == expected.shape else {
        Issue.record(
            "\(what): expected shape \(expected.shape), observed \(observed.shape)",
            sourceLocation: sourceLocation)
        return
    }
    var differing = 0
    var first = -1
    for i in 0..<observed.count where observed[i].bitPattern != expected[i].bitPattern {
        if first < 0 { first = i }
        differing += 1
    }
    if first >= 0 {
        Issue.record(
            """
            \(what): \(differing) of \(observed.count) elements differ in their bits; first at \
            \(first): expected \(expected[first]), observed \(observed[first]); tolerance 0
            """,
            sourceLocation: sourceLocation)
    }
}

/// A small seeded generator (SplitMix64), so every test gets the same numbers on every run.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Returns a tensor of uniform values in `range`.
func randomTensor(
    _ shape: [Int], in range: ClosedRange<Float> = -1...1, _ generator: inout SeededGenerator
) -> Tensor {
    let count = shape.reduce(1, *)
    return Tensor(
        shape: shape, values: (0..<count).map { _ in Float.random(in: range, using: &generator) })
}

/// Returns a tensor of uniform integers in `range`, stored as floats.
func randomIntegerTensor(
    _ shape: [Int], in range: ClosedRange<Int>, _ generator: inout SeededGenerator
) -> Tensor {
    let count = shape.reduce(1, *)
    return Tensor(
        shape: shape,
        values: (0..<count).map { _ in Float(Int.random(in: range, using: &generator)) })
}

extension Tensor {
    var doubles: [Double] { toArray().map(Double.init) }
}

/// The pools that determinism tests compare: 1 thread runs inline, 2 and 3 split the work.
let poolsToCompare = [ThreadPool(threads: 1), ThreadPool(threads: 2), ThreadPool(threads: 3)]

/// Returns the central-difference gradient of `loss` at `values`, step `h`, in Double.
func numericalGradient(
    of values: [Double], h: Double = 1e-5, loss: ([Double]) -> Double
) -> [Double] {
    var perturbed = values
    var gradient = [Double](repeating: 0, count: values.count)
    for i in values.indices {
        perturbed[i] = values[i] + h
        let plus = loss(perturbed)
        perturbed[i] = values[i] - h
        let minus = loss(perturbed)
        perturbed[i] = values[i]
        gradient[i] = (plus - minus) / (2 * h)
    }
    return gradient
}

/// `sum(output * upstream)`: the scalar whose gradient with respect to `output` is
/// `upstream`. A non-uniform upstream makes every term of a backward formula matter.
func weightedSum(_ output: [Double], _ upstream: [Double]) -> Double {
    precondition(output.count == upstream.count)
    var sum = 0.0
    for i in output.indices { sum += output[i] * upstream[i] }
    return sum
}
