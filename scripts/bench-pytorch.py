#!/usr/bin/env python3
"""Time resnet-tui's training steps against PyTorch on the same five configurations.

Runs `resnet-tui bench --no-kernels`, then the same models in PyTorch twice, each in a
fresh process: once with PyTorch's defaults and once tuned (channels-last tensors, and
glibc malloc set to keep freed memory, which saves page faults in every step). With
--rounds R it alternates the three runs R times and keeps, per configuration, the lowest
median, so a burst of load from other processes hurts one round only.

Prints per configuration: our ms/step, PyTorch default and tuned ms/step, and our time
divided by theirs (below 1 means resnet-tui is faster); then the same table for the CPU
time per step summed over all threads, which other processes on the machine disturb less
than wall time. PyTorch's wheel ships GNU OpenMP (libgomp), which spins for a while
before it sleeps, and resnet-tui's pool polls briefly too, so both CPU times include
some waiting.

Needs torch, only for this script: /work/venv/bin/python scripts/bench-pytorch.py
"""

import argparse
import ctypes
import json
import os
import statistics
import subprocess
import sys
import time

CONFIGS = [
    # (name, model, batch, threads), the same list as `resnet-tui bench`.
    ("resnet20-b128-t2", "resnet20", 128, 2),
    ("resnet20-b32-t2", "resnet20", 32, 2),
    ("resnet20-b128-t1", "resnet20", 128, 1),
    ("tiny-b32-t2", "tiny", 32, 2),
    ("tiny-b128-t2", "tiny", 128, 2),
]

# glibc mallopt parameters (malloc.h).
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3


def build_model(torch, kind):
    """Return the CIFAR-style resnet20 (3x32x32) or the tiny model (1x28x28)."""
    nn = torch.nn

    class BasicBlock(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(cout)
            self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout)
            self.downsample = None
            if stride != 1 or cin != cout:
                self.downsample = nn.Sequential(
                    nn.Conv2d(cin, cout, 1, stride, 0, bias=False), nn.BatchNorm2d(cout)
                )

        def forward(self, x):
            out = torch.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            skip = x if self.downsample is None else self.downsample(x)
            return torch.relu(out + skip)

    class Net(nn.Module):
        def __init__(self, cin, widths_and_strides, width):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, width, 3, 1, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(width)
            blocks = []
            channels = width
            for cout, stride in widths_and_strides:
                blocks.append(BasicBlock(channels, cout, stride))
                channels = cout
            self.blocks = nn.Sequential(*blocks)
            self.fc = nn.Linear(channels, 10)

        def forward(self, x):
            x = torch.relu(self.bn1(self.conv1(x)))
            x = self.blocks(x)
            x = torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1)
            return self.fc(x)

    if kind == "resnet20":
        plan = [(16, 1)] * 3 + [(32, 2)] + [(32, 1)] * 2 + [(64, 2)] + [(64, 1)] * 2
        return Net(3, plan, 16), (3, 32, 32)
    return Net(1, [(8, 1)] * 3, 8), (1, 28, 28)


def time_pytorch(configs, iterations, warmup, tuned):
    """Return {config name: (median_ms, min_ms, cpu_ms)} for PyTorch, in this process.

    cpu_ms is the median CPU time of the process per step, summed over its threads.
    """
    import torch

    results = {}
    for name, kind, batch, threads in configs:
        torch.set_num_threads(threads)
        torch.manual_seed(0)
        model, shape = build_model(torch, kind)
        images = torch.rand(batch, *shape) * 2 - 1
        labels = torch.randint(0, 10, (batch,))
        if tuned:
            model = model.to(memory_format=torch.channels_last)
            images = images.contiguous(memory_format=torch.channels_last)
        optimizer = torch.optim.SGD(
            model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4
        )
        loss_function = torch.nn.CrossEntropyLoss()

        def step():
            optimizer.zero_grad(set_to_none=True)
            loss = loss_function(model(images), labels)
            loss.backward()
            optimizer.step()

        for _ in range(warmup):
            step()
        samples = []
        cpu_samples = []
        for _ in range(iterations):
            cpu_start = time.process_time()
            start = time.perf_counter()
            step()
            samples.append(time.perf_counter() - start)
            cpu_samples.append(time.process_time() - cpu_start)
        results[name] = (
            statistics.median(samples) * 1e3, min(samples) * 1e3,
            statistics.median(cpu_samples) * 1e3,
        )
    return results


def time_ours(binary, configs, iterations, warmup):
    """Return {config name: (median_ms, min_ms, cpu_ms)} parsed from `resnet-tui bench`."""
    names = ",".join(c[0] for c in configs)
    command = [
        binary, "bench", "--no-kernels", "--iterations", str(iterations),
        "--warmup", str(warmup), "--only", names,
    ]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    results = {}
    for line in output.splitlines():
        fields = line.split(",")
        if fields[0] == "step" and fields[1] != "config":
            results[fields[1]] = (float(fields[5]), float(fields[6]), float(fields[8]))
    return results


def run_worker(arguments):
    """Time PyTorch in this process and print the result as JSON (used by the parent)."""
    if arguments.tuned:
        libc = ctypes.CDLL("libc.so.6")
        # Keep freed blocks in the heap instead of returning them to the kernel, so each
        # step reuses the previous step's pages.
        libc.mallopt(M_MMAP_THRESHOLD, 1 << 30)
        libc.mallopt(M_TRIM_THRESHOLD, 1 << 30)
    configs = [c for c in CONFIGS if c[0] in arguments.only.split(",")]
    result = time_pytorch(configs, arguments.iterations, arguments.warmup, arguments.tuned)
    print(json.dumps(result))


def spawn_worker(arguments, configs, tuned):
    environment = dict(os.environ)
    if tuned:
        environment["MALLOC_ARENA_MAX"] = "1"
    command = [
        sys.executable, __file__, "--worker", "--iterations", str(arguments.iterations),
        "--warmup", str(arguments.warmup), "--only", ",".join(c[0] for c in configs),
    ] + (["--tuned"] if tuned else [])
    output = subprocess.run(
        command, check=True, capture_output=True, text=True, env=environment
    ).stdout
    return {name: tuple(value) for name, value in json.loads(output).items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--binary", default=".build/release/resnet-tui",
        help="path of the resnet-tui release binary (default .build/release/resnet-tui)",
    )
    parser.add_argument("--iterations", type=int, default=20, help="timed steps (default 20)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps (default 3)")
    parser.add_argument("--rounds", type=int, default=1, help="alternating rounds (default 1)")
    parser.add_argument(
        "--only", default=",".join(c[0] for c in CONFIGS),
        help="comma-separated configurations (default: all five)",
    )
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--tuned", action="store_true", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.worker:
        run_worker(arguments)
        return

    names = arguments.only.split(",")
    unknown = [n for n in names if n not in {c[0] for c in CONFIGS}]
    if unknown:
        parser.error(f"unknown configuration {unknown}; known: {[c[0] for c in CONFIGS]}")
    configs = [c for c in CONFIGS if c[0] in names]
    if not os.access(arguments.binary, os.X_OK):
        parser.error(
            f"{arguments.binary} is not an executable; build it with "
            "`swift build -c release` or pass --binary"
        )

    best = {"ours": {}, "default": {}, "tuned": {}}
    best_cpu = {"ours": {}, "default": {}, "tuned": {}}
    for _ in range(arguments.rounds):
        rounds = {
            "ours": time_ours(arguments.binary, configs, arguments.iterations, arguments.warmup),
            "default": spawn_worker(arguments, configs, tuned=False),
            "tuned": spawn_worker(arguments, configs, tuned=True),
        }
        for key, results in rounds.items():
            for name, (median, _, cpu) in results.items():
                best[key][name] = min(best[key].get(name, float("inf")), median)
                best_cpu[key][name] = min(best_cpu[key].get(name, float("inf")), cpu)

    print(
        f"# median ms/step over {arguments.iterations} steps, best of "
        f"{arguments.rounds} round(s)"
    )
    header = (
        f"{'configuration':<18} {'ours':>9} {'torch':>9} {'tuned':>9} "
        f"{'ours/torch':>11} {'ours/tuned':>11}"
    )
    print(header)
    for name, _, _, _ in configs:
        ours = best["ours"][name]
        default = best["default"][name]
        tuned = best["tuned"][name]
        print(
            f"{name:<18} {ours:9.2f} {default:9.2f} {tuned:9.2f} "
            f"{ours / default:11.2f} {ours / tuned:11.2f}"
        )
    print()
    print(
        "# median CPU ms/step (all threads of the process), best of "
        f"{arguments.rounds} round(s); less disturbed than wall time by other processes"
    )
    print(header)
    for name, _, _, _ in configs:
        ours = best_cpu["ours"][name]
        default = best_cpu["default"][name]
        tuned = best_cpu["tuned"][name]
        print(
            f"{name:<18} {ours:9.2f} {default:9.2f} {tuned:9.2f} "
            f"{ours / default:11.2f} {ours / tuned:11.2f}"
        )


if __name__ == "__main__":
    main()
