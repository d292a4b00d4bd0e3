#!/usr/bin/env python3
"""Write the PyTorch reference fixtures for resnet-tui's whole-model tests.

For each case this script builds the network in plain PyTorch (torchvision's module layout
and state-dict names, without torchvision itself), draws weights from a fixed seed and then
moves batch-norm weights, biases and running statistics away from their initial values, so
the test exercises every term. It writes two safetensors files to Tests/TrainingTests/Fixtures/
models/:

  CASE.checkpoint.safetensors  the initial state dict, as a checkpoint saved by PyTorch,
                               with the model in __metadata__ as resnet-tui writes it;
  CASE.expected.safetensors    a fixed batch (images F32 [N,C,H,W], labels I64 [N]), the
                               cross-entropy loss, every parameter gradient ("grad.NAME")
                               and the state dict after one SGD step ("after.NAME").

The SGD step uses lr 0.1, momentum 0.9, weight decay 5e-4, as torch.optim.SGD defines
them. A parameter that gets no gradient (the projection of a block whose skip is off) is
skipped by SGD; its "grad." entry is zero.

Then it loads every checkpoint that resnet-tui wrote into the same directory
(*.resnet-tui.safetensors) with load_state_dict(strict=True) and checks that each tensor
round-trips exactly. Create those with:

  resnet-tui train --model resnet20 --width 4 --steps 2 --batch 8 \\
      --save Tests/TrainingTests/Fixtures/models/resnet20.resnet-tui.safetensors

Usage: /work/venv/bin/python scripts/make-model-fixtures.py [--verify-only]
Needs torch and numpy (tested with torch 2.13.0+cpu, numpy 2.4). When the `safetensors`
package is importable (tested with 0.8.0, for example from
`pip install --target DIR safetensors` and PYTHONPATH=DIR), the checkpoints are written
with safetensors.torch.save_file, as PyTorch users save them, and every file is read back
with safetensors.torch.load_file as well; otherwise a writer in this script is used.
"""

import json
import pathlib
import struct
import sys

import numpy as np
import torch
from torch import nn
from torch.nn import functional

try:
    import safetensors.torch as reference_safetensors
except ImportError:
    reference_safetensors = None

ROOT = pathlib.Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "Tests" / "TrainingTests" / "Fixtures" / "models"

LEARNING_RATE = 0.1
MOMENTUM = 0.9
WEIGHT_DECAY = 5e-4

IMAGENET_LAYOUTS = {
    18: ("basic", [2, 2, 2, 2]),
    34: ("basic", [3, 4, 6, 3]),
    50: ("bottleneck", [3, 4, 6, 3]),
    101: ("bottleneck", [3, 4, 23, 3]),
    152: ("bottleneck", [3, 8, 36, 3]),
}

# --- safetensors, written and read by hand so the script needs only torch and numpy ---

DTYPES = {
    torch.float32: ("F32", np.float32),
    torch.float64: ("F64", np.float64),
    torch.int64: ("I64", np.int64),
}
NUMPY_BY_NAME = {name: numpy_type for name, numpy_type in DTYPES.values()}


def save_safetensors(path, tensors, metadata):
    """Write `tensors` (name -> tensor, in order) and string metadata to `path`."""
    header = {"__metadata__": metadata}
    offset = 0
    blobs = []
    for name, tensor in tensors.items():
        dtype_name, numpy_type = DTYPES[tensor.dtype]
        blob = tensor.detach().contiguous().numpy().astype(numpy_type).tobytes()
        header[name] = {
            "dtype": dtype_name,
            "shape": list(tensor.shape),
            "data_offsets": [offset, offset + len(blob)],
        }
        offset += len(blob)
        blobs.append(blob)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as file:
        file.write(struct.pack("<Q", len(text)))
        file.write(text)
        for blob in blobs:
            file.write(blob)


def load_safetensors(path):
    """Return (metadata, name -> tensor) from a safetensors file, checked against the
    reference reader when it is installed."""
    metadata, tensors = read_safetensors(path)
    if reference_safetensors is not None:
        reference = reference_safetensors.load_file(str(path))
        assert reference.keys() == tensors.keys(), path
        for name, value in reference.items():
            assert value.dtype == tensors[name].dtype, name
            assert torch.equal(value, tensors[name]), name
    return metadata, tensors


def read_safetensors(path):
    data = pathlib.Path(path).read_bytes()
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + length])
    metadata = header.pop("__metadata__", {})
    base = 8 + length
    tensors = {}
    for name, entry in header.items():
        begin, end = entry["data_offsets"]
        array = np.frombuffer(data[base + begin : base + end], dtype=NUMPY_BY_NAME[entry["dtype"]])
        tensors[name] = torch.from_numpy(array.copy()).reshape(entry["shape"])
    return metadata, tensors


# --- the networks, with torchvision's module names ---


class Block(nn.Module):
    """A basic block (two 3x3 convolutions) or a bottleneck (1x1, 3x3 with the stride, 1x1
    to 4x the channels), each convolution followed by batch norm, or given a bias without
    batch norm. The projection is torchvision's `downsample`: a 1x1 convolution and batch
    norm. With `skip` False the block computes relu(F(x)) and the projection is unused."""

    def __init__(self, kind, in_channels, width, stride, batch_norm, skip):
        super().__init__()
        if kind == "basic":
            convolutions = [(in_channels, width, 3, stride, 1), (width, width, 3, 1, 1)]
        else:
            convolutions = [
                (in_channels, width, 1, 1, 0),
                (width, width, 3, stride, 1),
                (width, 4 * width, 1, 1, 0),
            ]
        self.count = len(convolutions)
        self.batch_norm = batch_norm
        for index, (cin, cout, kernel, step, padding) in enumerate(convolutions, start=1):
            conv = nn.Conv2d(cin, cout, kernel, step, padding, bias=not batch_norm)
            setattr(self, f"conv{index}", conv)
            if batch_norm:
                setattr(self, f"bn{index}", nn.BatchNorm2d(cout))
        out_channels = convolutions[-1][1]
        self.downsample = None
        if stride != 1 or in_channels != out_channels:
            modules = [nn.Conv2d(in_channels, out_channels, 1, stride, bias=not batch_norm)]
            if batch_norm:
                modules.append(nn.BatchNorm2d(out_channels))
            self.downsample = nn.Sequential(*modules)
        self.skip = skip

    def forward(self, x):
        h = x
        for index in range(1, self.count + 1):
            h = getattr(self, f"conv{index}")(h)
            if self.batch_norm:
                h = getattr(self, f"bn{index}")(h)
            if index < self.count:
                h = functional.relu(h)
        if self.skip:
            h = h + (self.downsample(x) if self.downsample is not None else x)
        return functional.relu(h)


class Net(nn.Module):
    """A CIFAR-style ResNet (3x3 stem, stages of widths w, 2w, 4w) or an ImageNet-style one
    (7x7/2 stem, 3x3/2 max pool, stages of widths w, 2w, 4w, 8w)."""

    def __init__(self, spec):
        super().__init__()
        imagenet = spec["family"] == "imagenet"
        width = spec["width"]
        batch_norm = spec["batch_norm"]
        channels, classes = spec["input"][0], spec["classes"]
        self.batch_norm = batch_norm
        self.conv1 = nn.Conv2d(
            channels, width, 7 if imagenet else 3, 2 if imagenet else 1,
            3 if imagenet else 1, bias=not batch_norm)
        if batch_norm:
            self.bn1 = nn.BatchNorm2d(width)
        self.pool = imagenet
        expansion = 4 if spec["kind"] == "bottleneck" else 1
        in_channels = width
        number = 0
        for stage, count in enumerate(spec["stages"]):
            blocks = []
            for index in range(count):
                number += 1
                stride = 2 if stage > 0 and index == 0 else 1
                blocks.append(Block(
                    spec["kind"], in_channels, width << stage, stride, batch_norm,
                    number not in spec["skip_off"]))
                in_channels = (width << stage) * expansion
            setattr(self, f"layer{stage + 1}", nn.Sequential(*blocks))
        self.stage_count = len(spec["stages"])
        self.fc = nn.Linear(in_channels, classes)

    def forward(self, x):
        x = self.conv1(x)
        if self.batch_norm:
            x = self.bn1(x)
        x = functional.relu(x)
        if self.pool:
            x = functional.max_pool2d(x, 3, 2, 1)
        for stage in range(self.stage_count):
            x = getattr(self, f"layer{stage + 1}")(x)
        return self.fc(torch.flatten(functional.adaptive_avg_pool2d(x, 1), 1))


def initialize(net):
    """torchvision's ResNet initialisation: Kaiming normal (fan_out, ReLU) for convolutions,
    batch norm weight 1 and bias 0, PyTorch's default for the classifier."""
    for module in net.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.BatchNorm2d):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)


def perturb(net, generator):
    """Move batch-norm parameters, running statistics and convolution biases away from
    their initial values, so that the fixture exercises every term of their gradients and
    of the running-statistics update."""
    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, nn.BatchNorm2d):
                count = module.num_features
                module.weight.copy_(0.5 + torch.rand(count, generator=generator))
                module.bias.copy_(torch.rand(count, generator=generator) - 0.5)
                module.running_mean.copy_(torch.rand(count, generator=generator) - 0.5)
                module.running_var.copy_(0.5 + torch.rand(count, generator=generator))
                module.num_batches_tracked.fill_(3)
            elif isinstance(module, nn.Conv2d) and module.bias is not None:
                module.bias.copy_(0.2 * torch.rand(module.bias.shape, generator=generator) - 0.1)


# --- model specs, in the form of resnet-tui's checkpoint metadata ---


def spec_from_metadata(metadata):
    """Build the spec dictionary from resnet-tui's checkpoint metadata."""
    name = metadata["model"]
    depth = int(name.removeprefix("plain").removeprefix("resnet"))
    if depth in IMAGENET_LAYOUTS and not name.startswith("plain"):
        family = "imagenet"
        kind, stages = IMAGENET_LAYOUTS[depth]
    else:
        family, kind = "cifar", "basic"
        stages = [(depth - 2) // 6] * 3
    if metadata.get("blocks"):
        stages = [int(item) for item in metadata["blocks"].split(",")]
    skip_off = {int(item) for item in metadata.get("skip_off", "").split(",") if item}
    if name.startswith("plain"):
        skip_off = set(range(1, sum(stages) + 1))
    return {
        "family": family,
        "kind": kind,
        "stages": stages,
        "width": int(metadata["width"]),
        "batch_norm": metadata["batch_norm"] == "true",
        "skip_off": skip_off,
        "input": [int(item) for item in metadata["input"].split(",")],
        "classes": int(metadata["classes"]),
    }


def metadata_for(name, width, batch_norm, skip_off, input_shape, classes, blocks):
    return {
        "format": "pt",
        "model": name,
        "width": str(width),
        "blocks": ",".join(str(count) for count in blocks),
        "batch_norm": "true" if batch_norm else "false",
        "skip_off": ",".join(str(block) for block in sorted(skip_off)),
        "zero_init_residual": "false",
        "input": ",".join(str(size) for size in input_shape),
        "classes": str(classes),
    }


# Small widths, inputs and batches keep the files to about 100-300 KB each.
#
# The bottleneck cases use 4 or 5 blocks (resnet50 with --blocks) rather than resnet50's 16.
# With 16 bottleneck blocks at these sizes, PyTorch's own float32 gradients differ from its
# float64 gradients by 1e-4 to 1e-1 of their largest magnitude, because ReLU masks and small
# batch-norm variances amplify rounding. So no float32 engine could match within 1e-4. At 4
# or 5 blocks that difference is 1e-5 to 4e-5 (measured over seeds 100-105).
CIFAR = dict(width=4, input_shape=[3, 12, 12], classes=10, batch=8, blocks=[3, 3, 3])
BOTTLENECK = dict(width=4, input_shape=[3, 32, 32], classes=10, batch=8)
CASES = [
    ("resnet20", dict(CIFAR, name="resnet20", batch_norm=True, skip_off=[])),
    ("plain20", dict(CIFAR, name="plain20", batch_norm=True, skip_off=[])),
    ("resnet20-no-bn", dict(CIFAR, name="resnet20", batch_norm=False, skip_off=[])),
    ("bottleneck", dict(BOTTLENECK, name="resnet50", blocks=[1, 1, 1, 1], batch_norm=True,
                        skip_off=[])),
    # Block 1 (layer1.0, projection) keeps its skip; block 2 (layer1.1, identity) and
    # block 3 (layer2.0, projection) have it off.
    ("bottleneck-skip-off", dict(BOTTLENECK, name="resnet50", blocks=[2, 1, 1, 1],
                                 batch_norm=True, skip_off=[2, 3])),
]


def make_case(case, settings, seed):
    metadata = metadata_for(
        settings["name"], settings["width"], settings["batch_norm"], settings["skip_off"],
        settings["input_shape"], settings["classes"], settings["blocks"])
    spec = spec_from_metadata(metadata)
    torch.manual_seed(seed)
    net = Net(spec)
    initialize(net)
    generator = torch.Generator().manual_seed(seed + 1)
    perturb(net, generator)
    checkpoint = FIXTURES / f"{case}.checkpoint.safetensors"
    if reference_safetensors is not None:
        state = {name: value.contiguous() for name, value in net.state_dict().items()}
        reference_safetensors.save_file(state, str(checkpoint), metadata=metadata)
    else:
        save_safetensors(checkpoint, net.state_dict(), metadata)

    images = torch.randn([settings["batch"]] + settings["input_shape"], generator=generator)
    labels = torch.randint(0, settings["classes"], (settings["batch"],), generator=generator)

    # The reference step runs in float64 from the float32 weights and images, so the
    # fixture holds the exact result (rounded to float32) rather than one float32 rounding
    # path, and the test measures resnet-tui's error alone.
    net = net.double()
    net.train()
    loss = functional.cross_entropy(net(images.double()), labels)
    loss.backward()
    gradients = {}
    for name, parameter in net.named_parameters():
        grad = parameter.grad if parameter.grad is not None else torch.zeros_like(parameter)
        gradients["grad." + name] = grad.float()
    optimizer = torch.optim.SGD(
        net.parameters(), lr=LEARNING_RATE, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY)
    optimizer.step()
    after = {
        "after." + name: value.float() if value.is_floating_point() else value.clone()
        for name, value in net.state_dict().items()
    }

    expected = {"images": images, "labels": labels,
                "loss": loss.detach().reshape([])}
    expected.update(gradients)
    expected.update(after)
    save_safetensors(
        FIXTURES / f"{case}.expected.safetensors", expected,
        {"learning_rate": str(LEARNING_RATE), "momentum": str(MOMENTUM),
         "weight_decay": str(WEIGHT_DECAY), "torch": torch.__version__})
    print(f"{case}: loss {loss.item():.6f}, {len(gradients)} parameter tensors")


def verify_resnet_tui_checkpoints():
    """Load every checkpoint resnet-tui wrote with strict=True; fail on any mismatch."""
    paths = sorted(FIXTURES.glob("*.resnet-tui.safetensors"))
    if not paths:
        sys.exit(f"no *.resnet-tui.safetensors in {FIXTURES}; see the docstring")
    for path in paths:
        metadata, tensors = load_safetensors(path)
        net = Net(spec_from_metadata(metadata))
        result = net.load_state_dict(tensors, strict=True)
        for name, value in net.state_dict().items():
            if value.dtype != tensors[name].dtype or not torch.equal(value, tensors[name]):
                sys.exit(f"{path.name}: {name} differs after load_state_dict")
        net.eval()
        spec = spec_from_metadata(metadata)
        with torch.no_grad():
            logits = net(torch.randn([2] + spec["input"]))
        if not torch.isfinite(logits).all():
            sys.exit(f"{path.name}: the loaded model gives non-finite logits")
        print(f"{path.name}: load_state_dict(strict=True) {result}, {len(tensors)} tensors "
              f"equal, eval forward finite")
    if reference_safetensors is not None:
        for path in sorted(FIXTURES.glob("*.safetensors")):
            load_safetensors(path)
        print("every fixture reads the same with safetensors", reference_safetensors.__name__)


def main():
    # Safetensors data is little-endian; numpy's tobytes writes the machine's order.
    assert sys.byteorder == "little", "this script writes little-endian data only"
    FIXTURES.mkdir(parents=True, exist_ok=True)
    if "--verify-only" not in sys.argv:
        for index, (case, settings) in enumerate(CASES):
            make_case(case, settings, seed=100 + index)
    verify_resnet_tui_checkpoints()


if __name__ == "__main__":
    main()
