#!/usr/bin/env python3
"""Write PyTorch reference results for each engine kernel to Tests/EngineTests/Fixtures/.

Each fixture is two files: NAME.json, a header with the kernel's settings and, per
tensor, its name, shape and offset (in floats) into NAME.bin, which contains the tensors
as raw little-endian float32. Integer data (labels, max-pool indices) is stored as
float32 too; every value used is exactly representable.

The EngineTests load these files, so the tests never need torch. Regenerate with:
    /work/venv/bin/python scripts/make-kernel-fixtures.py
The generator is seeded, but other PyTorch versions may round a few results differently
in the last bit, which the tests' tolerance (1e-4 of each tensor's max magnitude) absorbs.
"""

import os
import sys

import fixture_files
import torch

OUTPUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "EngineTests", "Fixtures")


def write_fixture(name, settings, tensors):
    fixture_files.write_fixture(OUTPUT, "kernel", name, settings, tensors)


def conv_fixtures():
    cases = [
        ("conv3x3_s1", 3, 1, 1, 9),
        ("conv3x3_s2", 3, 2, 1, 9),
        ("conv1x1_s2", 1, 2, 0, 9),
        ("conv7x7_s2_p3", 7, 2, 3, 11),
    ]
    for base, kernel, stride, padding, size in cases:
        for has_bias in (False, True):
            name = base + ("_bias" if has_bias else "")
            layer = torch.nn.Conv2d(3, 4, kernel, stride, padding, bias=has_bias)
            x = torch.randn(2, 3, size, size, requires_grad=True)
            y = layer(x)
            upstream = torch.randn_like(y)
            y.backward(upstream)
            tensors = {"input": x, "weight": layer.weight}
            if has_bias:
                tensors["bias"] = layer.bias
            tensors.update(
                {"output": y, "gradOutput": upstream, "gradInput": x.grad,
                 "gradWeight": layer.weight.grad}
            )
            if has_bias:
                tensors["gradBias"] = layer.bias.grad
            settings = {"kernelSize": kernel, "stride": stride, "padding": padding}
            write_fixture(name, settings, tensors)


def batch_norm_fixture():
    layer = torch.nn.BatchNorm2d(5, momentum=0.1, eps=1e-5)
    with torch.no_grad():
        layer.weight.copy_(torch.rand(5) + 0.5)
        layer.bias.copy_(torch.randn(5))
        layer.running_mean.copy_(torch.randn(5) * 0.1)
        layer.running_var.copy_(torch.rand(5) + 0.5)
    running_mean = layer.running_mean.clone()
    running_var = layer.running_var.clone()
    # A mean far from 0 in one channel checks that the variance is not computed as
    # E[x^2] - E[x]^2 in Float.
    x = torch.randn(4, 5, 6, 6)
    x[:, 2] += 50
    x.requires_grad_(True)
    layer.train()
    y = layer(x)
    upstream = torch.randn_like(y)
    y.backward(upstream)
    write_fixture(
        "batchnorm_train",
        {"momentum": 0.1, "eps": 1e-5},
        {
            "input": x, "gamma": layer.weight, "beta": layer.bias,
            "runningMeanBefore": running_mean, "runningVarBefore": running_var,
            "output": y, "runningMeanAfter": layer.running_mean,
            "runningVarAfter": layer.running_var, "gradOutput": upstream,
            "gradInput": x.grad, "gradGamma": layer.weight.grad, "gradBeta": layer.bias.grad,
        },
    )


def batch_norm_backward_fixture():
    """Batch-norm backward with upstream gradients that vary with the input.

    An all-ones upstream gradient gives an input gradient of exactly zero, whatever the
    formula's other terms are, so it cannot catch a wrong backward. Here channel 0 gets
    dy = x^2 (correlated with xhat, so sum(dy * xhat) is large), channel 1 gets a random
    dy, channel 2 a dy that is constant over the channel (its gradInput must be ~0) and
    channel 3 a dy that depends on the sample index only.
    """
    layer = torch.nn.BatchNorm2d(4)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([1.5, 0.7, 1.2, 0.9]))
        layer.bias.copy_(torch.tensor([0.1, -0.3, 0.0, 0.4]))
    x = torch.randn(3, 4, 5, 5) * 2 + 1
    upstream = torch.empty_like(x)
    upstream[:, 0] = x[:, 0] ** 2
    upstream[:, 1] = torch.randn(3, 5, 5)
    upstream[:, 2] = 0.75
    upstream[:, 3] = torch.tensor([-1.0, 0.5, 2.0]).view(3, 1, 1)
    x.requires_grad_(True)
    layer.train()
    y = layer(x)
    y.backward(upstream)
    write_fixture(
        "batchnorm_backward_nonuniform",
        {"momentum": 0.1, "eps": 1e-5},
        {
            "input": x, "gamma": layer.weight, "beta": layer.bias, "output": y,
            "gradOutput": upstream, "gradInput": x.grad, "gradGamma": layer.weight.grad,
            "gradBeta": layer.bias.grad,
        },
    )


def relu_fixture():
    x = torch.randn(2, 3, 5, 5)
    x[0, 0, 0, :3] = 0.0
    x.requires_grad_(True)
    y = torch.relu(x)
    upstream = torch.randn_like(y)
    y.backward(upstream)
    write_fixture(
        "relu", {},
        {"input": x, "output": y, "gradOutput": upstream, "gradInput": x.grad},
    )


def max_pool_fixture(name, x):
    x = x.clone().requires_grad_(True)
    y, indices = torch.nn.functional.max_pool2d(
        x, kernel_size=3, stride=2, padding=1, return_indices=True
    )
    upstream = torch.randn_like(y)
    y.backward(upstream)
    write_fixture(
        name, {"kernelSize": 3, "stride": 2, "padding": 1},
        {"input": x, "output": y, "indices": indices.to(torch.float32),
         "gradOutput": upstream, "gradInput": x.grad},
    )


def max_pool_ties_nan_input():
    """Return a 2x2x7x7 input with whole windows of tied values, a NaN, and a -inf plane, so the
    3x3 stride-2 windows overlap on the ties and the NaN."""
    x = torch.randn(2, 2, 7, 7)
    x[0, 0] = 1.0  # every window tied
    x[0, 1, :4, :4] = 2.5  # ties shared by overlapping windows
    x[1, 0, 3, 3] = float("nan")  # in four overlapping windows
    x[1, 0, 2, 2] = 3.0
    x[1, 1] = float("-inf")
    x[1, 1, 6, 6] = -1.0
    return x


def gap_fixture():
    x = torch.randn(3, 4, 5, 6, requires_grad=True)
    y = torch.flatten(torch.nn.functional.adaptive_avg_pool2d(x, 1), 1)
    upstream = torch.randn_like(y)
    y.backward(upstream)
    write_fixture(
        "global_avg_pool", {},
        {"input": x, "output": y, "gradOutput": upstream, "gradInput": x.grad},
    )


def linear_fixture():
    layer = torch.nn.Linear(7, 5)
    x = torch.randn(4, 7, requires_grad=True)
    y = layer(x)
    upstream = torch.randn_like(y)
    y.backward(upstream)
    write_fixture(
        "linear", {},
        {"input": x, "weight": layer.weight, "bias": layer.bias, "output": y,
         "gradOutput": upstream, "gradInput": x.grad, "gradWeight": layer.weight.grad,
         "gradBias": layer.bias.grad},
    )


def cross_entropy_fixture():
    logits = (torch.randn(6, 10) * 3).requires_grad_(True)
    labels = torch.tensor([0, 3, 9, 3, 5, 1])
    loss = torch.nn.functional.cross_entropy(logits, labels)
    loss.backward()
    write_fixture(
        "softmax_cross_entropy", {},
        {"logits": logits, "labels": labels.to(torch.float32), "loss": loss.reshape(1),
         "probabilities": torch.softmax(logits, dim=1), "gradLogits": logits.grad},
    )


def sgd_fixture():
    """Two steps, so the second one reads a non-zero momentum buffer."""
    parameter = torch.nn.Parameter(torch.randn(3, 4))
    optimizer = torch.optim.SGD([parameter], lr=0.1, momentum=0.9, weight_decay=5e-4)
    start = parameter.detach().clone()
    gradients = [torch.randn(3, 4), torch.randn(3, 4)]
    for gradient in gradients:
        parameter.grad = gradient.clone()
        optimizer.step()
    write_fixture(
        "sgd_momentum", {"learningRate": 0.1, "momentum": 0.9, "weightDecay": 5e-4},
        {"parameterBefore": start, "gradient1": gradients[0], "gradient2": gradients[1],
         "parameterAfter": parameter,
         "momentumBufferAfter": optimizer.state[parameter]["momentum_buffer"]},
    )


def main():
    torch.manual_seed(20261204)
    os.makedirs(OUTPUT, exist_ok=True)
    conv_fixtures()
    batch_norm_fixture()
    relu_fixture()
    max_pool_fixture("maxpool3x3_s2_p1", torch.randn(2, 3, 8, 8))
    max_pool_fixture("maxpool_ties_nan", max_pool_ties_nan_input())
    gap_fixture()
    linear_fixture()
    cross_entropy_fixture()
    sgd_fixture()
    batch_norm_backward_fixture()
    total = sum(os.path.getsize(os.path.join(OUTPUT, f)) for f in os.listdir(OUTPUT))
    print(f"wrote {len(os.listdir(OUTPUT))} files, {total} bytes, to {OUTPUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
