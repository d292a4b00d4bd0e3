import Engine
import Foundation

/// Estimates of how far one block is from the identity: the spectral norm (largest singular
/// value) of the Jacobian of the whole block, dO/dx, and of its residual branch, dF/dx, on
/// the whole batch with batch norm in training mode. A block at the identity has block
/// gain 1 and branch gain 0.
public struct BlockGain: Sendable, Equatable {
    public var layer: Int
    public var name: String
    public var blockGain: Double
    public var branchGain: Double
    /// Whether the block's skip was on when the gains were measured.
    public var skipActive: Bool
    /// Whether the skip is a projection, which keeps the block away from the identity even
    /// when its branch is zero.
    public var hasProjection: Bool

    public init(
        layer: Int, name: String, blockGain: Double, branchGain: Double, skipActive: Bool,
        hasProjection: Bool
    ) {
        self.layer = layer
        self.name = name
        self.blockGain = blockGain
        self.branchGain = branchGain
        self.skipActive = skipActive
        self.hasProjection = hasProjection
    }
}

/// Power iteration on each block's Jacobian J: v <- J^T(J v) / |J^T(J v)|, with J v from
/// central finite differences of the block's forward pass and J^T u from its backward pass.
/// The gain is |J v| for the last unit vector v, which approaches the largest singular value
/// from below.
public enum NearIdentityGauge {
    /// Per-entry size of the finite-difference step, relative to the root mean square of the
    /// block's input. Float32 rounding then adds a relative error near 1e-7 / 1e-3 = 1e-4.
    public static let relativeStep = 1e-3

    /// Measures every block on the batch in `model.images` after a fresh forward pass in
    /// training mode. Parameter gradients and batch-norm running statistics are restored
    /// afterwards and every layer's output is that of the forward pass with the current
    /// weights, so a stepper at its update phase goes on exactly as before. The block
    /// tensors of the backward pass (dL/dx and its two parts) are overwritten.
    public static func measure(
        model: ResNet, pool: ThreadPool, iterations: Int = 6, seed: UInt64 = 0
    ) -> [BlockGain] {
        let saved = SavedTrainingState(of: model)
        defer { saved.restore(into: model) }
        for layer in 0..<model.layerCount {
            model.forward(layer: layer, training: true, pool: pool)
        }
        var generator = SeededGenerator(seed: seed)
        var gains: [BlockGain] = []
        for (index, block) in model.blocks.enumerated() {
            let input = index == 0 ? model.stemOutput : model.blocks[index - 1].output
            let blockGain = powerIteration(
                block: block, input: input, branchOnly: false, iterations: iterations,
                generator: &generator, pool: pool)
            let branchGain = powerIteration(
                block: block, input: input, branchOnly: true, iterations: iterations,
                generator: &generator, pool: pool)
            // Leaves the block's output and hidden activations as the forward pass made them.
            block.forward(input: input, training: true, pool: pool)
            gains.append(
                BlockGain(
                    layer: ResNet.firstBlockLayer + index, name: block.name,
                    blockGain: blockGain, branchGain: branchGain, skipActive: block.skipEnabled,
                    hasProjection: block.hasProjection))
        }
        return gains
    }

    private static func powerIteration(
        block: ResidualBlock, input: Tensor, branchOnly: Bool, iterations: Int,
        generator: inout SeededGenerator, pool: ThreadPool
    ) -> Double {
        let count = input.count
        let direction = Tensor(shape: input.shape)
        for i in 0..<count {
            direction.data[i] = normalSample(using: &generator)
        }
        guard normalize(direction) else { return 0 }

        let inputNorm = input.norm()
        let rootMeanSquare = inputNorm / Double(count).squareRoot()
        // The direction has norm 1, so each entry is about 1/sqrt(count); the step scales it to
        // `relativeStep` of the input's typical entry.
        let step = Float(relativeStep * max(rootMeanSquare, 1e-3) * Double(count).squareRoot())
        let shifted = Tensor(shape: input.shape)
        let output = branchOnly ? block.branchOutput : block.output
        let plus = Tensor(shape: output.shape)
        let product = Tensor(shape: output.shape)
        var gain = 0.0

        for _ in 0..<max(iterations, 1) {
            // J v by central differences.
            for i in 0..<count { shifted.data[i] = input.data[i] + step * direction.data[i] }
            block.forward(input: shifted, training: true, pool: pool)
            plus.copy(from: output)
            for i in 0..<count { shifted.data[i] = input.data[i] - step * direction.data[i] }
            block.forward(input: shifted, training: true, pool: pool)
            for i in 0..<output.count {
                product.data[i] = (plus.data[i] - output.data[i]) / (2 * step)
            }
            gain = product.norm()
            guard gain > 0, gain.isFinite else { return gain.isFinite ? 0 : gain }

            // J^T u with u = J v / |J v|, from the backward pass at the unshifted input.
            let scale = Float(1 / gain)
            for i in 0..<product.count { product.data[i] *= scale }
            block.forward(input: input, training: true, pool: pool)
            let transposed: Tensor
            if branchOnly {
                block.backwardResidualPath(gradBranchOutput: product, input: input, pool: pool)
                transposed = block.gradResidual
            } else {
                block.backward(gradOutput: product, input: input, pool: pool)
                transposed = block.gradInput
            }
            direction.copy(from: transposed)
            // J^T u = 0 means v lies in the null space of J^T J after one step, so J is zero
            // along every direction this iteration can reach.
            guard normalize(direction) else { return gain }
        }
        return gain
    }

    /// Scales `tensor` to norm 1; returns false when its norm is 0 or not finite.
    private static func normalize(_ tensor: Tensor) -> Bool {
        let norm = tensor.norm()
        guard norm > 0, norm.isFinite else { return false }
        let scale = Float(1 / norm)
        for i in 0..<tensor.count { tensor.data[i] *= scale }
        return true
    }

    /// Draws a standard normal sample by the Box-Muller transform.
    private static func normalSample(using generator: inout SeededGenerator) -> Float {
        let u1 = max(Double(generator.nextUnitFloat()), 1e-12)
        let u2 = Double(generator.nextUnitFloat())
        return Float((-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2))
    }
}
