import Training

/// Parses the input as a safetensors file and validates it as a batch file.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzBatchFile(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let file = try? SafetensorsFile.parse(bytes) else { return 0 }
    guard let batch = try? BatchFile(file, path: "fuzz") else { return 0 }
    precondition(batch.labels.count == batch.count)
    _ = try? batch.check(channels: 1, height: 28, width: 28, classCount: 10)
    return 0
}
