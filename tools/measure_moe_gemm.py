#!/usr/bin/env python3
"""Measures how fast a GPU runs MoE-shaped GEMMs, the prefill work lwsplan's estimate prices.

A fused MoE layer multiplies each expert's share of the step's tokens by that expert's weight
slice: under tensor parallelism each rank holds every expert's intermediate dimension cut TP ways,
so the GEMMs are narrow (DeepSeek-R1 at TP 8: 7168 × 512 for gate and up); under expert
parallelism each rank holds whole experts. This times, with PyTorch alone, a batch of E such
GEMMs (torch.bmm in BF16, the closest stock analogue of a grouped GEMM; torch._scaled_mm in FP8,
E calls captured in one CUDA graph so launches do not count) for M tokens per expert, and prints
achieved TFLOP/s per shape as JSON, next to the large square matmul's. Run on the GPU to profile:

    python3 tools/measure_moe_gemm.py > measurement.json
"""
import json

import torch

import gpu_timing

EXPERTS = 32

# (name, K, N): one expert's GEMM on one rank; N for gate and up together.
SHAPES = [
    ("deepseek-r1 gate_up, TP 8", 7168, 2 * 2048 // 8),
    ("deepseek-r1 down, TP 8", 2048 // 8, 7168),
    ("deepseek-r1 gate_up, EP", 7168, 2 * 2048),
    ("deepseek-r1 down, EP", 2048, 7168),
    ("qwen3-235b gate_up, TP 8", 4096, 2 * 1536 // 8),
    ("qwen3-235b gate_up, TP 4", 4096, 2 * 1536 // 4),
    ("qwen3-235b down, TP 4", 1536 // 4, 4096),
    ("gpt-oss-120b gate_up, TP 2", 2880, 2 * 2880 // 2),
    ("gpt-oss-120b down, TP 2", 2880 // 2, 2880),
    ("dense 8192", 8192, 8192),
]
TOKENS_PER_EXPERT = [16, 64, 256, 1024]


def timed(fn, iters=30, warmup=5):
    return gpu_timing.timed(fn, iters, warmup)


def bf16(dev, m, k, n):
    a = torch.randn(EXPERTS, m, k, device=dev, dtype=torch.bfloat16)
    w = torch.randn(EXPERTS, k, n, device=dev, dtype=torch.bfloat16)
    return timed(lambda: torch.bmm(a, w))


def fp8(dev, m, k, n):
    one = torch.tensor(1.0, device=dev)
    a = [torch.randn(m, k, device=dev).to(torch.float8_e4m3fn) for _ in range(EXPERTS)]
    # _scaled_mm wants the second operand column-major.
    w = [torch.randn(n, k, device=dev).to(torch.float8_e4m3fn).t() for _ in range(EXPERTS)]

    def step():
        for x, y in zip(a, w):
            torch._scaled_mm(x, y, scale_a=one, scale_b=one, out_dtype=torch.bfloat16)

    return timed(gpu_timing.graph_replay(step))


def main():
    dev = torch.device("cuda", 0)
    out = gpu_timing.environment(dev)
    out["experts_per_call"] = EXPERTS
    out["shapes"] = []
    has_fp8 = torch.cuda.get_device_capability(dev) >= (8, 9)
    for name, k, n in SHAPES:
        for m in TOKENS_PER_EXPERT:
            flops = 2 * EXPERTS * m * k * n
            row = {"shape": name, "tokens_per_expert": m, "k": k, "n": n}
            row["bf16_tflops"] = flops / bf16(dev, m, k, n) / 1e12
            if has_fp8:
                try:
                    row["fp8_tflops"] = flops / fp8(dev, m, k, n) / 1e12
                except Exception as e:  # report, do not hide
                    row["fp8_error"] = repr(e)
            out["shapes"].append(row)
            torch.cuda.empty_cache()
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
