"""Writes the seed corpus under Fuzz/corpus/: a few valid and slightly broken inputs per
fuzz target, each under 64 KB. The MNIST seeds take the first images of the real files
in ../shared/data/mnist when they are present (pass another folder as the argument)."""

import gzip
import json
import os
import struct
import sys
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")


def write(target, name, data):
    assert len(data) < 64 * 1024, (target, name, len(data))
    folder = os.path.join(CORPUS, target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as file:
        file.write(data)


def safetensors(tensors, metadata=None):
    """Builds a safetensors file from (name, dtype, shape, raw bytes) tuples."""
    header = {}
    if metadata is not None:
        header["__metadata__"] = metadata
    offset = 0
    payload = b""
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
        payload += raw
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + payload


def floats(values):
    return struct.pack("<%df" % len(values), *values)


def int64s(values):
    return struct.pack("<%dq" % len(values), *values)


def idx_images(count, rows, columns, pixels):
    return struct.pack(">IIII", 0x803, count, rows, columns) + bytes(pixels)


def idx_labels(labels):
    return struct.pack(">II", 0x801, len(labels)) + bytes(labels)


def mnist_prefix(folder, name, keep):
    path = os.path.join(folder, name)
    if not os.path.exists(path):
        return None
    with gzip.open(path, "rb") as file:
        return file.read(keep)


def main():
    mnist = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "../../shared/data/mnist")

    # safetensors: the headers contain strings, escapes, numbers and nesting for the JSON parser.
    weights = safetensors(
        [("conv.weight", "F32", [2, 1, 3, 3], floats([0.5 * i for i in range(18)])),
         ("step", "I64", [], int64s([7]))],
        metadata={"format": "pt", "note": "caf\u00e9 \\\"quoted\\\" \u2603"})
    write("safetensors", "valid_two_tensors", weights)
    write("safetensors", "valid_empty", safetensors([]))
    write("safetensors", "truncated_payload", weights[:-5])
    write("safetensors", "header_length_too_large", struct.pack("<Q", 1 << 40) + b"{}")
    overlapping = (b'{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},'
                   b'"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}')
    write("safetensors", "overlapping_offsets",
          struct.pack("<Q", len(overlapping)) + overlapping + bytes(8))
    write("safetensors", "shape_overflow",
          safetensors([("x", "F32", [1 << 62, 1 << 62], b"")]))

    # batchfile: the safetensors layout that `--data batch:FILE` reads.
    images = floats([i / 10 for i in range(2 * 1 * 4 * 4)])
    batch = safetensors([("images", "F32", [2, 1, 4, 4], images),
                         ("labels", "I64", [2], int64s([3, 9]))])
    write("batchfile", "valid_two_images", batch)
    write("batchfile", "negative_label",
          safetensors([("images", "F32", [1, 1, 2, 2], floats([0, 1, 2, 3])),
                       ("labels", "I64", [1], int64s([-1]))]))
    write("batchfile", "nan_pixel",
          safetensors([("images", "F32", [1, 1, 1, 2], floats([0, float("nan")])),
                       ("labels", "I64", [1], int64s([0]))]))
    write("batchfile", "labels_wrong_count",
          safetensors([("images", "F32", [2, 1, 1, 1], floats([0, 1])),
                       ("labels", "I64", [3], int64s([0, 1, 2]))]))

    # idx: image and label files, real MNIST prefixes when available.
    write("idx", "images_2x3x3", idx_images(2, 3, 3, range(18)))
    write("idx", "labels_five", idx_labels([0, 1, 2, 9, 4]))
    write("idx", "labels_out_of_range", idx_labels([0, 10]))
    write("idx", "images_count_too_large", idx_images(0xFFFFFFFF, 28, 28, range(16)))
    write("idx", "images_zero_rows", idx_images(1, 0, 28, []))
    write("idx", "header_cut_short", idx_images(1, 2, 2, range(4))[:10])
    prefix = mnist_prefix(mnist, "train-images-idx3-ubyte.gz", 16 + 3 * 784)
    if prefix is not None:
        write("idx", "mnist_train_images_first3",
              idx_images(3, 28, 28, prefix[16:]))
    prefix = mnist_prefix(mnist, "train-labels-idx1-ubyte.gz", 8 + 100)
    if prefix is not None:
        write("idx", "mnist_train_labels_first100", idx_labels(prefix[8:]))

    # cifar10: records of one label byte and 3072 pixel bytes.
    record = bytes([3]) + bytes((i * 7) % 256 for i in range(3072))
    write("cifar10", "one_record", record)
    write("cifar10", "two_records", record + bytes([9]) + record[1:])
    write("cifar10", "label_out_of_range", bytes([10]) + record[1:])
    write("cifar10", "record_cut_short", record[:-1])

    # gzip: single and multiple members, damaged CRC, truncation, trailing bytes.
    text = b"resnet-tui gzip seed " * 40
    member = gzip.compress(text, mtime=0)
    write("gzip", "one_member", member)
    write("gzip", "two_members", member + gzip.compress(b"second", mtime=0))
    write("gzip", "empty_member", gzip.compress(b"", mtime=0))
    damaged = bytearray(member)
    damaged[-6] ^= 0xFF
    write("gzip", "bad_crc", bytes(damaged))
    write("gzip", "truncated", member[: len(member) // 2])
    write("gzip", "trailing_garbage", member + b"garbage")
    bomb = zlib.compressobj(9, zlib.DEFLATED, 31)
    write("gzip", "inflates_to_8mib",
          bomb.compress(bytes(8 << 20)) + bomb.flush())

    # arguments: NUL-separated argv entries.
    def argv(*items):
        return b"\0".join(item.encode() for item in items)

    write("arguments", "lr_and_batch", argv("--lr", "0.05", "--batch=128", "--no-color"))
    write("arguments", "help_short", argv("-h"))
    write("arguments", "misspelled_flag", argv("--bacth", "64"))
    write("arguments", "missing_value", argv("--data"))
    write("arguments", "switch_with_value", argv("--help=yes"))
    write("arguments", "empty_name", argv("--=x", "--", "-"))
    write("arguments", "unicode_value", argv("--data", "batch:\u00e9t\u00e9.safetensors"))


if __name__ == "__main__":
    main()
