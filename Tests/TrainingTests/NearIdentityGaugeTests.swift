import Engine
import Foundation
import Testing
import Training

struct NearIdentityGaugeTests {
    /// resnet14 (two blocks per stage, so layer1.1 has an identity skip and a ReLU input) on
    /// 8 random 1x8x8 images.
    static func makeModel(zeroInit: Bool = false, skips: Bool = true, batchNorm: Bool = true)
        -> ResNet
    {
        var spec = ModelSpec.cifar(depth: 14, baseWidth: 8, batchNorm: batchNorm)!
        spec.zeroInitResidual = zeroInit
        if !skips { spec.skipOff = Set(1...spec.blockCount) }
        let config = ResNetConfig(
            spec: spec, inputChannels: 1, inputHeight: 8, inputWidth: 8, classCount: 10)
        let model = ResNet(config: config, batchSize: 8)
        var generator = SeededGenerator(seed: 3)
        model.initialize(using: &generator)
        for i in 0..<model.images.count {
            model.images[i] = Float(Double.random(in: -1...1, using: &generator))
        }
        for i in model.labels.indices { model.labels[i] = Int32(i % 10) }
        return model
    }

    static func identityBlocks(_ gains: [BlockGain]) -> [BlockGain] {
        gains.filter { !$0.hasProjection }
    }

    @Test func zeroInitBlockIsIdentity() {
        let model = Self.makeModel(zeroInit: true)
        let gains = NearIdentityGauge.measure(model: model, pool: ThreadPool(threads: 2))
        let identity = Self.identityBlocks(gains)
        #expect(identity.count == 4)
        for gain in identity {
            // The branch ends in a batch norm with weight 0, whose output is its bias 0 for
            // every input, so its Jacobian is exactly zero.
            #expect(gain.branchGain == 0, "\(gain.name) branch gain \(gain.branchGain)")
            // The block is relu(x) on an input that is already >= 0, so J is the identity on
            // the entries above 0: gain 1. The 1e-3 tolerance covers Float32 rounding of the
            // central difference (about 1e-4 at the chosen step) and inputs within one step
            // of 0, where relu bends inside the difference.
            #expect(abs(gain.blockGain - 1) < 1e-3, "\(gain.name) block gain \(gain.blockGain)")
        }
    }

    @Test func plainBlockFarFromIdentity() {
        let model = Self.makeModel(skips: false)
        let gains = NearIdentityGauge.measure(model: model, pool: ThreadPool(threads: 2))
        for gain in Self.identityBlocks(gains) {
            #expect(!gain.skipActive)
            // With the skip off, O = relu(F(x)), and the ReLU can only shrink F's gain.
            #expect(gain.blockGain <= gain.branchGain * 1.001, "\(gain.name)")
            #expect(abs(gain.blockGain - 1) > 0.5, "\(gain.name) block gain \(gain.blockGain)")
        }
    }

    @Test func defaultResidualBlockGains() {
        let model = Self.makeModel()
        let gains = NearIdentityGauge.measure(model: model, pool: ThreadPool(threads: 2))
        for gain in gains {
            #expect(gain.blockGain.isFinite, "\(gain.name)")
            #expect(gain.blockGain > 0, "\(gain.name)")
            #expect(gain.branchGain.isFinite, "\(gain.name)")
            #expect(gain.branchGain > 0, "\(gain.name)")
        }
    }

    @Test func measureRestoresTrainingState() {
        let model = Self.makeModel()
        let pool = ThreadPool(threads: 2)
        for layer in 0..<model.layerCount {
            model.forward(layer: layer, training: true, pool: pool)
        }
        _ = model.loss()
        for layer in (0..<model.layerCount).reversed() {
            _ = model.backward(layer: layer, pool: pool)
        }
        let gradients = model.parameters.map { $0.gradient.toArray() }
        let state = Self.stateValues(model)
        let outputs = (0..<model.layerCount).map { model.output(ofLayer: $0).toArray() }

        _ = NearIdentityGauge.measure(model: model, pool: pool)

        #expect(model.parameters.map { $0.gradient.toArray() } == gradients)
        #expect(Self.stateValues(model) == state, "batch-norm statistics or weights changed")
        for layer in 0..<model.layerCount {
            #expect(model.output(ofLayer: layer).toArray() == outputs[layer], "layer \(layer)")
        }
    }

    static func stateValues(_ model: ResNet) -> [[Float]] {
        model.stateEntries.map { entry in
            switch entry {
            case .floats(_, let tensor): return tensor.toArray()
            case .counter(_, let norm): return [Float(norm.batchesTracked)]
            }
        }
    }
}
