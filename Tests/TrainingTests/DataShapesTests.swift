import Testing
import Training

@Suite struct DataShapesTests {
    @Test func sameSeedSameData() {
        let configuration = ShapesConfiguration(trainCount: 300, testCount: 100, seed: 7)
        let first = DataSource.shapes(configuration)
        let second = DataSource.shapes(configuration)
        #expect(first.train.images == second.train.images)
        #expect(first.train.labels == second.train.labels)
        #expect(first.test.images == second.test.images)
        #expect(first.test.labels == second.test.labels)
    }

    @Test func differentSeedDifferentData() {
        let first = DataSource.shapes(ShapesConfiguration(trainCount: 300, testCount: 100, seed: 7))
        let second = DataSource.shapes(
            ShapesConfiguration(trainCount: 300, testCount: 100, seed: 8))
        #expect(first.train.images != second.train.images)
        #expect(first.train.labels != second.train.labels)
    }

    @Test func trainAndTestDiffer() {
        let data = DataSource.shapes(ShapesConfiguration(trainCount: 100, testCount: 100))
        #expect(data.train.images != data.test.images)
    }

    @Test func testSplitIndependentOfTrainSize() {
        let small = DataSource.shapes(ShapesConfiguration(trainCount: 50, testCount: 30, seed: 3))
        let large = DataSource.shapes(ShapesConfiguration(trainCount: 80, testCount: 30, seed: 3))
        #expect(small.test.labels == large.test.labels)
        // Normalisation uses each train split's own statistics, so compare the raw values.
        func raw(_ data: Dataset) -> [Float] {
            data.images.map { $0 * data.channelStds[0] + data.channelMeans[0] }
        }
        let maxDifference = zip(raw(small.test), raw(large.test)).map { abs($0 - $1) }.max()!
        #expect(maxDifference < 1e-5, "max difference \(maxDifference), tolerance 1e-5")
    }

    @Test func defaultSizes() {
        let data = DataSource.shapes(ShapesConfiguration())
        #expect(data.train.count == 10_000)
        #expect(data.test.count == 2_000)
        #expect(data.train.channels == 1)
        #expect(data.train.height == 28)
        #expect(data.train.width == 28)
        #expect(data.train.classCount == 10)
        #expect(data.train.images.count == 10_000 * 28 * 28)
        #expect(data.name == "shapes")
        #expect(data.train.classNames[0] == "disc")
        #expect(data.train.classNames[9] == "two dots")
    }

    @Test func requestedSizeAndChannels() {
        let configuration = ShapesConfiguration(
            trainCount: 123, testCount: 45, channels: 3, height: 16, width: 20, seed: 1)
        let data = DataSource.shapes(configuration)
        #expect(data.train.count == 123)
        #expect(data.test.count == 45)
        #expect(data.train.images.count == 123 * 3 * 16 * 20)
        #expect(data.test.images.count == 45 * 3 * 16 * 20)
        #expect(data.test.channels == 3)
        #expect(data.test.height == 16)
        #expect(data.test.width == 20)
        #expect(data.train.channelMeans.count == 3)
        #expect(data.train.channelStds.count == 3)
    }

    @Test func classesBalanced() {
        let data = DataSource.shapes(ShapesConfiguration(trainCount: 1000, testCount: 205))
        for (split, expected) in [
            (data.train, [Int](repeating: 100, count: 10)),
            (data.test, [21, 21, 21, 21, 21, 20, 20, 20, 20, 20]),
        ] {
            var counts = [Int](repeating: 0, count: 10)
            for label in split.labels {
                counts[Int(label)] += 1
            }
            #expect(counts == expected, "\(split.displayName) class counts")
        }
    }

    @Test func labelsAreShuffled() {
        let data = DataSource.shapes(ShapesConfiguration(trainCount: 1000, testCount: 0))
        let cyclic = (0..<1000).map { Int32($0 % 10) }
        #expect(data.train.labels != cyclic)
        // In a random order, about a tenth of neighbours share a class.
        let repeats = zip(data.train.labels, data.train.labels.dropFirst()).filter { $0 == $1 }
            .count
        #expect(
            (50...150).contains(repeats), "equal neighbours: expected 50...150, observed \(repeats)"
        )
    }

    @Test func trainSplitIsNormalised() {
        let data = DataSource.shapes(
            ShapesConfiguration(trainCount: 500, testCount: 0, channels: 2))
        let planeSize = 28 * 28
        for channel in 0..<2 {
            var sum = 0.0
            var squareSum = 0.0
            for sample in 0..<500 {
                let start = (sample * 2 + channel) * planeSize
                for value in data.train.images[start..<start + planeSize] {
                    sum += Double(value)
                    squareSum += Double(value) * Double(value)
                }
            }
            let n = Double(500 * planeSize)
            let mean = sum / n
            let std = (squareSum / n - mean * mean).squareRoot()
            #expect(
                abs(mean) < 1e-4, "channel \(channel) mean: expected 0 +- 1e-4, observed \(mean)")
            #expect(
                abs(std - 1) < 1e-4, "channel \(channel) std: expected 1 +- 1e-4, observed \(std)")
        }
    }

    @Test func classesLookDifferent() {
        // Mean images per class differ: discs fill their centre, rings leave it darker.
        let data = DataSource.shapes(ShapesConfiguration(trainCount: 2000, testCount: 0, seed: 5))
        var classMeans = [[Double]](repeating: [Double](repeating: 0, count: 784), count: 10)
        for index in 0..<data.train.count {
            let label = Int(data.train.labels[index])
            for (i, value) in data.train.image(at: index).enumerated() {
                classMeans[label][i] += Double(value) / 200
            }
        }
        for first in 0..<10 {
            for second in (first + 1)..<10 {
                let distance = zip(classMeans[first], classMeans[second])
                    .map { ($0 - $1) * ($0 - $1) }.reduce(0, +).squareRoot()
                #expect(
                    distance > 0.5,
                    "mean images of classes \(first) and \(second) too close: \(distance)")
            }
        }
    }

    @Test func seededGeneratorMatchesSplitMix64() {
        // First output of SplitMix64 from state 0, computed separately in Python with the
        // same constants.
        var generator = SeededGenerator(seed: 0)
        #expect(generator.next() == 0xE220_A839_7B1D_CDAF)
    }

    @Test func seededGeneratorRanges() {
        var generator = SeededGenerator(seed: 42)
        var seen = [Int](repeating: 0, count: 7)
        for _ in 0..<7000 {
            let value = generator.nextUnitFloat()
            #expect(value >= 0, "nextUnitFloat returned \(value)")
            #expect(value < 1, "nextUnitFloat returned \(value)")
            seen[generator.nextInt(below: 7)] += 1
        }
        #expect(
            seen.allSatisfy { (850...1150).contains($0) }, "counts of nextInt(below: 7): \(seen)")
    }
}

@Suite struct DataShapesSizeTests {
    @Test func loadHonoursShapesSize() throws {
        let data = try DataSource.load(.shapes, seed: 4, shapesSize: [3, 5, 7])
        #expect(data.train.channels == 3)
        #expect(data.train.height == 5)
        #expect(data.train.width == 7)
        #expect(data.test.channels == 3)
        #expect(data.train.images.allSatisfy { $0.isFinite })
    }

    @Test func clutterChangesImages() {
        let plain = DataSource.shapes(
            ShapesConfiguration(trainCount: 20, testCount: 0, clutterStrokes: 0))
        let cluttered = DataSource.shapes(
            ShapesConfiguration(trainCount: 20, testCount: 0, clutterStrokes: 2))
        #expect(plain.train.labels == cluttered.train.labels)
        #expect(plain.train.images != cluttered.train.images)
    }
}
