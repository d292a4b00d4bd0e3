#!/usr/bin/env python3
"""Write PyTorch reference results for the basic residual block to
Tests/TrainingTests/Fixtures/.

The block is torchvision's BasicBlock in training mode (batch statistics): conv1 3x3,
bn1, ReLU, conv2 3x3, bn2, plus a shortcut that is the identity or, when the stride or
the channel count changes, a 1x1 convolution with batch norm (`downsample`). With the
skip off the block computes relu(bn2(conv2(...))) and the shortcut gets no gradient.

Each fixture is NAME.json (settings, and per tensor its name, shape and offset in floats)
and NAME.bin (the tensors as raw little-endian float32), the format that
scripts/make-kernel-fixtures.py writes. Parameters are stored under their state-dict
names relative to the block ("conv1.weight", "bn1.bias", "downsample.0.weight", ...) and
their gradients under "grad." plus that name; a shortcut that the skip-off block does not
use gets an all-zero gradient. Regenerate with:
    /work/venv/bin/python scripts/make-block-fixtures.py
"""

import os
import sys

import fixture_files
import torch
from torch import nn

OUTPUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "TrainingTests", "Fixtures")


class BasicBlock(nn.Module):
    def __init__(self, in_channels, out_channels, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.downsample = None
        if stride != 1 or in_channels != out_channels:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )

    def forward(self, x, skip):
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if skip:
            out = out + (x if self.downsample is None else self.downsample(x))
        return torch.relu(out)


def write_fixture(name, settings, tensors):
    fixture_files.write_fixture(OUTPUT, "block", name, settings, tensors)


def block_fixture(name, in_channels, out_channels, stride, skip):
    block = BasicBlock(in_channels, out_channels, stride).train()
    with torch.no_grad():
        # Batch-norm affine parameters away from 1 and 0, so their gradients and the
        # input gradient through gamma are tested at general values.
        for module in block.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.5, 0.5)
    x = torch.randn(2, in_channels, 8, 8, requires_grad=True)
    y = block(x, skip)
    upstream = torch.randn_like(y)
    y.backward(upstream)

    tensors = {"input": x, "gradOutput": upstream, "output": y, "gradInput": x.grad}
    for parameter_name, parameter in block.named_parameters():
        tensors[parameter_name] = parameter
    for parameter_name, parameter in block.named_parameters():
        gradient = parameter.grad
        tensors["grad." + parameter_name] = (
            torch.zeros_like(parameter) if gradient is None else gradient
        )
    settings = {
        "inChannels": in_channels, "outChannels": out_channels, "stride": stride,
        "skip": 1 if skip else 0,
    }
    write_fixture(name, settings, tensors)


def main():
    torch.manual_seed(20261205)
    os.makedirs(OUTPUT, exist_ok=True)
    block_fixture("basic_block_identity_skip_on", 4, 4, 1, True)
    block_fixture("basic_block_identity_skip_off", 4, 4, 1, False)
    block_fixture("basic_block_projection_skip_on", 4, 8, 2, True)
    block_fixture("basic_block_projection_skip_off", 4, 8, 2, False)
    names = sorted(f for f in os.listdir(OUTPUT) if f.startswith("basic_block"))
    total = sum(os.path.getsize(os.path.join(OUTPUT, f)) for f in names)
    print(f"wrote {len(names)} files, {total} bytes, to {OUTPUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
