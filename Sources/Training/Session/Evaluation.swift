import Engine
import Foundation

/// Mean loss and accuracy of a model over a whole data set split.
public struct Evaluation: Sendable, Equatable {
    /// Mean softmax cross-entropy over all samples.
    public var loss: Double
    /// Fraction of samples whose first maximum logit is at the label, from 0 to 1.
    public var accuracy: Double
    public var count: Int
}

extension ResNet {
    /// Runs every sample of `dataset` through the network in inference mode, so batch norm
    /// uses its running statistics and leaves them unchanged, and returns the mean loss and
    /// the accuracy.
    ///
    /// The model's batch size is fixed, so a last partial batch is padded with copies of its
    /// first sample whose outputs are not counted. The forward pass overwrites `images` and
    /// every layer's output, so call this between training iterations only.
    public func evaluate(_ dataset: Dataset, pool: ThreadPool) -> Evaluation {
        precondition(
            dataset.channels == images.shape[1] && dataset.height == images.shape[2]
                && dataset.width == images.shape[3],
            "data set images are \(dataset.channels)x\(dataset.height)x\(dataset.width), "
                + "the model expects \(images.shape.dropFirst())")
        let sampleSize = dataset.sampleSize
        var totalLoss = 0.0
        var correct = 0
        var start = 0
        while start < dataset.count {
            let used = min(batchSize, dataset.count - start)
            dataset.images.withUnsafeBufferPointer { source in
                for slot in 0..<batchSize {
                    let sample = start + (slot < used ? slot : 0)
                    (images.data + slot * sampleSize).update(
                        from: source.baseAddress! + sample * sampleSize, count: sampleSize)
                }
            }
            for layer in 0..<layerCount {
                forward(layer: layer, training: false, pool: pool)
            }

            let logits = output(ofLayer: layerCount - 1)
            let classes = logits.shape[1]
            for slot in 0..<used {
                let row = logits.data + slot * classes
                let label = Int(dataset.labels[start + slot])
                var maxIndex = 0
                for j in 1..<classes where row[j] > row[maxIndex] {
                    maxIndex = j
                }
                // Subtracting the row maximum keeps exp finite for large logits.
                let maxLogit = Double(row[maxIndex])
                var sumExp = 0.0
                for j in 0..<classes {
                    sumExp += Foundation.exp(Double(row[j]) - maxLogit)
                }
                totalLoss += maxLogit + Foundation.log(sumExp) - Double(row[label])
                if maxIndex == label { correct += 1 }
            }
            start += used
        }
        let count = max(dataset.count, 1)
        return Evaluation(
            loss: totalLoss / Double(count), accuracy: Double(correct) / Double(count),
            count: dataset.count)
    }
}
