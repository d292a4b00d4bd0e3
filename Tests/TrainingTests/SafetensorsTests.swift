import Foundation
import Testing
import Training

/// Builds a safetensors file from a header written by hand and the data buffer.
func safetensorsBytes(header: String, data: [UInt8] = [], headerLength: UInt64? = nil)
    -> [UInt8]
{
    let headerBytes = Array(header.utf8)
    let length = headerLength ?? UInt64(headerBytes.count)
    return (0..<8).map { UInt8(truncatingIfNeeded: length >> (8 * $0)) } + headerBytes + data
}

/// Expects parsing to fail with `kind` and a message containing every string of `parts`.
func expectSafetensorsError(
    _ bytes: [UInt8], _ kind: SafetensorsError.Kind, containing parts: [String] = [],
    sourceLocation: SourceLocation = #_sourceLocation
) {
    do {
        let file = try SafetensorsFile.parse(bytes)
        Issue.record(
            "expected \(kind), parsed \(file.tensors.count) tensors",
            sourceLocation: sourceLocation)
    } catch {
        #expect(error.kind == kind, "\(error)", sourceLocation: sourceLocation)
        for part in parts {
            #expect(
                error.message.contains(part), "'\(error.message)' lacks '\(part)'",
                sourceLocation: sourceLocation)
        }
        #expect(!error.message.contains("\n"), sourceLocation: sourceLocation)
    }
}

/// Every kind of damaged or hostile safetensors file gets its own error, and the valid
/// edge cases that PyTorch writes are accepted.
@Suite struct SafetensorsTests {
    let eightBytes = [UInt8](repeating: 0, count: 8)

    @Test func roundTripKeepsNamesShapesValuesAndMetadata() throws {
        let file = SafetensorsFile(
            metadata: ["model": "resnet20", "quote\"key": "line\nbreak"],
            tensors: [
                SafetensorsTensor(
                    name: "conv1.weight", shape: [2, 1, 1, 2], floats: [1, -2, 3.5, .pi]),
                SafetensorsTensor(name: "bn1.num_batches_tracked", shape: [], int64s: [-7]),
                SafetensorsTensor(name: "empty", shape: [0, 3], floats: []),
                SafetensorsTensor(name: "ünïcode \\ name", shape: [1], floats: [0]),
            ])
        let bytes = file.serialized()
        #expect((bytes.count - 8 - file.tensors.reduce(0) { $0 + $1.bytes.count }) % 8 == 0)
        let parsed = try SafetensorsFile.parse(bytes)
        #expect(parsed.metadata == file.metadata)
        #expect(parsed.tensors == file.tensors)
        #expect(parsed.tensor(named: "conv1.weight")?.floats == [1, -2, 3.5, .pi])
        #expect(parsed.tensor(named: "bn1.num_batches_tracked")?.int64s == [-7])
    }

    @Test func shorterThanHeaderLength() {
        expectSafetensorsError([1, 0, 0], .fileTooShort, containing: ["3 bytes"])
    }

    @Test func headerLengthPastEnd() {
        expectSafetensorsError(
            safetensorsBytes(header: "{}", headerLength: 1000), .headerPastEnd,
            containing: ["header length 1000", "10-byte file"])
        // 8 + length would overflow a signed 64-bit size.
        expectSafetensorsError(
            safetensorsBytes(header: "{}", headerLength: UInt64.max), .headerPastEnd,
            containing: ["\(UInt64.max)"])
    }

    @Test func headerThatIsNotAnObject() {
        expectSafetensorsError(safetensorsBytes(header: "[]"), .invalidHeader)
        expectSafetensorsError(safetensorsBytes(header: "{\"a\":"), .invalidHeader)
        expectSafetensorsError(safetensorsBytes(header: "{} x"), .invalidHeader)
        let deep = "{\"a\":" + String(repeating: "[", count: 10_000) + "}"
        expectSafetensorsError(
            safetensorsBytes(header: deep), .invalidHeader, containing: ["nesting"])
        expectSafetensorsError(safetensorsBytes(header: "{\"a\":\"\u{01}\"}"), .invalidHeader)
        var invalidUTF8 = safetensorsBytes(header: "{\"ab\":1}")
        invalidUTF8[10] = 0xFF
        expectSafetensorsError(invalidUTF8, .invalidHeader, containing: ["UTF-8"])
    }

    @Test func invalidEntryFields() {
        let cases = [
            #"{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,0]}}"#,
            #"{"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,0]}}"#,
            #"{"a":{"dtype":"F32","shape":"2","data_offsets":[0,8]}}"#,
            #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[8]}}"#,
            #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}"#,
            #"{"a":{"shape":[2],"data_offsets":[0,8]}}"#,
            #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"extra":1}}"#,
            #"{"__metadata__":{"epoch":3},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#,
            #"{"a":[1]}"#,
        ]
        for header in cases {
            expectSafetensorsError(
                safetensorsBytes(header: header, data: eightBytes), .invalidHeader,
                containing: ["invalid header"])
        }
    }

    @Test func duplicateKeys() {
        let tensors =
            #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#
        expectSafetensorsError(
            safetensorsBytes(header: tensors, data: eightBytes), .duplicateKey,
            containing: ["'a'"])
        let fields = #"{"a":{"dtype":"F32","dtype":"I64","shape":[2],"data_offsets":[0,8]}}"#
        expectSafetensorsError(
            safetensorsBytes(header: fields, data: eightBytes), .duplicateKey,
            containing: ["'dtype'"])
        let metadata = #"{"__metadata__":{"m":"1","m":"2"}}"#
        expectSafetensorsError(safetensorsBytes(header: metadata), .duplicateKey)
    }

    @Test func unknownDType() {
        let header = #"{"a":{"dtype":"F33","shape":[2],"data_offsets":[0,8]}}"#
        expectSafetensorsError(
            safetensorsBytes(header: header, data: eightBytes), .unknownDType,
            containing: ["'a'", "'F33'"])
    }

    @Test func shapeProductBeyondIntegerRange() {
        // 2^32 * 2^32 = 2^64 wraps to 0 in 64-bit arithmetic, which would match offsets [0, 0].
        let wrapsToZero =
            #"{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,0]}}"#
        expectSafetensorsError(
            safetensorsBytes(header: wrapsToZero), .shapeOverflow,
            containing: ["'a'", "element count"])
        // 2^62 elements fit, but 2^62 * 4 bytes do not.
        let bytesOverflow =
            #"{"a":{"dtype":"F32","shape":[4611686018427387904],"data_offsets":[0,0]}}"#
        expectSafetensorsError(
            safetensorsBytes(header: bytesOverflow), .shapeOverflow, containing: ["byte size"])
        let hugeDimension =
            #"{"a":{"dtype":"F32","shape":[99999999999999999999],"data_offsets":[0,0]}}"#
        expectSafetensorsError(safetensorsBytes(header: hugeDimension), .shapeOverflow)
    }

    @Test func byteRangeThatDoesNotFitShape() {
        let header = #"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#
        expectSafetensorsError(
            safetensorsBytes(header: header, data: eightBytes), .sizeMismatch,
            containing: ["'a'", "needs 12 bytes", "span 8"])
    }

    @Test func overlappingAndAliasedRanges() {
        let overlapping =
            #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#
        expectSafetensorsError(
            safetensorsBytes(header: overlapping, data: eightBytes + [0, 0, 0, 0]),
            .overlappingData, containing: ["'a'", "'b'"])
        let aliased =
            #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}}"#
        expectSafetensorsError(
            safetensorsBytes(header: aliased, data: eightBytes), .overlappingData)
    }

    @Test func holesBetweenAndBeforeTensors() {
        let between =
            #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}"#
        expectSafetensorsError(
            safetensorsBytes(header: between, data: eightBytes + [0, 0, 0, 0]), .hole,
            containing: ["4..<8", "after tensor 'a'"])
        let before = #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#
        expectSafetensorsError(
            safetensorsBytes(header: before, data: eightBytes), .hole,
            containing: ["0..<4", "start"])
    }

    @Test func rangePastEndOfFile() {
        let header = #"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#
        expectSafetensorsError(
            safetensorsBytes(header: header, data: eightBytes), .dataPastEnd,
            containing: ["'a'", "16", "8-byte"])
    }

    @Test func trailingUnindexedBytes() {
        let header = #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#
        expectSafetensorsError(
            safetensorsBytes(header: header, data: eightBytes), .trailingBytes,
            containing: ["4 bytes"])
        expectSafetensorsError(safetensorsBytes(header: "{}", data: [1]), .trailingBytes)
    }

    @Test func zeroDimensionalScalarIsOneElement() throws {
        let header = #"{"n":{"dtype":"I64","shape":[],"data_offsets":[0,8]}}"#
        let file = try SafetensorsFile.parse(
            safetensorsBytes(header: header, data: [42, 0, 0, 0, 0, 0, 0, 0]))
        #expect(file.tensors.first?.shape == [])
        #expect(file.tensors.first?.int64s == [42])
    }

    @Test func emptyTensorsAnywhereAreAccepted() throws {
        let header =
            #"{"e1":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"e2":{"dtype":"F64","shape":[3,0],"data_offsets":[4,4]}}"#
        let file = try SafetensorsFile.parse(
            safetensorsBytes(header: header, data: [0, 0, 128, 63]))
        #expect(file.tensors.map(\.name) == ["e1", "a", "e2"])
        #expect(file.tensor(named: "a")?.floats == [1])
        #expect(file.tensor(named: "e2")?.elementCount == 0)
    }

    @Test func headerPaddedWithSpacesIsAccepted() throws {
        let file = try SafetensorsFile.parse(
            safetensorsBytes(header: #"{"__metadata__":{"format":"pt"}}      "#))
        #expect(file.metadata == ["format": "pt"])
    }

    @Test func missingFileNamesPath() {
        let path = NSTemporaryDirectory() + "/no-such-\(UUID().uuidString).safetensors"
        do {
            _ = try SafetensorsFile.read(path: path)
            Issue.record("read a missing file")
        } catch {
            #expect(error.kind == .io)
            #expect(error.description.hasPrefix(path + ": "))
        }
    }

    @Test func readErrorNamesPathAndProblem() throws {
        let directory = try makeTemporaryDirectory()
        let header = #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#
        let path = try write(
            safetensorsBytes(header: header, data: eightBytes), to: directory,
            name: "trailing.safetensors")
        do {
            _ = try SafetensorsFile.read(path: path)
            Issue.record("read a file with trailing bytes")
        } catch {
            #expect(
                error.description == "\(path): 4 bytes after the last tensor belong to no tensor")
        }
    }
}
