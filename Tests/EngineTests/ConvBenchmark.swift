import Engine
import Foundation
import Testing

/// Prints convolution GFLOP/s for the ResNet-20 shapes. It asserts nothing and runs only
/// when ENGINE_BENCHMARK=1, because timings depend on the machine and its load.
@Test(.enabled(if: ProcessInfo.processInfo.environment["ENGINE_BENCHMARK"] == "1"))
func convBenchmark() {
    let shapes: [(String, ConvGeometry)] = [
        (
            "stem 3->16 32x32 3x3",
            ConvGeometry(
                batch: 64, inChannels: 3, outChannels: 16, inHeight: 32, inWidth: 32, kernelSize: 3,
                stride: 1, padding: 1)
        ),
        (
            "16->16 32x32 3x3",
            ConvGeometry(
                batch: 64, inChannels: 16, outChannels: 16, inHeight: 32, inWidth: 32,
                kernelSize: 3,
                stride: 1, padding: 1)
        ),
        (
            "16->32 32x32 3x3 s2",
            ConvGeometry(
                batch: 64, inChannels: 16, outChannels: 32, inHeight: 32, inWidth: 32,
                kernelSize: 3,
                stride: 2, padding: 1)
        ),
        (
            "32->32 16x16 3x3",
            ConvGeometry(
                batch: 64, inChannels: 32, outChannels: 32, inHeight: 16, inWidth: 16,
                kernelSize: 3,
                stride: 1, padding: 1)
        ),
        (
            "64->64 8x8 3x3",
            ConvGeometry(
                batch: 64, inChannels: 64, outChannels: 64, inHeight: 8, inWidth: 8, kernelSize: 3,
                stride: 1, padding: 1)
        ),
        (
            "32->64 16x16 1x1 s2",
            ConvGeometry(
                batch: 64, inChannels: 32, outChannels: 64, inHeight: 16, inWidth: 16,
                kernelSize: 1,
                stride: 2, padding: 0)
        ),
    ]
    for threads in [1, 2] {
        let pool = ThreadPool(threads: threads)
        for (name, g) in shapes {
            var generator = SeededGenerator(seed: 1)
            let input = randomTensor(g.inputShape, &generator)
            let weight = randomTensor(g.weightShape, &generator)
            let bias = randomTensor([g.outChannels], &generator)
            let upstream = randomTensor(g.outputShape, &generator)
            let output = Tensor(shape: g.outputShape)
            let gradInput = Tensor(shape: g.inputShape)
            let gradWeight = Tensor(shape: g.weightShape)
            let gradBias = Tensor(shape: [g.outChannels])
            let kernel = Conv2dKernel(geometry: g)
            let forwardSeconds = bestTime {
                kernel.forward(output: output, input: input, weight: weight, bias: bias, pool: pool)
            }
            let backwardSeconds = bestTime {
                kernel.backward(
                    gradInput: gradInput, gradWeight: gradWeight, gradBias: gradBias,
                    gradOutput: upstream, input: input, weight: weight, pool: pool)
            }
            let flops = Double(g.forwardFlops)
            print(
                String(
                    format: "%d thread(s) %-22@ forward %6.2f ms %6.1f GFLOP/s   "
                        + "backward %6.2f ms %6.1f GFLOP/s",
                    threads, name as NSString, forwardSeconds * 1e3, flops / forwardSeconds / 1e9,
                    backwardSeconds * 1e3, 2 * flops / backwardSeconds / 1e9))
        }
    }
}

/// Returns the fastest of several runs after a warm-up run, in seconds.
private func bestTime(_ body: () -> Void) -> Double {
    body()
    var best = Double.infinity
    for _ in 0..<10 {
        let start = DispatchTime.now().uptimeNanoseconds
        body()
        best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
    }
    return best
}
