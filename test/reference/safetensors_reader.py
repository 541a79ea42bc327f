"""A safetensors reader of its own for the reference scripts (it also checks that our files follow the
spec): F32, F16 and BF16 tensors as float32 torch tensors, by name; `skip(name)` leaves tensors out."""
import json
import struct

import numpy as np
import torch


def read_safetensors(path, skip=lambda name: False):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__" or skip(name):
            continue
        begin, end = info["data_offsets"]
        raw = data[base + begin : base + end]
        if info["dtype"] == "F32":
            arr = np.frombuffer(raw, dtype="<f4")
        elif info["dtype"] == "F16":
            arr = np.frombuffer(raw, dtype="<f2").astype(np.float32)
        elif info["dtype"] == "BF16":
            arr = (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
        else:
            raise SystemExit(f"{path}: tensor {name} is {info['dtype']}, not F32, F16 or BF16")
        out[name] = torch.from_numpy(arr.reshape(info["shape"]).copy())
    return out
