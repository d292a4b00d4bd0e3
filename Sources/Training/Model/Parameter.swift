import Foundation
import Engine

/// A trainable tensor with its gradient and its SGD momentum buffer, all of one shape.
public final class Parameter: @unchecked Sendable {
    /// torchvision's state-dict name, such as `layer1.0.conv1.weight`.
    public let name: String
    public let value: Tensor
    /// dL/dvalue of the current iteration; every backward pass overwrites it.
    public let gradient: Tensor
    public let momentumBuffer: Tensor

    public init(name: String, shape: [Int]) {
        self.name = name
        self.value = Tensor(shape: shape)
        self.gradient = Tensor(shape: shape)
        self.momentumBuffer = Tensor(shape: shape)
    }
}

/// Fills `tensor` with Kaiming-normal values for a convolution or linear weight whose
/// first dimension is the output channels, as torchvision's ResNet does:
/// `kaiming_normal_(mode="fan_out", nonlinearity="relu")`, so std = sqrt(2 / fan_out)
/// with fan_out = outChannels * kernelHeight * kernelWidth.
func fillKaimingNormalFanOut<G: RandomNumberGenerator>(_ tensor: Tensor, using generator: inout G) {
    let fanOut = tensor.shape[0] * tensor.shape.dropFirst(2).reduce(1, *)
    let std = (2.0 / Double(fanOut)).squareRoot()
    fillNormal(tensor, std: std, using: &generator)
}

/// Fills `tensor` with N(0, std^2) samples drawn by the Box-Muller transform.
func fillNormal<G: RandomNumberGenerator>(_ tensor: Tensor, std: Double, using generator: inout G) {
    var i = 0
    while i < tensor.count {
        // 1 - u keeps the logarithm's argument in (0, 1].
        let u1 = 1.0 - Double.random(in: 0..<1, using: &generator)
        let u2 = Double.random(in: 0..<1, using: &generator)
        let radius = (-2.0 * Foundation.log(u1)).squareRoot()
        tensor[i] = Float(radius * Foundation.cos(2 * Double.pi * u2) * std)
        if i + 1 < tensor.count {
            tensor[i + 1] = Float(radius * Foundation.sin(2 * Double.pi * u2) * std)
        }
        i += 2
    }
}

/// Fills `tensor` with U(-bound, bound) samples, as PyTorch's default `nn.Linear` init
/// (bound = 1 / sqrt(fan_in) for both weight and bias).
func fillUniform<G: RandomNumberGenerator>(_ tensor: Tensor, bound: Double, using generator: inout G) {
    for i in 0..<tensor.count {
        tensor[i] = Float(Double.random(in: -bound..<bound, using: &generator))
    }
}
