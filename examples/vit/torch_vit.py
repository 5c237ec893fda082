#!/usr/bin/env python3
"""The PyTorch twin of lg-vit's model (examples/vit/vit_model.h): the same
layers under the same parameter names, so that a state dict lasergrad saves
loads here with strict=True.

  python3 torch_vit.py FILE.safetensors...

checks files written by write_vit_twin: loads each one's parameters into the
twin built from its metadata, then compares the logits (eval mode) and the
gradients of the cross-entropy loss with lasergrad's. Exit 0 when all agree,
1 otherwise, 77 (ctest: skipped) where PyTorch or numpy is not installed.
bench/pytorch/vit_train.py imports the model from here.

The blocks are written out rather than torch.nn.TransformerEncoderLayer so
that LASER attention fits in: log(softmax(q k^T / sqrt(d)) exp(v)), computed
with the per-column max of v as shift. Their names are that layer's
(self_attn.in_proj_weight, linear1, norm1, ...). Dropout sits where
lasergrad's does (after the attention's out_proj, not on its weights)."""
import json
import math
import struct
import sys

try:
    import numpy as np
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError as e:
    if __name__ == "__main__":
        print(f"skipped: {e}")
        sys.exit(77)
    raise


class SelfAttention(nn.Module):
    def __init__(self, d_model, heads, attention, dropout):
        super().__init__()
        if attention not in ("laser", "softmax"):
            raise ValueError(f"attention must be laser or softmax, got {attention!r}")
        self.heads, self.laser = heads, attention == "laser"
        self.in_proj_weight = nn.Parameter(torch.empty(3 * d_model, d_model))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * d_model))
        self.out_proj = nn.Linear(d_model, d_model)
        self.drop = nn.Dropout(dropout)

    def forward(self, x):
        B, T, C = x.shape
        qkv = F.linear(x, self.in_proj_weight, self.in_proj_bias)
        q, k, v = qkv.view(B, T, 3, self.heads, C // self.heads).permute(2, 0, 3, 1, 4)
        weights = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-1)
        if self.laser:
            shift = v.amax(dim=-2, keepdim=True).detach()
            y = torch.log(weights @ torch.exp(v - shift)) + shift
        else:
            y = weights @ v
        return self.drop(self.out_proj(y.transpose(1, 2).reshape(B, T, C)))


class Block(nn.Module):
    """x + attn(norm1(x)), then x + linear2(gelu(linear1(norm2(x))))."""

    def __init__(self, d_model, heads, dim_feedforward, attention, dropout):
        super().__init__()
        self.self_attn = SelfAttention(d_model, heads, attention, dropout)
        self.linear1 = nn.Linear(d_model, dim_feedforward)
        self.dropout = nn.Dropout(dropout)
        self.linear2 = nn.Linear(dim_feedforward, d_model)
        self.norm1, self.norm2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.dropout1, self.dropout2 = nn.Dropout(dropout), nn.Dropout(dropout)

    def forward(self, x):
        x = x + self.dropout1(self.self_attn(self.norm1(x)))
        mlp = self.linear2(self.dropout(F.gelu(self.linear1(self.norm2(x)))))
        return x + self.dropout2(mlp)


class Vit(nn.Module):
    def __init__(self, image_size=28, channels=1, patch=4, d_model=128, layers=4, heads=4,
                 mlp_ratio=2, classes=10, dropout=0.0, attention="laser", pool="cls"):
        super().__init__()
        if pool not in ("cls", "mean"):
            raise ValueError(f"pool must be cls or mean, got {pool!r}")
        tokens = (image_size // patch) ** 2 + (1 if pool == "cls" else 0)
        self.patch_embed = nn.Conv2d(channels, d_model, patch, stride=patch)
        if pool == "cls":
            self.cls_token = nn.Parameter(torch.zeros(1, 1, d_model))
        else:
            self.register_parameter("cls_token", None)
        self.pos_embed = nn.Parameter(torch.zeros(1, tokens, d_model))
        self.pos_drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(
            Block(d_model, heads, mlp_ratio * d_model, attention, dropout) for _ in range(layers))
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, classes)
        self.reset_parameters()

    def reset_parameters(self):
        """lasergrad's: N(0, 0.02) for the class token, position embeddings and
        linear maps, zero biases; the patch embedding keeps Conv2d's default."""
        if self.cls_token is not None:
            nn.init.normal_(self.cls_token, std=0.02)
        nn.init.normal_(self.pos_embed, std=0.02)
        for block in self.blocks:
            attn = block.self_attn
            pairs = [(attn.in_proj_weight, attn.in_proj_bias),
                     (attn.out_proj.weight, attn.out_proj.bias),
                     (block.linear1.weight, block.linear1.bias),
                     (block.linear2.weight, block.linear2.bias)]
            for weight, bias in pairs:
                nn.init.normal_(weight, std=0.02)
                nn.init.zeros_(bias)
        nn.init.normal_(self.head.weight, std=0.02)
        nn.init.zeros_(self.head.bias)

    def forward(self, images):
        x = self.patch_embed(images).flatten(2).transpose(1, 2)
        if self.cls_token is not None:
            x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1)
        x = self.pos_drop(x + self.pos_embed)
        for block in self.blocks:
            x = block(x)
        x = self.norm(x)
        return self.head(x[:, 0] if self.cls_token is not None else x.mean(dim=1))


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
        array = np.frombuffer(data[begin:end], dtype=dtypes[info["dtype"]]).reshape(info["shape"])
        out[name] = torch.from_numpy(array.copy())
    return out, meta


def check(path, tol=1e-4):
    tensors, meta = load_safetensors(path)
    images, labels, want = tensors.pop("input"), tensors.pop("labels"), tensors.pop("output")
    grads = {k[len("grad."):]: tensors.pop(k) for k in list(tensors) if k.startswith("grad.")}
    ints = ("image_size", "channels", "patch", "d_model", "layers", "heads", "mlp_ratio", "classes")
    model = Vit(**{k: int(meta[k]) for k in ints}, attention=meta["attention"], pool=meta["pool"])
    model.load_state_dict(tensors, strict=True)
    model.eval()
    logits = model(images)
    F.cross_entropy(logits, labels).backward()
    errors = {"output": (logits.detach() - want).abs().max().item()}
    for name, p in model.named_parameters():
        errors[f"grad.{name}"] = (p.grad - grads[name]).abs().max().item()
    worst = max(errors, key=errors.get)
    print(f"{path}: {meta['attention']}/{meta['pool']}: max abs difference torch vs lasergrad "
          f"{errors[worst]:.3g} ({worst}), {len(errors)} tensors compared")
    return errors[worst] < tol


def main(paths):
    if not paths:
        print("usage: torch_vit.py FILE.safetensors...", file=sys.stderr)
        return 2
    results = [check(p) for p in paths]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
