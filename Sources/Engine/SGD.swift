/// Stochastic gradient descent with momentum, as torch.optim.SGD computes it with
/// dampening 0 and nesterov false.
public enum SGD {
    /// Updates one parameter tensor in place:
    /// - `d = gradient + weightDecay * parameter`
    /// - with momentum: `momentumBuffer = momentum * momentumBuffer + d`, then
    ///   `parameter -= learningRate * momentumBuffer`
    /// - without momentum (0): `parameter -= learningRate * d`, and the buffer is untouched.
    ///
    /// The buffer must start at zero. PyTorch instead copies `d` into the buffer on the first
    /// step, which gives the same value because `momentum * 0 + d == d`.
    public static func step(
        parameter: Tensor, gradient: Tensor, momentumBuffer: Tensor,
        learningRate: Float, momentum: Float, weightDecay: Float, pool: ThreadPool
    ) {
        checkShape(gradient, parameter.shape, "gradient")
        checkShape(momentumBuffer, parameter.shape, "momentumBuffer")
        let p = parameter.data
        let g = gradient.data
        let buffer = momentumBuffer.data
        pool.parallelElements(parameter.count) { range in
            for i in range {
                let d = g[i] + weightDecay * p[i]
                if momentum != 0 {
                    buffer[i] = momentum * buffer[i] + d
                    p[i] = p[i] + -learningRate * buffer[i]
                } else {
                    p[i] = p[i] + -learningRate * d
                }
            }
        }
    }
}
