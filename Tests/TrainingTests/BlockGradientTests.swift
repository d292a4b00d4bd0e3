import Engine
import Testing
import Training

/// Checks a whole basic block against central finite differences of a Double reference.
/// The reference recomputes the block from the same parameters in Double, so the finite
/// differences carry about 1e-9 relative error and the tolerance measures the engine alone.
/// The skip and residual parts of dL/dx are separated by perturbing only the input of one
/// path while the other path keeps the unperturbed input.
struct BlockGradientTests {
    struct Case: CustomStringConvertible {
        var inChannels: Int
        var outChannels: Int
        var stride: Int
        var skip: Bool
        var description: String {
            "\(inChannels)->\(outChannels) stride \(stride) skip \(skip ? "on" : "off")"
        }
    }

    static let cases = [
        Case(inChannels: 4, outChannels: 4, stride: 1, skip: true),
        Case(inChannels: 4, outChannels: 4, stride: 1, skip: false),
        Case(inChannels: 3, outChannels: 5, stride: 2, skip: true),
        Case(inChannels: 3, outChannels: 5, stride: 2, skip: false),
    ]

    @Test(arguments: cases)
    func blockGradientsMatchFiniteDifferences(_ c: Case) throws {
        let (batch, height, width) = (2, 6, 6)
        let pool = ThreadPool(threads: 2)
        let block = BasicBlock(
            name: "layer1.0", batch: batch, inChannels: c.inChannels, outChannels: c.outChannels,
            height: height, width: width, stride: c.stride, batchNorm: true)
        block.skipEnabled = c.skip
        var generator = TestGenerator(seed: 7)
        block.initialize(using: &generator)
        // Non-trivial batch-norm affine parameters, so gamma and beta gradients are tested
        // away from their initial values of 1 and 0.
        for parameter in block.parameters where parameter.name.contains("bn") || parameter.name.hasSuffix("downsample.1.weight") || parameter.name.hasSuffix("downsample.1.bias") {
            for i in 0..<parameter.value.count {
                parameter.value[i] = Float(generator.uniform(-1.5, 1.5))
            }
        }
        let x = Tensor(shape: [batch, c.inChannels, height, width])
        for i in 0..<x.count { x[i] = Float(generator.uniform(-2, 2)) }
        let outShape = block.output.shape
        let upstream = Tensor(shape: outShape)
        for i in 0..<upstream.count { upstream[i] = Float(generator.uniform(-1, 1)) }

        block.forward(input: x, training: true, pool: pool)
        block.backward(gradOutput: upstream, input: x, pool: pool)

        let reference = ReferenceBlock(block: block, batch: batch, height: height, width: width)
        let xd = x.toArray().map(Double.init)
        let r = upstream.toArray().map(Double.init)
        func loss(residualInput: [Double], skipInput: [Double], params: [String: [Double]]) -> Double {
            let o = reference.forward(residualInput: residualInput, skipInput: skipInput, skip: c.skip, params: params)
            return zip(o, r).reduce(0) { $0 + $1.0 * $1.1 }
        }
        let params = reference.parameterValues
        let h = 1e-6

        var residualFD = [Double](repeating: 0, count: xd.count)
        var skipFD = [Double](repeating: 0, count: xd.count)
        for i in xd.indices {
            var plus = xd, minus = xd
            plus[i] += h
            minus[i] -= h
            residualFD[i] = (loss(residualInput: plus, skipInput: xd, params: params)
                - loss(residualInput: minus, skipInput: xd, params: params)) / (2 * h)
            skipFD[i] = (loss(residualInput: xd, skipInput: plus, params: params)
                - loss(residualInput: xd, skipInput: minus, params: params)) / (2 * h)
        }
        expectClose(block.gradResidual.toArray(), residualFD, "residual part of dL/dx, \(c)")
        expectClose(block.gradSkip.toArray(), skipFD, "skip part of dL/dx, \(c)")
        let sumFD = zip(residualFD, skipFD).map { $0 + $1 }
        expectClose(block.gradInput.toArray(), sumFD, "dL/dx, \(c)")
        if !c.skip {
            #expect(block.gradSkip.norm() == 0, "skip part must be zero with the skip off")
        }

        for parameter in block.parameters {
            let used = c.skip || !parameter.name.contains("downsample")
            var fd = [Double](repeating: 0, count: parameter.value.count)
            if used {
                for i in 0..<parameter.value.count {
                    var plus = params, minus = params
                    plus[parameter.name]![i] += h
                    minus[parameter.name]![i] -= h
                    fd[i] = (loss(residualInput: xd, skipInput: xd, params: plus)
                        - loss(residualInput: xd, skipInput: xd, params: minus)) / (2 * h)
                }
            }
            expectClose(parameter.gradient.toArray(), fd, "d/d \(parameter.name), \(c)")
        }
    }
}

/// The basic block computed in Double from a `BasicBlock`'s parameter values, in training
/// mode (batch statistics, biased variance, eps 1e-5).
struct ReferenceBlock {
    let batch: Int
    let inChannels: Int
    let outChannels: Int
    let height: Int
    let width: Int
    let stride: Int
    let hasProjection: Bool
    let parameterValues: [String: [Double]]
    let prefix: String

    init(block: BasicBlock, batch: Int, height: Int, width: Int) {
        self.batch = batch
        self.height = height
        self.width = width
        prefix = block.name
        var values: [String: [Double]] = [:]
        for parameter in block.parameters {
            values[parameter.name] = parameter.value.toArray().map(Double.init)
        }
        parameterValues = values
        let conv1 = block.parameters.first { $0.name == block.name + ".conv1.weight" }!
        outChannels = conv1.value.shape[0]
        inChannels = conv1.value.shape[1]
        stride = height / block.output.shape[2]
        hasProjection = values[block.name + ".downsample.0.weight"] != nil
    }

    func forward(residualInput: [Double], skipInput: [Double], skip: Bool, params: [String: [Double]]) -> [Double] {
        let p = { (name: String) in params[prefix + "." + name]! }
        let (oh, ow) = ((height - 1) / stride + 1, (width - 1) / stride + 1)
        var a = conv2d(residualInput, p("conv1.weight"), inC: inChannels, outC: outChannels, h: height, w: width, k: 3, stride: stride, pad: 1)
        a = batchNorm(a, p("bn1.weight"), p("bn1.bias"), c: outChannels, spatial: oh * ow)
        a = a.map { max($0, 0) }
        var b = conv2d(a, p("conv2.weight"), inC: outChannels, outC: outChannels, h: oh, w: ow, k: 3, stride: 1, pad: 1)
        b = batchNorm(b, p("bn2.weight"), p("bn2.bias"), c: outChannels, spatial: oh * ow)
        if skip {
            var s = skipInput
            if hasProjection {
                s = conv2d(skipInput, p("downsample.0.weight"), inC: inChannels, outC: outChannels, h: height, w: width, k: 1, stride: stride, pad: 0)
                s = batchNorm(s, p("downsample.1.weight"), p("downsample.1.bias"), c: outChannels, spatial: oh * ow)
            }
            b = zip(b, s).map { $0 + $1 }
        }
        return b.map { max($0, 0) }
    }

    func conv2d(_ x: [Double], _ weight: [Double], inC: Int, outC: Int, h: Int, w: Int, k: Int, stride: Int, pad: Int) -> [Double] {
        let oh = (h + 2 * pad - k) / stride + 1
        let ow = (w + 2 * pad - k) / stride + 1
        var y = [Double](repeating: 0, count: batch * outC * oh * ow)
        for n in 0..<batch {
            for o in 0..<outC {
                for i in 0..<oh {
                    for j in 0..<ow {
                        var sum = 0.0
                        for c in 0..<inC {
                            for u in 0..<k {
                                for v in 0..<k {
                                    let yy = i * stride - pad + u
                                    let xx = j * stride - pad + v
                                    guard yy >= 0, yy < h, xx >= 0, xx < w else { continue }
                                    sum += x[((n * inC + c) * h + yy) * w + xx] * weight[((o * inC + c) * k + u) * k + v]
                                }
                            }
                        }
                        y[((n * outC + o) * oh + i) * ow + j] = sum
                    }
                }
            }
        }
        return y
    }

    func batchNorm(_ x: [Double], _ gamma: [Double], _ beta: [Double], c: Int, spatial: Int) -> [Double] {
        var y = x
        let count = Double(batch * spatial)
        for ch in 0..<c {
            var mean = 0.0
            for n in 0..<batch { for s in 0..<spatial { mean += x[(n * c + ch) * spatial + s] } }
            mean /= count
            var variance = 0.0
            for n in 0..<batch {
                for s in 0..<spatial {
                    let d = x[(n * c + ch) * spatial + s] - mean
                    variance += d * d
                }
            }
            variance /= count
            let invStd = 1 / (variance + 1e-5).squareRoot()
            for n in 0..<batch {
                for s in 0..<spatial {
                    let i = (n * c + ch) * spatial + s
                    y[i] = gamma[ch] * (x[i] - mean) * invStd + beta[ch]
                }
            }
        }
        return y
    }
}

/// Expects `observed` within `tolerance` of `expected`, relative to the largest magnitude
/// in `expected`, and prints the worst element when it is not.
func expectClose(
    _ observed: [Float], _ expected: [Double], _ label: String, tolerance: Double = 1e-4,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    #expect(observed.count == expected.count, "\(label): count", sourceLocation: sourceLocation)
    let scale = max(expected.map { abs($0) }.max() ?? 0, 1e-12)
    var worst = 0
    var worstDifference = 0.0
    for i in expected.indices where i < observed.count {
        let difference = abs(Double(observed[i]) - expected[i])
        if !(difference <= worstDifference) {
            worstDifference = difference
            worst = i
        }
    }
    let relative = worstDifference / scale
    #expect(
        relative <= tolerance,
        "\(label): element \(worst) expected \(expected.isEmpty ? 0 : expected[worst]), observed \(observed.isEmpty ? 0 : observed[worst]), max difference \(worstDifference) = \(relative) of max magnitude \(scale), tolerance \(tolerance)",
        sourceLocation: sourceLocation)
}

/// A small deterministic generator for test data (SplitMix64).
struct TestGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func uniform(_ low: Double, _ high: Double) -> Double {
        Double.random(in: low..<high, using: &self)
    }
}
