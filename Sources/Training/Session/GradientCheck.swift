import Engine

/// The worst disagreement between the backward pass and finite differences over the
/// checked coordinates of one parameter tensor.
public struct TensorCheck: Sendable {
    /// State-dict name of the parameter, such as `layer1.0.conv1.weight`.
    public var name: String
    /// Flat indices into the tensor that were checked.
    public var coordinates: [Int]
    /// Max over the checked coordinates of min over the steps of |numeric - analytic| / scale.
    public var maxError: Double
    /// The coordinate with `maxError`, its two gradient values, and the step of the
    /// numeric value.
    public var worstCoordinate: Int
    public var analytic: Double
    public var numeric: Double
    public var step: Double
    /// The largest |analytic gradient| over the whole tensor, the error's denominator. A
    /// tensor whose gradient is all zeros uses 1, so the error is absolute.
    public var scale: Double
}

/// A finite-difference check of the model's parameter gradients on the batch in its
/// `images` and `labels`.
///
/// The engine computes in Float, so a central difference (L(x+h) - L(x-h)) / 2h carries
/// rounding noise that grows as h shrinks. ReLU kinks within h of the point add an error
/// that does not shrink with the noise: in a float64 reference of a resnet8 on four 3x8x8
/// `shapes` images, some differences stayed 5% of the tensor's largest gradient away from
/// the exact value for every h down to 1e-4.
/// No single step suits every coordinate, so each coordinate is tried with seven steps
/// from 10 to 1/100 times `step`, and its error is the smallest of the seven. A wrong
/// gradient is off at every step, while noise and kinks spoil only some. Errors are
/// measured relative to each tensor's largest gradient, because its small coordinates
/// carry mostly rounding noise.
public enum GradientCheck {
    /// Relative error above which a check reports a wrong gradient. On resnet8 with random
    /// batches, correct gradients gave worst errors of 2e-3 to 1.5e-2 (`gradcheck` command).
    public static let defaultThreshold = 0.05

    /// Runs the forward pass in training mode and returns the mean loss. Batch norm uses
    /// the batch's statistics, so the loss does not depend on the running statistics that
    /// this pass also updates.
    public static func loss(of model: ResNet, pool: ThreadPool) -> Double {
        for layer in 0..<model.layerCount {
            model.forward(layer: layer, training: true, pool: pool)
        }
        return model.loss().loss
    }

    /// Runs the forward and backward passes and returns a copy of every parameter's
    /// gradient, in the order of `model.parameters`.
    public static func analyticGradients(of model: ResNet, pool: ThreadPool) -> [Tensor] {
        _ = loss(of: model, pool: pool)
        for layer in (0..<model.layerCount).reversed() {
            _ = model.backward(layer: layer, pool: pool)
        }
        return model.parameters.map { $0.gradient.clone() }
    }

    /// Compares `analytic` (one tensor per parameter, as `analyticGradients` returns) with
    /// central differences of seven steps around `step` at `samplesPerTensor` coordinates of each
    /// parameter, drawn from `seed`, plus the coordinate with the largest analytic
    /// gradient. Every parameter value is restored afterwards. With `names`, only the
    /// parameters of those names are checked.
    public static func compare(
        _ model: ResNet, analytic: [Tensor], step: Float, samplesPerTensor: Int, seed: UInt64,
        pool: ThreadPool, only names: Set<String>? = nil
    ) -> [TensorCheck] {
        let parameters = model.parameters
        precondition(analytic.count == parameters.count, "one analytic gradient per parameter")
        var generator = SeededGenerator(seed: seed)
        var results: [TensorCheck] = []
        for (parameter, gradient) in zip(parameters, analytic) {
            if let names, !names.contains(parameter.name) { continue }
            let count = parameter.value.count
            var largest = 0
            var scale = 0.0
            for i in 0..<count where abs(Double(gradient[i])) > scale {
                scale = abs(Double(gradient[i]))
                largest = i
            }
            var coordinates = [largest]
            for _ in 0..<min(samplesPerTensor, count - 1) {
                coordinates.append(generator.nextInt(below: count))
            }
            if scale == 0 { scale = 1 }

            var check = TensorCheck(
                name: parameter.name, coordinates: coordinates, maxError: -1, worstCoordinate: 0,
                analytic: 0, numeric: 0, step: 0, scale: scale)
            for coordinate in coordinates {
                let expected = Double(gradient[coordinate])
                var best = (error: Double.infinity, numeric: 0.0, step: 0.0)
                for factor: Float in [10, 3, 1, 1.0 / 3, 0.1, 0.03, 0.01] {
                    let h = step * factor
                    let numeric = centralDifference(
                        model, value: parameter.value, index: coordinate, step: h, pool: pool)
                    let error = abs(numeric - expected) / scale
                    if error < best.error {
                        best = (error, numeric, Double(h))
                    }
                }
                if best.error > check.maxError {
                    check.maxError = best.error
                    check.worstCoordinate = coordinate
                    check.analytic = expected
                    check.numeric = best.numeric
                    check.step = best.step
                }
            }
            results.append(check)
        }
        return results
    }

    /// Returns the central difference of the loss in `value[index]` and restores the value.
    private static func centralDifference(
        _ model: ResNet, value: Tensor, index: Int, step: Float, pool: ThreadPool
    ) -> Double {
        let original = value[index]
        value[index] = original + step
        let plus = loss(of: model, pool: pool)
        value[index] = original - step
        let minus = loss(of: model, pool: pool)
        value[index] = original
        // The step as stored in Float, which rounding can make differ from `step`.
        let taken = Double(original + step) - Double(original - step)
        return (plus - minus) / taken
    }
}
