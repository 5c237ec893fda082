#!/usr/bin/env python3
"""The PyTorch twin of lg-speech's model (examples/speech/speech_model.h):
convolutional subsampling x4 (two Conv2d(3, stride 2, padding 1) + ReLU over
(time, mel), frames beyond each length zeroed after each, then a Linear),
dropout, the blocks of torchaudio.models.Conformer, a Linear and log_softmax.
Its parameter names are lasergrad's (subsampling.conv1.weight,
conformer_layers.0.ffn1.sequential.1.weight, output.weight, ...), so
lasergrad's state dict loads here with strict=True and the parameter counts
are equal. bench/pytorch/conformer_train.py imports the model from here.

  python3 torch_speech.py FILE.safetensors...

checks files written by write_speech_twin: loads each one's state dict into
the twin built from its metadata (strict), then runs each utterance of the
padded batch alone (eval mode) and compares its log-probs with the valid
frames of lasergrad's batched output. Exit 0 when all agree, 1 otherwise,
77 (ctest: skipped) where PyTorch, torchaudio or numpy is not installed.

How it differs from lasergrad's, on purpose (torchaudio as it is):
- torchaudio's convolution module does not zero the padded frames before its
  depthwise convolution, so in a padded batch they reach the last valid frames
  (lasergrad's ConformerBlock zeroes them); equal without padding.
- Softmax attention is torch.nn.MultiheadAttention with its weight dropout
  set to 0, as lasergrad has none (lasergrad's dropout after the attention is
  torchaudio's self_attn_dropout). LASER attention, which torch lacks, is
  LaserSelfAttention below: the same parameters, attention written out."""
import json
import math
import struct
import sys

try:
    import numpy as np
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    import torchaudio
except ImportError as e:
    if __name__ == "__main__":
        print(f"skipped: {e}")
        sys.exit(77)
    raise


class LaserSelfAttention(nn.Module):
    """torch.nn.MultiheadAttention's parameters and call as torchaudio's
    ConformerLayer makes it (time-first input, key_padding_mask [B, T] true at
    padded frames), computing log(softmax(q k^T / sqrt(d)) exp(v)) with the
    per-column max of v as shift."""

    def __init__(self, d_model, heads):
        super().__init__()
        self.heads = heads
        self.in_proj_weight = nn.Parameter(torch.empty(3 * d_model, d_model))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * d_model))
        self.out_proj = nn.Linear(d_model, d_model)
        nn.init.xavier_uniform_(self.in_proj_weight)
        nn.init.zeros_(self.out_proj.bias)

    def forward(self, query, key, value, key_padding_mask=None, need_weights=False):
        T, B, C = query.shape
        qkv = F.linear(query.transpose(0, 1), self.in_proj_weight, self.in_proj_bias)
        q, k, v = qkv.view(B, T, 3, self.heads, C // self.heads).permute(2, 0, 3, 1, 4)
        scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
        if key_padding_mask is not None:
            scores = scores.masked_fill(key_padding_mask[:, None, None, :], float("-inf"))
        weights = torch.softmax(scores, dim=-1)
        shift = v.amax(dim=-2, keepdim=True).detach()
        y = torch.log(weights @ torch.exp(v - shift)) + shift
        return self.out_proj(y.transpose(1, 2).reshape(B, T, C)).transpose(0, 1), None


def output_length(frames):
    """Frames after the x4 subsampling: ceil(ceil(frames / 2) / 2)."""
    return ((frames + 1) // 2 + 1) // 2


def _zero_beyond(x, lengths):
    """x [B, C, T, F] with the frames from lengths[b] on set to 0."""
    keep = torch.arange(x.shape[2])[None, :] < lengths[:, None]
    return x * keep[:, None, :, None].to(x.dtype)


class Subsampling(nn.Module):
    def __init__(self, mels, channels, d_model):
        super().__init__()
        self.conv1 = nn.Conv2d(1, channels, 3, stride=2, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, stride=2, padding=1)
        self.linear = nn.Linear(channels * ((mels + 3) // 4), d_model)

    def forward(self, x, lengths):
        h = _zero_beyond(x.unsqueeze(1), lengths)
        lengths = (lengths + 1) // 2
        h = _zero_beyond(F.relu(self.conv1(h)), lengths)
        lengths = (lengths + 1) // 2
        h = _zero_beyond(F.relu(self.conv2(h)), lengths)
        B, C, T, Fr = h.shape
        return self.linear(h.permute(0, 2, 1, 3).reshape(B, T, C * Fr))


class SpeechModel(nn.Module):
    def __init__(self, mels=80, d_model=144, layers=4, heads=4, ffn_dim=576, conv_kernel=15,
                 subsampling_channels=144, vocab=29, attention="laser", dropout=0.1):
        super().__init__()
        if attention not in ("laser", "softmax"):
            raise ValueError(f"attention must be laser or softmax, got {attention!r}")
        self.subsampling = Subsampling(mels, subsampling_channels, d_model)
        self.input_dropout = nn.Dropout(dropout)
        conformer = torchaudio.models.Conformer(
            input_dim=d_model, num_heads=heads, ffn_dim=ffn_dim, num_layers=layers,
            depthwise_conv_kernel_size=conv_kernel, dropout=dropout)
        self.conformer_layers = conformer.conformer_layers
        for layer in self.conformer_layers:
            if attention == "laser":
                layer.self_attn = LaserSelfAttention(d_model, heads)
            else:
                layer.self_attn.dropout = 0.0  # no attention-weight dropout, as lasergrad
        self.output = nn.Linear(d_model, vocab)

    def forward(self, features, lengths):
        """features [B, T, mels], lengths [B] int64 -> log-probs [T', B, vocab], lengths [B]."""
        out_lengths = output_length(lengths)
        x = self.input_dropout(self.subsampling(features, lengths))
        padding = torch.arange(x.shape[1])[None, :] >= out_lengths[:, None]
        x = x.transpose(0, 1)  # torchaudio's layers are time-first
        for layer in self.conformer_layers:
            x = layer(x, padding)
        return F.log_softmax(self.output(x), dim=-1), out_lengths


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
    features, lengths = tensors.pop("input"), tensors.pop("lengths")
    want, want_lengths = tensors.pop("output"), tensors.pop("output_lengths")
    ints = ("mels", "d_model", "layers", "heads", "ffn_dim", "conv_kernel",
            "subsampling_channels", "vocab")
    model = SpeechModel(**{k: int(meta[k]) for k in ints}, attention=meta["attention"])
    model.load_state_dict(tensors, strict=True)
    model.eval()
    worst = 0.0
    with torch.no_grad():
        for b in range(features.shape[0]):
            n = int(lengths[b])
            got, got_length = model(features[b:b + 1, :n], lengths[b:b + 1])
            if int(got_length[0]) != int(want_lengths[b]) or got.shape[0] != int(want_lengths[b]):
                print(f"{path}: utterance {b}: {got.shape[0]} output frames, lasergrad "
                      f"{int(want_lengths[b])}")
                return False
            worst = max(worst, (got[:, 0] - want[:got.shape[0], b]).abs().max().item())
    print(f"{path}: {meta['attention']}: max abs difference of the log-probs torch vs "
          f"lasergrad {worst:.3g} over {features.shape[0]} utterances")
    return worst < tol


def main(paths):
    if not paths:
        print("usage: torch_speech.py FILE.safetensors...", file=sys.stderr)
        return 2
    results = [check(p) for p in paths]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
