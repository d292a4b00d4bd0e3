import Foundation

/// The classes of the synthetic `shapes` data set, in label order.
public enum ShapeKind: Int, CaseIterable, Sendable {
    case disc
    case ring
    case square
    case cross
    case triangle
    case horizontalBars
    case verticalBars
    case diagonalStripes
    case checker
    case twoDots

    public var name: String {
        switch self {
        case .disc: return "disc"
        case .ring: return "ring"
        case .square: return "square"
        case .cross: return "cross"
        case .triangle: return "triangle"
        case .horizontalBars: return "horizontal bars"
        case .verticalBars: return "vertical bars"
        case .diagonalStripes: return "diagonal stripes"
        case .checker: return "checker"
        case .twoDots: return "two dots"
        }
    }
}

/// Size and seed of a generated `shapes` data set.
public struct ShapesConfiguration: Equatable, Sendable {
    public var trainCount: Int
    public var testCount: Int
    public var channels: Int
    public var height: Int
    public var width: Int
    public var seed: UInt64
    /// Half-width of the pixel noise, in units of the [0, 1] pixel range. The noise is the
    /// sum of two uniform values, so its standard deviation is noiseAmplitude / sqrt(6).
    public var noiseAmplitude: Float
    /// Number of distracting strokes drawn over every image: straight lines between random
    /// points at random intensity, which carry no information about the class.
    public var clutterStrokes: Int
    /// Lowest contrast of a shape against its background, in [0, 1]. The contrast of each
    /// sample and channel is uniform from this value to 1.
    public var minimumContrast: Float

    /// The defaults give 1x28x28 images, the size of MNIST, so the same model fits both.
    public init(
        trainCount: Int = 10_000, testCount: Int = 2_000, channels: Int = 1, height: Int = 28,
        width: Int = 28, seed: UInt64 = 0, noiseAmplitude: Float = 0.4, clutterStrokes: Int = 3,
        minimumContrast: Float = 0.4
    ) {
        precondition(trainCount >= 0 && testCount >= 0, "negative split size")
        precondition(channels > 0 && height > 0 && width > 0, "empty image size")
        self.trainCount = trainCount
        self.testCount = testCount
        self.channels = channels
        self.height = height
        self.width = width
        self.seed = seed
        self.noiseAmplitude = noiseAmplitude
        self.clutterStrokes = clutterStrokes
        self.minimumContrast = minimumContrast
    }
}

extension DataSource {
    /// Generates the synthetic `shapes` data set: ten kinds of shape (see `ShapeKind`)
    /// drawn at a random position, size, rotation, stripe phase and contrast, with
    /// `clutterStrokes` random strokes and pixel noise. With more than one channel, each channel gets its own contrast and
    /// background, so shapes have colours.
    ///
    /// The result depends only on the configuration. The two splits are drawn from separate
    /// random streams, so changing the size of one split does not change the other's raw
    /// pixels. Both splits are normalised per channel with the train split's mean and
    /// standard deviation.
    public static func shapes(_ configuration: ShapesConfiguration) -> DataSource {
        var train = ShapesRenderer.render(configuration, split: .train)
        var test = ShapesRenderer.render(configuration, split: .test)

        let planeSize = configuration.height * configuration.width
        let (means, stds) = train.pixels.withUnsafeBufferPointer {
            channelStatistics(of: $0, channels: configuration.channels, planeSize: planeSize)
        }
        train.pixels.withUnsafeMutableBufferPointer {
            normalize(
                $0, channels: configuration.channels, planeSize: planeSize, means: means,
                stds: stds)
        }
        test.pixels.withUnsafeMutableBufferPointer {
            normalize(
                $0, channels: configuration.channels, planeSize: planeSize, means: means,
                stds: stds)
        }

        let classNames = ShapeKind.allCases.map(\.name)
        func makeSplit(_ rendered: (pixels: [Float], labels: [Int32]), _ split: Dataset.Split)
            -> Dataset
        {
            Dataset(
                name: "shapes", split: split, images: rendered.pixels, labels: rendered.labels,
                channels: configuration.channels, height: configuration.height,
                width: configuration.width, classNames: classNames, channelMeans: means,
                channelStds: stds)
        }
        return DataSource(
            name: "shapes", train: makeSplit(train, .train), test: makeSplit(test, .test))
    }
}

/// Procedural drawing of the `shapes` samples, with pixel values in [0, 1].
enum ShapesRenderer {
    static func render(_ configuration: ShapesConfiguration, split: Dataset.Split) -> (
        pixels: [Float], labels: [Int32]
    ) {
        let count = split == .train ? configuration.trainCount : configuration.testCount
        // Distinct stream numbers for the two splits: bit 62 marks the test split, bit 61
        // the label shuffle, and the low bits the sample index.
        let splitTag: UInt64 = split == .train ? 0 : 1 << 62

        // Labels cycle through the classes, so each class has count / 10 samples (one more
        // for the first count % 10 classes), in a seeded random order.
        let classCount = ShapeKind.allCases.count
        var labels = (0..<count).map { Int32($0 % classCount) }
        var labelGenerator = SeededGenerator(seed: configuration.seed, stream: splitTag | 1 << 61)
        labelGenerator.shuffle(&labels)

        let sampleSize = configuration.channels * configuration.height * configuration.width
        var pixels = [Float](repeating: 0, count: count * sampleSize)
        pixels.withUnsafeMutableBufferPointer { buffer in
            for index in 0..<count {
                var generator = SeededGenerator(
                    seed: configuration.seed, stream: splitTag | UInt64(index))
                let sample = UnsafeMutableBufferPointer(
                    rebasing: buffer[index * sampleSize..<(index + 1) * sampleSize])
                drawSample(
                    ShapeKind(rawValue: Int(labels[index]))!, into: sample,
                    configuration: configuration, generator: &generator)
            }
        }
        return (pixels, labels)
    }

    /// Draws one sample, shape [channels, height, width], into `output`.
    static func drawSample(
        _ kind: ShapeKind, into output: UnsafeMutableBufferPointer<Float>,
        configuration: ShapesConfiguration, generator: inout SeededGenerator
    ) {
        let height = configuration.height
        let width = configuration.width
        let side = Float(min(height, width))

        // Geometry, in pixels: the shape's unit square [-1, 1]^2 maps to a square of half
        // side `scale` around the centre, which moves so most of the shape stays visible.
        let scale = side * generator.nextFloat(in: 0.2, 0.4)
        let slackX = max(Float(width) / 2 - scale, 1)
        let slackY = max(Float(height) / 2 - scale, 1)
        let centerX = Float(width) / 2 + generator.nextFloat(in: -slackX, slackX)
        let centerY = Float(height) / 2 + generator.nextFloat(in: -slackY, slackY)
        let rotation = rotationRange(kind)
        let angle = generator.nextFloat(in: rotation.lowerBound, rotation.upperBound)
        let cosine = cos(angle)
        let sine = sin(angle)
        // Stripes: 2 to 3.5 periods across the unit square, at a random phase.
        let frequency = Float.pi * generator.nextFloat(in: 1, 1.75)
        let phaseU = generator.nextFloat(in: 0, 2 * Float.pi)
        let phaseV = generator.nextFloat(in: 0, 2 * Float.pi)

        let pattern = ShapePattern(
            kind: kind, pixelsPerUnit: scale, frequency: frequency, phaseU: phaseU,
            phaseV: phaseV)

        let planeSize = height * width
        var coverage = [Float](repeating: 0, count: planeSize)
        for y in 0..<height {
            for x in 0..<width {
                let dx = (Float(x) + 0.5 - centerX) / scale
                let dy = (Float(y) + 0.5 - centerY) / scale
                let u = cosine * dx + sine * dy
                let v = -sine * dx + cosine * dy
                coverage[y * width + x] = pattern.coverage(u: u, v: v)
            }
        }

        for _ in 0..<configuration.clutterStrokes {
            drawStroke(into: &coverage, width: width, height: height, generator: &generator)
        }

        let noise = configuration.noiseAmplitude
        for channel in 0..<configuration.channels {
            let background = generator.nextFloat(in: 0, 0.25)
            let contrast = generator.nextFloat(in: configuration.minimumContrast, 1)
            let plane = channel * planeSize
            for i in 0..<planeSize {
                // Two 32-bit halves of one draw give two uniform values in [0, 1).
                let bits = generator.next()
                let first = Float(UInt32(truncatingIfNeeded: bits)) * 0x1p-32
                let second = Float(UInt32(truncatingIfNeeded: bits >> 32)) * 0x1p-32
                let value = background + contrast * coverage[i] + noise * (first + second - 1)
                output[plane + i] = min(max(value, 0), 1)
            }
        }
    }

    /// Draws a straight stroke between two random points, about a twentieth of the image
    /// side thick, at a random intensity from 0.3 to 0.8, keeping the brighter value where
    /// it crosses the shape.
    private static func drawStroke(
        into coverage: inout [Float], width: Int, height: Int,
        generator: inout SeededGenerator
    ) {
        let startX = generator.nextFloat(in: 0, Float(width))
        let startY = generator.nextFloat(in: 0, Float(height))
        let endX = generator.nextFloat(in: 0, Float(width))
        let endY = generator.nextFloat(in: 0, Float(height))
        let intensity = generator.nextFloat(in: 0.3, 0.8)
        let halfThickness = max(Float(min(width, height)) * 0.025, 0.5)
        let directionX = endX - startX
        let directionY = endY - startY
        let lengthSquared = max(directionX * directionX + directionY * directionY, 1e-6)
        for y in 0..<height {
            for x in 0..<width {
                // Distance from the pixel centre to the nearest point of the segment.
                let offsetX = Float(x) + 0.5 - startX
                let offsetY = Float(y) + 0.5 - startY
                let along = min(
                    max((offsetX * directionX + offsetY * directionY) / lengthSquared, 0), 1)
                let distanceX = offsetX - along * directionX
                let distanceY = offsetY - along * directionY
                let distance = (distanceX * distanceX + distanceY * distanceY).squareRoot()
                let value = intensity * min(max(halfThickness + 0.5 - distance, 0), 1)
                coverage[y * width + x] = max(coverage[y * width + x], value)
            }
        }
    }

    /// Returns the range of random rotation, in radians. Shapes defined by an orientation get a
    /// small jitter around zero, because horizontal bars turned 90 degrees are vertical bars.
    /// The others get their whole period of symmetry.
    private static func rotationRange(_ kind: ShapeKind) -> Range<Float> {
        switch kind {
        case .disc, .ring: return 0..<0
        case .square, .cross, .checker: return 0..<(Float.pi / 2)
        case .triangle: return 0..<(2 * Float.pi / 3)
        case .twoDots: return 0..<Float.pi
        case .horizontalBars, .verticalBars, .diagonalStripes: return -0.25..<0.25
        }
    }
}

/// The intensity of one shape in its own coordinates, where the shape fills about [-1, 1]^2.
struct ShapePattern {
    let kind: ShapeKind
    /// Pixels per unit, to turn a signed distance into an anti-aliased coverage.
    let pixelsPerUnit: Float
    /// Angular frequency of stripes, in radians per unit.
    let frequency: Float
    let phaseU: Float
    let phaseV: Float

    /// Returns the intensity in [0, 1] at (u, v).
    func coverage(u: Float, v: Float) -> Float {
        switch kind {
        case .disc:
            return fill((u * u + v * v).squareRoot() - 0.9)
        case .ring:
            return fill(abs((u * u + v * v).squareRoot() - 0.7) - 0.2)
        case .square:
            return fill(max(abs(u), abs(v)) - 0.75)
        case .cross:
            let horizontal = max(abs(u) - 0.95, abs(v) - 0.22)
            let vertical = max(abs(v) - 0.95, abs(u) - 0.22)
            return fill(min(horizontal, vertical))
        case .triangle:
            // Inside all three edges of an equilateral triangle with circumradius 1.
            let edge1 = v - 0.5
            let edge2 = -0.866 * u - 0.5 * v - 0.5
            let edge3 = 0.866 * u - 0.5 * v - 0.5
            return fill(max(edge1, edge2, edge3))
        case .horizontalBars:
            return windowed(u: u, v: v) { stripe(sin(frequency * v + phaseV)) }
        case .verticalBars:
            return windowed(u: u, v: v) { stripe(sin(frequency * u + phaseU)) }
        case .diagonalStripes:
            return windowed(u: u, v: v) { stripe(sin(frequency * 0.7071 * (u + v) + phaseU)) }
        case .checker:
            return windowed(u: u, v: v) {
                stripe(4 * sin(frequency * u + phaseU) * sin(frequency * v + phaseV))
            }
        case .twoDots:
            let left = ((u + 0.55) * (u + 0.55) + v * v).squareRoot() - 0.38
            let right = ((u - 0.55) * (u - 0.55) + v * v).squareRoot() - 0.38
            return fill(min(left, right))
        }
    }

    /// Coverage of a pixel whose centre is at signed distance `distance` (in units,
    /// negative inside) from the edge: a one-pixel linear ramp across the edge.
    private func fill(_ distance: Float) -> Float {
        min(max(0.5 - distance * pixelsPerUnit, 0), 1)
    }

    /// Maps a sine to a soft square wave, so stripe edges are anti-aliased.
    private func stripe(_ wave: Float) -> Float {
        min(max(0.5 + 1.5 * wave, 0), 1)
    }

    /// Returns `pattern` clipped to the square [-0.9, 0.9]^2, and skips evaluating it
    /// outside.
    private func windowed(u: Float, v: Float, _ pattern: () -> Float) -> Float {
        let window = fill(max(abs(u), abs(v)) - 0.9)
        return window > 0 ? window * pattern() : 0
    }
}
