#!/usr/bin/env python3
"""Compute in PyTorch the ratio that scripts/gradient-profile.sh measures with resnet-tui:
the norm of the loss gradient at the first block's input over the norm at the last block's
input, at initialisation, in training mode, on one fixed batch.

Usage (with /work/venv/bin/python, torch 2.13 CPU and numpy):
  gradient-profile-pytorch.py --write-batch FILE [--seed N]
      write a batch file for resnet-tui's --batch-file: 32 images 3x32x32 drawn from
      N(0, 1) and labels drawn from 0..9, from the seed (default 0)
  gradient-profile-pytorch.py BATCH_FILE [--seed N]
      print the table of gradient-profile.sh for networks that PyTorch initialises as
      torchvision does (Kaiming normal, fan_out) from torch.manual_seed(N)
  gradient-profile-pytorch.py BATCH_FILE --checkpoint FILE...
      print the ratio and loss for the weights of each resnet-tui checkpoint, such as the
      after.safetensors of `resnet-tui trace --lr 0 --momentum 0 --weight-decay 0`, to
      compare both programs on the same weights and batch

The networks and the safetensors reader come from scripts/make-model-fixtures.py.
"""

import argparse
import importlib.util
import pathlib

import torch
from torch.nn import functional

_path = pathlib.Path(__file__).with_name("make-model-fixtures.py")
_spec = importlib.util.spec_from_file_location("model_fixtures", _path)
fixtures = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fixtures)


def write_batch(path, seed):
    generator = torch.Generator().manual_seed(seed)
    images = torch.randn(32, 3, 32, 32, generator=generator)
    labels = torch.randint(0, 10, (32,), generator=generator)
    fixtures.save_safetensors(path, {"images": images, "labels": labels}, {})


def metadata(name, batch_norm):
    return {
        "model": name,
        "width": "16",
        "batch_norm": "true" if batch_norm else "false",
        "input": "3,32,32",
        "classes": "10",
    }


def build(name, batch_norm, zero_init_residual, seed):
    """Build the network and initialise it as torchvision's ResNet does. With
    zero_init_residual each block's last batch-norm weight starts at zero, as torchvision's
    option does. Without batch norm the last convolution's weight starts at zero instead,
    as resnet-tui's --zero-init-residual does."""
    torch.manual_seed(seed)
    net = fixtures.Net(fixtures.spec_from_metadata(metadata(name, batch_norm)))
    fixtures.initialize(net)
    if zero_init_residual:
        with torch.no_grad():
            for module in net.modules():
                if isinstance(module, fixtures.Block):
                    last = "bn" if module.batch_norm else "conv"
                    getattr(module, f"{last}{module.count}").weight.zero_()
    return net


def profile(net, images, labels):
    """Return (ratio, loss) for one forward and backward pass in training mode."""
    net.train()
    inputs = []

    def keep_input(module, arguments):
        arguments[0].retain_grad()
        inputs.append(arguments[0])

    blocks = [module for module in net.modules() if isinstance(module, fixtures.Block)]
    handles = [block.register_forward_pre_hook(keep_input) for block in blocks]
    loss = functional.cross_entropy(net(images), labels)
    loss.backward()
    for handle in handles:
        handle.remove()
    first = inputs[0].grad.norm().item()
    last = inputs[-1].grad.norm().item()
    return first / last if last > 0 else float("nan"), loss.item()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("batch", nargs="?", help="batch file (images F32, labels I64)")
    parser.add_argument("--write-batch", metavar="FILE")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--checkpoint", nargs="+", metavar="FILE")
    arguments = parser.parse_args()
    if arguments.write_batch:
        write_batch(arguments.write_batch, arguments.seed)
        print(f"wrote {arguments.write_batch}")
        return
    if not arguments.batch:
        parser.error("give a batch file or --write-batch FILE")
    _, batch = fixtures.read_safetensors(arguments.batch)
    images, labels = batch["images"], batch["labels"]

    if arguments.checkpoint:
        for path in arguments.checkpoint:
            stored, tensors = fixtures.read_safetensors(path)
            net = fixtures.Net(fixtures.spec_from_metadata(stored))
            net.load_state_dict(tensors, strict=True)
            ratio, loss = profile(net, images, labels)
            print(f"{path}: ratio {ratio:.6g} loss {loss:.6g}")
        return

    print(f"data: the batch in {arguments.batch}; weights from torch.manual_seed({arguments.seed})")
    header = ("network", "BN ratio", "BN loss", "no-BN ratio", "no-BN loss")
    print("%-30s %12s %12s %12s %12s" % header)
    for depth in (20, 56, 110):
        for name, zero_init in ((f"resnet{depth}", False), (f"plain{depth}", False),
                                (f"resnet{depth}", True)):
            cells = []
            for batch_norm in (True, False):
                net = build(name, batch_norm, zero_init, arguments.seed)
                ratio, loss = profile(net, images, labels)
                cells += [f"{ratio:.4g}", f"{loss:.6g}"]
            label = name + (" --zero-init-residual" if zero_init else "")
            print("%-30s %12s %12s %12s %12s" % (label, *cells))


if __name__ == "__main__":
    main()
