#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Softmax followed by the mean negative log-likelihood of the labels, as
/// torch.nn.CrossEntropyLoss computes it with its default mean reduction.
///
/// Shapes: logits, probabilities and gradLogits `[N, classes]`; labels has N entries, each in
/// `0..<classes`.
public enum SoftmaxCrossEntropy {
    /// Writes the softmax of each row to `probabilities` and returns the mean loss and the
    /// number of rows whose first maximum logit is at the label.
    ///
    /// Each row's loss is `logsumexp(row) - row[label]`, with the row maximum subtracted
    /// before exponentiating and sums in Double, so logits near 1e8 give a finite loss.
    public static func forward(probabilities: Tensor, logits: Tensor, labels: [Int32]) -> (
        loss: Double, correct: Int
    ) {
        let (batch, classes) = checkedSizes(logits: logits, labels: labels)
        checkShape(probabilities, logits.shape, "probabilities")
        var totalLoss = 0.0
        var correct = 0
        for n in 0..<batch {
            let row = logits.data + n * classes
            var maxIndex = 0
            for j in 1..<classes where row[j] > row[maxIndex] {
                maxIndex = j
            }
            let maxLogit = Double(row[maxIndex])
            var sumExp = 0.0
            for j in 0..<classes {
                sumExp += exp(Double(row[j]) - maxLogit)
            }
            let label = Int(labels[n])
            totalLoss += maxLogit + log(sumExp) - Double(row[label])
            if maxIndex == label { correct += 1 }
            for j in 0..<classes {
                probabilities.data[n * classes + j] = Float(exp(Double(row[j]) - maxLogit) / sumExp)
            }
        }
        return (totalLoss / Double(batch), correct)
    }

    /// Writes `gradLogits = (probabilities - onehot(labels)) / N`, the gradient of the mean
    /// loss.
    public static func backward(gradLogits: Tensor, probabilities: Tensor, labels: [Int32]) {
        let (batch, classes) = checkedSizes(logits: probabilities, labels: labels)
        checkShape(gradLogits, probabilities.shape, "gradLogits")
        let inverseBatch = 1 / Float(batch)
        for n in 0..<batch {
            for j in 0..<classes {
                let target: Float = j == Int(labels[n]) ? 1 : 0
                gradLogits.data[n * classes + j] =
                    (probabilities.data[n * classes + j] - target) * inverseBatch
            }
        }
    }

    private static func checkedSizes(logits: Tensor, labels: [Int32]) -> (Int, Int) {
        precondition(logits.rank == 2, "logits must be [N, classes], got \(logits.shape)")
        let (batch, classes) = (logits.shape[0], logits.shape[1])
        precondition(batch > 0 && classes > 0, "logits must not be empty, got \(logits.shape)")
        precondition(labels.count == batch, "\(labels.count) labels for a batch of \(batch)")
        for label in labels {
            precondition(label >= 0 && Int(label) < classes, "label \(label) not in 0..<\(classes)")
        }
        return (batch, classes)
    }
}
