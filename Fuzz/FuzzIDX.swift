import Training

/// Parses the input as an IDX image file and as an IDX label file.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzIDX(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if let images = try? IDX.parseImages(bytes, path: "fuzz") {
        precondition(images.pixels.count == images.count * images.rows * images.columns)
    }
    if let labels = try? IDX.parseLabels(bytes, path: "fuzz", classCount: 10) {
        precondition(labels.allSatisfy { (0..<10).contains($0) })
    }
    return 0
}
