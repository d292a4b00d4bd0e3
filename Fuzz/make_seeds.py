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


def resnet8_state(width, classes, nan_at=None):
    """Returns the tensors of resnet8 with base width `width` for one input channel, named as
    torchvision names them, with small deterministic values. `nan_at` names a tensor whose
    first value becomes NaN."""
    tensors = []

    def add(name, shape):
        count = 1
        for dimension in shape:
            count *= dimension
        values = [((i * 37) % 17 - 8) / 16 for i in range(count)]
        if name == nan_at:
            values[0] = float("nan")
        tensors.append((name, "F32", shape, floats(values)))

    def norm(prefix, channels):
        for suffix in ["weight", "bias", "running_mean"]:
            add("%s.%s" % (prefix, suffix), [channels])
        tensors.append(("%s.running_var" % prefix, "F32", [channels], floats([1.0] * channels)))
        tensors.append(("%s.num_batches_tracked" % prefix, "I64", [], int64s([3])))

    add("conv1.weight", [width, 1, 3, 3])
    norm("bn1", width)
    channels_in = width
    for stage in range(3):
        channels = width << stage
        block = "layer%d.0" % (stage + 1)
        add(block + ".conv1.weight", [channels, channels_in, 3, 3])
        norm(block + ".bn1", channels)
        add(block + ".conv2.weight", [channels, channels, 3, 3])
        norm(block + ".bn2", channels)
        if stage > 0:
            add(block + ".downsample.0.weight", [channels, channels_in, 1, 1])
            norm(block + ".downsample.1", channels)
        channels_in = channels
    add("fc.weight", [classes, channels_in])
    add("fc.bias", [classes])
    return tensors


def checkpoint_metadata(model="resnet8", width="2", blocks="1,1,1", input_size="1,4,4",
                        skip_off="", batch_norm="true"):
    return {"format": "pt", "model": model, "width": width, "blocks": blocks,
            "batch_norm": batch_norm, "skip_off": skip_off, "zero_init_residual": "false",
            "input": input_size, "classes": "10"}


def data_files(layout, parts):
    """Builds a datafiles input: the layout byte, the 16-bit lengths of all parts but the
    last (0xFFFF leaves a file out, given as None), then the parts."""
    data = bytes([layout])
    for part in parts[:-1]:
        data += struct.pack("<H", 0xFFFF if part is None else len(part))
    return data + b"".join(part for part in parts if part is not None)


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

    # checkpoint: state dicts of the fuzz harness's resnet8 (base width 2, 1x4x4 images,
    # 10 classes), valid and with one problem each.
    state = resnet8_state(2, 10)
    write("checkpoint", "valid_resnet8_w2", safetensors(state, checkpoint_metadata()))
    write("checkpoint", "valid_no_metadata", safetensors(state))
    write("checkpoint", "nan_weight",
          safetensors(resnet8_state(2, 10, nan_at="layer2.0.conv1.weight"), checkpoint_metadata()))
    write("checkpoint", "missing_fc_bias", safetensors(state[:-1], checkpoint_metadata()))
    write("checkpoint", "unexpected_tensor",
          safetensors(state + [("extra.weight", "F32", [1], floats([1]))]))
    wrong_shape = [(n, d, [2, 1, 1, 9] if n == "conv1.weight" else s, r) for n, d, s, r in state]
    write("checkpoint", "wrong_shape", safetensors(wrong_shape))
    counter_f32 = [(n, "F32", [], floats([3])) if n.endswith("num_batches_tracked")
                   else (n, d, s, r) for n, d, s, r in state]
    write("checkpoint", "counter_f32", safetensors(counter_f32))
    write("checkpoint", "metadata_skips_off",
          safetensors(state, checkpoint_metadata(skip_off="1,3")))
    write("checkpoint", "metadata_resnet18_one_pixel",
          safetensors(state, checkpoint_metadata(model="resnet18", width="1", input_size="1,1,1",
                                                 blocks="1,1,1,1")))
    write("checkpoint", "metadata_no_bn",
          safetensors(state, checkpoint_metadata(batch_norm="false")))

    # datafiles: MNIST and CIFAR-10 directories, written to disk by the harness.
    train_images = idx_images(2, 4, 4, [(i * 29) % 256 for i in range(32)])
    train_labels = idx_labels([1, 7])
    test_images = idx_images(1, 4, 4, range(16))
    test_labels = idx_labels([9])
    mnist_files = [train_images, train_labels, test_images, test_labels]
    write("datafiles", "mnist_plain", data_files(0, mnist_files))
    write("datafiles", "mnist_gzip",
          data_files(0, [gzip.compress(part, mtime=0) for part in mnist_files]))
    write("datafiles", "mnist_blank_pixels",
          data_files(0, [idx_images(2, 4, 4, bytes(32)), train_labels, test_images, test_labels]))
    write("datafiles", "mnist_missing_labels",
          data_files(0, [train_images, None, test_images, test_labels]))
    write("datafiles", "mnist_count_mismatch",
          data_files(0, [train_images, idx_labels([1, 2, 3]), test_images, test_labels]))
    write("datafiles", "mnist_size_mismatch",
          data_files(0, [train_images, train_labels, idx_images(1, 2, 8, range(16)), test_labels]))
    cifar_record = bytes([4]) + bytes((i * 11) % 256 for i in range(3072))
    write("datafiles", "cifar_one_record", data_files(1, [cifar_record, cifar_record]))
    write("datafiles", "cifar_gzip",
          data_files(1, [gzip.compress(cifar_record, mtime=0)] * 2))
    write("datafiles", "cifar_missing_test", data_files(1, [cifar_record, None]))

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
