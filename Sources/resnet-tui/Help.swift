import Foundation

/// A subcommand's name, one-line purpose, usage line and flags, from which `--help` is
/// printed and against which its arguments are parsed.
struct CommandDescription: Sendable {
    var name: String
    /// One paragraph; `helpText` rewraps it at `helpWidth` columns.
    var summary: String
    var usage: String
    var flags: [FlagSpec]
    /// Lines printed after the options, such as examples.
    var notes: String = ""

    /// The text `--help` prints: usage, purpose and one line per flag.
    var helpText: String {
        let paragraph = summary.replacingOccurrences(of: "\n", with: " ")
        var lines = ["Usage: \(usage)", ""] + wrap(paragraph, width: helpWidth) + ["", "Options:"]
        let rows = flags.map { flag -> (String, String) in
            let entry = flagHelp[flag.name]
            let placeholder = flag.takesValue ? " " + (entry?.placeholder ?? "VALUE") : ""
            let text = flag.help.isEmpty ? (entry?.text ?? "") : flag.help
            return ("--\(flag.name)\(placeholder)", text)
        }
        let column = (rows.map(\.0.count).max() ?? 0) + 4
        for (name, text) in rows {
            let wrapped = wrap(text, width: max(helpWidth - column, 30))
            for (index, line) in wrapped.enumerated() {
                let label = index == 0 ? "  " + name : ""
                let padding = String(repeating: " ", count: column - label.count)
                lines.append(label + padding + line)
            }
        }
        if !notes.isEmpty {
            lines += ["", notes]
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Parses `arguments` against this command's flags.
    func parse(_ arguments: [String]) throws -> ParsedArguments {
        try ParsedArguments(arguments, specs: flags)
    }
}

/// Column at which help text is wrapped.
let helpWidth = 80

/// Splits `text` into lines of at most `width` characters at spaces. A word longer than
/// `width` gets a line of its own.
func wrap(_ text: String, width: Int) -> [String] {
    var lines: [String] = []
    var current = ""
    for word in text.split(separator: " ") {
        if current.isEmpty {
            current = String(word)
        } else if current.count + 1 + word.count <= width {
            current += " " + word
        } else {
            lines.append(current)
            current = String(word)
        }
    }
    if !current.isEmpty || lines.isEmpty {
        lines.append(current)
    }
    return lines
}

/// Value placeholder and help text of every flag, by name, shared by all commands so each
/// flag reads the same everywhere. A `FlagSpec` with its own help text overrides the entry.
let flagHelp: [String: (placeholder: String, text: String)] = [
    "data": (
        "SPEC",
        "data set: shapes (built-in, the default), mnist:DIR, fashion-mnist:DIR or cifar10:DIR"
    ),
    "input": (
        "C,H,W", "image size of the built-in shapes data: channels, height, width (default 1,28,28)"
    ),
    "model": (
        "NAME",
        "network: resnet8/14/20/32/44/56/110 (CIFAR layout, default resnet20), plain8 ... "
            + "plain110 (every skip off), or resnet18/34/50/101/152 (ImageNet layout)"
    ),
    "width": ("W", "base width: channels of the stem and first stage (default 16, or 64)"),
    "blocks": ("LIST", "blocks per stage instead of the name's layout, such as 1,1,1,1"),
    "no-bn": ("", "no batch norm; every convolution gets a bias instead"),
    "no-skip": ("", "turn every skip connection off"),
    "skip-off": ("LIST", "turn the skips of these blocks off, numbered from 1: 1,4,7"),
    "zero-init-residual": ("", "start each block's last batch-norm weight at zero"),
    "load": ("FILE", "load weights from a safetensors checkpoint (torchvision names)"),
    "save": ("FILE", "save the weights to a safetensors checkpoint at the end"),
    "batch": ("N", "images per step (default 32)"),
    "lr": ("RATE", "SGD learning rate at the start of the run (default 0.05)"),
    "momentum": ("M", "SGD momentum (default 0.9)"),
    "weight-decay": ("W", "L2 weight decay added to the gradient (default 5e-4)"),
    "threads": ("N", "compute threads (default: the number of cores)"),
    "seed": ("N", "seed for weights, data order and the built-in data (default 0)"),
    "steps": ("N", "iterations to run (default 100)"),
    "epochs": ("N", "passes over the training split to run, instead of --steps"),
    "schedule": (
        "NAME", "learning rate over the run: cosine (from --lr down to 0, the default) or constant"
    ),
    "csv": ("FILE", ""),
    "log": (
        "FILE",
        "write one CSV row per step to FILE: step, epoch, loss, accuracy, learning rate, "
            + "images/s, and per block the skip-path, residual-path and total input-gradient norms"
    ),
    "no-eval": (
        "",
        "skip the evaluation on the test split after each epoch; the epoch lines then show "
            + "training loss and accuracy only"
    ),
    "save-every": ("K", "save a checkpoint every K steps (default 100)"),
    "dir": (
        "DIR", "directory for the checkpoints, soak-step-N.safetensors; created if missing"
    ),
    "warmup": (
        "N",
        "steps before the first RSS reading (default: the larger of --steps / 10 and "
            + "--save-every, so the first save happens during warm-up)"
    ),
    "max-growth": (
        "PERCENT",
        "largest accepted RSS growth from the warm-up reading to the end (default 5)"
    ),
    "out": ("DIR", "directory to write the trace to; created if missing"),
    "batch-file": (
        "FILE",
        "safetensors file with `images` (F32, N,C,H,W, normalised) and `labels` (I64, N) to "
            + "use in every iteration; it sets the batch size and, for the shapes data, the "
            + "image size"
    ),
    "step": ("H", "finite-difference step"),
    "samples": ("K", "coordinates checked per tensor"),
    "threshold": ("T", "largest accepted error"),
    "help": ("", "print this help and exit"),
]
