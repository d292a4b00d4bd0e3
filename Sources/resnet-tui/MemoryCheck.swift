import Foundation
import Training

/// Estimates the memory a training model of `config` needs with `batch` images, in bytes,
/// from the layer plan alone (no tensor is allocated). The model keeps about nine tensors
/// the size of each convolution's output (outputs, batch-norm results and their gradients,
/// for the UI and the backward pass), and three copies of the parameters (values, gradients,
/// momentum). The factor 9 is fitted to the peak RSS of `train --steps 1` for resnet20,
/// resnet56 and resnet110 (measured 8.1 to 8.5), so the estimate errs a little high.
func estimatedTrainingBytes(config: ResNetConfig, batch: Int) -> Double {
    var convolutionElements = 0.0
    for row in config.summaryRows where row.type == "Conv2d" {
        convolutionElements += Double(row.outputShape.reduce(1, *))
    }
    let activations = 9 * convolutionElements * Double(batch) * 4
    let parameters = 3 * Double(config.parameterCount) * 4
    return activations + parameters + 64e6
}

/// Throws a one-line error before allocating when the estimate exceeds the machine's
/// physical memory, and prints the estimate on stderr when it is over 1 GB, so a long wait
/// for allocation comes with an explanation.
func checkMemory(config: ResNetConfig, batch: Int, modelName: String) throws {
    let needed = estimatedTrainingBytes(config: config, batch: batch)
    let available = Double(ProcessInfo.processInfo.physicalMemory)
    let gigabytes = { (bytes: Double) in String(format: "%.1f GB", bytes / 1e9) }
    if needed > 0.9 * available {
        throw UsageError(
            description: "\(modelName) with batch \(batch) needs about \(gigabytes(needed)) "
                + "of memory, but this machine has \(gigabytes(available)); lower --batch "
                + "or choose a smaller model")
    }
    if needed > 1e9 {
        FileHandle.standardError.write(
            Data("building \(modelName), batch \(batch): about \(gigabytes(needed))\n".utf8))
    }
}
