import Engine
import Testing
import Training

/// Model names, options and parameter counts. The ImageNet totals are those of
/// torchvision 0.20's `resnetD()` with 1000 classes, `sum(p.numel() for p in
/// m.parameters())`; the input size does not change them.
@Suite struct ModelSpecTests {
    @Test(arguments: [
        ("resnet18", 11_689_512), ("resnet34", 21_797_672), ("resnet50", 25_557_032),
        ("resnet101", 44_549_160), ("resnet152", 60_192_808),
    ])
    func imagenetParameterCountMatchesTorchvision(name: String, expected: Int) throws {
        let spec = try ModelSpec.parse(name: name)
        let config = ResNetConfig(
            spec: spec, inputChannels: 3, inputHeight: 224, inputWidth: 224, classCount: 1000)
        #expect(config.parameterCount == expected)
    }

    @Test func cifarDepthsAndBlockCounts() throws {
        for depth in [8, 14, 20, 32, 44, 56, 110] {
            let resnet = try ModelSpec.parse(name: "resnet\(depth)")
            let plain = try ModelSpec.parse(name: "plain\(depth)")
            #expect(resnet.family == .cifar)
            #expect(resnet.depth == depth)
            #expect(resnet.blockCount == (depth - 2) / 2)
            #expect(resnet.skipOff.isEmpty)
            #expect(plain.skipOff == Set(1...plain.blockCount), "plain\(depth) has every skip off")
        }
    }

    @Test func imagenetDepthsAndBlockKinds() throws {
        let expected: [(String, BlockKind, [Int])] = [
            ("resnet18", .basic, [2, 2, 2, 2]), ("resnet34", .basic, [3, 4, 6, 3]),
            ("resnet50", .bottleneck, [3, 4, 6, 3]), ("resnet101", .bottleneck, [3, 4, 23, 3]),
            ("resnet152", .bottleneck, [3, 8, 36, 3]),
        ]
        for (name, kind, blocks) in expected {
            let spec = try ModelSpec.parse(name: name)
            #expect(spec.family == .imagenet, "\(name)")
            #expect(spec.blockKind == kind, "\(name)")
            #expect(spec.stageBlocks == blocks, "\(name)")
            #expect("resnet\(spec.depth)" == name)
        }
    }

    @Test(arguments: [
        "resnet21", "plain18", "resnet", "vgg16", "resnet-20", "Resnet20", "resnet２０", "",
        "resnet020", "resnet+20",
    ])
    func invalidNameIsRejectedInOneLine(name: String) {
        #expect(throws: ModelSpecError.self) { try ModelSpec.parse(name: name) }
        do {
            _ = try ModelSpec.parse(name: name)
        } catch {
            #expect(error.description.contains("invalid model '\(name)'"))
            #expect(error.description.contains("resnet18/34/50/101/152"))
            #expect(!error.description.contains("\n"))
        }
    }

    @Test func skipOffListSetsBlocksFromOne() throws {
        let spec = try ModelSpec.parse(name: "resnet20", skipOff: "1,4,7")
        #expect(spec.skipOff == [1, 4, 7])
        let model = ResNet(
            config: ResNetConfig(
                spec: spec, inputChannels: 1, inputHeight: 8, inputWidth: 8, classCount: 10),
            batchSize: 2)
        let off = model.blocks.enumerated().filter { !$0.element.skipEnabled }.map(\.offset)
        #expect(off == [0, 3, 6])
        #expect(model.layerInfos.filter { $0.kind == .block && !$0.skipEnabled }.count == 3)
    }

    @Test(arguments: ["0", "10", "1,,2", "a", "1;2", "-1"])
    func invalidSkipOffIsRejected(list: String) {
        do {
            _ = try ModelSpec.parse(name: "resnet20", skipOff: list)
            Issue.record("--skip-off \(list) was accepted")
        } catch {
            #expect(error.description.contains("from 1 to 9"))
        }
    }

    @Test func noSkipTurnsEverySkipOff() throws {
        let spec = try ModelSpec.parse(name: "resnet50", noSkip: true)
        #expect(spec.skipOff.count == 16)
        #expect(spec.displayName == "resnet50 --no-skip")
    }

    @Test func widthAndNoBatchNormChangeCounts() throws {
        let spec = try ModelSpec.parse(name: "resnet20", width: 8, batchNorm: false)
        let config = ResNetConfig(
            spec: spec, inputChannels: 3, inputHeight: 32, inputWidth: 32, classCount: 10)
        // Widths 8, 16, 32; every convolution has a bias and no batch norm follows it.
        let convolutions =
            (8 * 3 * 9 + 8) + 6 * (8 * 8 * 9 + 8) + (16 * 8 * 9 + 16) + 5 * (16 * 16 * 9 + 16)
            + (16 * 8 + 16) + (32 * 16 * 9 + 32) + 5 * (32 * 32 * 9 + 32) + (32 * 16 + 32)
        #expect(config.parameterCount == convolutions + 32 * 10 + 10)
        #expect(spec.displayName == "resnet20 --width 8 --no-bn")
    }

    /// The summary is computed from the plan without building the model; both must agree.
    @Test(arguments: [
        "resnet8", "plain14", "resnet18", "resnet34", "resnet50", "resnet101",
    ])
    func summaryCountMatchesBuiltModel(name: String) throws {
        for batchNorm in [true, false] {
            let spec = try ModelSpec.parse(name: name, width: 4, batchNorm: batchNorm)
            let config = ResNetConfig(
                spec: spec, inputChannels: 3, inputHeight: 33, inputWidth: 31, classCount: 7)
            let model = ResNet(config: config, batchSize: 2)
            #expect(model.parameterCount == config.parameterCount, "\(spec.displayName)")
            let summaryNames = Set(config.summaryRows.map(\.name))
            for parameter in model.parameters {
                let module = parameter.name.split(separator: ".").dropLast().joined(separator: ".")
                #expect(summaryNames.contains(module), "\(parameter.name) has no summary row")
            }
        }
    }

    @Test func imagenetStemAndStagesOnSmallInput() throws {
        let config = ResNetConfig(
            spec: try ModelSpec.parse(name: "resnet50", width: 8), inputChannels: 3,
            inputHeight: 64, inputWidth: 64, classCount: 10)
        let model = ResNet(config: config, batchSize: 2)
        let shapes = model.layerInfos.map(\.outputShape)
        #expect(shapes[0] == [8, 16, 16], "7x7/2 stem then 3x3/2 max pool: 64 -> 32 -> 16")
        #expect(shapes[1] == [32, 16, 16], "layer1.0 expands to 4 * 8 channels")
        #expect(shapes[4] == [64, 8, 8], "layer2.0 has stride 2")
        #expect(shapes[16] == [256, 2, 2], "layer4.2 output")
        #expect(shapes.last == [10, 1, 1])
        #expect(model.layerInfos[1].hasProjection)
        #expect(!model.layerInfos[2].hasProjection)
    }

    @Test func batchNormSampleSizesOfResnet50() throws {
        let config = ResNetConfig(
            spec: try ModelSpec.parse(name: "resnet50", width: 4), inputChannels: 3,
            inputHeight: 32, inputWidth: 32, classCount: 10)
        let sizes = config.batchNormSampleSizes(batch: 2)
        let byName = Dictionary(uniqueKeysWithValues: sizes.map { ($0.name, $0.valuesPerChannel) })
        #expect(sizes.count == 53, "the stem, 3 per block of 16, and 4 projections")
        #expect(sizes.first?.name == "bn1")
        #expect(byName["bn1"] == 2 * 16 * 16, "7x7/2 stem: 32 -> 16")
        #expect(byName["layer3.5.bn3"] == 2 * 2 * 2)
        #expect(byName["layer4.0.bn1"] == 2 * 2 * 2, "the stride is on layer4.0.conv2")
        #expect(byName["layer4.0.bn2"] == 2)
        #expect(byName["layer4.0.downsample.1"] == 2)
        #expect(byName["layer4.2.bn3"] == 2)
        let limit = ResNetConfig.minimumBatchNormValuesPerChannel
        let small = sizes.filter { $0.valuesPerChannel < limit }.map(\.name)
        #expect(small.count == 9, "\(small)")
        #expect(small.first == "layer4.0.bn2")
    }

    @Test func batchNormSampleSizesWithoutBatchNorm() throws {
        let config = ResNetConfig(
            spec: try ModelSpec.parse(name: "resnet50", width: 4, batchNorm: false),
            inputChannels: 3, inputHeight: 32, inputWidth: 32, classCount: 10)
        #expect(config.batchNormSampleSizes(batch: 2).isEmpty)
    }

    @Test func zeroInitResidualZeroesLastNormOfEveryBlock() throws {
        for name in ["resnet20", "resnet50"] {
            let spec = try ModelSpec.parse(name: name, width: 4, zeroInitResidual: true)
            let model = ResNet(
                config: ResNetConfig(
                    spec: spec, inputChannels: 3, inputHeight: 16, inputWidth: 16,
                    classCount: 10),
                batchSize: 2)
            var generator = TestGenerator(seed: 3)
            model.initialize(using: &generator)
            let last = spec.blockKind == .basic ? "bn2" : "bn3"
            for parameter in model.parameters where parameter.name.hasSuffix(".weight") {
                let isLastNorm = parameter.name.hasSuffix("\(last).weight")
                let isZero = parameter.value.toArray().allSatisfy { $0 == 0 }
                #expect(isZero == isLastNorm, "\(parameter.name) zero: \(isZero)")
            }
        }
    }

    @Test func zeroInitResidualWithoutBatchNormZeroesLastConvolution() throws {
        let spec = try ModelSpec.parse(
            name: "resnet8", width: 4, batchNorm: false, zeroInitResidual: true)
        let model = ResNet(
            config: ResNetConfig(
                spec: spec, inputChannels: 1, inputHeight: 8, inputWidth: 8, classCount: 10),
            batchSize: 2)
        var generator = TestGenerator(seed: 3)
        model.initialize(using: &generator)
        for parameter in model.parameters where parameter.name.hasSuffix("conv2.weight") {
            #expect(parameter.value.toArray().allSatisfy { $0 == 0 }, "\(parameter.name)")
        }
        let conv1 = model.parameters.first { $0.name == "layer1.0.conv1.weight" }!
        #expect(conv1.value.norm() > 0)
    }

    /// Kaiming normal with fan_out: std = sqrt(2 / (outChannels * k * k)), independent of the
    /// input channels. With n samples the sample std has a relative standard error of about
    /// 1 / sqrt(2n), so the tolerances are 5 to 10 standard errors.
    @Test func kaimingFanOutStandardDeviation() throws {
        let spec = try ModelSpec.parse(name: "resnet18", width: 16)
        let model = ResNet(
            config: ResNetConfig(
                spec: spec, inputChannels: 3, inputHeight: 32, inputWidth: 32, classCount: 10),
            batchSize: 1)
        var generator = TestGenerator(seed: 11)
        model.initialize(using: &generator)
        for name in ["layer4.0.conv1.weight", "layer4.0.downsample.0.weight", "conv1.weight"] {
            let weight = model.parameters.first { $0.name == name }!.value
            let fanOut = weight.shape[0] * weight.shape[2] * weight.shape[3]
            let values = weight.toArray().map(Double.init)
            let mean = values.reduce(0, +) / Double(values.count)
            let variance =
                values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +)
                / Double(values.count)
            let expected = (2.0 / Double(fanOut)).squareRoot()
            let tolerance = 5 / (2 * Double(values.count)).squareRoot()
            #expect(abs(variance.squareRoot() / expected - 1) < tolerance, "\(name)")
        }
    }
}
