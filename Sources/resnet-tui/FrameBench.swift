import Foundation
import TUI
import Training

/// `resnet-tui bench-frames`: times drawing one frame of the UI into the cell buffer, the
/// work the UI thread does per frame before curses writes the changed cells. The snapshot
/// is a real one, after one training iteration of the chosen model.
func runFrameBenchmark(_ parsed: ParsedArguments) throws {
    let frames = try parsed.int("frames", default: 500, range: 1...1_000_000)
    let stepper = try makeStepper(parsed)
    stepper.finishIteration()
    stepper.runBackward()
    let snapshot = stepper.snapshot
    print("model \(snapshot.modelName), \(snapshot.layers.count) layers, \(frames) frames per size")
    print("size      view        median_us   p99_us   max_us")
    for (width, height) in [(80, 24), (120, 40), (200, 60)] {
        for view in [DetailView.statistics, .featureMap] {
            var state = UIState(snapshot: snapshot)
            state.detailView = view
            var buffer = CellBuffer(width: width, height: height)
            var samples: [Double] = []
            samples.reserveCapacity(frames)
            for _ in 0..<frames {
                let start = DispatchTime.now().uptimeNanoseconds
                Screen.draw(snapshot: snapshot, state: state, into: &buffer)
                samples.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1000)
            }
            samples.sort()
            let median = samples[samples.count / 2]
            let p99 = samples[min(samples.count - 1, samples.count * 99 / 100)]
            let name = view == .statistics ? "statistics" : "feature map"
            let size = "\(width)x\(height)"
            let numbers = String(format: "%9.0f %8.0f %8.0f", median, p99, samples.last ?? 0)
            print(
                size.padding(toLength: 10, withPad: " ", startingAt: 0)
                    + name.padding(toLength: 12, withPad: " ", startingAt: 0) + numbers)
        }
    }
}
