#!/usr/bin/env python3
"""Compare one SGD step of resnet-tui with the same step in PyTorch, in float32 and float64.

The script draws torchvision-style initial weights (Kaiming normal, fan_out) and a batch of
N(0, 1) images from --seed. It writes them to DIR/init.safetensors and DIR/batch.safetensors
and runs `resnet-tui trace --batch-file` on them for one step with the defaults of `train`
(lr 0.05, momentum 0.9, weight decay 5e-4). Then it repeats the step in PyTorch. It prints
the losses, the largest |conv1.weight| after the step, and the loss of an eval-mode forward
on the same batch after the step. For the gradients and the state after the step, it prints
each program's worst and median relative difference from float64, where a relative
difference is max |a - b| over a tensor divided by max |b|.

PyTorch's own float32 difference from float64 is the yardstick: where it is large, the step
is ill-conditioned, and no float32 program can be expected to match float64, or another
float32 program, closely.

Usage (with /work/venv/bin/python, torch 2.13 CPU and numpy):
  compare-step-pytorch.py --binary .build/release/resnet-tui --dir /tmp/step \\
      [--model resnet50] [--batch 2] [--input 3,32,32] [--seed 5]

The networks and the safetensors reader come from scripts/make-model-fixtures.py.
"""

import argparse
import importlib.util
import json
import pathlib
import subprocess

import numpy as np
import torch
from torch.nn import functional

_path = pathlib.Path(__file__).with_name("make-model-fixtures.py")
_spec = importlib.util.spec_from_file_location("model_fixtures", _path)
fixtures = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fixtures)

LEARNING_RATE = 0.05
MOMENTUM = 0.9
WEIGHT_DECAY = 5e-4
CLASSES = 10


def write_inputs(directory, model, batch, input_shape, seed):
    """Write the initial checkpoint and the batch file, and return the checkpoint metadata."""
    depth = int(model.removeprefix("resnet"))
    imagenet = depth in fixtures.IMAGENET_LAYOUTS
    blocks = fixtures.IMAGENET_LAYOUTS[depth][1] if imagenet else [(depth - 2) // 6] * 3
    metadata = fixtures.metadata_for(
        model, 64 if imagenet else 16, True, [], input_shape, CLASSES, blocks)
    torch.manual_seed(seed)
    net = fixtures.Net(fixtures.spec_from_metadata(metadata))
    fixtures.initialize(net)
    fixtures.save_safetensors(directory / "init.safetensors", net.state_dict(), metadata)
    generator = torch.Generator().manual_seed(seed)
    images = torch.randn([batch] + input_shape, generator=generator)
    labels = torch.randint(0, CLASSES, (batch,), generator=generator)
    fixtures.save_safetensors(
        directory / "batch.safetensors", {"images": images, "labels": labels}, {})
    return metadata


def load_net(metadata, path, dtype):
    _, tensors = fixtures.read_safetensors(path)
    net = fixtures.Net(fixtures.spec_from_metadata(metadata))
    net.load_state_dict(tensors, strict=True)
    return net.to(dtype)


def pytorch_step(metadata, directory, dtype):
    """Return (loss, gradients, state after the step, eval loss after the step)."""
    _, batch = fixtures.read_safetensors(directory / "batch.safetensors")
    net = load_net(metadata, directory / "init.safetensors", dtype).train()
    loss = functional.cross_entropy(net(batch["images"].to(dtype)), batch["labels"])
    loss.backward()
    gradients = {name: p.grad.detach().clone() for name, p in net.named_parameters()}
    torch.optim.SGD(
        net.parameters(), lr=LEARNING_RATE, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY
    ).step()
    return loss.item(), gradients, net.state_dict(), eval_loss(net, batch, dtype)


def eval_loss(net, batch, dtype):
    net.eval()
    with torch.no_grad():
        logits = net(batch["images"].to(dtype))
    return functional.cross_entropy(logits, batch["labels"]).item()


def relative_differences(tensors, reference):
    """Return name -> max |a - b| / max |b| over the floating-point tensors of `reference`."""
    differences = {}
    for name, value in reference.items():
        if not value.is_floating_point():
            assert torch.equal(tensors[name], value), f"{name} differs"
            continue
        scale = value.double().abs().max().item()
        difference = (tensors[name].double() - value.double()).abs().max().item()
        differences[name] = difference / scale if scale else difference
    return differences


def summary(label, differences):
    worst = max(differences, key=differences.get)
    values = np.array(list(differences.values()))
    return (f"  {label:28s} worst {differences[worst]:9.3g} ({worst}), "
            f"median {np.median(values):9.3g}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--binary", required=True, help="path of the resnet-tui executable")
    parser.add_argument("--dir", required=True, help="folder for the files it writes")
    parser.add_argument("--model", default="resnet50", help="resnet8 ... resnet152")
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--input", default="3,32,32", help="channels,height,width")
    parser.add_argument("--seed", type=int, default=5)
    arguments = parser.parse_args()

    directory = pathlib.Path(arguments.dir)
    directory.mkdir(parents=True, exist_ok=True)
    input_shape = [int(size) for size in arguments.input.split(",")]
    metadata = write_inputs(
        directory, arguments.model, arguments.batch, input_shape, arguments.seed)
    trace = directory / "trace"
    subprocess.run(
        [arguments.binary, "trace", "--model", arguments.model,
         "--batch-file", str(directory / "batch.safetensors"),
         "--load", str(directory / "init.safetensors"), "--out", str(trace)],
        check=True)
    with open(trace / "trace.jsonl") as file:
        resnet_tui_loss = next(record["loss"] for record in map(json.loads, file)
                          if record["phase"] == "loss")
    _, resnet_tui_gradients = fixtures.read_safetensors(trace / "grads.safetensors")
    _, resnet_tui_after = fixtures.read_safetensors(trace / "after.safetensors")
    _, batch = fixtures.read_safetensors(directory / "batch.safetensors")
    resnet_tui_eval = eval_loss(
        load_net(metadata, trace / "after.safetensors", torch.float32), batch, torch.float32)

    loss32, gradients32, after32, eval32 = pytorch_step(metadata, directory, torch.float32)
    loss64, gradients64, after64, eval64 = pytorch_step(metadata, directory, torch.float64)
    print(f"loss:                 resnet-tui {resnet_tui_loss:.7f}, PyTorch float32 {loss32:.7f}, "
          f"float64 {loss64:.7f}")
    conv1 = [state["conv1.weight"].abs().max().item()
             for state in (resnet_tui_after, after32, after64)]
    print(f"max |conv1.weight|:   resnet-tui {conv1[0]:.4g}, PyTorch float32 {conv1[1]:.4g}, "
          f"float64 {conv1[2]:.4g}")
    print(f"eval loss after step: resnet-tui weights {resnet_tui_eval:.6g} (in PyTorch float32), "
          f"PyTorch float32 {eval32:.6g}, float64 {eval64:.6g}")
    print("relative difference from PyTorch float64:")
    print(summary("gradients, resnet-tui", relative_differences(resnet_tui_gradients, gradients64)))
    print(summary("gradients, PyTorch float32", relative_differences(gradients32, gradients64)))
    print(summary("after the step, resnet-tui", relative_differences(resnet_tui_after, after64)))
    print(summary("after the step, PyTorch f32", relative_differences(after32, after64)))


if __name__ == "__main__":
    main()
