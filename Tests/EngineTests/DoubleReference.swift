import Engine
import Foundation

/// Plain Double forward passes written from the textbook definitions, independent of the
/// engine code, for finite-difference gradients and forward checks.
enum DoubleReference {
    static func conv(
        _ x: [Double], _ w: [Double], _ b: [Double]?, _ g: ConvGeometry
    ) -> [Double] {
        var y = [Double](repeating: 0, count: g.outputShape.reduce(1, *))
        for n in 0..<g.batch {
            for o in 0..<g.outChannels {
                for oy in 0..<g.outHeight {
                    for ox in 0..<g.outWidth {
                        var sum = b?[o] ?? 0
                        for c in 0..<g.inChannels {
                            for ky in 0..<g.kernelSize {
                                for kx in 0..<g.kernelSize {
                                    let iy = oy * g.stride - g.padding + ky
                                    let ix = ox * g.stride - g.padding + kx
                                    if iy < 0 || iy >= g.inHeight || ix < 0 || ix >= g.inWidth {
                                        continue
                                    }
                                    let xi =
                                        ((n * g.inChannels + c) * g.inHeight + iy) * g.inWidth + ix
                                    let wi =
                                        ((o * g.inChannels + c) * g.kernelSize + ky) * g.kernelSize
                                        + kx
                                    sum += x[xi] * w[wi]
                                }
                            }
                        }
                        y[((n * g.outChannels + o) * g.outHeight + oy) * g.outWidth + ox] = sum
                    }
                }
            }
        }
        return y
    }

    /// Training-mode batch norm on `[N, C, spatial]`; returns the output, the batch mean and
    /// the biased batch variance.
    static func batchNormTraining(
        _ x: [Double], gamma: [Double], beta: [Double], batch: Int, channels: Int, spatial: Int,
        eps: Double
    ) -> (output: [Double], mean: [Double], variance: [Double]) {
        var y = x
        var means = [Double](repeating: 0, count: channels)
        var variances = [Double](repeating: 0, count: channels)
        let count = Double(batch * spatial)
        for c in 0..<channels {
            var values: [Double] = []
            for n in 0..<batch {
                for s in 0..<spatial { values.append(x[(n * channels + c) * spatial + s]) }
            }
            let mean = values.reduce(0, +) / count
            let variance = values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / count
            means[c] = mean
            variances[c] = variance
            for n in 0..<batch {
                for s in 0..<spatial {
                    let i = (n * channels + c) * spatial + s
                    y[i] = gamma[c] * (x[i] - mean) / (variance + eps).squareRoot() + beta[c]
                }
            }
        }
        return (y, means, variances)
    }

    static func relu(_ x: [Double]) -> [Double] { x.map { max(0, $0) } }

    static func globalAvgPool(_ x: [Double], planes: Int, planeSize: Int) -> [Double] {
        (0..<planes).map { p in
            x[(p * planeSize)..<((p + 1) * planeSize)].reduce(0, +) / Double(planeSize)
        }
    }

    static func linear(
        _ x: [Double], _ w: [Double], _ b: [Double]?, batch: Int, inFeatures: Int, outFeatures: Int
    ) -> [Double] {
        var y = [Double](repeating: 0, count: batch * outFeatures)
        for n in 0..<batch {
            for o in 0..<outFeatures {
                var sum = b?[o] ?? 0
                for i in 0..<inFeatures { sum += x[n * inFeatures + i] * w[o * inFeatures + i] }
                y[n * outFeatures + o] = sum
            }
        }
        return y
    }

    /// Returns the mean over rows of -log(softmax(row)[label]), written as log(sum(exp(row))) -
    /// row[label] with the row maximum subtracted first.
    static func softmaxCrossEntropy(_ logits: [Double], labels: [Int32], classes: Int) -> Double {
        var total = 0.0
        for n in labels.indices {
            let row = logits[(n * classes)..<((n + 1) * classes)]
            let m = row.max()!
            let logSumExp = m + log(row.map { exp($0 - m) }.reduce(0, +))
            total += logSumExp - row[n * classes + Int(labels[n])]
        }
        return total / Double(labels.count)
    }

    /// Max pooling with negative-infinity padding on `[planes, H, W]`.
    static func maxPool(
        _ x: [Double], planes: Int, height: Int, width: Int, kernelSize: Int, stride: Int,
        padding: Int
    ) -> [Double] {
        let outHeight = (height + 2 * padding - kernelSize) / stride + 1
        let outWidth = (width + 2 * padding - kernelSize) / stride + 1
        var y: [Double] = []
        for p in 0..<planes {
            for oy in 0..<outHeight {
                for ox in 0..<outWidth {
                    var best = -Double.infinity
                    for ky in 0..<kernelSize {
                        for kx in 0..<kernelSize {
                            let iy = oy * stride - padding + ky
                            let ix = ox * stride - padding + kx
                            if iy >= 0 && iy < height && ix >= 0 && ix < width {
                                best = max(best, x[(p * height + iy) * width + ix])
                            }
                        }
                    }
                    y.append(best)
                }
            }
        }
        return y
    }
}
