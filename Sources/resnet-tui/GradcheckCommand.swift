import Foundation
import Training

let gradcheckCommand = CommandDescription(
    name: "gradcheck",
    summary: """
        Checks the backward pass against finite differences of the loss. Builds the model
        for one batch of 4 random normal images of 3x8x8 (or of --data, if given), computes
        every parameter gradient, and compares it with central differences of the loss at a
        few coordinates of each parameter tensor: the largest gradient and --samples random
        ones. The error of a coordinate is |numeric - analytic| divided by the largest
        |gradient| of its tensor, for the best of seven steps from 10 * --step to
        --step / 100, because in Float arithmetic small steps are noisy and large ones cross
        ReLU kinks. Prints the worst error per layer and exits with 1 when one exceeds
        --threshold.
        """,
    usage: "resnet-tui gradcheck [--model M] [--samples K] [--threshold T] [options]",
    flags: commonFlags.filter {
        !["data", "lr", "momentum", "weight-decay", "batch", "model", "input"].contains($0.name)
    } + [
        FlagSpec(
            name: "data", takesValue: true,
            help: "take the batch from this data set, as train does (default: random normal "
                + "images)"),
        FlagSpec(name: "model", takesValue: true, help: "network to check (default resnet8)"),
        FlagSpec(
            name: "load", takesValue: true,
            help: "check a checkpoint's weights instead of freshly drawn ones"),
    ] + modelFlags + [
        FlagSpec(name: "batch", takesValue: true, help: "images in the batch (default 4)"),
        FlagSpec(
            name: "input", takesValue: true,
            help: "size of the images: channels, height, width (default 3,8,8)"),
        FlagSpec(
            name: "step", takesValue: true,
            help: "base finite-difference step; steps from 10x to 1/100 of it are tried "
                + "(default 0.001)"),
        FlagSpec(
            name: "samples", takesValue: true,
            help: "random coordinates checked per tensor, besides its largest gradient "
                + "(default 6)"),
        FlagSpec(
            name: "threshold", takesValue: true,
            help: "largest accepted error, relative to each tensor's largest gradient "
                + "(default 0.05)"),
    ],
    notes: """
        Example:
          resnet-tui gradcheck --model resnet8 --input 1,12,12 --batch 8
        """)

func runGradcheck(_ parsed: ParsedArguments) throws {
    let step = try parsed.double("step", default: 1e-3, range: 1e-6...1)
    let samples = try parsed.int("samples", default: 6, range: 0...1_000_000)
    // Measured on resnet8 with random batches (seeds 0 to 2, 4 images of 3x8x8 and 16 of
    // 2x12x12): the worst errors were 2e-3 to 1.5e-2. The gradients of one such model
    // agreed with a float64 PyTorch reference to 2e-6, so these errors come from the finite
    // differences. A wrong gradient term is usually off by far more.
    let threshold = try parsed.double("threshold", default: 0.05, range: 0...1e6)
    let seed = UInt64(try parsed.int("seed", default: 0, range: 0...Int.max))

    // Each coordinate costs fourteen forward passes (seven steps, two signs each), so the
    // model stays small unless the command line sets otherwise: 4 images and, for the
    // built-in data, 3x8x8.
    var defaults = ["--batch", "4", "--model", "resnet8"]
    if parsed.string("data", default: "shapes") == "shapes" {
        defaults += ["--input", "3,8,8"]
    }
    let effective = try ParsedArguments(defaults + parsed.arguments, specs: gradcheckCommand.flags)
    let (stepper, data) = try makeTrainingRun(effective)
    let model = stepper.model
    stepper.advance()  // Loads one batch into the model.
    let randomBatch = parsed.values["data"] == nil
    if randomBatch {
        fillRandomBatch(model, seed: seed)
    }

    let analytic = GradientCheck.analyticGradients(of: model, pool: stepper.pool)
    let checks = GradientCheck.compare(
        model, analytic: analytic, step: Float(step), samplesPerTensor: samples, seed: seed,
        pool: stepper.pool)

    printLine(
        "gradcheck \(model.config.name) on \(randomBatch ? "random" : stepper.data.name) "
            + "\(data.channels)x\(data.height)x\(data.width) images, batch \(model.batchSize), "
            + "step \(step), \(samples) random coordinates per tensor plus the largest")
    let nameWidth = max(stepper.snapshot.layers.map(\.name.count).max() ?? 0, 5)
    printLine(
        "layer".padding(toLength: nameWidth + 2, withPad: " ", startingAt: 0)
            + "tensors  coordinates  worst error  tensor")
    let byName = Dictionary(uniqueKeysWithValues: checks.map { ($0.name, $0) })
    var rows = groupParametersByLayer(stepper).enumerated().map { layer, parameters in
        (stepper.snapshot.layers[layer].name, parameters.compactMap { byName[$0.name] })
    }
    // Parameters that no layer's name prefix claims still count, in a row of their own.
    let grouped = Set(rows.flatMap { $0.1.map(\.name) })
    rows.append(("other", checks.filter { !grouped.contains($0.name) }))
    for (name, layerChecks) in rows where !layerChecks.isEmpty {
        // A NaN error sorts last, so it is the layer's worst.
        let layerWorst = layerChecks.max { !($0.maxError.isNaN || $0.maxError >= $1.maxError) }!
        let coordinates = layerChecks.reduce(0) { $0 + $1.coordinates.count }
        printLine(
            name.padding(toLength: nameWidth + 2, withPad: " ", startingAt: 0)
                + String(
                    format: "%7d  %11d  %11.2e  ", layerChecks.count, coordinates,
                    layerWorst.maxError)
                + "\(layerWorst.name)[\(layerWorst.worstCoordinate)]: analytic "
                + String(
                    format: "%.6e numeric %.6e (step %.0e)", layerWorst.analytic,
                    layerWorst.numeric, layerWorst.step))
    }
    // A NaN error, from a loss that is not finite, fails the check.
    let worst = checks.map(\.maxError).max { !($0.isNaN || $0 >= $1) } ?? 0
    let passed = worst <= threshold
    printLine(
        String(format: "worst error %.2e, threshold %.2e: ", worst, threshold)
            + (passed ? "passed" : "FAILED"))
    if !passed {
        throw TrainingFailure(
            description: String(format: "gradient check failed: worst error %.2e ", worst)
                + String(format: "exceeds the threshold %.2e", threshold))
    }
}

/// Replaces the model's batch with standard normal pixels and uniform labels drawn from
/// `seed`. Generated images such as `shapes` repeat pixel values (flat backgrounds,
/// clipping at 0 and 1), so many ReLU inputs are equal and cross zero together within a
/// step of 1e-4. Finite differences across such a kink measure a slope the gradient does
/// not have; continuous random pixels make such ties unlikely.
func fillRandomBatch(_ model: ResNet, seed: UInt64) {
    var generator = SeededGenerator(seed: seed, stream: 0x6772_6164)
    for i in 0..<model.images.count {
        // Box-Muller: 1 - u keeps the logarithm's argument in (0, 1].
        let u1 = 1 - Double(generator.nextUnitFloat())
        let u2 = Double(generator.nextUnitFloat())
        model.images[i] = Float((-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2))
    }
    let classes = model.config.classCount
    for i in model.labels.indices {
        model.labels[i] = Int32(generator.nextInt(below: classes))
    }
}
