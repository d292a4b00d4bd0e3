import Training

/// Parses the input as a CIFAR-10 binary batch.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCIFAR10(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if let batch = try? CIFAR10.parseBatch(bytes, path: "fuzz") {
        precondition(batch.pixels.count == batch.count * CIFAR10.imageBytes)
        precondition(batch.labels.count == batch.count)
    }
    return 0
}
