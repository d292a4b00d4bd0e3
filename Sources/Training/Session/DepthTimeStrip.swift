import Foundation

/// A warning the depth-by-time strip raises about one layer in the latest iteration.
public struct DepthAlarm: Sendable, Equatable {
    public enum Kind: String, Sendable {
        /// The gradient at the layer's input is far below the last block's.
        case vanishing
        /// The gradient at the layer's input is far above the last block's.
        case exploding
        /// Almost every output of the layer's ReLU is zero.
        case deadReLU = "dead ReLU"
    }

    public var kind: Kind
    /// Index of the layer in the stepper's list.
    public var layer: Int
    public var name: String
    /// For gradient alarms, the layer's input-gradient norm over the last block's; for a
    /// dead ReLU, the fraction of zero outputs.
    public var value: Double
    /// The first iteration of the run of iterations in which this alarm held without a
    /// break, counting from 1.
    public var since: Int

    public init(kind: Kind, layer: Int, name: String, value: Double, since: Int) {
        self.kind = kind
        self.layer = layer
        self.name = name
        self.value = value
        self.since = since
    }

    /// One line for the status bar or the strip, most telling part first, such as
    /// "exploding gradient at layer1.0: |dL/dx| 2.1e+04× the last block's, since iteration 1".
    public var text: String {
        switch kind {
        case .vanishing, .exploding:
            return "\(kind.rawValue) gradient at \(name): |dL/dx| "
                + "\(String(format: "%.1e", value))× the last block's, since iteration \(since)"
        case .deadReLU:
            return "dead ReLU at \(name): \(Int((value * 100).rounded()))% of its outputs zero, "
                + "since iteration \(since)"
        }
    }
}

/// A table of a network's blocks (rows, input side first) against training iterations
/// (columns, oldest first). Each cell records the log of the block's input-gradient norm,
/// the fraction of its outputs that are zero and how far its batch-norm scales have moved
/// since the session started. Alarms name the block where the gradient vanishes or
/// explodes.
///
/// The strip holds at most `capacity` columns. When it is full, neighbouring columns are
/// merged in pairs, so each column then covers twice as many iterations and the whole run
/// stays in view at a fixed memory cost.
public struct DepthTimeStrip: Sendable, Equatable {
    /// One column: the mean over the iterations it covers.
    public struct Column: Sendable, Equatable {
        public var firstIteration: Int
        public var lastIteration: Int
        /// Per row, log10 of the input-gradient norm (NaN when it was not finite or zero).
        public var logGradient: [Float]
        /// Per row, the fraction of the layer's outputs equal to zero.
        public var zeroFraction: [Float]
        /// Per row, the root-mean-square change of the layer's batch-norm scales (gamma)
        /// since the session started, 0 for a layer without batch norm.
        public var gammaDrift: [Float]
        /// Iterations averaged into this column.
        public var count: Int
    }

    /// Layer indices of the rows, input side first.
    public let layers: [Int]
    public let names: [String]
    public let capacity: Int
    public private(set) var columns: [Column] = []
    /// Iterations each full column covers: 1 until the first merge, then 2, 4, ...
    public private(set) var iterationsPerColumn = 1
    /// Alarms of the latest iteration, input side first.
    public private(set) var alarms: [DepthAlarm] = []

    /// An input gradient below this multiple of the last block's counts as vanishing.
    public static let vanishingRatio = 1e-3
    /// An input gradient above this multiple of the last block's counts as exploding.
    public static let explodingRatio = 1e3
    /// A layer whose ReLU outputs are zero at least this often counts as dead.
    public static let deadFraction = 0.95

    public init(layers: [Int], names: [String], capacity: Int = 256) {
        precondition(layers.count == names.count)
        self.layers = layers
        self.names = names
        self.capacity = max(2, capacity)
    }

    /// Adds one finished iteration. `gradients` and `zeroFractions` are per row; a nil
    /// gradient is drawn as missing. `gammaDrift` is per row.
    public mutating func append(
        iteration: Int, gradients: [Double?], zeroFractions: [Double?], gammaDrift: [Double]
    ) {
        precondition(gradients.count == layers.count)
        let logs = gradients.map { norm -> Float in
            guard let norm, norm > 0, norm.isFinite else { return .nan }
            return Float(log10(norm))
        }
        let zeros = zeroFractions.map { Float($0 ?? .nan) }
        let drift = gammaDrift.map(Float.init)
        updateAlarms(iteration: iteration, gradients: gradients, zeroFractions: zeroFractions)

        if let last = columns.last, last.count < iterationsPerColumn {
            columns[columns.count - 1] = Self.merge(
                last,
                Column(
                    firstIteration: iteration, lastIteration: iteration, logGradient: logs,
                    zeroFraction: zeros, gammaDrift: drift, count: 1))
        } else {
            columns.append(
                Column(
                    firstIteration: iteration, lastIteration: iteration, logGradient: logs,
                    zeroFraction: zeros, gammaDrift: drift, count: 1))
        }
        if columns.count > capacity {
            var merged: [Column] = []
            merged.reserveCapacity(columns.count / 2 + 1)
            var index = 0
            while index + 1 < columns.count {
                merged.append(Self.merge(columns[index], columns[index + 1]))
                index += 2
            }
            if index < columns.count { merged.append(columns[index]) }
            columns = merged
            iterationsPerColumn *= 2
        }
    }

    /// Forgets every column and alarm, as when the weights are drawn again.
    public mutating func clear() {
        columns = []
        alarms = []
        iterationsPerColumn = 1
    }

    /// Returns the column covering both, each value weighted by the iterations behind it.
    /// Where one side is NaN, the other side's value is used.
    static func merge(_ a: Column, _ b: Column) -> Column {
        let total = Float(a.count + b.count)
        let wa = Float(a.count) / total
        let wb = Float(b.count) / total
        func mix(_ x: [Float], _ y: [Float]) -> [Float] {
            zip(x, y).map { u, v in
                if u.isNaN { return v }
                if v.isNaN { return u }
                return u * wa + v * wb
            }
        }
        return Column(
            firstIteration: a.firstIteration, lastIteration: b.lastIteration,
            logGradient: mix(a.logGradient, b.logGradient),
            zeroFraction: mix(a.zeroFraction, b.zeroFraction),
            gammaDrift: mix(a.gammaDrift, b.gammaDrift), count: a.count + b.count)
    }

    /// Recomputes the alarms for one iteration, carrying `since` over for alarms that held
    /// in the iteration before.
    private mutating func updateAlarms(
        iteration: Int, gradients: [Double?], zeroFractions: [Double?]
    ) {
        var fresh: [DepthAlarm] = []
        // The reference is the last row, the block nearest the loss.
        let reference = gradients.last.flatMap { $0 }
        for row in layers.indices {
            if let reference, reference > 0, reference.isFinite, row < layers.count - 1,
                let norm = gradients[row], norm.isFinite
            {
                let ratio = norm / reference
                if ratio < Self.vanishingRatio {
                    fresh.append(alarm(.vanishing, row: row, value: ratio, iteration: iteration))
                } else if ratio > Self.explodingRatio {
                    fresh.append(alarm(.exploding, row: row, value: ratio, iteration: iteration))
                }
            }
            if let zero = zeroFractions[row], zero >= Self.deadFraction {
                fresh.append(alarm(.deadReLU, row: row, value: zero, iteration: iteration))
            }
        }
        alarms = fresh
    }

    private func alarm(_ kind: DepthAlarm.Kind, row: Int, value: Double, iteration: Int)
        -> DepthAlarm
    {
        let earlier = alarms.first { $0.kind == kind && $0.layer == layers[row] }
        return DepthAlarm(
            kind: kind, layer: layers[row], name: names[row], value: value,
            since: earlier?.since ?? iteration)
    }

    /// The alarm to tell the user about first: the gradient alarm nearest the input, or
    /// else the first dead ReLU.
    public var headline: DepthAlarm? {
        alarms.first { $0.kind != .deadReLU } ?? alarms.first
    }
}

/// Root-mean-square change of a layer's batch-norm scales between two readings.
struct GammaReading {
    /// Per strip row, the layer's batch-norm scales (gamma) end to end.
    let rows: [[Float]]

    init(of model: ResNet, layers: [Int]) {
        rows = layers.map { layer in
            model.parameters(ofLayer: layer)
                .filter { $0.value.shape.count == 1 && $0.name.hasSuffix(".weight") }
                .flatMap { parameter in (0..<parameter.value.count).map { parameter.value[$0] } }
        }
    }

    /// Per row, sqrt(mean((gamma_now - gamma_start)^2)), 0 for a row without batch norm.
    func drift(from start: GammaReading) -> [Double] {
        zip(rows, start.rows).map { now, before in
            guard !now.isEmpty, now.count == before.count else { return 0 }
            var sum = 0.0
            for (a, b) in zip(now, before) {
                let d = Double(a) - Double(b)
                sum += d * d
            }
            return (sum / Double(now.count)).squareRoot()
        }
    }
}
