// swift-tools-version:6.0
import Foundation
import PackageDescription

// The kernels are written with SIMD vectors, whose speed depends on the instruction set the
// compiler may use: with the default x86-64 target each lane of an FMA becomes a libm call.
// The build therefore targets the CPU it runs on. Set RESNET_TUI_PORTABLE=1 to build for
// any x86-64-v3 machine (AVX2 and FMA) instead, for example to copy the binary elsewhere.
let portable = ProcessInfo.processInfo.environment["RESNET_TUI_PORTABLE"] == "1"
let cpuFlags: [String] =
    portable
    ? ["-Xcc", "-mavx2", "-Xcc", "-mfma", "-Xcc", "-mf16c"]
    : ["-Xcc", "-march=native"]
let kernelSettings: [SwiftSetting] = [
    .unsafeFlags(cpuFlags)
]

let package = Package(
    name: "resnet-tui",
    products: [
        .executable(name: "resnet-tui", targets: ["resnet-tui"])
    ],
    targets: [
        .systemLibrary(name: "CNCursesW", path: "Sources/CNCursesW", pkgConfig: "ncursesw"),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib", pkgConfig: "zlib"),
        .target(
            name: "Engine", swiftSettings: kernelSettings,
            linkerSettings: [.linkedLibrary("m")]),
        .target(name: "Training", dependencies: ["Engine", "CZlib"], swiftSettings: kernelSettings),
        .target(name: "TUI", dependencies: ["Training", "CNCursesW"]),
        .executableTarget(name: "resnet-tui", dependencies: ["TUI", "Training", "Engine"]),
        // Reads the PyTorch reference fixtures for the engine and training tests.
        .target(name: "FixtureSupport", dependencies: ["Engine"], path: "Tests/FixtureSupport"),
        .testTarget(name: "EngineTests", dependencies: ["Engine", "FixtureSupport"]),
        .testTarget(
            name: "TrainingTests", dependencies: ["Training", "Engine", "FixtureSupport"],
            exclude: ["Fixtures"]),
        .testTarget(name: "TUITests", dependencies: ["TUI", "Training", "Engine"]),
        // Runs the resnet-tui binary from the same build directory.
        .testTarget(name: "CommandTests"),
        // Starts the release binary in tmux; needs `swift build -c release` first.
        .testTarget(name: "TerminalTests"),
    ]
)
