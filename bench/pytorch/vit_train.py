#!/usr/bin/env python3
"""PyTorch baseline for issue #11: lg-vit's benchmark ViT (patch 4, d-model
128, 4 layers, 4 heads, MLP ratio 2, 28x28x1 images, 10 classes, dropout 0)
trained with AdamW on synthetic batches (random images and labels), timed as
the median of N steps after warm-up, then timed in inference. Prints one
JSON line per thread count, with the fields of `lg-vit --bench`.

  python3 bench/pytorch/vit_train.py --threads 1 2 --attention laser

The model is examples/vit/torch_vit.py's, the twin of lasergrad's (same
layers, names and initialisation; attention written out with matmuls, since
PyTorch 1.13 has no scaled_dot_product_attention). Each thread count runs in
a process of its own so that its peak RSS is its own. seconds_per_epoch is
55000 training images (MNIST's 60000 less 5000 held out) at the median step.
Measurement only: no lasergrad build or test depends on this script."""
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
                                "examples", "vit"))
from torch_vit import Vit  # noqa: E402

EPOCH_IMAGES = 55000


def weight_decay_groups(model, weight_decay):
    """lasergrad's split: matrices and kernels decay; biases, norms, the class
    token and the position embeddings do not."""
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (decay if p.dim() >= 2 and name not in ("cls_token", "pos_embed") else no_decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay},
            {"params": no_decay, "weight_decay": 0.0}]


def synthetic_batch(a):
    return (torch.randn(a.batch, a.channels, a.image_size, a.image_size),
            torch.randint(0, a.classes, (a.batch,)))


def time_training(model, a):
    opt = torch.optim.AdamW(weight_decay_groups(model, 0.05), lr=1e-3)
    model.train()
    times, cpu = [], []
    for i in range(a.warmup + a.steps):
        images, labels = synthetic_batch(a)
        t0, c0 = time.perf_counter(), time.process_time()
        loss = F.cross_entropy(model(images), labels)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        loss.item()
        if i >= a.warmup:
            times.append((time.perf_counter() - t0) * 1e3)
            cpu.append((time.process_time() - c0) * 1e3)
    return statistics.median(times), statistics.median(cpu)


def time_inference(model, a):
    model.eval()
    images, _ = synthetic_batch(a)
    times = []
    with torch.no_grad():
        for i in range(1 + a.steps):
            t0 = time.perf_counter()
            model(images).sum().item()
            if i >= 1:
                times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def run(a, threads):
    torch.set_num_threads(threads)
    torch.manual_seed(a.seed)
    model = Vit(image_size=a.image_size, channels=a.channels, patch=a.patch, d_model=a.d_model,
                layers=a.layers, heads=a.heads, mlp_ratio=a.mlp_ratio, classes=a.classes,
                attention=a.attention, pool=a.pool)
    step_ms, step_cpu_ms = time_training(model, a)
    inference_ms = time_inference(model, a)
    print(json.dumps({
        "bench": "train_vit", "framework": "pytorch", "torch": torch.__version__,
        "attention": a.attention, "pool": a.pool, "device": "cpu", "threads": threads,
        "batch": a.batch,
        "median_step_ms": round(step_ms, 2),
        # CPU time of all threads: steadier than wall time on a shared machine.
        "median_step_cpu_ms": round(step_cpu_ms, 2),
        "images_per_s": round(a.batch / (step_ms / 1e3), 2),
        "seconds_per_epoch": round(EPOCH_IMAGES / a.batch * step_ms / 1e3, 2),
        "inference_images_per_s": round(a.batch / (inference_ms / 1e3), 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 2),
        "params": sum(p.numel() for p in model.parameters()),
    }), flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--attention", choices=["laser", "softmax"], default="laser")
    p.add_argument("--pool", choices=["cls", "mean"], default="cls")
    p.add_argument("--image-size", type=int, default=28)
    p.add_argument("--channels", type=int, default=1)
    p.add_argument("--patch", type=int, default=4)
    p.add_argument("--d-model", type=int, default=128)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--mlp-ratio", type=int, default=2)
    p.add_argument("--classes", type=int, default=10)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--seed", type=int, default=1234)
    a = p.parse_args()
    if any(t < 1 for t in a.threads) or a.steps < 1 or a.warmup < 0 or a.batch < 1:
        p.error("--threads and --steps must be >= 1, --warmup >= 0, --batch >= 1")
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
