import Engine
import Foundation
import Testing
import Training

struct DepthTimeStripTests {
    static func strip(capacity: Int = 256) -> DepthTimeStrip {
        DepthTimeStrip(
            layers: [1, 2, 3], names: ["layer1.0", "layer2.0", "layer3.0"], capacity: capacity)
    }

    @Test func vanishingGradientNamesTheBlockAndKeepsItsStart() {
        var strip = Self.strip()
        let zeros: [Double?] = [0.5, 0.5, 0.5]
        strip.append(
            iteration: 1, gradients: [1.0, 1.0, 1.0], zeroFractions: zeros,
            gammaDrift: [0, 0, 0])
        #expect(strip.alarms.isEmpty)
        strip.append(
            iteration: 2, gradients: [2e-4, 0.5, 1.0], zeroFractions: zeros,
            gammaDrift: [0, 0, 0])
        strip.append(
            iteration: 3, gradients: [1e-4, 0.5, 1.0], zeroFractions: zeros,
            gammaDrift: [0, 0, 0])
        #expect(strip.alarms.count == 1)
        let alarm = strip.alarms[0]
        #expect(alarm.kind == .vanishing)
        #expect(alarm.name == "layer1.0")
        #expect(alarm.since == 2)
        #expect(abs(alarm.value - 1e-4) < 1e-12)
        #expect(alarm.text.hasPrefix("vanishing gradient at layer1.0: |dL/dx| 1.0e-04×"))
        #expect(alarm.text.hasSuffix("since iteration 2"))
        strip.append(
            iteration: 4, gradients: [0.1, 0.5, 1.0], zeroFractions: zeros,
            gammaDrift: [0, 0, 0])
        #expect(strip.alarms.isEmpty)
    }

    @Test func explodingGradientAndDeadReLUAreReported() {
        var strip = Self.strip()
        strip.append(
            iteration: 1, gradients: [5e3, 2.0, 1.0], zeroFractions: [0.5, 0.99, 0.5],
            gammaDrift: [0, 0, 0])
        #expect(strip.alarms.map(\.kind) == [.exploding, .deadReLU])
        #expect(strip.alarms.map(\.name) == ["layer1.0", "layer2.0"])
        #expect(strip.headline?.kind == .exploding)
        // Exactly at the thresholds nothing is raised.
        strip.append(
            iteration: 2, gradients: [1e3, 1e-3, 1.0], zeroFractions: [0.5, 0.5, 0.5],
            gammaDrift: [0, 0, 0])
        #expect(strip.alarms.isEmpty)
    }

    @Test func fullStripMergesColumnsInPairs() {
        var strip = Self.strip(capacity: 4)
        for iteration in 1...5 {
            strip.append(
                iteration: iteration,
                gradients: [pow(10, Double(iteration)), 1, 1], zeroFractions: [0, 0, 0],
                gammaDrift: [Double(iteration), 0, 0])
        }
        // Five columns overflow four: pairs (1,2) (3,4) and 5 alone, two iterations each.
        #expect(strip.iterationsPerColumn == 2)
        #expect(strip.columns.count == 3)
        #expect(strip.columns.map(\.firstIteration) == [1, 3, 5])
        #expect(strip.columns[0].logGradient[0] == 1.5)
        #expect(strip.columns[1].gammaDrift[0] == 3.5)
        // The sixth iteration fills the last column instead of starting a new one.
        strip.append(
            iteration: 6, gradients: [1e6, 1, 1], zeroFractions: [0, 0, 0],
            gammaDrift: [6, 0, 0])
        #expect(strip.columns.count == 3)
        #expect(strip.columns[2].lastIteration == 6)
        #expect(strip.columns[2].logGradient[0] == 5.5)
        #expect(strip.columns.map(\.count).reduce(0, +) == 6)
    }

    @Test func missingGradientIsDrawnAsMissing() {
        var strip = Self.strip()
        strip.append(
            iteration: 1, gradients: [nil, 0, .infinity], zeroFractions: [nil, nil, nil],
            gammaDrift: [0, 0, 0])
        #expect(strip.columns[0].logGradient.allSatisfy { $0.isNaN })
        #expect(strip.alarms.isEmpty)
        // A zero gradient below a finite one is as vanished as it gets.
        strip.append(
            iteration: 2, gradients: [0, 0.5, 1.0], zeroFractions: [nil, nil, nil],
            gammaDrift: [0, 0, 0])
        #expect(strip.alarms.map(\.kind) == [.vanishing])
    }

    /// The stepper fills one column per finished iteration from the same numbers it shows
    /// in the gradient panel, and a reset clears the strip.
    @Test func stepperRecordsEveryBlockEachIteration() throws {
        let (stepper, _) = StepperTests.makeStepper()
        stepper.runBackward()
        let gradients = stepper.snapshot.gradients
        let activations = stepper.snapshot.activations
        stepper.finishIteration()
        let strip = try #require(stepper.snapshot.depthStrip)
        let blocks = stepper.snapshot.layers.indices.filter {
            stepper.snapshot.layers[$0].kind == .block
        }
        #expect(strip.layers == blocks)
        #expect(strip.columns.count == 1)
        for (row, layer) in blocks.enumerated() {
            let norm = try #require(gradients[layer]?.input)
            let expected = Float(log10(norm))
            #expect(strip.columns[0].logGradient[row] == expected)
            let zero = try #require(activations[layer]?.zeroFraction)
            #expect(strip.columns[0].zeroFraction[row] == Float(zero))
            // One SGD step moved every batch-norm scale a little.
            #expect(strip.columns[0].gammaDrift[row] > 0)
        }
        stepper.finishIteration()
        #expect(stepper.snapshot.depthStrip?.columns.count == 2)
        stepper.resetWeights()
        #expect(stepper.snapshot.depthStrip?.columns.isEmpty == true)
    }
}
