import Foundation
import Training

/// Exit codes: 0 success, 1 a failure at run time (a file, the terminal), 2 a usage error.
let arguments = Array(CommandLine.arguments.dropFirst())
do {
    try runCommand(arguments)
    exit(0)
} catch let error as UsageError {
    FileHandle.standardError.write(Data("resnet-tui: \(error)\n".utf8))
    FileHandle.standardError.write(Data("Run '\(error.command) --help' for usage.\n".utf8))
    exit(2)
} catch {
    FileHandle.standardError.write(Data("resnet-tui: \(error)\n".utf8))
    exit(1)
}
