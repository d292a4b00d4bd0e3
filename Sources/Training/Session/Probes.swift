import Engine

extension ActivationStats {
    /// Computes the statistics of every element of `tensor`. Sums run in Double, so the
    /// mean and std of a few million Float values keep about 12 significant digits.
    /// Non-finite values are left out of the histogram but still reach mean, min and max.
    public init(of tensor: Tensor) {
        let count = tensor.count
        var sum = 0.0
        var sumSquares = 0.0
        var minimum = Double.infinity
        var maximum = -Double.infinity
        var zeros = 0
        for i in 0..<count {
            let v = Double(tensor[i])
            sum += v
            sumSquares += v * v
            minimum = Swift.min(minimum, v)
            maximum = Swift.max(maximum, v)
            if v == 0 { zeros += 1 }
        }
        let n = Double(Swift.max(count, 1))
        let mean = sum / n
        let variance = Swift.max(sumSquares / n - mean * mean, 0)
        var histogram = Array(repeating: 0, count: Self.histogramBins)
        let span = maximum - minimum
        if count > 0 && span.isFinite {
            let scale = span > 0 ? Double(Self.histogramBins) / span : 0
            for i in 0..<count {
                let v = Double(tensor[i])
                guard v.isFinite else { continue }
                let bin = Swift.min(Int((v - minimum) * scale), Self.histogramBins - 1)
                histogram[bin] += 1
            }
        }
        self.init(
            mean: mean, std: variance.squareRoot(), min: count > 0 ? minimum : 0,
            max: count > 0 ? maximum : 0, zeroFraction: Double(zeros) / n, histogram: histogram)
    }
}

extension FeatureMap {
    /// Copies one channel of one sample out of an NCHW `tensor`. A rank-2 tensor (N, C),
    /// such as the pooled features or the logits, becomes a one-row map of its C values.
    /// `sample` and `channel` are clamped to the tensor's size, so the map's own `sample`
    /// and `channel` record what was taken. Returns nil for an empty tensor or another rank.
    public init?(of tensor: Tensor, layer: Int, sample: Int, channel: Int) {
        let shape = tensor.shape
        guard shape.allSatisfy({ $0 > 0 }) else { return nil }
        let n = Swift.min(Swift.max(sample, 0), shape[0] - 1)
        switch shape.count {
        case 4:
            let c = Swift.min(Swift.max(channel, 0), shape[1] - 1)
            let plane = shape[2] * shape[3]
            let start = (n * shape[1] + c) * plane
            let values = (0..<plane).map { tensor[start + $0] }
            self.init(
                layer: layer, sample: n, channel: c, height: shape[2], width: shape[3],
                values: values)
        case 2:
            let start = n * shape[1]
            let values = (0..<shape[1]).map { tensor[start + $0] }
            self.init(
                layer: layer, sample: n, channel: 0, height: 1, width: shape[1], values: values)
        default:
            return nil
        }
    }
}
