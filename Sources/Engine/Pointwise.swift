/// Element-wise kernels. Each output element depends only on the same element of the inputs,
/// so any split over elements gives the same bits.

/// The rectified linear unit, y = max(0, x), as torch.relu computes it.
public enum ReLU {
    /// Writes `max(0, x)`. A NaN input stays NaN, as in torch.relu.
    public static func forward(output: Tensor, input: Tensor, pool: ThreadPool) {
        checkShape(output, input.shape, "output")
        let x = input.data
        let y = output.data
        pool.parallelElements(input.count) { range in
            var i = range.lowerBound
            while i + 16 <= range.upperBound {
                let v = loadVector16(x + i)
                // `.<` is false for NaN, so NaN lanes keep their value.
                storeVector16(v.replacing(with: 0, where: v .< 0), y + i)
                i += 16
            }
            while i < range.upperBound {
                y[i] = x[i] < 0 ? 0 : x[i]
                i += 1
            }
        }
    }

    /// Writes `gradInput = output <= 0 ? 0 : gradOutput`, the rule of PyTorch's
    /// threshold_backward applied to the ReLU output. An output of exactly 0 blocks the
    /// gradient, and a NaN output passes it, because NaN <= 0 is false.
    public static func backward(
        gradInput: Tensor, gradOutput: Tensor, output: Tensor, pool: ThreadPool
    ) {
        checkShape(gradInput, output.shape, "gradInput")
        checkShape(gradOutput, output.shape, "gradOutput")
        let y = output.data
        let dy = gradOutput.data
        let dx = gradInput.data
        pool.parallelElements(output.count) { range in
            var i = range.lowerBound
            while i + 16 <= range.upperBound {
                let blocked = loadVector16(y + i) .<= 0
                storeVector16(loadVector16(dy + i).replacing(with: 0, where: blocked), dx + i)
                i += 16
            }
            while i < range.upperBound {
                dx[i] = y[i] <= 0 ? 0 : dy[i]
                i += 1
            }
        }
    }
}

/// Element-wise arithmetic on tensors with the same number of elements, for residual sums
/// and gradient bookkeeping.
public enum Elementwise {
    /// Writes `output = a + b`. The three tensors must have the same shape; `output` may be
    /// `a` or `b`.
    public static func add(output: Tensor, _ a: Tensor, _ b: Tensor, pool: ThreadPool) {
        checkShape(a, output.shape, "a")
        checkShape(b, output.shape, "b")
        let x = a.data
        let y = b.data
        let z = output.data
        pool.parallelElements(output.count) { range in
            for i in range { z[i] = x[i] + y[i] }
        }
    }

    /// Writes `output = max(0, a + b)` in one pass: a residual sum followed by ReLU, for a
    /// block that does not keep the sum. A NaN sum stays NaN, as in `ReLU.forward`.
    public static func addReLU(output: Tensor, _ a: Tensor, _ b: Tensor, pool: ThreadPool) {
        checkShape(a, output.shape, "a")
        checkShape(b, output.shape, "b")
        let x = a.data
        let y = b.data
        let z = output.data
        pool.parallelElements(output.count) { range in
            var i = range.lowerBound
            while i + 16 <= range.upperBound {
                let sum = loadVector16(x + i) + loadVector16(y + i)
                storeVector16(sum.replacing(with: 0, where: sum .< 0), z + i)
                i += 16
            }
            while i < range.upperBound {
                let sum = x[i] + y[i]
                z[i] = sum < 0 ? 0 : sum
                i += 1
            }
        }
    }

    /// Adds `source` to `destination` in place: the one kernel that accumulates, for the
    /// place where two gradient paths meet (a residual block's skip and residual branch).
    public static func accumulate(into destination: Tensor, from source: Tensor, pool: ThreadPool) {
        checkShape(source, destination.shape, "source")
        let x = source.data
        let z = destination.data
        pool.parallelElements(destination.count) { range in
            for i in range { z[i] += x[i] }
        }
    }

    /// Multiplies every element of `tensor` by `factor` in place.
    public static func scale(_ tensor: Tensor, by factor: Float, pool: ThreadPool) {
        let z = tensor.data
        pool.parallelElements(tensor.count) { range in
            for i in range { z[i] *= factor }
        }
    }
}

@inline(__always)
func loadVector16(_ pointer: UnsafePointer<Float>) -> SIMD16<Float> {
    UnsafeRawPointer(pointer).loadUnaligned(as: SIMD16<Float>.self)
}

@inline(__always)
func loadVector16(_ pointer: UnsafeMutablePointer<Float>) -> SIMD16<Float> {
    UnsafeRawPointer(pointer).loadUnaligned(as: SIMD16<Float>.self)
}

@inline(__always)
func storeVector16(_ vector: SIMD16<Float>, _ pointer: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(pointer).storeBytes(of: vector, as: SIMD16<Float>.self)
}
