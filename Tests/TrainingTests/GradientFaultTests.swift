import Engine
import Testing
import Training

struct GradientFaultTests {
    static let faultyParameter = "layer1.0.conv1.weight"

    @Test func correctBackwardPassesCheck() throws {
        let (stepper, _) = StepperTests.makeStepper(seed: 21)
        stepper.runBackward()
        stepper.gradientCheck(layer: ResNet.firstBlockLayer)
        let worst = stepper.lastGradientCheck.map(\.maxError).max() ?? .nan
        #expect(worst <= GradientCheck.defaultThreshold, "worst relative error \(worst)")
        let message = try #require(stepper.snapshot.message)
        #expect(message.contains("passed"), "\(message)")
        #expect(!message.contains("FAILED"), "\(message)")
    }

    @Test func scaledGradientFailsCheck() throws {
        let (stepper, _) = StepperTests.makeStepper(seed: 21)
        stepper.model.gradientFault = GradientFault(parameter: Self.faultyParameter, scale: 1.25)
        stepper.runBackward()
        stepper.gradientCheck(layer: ResNet.firstBlockLayer)
        let check = try #require(
            stepper.lastGradientCheck.first { $0.name == Self.faultyParameter })
        #expect(check.maxError > GradientCheck.defaultThreshold, "error \(check.maxError)")
        // The error is relative to the largest faulty gradient: 0.25 / 1.25 = 0.2.
        #expect(check.maxError > 0.15, "error \(check.maxError), expected about 0.2")
        let others = stepper.lastGradientCheck.filter { $0.name != Self.faultyParameter }
        for other in others {
            #expect(other.maxError <= GradientCheck.defaultThreshold, "\(other.name)")
        }
        let message = try #require(stepper.snapshot.message)
        #expect(message.contains("FAILED"), "\(message)")
        #expect(message.contains(Self.faultyParameter), "\(message)")
    }

    @Test func faultOnlyTouchesNamedGradient() {
        let (clean, _) = StepperTests.makeStepper(seed: 22)
        let (faulty, _) = StepperTests.makeStepper(seed: 22)
        faulty.model.gradientFault = GradientFault(parameter: Self.faultyParameter, scale: 2)
        clean.runBackward()
        faulty.runBackward()
        for (a, b) in zip(clean.model.parameters, faulty.model.parameters) {
            let expected =
                a.name == Self.faultyParameter
                ? a.gradient.toArray().map { $0 * 2 } : a.gradient.toArray()
            #expect(b.gradient.toArray() == expected, "\(a.name)")
        }
    }
}
