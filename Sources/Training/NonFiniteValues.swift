import Engine

/// The NaN and infinite values found in one named tensor, such as a checkpoint's weight or
/// an input batch.
public struct NonFiniteValues: Sendable, Equatable, CustomStringConvertible {
    public var name: String
    public var nanCount: Int
    /// Count of +Inf and -Inf values together.
    public var infinityCount: Int
    /// Index of the first NaN or infinite value.
    public var firstIndex: Int

    public init(name: String, nanCount: Int, infinityCount: Int, firstIndex: Int) {
        self.name = name
        self.nanCount = nanCount
        self.infinityCount = infinityCount
        self.firstIndex = firstIndex
    }

    /// Counts the NaN and infinite values in `values`, and returns nil when every value is
    /// finite.
    public init?<Values: Collection<Float>>(name: String, values: Values) {
        var nanCount = 0
        var infinityCount = 0
        var firstIndex: Int?
        for (index, value) in values.enumerated() where !value.isFinite {
            if value.isNaN {
                nanCount += 1
            } else {
                infinityCount += 1
            }
            if firstIndex == nil { firstIndex = index }
        }
        guard let firstIndex else { return nil }
        self.init(
            name: name, nanCount: nanCount, infinityCount: infinityCount, firstIndex: firstIndex)
    }

    /// Counts the NaN and infinite values of `tensor`, and returns nil when every value is
    /// finite.
    public init?(name: String, tensor: Tensor) {
        self.init(name: name, values: UnsafeBufferPointer(tensor.buffer))
    }

    /// The name and the counts, such as "fc.weight contains 3 NaN values and 1 infinite
    /// value (first at element 17)".
    public var description: String {
        var parts: [String] = []
        if nanCount > 0 {
            parts.append("\(nanCount) NaN value\(nanCount == 1 ? "" : "s")")
        }
        if infinityCount > 0 {
            parts.append("\(infinityCount) infinite value\(infinityCount == 1 ? "" : "s")")
        }
        return "\(name) contains \(parts.joined(separator: " and ")) "
            + "(first at element \(firstIndex))"
    }
}
