#!/usr/bin/env python3
"""Measures how a whole decoder layer's prefill rate grows with the tokens a step carries.

lwsplan prices prompt tokens at a fraction of the dense GEMM rate (`PREFILL_EFFICIENCY` in
src/plan/performance.rs), fitted to short prompts at concurrency 1. This times one Llama-style
decoder layer in BF16 — RMSNorm, fused QKV projection, rotary embedding, causal attention
(PyTorch's SDPA, cuDNN backend where available), output projection, RMSNorm, fused gate/up
projection, SiLU × up, down projection, residual adds — over a chunk of M tokens, replayed from
a CUDA graph (as vLLM replays its piecewise graphs; no Python or launch cost), and reports the
layer's FLOPs over its time as a fraction of the same GPU's 8192³ BF16 matmul rate. Shapes are
per-GPU shares of Llama-3.1-8B at TP 1 and Llama-3.1-70B at TP 8.

Prints JSON; run on the GPU to profile:

    python3 tools/measure_prefill_layer.py > measurement.json
"""
import json
import sys

import torch
import torch.nn.functional as F

import gpu_timing

# (name, hidden, q heads, kv heads, head dim, intermediate) per GPU.
SHAPES = [
    ("llama-3.1-8b at TP 1", 4096, 32, 8, 128, 14336),
    ("llama-3.1-70b at TP 8", 8192, 8, 1, 128, 3584),
]
TOKENS = [256, 512, 1024, 2048, 4096, 8192]
REPLAYS = 8


def rms_norm(x, w, eps=1e-6):
    return x * torch.rsqrt(x.float().pow(2).mean(-1, keepdim=True) + eps).to(x.dtype) * w


def rotary(x, cos, sin):
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half], x[..., half:]
    return torch.cat((x1 * cos - x2 * sin, x2 * cos + x1 * sin), dim=-1)


class Layer:
    def __init__(self, dev, hidden, qh, kvh, d, inter, m):
        bf = torch.bfloat16
        s = 0.02
        self.qh, self.kvh, self.d = qh, kvh, d
        self.x = torch.randn(m, hidden, device=dev, dtype=bf)
        self.n1 = torch.ones(hidden, device=dev, dtype=bf)
        self.n2 = torch.ones(hidden, device=dev, dtype=bf)
        self.wqkv = torch.randn(hidden, (qh + 2 * kvh) * d, device=dev, dtype=bf) * s
        self.wo = torch.randn(qh * d, hidden, device=dev, dtype=bf) * s
        self.wgu = torch.randn(hidden, 2 * inter, device=dev, dtype=bf) * s
        self.wd = torch.randn(inter, hidden, device=dev, dtype=bf) * s
        pos = torch.arange(m, device=dev, dtype=torch.float32)[:, None]
        freq = 1.0 / (10000 ** (torch.arange(0, d // 2, device=dev, dtype=torch.float32) / (d // 2)))
        ang = pos * freq[None, :]
        self.cos = ang.cos().to(bf)[:, None, :]
        self.sin = ang.sin().to(bf)[:, None, :]
        self.m = m
        self.flops = 2 * m * (hidden * (qh + 2 * kvh) * d + qh * d * hidden
                              + hidden * 2 * inter + inter * hidden)
        self.attention_flops = 4 * m * m / 2 * qh * d  # causal half of QK^T and PV

    def __call__(self):
        m, qh, kvh, d = self.m, self.qh, self.kvh, self.d
        h = rms_norm(self.x, self.n1)
        qkv = h @ self.wqkv
        q, k, v = qkv.split([qh * d, kvh * d, kvh * d], dim=-1)
        q = rotary(q.view(m, qh, d), self.cos, self.sin)
        k = rotary(k.view(m, kvh, d), self.cos, self.sin)
        v = v.view(m, kvh, d)
        k = k.repeat_interleave(qh // kvh, dim=1)
        v = v.repeat_interleave(qh // kvh, dim=1)
        a = F.scaled_dot_product_attention(q.transpose(0, 1)[None], k.transpose(0, 1)[None],
                                           v.transpose(0, 1)[None], is_causal=True)
        a = a[0].transpose(0, 1).reshape(m, qh * d)
        x = self.x + a @ self.wo
        h = rms_norm(x, self.n2)
        gu = h @ self.wgu
        g, u = gu.chunk(2, dim=-1)
        return x + (F.silu(g) * u) @ self.wd


def main():
    from torch.nn.attention import SDPBackend, sdpa_kernel
    dev = torch.device("cuda", 0)
    out = gpu_timing.environment(dev)
    dense = gpu_timing.dense_bf16_flops_per_s(dev)
    out["bf16_matmul_8192_tflops"] = dense / 1e12
    rows = []
    for name, hidden, qh, kvh, d, inter in SHAPES:
        for m in TOKENS:
            layer = Layer(dev, hidden, qh, kvh, d, inter, m)
            row = {"shape": name, "tokens": m}
            for label, backends in [("cudnn", [SDPBackend.CUDNN_ATTENTION]),
                                    ("flash", [SDPBackend.FLASH_ATTENTION])]:
                try:
                    with sdpa_kernel(backends):
                        replay = gpu_timing.graph_replay(layer, REPLAYS)
                        t = gpu_timing.timed(replay, 10, 2) / REPLAYS
                    row[f"{label}_us"] = t * 1e6
                    # Linear FLOPs alone against the dense rate: what lwsplan's fraction prices.
                    row[f"{label}_linear_fraction_of_dense"] = layer.flops / t / dense
                    row[f"{label}_all_flops_fraction_of_dense"] = (
                        (layer.flops + layer.attention_flops) / t / dense)
                except Exception as e:  # report, do not hide
                    row[f"{label}_error"] = repr(e)[:200]
            print(json.dumps(row), file=sys.stderr, flush=True)
            rows.append(row)
            del layer
            torch.cuda.empty_cache()
    out["layers"] = rows
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
