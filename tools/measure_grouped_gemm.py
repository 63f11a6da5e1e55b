#!/usr/bin/env python3
"""Measures single-launch grouped GEMMs at the prefill shapes of the benchmark set's MoE models.

`measure_moe_gemm.py` timed torch.bmm and per-expert FP8 calls, which per-call overhead limits;
a fused MoE layer runs one grouped kernel a GEMM. This times three such kernels, each one launch
for all the experts a rank holds:

- `torch._grouped_mm` (BF16, CUTLASS on SM90);
- `torch._scaled_grouped_mm` (FP8 e4m3, row-wise scales, CUTLASS on SM90);
- a Triton grouped GEMM written here (FP8 e4m3 with 1 × 128 activation and 128 × 128 weight
  block scales, the DeepSeek-V3 / GLM-5 checkpoint format; rows gathered through an index as a
  fused MoE kernel reads the tokens routed to an expert), best of a few tile configurations.

Each shape is one expert's GEMM on one rank (K, N): under tensor parallelism every expert's
intermediate dimension is cut TP ways (DeepSeek at TP 8: gate_up 7168 → 512, down 256 → 7168);
under expert parallelism a rank holds whole experts. `tokens_per_expert` runs over a grid with
equal counts per expert, and once more as routed: 8192 batched tokens × experts per token drawn
uniformly at random over the model's experts (uneven counts, as a step's routing gives).
Achieved TFLOP/s are printed as JSON with the dense references (8192³ matmul in BF16 and in
row-wise FP8, and the same kernels on one group of 8192 rows). Run on the GPU to profile:

    python3 tools/measure_grouped_gemm.py > measurement.json
"""
import json
import sys

import torch

import gpu_timing

BATCHED_TOKENS = 8192
TOKENS_PER_EXPERT = [16, 32, 64, 128, 256, 512, 1024, 2048]

# (model, layout, hidden, expert intermediate, routed experts, experts per token, ranks):
# configs of the models (Hugging Face config.json: hidden_size, moe_intermediate_size or
# intermediate_size for gpt-oss, n_routed_experts / num_experts / num_local_experts,
# num_experts_per_tok / experts_per_token).
MODELS = [
    ("deepseek-r1 / v3.2", "TP 8", 7168, 2048, 256, 8, 8),
    ("deepseek-r1 / v3.2", "EP 8", 7168, 2048, 256, 8, 8),
    ("glm-5.2", "TP 8", 6144, 2048, 256, 8, 8),
    ("qwen3-235b-a22b", "TP 4", 4096, 1536, 128, 8, 4),
    ("qwen3-235b-a22b", "TP 8", 4096, 1536, 128, 8, 8),
    ("qwen3-30b-a3b", "TP 1", 2048, 768, 128, 8, 1),
    ("gpt-oss-120b", "TP 1", 2880, 2880, 128, 4, 1),
    ("gpt-oss-120b", "TP 2", 2880, 2880, 128, 4, 2),
]


def shapes():
    """(model, layout, gemm, K, N, experts on the rank, routed tokens per expert)."""
    for model, layout, hidden, inter, experts, topk, ranks in MODELS:
        ep = layout.startswith("EP")
        local = experts // ranks if ep else experts
        width = inter if ep else inter // ranks
        routed = BATCHED_TOKENS * topk / experts
        yield model, layout, "gate_up", hidden, 2 * width, local, routed, experts, topk
        yield model, layout, "down", width, hidden, local, routed, experts, topk


def timed(fn):
    return gpu_timing.timed(fn, iters=20, warmup=3)


def offsets(counts, dev):
    return torch.cumsum(torch.tensor(counts, dtype=torch.int32), 0).to(dev, torch.int32)


def bf16_grouped(dev, counts, k, n):
    a = torch.randn(sum(counts), k, device=dev, dtype=torch.bfloat16)
    # The experts' weights K-major (G, N, K) seen as (G, K, N), as a checkpoint stores them.
    w = torch.randn(len(counts), n, k, device=dev, dtype=torch.bfloat16).transpose(-2, -1)
    offs = offsets(counts, dev)
    return timed(lambda: torch._grouped_mm(a, w, offs=offs, out_dtype=torch.bfloat16))


def fp8_grouped(dev, counts, k, n):
    a = torch.randn(sum(counts), k, device=dev, dtype=torch.bfloat16).to(torch.float8_e4m3fn)
    w = torch.randn(len(counts), n, k, device=dev, dtype=torch.bfloat16).to(torch.float8_e4m3fn)
    w = w.transpose(-2, -1)
    sa = torch.rand(sum(counts), device=dev, dtype=torch.float32)
    sb = torch.rand(len(counts), n, device=dev, dtype=torch.float32)
    offs = offsets(counts, dev)
    def private():
        return torch._scaled_grouped_mm(a, w, sa, sb, offs=offs, out_dtype=torch.bfloat16)

    try:
        return timed(private)
    except Exception:
        # Later releases route row-wise scaling through the public API instead.
        import torch.nn.functional as F

        rw = F.ScalingType.RowWise
        return timed(lambda: F.scaled_grouped_mm(
            a, w, sa, rw, sb, rw, offs=offs, output_dtype=torch.bfloat16))


try:
    import triton
    import triton.language as tl

    @triton.jit
    def _block_fp8_grouped(
        a_ptr, rows_ptr, as_ptr, b_ptr, bs_ptr, c_ptr,
        tile_expert_ptr, tile_start_ptr, tile_end_ptr,
        N, K, KB, NB,
        BM: tl.constexpr, BN: tl.constexpr, BK: tl.constexpr,
    ):
        # One program: BM rows of one expert's group × BN output columns. Scales are per
        # 128 columns of K (activations: per row; weights: per 128 × 128 block), so BK = 128
        # and BN divides 128.
        pid_m = tl.program_id(0)
        pid_n = tl.program_id(1)
        expert = tl.load(tile_expert_ptr + pid_m)
        start = tl.load(tile_start_ptr + pid_m)
        end = tl.load(tile_end_ptr + pid_m)
        r = start + tl.arange(0, BM)
        live = r < end
        src = tl.load(rows_ptr + r, mask=live, other=0).to(tl.int64)
        cols = pid_n * BN + tl.arange(0, BN)
        ks = tl.arange(0, BK)
        a_row = a_ptr + src[:, None] * K
        b_col = b_ptr + expert.to(tl.int64) * N * K + cols[None, :].to(tl.int64) * K
        b_scale = bs_ptr + expert.to(tl.int64) * NB * KB + (pid_n * BN // 128) * KB
        acc = tl.zeros((BM, BN), dtype=tl.float32)
        for kb in range(0, KB):
            a = tl.load(a_row + kb * BK + ks[None, :], mask=live[:, None], other=0.0)
            b = tl.load(b_col + kb * BK + ks[:, None])
            sa = tl.load(as_ptr + src * KB + kb, mask=live, other=0.0)
            sb = tl.load(b_scale + kb)
            acc += tl.dot(a, b) * sa[:, None] * sb
        c = c_ptr + r[:, None].to(tl.int64) * N + cols[None, :]
        tl.store(c, acc.to(tl.bfloat16), mask=live[:, None])

    TRITON_ERROR = None
except Exception as e:  # report, do not hide
    TRITON_ERROR = repr(e)

# (BM, BN, warps, stages)
TRITON_CONFIGS = [(64, 128, 4, 4), (128, 128, 8, 3), (64, 64, 4, 5), (16, 128, 4, 4)]


def block_fp8_inputs(dev, counts, k, n):
    kb, nb = k // 128, n // 128
    total = sum(counts)
    a = torch.randn(total, k, device=dev, dtype=torch.bfloat16).to(torch.float8_e4m3fn)
    w = torch.randn(len(counts), n, k, device=dev, dtype=torch.bfloat16).to(torch.float8_e4m3fn)
    sa = torch.rand(total, kb, device=dev, dtype=torch.float32)
    sb = torch.rand(len(counts), nb, kb, device=dev, dtype=torch.float32)
    # Routed rows arrive in token order; the kernel reads them through a permutation.
    rows = torch.randperm(total, device=dev, dtype=torch.int32)
    out = torch.empty(total, n, device=dev, dtype=torch.bfloat16)
    return a, w, sa, sb, rows, out


def block_fp8_launcher(counts, k, n, inputs, config):
    a, w, sa, sb, rows, out = inputs
    bm, bn, warps, stages = config
    dev = a.device
    te, ts, tend = [], [], []
    start = 0
    for e, c in enumerate(counts):
        for t in range(start, start + c, bm):
            te.append(e)
            ts.append(t)
            tend.append(start + c)
        start += c
    te, ts, tend = (torch.tensor(x, device=dev, dtype=torch.int32) for x in (te, ts, tend))
    grid = (len(ts), n // bn)

    def launch():
        _block_fp8_grouped[grid](
            a, rows, sa, w, sb, out, te, ts, tend, n, k, k // 128, n // 128,
            BM=bm, BN=bn, BK=128, num_warps=warps, num_stages=stages,
        )

    return launch


def block_fp8_check(dev):
    """Largest relative error of the Triton kernel against a dequantized matmul."""
    counts, k, n = [3, 0, 70, 33], 256, 256
    inputs = block_fp8_inputs(dev, counts, k, n)
    a, w, sa, sb, rows, out = inputs
    block_fp8_launcher(counts, k, n, inputs, TRITON_CONFIGS[0])()
    ref = torch.empty(sum(counts), n, device=dev)
    start = 0
    for e, c in enumerate(counts):
        src = rows[start:start + c].long()
        x = a[src].float() * sa[src].repeat_interleave(128, dim=1)
        y = w[e].float() * sb[e].repeat_interleave(128, 0).repeat_interleave(128, 1)
        ref[start:start + c] = x @ y.t()
        start += c
    return ((out.float() - ref).abs().max() / ref.abs().max()).item()


def triton_block_fp8(dev, counts, k, n):
    if k % 128 or n % 128:
        raise ValueError("block FP8 needs K and N in multiples of 128")
    inputs = block_fp8_inputs(dev, counts, k, n)
    best = None
    for config in TRITON_CONFIGS:
        bm, bn, warps, stages = config
        launch = block_fp8_launcher(counts, k, n, inputs, config)
        try:
            s = timed(launch)
        except Exception as e:  # a config the compiler refuses: try the next
            print(f"triton config {bm, bn, warps, stages}: {e!r}", file=sys.stderr)
            continue
        if best is None or s < best[0]:
            best = (s, f"BM {bm} BN {bn} warps {warps} stages {stages}")
    if best is None:
        raise RuntimeError("no Triton configuration ran")
    return best


def routed_counts(experts, topk, local, gen):
    """Tokens each of the rank's first `local` experts gets from one routed step."""
    scores = torch.rand(BATCHED_TOKENS, experts, generator=gen)
    chosen = scores.topk(topk, dim=1).indices.flatten()
    counts = torch.bincount(chosen, minlength=experts)[:local]
    # CUTLASS wants every group's rows a multiple of nothing; empty groups are allowed.
    return counts.tolist()


def measure(dev, counts, k, n, row, kernels):
    flops = 2 * sum(counts) * k * n
    for name, fn in kernels:
        try:
            res = fn(dev, counts, k, n)
            if isinstance(res, tuple):
                row[name + "_tflops"] = flops / res[0] / 1e12
                row[name + "_config"] = res[1]
            else:
                row[name + "_tflops"] = flops / res / 1e12
        except Exception as e:  # report, do not hide
            row[name + "_error"] = repr(e)[:300]
        torch.cuda.empty_cache()


def dense(dev, out):
    m = k = n = 8192
    a = torch.randn(m, k, device=dev, dtype=torch.bfloat16)
    b = torch.randn(n, k, device=dev, dtype=torch.bfloat16).t()
    out["dense_bf16_8192_tflops"] = 2 * m * k * n / timed(lambda: a @ b) / 1e12
    a8, b8 = a.to(torch.float8_e4m3fn), b.t().contiguous().to(torch.float8_e4m3fn).t()
    sa = torch.rand(m, 1, device=dev, dtype=torch.float32)
    sb = torch.rand(1, n, device=dev, dtype=torch.float32)
    out["dense_fp8_rowwise_8192_tflops"] = 2 * m * k * n / timed(
        lambda: torch._scaled_mm(a8, b8, scale_a=sa, scale_b=sb, out_dtype=torch.bfloat16)
    ) / 1e12


def main():
    dev = torch.device("cuda", 0)
    out = gpu_timing.environment(dev)
    out["batched_tokens"] = BATCHED_TOKENS
    out["has_grouped_mm"] = hasattr(torch, "_grouped_mm")
    out["has_scaled_grouped_mm"] = hasattr(torch, "_scaled_grouped_mm")
    out["triton"] = TRITON_ERROR or triton.__version__
    kernels = [("bf16_grouped", bf16_grouped), ("fp8_rowwise_grouped", fp8_grouped)]
    if TRITON_ERROR is None:
        kernels.append(("fp8_block_triton", triton_block_fp8))
        try:
            out["fp8_block_triton_check_rel_error"] = block_fp8_check(dev)
        except Exception as e:  # report, do not hide
            out["fp8_block_triton_check_error"] = repr(e)[:300]
    dense(dev, out)
    ref = {"model": "dense reference", "layout": "one group", "gemm": "8192 x 8192",
           "k": 8192, "n": 8192, "experts_on_rank": 1, "tokens_per_expert": 8192}
    measure(dev, [8192], 8192, 8192, ref, kernels)
    out["rows"] = [ref]
    gen = torch.Generator().manual_seed(0)
    for model, layout, gemm, k, n, local, routed, experts, topk in shapes():
        base = {"model": model, "layout": layout, "gemm": gemm, "k": k, "n": n,
                "experts_on_rank": local}
        print(model, layout, gemm, file=sys.stderr, flush=True)
        counts = routed_counts(experts, topk, local, gen)
        row = dict(base, tokens_per_expert=sum(counts) / local, routed_step=True,
                   max_tokens_per_expert=max(counts))
        measure(dev, counts, k, n, row, kernels)
        out["rows"].append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)
        for m in TOKENS_PER_EXPERT:
            row = dict(base, tokens_per_expert=m)
            measure(dev, [m] * local, k, n, row, kernels)
            out["rows"].append(row)
            # Progress, and what survives a timeout.
            print(json.dumps(row), file=sys.stderr, flush=True)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
