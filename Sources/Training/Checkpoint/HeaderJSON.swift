/// A JSON value as the safetensors header contains it. Objects keep their keys in file order
/// and the parser rejects a repeated key, which Foundation's JSONSerialization would silently
/// resolve to one of the values.
enum HeaderJSON: Equatable {
    case object([(key: String, value: HeaderJSON)])
    case array([HeaderJSON])
    case string(String)
    /// The number's text as written, so integers beyond 2^53 keep every digit.
    case number(String)
    case bool(Bool)
    case null

    static func == (lhs: HeaderJSON, rhs: HeaderJSON) -> Bool {
        switch (lhs, rhs) {
        case (.object(let a), .object(let b)):
            return a.count == b.count
                && zip(a, b).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        case (.array(let a), .array(let b)): return a == b
        case (.string(let a), .string(let b)): return a == b
        case (.number(let a), .number(let b)): return a == b
        case (.bool(let a), .bool(let b)): return a == b
        case (.null, .null): return true
        default: return false
        }
    }

    /// A short name of the value's type, for error messages.
    var typeName: String {
        switch self {
        case .object: "an object"
        case .array: "an array"
        case .string: "a string"
        case .number: "a number"
        case .bool: "a boolean"
        case .null: "null"
        }
    }
}

/// A recursive-descent parser over UTF-8 bytes (RFC 8259), with a nesting limit so a
/// hostile header cannot exhaust the stack.
struct HeaderJSONParser {
    private let bytes: [UInt8]
    private var position = 0
    private var depth = 0
    private static let maxDepth = 64

    /// Parses `bytes` as one JSON value followed only by whitespace; the error is a message
    /// naming the byte offset of the problem.
    static func parse(_ bytes: [UInt8]) throws(SafetensorsError) -> HeaderJSON {
        var parser = HeaderJSONParser(bytes: bytes)
        parser.skipWhitespace()
        let value = try parser.parseValue()
        parser.skipWhitespace()
        guard parser.position == bytes.count else {
            throw parser.invalid("unexpected text after the header object")
        }
        return value
    }

    private init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    private func invalid(_ problem: String) -> SafetensorsError {
        .invalidHeader("\(problem) at header byte \(position)")
    }

    private mutating func skipWhitespace() {
        while position < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[position]) {
            position += 1
        }
    }

    private mutating func parseValue() throws(SafetensorsError) -> HeaderJSON {
        guard position < bytes.count else { throw invalid("unexpected end of the header") }
        switch bytes[position] {
        case UInt8(ascii: "{"): return try parseObject()
        case UInt8(ascii: "["): return try parseArray()
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): return try parseLiteral("true", .bool(true))
        case UInt8(ascii: "f"): return try parseLiteral("false", .bool(false))
        case UInt8(ascii: "n"): return try parseLiteral("null", .null)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
        default: throw invalid("unexpected character")
        }
    }

    private mutating func parseLiteral(_ word: String, _ value: HeaderJSON)
        throws(SafetensorsError) -> HeaderJSON
    {
        let expected = Array(word.utf8)
        guard position + expected.count <= bytes.count,
            Array(bytes[position..<position + expected.count]) == expected
        else { throw invalid("invalid literal") }
        position += expected.count
        return value
    }

    private mutating func enter() throws(SafetensorsError) {
        depth += 1
        if depth > Self.maxDepth { throw invalid("nesting deeper than \(Self.maxDepth)") }
    }

    private mutating func parseObject() throws(SafetensorsError) -> HeaderJSON {
        try enter()
        defer { depth -= 1 }
        position += 1
        var members: [(key: String, value: HeaderJSON)] = []
        var keys: Set<String> = []
        skipWhitespace()
        if position < bytes.count, bytes[position] == UInt8(ascii: "}") {
            position += 1
            return .object(members)
        }
        while true {
            skipWhitespace()
            guard position < bytes.count, bytes[position] == UInt8(ascii: "\"") else {
                throw invalid("expected a key")
            }
            let key = try parseString()
            guard keys.insert(key).inserted else {
                throw SafetensorsError.duplicateKey(key)
            }
            skipWhitespace()
            guard position < bytes.count, bytes[position] == UInt8(ascii: ":") else {
                throw invalid("expected ':'")
            }
            position += 1
            skipWhitespace()
            members.append((key, try parseValue()))
            skipWhitespace()
            guard position < bytes.count else { throw invalid("unexpected end of the header") }
            if bytes[position] == UInt8(ascii: ",") {
                position += 1
            } else if bytes[position] == UInt8(ascii: "}") {
                position += 1
                return .object(members)
            } else {
                throw invalid("expected ',' or '}'")
            }
        }
    }

    private mutating func parseArray() throws(SafetensorsError) -> HeaderJSON {
        try enter()
        defer { depth -= 1 }
        position += 1
        var elements: [HeaderJSON] = []
        skipWhitespace()
        if position < bytes.count, bytes[position] == UInt8(ascii: "]") {
            position += 1
            return .array(elements)
        }
        while true {
            skipWhitespace()
            elements.append(try parseValue())
            skipWhitespace()
            guard position < bytes.count else { throw invalid("unexpected end of the header") }
            if bytes[position] == UInt8(ascii: ",") {
                position += 1
            } else if bytes[position] == UInt8(ascii: "]") {
                position += 1
                return .array(elements)
            } else {
                throw invalid("expected ',' or ']'")
            }
        }
    }

    private mutating func parseNumber() throws(SafetensorsError) -> HeaderJSON {
        let start = position
        let numberBytes = Array("+-.eE0123456789".utf8)
        while position < bytes.count, numberBytes.contains(bytes[position]) { position += 1 }
        let text = String(decoding: bytes[start..<position], as: UTF8.self)
        guard Double(text) != nil else { throw invalid("invalid number '\(text)'") }
        return .number(text)
    }

    private mutating func parseHexQuad() throws(SafetensorsError) -> UInt32 {
        guard position + 4 <= bytes.count else { throw invalid("truncated \\u escape") }
        let text = String(decoding: bytes[position..<position + 4], as: UTF8.self)
        guard let value = UInt32(text, radix: 16) else { throw invalid("invalid \\u escape") }
        position += 4
        return value
    }

    private mutating func parseString() throws(SafetensorsError) -> String {
        position += 1
        var scalars = String.UnicodeScalarView()
        var run: [UInt8] = []
        func flush() throws(SafetensorsError) {
            guard !run.isEmpty else { return }
            guard let text = String(validating: run, as: UTF8.self) else {
                throw invalid("invalid UTF-8 in a string")
            }
            scalars.append(contentsOf: text.unicodeScalars)
            run.removeAll()
        }
        while position < bytes.count {
            let byte = bytes[position]
            position += 1
            switch byte {
            case UInt8(ascii: "\""):
                try flush()
                return String(scalars)
            case UInt8(ascii: "\\"):
                try flush()
                guard position < bytes.count else { throw invalid("truncated escape") }
                let escape = bytes[position]
                position += 1
                let simple: [UInt8: Unicode.Scalar] = [
                    UInt8(ascii: "\""): "\"", UInt8(ascii: "\\"): "\\", UInt8(ascii: "/"): "/",
                    UInt8(ascii: "b"): "\u{08}", UInt8(ascii: "f"): "\u{0C}",
                    UInt8(ascii: "n"): "\n", UInt8(ascii: "r"): "\r", UInt8(ascii: "t"): "\t",
                ]
                if let scalar = simple[escape] {
                    scalars.append(scalar)
                    continue
                }
                guard escape == UInt8(ascii: "u") else { throw invalid("invalid escape") }
                var code = try parseHexQuad()
                if (0xD800..<0xDC00).contains(code) {
                    guard position + 2 <= bytes.count, bytes[position] == UInt8(ascii: "\\"),
                        bytes[position + 1] == UInt8(ascii: "u")
                    else { throw invalid("unpaired surrogate") }
                    position += 2
                    let low = try parseHexQuad()
                    guard (0xDC00..<0xE000).contains(low) else {
                        throw invalid("unpaired surrogate")
                    }
                    code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                }
                guard let scalar = Unicode.Scalar(code) else { throw invalid("invalid \\u escape") }
                scalars.append(scalar)
            case 0..<0x20:
                throw invalid("control character in a string")
            default:
                run.append(byte)
            }
        }
        throw invalid("unterminated string")
    }
}
