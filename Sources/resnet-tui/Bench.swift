import Engine
import Foundation
import Training

#if canImport(Glibc)
    import Glibc
#endif

/// `resnet-tui bench`: measures the FMA peak, times the convolution kernels of resnet20 and
/// whole training steps (forward, loss, backward, SGD) of resnet20 and a tiny model on
/// synthetic data.
///
/// Every time is the median of `--iterations` runs after `--warmup` runs, in wall time and
/// in CPU time of the whole process. The output is CSV-like text: lines starting with
/// `peak,`, `kernel,`, `step,` and `memory,`. `scripts/bench-pytorch.py` parses the `step,`
/// lines.
func runBench(_ arguments: [String]) throws {
    let parsed = try ParsedArguments(
        arguments,
        specs: [
            FlagSpec(name: "iterations", takesValue: true, help: ""),
            FlagSpec(name: "warmup", takesValue: true, help: ""),
            FlagSpec(name: "threads", takesValue: true, help: ""),
            FlagSpec(name: "only", takesValue: true, help: ""),
            FlagSpec(name: "no-kernels", takesValue: false, help: ""),
            FlagSpec(name: "no-steps", takesValue: false, help: ""),
            FlagSpec(name: "help", takesValue: false, help: ""),
        ])
    if parsed.has("help") {
        print(benchUsage, terminator: "")
        return
    }
    let iterations = try parsed.int("iterations", default: 20, range: 1...100_000)
    let warmup = try parsed.int("warmup", default: 3, range: 0...100_000)
    let kernelThreads = try parsed.int("threads", default: 2, range: 1...256)
    var configs = BenchConfig.standard
    if let only = parsed.values["only"] {
        let names = only.split(separator: ",").map(String.init)
        for name in names where !configs.contains(where: { $0.name == name }) {
            let known = configs.map(\.name).joined(separator: ", ")
            throw UsageError(description: "unknown bench configuration '\(name)'; known: \(known)")
        }
        configs = configs.filter { names.contains($0.name) }
    }

    if !parsed.has("no-kernels") {
        print("peak,threads,wall_gflops,per_core_gflops")
        for threads in [1, 2] {
            let rate = PeakProbe.measure(threads: threads)
            print(
                "peak,\(threads)," + String(format: "%.1f", rate.wallGflops) + ","
                    + String(format: "%.1f", rate.perCoreGflops))
        }
        benchKernels(threads: kernelThreads, iterations: iterations, warmup: warmup)
    }
    if !parsed.has("no-steps") {
        print("step,config,model,batch,threads,median_ms,min_ms,images_per_s,cpu_ms")
        for config in configs {
            let times = benchSteps(config, iterations: iterations, warmup: warmup)
            print(
                "step,\(config.name),\(config.model.rawValue),\(config.batch),\(config.threads),"
                    + format(times.median * 1e3) + "," + format(times.minimum * 1e3) + ","
                    + String(format: "%.0f", Double(config.batch) / times.median) + ","
                    + format(times.cpuMedian * 1e3))
        }
    }
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    // Linux reports ru_maxrss in KiB.
    print("memory,peak_rss_mib," + format(Double(usage.ru_maxrss) / 1024))
}

private let benchUsage = """
    Usage: resnet-tui bench [options]

    Measures the FMA peak, and times resnet20's convolution kernels and whole training steps
    on synthetic data, in wall time and in CPU time summed over all threads.

    Options:
      --iterations N   timed runs per measurement; the median is reported (default 20)
      --warmup N       untimed runs before each measurement (default 3)
      --threads N      threads for the per-kernel table (default 2)
      --only LIST      comma-separated step configurations to run, such as
                       resnet20-b128-t2,tiny-b32-t2 (default: all five)
      --no-kernels     skip the peak probe and the per-kernel table
      --no-steps       skip the training-step table

    """

private func format(_ value: Double) -> String { String(format: "%.3f", value) }

/// Median and minimum of timed runs, in seconds, and the median CPU time of the whole
/// process per run (all threads, including the pool's polling).
struct BenchTimes {
    var median: Double
    var minimum: Double
    var cpuMedian: Double
}

/// Returns the CPU time that all threads of the process have used, in seconds.
func processCPUSeconds() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
}

private func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    let middle = sorted.count / 2
    return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
}

/// Runs `body` `warmup` times, then `iterations` times under the clock.
func measure(iterations: Int, warmup: Int, _ body: () -> Void) -> BenchTimes {
    for _ in 0..<warmup { body() }
    var samples: [Double] = []
    var cpuSamples: [Double] = []
    samples.reserveCapacity(iterations)
    cpuSamples.reserveCapacity(iterations)
    for _ in 0..<iterations {
        let cpuStart = processCPUSeconds()
        let start = DispatchTime.now().uptimeNanoseconds
        body()
        samples.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        cpuSamples.append(processCPUSeconds() - cpuStart)
    }
    return BenchTimes(
        median: median(samples), minimum: samples.min()!, cpuMedian: median(cpuSamples))
}

// MARK: Kernels

/// Prints, for each distinct convolution of resnet20 on 3x32x32 at batch 128, the time and
/// GFLOP/s of forward, input gradient and weight gradient, and how often the model runs it.
private func benchKernels(threads: Int, iterations: Int, warmup: Int) {
    let pool = ThreadPool(threads: threads)
    let batch = 128
    func geometry(_ cin: Int, _ cout: Int, _ size: Int, _ k: Int, _ s: Int) -> ConvGeometry {
        ConvGeometry(
            batch: batch, inChannels: cin, outChannels: cout, inHeight: size, inWidth: size,
            kernelSize: k, stride: s, padding: k / 2)
    }
    // (name, geometry, uses per step in resnet20)
    let layers: [(String, ConvGeometry, Int)] = [
        ("stem 3->16 32x32 3x3", geometry(3, 16, 32, 3, 1), 1),
        ("16->16 32x32 3x3", geometry(16, 16, 32, 3, 1), 6),
        ("16->32 32x32 3x3 s2", geometry(16, 32, 32, 3, 2), 1),
        ("16->32 32x32 1x1 s2", geometry(16, 32, 32, 1, 2), 1),
        ("32->32 16x16 3x3", geometry(32, 32, 16, 3, 1), 5),
        ("32->64 16x16 3x3 s2", geometry(32, 64, 16, 3, 2), 1),
        ("32->64 16x16 1x1 s2", geometry(32, 64, 16, 1, 2), 1),
        ("64->64 8x8 3x3", geometry(64, 64, 8, 3, 1), 5),
    ]
    print("# conv kernels of resnet20, 3x32x32, batch \(batch), \(threads) thread(s)")
    print(
        "kernel,layer,uses,forward_ms,forward_gflops,input_grad_ms,input_grad_gflops,"
            + "weight_grad_ms,weight_grad_gflops,forward_cpu_ms,input_grad_cpu_ms,"
            + "weight_grad_cpu_ms")
    var generator = SeededGenerator(seed: 7)
    var totalMs = 0.0
    for (name, g, uses) in layers {
        let input = randomTensor(g.inputShape, &generator)
        let weight = randomTensor(g.weightShape, &generator)
        let gradOutput = randomTensor(g.outputShape, &generator)
        let output = Tensor(shape: g.outputShape)
        let gradInput = Tensor(shape: g.inputShape)
        let gradWeight = Tensor(shape: g.weightShape)
        let kernel = Conv2dKernel(geometry: g)
        let forward = measure(iterations: iterations, warmup: warmup) {
            kernel.forward(output: output, input: input, weight: weight, bias: nil, pool: pool)
        }
        let inputGrad = measure(iterations: iterations, warmup: warmup) {
            kernel.backwardInput(
                gradInput: gradInput, gradOutput: gradOutput, weight: weight, pool: pool)
        }
        let weightGrad = measure(iterations: iterations, warmup: warmup) {
            kernel.backwardWeight(
                gradWeight: gradWeight, gradBias: nil, gradOutput: gradOutput, input: input,
                pool: pool)
        }
        let flops = Double(g.forwardFlops)
        print(
            "kernel,\(name),\(uses)," + format(forward.median * 1e3) + ","
                + String(format: "%.1f", flops / forward.median / 1e9) + ","
                + format(inputGrad.median * 1e3) + ","
                + String(format: "%.1f", flops / inputGrad.median / 1e9) + ","
                + format(weightGrad.median * 1e3) + ","
                + String(format: "%.1f", flops / weightGrad.median / 1e9) + ","
                + format(forward.cpuMedian * 1e3) + "," + format(inputGrad.cpuMedian * 1e3) + ","
                + format(weightGrad.cpuMedian * 1e3))
        totalMs += Double(uses) * (forward.median + inputGrad.median + weightGrad.median) * 1e3
    }
    print(
        "kernel_total,conv ms per step (uses x (forward + input grad + weight grad)),"
            + format(totalMs))
}

private func randomTensor(_ shape: [Int], _ generator: inout SeededGenerator) -> Tensor {
    let tensor = Tensor(shape: shape)
    for i in 0..<tensor.count {
        tensor[i] = Float(Double.random(in: -1..<1, using: &generator))
    }
    return tensor
}

// MARK: Training steps

/// One row of the step table: a model, a batch size and a thread count.
struct BenchConfig {
    enum Model: String {
        /// resnet20 on 3x32x32 inputs.
        case resnet20
        /// A stem 1->8 and three basic blocks of 8 channels on 1x28x28 inputs.
        case tiny
    }

    var model: Model
    var batch: Int
    var threads: Int

    var name: String { "\(model.rawValue)-b\(batch)-t\(threads)" }

    static let standard: [BenchConfig] = [
        BenchConfig(model: .resnet20, batch: 128, threads: 2),
        BenchConfig(model: .resnet20, batch: 32, threads: 2),
        BenchConfig(model: .resnet20, batch: 128, threads: 1),
        BenchConfig(model: .tiny, batch: 32, threads: 2),
        BenchConfig(model: .tiny, batch: 128, threads: 2),
    ]
}

/// A model the step benchmark can train on fixed synthetic data.
protocol BenchModel {
    func step(pool: ThreadPool)
}

private func benchSteps(_ config: BenchConfig, iterations: Int, warmup: Int) -> BenchTimes {
    let pool = ThreadPool(threads: config.threads)
    let model: BenchModel =
        switch config.model {
        case .resnet20: ResNetBenchModel(batch: config.batch)
        case .tiny: TinyBenchModel(batch: config.batch)
        }
    return measure(iterations: iterations, warmup: warmup) { model.step(pool: pool) }
}

/// Fills images with U(-1, 1) and labels with 0..<10, from a fixed seed.
private func fillSynthetic(images: Tensor, labels: inout [Int32], seed: UInt64) {
    var generator = SeededGenerator(seed: seed)
    for i in 0..<images.count {
        images[i] = Float(Double.random(in: -1..<1, using: &generator))
    }
    for i in labels.indices {
        labels[i] = Int32.random(in: 0..<10, using: &generator)
    }
}

/// resnet20 driven as the stepper drives it, without the per-layer activation statistics:
/// forward over every layer, loss, backward over every layer (which includes the model's
/// gradient norms), SGD.
private final class ResNetBenchModel: BenchModel {
    let model: ResNet

    init(batch: Int) {
        let config = ResNetConfig(
            depth: 20, inputChannels: 3, inputHeight: 32, inputWidth: 32, classCount: 10)
        model = ResNet(config: config, batchSize: batch)
        var generator = SeededGenerator(seed: 1)
        model.initialize(using: &generator)
        fillSynthetic(images: model.images, labels: &model.labels, seed: 2)
    }

    func step(pool: ThreadPool) {
        for layer in 0..<model.layerCount {
            model.forward(layer: layer, training: true, pool: pool)
        }
        _ = model.loss()
        for layer in (0..<model.layerCount).reversed() {
            _ = model.backward(layer: layer, pool: pool)
        }
        // A small learning rate keeps the weights finite over thousands of steps.
        model.update(learningRate: 0.01, momentum: 0.9, weightDecay: 5e-4, pool: pool)
    }
}

/// The tiny model: conv 3x3 1->8 + batch norm + ReLU, three basic blocks of 8 channels at
/// 28x28, global average pooling and a linear layer to 10 classes.
private final class TinyBenchModel: BenchModel {
    let stem: Conv2dKernel
    let stemWeight: Parameter
    let gamma: Parameter
    let beta: Parameter
    let runningMean: Tensor
    let runningVar: Tensor
    let savedMean: Tensor
    let savedInvStd: Tensor
    let images: Tensor
    var labels: [Int32]
    let stemConv: Tensor
    let stemNorm: Tensor
    let stemOutput: Tensor
    let blocks: [BasicBlock]
    let pooled: Tensor
    let fcWeight: Parameter
    let fcBias: Parameter
    let logits: Tensor
    let probabilities: Tensor
    let gradLogits: Tensor
    let gradPooled: Tensor
    let gradFeatures: Tensor
    let gradStemNorm: Tensor
    let gradStemConv: Tensor
    let parameters: [Parameter]

    init(batch: Int) {
        let width = 8
        let size = 28
        let geometry = ConvGeometry(
            batch: batch, inChannels: 1, outChannels: width, inHeight: size, inWidth: size,
            kernelSize: 3, stride: 1, padding: 1)
        stem = Conv2dKernel(geometry: geometry)
        stemWeight = Parameter(name: "conv1.weight", shape: geometry.weightShape)
        gamma = Parameter(name: "bn1.weight", shape: [width])
        beta = Parameter(name: "bn1.bias", shape: [width])
        runningMean = Tensor(shape: [width])
        runningVar = Tensor(shape: [width])
        savedMean = Tensor(shape: [width])
        savedInvStd = Tensor(shape: [width])
        images = Tensor(shape: geometry.inputShape)
        labels = Array(repeating: 0, count: batch)
        stemConv = Tensor(shape: geometry.outputShape)
        stemNorm = Tensor(shape: geometry.outputShape)
        stemOutput = Tensor(shape: geometry.outputShape)
        blocks = (0..<3).map { index in
            BasicBlock(
                name: "layer1.\(index)", batch: batch, inChannels: width, outChannels: width,
                height: size, width: size, stride: 1, batchNorm: true)
        }
        pooled = Tensor(shape: [batch, width])
        fcWeight = Parameter(name: "fc.weight", shape: [10, width])
        fcBias = Parameter(name: "fc.bias", shape: [10])
        logits = Tensor(shape: [batch, 10])
        probabilities = Tensor(shape: [batch, 10])
        gradLogits = Tensor(shape: [batch, 10])
        gradPooled = Tensor(shape: [batch, width])
        gradFeatures = Tensor(shape: geometry.outputShape)
        gradStemNorm = Tensor(shape: geometry.outputShape)
        gradStemConv = Tensor(shape: geometry.outputShape)
        parameters =
            [stemWeight, gamma, beta] + blocks.flatMap(\.parameters) + [fcWeight, fcBias]

        var generator = SeededGenerator(seed: 3)
        for i in 0..<stemWeight.value.count {
            stemWeight.value[i] = Float(Double.random(in: -0.5..<0.5, using: &generator))
        }
        gamma.value.fill(1)
        runningVar.fill(1)
        for block in blocks { block.initialize(using: &generator) }
        for i in 0..<fcWeight.value.count {
            fcWeight.value[i] = Float(Double.random(in: -0.3..<0.3, using: &generator))
        }
        fillSynthetic(images: images, labels: &labels, seed: 4)
    }

    func step(pool: ThreadPool) {
        stem.forward(
            output: stemConv, input: images, weight: stemWeight.value, bias: nil, pool: pool)
        BatchNorm.forwardTraining(
            output: stemNorm, input: stemConv, gamma: gamma.value, beta: beta.value,
            runningMean: runningMean, runningVar: runningVar, savedMean: savedMean,
            savedInvStd: savedInvStd, momentum: 0.1, eps: 1e-5, pool: pool)
        ReLU.forward(output: stemOutput, input: stemNorm, pool: pool)
        var features = stemOutput
        for block in blocks {
            block.forward(input: features, training: true, pool: pool)
            features = block.output
        }
        GlobalAvgPool.forward(output: pooled, input: features, pool: pool)
        Linear.forward(
            output: logits, input: pooled, weight: fcWeight.value, bias: fcBias.value, pool: pool)
        _ = SoftmaxCrossEntropy.forward(
            probabilities: probabilities, logits: logits, labels: labels)

        SoftmaxCrossEntropy.backward(
            gradLogits: gradLogits, probabilities: probabilities, labels: labels)
        Linear.backward(
            gradInput: gradPooled, gradWeight: fcWeight.gradient, gradBias: fcBias.gradient,
            gradOutput: gradLogits, input: pooled, weight: fcWeight.value, pool: pool)
        GlobalAvgPool.backward(gradInput: gradFeatures, gradOutput: gradPooled, pool: pool)
        var gradient = gradFeatures
        for index in blocks.indices.reversed() {
            let input = index == 0 ? stemOutput : blocks[index - 1].output
            blocks[index].backward(gradOutput: gradient, input: input, pool: pool)
            gradient = blocks[index].gradInput
        }
        ReLU.backward(gradInput: gradStemNorm, gradOutput: gradient, output: stemOutput, pool: pool)
        BatchNorm.backward(
            gradInput: gradStemConv, gradGamma: gamma.gradient, gradBeta: beta.gradient,
            gradOutput: gradStemNorm, input: stemConv, gamma: gamma.value, savedMean: savedMean,
            savedInvStd: savedInvStd, pool: pool)
        stem.backward(
            gradInput: nil, gradWeight: stemWeight.gradient, gradBias: nil,
            gradOutput: gradStemConv, input: images, weight: stemWeight.value, pool: pool)

        for parameter in parameters {
            SGD.step(
                parameter: parameter.value, gradient: parameter.gradient,
                momentumBuffer: parameter.momentumBuffer, learningRate: 0.01, momentum: 0.9,
                weightDecay: 5e-4, pool: pool)
        }
    }
}
