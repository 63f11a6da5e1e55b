#!/usr/bin/env python3
"""Measures attention as lwsplan's estimate prices it, with PyTorch and Triton alone (no vLLM).

Decode: one query token per sequence against a *paged* KV cache (a block pool indexed through a
block table, vLLM's layout: `[num_blocks, block_size, kv_heads, head_dim]`), by a split-K Triton
kernel written here after vLLM's Triton decode-attention backend: each program reads a run of a
sequence's tokens through the block table for one KV head and all the query heads that share it,
and a second kernel merges the splits by their log-sum-exp. Each point is timed from a CUDA
graph (as vLLM replays decode) with the fastest of a few tile configurations, at batch x context for the
per-GPU head shapes of the built-in models, as the KV bytes read per second, next to the same
GPU's device-to-device copy rate (bytes read + written) — the ratio is what lwsplan's
`KV_READ_EFFICIENCY` stands for. The MLA shape is the absorbed form vLLM's MLA backends decode in:
128 / TP query heads against one 576-wide latent row (512 values + 64 rotary) per token.

The kernel is checked against `torch.nn.functional.scaled_dot_product_attention` on a gathered
copy before it is timed (the largest error is printed). Block tables are shuffled, so pages are
not contiguous in memory.

Prefill: causal attention over a whole prompt (`scaled_dot_product_attention`, is_causal) with
the flash and cuDNN backends, at 1k-32k tokens, as achieved TFLOP/s counting the causal half
(2 * 2 * S^2 / 2 * heads * head_dim), next to an 8192^3 BF16 matmul's rate.

Prints JSON; run on the GPU to profile:

    python3 tools/measure_attention.py > measurement.json
"""
import json
import math
import random
import sys

import torch
import triton
import triton.language as tl

import gpu_timing

DTYPE = torch.bfloat16
BLOCK_SIZE = 16  # vLLM's default --block-size on CUDA
# (tokens a decode program reads per iteration, warps, pipeline stages): each point is timed
# with each and the fastest kept, as vLLM's kernels are tuned; the 576-wide MLA rows take
# smaller tiles (shared memory).
CONFIGS = [(64, 4, 2), (32, 4, 2), (128, 4, 2), (128, 8, 2)]
CONFIGS_MLA = [(32, 4, 2), (32, 8, 2), (16, 4, 3), (64, 8, 1)]
GRAPH_CALLS = 10  # decode calls per CUDA graph: timed as vLLM runs them, without launch cost

# (name, query heads per GPU, KV heads per GPU, value head dim, extra rotary dims on K):
# per-GPU shares of config.json's num_attention_heads / num_key_value_heads / head_dim.
DECODE_SHAPES = [
    ("llama-3.1-405b / 70b at TP 8 (64 q, 8 kv, d 128)", 8, 1, 128, 0),
    ("qwen3-235b-a22b at TP 4 (64 q, 4 kv, d 128)", 16, 1, 128, 0),
    ("llama-3.1-8b / qwen3-8b at TP 1 (32 q, 8 kv, d 128)", 32, 8, 128, 0),
    ("gpt-oss-120b at TP 1 (64 q, 8 kv, d 64)", 64, 8, 64, 0),
    ("deepseek-r1 MLA absorbed at TP 8 (16 q, latent 512 + 64)", 16, 1, 512, 64),
]
BATCHES = [1, 8, 32, 128]
CONTEXTS = [1024, 4096, 16384, 65536]
CACHE_BUDGET_BYTES = 24 << 30  # skip points whose cache would not fit comfortably

# (name, query heads, KV heads, head dim) for prefill: per-GPU shares again.
PREFILL_SHAPES = [
    ("llama-3.1-405b at TP 8 (16 q, 2 kv, d 128)", 16, 2, 128),
    ("llama-3.1-8b at TP 1 (32 q, 8 kv, d 128)", 32, 8, 128),
    ("gpt-oss-120b at TP 1 (64 q, 8 kv, d 64)", 64, 8, 64),
]
PREFILL_LENGTHS = [1024, 4096, 16384, 32768]


@triton.jit
def _decode_split(
    Q, KC, VC, BT, LENS, ACC, LSE,
    stride_qb, stride_qh,
    stride_kb, stride_kt, stride_kh,
    stride_vb, stride_vt, stride_vh,
    stride_bt,
    stride_ab, stride_ah, stride_as,
    stride_lb, stride_lh,
    sm_scale, tokens_per_split,
    GROUP: tl.constexpr, GROUP_PAD: tl.constexpr,
    D: tl.constexpr, DPE: tl.constexpr,
    BLOCK: tl.constexpr, TILE_N: tl.constexpr,
):
    b = tl.program_id(0)
    kvh = tl.program_id(1)
    split = tl.program_id(2)
    seq_len = tl.load(LENS + b)
    start = split * tokens_per_split
    end = tl.minimum(start + tokens_per_split, seq_len)

    g = tl.arange(0, GROUP_PAD)
    gmask = g < GROUP
    heads = kvh * GROUP + g
    d = tl.arange(0, D)
    q = tl.load(Q + b * stride_qb + heads[:, None] * stride_qh + d[None, :],
                mask=gmask[:, None], other=0.0)
    if DPE > 0:
        dp = tl.arange(0, DPE)
        qpe = tl.load(Q + b * stride_qb + heads[:, None] * stride_qh + D + dp[None, :],
                      mask=gmask[:, None], other=0.0)

    m = tl.full([GROUP_PAD], float("-inf"), dtype=tl.float32)
    l = tl.zeros([GROUP_PAD], dtype=tl.float32)
    acc = tl.zeros([GROUP_PAD, D], dtype=tl.float32)
    for t0 in range(start, end, TILE_N):
        t = t0 + tl.arange(0, TILE_N)
        tmask = t < end
        page = tl.load(BT + b * stride_bt + t // BLOCK, mask=tmask, other=0)
        row_k = page.to(tl.int64) * stride_kb + (t % BLOCK) * stride_kt + kvh * stride_kh
        k = tl.load(KC + row_k[:, None] + d[None, :], mask=tmask[:, None], other=0.0)
        s = tl.dot(q, tl.trans(k))
        if DPE > 0:
            kpe = tl.load(KC + row_k[:, None] + D + dp[None, :], mask=tmask[:, None], other=0.0)
            s += tl.dot(qpe, tl.trans(kpe))
        s = s * sm_scale
        s = tl.where(tmask[None, :], s, float("-inf"))
        m_new = tl.maximum(m, tl.max(s, 1))
        alpha = tl.exp(m - m_new)
        p = tl.exp(s - m_new[:, None])
        l = l * alpha + tl.sum(p, 1)
        if DPE > 0:
            v = k  # MLA: the values are the latent the scores were taken against
        else:
            row_v = page.to(tl.int64) * stride_vb + (t % BLOCK) * stride_vt + kvh * stride_vh
            v = tl.load(VC + row_v[:, None] + d[None, :], mask=tmask[:, None], other=0.0)
        acc = acc * alpha[:, None] + tl.dot(p.to(v.dtype), v)
        m = m_new

    out = acc / l[:, None]
    tl.store(ACC + b * stride_ab + heads[:, None] * stride_ah + split * stride_as + d[None, :],
             out, mask=gmask[:, None])
    tl.store(LSE + b * stride_lb + heads * stride_lh + split, m + tl.log(l), mask=gmask)


@triton.jit
def _decode_merge(ACC, LSE, OUT, splits,
                  stride_ab, stride_ah, stride_as, stride_lb, stride_lh, stride_ob, stride_oh,
                  D: tl.constexpr, SPLITS_PAD: tl.constexpr):
    b = tl.program_id(0)
    h = tl.program_id(1)
    s = tl.arange(0, SPLITS_PAD)
    smask = s < splits
    lse = tl.load(LSE + b * stride_lb + h * stride_lh + s, mask=smask, other=float("-inf"))
    w = tl.exp(lse - tl.max(lse, 0))
    w = tl.where(smask, w, 0.0)
    d = tl.arange(0, D)
    acc = tl.load(ACC + b * stride_ab + h * stride_ah + s[:, None] * stride_as + d[None, :],
                  mask=smask[:, None], other=0.0)
    out = tl.sum(acc * w[:, None], 0) / tl.sum(w, 0)
    tl.store(OUT + b * stride_ob + h * stride_oh + d, out.to(OUT.dtype.element_ty))


class PagedDecode:
    """One decode step's attention for a batch over a shuffled paged cache."""

    def __init__(self, dev, batch, context, q_heads, kv_heads, d, dpe, sms, config=None):
        self.batch, self.context = batch, context
        self.q_heads, self.kv_heads, self.d, self.dpe = q_heads, kv_heads, d, dpe
        pages_per_seq = math.ceil(context / BLOCK_SIZE)
        num_blocks = batch * pages_per_seq
        width = d + dpe
        self.k_cache = torch.randn(num_blocks, BLOCK_SIZE, kv_heads, width, device=dev,
                                   dtype=DTYPE)
        # MLA keeps one latent row: values are its first `d` columns, read through the same cache.
        self.v_cache = (self.k_cache if dpe else
                        torch.randn(num_blocks, BLOCK_SIZE, kv_heads, d, device=dev,
                                    dtype=DTYPE))
        order = list(range(num_blocks))
        random.Random(0).shuffle(order)
        self.block_table = torch.tensor(order, device=dev, dtype=torch.int32).view(
            batch, pages_per_seq)
        self.lens = torch.full((batch,), context, device=dev, dtype=torch.int32)
        self.q = torch.randn(batch, q_heads, width, device=dev, dtype=DTYPE)
        self.sm_scale = 1.0 / math.sqrt(width)
        # Enough programs to fill the GPU twice, no split shorter than 256 tokens.
        want = max(1, math.ceil(2 * sms / (batch * kv_heads)))
        self.splits = max(1, min(want, context // 256))
        self.tile, self.warps, self.stages = config or (CONFIGS_MLA if dpe else CONFIGS)[0]
        self.tokens_per_split = (math.ceil(math.ceil(context / self.splits) / self.tile)
                                 * self.tile)
        self.splits = math.ceil(context / self.tokens_per_split)
        self.acc = torch.empty(batch, q_heads, self.splits, d, device=dev, dtype=torch.float32)
        self.lse = torch.empty(batch, q_heads, self.splits, device=dev, dtype=torch.float32)
        self.out = torch.empty(batch, q_heads, d, device=dev, dtype=DTYPE)
        self.group = q_heads // kv_heads

    def kv_bytes(self):
        width = self.d + self.dpe
        per_token = self.kv_heads * (width if self.dpe else 2 * self.d) * 2
        return self.batch * self.context * per_token

    def __call__(self):
        kc, vc = self.k_cache, self.v_cache
        _decode_split[(self.batch, self.kv_heads, self.splits)](
            self.q, kc, vc, self.block_table, self.lens, self.acc, self.lse,
            self.q.stride(0), self.q.stride(1),
            kc.stride(0), kc.stride(1), kc.stride(2),
            vc.stride(0), vc.stride(1), vc.stride(2),
            self.block_table.stride(0),
            self.acc.stride(0), self.acc.stride(1), self.acc.stride(2),
            self.lse.stride(0), self.lse.stride(1),
            self.sm_scale, self.tokens_per_split,
            GROUP=self.group, GROUP_PAD=max(16, triton.next_power_of_2(self.group)),
            D=self.d, DPE=self.dpe, BLOCK=BLOCK_SIZE, TILE_N=self.tile,
            num_warps=self.warps, num_stages=self.stages,
        )
        _decode_merge[(self.batch, self.q_heads)](
            self.acc, self.lse, self.out, self.splits,
            self.acc.stride(0), self.acc.stride(1), self.acc.stride(2),
            self.lse.stride(0), self.lse.stride(1), self.out.stride(0), self.out.stride(1),
            D=self.d, SPLITS_PAD=max(2, triton.next_power_of_2(self.splits)),
        )
        return self.out

    def reference(self):
        """The same attention by SDPA over a gathered (contiguous) copy of the cache."""
        b, ctx = self.batch, self.context
        pages = self.block_table.long()
        k = self.k_cache[pages].reshape(b, -1, self.kv_heads, self.d + self.dpe)[:, :ctx]
        v = self.v_cache[pages].reshape(b, -1, self.kv_heads, self.v_cache.shape[-1])[:, :ctx]
        v = v[..., :self.d]
        k = k.transpose(1, 2).repeat_interleave(self.group, 1).float()
        v = v.transpose(1, 2).repeat_interleave(self.group, 1).float()
        q = self.q.unsqueeze(2).float()
        return torch.nn.functional.scaled_dot_product_attention(
            q, k, v, scale=self.sm_scale).squeeze(2)


def graph_time(fn):
    """Seconds per call of `fn` replayed from a CUDA graph of GRAPH_CALLS calls."""
    return gpu_timing.timed(gpu_timing.graph_replay(fn, GRAPH_CALLS), 10, 2) / GRAPH_CALLS


def line_fit(rows):
    """Per shape, least squares of time on KV bytes: a call's latency and the streaming rate."""
    fits = {}
    for name in dict.fromkeys(r["shape"] for r in rows):
        pts = [(r["kv_bytes"], r["us"] * 1e-6) for r in rows if r["shape"] == name]
        n = len(pts)
        mx = sum(x for x, _ in pts) / n
        my = sum(y for _, y in pts) / n
        slope = (sum((x - mx) * (y - my) for x, y in pts)
                 / sum((x - mx) ** 2 for x, _ in pts))
        fits[name] = {"latency_us": (my - slope * mx) * 1e6, "tb_per_s": 1 / slope / 1e12}
    return fits


def check_kernel(dev, sms):
    worst = 0.0
    for (_, qh, kvh, d, dpe) in DECODE_SHAPES:
        for (b, ctx) in [(3, 1000), (2, 5000)]:
            run = PagedDecode(dev, b, ctx, qh, kvh, d, dpe, sms)
            got = run().float()
            want = run.reference()
            worst = max(worst, (got - want).abs().max().item())
    if worst > 2e-2:
        raise SystemExit(f"paged decode kernel disagrees with SDPA by {worst}")
    return worst


def decode(dev, sms, copy_tb_s):
    rows = []
    for (name, qh, kvh, d, dpe) in DECODE_SHAPES:
        for ctx in CONTEXTS:
            for b in BATCHES:
                per_token = kvh * ((d + dpe) if dpe else 2 * d) * 2
                if b * ctx * per_token > CACHE_BUDGET_BYTES:
                    continue
                best = None
                for config in (CONFIGS_MLA if dpe else CONFIGS):
                    run = PagedDecode(dev, b, ctx, qh, kvh, d, dpe, sms, config)
                    try:
                        t = graph_time(run)
                    except Exception as e:  # a tile that does not fit: report, go on
                        print(json.dumps({"config": config, "error": repr(e)[:200]}),
                              file=sys.stderr, flush=True)
                        continue
                    if best is None or t < best[0]:
                        best = (t, config, run.splits, run.kv_bytes())
                    del run
                    torch.cuda.empty_cache()
                t, config, splits, kv_bytes = best
                tb_s = kv_bytes / t / 1e12
                row = {"shape": name, "batch": b, "context": ctx, "splits": splits,
                       "tile_warps_stages": config, "us": t * 1e6, "kv_bytes": kv_bytes,
                       "kv_tb_per_s": tb_s, "of_copy_rate": tb_s / copy_tb_s}
                print(json.dumps(row), file=sys.stderr, flush=True)
                rows.append(row)
    return rows


def prefill(dev):
    from torch.nn.attention import SDPBackend, sdpa_kernel
    rows = []
    for (name, qh, kvh, d) in PREFILL_SHAPES:
        for s in PREFILL_LENGTHS:
            q = torch.randn(1, qh, s, d, device=dev, dtype=DTYPE)
            k = torch.randn(1, kvh, s, d, device=dev, dtype=DTYPE)
            v = torch.randn(1, kvh, s, d, device=dev, dtype=DTYPE)
            k = k.repeat_interleave(qh // kvh, 1)
            v = v.repeat_interleave(qh // kvh, 1)
            flops = 4 * s * s / 2 * qh * d
            row = {"shape": name, "tokens": s}
            for label, backend in [("flash", SDPBackend.FLASH_ATTENTION),
                                   ("cudnn", SDPBackend.CUDNN_ATTENTION)]:
                try:
                    with sdpa_kernel(backend):
                        fn = lambda: torch.nn.functional.scaled_dot_product_attention(
                            q, k, v, is_causal=True)
                        t = gpu_timing.timed(fn, 10, 3)
                    row[f"{label}_us"] = t * 1e6
                    row[f"{label}_tflops"] = flops / t / 1e12
                except Exception as e:  # report, do not hide
                    row[f"{label}_error"] = repr(e)[:200]
            print(json.dumps(row), file=sys.stderr, flush=True)
            rows.append(row)
            del q, k, v
    return rows


def main():
    dev = torch.device("cuda", 0)
    out = gpu_timing.environment(dev)
    out["triton"] = triton.__version__
    sms = torch.cuda.get_device_properties(dev).multi_processor_count
    out["sms"] = sms
    out["block_size"] = BLOCK_SIZE
    out["bf16_matmul_8192_tflops"] = gpu_timing.dense_bf16_flops_per_s(dev) / 1e12
    out["d2d_copy_read_plus_write_tb_per_s"] = gpu_timing.copy_tb_per_s(dev)
    out["decode_kernel_max_abs_error_vs_sdpa"] = check_kernel(dev, sms)
    out["decode_paged"] = decode(dev, sms, out["d2d_copy_read_plus_write_tb_per_s"])
    out["decode_paged_fit"] = line_fit(out["decode_paged"])
    out["prefill_causal"] = prefill(dev)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
