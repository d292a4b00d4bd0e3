import Foundation

/// The data set named on the command line.
public enum DataSpec: Equatable, Sendable, CustomStringConvertible {
    /// The built-in synthetic data set, used when the user names none.
    case shapes
    /// MNIST IDX files in a directory.
    case mnist(directory: String)
    /// Fashion-MNIST, which uses MNIST's IDX file names and format.
    case fashionMNIST(directory: String)
    /// The binary batches of CIFAR-10 in a directory.
    case cifar10(directory: String)

    /// Parses `shapes`, `mnist:DIR`, `fashion-mnist:DIR` or `cifar10:DIR`. A leading `~` in
    /// DIR is expanded, because the shell does not expand it after a colon.
    public static func parse(_ text: String) throws(DataError) -> DataSpec {
        if text == "shapes" {
            return .shapes
        }
        guard let colon = text.firstIndex(of: ":") else {
            throw .invalidSpec(text)
        }
        let kind = text[..<colon]
        let directory = String(text[text.index(after: colon)...])
        guard !directory.isEmpty else {
            throw .invalidSpec(text)
        }
        let expanded = NSString(string: directory).expandingTildeInPath
        switch kind {
        case "mnist": return .mnist(directory: expanded)
        case "fashion-mnist": return .fashionMNIST(directory: expanded)
        case "cifar10": return .cifar10(directory: expanded)
        default: throw .invalidSpec(text)
        }
    }

    /// The spec in the form `parse` accepts.
    public var description: String {
        switch self {
        case .shapes: return "shapes"
        case .mnist(let directory): return "mnist:\(directory)"
        case .fashionMNIST(let directory): return "fashion-mnist:\(directory)"
        case .cifar10(let directory): return "cifar10:\(directory)"
        }
    }
}
