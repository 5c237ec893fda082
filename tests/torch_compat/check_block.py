"""Loads write_block's file into torch.nn.TransformerEncoderLayer(norm_first,
gelu, batch_first) with strict names and compares the outputs. Exit 77 (ctest:
skipped) where PyTorch or numpy is not installed.

Dropout is off on both sides (dropout=0.0 and eval()): besides being random,
the two layers drop different things in training. PyTorch's self_attn drops
attention weights; lasergrad's fused attention never builds them, so its
MultiHeadAttention drops its output instead (nn/transformer.h)."""
import json
import struct
import sys

try:
    import numpy as np
    import torch
except ImportError as e:
    print(f"skipped: {e}")
    sys.exit(77)


def load_safetensors(path):
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    meta = header.pop("__metadata__", {})
    data = memoryview(blob)[8 + n:]
    dtypes = {"F32": "<f4", "F64": "<f8", "I64": "<i8", "BOOL": "?"}
    out = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        out[name] = np.frombuffer(data[begin:end], dtype=dtypes[info["dtype"]]).reshape(info["shape"])
    return out, meta


tensors, meta = load_safetensors(sys.argv[1])
x = torch.from_numpy(tensors.pop("input").copy())
want = torch.from_numpy(tensors.pop("output").copy())
layer = torch.nn.TransformerEncoderLayer(
    d_model=int(meta["d_model"]), nhead=int(meta["nhead"]),
    dim_feedforward=int(meta["dim_feedforward"]), dropout=0.0, activation="gelu",
    batch_first=True, norm_first=True)
layer.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in tensors.items()}, strict=True)
layer.eval()
T = x.shape[1]
causal = torch.triu(torch.full((T, T), float("-inf")), diagonal=1)
with torch.no_grad():
    got = layer(x, src_mask=causal)
err = (got - want).abs().max().item()
print(f"max abs difference torch vs lasergrad: {err:.3g}")
sys.exit(0 if err < 1e-5 else 1)
