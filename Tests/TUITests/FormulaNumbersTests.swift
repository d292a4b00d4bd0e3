import Engine
import Foundation
import TUI
import Testing
import Training

/// Feeds one batch of uniform random images with labels 0, 1, 2, ...
private final class RandomBatch: BatchSource, @unchecked Sendable {
    let name = "random"

    func nextBatch(images: Tensor, labels: inout [Int32]) -> Int {
        var generator = SeededGenerator(seed: 31)
        for i in 0..<images.count {
            images[i] = Float(Double.random(in: -1...1, using: &generator))
        }
        for i in labels.indices { labels[i] = Int32(i % 10) }
        return 0
    }
}

/// Reads the formulas view of a real stepper from the cell buffer and checks each shape and
/// norm against the model's own tensors.
struct FormulaNumbersTests {
    /// Builds a bottleneck network of 4 blocks at width 4 for 3x64x64 images. The stem
    /// gives 16x16 and the last stage 2x2, so the pooling layer averages N = 4 positions.
    static func bottleneckStepper() throws -> Stepper {
        let spec = try ModelSpec.parse(name: "resnet50", width: 4, blocks: "1,1,1,1")
        let config = ResNetConfig(
            spec: spec, inputChannels: 3, inputHeight: 64, inputWidth: 64, classCount: 10)
        let model = ResNet(config: config, batchSize: 2)
        var generator = SeededGenerator(seed: 4)
        model.initialize(using: &generator)
        return Stepper(
            model: model, data: RandomBatch(), pool: ThreadPool(threads: 2),
            optimizer: OptimizerSettings(), seed: 4)
    }

    /// Runs phases until `phase` has run.
    static func run(_ stepper: Stepper, through phase: Phase) {
        while stepper.advance() != phase {}
    }

    static func formulaLines(of stepper: Stepper) -> [String] {
        var state = UIState(snapshot: stepper.snapshot)
        state.detailView = .formulas
        return drawScreen(stepper.snapshot, width: 180, height: 70, state: state)
    }

    static func parameter(_ name: String, of stepper: Stepper) throws -> Parameter {
        try #require(stepper.model.parameters.first { $0.name == name })
    }

    static func scientific(_ value: Double) -> String { String(format: "%.1e", value) }

    static func shapeText(_ shape: [Int]) -> String {
        shape.map(String.init).joined(separator: "×")
    }

    @Test func bottleneckShowsThreeConvolutions() throws {
        let stepper = try Self.bottleneckStepper()
        let block = ResNet.firstBlockLayer + 1
        Self.run(stepper, through: .backward(layer: block))
        let lines = Self.formulaLines(of: stepper)
        let text = screenText(lines)

        #expect(line(containing: "layer2.0: 16×16×16 -> 32×8×8", in: lines) != nil, "\(text)")
        let formulas = [
            "y1 = relu(BN1(W1 * x))", "y2 = relu(BN2(W2 * y1))", "F(x) = BN3(W3 * y2)",
            "S(x) = BN(Wp * x) (1x1 projection)",
        ]
        for formula in formulas {
            #expect(line(containing: formula, in: lines) != nil, "missing \(formula): \(text)")
        }
        for (symbol, suffix) in [("W1", "conv1"), ("W2", "conv2"), ("W3", "conv3")] {
            let weight = try Self.parameter("layer2.0.\(suffix).weight", of: stepper)
            let expected =
                "\(symbol) \(Self.shapeText(weight.value.shape)) |\(symbol)| "
                + Self.scientific(weight.value.norm())
            #expect(line(containing: expected, in: lines) != nil, "missing \(expected): \(text)")
            let gradient = "|dL/d\(symbol)| " + Self.scientific(weight.gradient.norm())
            #expect(line(containing: gradient, in: lines) != nil, "missing \(gradient): \(text)")
        }
        let projection = try Self.parameter("layer2.0.downsample.0.weight", of: stepper)
        let projectionText = "Wp 32×16×1×1 |Wp| " + Self.scientific(projection.value.norm())
        #expect(line(containing: projectionText, in: lines) != nil, "\(text)")

        let output = stepper.model.output(ofLayer: block)
        let outputText = "|O| \(Self.scientific(output.norm())) (32×8×8)"
        #expect(line(containing: outputText, in: lines) != nil, "missing \(outputText): \(text)")
        let input = stepper.model.output(ofLayer: block - 1)
        let inputText = "|x| \(Self.scientific(input.norm())) (16×16×16)"
        #expect(line(containing: inputText, in: lines) != nil, "missing \(inputText): \(text)")
    }

    @Test func stemShowsMaxPoolAndNorms() throws {
        let stepper = try Self.bottleneckStepper()
        Self.run(stepper, through: .forward(layer: 0))
        let lines = Self.formulaLines(of: stepper)
        let text = screenText(lines)
        #expect(line(containing: "y = maxpool(relu(BN(W * x)))", in: lines) != nil, "\(text)")
        let weight = try Self.parameter("conv1.weight", of: stepper)
        let weightText = "W 4×3×7×7 |W| " + Self.scientific(weight.value.norm())
        #expect(line(containing: weightText, in: lines) != nil, "\(text)")
        let imagesText = "|x| \(Self.scientific(stepper.model.images.norm())) (3×64×64)"
        #expect(line(containing: imagesText, in: lines) != nil, "\(text)")
        let outputText = "|y| \(Self.scientific(stepper.model.output(ofLayer: 0).norm())) (4×16×16)"
        #expect(line(containing: outputText, in: lines) != nil, "\(text)")
    }

    @Test func poolingDividesByPositionCount() throws {
        let stepper = try Self.bottleneckStepper()
        let poolLayer = stepper.model.layerCount - 2
        Self.run(stepper, through: .backward(layer: poolLayer))
        let lines = Self.formulaLines(of: stepper)
        let text = screenText(lines)
        #expect(line(containing: "over the N = 4 positions", in: lines) != nil, "\(text)")
        #expect(line(containing: "dL/dO = dL/dh / 4 at every position", in: lines) != nil)
        let features = stepper.model.output(ofLayer: poolLayer - 1)
        let pooled = stepper.model.output(ofLayer: poolLayer)
        let forward =
            "|O| \(Self.scientific(features.norm())) (128×2×2)  "
            + "|h| \(Self.scientific(pooled.norm())) (128)"
        #expect(line(containing: forward, in: lines) != nil, "missing \(forward): \(text)")
        #expect(
            line(containing: "|dL/dO| = |dL/dh| / sqrt(N) = |dL/dh| / 2", in: lines) != nil,
            "\(text)")
    }

    @Test func linearAndLossShowGradients() throws {
        let stepper = try Self.bottleneckStepper()
        Self.run(stepper, through: .loss)
        var lines = Self.formulaLines(of: stepper)
        var text = screenText(lines)
        #expect(line(containing: "(S - y, averaged over the batch)", in: lines) != nil, "\(text)")

        // dL/dz = (softmax(z) - onehot(label)) / B, computed here from the logits.
        let logits = stepper.model.output(ofLayer: stepper.model.layerCount - 1)
        let batch = logits.shape[0]
        let classes = logits.shape[1]
        var squares = 0.0
        for sample in 0..<batch {
            let row = (0..<classes).map { Double(logits[sample * classes + $0]) }
            let largest = row.max()!
            let exponentials = row.map { exp($0 - largest) }
            let total = exponentials.reduce(0, +)
            for index in 0..<classes {
                let target = index == Int(stepper.model.labels[sample]) ? 1.0 : 0.0
                let value = (exponentials[index] / total - target) / Double(batch)
                squares += value * value
            }
        }
        let lossGradient = "|dL/dz| \(Self.scientific(squares.squareRoot())) (10)"
        #expect(line(containing: lossGradient, in: lines) != nil, "\(lossGradient): \(text)")

        stepper.advance()
        lines = Self.formulaLines(of: stepper)
        text = screenText(lines)
        #expect(line(containing: "z = W h + b", in: lines) != nil, "\(text)")
        let weight = try Self.parameter("fc.weight", of: stepper)
        let weightText = "W 10×128 |W| " + Self.scientific(weight.value.norm())
        #expect(line(containing: weightText, in: lines) != nil, "\(weightText): \(text)")
        let gradientText = "dL/dW 10×128 |dL/dW| " + Self.scientific(weight.gradient.norm())
        #expect(line(containing: gradientText, in: lines) != nil, "\(gradientText): \(text)")
        #expect(line(containing: lossGradient, in: lines) != nil, "fc's dL/dz: \(text)")
    }
}
