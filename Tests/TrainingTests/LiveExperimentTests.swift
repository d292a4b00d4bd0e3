import Engine
import Foundation
import Testing
import Training

struct LiveExperimentTests {
    @Test func batchNormExperimentBuildsCopy() throws {
        let (stepper, _) = StepperTests.makeStepper()
        stepper.startExperiment(named: "batchnorm")
        let twin = try #require(stepper.twin)
        #expect(stepper.model.config.batchNorm)
        #expect(!twin.model.config.batchNorm)
        let experiment = try #require(stepper.snapshot.experiment)
        #expect(experiment.labels == ["A batch norm", "B no batch norm"])
        #expect(experiment.comparison.first == 0)
        #expect(experiment.comparison.second == 1)
        #expect(experiment.comparison.expectation == .higher)
        #expect(experiment.verdict == nil)
    }

    @Test func plainVersusResidualTurnsSkipsOn() throws {
        let (stepper, _) = StepperTests.makeStepper()
        let blocks = stepper.snapshot.layers.indices.filter {
            stepper.snapshot.layers[$0].kind == .block
        }
        stepper.setSkip(layer: blocks[0], enabled: false)
        stepper.startExperiment(named: "plain-vs-residual")
        let twin = try #require(stepper.twin)
        for layer in blocks {
            #expect(stepper.model.skipEnabled(layer: layer), "A layer \(layer)")
            #expect(!twin.model.skipEnabled(layer: layer), "B layer \(layer)")
        }
    }

    @Test func verdictAppearsAfterMinimumSteps() throws {
        let (stepper, _) = StepperTests.makeStepper()
        stepper.startExperiment(named: "zero-init")
        for _ in 0..<(LiveExperiment.minimumSteps - 1) {
            stepper.finishIteration()
        }
        #expect(stepper.snapshot.experiment?.verdict == nil)
        #expect(stepper.snapshot.experiment?.samples[0].count == LiveExperiment.minimumSteps - 1)
        stepper.finishIteration()
        let verdict = try #require(stepper.snapshot.experiment?.verdict)
        #expect(verdict.hasPrefix("reproduced: ") || verdict.hasPrefix("not reproduced: "))
        #expect(verdict.contains("B "), "\(verdict)")
    }

    @Test func depthRejectedInUI() {
        let (stepper, _) = StepperTests.makeStepper()
        stepper.startExperiment(named: "depth")
        #expect(stepper.twin == nil)
        #expect(stepper.snapshot.experiment == nil)
        #expect(stepper.snapshot.message?.contains("run resnet-tui experiment depth") == true)
    }

    @Test func compareOffEndsExperiment() {
        let (stepper, _) = StepperTests.makeStepper()
        stepper.startExperiment(named: "zero-init")
        stepper.setComparing(false)
        // At once, so the UI does not show the experiment's row under "compare mode off".
        #expect(stepper.snapshot.experiment == nil)
        #expect(stepper.snapshot.message == "compare mode off; experiment zero-init ended")
        stepper.finishIteration()
        #expect(stepper.snapshot.experiment == nil)
    }
}
