import Foundation
import Training

/// Number and label formats shared by the panels, kept to fixed widths so columns line up.
public enum Format {
    /// Formats a count with a k or M suffix and one decimal: 464 -> "464", 4640 -> "4.6k",
    /// 1_234_567 -> "1.2M".
    public static func count(_ value: Int) -> String {
        let magnitude = abs(value)
        if magnitude < 1000 { return String(value) }
        if magnitude < 999_950 { return String(format: "%.1fk", Double(value) / 1e3) }
        return String(format: "%.1fM", Double(value) / 1e6)
    }

    /// Formats a value in scientific notation with one decimal and a two-digit exponent, as
    /// in "1.2e-02". Non-finite values become "nan", "inf" or "-inf".
    public static func scientific(_ value: Double) -> String {
        if value.isNaN { return "nan" }
        if value.isInfinite { return value < 0 ? "-inf" : "inf" }
        return String(format: "%.1e", value)
    }

    /// Formats a statistic in at most 8 columns. Magnitudes from 0.001 to 1000 get three
    /// decimals, and others scientific notation, so small and large values keep their digits.
    public static func statistic(_ value: Double) -> String {
        let magnitude = abs(value)
        if value == 0 || (magnitude >= 0.001 && magnitude < 1000) {
            return String(format: "%.3f", value)
        }
        return scientific(value)
    }

    /// Formats a fraction from 0 to 1 as a percentage with one decimal: 0.4531 -> "45.3%".
    public static func percent(_ fraction: Double) -> String {
        String(format: "%.1f%%", fraction * 100)
    }

    /// Formats an output shape as channels×height×width, or as the channel count alone when
    /// the spatial size is 1×1 (pooling and fc outputs).
    public static func shape(_ shape: [Int]) -> String {
        if shape.count == 3 && shape[1] == 1 && shape[2] == 1 { return String(shape[0]) }
        return shape.map(String.init).joined(separator: "×")
    }

    /// Formats a learning rate without trailing zeros: 0.1 -> "0.1", 0.0005 -> "5.0e-04".
    public static func learningRate(_ value: Double) -> String {
        if value >= 0.001 && value < 1000 {
            var text = String(format: "%.4f", value)
            while text.hasSuffix("0") { text.removeLast() }
            if text.hasSuffix(".") { text.removeLast() }
            return text
        }
        return scientific(value)
    }

    /// Names a phase for the status line: "load batch", "▶ fwd layer2.0", "loss",
    /// "◀ bwd layer2.0" or "update".
    public static func phase(_ phase: Phase, layers: [LayerInfo]) -> String {
        func name(_ index: Int) -> String {
            layers.indices.contains(index) ? layers[index].name : "layer \(index)"
        }
        switch phase {
        case .loadBatch: return "load batch"
        case .forward(let layer): return "▶ fwd \(name(layer))"
        case .loss: return "loss"
        case .backward(let layer): return "◀ bwd \(name(layer))"
        case .update: return "update"
        }
    }

    /// Joins `parts` with `separator`, leaving out the parts from the first one that would
    /// pass `width` columns on, so a narrow panel shows whole figures and no cut one. Only
    /// a first part wider than `width` is cut, with an ellipsis.
    static func fitted(_ parts: [String], width: Int, separator: String = "  ") -> String {
        var text = ""
        for part in parts {
            let next = text.isEmpty ? part : text + separator + part
            guard next.count <= width else {
                return text.isEmpty ? truncate(part, to: width) : text
            }
            text = next
        }
        return text
    }
}
