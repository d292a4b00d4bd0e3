import Engine
import Foundation
import Testing
import Training

/// Returns a resnet8 on a batch of 4 random normal 3x8x8 images with random labels.
private func smallModelOnRandomBatch(seed: UInt64) -> ResNet {
    let config = ResNetConfig(depth: 8, inputChannels: 3, inputHeight: 8, inputWidth: 8)
    let model = ResNet(config: config, batchSize: 4)
    var generator = SeededGenerator(seed: seed)
    model.initialize(using: &generator)
    for i in 0..<model.images.count {
        let u1 = 1 - Double(generator.nextUnitFloat())
        let u2 = Double(generator.nextUnitFloat())
        model.images[i] = Float((-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2))
    }
    for i in model.labels.indices {
        model.labels[i] = Int32(generator.nextInt(below: 10))
    }
    return model
}

@Suite struct GradientCheckTests {
    @Test func backwardAgreesWithDifferences() {
        let model = smallModelOnRandomBatch(seed: 5)
        let pool = ThreadPool(threads: 2)
        let analytic = GradientCheck.analyticGradients(of: model, pool: pool)
        let checks = GradientCheck.compare(
            model, analytic: analytic, step: 1e-3, samplesPerTensor: 2, seed: 1, pool: pool)
        #expect(checks.count == model.parameters.count)
        for check in checks {
            #expect(
                check.maxError < 0.05,
                """
                \(check.name)[\(check.worstCoordinate)]: analytic \(check.analytic), \
                numeric \(check.numeric), error \(check.maxError) relative to \(check.scale)
                """)
        }
    }

    @Test func parametersRestoredAfterCheck() {
        let model = smallModelOnRandomBatch(seed: 6)
        let pool = ThreadPool(threads: 2)
        let before = model.parameters.map { $0.value.toArray() }
        let analytic = GradientCheck.analyticGradients(of: model, pool: pool)
        _ = GradientCheck.compare(
            model, analytic: analytic, step: 1e-3, samplesPerTensor: 1, seed: 1, pool: pool)
        for (parameter, values) in zip(model.parameters, before) {
            #expect(parameter.value.toArray() == values, "\(parameter.name) changed")
        }
    }

    @Test func wrongGradientDetected() throws {
        let model = smallModelOnRandomBatch(seed: 5)
        let pool = ThreadPool(threads: 2)
        let analytic = GradientCheck.analyticGradients(of: model, pool: pool)
        let index = try #require(model.parameters.firstIndex { $0.name == "layer1.0.conv2.weight" })
        // A gradient 20% too large at its largest coordinate, as a missing or doubled term
        // in the backward pass would give.
        let gradient = analytic[index]
        var largest = 0
        for i in 0..<gradient.count where abs(gradient[i]) > abs(gradient[largest]) {
            largest = i
        }
        gradient[largest] *= 1.2
        let checks = GradientCheck.compare(
            model, analytic: analytic, step: 1e-3, samplesPerTensor: 0, seed: 1, pool: pool)
        let check = try #require(checks.first { $0.name == "layer1.0.conv2.weight" })
        #expect(check.worstCoordinate == largest)
        #expect(check.maxError > 0.15, "error \(check.maxError), expected about 0.2")
    }
}
