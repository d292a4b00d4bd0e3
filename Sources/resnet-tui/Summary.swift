import Training

let summaryUsage = """
    resnet-tui summary: print one row per layer with its input and output shape, kernel,
    stride and padding, and how many parameters it has, then the totals.

    Usage:
      resnet-tui summary --model NAME [options]

    Options:
    \(modelUsage)
      --input C,H,W     shape of one input image (default 3,32,32 for the CIFAR layout,
                        3,224,224 for the ImageNet layout)
      --classes N       classifier outputs (default 10 for the CIFAR layout, 1000 for the
                        ImageNet layout)

    """

func runSummary(_ arguments: [String]) throws {
    let parsed = try ParsedArguments(
        arguments,
        specs: [
            FlagSpec(name: "model", takesValue: true, help: ""),
            FlagSpec(name: "input", takesValue: true, help: ""),
            FlagSpec(name: "classes", takesValue: true, help: ""),
            FlagSpec(name: "help", takesValue: false, help: ""),
        ] + modelFlags)
    if parsed.has("help") {
        print(summaryUsage, terminator: "")
        return
    }
    let spec = try parseModelSpec(parsed)
    let imagenet = spec.family == .imagenet
    let input = try parseInputShape(
        parsed.string("input", default: imagenet ? "3,224,224" : "3,32,32"))
    let classes = try parsed.int("classes", default: imagenet ? 1000 : 10, range: 1...1_000_000)
    let config = ResNetConfig(
        spec: spec, inputChannels: input[0], inputHeight: input[1], inputWidth: input[2],
        classCount: classes)
    print(formatSummary(config), terminator: "")
}

/// Parses `C,H,W` into three positive sizes.
func parseInputShape(_ text: String) throws -> [Int] {
    let parts = text.split(separator: ",", omittingEmptySubsequences: false).map { Int($0) }
    guard parts.count == 3, let sizes = parts as? [Int],
        sizes.allSatisfy({ (1...65536).contains($0) })
    else {
        throw UsageError(
            description: "invalid value '\(text)' for --input: expected C,H,W with sizes "
                + "from 1 to 65536, such as 3,64,64")
    }
    return sizes
}

/// Formats the summary table: a header, one row per layer (block rows first, then their layers
/// indented), and the totals.
func formatSummary(_ config: ResNetConfig) -> String {
    let rows = config.summaryRows
    let header = ["layer", "type", "input", "output", "kernel", "parameters", "count"]
    var table: [[String]] = [header]
    for row in rows {
        let indent = row.isGroup || !row.name.hasPrefix("layer") ? "" : "  "
        table.append([
            indent + row.name, row.type, shapeText(row.inputShape), shapeText(row.outputShape),
            row.geometry, row.formula, groupedDigits(row.parameterCount),
        ])
    }
    let widths = header.indices.map { column in table.map { $0[column].count }.max() ?? 0 }
    var text =
        "\(config.name), input \(shapeText([config.inputChannels, config.inputHeight, config.inputWidth])), "
        + "\(config.classCount) classes\n\n"
    for line in table {
        var cells: [String] = []
        for (column, cell) in line.enumerated() {
            let padding = String(repeating: " ", count: widths[column] - cell.count)
            // Numbers align right, text left.
            cells.append(column == line.count - 1 ? padding + cell : cell + padding)
        }
        text += cells.joined(separator: "  ") + "\n"
    }
    text += "\ntotal parameters: \(groupedDigits(config.parameterCount)) "
    text += "(batch-norm running statistics are buffers and not counted)\n"
    return text
}

func shapeText(_ shape: [Int]) -> String {
    shape.map(String.init).joined(separator: "x")
}

/// Writes `value` with commas between groups of three digits: 11,689,512.
func groupedDigits(_ value: Int) -> String {
    let digits = String(value.magnitude)
    var result = ""
    for (index, digit) in digits.enumerated() {
        if index > 0 && (digits.count - index) % 3 == 0 { result += "," }
        result.append(digit)
    }
    return value < 0 ? "-" + result : result
}
