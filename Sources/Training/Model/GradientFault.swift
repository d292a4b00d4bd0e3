/// A deliberate error in the backward pass, for testing that a gradient check notices a
/// wrong gradient. Set `ResNet.gradientFault` to one; training code never sets it.
public struct GradientFault: Sendable, Equatable {
    /// State-dict name of the parameter whose gradient is wrong, such as
    /// `layer1.0.conv1.weight`.
    public var parameter: String
    /// Factor that multiplies every element of that gradient after the backward pass has
    /// computed it. The gradient check divides by the tensor's largest analytic gradient,
    /// so a factor f gives a relative error of about |f - 1| / f: 0.2 for 1.25, well above
    /// the 0.05 that float rounding and ReLU kinks reach, but 0.01 for 1.01, which the
    /// check cannot tell from that noise.
    public var scale: Float

    public init(parameter: String, scale: Float) {
        self.parameter = parameter
        self.scale = scale
    }
}

extension ResNet {
    /// Scales the gradient that `gradientFault` names if it belongs to `layer`, and returns
    /// whether it did.
    func applyGradientFault(layer: Int) -> Bool {
        guard let fault = gradientFault else { return false }
        guard
            let parameter = parameters(ofLayer: layer).first(where: { $0.name == fault.parameter })
        else { return false }
        let gradient = parameter.gradient
        for index in 0..<gradient.count {
            gradient[index] *= fault.scale
        }
        return true
    }
}
