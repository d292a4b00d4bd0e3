"""Writes one reference fixture in the format the Swift tests read (Tests/FixtureSupport).

A fixture is NAME.json, a header with the settings and, per tensor, its name, shape and
offset (in floats) into NAME.bin, which stores every tensor as raw little-endian float32.
"""

import json
import os
import struct

import torch


def write_fixture(directory, kind, name, settings, tensors):
    """Write NAME.json and NAME.bin into `directory`. `kind` names what the fixture checks
    ("kernel" or "block") and becomes the header key holding `name`; `tensors` maps names
    to torch tensors."""
    header = {kind: name, "torch": torch.__version__, "settings": settings, "tensors": []}
    payload = bytearray()
    offset = 0
    for tensor_name, tensor in tensors.items():
        values = tensor.detach().to(torch.float32).contiguous().flatten().tolist()
        header["tensors"].append(
            {"name": tensor_name, "shape": list(tensor.shape), "offset": offset}
        )
        payload += struct.pack(f"<{len(values)}f", *values)
        offset += len(values)
    with open(os.path.join(directory, name + ".json"), "w") as file:
        json.dump(header, file, indent=1)
        file.write("\n")
    with open(os.path.join(directory, name + ".bin"), "wb") as file:
        file.write(payload)
