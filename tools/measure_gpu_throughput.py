#!/usr/bin/env python3
"""Measures what lwsplan's performance model takes from a GPU, with PyTorch alone.

Prints JSON: achieved FLOP/s of a large dense BF16 matmul (the compute roof) and of FP8 where
the GPU has it; achieved bandwidth of device-to-device copies (bytes read + written); and the
effective bandwidth of decode-shaped GEMMs — a batch of M tokens against a weight of K × N,
where the weight is streamed once per step: bytes = weight + activations, time per call. Run on
the GPU to profile:

    python3 tools/measure_gpu_throughput.py > measurement.json
"""
import json

import torch

import gpu_timing


def timed(fn, iters=50, warmup=10):
    return gpu_timing.timed(fn, iters, warmup)


def main():
    dev = torch.device("cuda", 0)
    out = gpu_timing.environment(dev)
    n = 8192
    a = torch.randn(n, n, device=dev, dtype=torch.bfloat16)
    b = torch.randn(n, n, device=dev, dtype=torch.bfloat16)
    t = timed(lambda: a @ b, iters=20)
    out["bf16_matmul_8192_tflops"] = 2 * n**3 / t / 1e12
    if hasattr(torch, "float8_e4m3fn") and torch.cuda.get_device_capability(dev) >= (8, 9):
        try:
            a8 = a.to(torch.float8_e4m3fn)
            b8 = b.to(torch.float8_e4m3fn).t().contiguous().t()
            one = torch.tensor(1.0, device=dev)
            t = timed(lambda: torch._scaled_mm(a8, b8, scale_a=one, scale_b=one,
                                               out_dtype=torch.bfloat16), iters=20)
            out["fp8_matmul_8192_tflops"] = 2 * n**3 / t / 1e12
        except Exception as e:  # report, do not hide
            out["fp8_error"] = repr(e)
    out["d2d_copy_read_plus_write_tb_per_s"] = gpu_timing.copy_tb_per_s(dev)
    decode = []
    # Decode-shaped: tokens M against weights K x N (a 7168-wide model's projections).
    for (k, nn) in [(7168, 2048), (7168, 18432), (4096, 14336), (8192, 28672)]:
        w = torch.randn(k, nn, device=dev, dtype=torch.bfloat16)
        for m in [1, 8, 32, 128, 256]:
            x = torch.randn(m, k, device=dev, dtype=torch.bfloat16)
            t = timed(lambda: x @ w)
            bytes_moved = (k * nn + m * k + m * nn) * 2
            decode.append({
                "m": m, "k": k, "n": nn, "us": t * 1e6,
                "effective_tb_per_s": bytes_moved / t / 1e12,
                "tflops": 2 * m * k * nn / t / 1e12,
            })
        del w
    out["decode_gemms_bf16"] = decode
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
