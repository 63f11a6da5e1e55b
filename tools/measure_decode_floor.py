#!/usr/bin/env python3
"""Measures the two things a decode step at batch 1 is made of, as lwsplan's estimate prices it.

From vLLM 0.11 a decode step replays one CUDA graph, so what a layer costs beyond streaming its
weights is a floor per kernel the graph launches, and a batch-1 GEMM over a small weight does not
reach the HBM rate a large one does. This times, with PyTorch alone:

- the floor: a CUDA graph of N tiny elementwise kernels, replayed; the time per kernel;
- batch-1 GEMMs (one token, BF16) over weights of 0.5 MiB to 256 MiB, each captured 16 times in a
  graph over distinct weights (more bytes than the L2 holds, so every replay reads HBM), and the
  line time = latency + bytes / bandwidth fitted through them.

It prints JSON; run on the GPU to profile:

    python3 tools/measure_decode_floor.py > measurement.json
"""
import json

import torch

import gpu_timing

FLOOR_KERNELS = 256
# (K, N) of one BF16 weight: 0.5 MiB to 256 MiB.
GEMV_SHAPES = [
    (512, 512),
    (1024, 1024),
    (2048, 1024),
    (2048, 2048),
    (4096, 2048),
    (4096, 4096),
    (8192, 4096),
    (8192, 8192),
    (16384, 8192),
]
COPIES = 16


def kernel_floor(dev):
    x = torch.zeros(4096, device=dev)

    def many():
        for _ in range(FLOOR_KERNELS):
            x.add_(1.0)

    replay = gpu_timing.graph_replay(many)
    s = gpu_timing.timed(replay, 50, 5)
    return s / FLOOR_KERNELS


def gemv(dev, k, n):
    # Enough copies that one replay reads well past the L2 (50-60 MiB on H100 / H200).
    copies = max(COPIES, int(256 * 2**20 // (k * n * 2)) + 1)
    weights = [torch.randn(k, n, device=dev, dtype=torch.bfloat16) for _ in range(copies)]
    x = torch.randn(1, k, device=dev, dtype=torch.bfloat16)
    out = torch.empty(1, n, device=dev, dtype=torch.bfloat16)

    def run():
        for w in weights:
            torch.matmul(x, w, out=out)

    replay = gpu_timing.graph_replay(run)
    s = gpu_timing.timed(replay, 20, 3) / copies
    nbytes = k * n * 2
    return {"k": k, "n": n, "bytes": nbytes, "us": s * 1e6, "gb_per_s": nbytes / s / 1e9}


def fit_line(rows):
    """Least squares of time (s) on bytes: the intercept is a kernel's latency, the slope 1/BW."""
    xs = [r["bytes"] for r in rows]
    ys = [r["us"] * 1e-6 for r in rows]
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
    return {"latency_us": (my - slope * mx) * 1e6, "bandwidth_gb_per_s": 1 / slope / 1e9}


def main():
    dev = torch.device("cuda")
    out = gpu_timing.environment(dev)
    out["kernel_floor_us"] = kernel_floor(dev) * 1e6
    rows = [gemv(dev, k, n) for k, n in GEMV_SHAPES]
    out["batch1_gemv_bf16"] = rows
    out["batch1_gemv_fit"] = fit_line(rows)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
