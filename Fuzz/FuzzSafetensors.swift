import Training

/// Parses the input as a safetensors file, which also runs the header's JSON parser.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSafetensors(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let file = try? SafetensorsFile.parse(bytes) else { return 0 }
    // A parsed file must serialize and parse back to the same tensors.
    let reparsed = try! SafetensorsFile.parse(file.serialized())
    precondition(reparsed.tensors == file.tensors, "tensors differ after a round trip")
    precondition(reparsed.metadata == file.metadata, "metadata differs after a round trip")
    for tensor in file.tensors {
        _ = tensor.floats
        _ = tensor.int64s
    }
    return 0
}
