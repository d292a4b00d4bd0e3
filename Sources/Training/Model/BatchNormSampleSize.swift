/// A batch-norm layer and the number of values it normalises each channel over in a
/// training batch: the batch size times the height and width of its input.
public struct BatchNormSampleSize: Sendable, Equatable {
    /// torchvision's module name, such as `layer4.0.bn2`.
    public var name: String
    public var valuesPerChannel: Int

    public init(name: String, valuesPerChannel: Int) {
        self.name = name
        self.valuesPerChannel = valuesPerChannel
    }
}

extension ResNetConfig {
    /// Batch norm over fewer values per channel than this in training gives gradients that
    /// are mostly rounding error. With 2 values a channel's output is close to +-gamma + beta
    /// whatever its input, so the exact gradient through it is near 0 and the float32 result
    /// is mostly cancellation error. The limit is a judgment from one step of resnet50 on
    /// 3x32x32 random images and torchvision-style initial weights (three random draws, lr
    /// 0.05, PyTorch 2.13 on CPU). There the float32 update's worst tensor differed from the
    /// float64 one by 3.8 to 550 times its largest float64 value with 2 values per channel,
    /// and by 0.5 to 10 times with 3. With 4 it differed by 0.22 to 0.25 times, about as much
    /// as with 8.
    public static let minimumBatchNormValuesPerChannel = 4

    /// Returns every batch-norm layer, in torchvision's module order, with the number of
    /// values it normalises each channel over in a training batch of `batch` images.
    public func batchNormSampleSizes(batch: Int) -> [BatchNormSampleSize] {
        summaryRows.filter { $0.type == "BatchNorm2d" }.map { row in
            BatchNormSampleSize(
                name: row.name, valuesPerChannel: batch * row.inputShape.dropFirst().reduce(1, *))
        }
    }
}
