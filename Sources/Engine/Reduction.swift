/// Dot products and norms in Double over whole tensors, split across a thread pool.
///
/// The elements are cut into fixed blocks of `blockSize`. Each block is summed in 8 Double
/// lanes (element i to lane i % 8), and the block sums are added in block order, so the
/// result depends on neither the thread count nor the run. The bits can differ from
/// `Tensor.norm()`, which sums the whole tensor in one set of lanes.
public enum Reduction {
    /// Elements per block: large enough that a block outweighs the pool's per-call cost,
    /// small enough that each resnet20 block's activation gradient at batch 32 splits into
    /// 8 to 32 blocks.
    public static let blockSize = 16_384

    /// Returns the sum of `a[i] * b[i]`, accumulated in Double. The tensors must have the
    /// same number of elements.
    public static func dot(_ a: Tensor, _ b: Tensor, pool: ThreadPool) -> Double {
        precondition(a.count == b.count, "dot of \(a.shape) and \(b.shape)")
        let blockCount = (a.count + blockSize - 1) / blockSize
        if blockCount == 0 { return 0 }
        return withUnsafeTemporaryAllocation(of: Double.self, capacity: blockCount) { partial in
            let sums = partial.baseAddress!
            pool.parallelFor(blockCount) { blocks in
                for block in blocks {
                    let start = block * blockSize
                    let end = min(start + blockSize, a.count)
                    sums[block] = blockDot(a.data + start, b.data + start, count: end - start)
                }
            }
            var total = 0.0
            for block in 0..<blockCount { total += sums[block] }
            return total
        }
    }

    /// Returns the Euclidean norm of `tensor`, accumulated in Double.
    public static func norm(_ tensor: Tensor, pool: ThreadPool) -> Double {
        dot(tensor, tensor, pool: pool).squareRoot()
    }

    private static func blockDot(
        _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int
    ) -> Double {
        var lanes = SIMD8<Double>()
        var i = 0
        while i + 8 <= count {
            let x = SIMD8<Double>(UnsafeRawPointer(a + i).loadUnaligned(as: SIMD8<Float>.self))
            let y = SIMD8<Double>(UnsafeRawPointer(b + i).loadUnaligned(as: SIMD8<Float>.self))
            lanes.addProduct(x, y)
            i += 8
        }
        var tail = 0.0
        while i < count {
            tail += Double(a[i]) * Double(b[i])
            i += 1
        }
        return lanes.sum() + tail
    }
}
