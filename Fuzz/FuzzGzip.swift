import Training

/// Inflates the input as gzip with a 256 KiB output limit, so a small input that inflates
/// to gigabytes is rejected by the reader instead of exhausting the fuzzer's memory.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzGzip(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let maxBytes = 256 << 10
    if let output = try? Gzip.inflate(bytes, path: "fuzz", maxBytes: maxBytes) {
        precondition(output.count <= maxBytes, "inflated \(output.count) bytes")
    }
    return 0
}
