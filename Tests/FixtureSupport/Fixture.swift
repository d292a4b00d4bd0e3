import Engine
import Foundation

/// One PyTorch reference fixture: a computation's settings and its named tensors, read from
/// NAME.json (settings, and each tensor's name, shape and offset) and NAME.bin (every
/// tensor's values back to back as little-endian float32). The scripts in `scripts/` that
/// start with `make-` write them.
public struct Fixture {
    private struct Header: Decodable {
        var settings: [String: Double]
        var tensors: [Entry]
    }

    private struct Entry: Decodable {
        var name: String
        var shape: [Int]
        var offset: Int
    }

    public let name: String
    public let settings: [String: Double]
    private let entries: [String: Entry]
    private let values: [Float]

    /// Reads NAME.json and NAME.bin from `directory`.
    public init(_ name: String, in directory: URL) throws {
        self.name = name
        let headerData = try Data(contentsOf: directory.appendingPathComponent(name + ".json"))
        let header = try JSONDecoder().decode(Header.self, from: headerData)
        settings = header.settings
        entries = Dictionary(uniqueKeysWithValues: header.tensors.map { ($0.name, $0) })
        let payload = try Data(contentsOf: directory.appendingPathComponent(name + ".bin"))
        // Little-endian float32 is the host order on x86-64 and arm64.
        values = payload.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
    }

    public func hasTensor(_ tensorName: String) -> Bool { entries[tensorName] != nil }

    public func shape(_ tensorName: String) -> [Int] {
        guard let entry = entries[tensorName] else {
            preconditionFailure("fixture \(name) has no tensor '\(tensorName)'")
        }
        return entry.shape
    }

    public func floats(_ tensorName: String) -> [Float] {
        let count = shape(tensorName).reduce(1, *)
        let offset = entries[tensorName]!.offset
        return Array(values[offset..<(offset + count)])
    }

    public func tensor(_ tensorName: String) -> Tensor {
        Tensor(shape: shape(tensorName), values: floats(tensorName))
    }

    public func int(_ setting: String) -> Int { Int(settings[setting]!) }
    public func float(_ setting: String) -> Float { Float(settings[setting]!) }

    /// Compares `observed` with the fixture's tensor: every element must lie within 1e-4 of
    /// the expected tensor's largest finite magnitude, so the bound scales with the tensor
    /// and a near-zero element is not held to a relative bound Float32 cannot meet. A NaN or
    /// infinite expected element must be matched exactly. Returns nil on a match, else a
    /// description of the mismatch for the test to record.
    public func mismatch(_ observed: Tensor, _ tensorName: String) -> String? {
        let label = "\(name).\(tensorName)"
        guard observed.shape == shape(tensorName) else {
            return "\(label): expected shape \(shape(tensorName)), observed \(observed.shape)"
        }
        let expected = floats(tensorName)
        let scale = expected.filter(\.isFinite).map { abs(Double($0)) }.max() ?? 0
        let tolerance = 1e-4 * max(scale, 1e-30)
        var failures = 0
        var worst: (index: Int, difference: Double)? = nil
        for i in expected.indices {
            let e = expected[i]
            let o = observed[i]
            let difference: Double
            if e.isNaN || e.isInfinite {
                difference = (e.isNaN && o.isNaN) || e == o ? 0 : .infinity
            } else {
                difference = abs(Double(o) - Double(e))
            }
            // `!(<=)` also catches a NaN difference from a NaN observed value.
            if !(difference <= tolerance) {
                failures += 1
                if worst == nil || !(difference <= worst!.difference) { worst = (i, difference) }
            }
        }
        guard let worst else { return nil }
        return """
            \(label): \(failures) of \(expected.count) elements out of tolerance; worst at \
            \(worst.index): expected \(expected[worst.index]), observed \(observed[worst.index]), \
            difference \(worst.difference); tolerance \(tolerance) (1e-4 x max |expected| \
            \(scale))
            """
    }
}
