/// A dense Float32 tensor in row-major order. Image tensors use the NCHW layout
/// (batch, channels, height, width), matching PyTorch's default.
///
/// A tensor owns its storage and is a reference type, so layers can hand the same buffer
/// to the forward pass, the backward pass and the probes without copying. Kernels write
/// into tensors that the caller allocated once, which keeps allocation out of a training
/// step.
public final class Tensor: @unchecked Sendable {
    public let shape: [Int]
    public let count: Int
    public let data: UnsafeMutablePointer<Float>

    /// Creates a zero-filled tensor.
    public init(shape: [Int]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in shape \(shape)")
        self.shape = shape
        self.count = shape.reduce(1, *)
        // 64-byte alignment lets AVX-512 loads of whole cache lines stay aligned.
        let raw = UnsafeMutableRawPointer.allocate(
            byteCount: max(count, 1) * MemoryLayout<Float>.stride, alignment: 64)
        self.data = raw.bindMemory(to: Float.self, capacity: max(count, 1))
        data.initialize(repeating: 0, count: max(count, 1))
    }

    /// Creates a tensor holding `values`, whose count must equal the product of `shape`.
    public convenience init(shape: [Int], values: [Float]) {
        self.init(shape: shape)
        precondition(values.count == count, "\(values.count) values for shape \(shape)")
        values.withUnsafeBufferPointer { data.update(from: $0.baseAddress!, count: count) }
    }

    deinit {
        data.deinitialize(count: max(count, 1))
        UnsafeMutableRawPointer(data).deallocate()
    }

    public var rank: Int { shape.count }

    public subscript(index: Int) -> Float {
        get { data[index] }
        set { data[index] = newValue }
    }

    public var buffer: UnsafeMutableBufferPointer<Float> {
        UnsafeMutableBufferPointer(start: data, count: count)
    }

    public func toArray() -> [Float] { Array(buffer) }

    public func fill(_ value: Float) { data.update(repeating: value, count: count) }

    /// Copies `other`, which must have the same number of elements.
    public func copy(from other: Tensor) {
        precondition(other.count == count, "copy of \(other.shape) into \(shape)")
        data.update(from: other.data, count: count)
    }

    public func clone() -> Tensor {
        let result = Tensor(shape: shape)
        result.copy(from: self)
        return result
    }

    /// The Euclidean norm, accumulated in Double so that large tensors keep their precision.
    /// Squares are summed in 8 Double lanes (element i goes to lane i % 8), which are added
    /// at the end, so the result is the same on every run.
    public func norm() -> Double {
        var lanes = SIMD8<Double>()
        var i = 0
        while i + 8 <= count {
            let v = SIMD8<Double>(UnsafeRawPointer(data + i).loadUnaligned(as: SIMD8<Float>.self))
            lanes.addProduct(v, v)
            i += 8
        }
        var tail = 0.0
        while i < count {
            let v = Double(data[i])
            tail += v * v
            i += 1
        }
        return (lanes.sum() + tail).squareRoot()
    }
}
