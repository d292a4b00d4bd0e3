/// A mistake in the command line; the program prints it with a usage hint and exits with 2.
struct UsageError: Error, CustomStringConvertible {
    var description: String
    /// The command whose `--help` the hint points to, such as "resnet-tui train".
    var command = "resnet-tui"
}

/// A flag the parser accepts: its name without dashes and whether it takes a value.
struct FlagSpec: Sendable {
    var name: String
    var takesValue: Bool
    var help: String
}

/// Parses `--name value`, `--name=value` and bare `--name` flags against a fixed list, so
/// an unknown or misspelled flag is an error that names the closest valid flag.
struct ParsedArguments {
    private(set) var values: [String: String] = [:]
    private(set) var switches: Set<String> = []
    /// The arguments as given, so a command can parse them again with defaults in front.
    let arguments: [String]

    init(_ arguments: [String], specs: [FlagSpec]) throws {
        self.arguments = arguments
        var index = 0
        while index < arguments.count {
            var argument = arguments[index]
            index += 1
            // -h is the usual short form of --help.
            if argument == "-h", specs.contains(where: { $0.name == "help" }) {
                argument = "--help"
            }
            guard argument.hasPrefix("--"), argument.count > 2 else {
                throw UsageError(description: "unexpected argument '\(argument)'")
            }
            var name = String(argument.dropFirst(2))
            var inlineValue: String?
            if let equals = name.firstIndex(of: "=") {
                inlineValue = String(name[name.index(after: equals)...])
                name = String(name[..<equals])
            }
            guard let spec = specs.first(where: { $0.name == name }) else {
                throw UsageError(
                    description: "unknown flag --\(name)"
                        + suggestion(for: name, among: specs.map(\.name), prefix: "--"))
            }
            if spec.takesValue {
                if let inlineValue {
                    values[name] = inlineValue
                } else if index < arguments.count {
                    values[name] = arguments[index]
                    index += 1
                } else {
                    throw UsageError(description: "flag --\(name) needs a value")
                }
            } else {
                if inlineValue != nil {
                    throw UsageError(description: "flag --\(name) takes no value")
                }
                switches.insert(name)
            }
        }
    }

    func has(_ name: String) -> Bool { switches.contains(name) }

    func string(_ name: String, default fallback: String) -> String { values[name] ?? fallback }

    func int(_ name: String, default fallback: Int, range: ClosedRange<Int>) throws -> Int {
        guard let text = values[name] else { return fallback }
        guard let value = Int(text), range.contains(value) else {
            throw UsageError(
                description: "invalid value '\(text)' for --\(name): expected an integer from "
                    + "\(range.lowerBound) to \(range.upperBound)")
        }
        return value
    }

    func double(_ name: String, default fallback: Double, range: ClosedRange<Double>) throws
        -> Double
    {
        guard let text = values[name] else { return fallback }
        guard let value = Double(text), value.isFinite, range.contains(value) else {
            throw UsageError(
                description: "invalid value '\(text)' for --\(name): expected a number from "
                    + "\(range.lowerBound) to \(range.upperBound)")
        }
        return value
    }
}

/// Levenshtein distance, for suggesting the closest flag.
func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a)
    let b = Array(b)
    var previous = Array(0...b.count)
    for i in 1...max(a.count, 1) where !a.isEmpty {
        var current = [i] + Array(repeating: 0, count: b.count)
        for j in stride(from: 1, through: b.count, by: 1) {
            let substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)
            current[j] = min(previous[j] + 1, current[j - 1] + 1, substitution)
        }
        previous = current
    }
    return a.isEmpty ? b.count : previous[b.count]
}

/// Returns "; did you mean X?" naming the closest of `candidates` to `input` when it is a
/// likely typo: at most a third of the longer name's letters differ, or one name contains
/// the other. Otherwise returns the list of every candidate.
func suggestion(
    for input: String, among candidates: [String], prefix: String = "", quote: String = ""
) -> String {
    guard
        let closest = candidates.min(by: { editDistance($0, input) < editDistance($1, input) })
    else { return "" }
    let distance = editDistance(closest, input)
    let limit = max(2, max(closest.count, input.count) / 3)
    if distance <= limit || closest.contains(input) || input.contains(closest) {
        return "; did you mean \(quote)\(prefix)\(closest)\(quote)?"
    }
    return "; valid: "
        + candidates.sorted().map { quote + prefix + $0 + quote }.joined(separator: ", ")
}
