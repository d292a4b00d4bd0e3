/// Splits the input at NUL bytes into command-line arguments, the way the kernel passes
/// argv, and parses them against flags like those of `resnet-tui train`.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzArguments(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = UnsafeBufferPointer(start: data, count: size)
    let arguments = bytes.split(separator: 0, omittingEmptySubsequences: false).map {
        String(decoding: $0, as: UTF8.self)
    }
    let specs = [
        FlagSpec(name: "data", takesValue: true, help: ""),
        FlagSpec(name: "model", takesValue: true, help: ""),
        FlagSpec(name: "batch", takesValue: true, help: ""),
        FlagSpec(name: "lr", takesValue: true, help: ""),
        FlagSpec(name: "weight-decay", takesValue: true, help: ""),
        FlagSpec(name: "threads", takesValue: true, help: ""),
        FlagSpec(name: "help", takesValue: false, help: ""),
        FlagSpec(name: "no-color", takesValue: false, help: ""),
        FlagSpec(name: "charts", takesValue: true, help: ""),
    ]
    guard let parsed = try? ParsedArguments(arguments, specs: specs) else { return 0 }
    _ = parsed.has("help")
    _ = parsed.string("data", default: "mnist")
    _ = try? parsed.int("batch", default: 64, range: 1...4096)
    _ = try? parsed.double("lr", default: 0.1, range: 0...10)
    return 0
}
