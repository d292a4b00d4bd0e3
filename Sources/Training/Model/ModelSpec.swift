import Foundation

/// The residual block a ResNet is built from.
public enum BlockKind: String, Sendable {
    /// Two 3x3 convolutions (ResNet-18/34 and the CIFAR family).
    case basic
    /// 1x1, 3x3, 1x1 convolutions with 4x expansion (ResNet-50/101/152).
    case bottleneck

    /// Output channels of a block over the channels of its 3x3 convolution.
    public var expansion: Int { self == .basic ? 1 : 4 }
}

/// The two layouts of He et al. 2015.
public enum ModelFamily: String, Sendable {
    /// Section 4.2: a 3x3 stem and three stages of widths w, 2w, 4w, for 32x32 images.
    case cifar
    /// Table 1: a 7x7/2 stem with a 3x3/2 max pool and four stages of widths w, 2w, 4w, 8w.
    case imagenet
}

/// A model chosen by name and options, as `--model`, `--width`, `--blocks`, `--no-bn`,
/// `--no-skip`, `--skip-off` and `--zero-init-residual` set it. Checkpoints store it in their metadata.
public struct ModelSpec: Sendable, Equatable {
    /// The name given, such as `resnet20`, `plain56` or `resnet50`.
    public var name: String
    public var family: ModelFamily
    public var blockKind: BlockKind
    /// Blocks per stage: the name's layout unless `--blocks` sets it.
    public var stageBlocks: [Int]
    /// Channels of the stem and of the first stage's 3x3 convolutions: 16 for the CIFAR
    /// family and 64 for the ImageNet family unless `--width` sets it.
    public var baseWidth: Int
    /// With batch norm off, every convolution has a bias and no norm follows it.
    public var batchNorm: Bool
    /// Blocks whose skip connection starts off, numbered from 1 as the UI shows them.
    public var skipOff: Set<Int>
    /// Whether each residual branch starts as the zero function. With batch norm, the last
    /// batch norm of every block starts at weight 0, as torchvision's `zero_init_residual`
    /// does. Without batch norm, the last convolution of every block starts at zero.
    public var zeroInitResidual: Bool

    public init(
        name: String, family: ModelFamily, blockKind: BlockKind, stageBlocks: [Int],
        baseWidth: Int, batchNorm: Bool = true, skipOff: Set<Int> = [],
        zeroInitResidual: Bool = false
    ) {
        self.name = name
        self.family = family
        self.blockKind = blockKind
        self.stageBlocks = stageBlocks
        self.baseWidth = baseWidth
        self.batchNorm = batchNorm
        self.skipOff = skipOff
        self.zeroInitResidual = zeroInitResidual
    }

    /// Returns the CIFAR ResNet of depth 6n + 2, or nil when `depth` has no such form.
    public static func cifar(depth: Int, baseWidth: Int = 16, batchNorm: Bool = true)
        -> ModelSpec?
    {
        guard depth >= 8, (depth - 2) % 6 == 0 else { return nil }
        let n = (depth - 2) / 6
        return ModelSpec(
            name: "resnet\(depth)", family: .cifar, blockKind: .basic,
            stageBlocks: [n, n, n], baseWidth: baseWidth, batchNorm: batchNorm)
    }

    public var blockCount: Int { stageBlocks.reduce(0, +) }

    /// Layers with weights: the stem, every convolution on the residual paths and the
    /// classifier, as the names resnet20 and resnet50 count them.
    public var depth: Int {
        blockCount * (blockKind == .basic ? 2 : 3) + 2
    }

    /// Returns whether the skip of block `index` (counting from 0) starts on.
    public func skipEnabled(block index: Int) -> Bool { !skipOff.contains(index + 1) }

    /// The name with every option that changes the network, such as
    /// `resnet20 --no-bn --skip-off 1,4`, for titles and logs.
    public var displayName: String {
        var parts = [name]
        let defaultWidth = family == .cifar ? 16 : 64
        if baseWidth != defaultWidth { parts.append("--width \(baseWidth)") }
        if let standard = try? Self.parseName(name), standard.stageBlocks != stageBlocks {
            parts.append("--blocks " + stageBlocks.map(String.init).joined(separator: ","))
        }
        if !batchNorm { parts.append("--no-bn") }
        let plainName = name.hasPrefix("plain")
        if !plainName && !skipOff.isEmpty {
            if skipOff.count == blockCount {
                parts.append("--no-skip")
            } else {
                parts.append(
                    "--skip-off " + skipOff.sorted().map(String.init).joined(separator: ","))
            }
        }
        if zeroInitResidual { parts.append("--zero-init-residual") }
        return parts.joined(separator: " ")
    }
}

/// An invalid model name or option, with the message to show the user.
public struct ModelSpecError: Error, Equatable, CustomStringConvertible {
    public var description: String
}

extension ModelSpec {
    /// Names accepted by `parse`, for help text.
    public static let knownNames =
        "resnet8/14/20/32/44/56/110, plain8 ... plain110 (every skip off), "
        + "resnet18/34/50/101/152"

    private static let imagenetLayouts: [Int: (BlockKind, [Int])] = [
        18: (.basic, [2, 2, 2, 2]),
        34: (.basic, [3, 4, 6, 3]),
        50: (.bottleneck, [3, 4, 6, 3]),
        101: (.bottleneck, [3, 4, 23, 3]),
        152: (.bottleneck, [3, 8, 36, 3]),
    ]

    private static let cifarDepths: Set<Int> = [8, 14, 20, 32, 44, 56, 110]

    /// Parses a model name and its options.
    ///
    /// - Parameters:
    ///   - name: `resnetD` or `plainD` with D in 8, 14, 20, 32, 44, 56, 110, or `resnetD`
    ///     with D in 18, 34, 50, 101, 152.
    ///   - width: base width, or nil for the family's default (16 or 64).
    ///   - blocks: blocks per stage, comma-separated, such as `1,1,1,1` for a bottleneck
    ///     network of 4 blocks; nil keeps the name's layout.
    ///   - skipOff: comma-separated block numbers counted from 1, such as `1,4,7`.
    public static func parse(
        name: String, width: Int? = nil, blocks: String? = nil, batchNorm: Bool = true,
        noSkip: Bool = false, skipOff: String? = nil, zeroInitResidual: Bool = false
    ) throws(ModelSpecError) -> ModelSpec {
        var spec = try parseName(name)
        if let blocks {
            spec.stageBlocks = try parseStageBlocks(blocks, stageCount: spec.stageBlocks.count)
            if name.hasPrefix("plain") { spec.skipOff = Set(1...spec.blockCount) }
        }
        if let width {
            guard (1...4096).contains(width) else {
                throw ModelSpecError(
                    description: "invalid width \(width): expected an integer from 1 to 4096")
            }
            spec.baseWidth = width
        }
        spec.batchNorm = batchNorm
        spec.zeroInitResidual = zeroInitResidual
        if noSkip { spec.skipOff = Set(1...spec.blockCount) }
        if let skipOff {
            spec.skipOff.formUnion(try parseBlockList(skipOff, blockCount: spec.blockCount))
        }
        return spec
    }

    private static func parseName(_ name: String) throws(ModelSpecError) -> ModelSpec {
        let invalid = ModelSpecError(
            description: "invalid model '\(name)': expected one of \(knownNames)")
        let plain = name.hasPrefix("plain")
        guard plain || name.hasPrefix("resnet") else { throw invalid }
        let digits = name.dropFirst(plain ? 5 : 6)
        guard digits.allSatisfy(\.isASCII), let depth = Int(digits), String(depth) == digits
        else {
            throw invalid
        }
        if cifarDepths.contains(depth), var spec = cifar(depth: depth) {
            spec.name = name
            if plain { spec.skipOff = Set(1...spec.blockCount) }
            return spec
        }
        if !plain, let (kind, blocks) = imagenetLayouts[depth] {
            return ModelSpec(
                name: name, family: .imagenet, blockKind: kind, stageBlocks: blocks,
                baseWidth: 64)
        }
        throw invalid
    }

    /// Parses `2,2,2,2` into blocks per stage, one count from 1 to 64 for each of the
    /// `stageCount` stages.
    static func parseStageBlocks(_ text: String, stageCount: Int) throws(ModelSpecError)
        -> [Int]
    {
        let counts = text.split(separator: ",", omittingEmptySubsequences: false).map {
            Int($0.trimmingCharacters(in: .whitespaces))
        }
        guard counts.count == stageCount, counts.allSatisfy({ $0 != nil && (1...64).contains($0!) })
        else {
            throw ModelSpecError(
                description: "invalid --blocks \(text): expected \(stageCount) block counts "
                    + "from 1 to 64, one per stage, separated by commas")
        }
        return counts.map { $0! }
    }

    /// Parses `1,4,7` into block numbers, each from 1 to `blockCount`.
    static func parseBlockList(_ text: String, blockCount: Int) throws(ModelSpecError)
        -> Set<Int>
    {
        var blocks: Set<Int> = []
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            let trimmed = item.trimmingCharacters(in: .whitespaces)
            guard let block = Int(trimmed), (1...blockCount).contains(block) else {
                throw ModelSpecError(
                    description: "invalid block '\(trimmed)' in --skip-off \(text): expected "
                        + "block numbers from 1 to \(blockCount), separated by commas")
            }
            blocks.insert(block)
        }
        return blocks
    }
}
