import TUI
import Testing
import Training

struct DepthTimeViewTests {
    static func strip(rows: Int, iterations: Int) -> DepthTimeStrip {
        var strip = DepthTimeStrip(
            layers: Array(1...rows), names: (1...rows).map { "layer\($0)" })
        for iteration in 1...iterations {
            // The first block's gradient, 1e6, is millions of times the last one's: an explosion.
            let gradients: [Double?] = (0..<rows).map { row in
                row == 0 ? 1e6 : 1.0 / Double(row)
            }
            strip.append(
                iteration: iteration, gradients: gradients,
                zeroFractions: Array(repeating: 0.25, count: rows),
                gammaDrift: Array(repeating: 0.01, count: rows))
        }
        return strip
    }

    static func draw(_ strip: DepthTimeStrip, width: Int, height: Int, colors: Int) -> [String] {
        var buffer = CellBuffer(width: width, height: height)
        DepthTimeView(strip: strip, colorCount: colors)
            .draw(in: Rect(x: 0, y: 0, width: width, height: height), on: &buffer)
        return buffer.lines()
    }

    @Test func rowsNameEveryBlockAndMarkTheAlarm() {
        let lines = Self.draw(Self.strip(rows: 4, iterations: 3), width: 90, height: 8, colors: 256)
        #expect(lines[0].contains("iter 1–3"))
        #expect(lines[0].contains("zero%"))
        #expect(lines[1].hasPrefix(" !layer1"))
        #expect(lines[2].hasPrefix("  layer2"))
        #expect(lines[1].contains("25%"))
        #expect(lines[1].filter { $0 == "█" }.count == 3)
        #expect(
            lines[7].contains(
                "exploding gradient at layer1: |dL/dx| 3.0e+06× the last block's, since iteration 1"
            ))
    }

    @Test func deepNetworkSamplesRowsKeepingFirstAndLast() {
        let lines = Self.draw(
            Self.strip(rows: 54, iterations: 2), width: 60, height: 12, colors: 0)
        let names = lines[1...10].map {
            $0.dropFirst(2).prefix(7).trimmingCharacters(in: .whitespaces)
        }
        #expect(names.first == "layer1")
        #expect(names.last == "layer54")
        #expect(Set(names).count == 10)
    }

    @Test func onlyTheNewestColumnsFitTheWidth() {
        let lines = Self.draw(
            Self.strip(rows: 3, iterations: 100), width: 40, height: 6, colors: 0)
        // 40 columns less the border gap, 8 for labels and 14 for the numbers leave 16.
        #expect(lines[0].contains("iter 85–100"))
    }

    @Test func emptyStripSaysHowToFillIt() {
        let strip = DepthTimeStrip(layers: [1], names: ["layer1.0"])
        let lines = Self.draw(strip, width: 70, height: 5, colors: 256)
        #expect(lines[0].contains("no finished iteration yet"))
    }
}
