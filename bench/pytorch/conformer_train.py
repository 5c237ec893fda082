#!/usr/bin/env python3
"""PyTorch baseline for lg-speech's benchmark: the fixed speech model
(subsampling 144 channels, torchaudio.models.Conformer(input_dim=144,
num_heads=4, ffn_dim=576, num_layers=4, depthwise_conv_kernel_size=15,
dropout=0.1), Linear to 29 classes, log_softmax) trained with AdamW and
torch.nn.functional.ctc_loss on one fixed synthetic batch (32 utterances of
80 log-mel features, 200..300 frames, random targets of 18..22 symbols),
timed as the median of N steps after warm-up. Prints one JSON line per
thread count, with the fields of lasergrad's run_speech_bench
(examples/speech/bench.h).

  python3 bench/pytorch/conformer_train.py --threads 1 2 --attention softmax

The model is examples/speech/torch_speech.py's, lasergrad's twin: the same
layers under the same names and the same parameter count ("params" in both
lines; 2540909 for this model), each step the same work (forward, CTC with
mean reduction and zero_infinity, backward, clip_grad_norm 1.0, AdamW lr 1e-3
weight decay 0.01). Softmax attention is torch.nn.MultiheadAttention; LASER
attention is written out with matmuls (torch has no fused kernel for it).
Each thread count runs in a process of its own so that its peak RSS is its
own. Measurement only: no lasergrad build or test depends on this script."""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "examples", "speech"))
from torch_speech import SpeechModel  # noqa: E402


def synthetic_batch(a):
    """Features N(0, 1), lengths spread evenly over [min_frames, frames],
    targets uniform over the symbols 1 .. vocab-1 (0 is the blank)."""
    g = torch.Generator().manual_seed(a.seed)
    span = a.frames - a.min_frames
    lengths = torch.tensor([a.frames if a.batch == 1 else a.min_frames + span * i // (a.batch - 1)
                            for i in range(a.batch)], dtype=torch.int64)
    target_lengths = a.target_length + torch.randint(-2, 3, (a.batch,), generator=g)
    targets = torch.randint(1, a.vocab, (a.batch, a.target_length + 2), generator=g)
    targets[torch.arange(a.target_length + 2)[None, :] >= target_lengths[:, None]] = 0
    features = torch.randn(a.batch, a.frames, a.mels, generator=g)
    return features, lengths, targets, target_lengths


def time_training(model, batch, a):
    features, lengths, targets, target_lengths = batch
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
    model.train()
    times, cpu = [], []
    for i in range(a.warmup + a.steps):
        t0, c0 = time.perf_counter(), time.process_time()
        log_probs, out_lengths = model(features, lengths)
        loss = F.ctc_loss(log_probs, targets, out_lengths, target_lengths, zero_infinity=True)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        loss.item()
        if i >= a.warmup:
            times.append((time.perf_counter() - t0) * 1e3)
            cpu.append((time.process_time() - c0) * 1e3)
    return times, cpu


def run(a, threads):
    torch.set_num_threads(threads)
    torch.manual_seed(a.seed)
    model = SpeechModel(mels=a.mels, vocab=a.vocab, attention=a.attention, dropout=0.1)
    batch = synthetic_batch(a)
    times, cpu = time_training(model, batch, a)
    step_ms = statistics.median(times)
    audio_seconds = batch[1].sum().item() / 100  # 10 ms frames
    print(json.dumps({
        "bench": "train_speech", "framework": "pytorch", "torch": torch.__version__,
        "attention": a.attention, "threads": threads, "batch": a.batch, "frames": a.frames,
        "median_step_ms": round(step_ms, 2),
        "min_step_ms": round(min(times), 2),
        "max_step_ms": round(max(times), 2),
        # CPU time of all threads: steadier than wall time on a shared machine.
        "median_step_cpu_ms": round(statistics.median(cpu), 2),
        "audio_s_per_s": round(audio_seconds / (step_ms / 1e3), 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 2),
        "params": sum(p.numel() for p in model.parameters()),
    }), flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--attention", choices=["laser", "softmax"], default="laser")
    p.add_argument("--mels", type=int, default=80)
    p.add_argument("--vocab", type=int, default=29)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--frames", type=int, default=300)
    p.add_argument("--min-frames", type=int, default=200)
    p.add_argument("--target-length", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--seed", type=int, default=1234)
    a = p.parse_args()
    if any(t < 1 for t in a.threads) or a.steps < 1 or a.warmup < 0 or a.batch < 1:
        p.error("--threads and --steps must be >= 1, --warmup >= 0, --batch >= 1")
    if not 1 <= a.min_frames <= a.frames:
        p.error("--min-frames must lie in [1, --frames]")
    if len(a.threads) == 1:
        run(a, a.threads[0])
        return 0
    status = 0
    for threads in a.threads:  # one process each: peak RSS is per process
        # A later --threads replaces the earlier list.
        argv = sys.argv[1:] + ["--threads", str(threads)]
        status |= subprocess.call([sys.executable, os.path.abspath(__file__)] + argv)
    return status


if __name__ == "__main__":
    sys.exit(main())
