#!/usr/bin/env python3
"""Measures a Mamba-2 layer's decode step as lwsplan's estimate prices it, with PyTorch and
Triton alone (no vLLM).

lwsplan prices a Mamba-2 layer's decode step as moving each running sequence's recurrent SSM
state (read + written back) at the GPU's streaming rate. This measures how close the kernel vLLM
runs at decode comes to that: per point, the microseconds per layer step, the bytes the step must
move, the achieved TB/s, the fraction of the same GPU's device-to-device copy rate (bytes read +
written), and, from the batch 64 and 512 points, the microseconds each further sequence adds (the
slope) next to what its state bytes cost at the copy rate.

What vLLM runs for a Mamba-2 mixer's decode tokens (NemotronH's `mamba2` layers,
`MambaMixer2.forward` in vLLM 0.33.0, default Triton SSU backend, no speculative decoding):

- `causal_conv1d_update` (vllm/model_executor/layers/mamba/ops/causal_conv1d.py): a width-4
  depthwise convolution over the conv state (`[slots, 3, conv_dim]`, vLLM's default "SD" layout,
  dim contiguous) and the new token, SiLU, the state shifted by one token and stored back; one
  program per (sequence, 256 channels).
- `selective_state_update` (vllm/model_executor/layers/mamba/ops/mamba_ssm.py): per (row block
  of BLOCK_SIZE_M head-dim rows, sequence, head) a program loads its `BLOCK_SIZE_M x dstate`
  tile of the state `[slots, nheads, headdim, dstate]` through the sequence's state index,
  computes dt = softplus(dt + dt_bias), dA = exp(A * dt) (A, dt, dt_bias one scalar per head,
  "TIE_HDIM", as MambaMixer2 passes them expanded with stride 0), state = state * dA +
  (B * dt) x^T, out = state C + D x, and stores the state back in place (same index) in the
  state dtype. z is not passed at decode (the gate is applied later, in the gated RMSNorm), so
  it is not read here. (BLOCK_SIZE_M, num_warps) come from vLLM's tuned table for the GPU
  (configs/selective_state_update/headdim=64,dstate=128,device_name=...,cache_dtype=....json,
  keyed by batch x nheads, nearest key), copied below; each point is also timed with vLLM's
  fallback heuristic (4, 4) and a few other tiles, and the fastest is reported beside.

Both kernels are written here after vLLM 0.33.0's (same grid, tiling, loads and stores; not
copied: speculative decoding, varlen, stochastic rounding and the untied-dt paths are left out).
The SSM kernel is checked against a plain PyTorch reference (output and updated state) before
timing, and the conv kernel likewise; the largest errors are printed.

Shapes: NVIDIA Nemotron-3-Nano-30B-A3B's mamba layers (mamba_num_heads 64, mamba_head_dim 64,
ssm_state_size 128, n_groups 8, conv_kernel 4), per-GPU shares at TP 1 and TP 2, with the float32
SSM state vLLM uses for NemotronH (mamba_ssm_cache_dtype float32), and TP 2 with a bf16 state for
comparison; batches 1-512. State slots are shuffled: each sequence's index is drawn at random
from a pool of 2 x batch slots (slot 0 is vLLM's null block and is never used). Each point is
timed from a CUDA graph (as vLLM replays decode) over several layers, each with its own state
pool, so one replay touches well over the L2's capacity and every step reads its state from HBM
(the conv states of batches below ~32 are too small for that; their times are L2-resident).

Bytes per SSM step: the state read + written, plus x, B, C (bf16, read), dt (bf16, one per
head), the output (bf16, written), the state indices, and A / D / dt_bias (per head).

Prints JSON; run on the GPU to profile:

    python3 tools/measure_mamba_decode.py > measurement.json

`--check` runs only the correctness checks on small shapes (with TRITON_INTERPRET=1 it runs on a
CPU).
"""
import datetime
import json
import math
import random
import sys

import torch
import triton
import triton.language as tl

HAVE_GPU = torch.cuda.is_available()
if HAVE_GPU:
    import gpu_timing

ACT_DTYPE = torch.bfloat16
HEADDIM, DSTATE, CONV_WIDTH = 64, 128, 4
# (name, heads per GPU, groups per GPU, state dtype)
SHAPES = [
    ("nemotron-3-nano-30b-a3b mamba2 at TP 1 (64 heads, 8 groups), fp32 state", 64, 8,
     torch.float32),
    ("nemotron-3-nano-30b-a3b mamba2 at TP 2 (32 heads, 4 groups), fp32 state", 32, 4,
     torch.float32),
    ("nemotron-3-nano-30b-a3b mamba2 at TP 2 (32 heads, 4 groups), bf16 state", 32, 4,
     torch.bfloat16),
]
BATCHES = [1, 8, 32, 64, 128, 256, 400, 512]
SLOPE_FROM, SLOPE_TO = 64, 512
# (BLOCK_SIZE_M, num_warps) tiles timed beside vLLM's choice.
SWEEP = [(4, 1), (4, 4), (8, 2), (16, 1), (16, 2), (32, 4), (64, 8)]
DEFAULT_CONFIG = (4, 4)  # vLLM's fallback for dstate 128 off Blackwell, no tuned file
CONV_BLOCK_N = 256  # vLLM's causal_conv1d_update launch
MIN_REPLAY_BYTES = 256 << 20  # one graph replay touches at least this (L2 is 50-60 MiB)
MIN_LAYERS, MAX_LAYERS = 4, 256
NULL_SLOT = 0

# vLLM 0.33.0's tuned (BLOCK_SIZE_M, num_warps) for headdim 64, dstate 128, keyed by
# batch x nheads (configs/selective_state_update/headdim=64,dstate=128,device_name=<gpu>,
# cache_dtype=<float32|float16>.json; bf16 uses the float16 file).
_KEYS = [8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 12288, 16384, 24576, 32768,
         49152, 65536, 98304, 131072, 196608, 262144]
_TUNED = {
    ("NVIDIA_H100_80GB_HBM3", "float32"): [
        (4, 1)] * 10 + [(16, 2), (64, 8), (16, 1), (64, 8), (16, 1), (64, 8), (16, 2), (16, 1),
                        (16, 2), (16, 1), (16, 2)],
    ("NVIDIA_H100_80GB_HBM3", "float16"): [
        (4, 1), (16, 4), (4, 1), (16, 4), (8, 2), (8, 2), (8, 2), (8, 1)] + [(16, 2)] * 3 + [
        (16, 4)] + [(16, 2)] * 9,
    ("NVIDIA_H200", "float32"): [
        (8, 4)] + [(4, 1)] * 10 + [(8, 1)] * 3 + [(4, 1)] * 2 + [(8, 2), (4, 1), (32, 4),
                                                                 (16, 1), (16, 1)],
    ("NVIDIA_H200", "float16"): [
        (4, 2), (4, 1), (4, 1), (16, 4), (8, 2), (8, 2), (16, 1), (16, 1), (8, 2), (16, 2),
        (32, 2), (32, 4), (16, 2), (32, 4), (32, 2)] + [(16, 2)] * 6,
}
assert all(len(v) == len(_KEYS) for v in _TUNED.values())


def vllm_config(gpu_name, state_dtype, batch, nheads):
    """(BLOCK_SIZE_M, num_warps, source) as vLLM 0.33.0's try_get_optimal_ssm_config picks."""
    dev = gpu_name.replace(" ", "_")
    cache = "float32" if state_dtype == torch.float32 else "float16"
    table = _TUNED.get((dev, cache))
    if table is None:
        return DEFAULT_CONFIG + ("default heuristic",)
    eff = batch * nheads
    i = min(range(len(_KEYS)), key=lambda j: abs(_KEYS[j] - eff))
    return table[i] + (f"tuned {dev} {cache} key {_KEYS[i]}",)


@triton.jit
def _softplus(dt):
    return tl.where(dt <= 20.0, tl.log(tl.exp(dt) + 1), dt)


@triton.jit
def _ssu_decode(
    STATE, X, DT, DT_BIAS, A, B, C, D, OUT, IDX,
    null_slot, dim, dstate, heads_per_group,
    s_sb, s_sh, s_sm, s_sn,
    s_xb, s_xh, s_xm,
    s_dtb, s_dth,
    s_dtbias_h, s_a_h, s_d_h, s_d_m,
    s_bb, s_bg, s_bn,
    s_cb, s_cg, s_cn,
    s_ob, s_oh, s_om,
    BLOCK_SIZE_M: tl.constexpr, BLOCK_SIZE_DSTATE: tl.constexpr,
):
    # After vLLM 0.33.0 mamba_ssm.py `_selective_scan_update_kernel`, decode path: one token,
    # state index per sequence, in-place store, TIE_HDIM (A / dt / dt_bias one per head),
    # HAS_D, no z, dt_softplus.
    pid_m = tl.program_id(0)
    pid_b = tl.program_id(1)
    pid_h = tl.program_id(2)
    slot = tl.load(IDX + pid_b).to(tl.int64)
    base = STATE + slot * s_sb + pid_h * s_sh
    X += pid_b * s_xb + pid_h * s_xh
    B += pid_b * s_bb + (pid_h // heads_per_group) * s_bg
    C += pid_b * s_cb + (pid_h // heads_per_group) * s_cg
    OUT += pid_b * s_ob + pid_h * s_oh

    offs_m = pid_m * BLOCK_SIZE_M + tl.arange(0, BLOCK_SIZE_M)
    offs_n = tl.arange(0, BLOCK_SIZE_DSTATE)
    ptrs = base + offs_m[:, None] * s_sm + offs_n[None, :] * s_sn
    mask = (offs_m[:, None] < dim) & (offs_n[None, :] < dstate)
    mask &= slot != null_slot
    state = tl.load(ptrs, mask=mask, other=0.0).to(tl.float32)

    x = tl.load(X + offs_m * s_xm, mask=offs_m < dim, other=0.0).to(tl.float32)
    dt = tl.load(DT + pid_b * s_dtb + pid_h * s_dth).to(tl.float32)
    dt += tl.load(DT_BIAS + pid_h * s_dtbias_h).to(tl.float32)
    dt = _softplus(dt)
    a = tl.load(A + pid_h * s_a_h).to(tl.float32)
    dA = tl.math.exp2(1.4426950408889634 * (a * dt))  # vLLM's fast_exp
    b = tl.load(B + offs_n * s_bn, mask=offs_n < dstate, other=0.0).to(tl.float32)
    c = tl.load(C + offs_n * s_cn, mask=offs_n < dstate, other=0.0).to(tl.float32)
    d = tl.load(D + pid_h * s_d_h + offs_m * s_d_m, mask=offs_m < dim, other=0.0).to(tl.float32)

    state = state * dA + (b * dt)[None, :] * x[:, None]
    out = tl.sum(state * c[None, :], axis=1) + x * d
    tl.store(OUT + offs_m * s_om, out.to(OUT.dtype.element_ty), mask=offs_m < dim)
    tl.store(ptrs, state.to(STATE.dtype.element_ty), mask=mask)


@triton.jit
def _conv_update(
    X, W, BIAS, CSTATE, IDX, OUT,
    dim, s_xb, s_csb, s_cst, s_ob,
    WIDTH: tl.constexpr, BLOCK_N: tl.constexpr,
):
    # After vLLM 0.33.0 causal_conv1d.py `_causal_conv1d_update_kernel`, one token, width 4,
    # bias, SiLU, state layout [slots, width - 1, dim] (dim contiguous, vLLM's default "SD").
    tl.static_assert(WIDTH == 4)
    pid_b = tl.program_id(0)
    feats = tl.program_id(1) * BLOCK_N + tl.arange(0, BLOCK_N)
    fmask = feats < dim
    slot = tl.load(IDX + pid_b).to(tl.int64)
    st = CSTATE + slot * s_csb + feats
    col0 = tl.load(st, mask=fmask, other=0.0)
    col1 = tl.load(st + s_cst, mask=fmask, other=0.0)
    col2 = tl.load(st + 2 * s_cst, mask=fmask, other=0.0)
    x = tl.load(X + pid_b * s_xb + feats, mask=fmask, other=0.0)
    # the window slides by one token
    tl.store(st, col1, mask=fmask)
    tl.store(st + s_cst, col2, mask=fmask)
    tl.store(st + 2 * s_cst, x, mask=fmask)
    acc = tl.load(BIAS + feats, mask=fmask, other=0.0).to(tl.float32)
    acc += col0.to(tl.float32) * tl.load(W + feats * WIDTH + 0, mask=fmask, other=0.0).to(tl.float32)
    acc += col1.to(tl.float32) * tl.load(W + feats * WIDTH + 1, mask=fmask, other=0.0).to(tl.float32)
    acc += col2.to(tl.float32) * tl.load(W + feats * WIDTH + 2, mask=fmask, other=0.0).to(tl.float32)
    acc += x.to(tl.float32) * tl.load(W + feats * WIDTH + 3, mask=fmask, other=0.0).to(tl.float32)
    acc = acc / (1 + tl.exp(-acc))
    tl.store(OUT + pid_b * s_ob + feats, acc.to(OUT.dtype.element_ty), mask=fmask)


def conv_bytes(batch, conv_dim):
    """The conv state read + written (bf16, width - 1 tokens), the token in and out, the
    indices, and the weights and bias."""
    per_seq = 2 * (CONV_WIDTH - 1) * conv_dim * 2 + 2 * conv_dim * 2 + 4
    return batch * per_seq + conv_dim * (CONV_WIDTH + 1) * 2


def shuffled_slots(batch, gen):
    """`batch` distinct slots drawn from a pool of 2 x batch (slot 0, the null block, unused)."""
    pool = list(range(1, 2 * batch + 1))
    gen.shuffle(pool)
    return pool[:batch]


class MambaLayer:
    """One Mamba-2 layer's decode inputs and caches for one batch, in vLLM's layout."""

    def __init__(self, dev, batch, nheads, ngroups, state_dtype, gen, with_ssm_state=True):
        self.batch, self.nheads, self.ngroups = batch, nheads, ngroups
        slots = 2 * batch + 1
        if with_ssm_state:
            self.state = torch.empty(slots, nheads, HEADDIM, DSTATE, device=dev,
                                     dtype=state_dtype)
            self.state.normal_(0, 0.5)
        self.idx = torch.tensor(shuffled_slots(batch, gen), device=dev, dtype=torch.int32)
        self.conv_dim = nheads * HEADDIM + 2 * ngroups * DSTATE
        self.conv_state = torch.randn(slots, CONV_WIDTH - 1, self.conv_dim, device=dev,
                                      dtype=ACT_DTYPE)
        self.conv_w = torch.randn(self.conv_dim, CONV_WIDTH, device=dev, dtype=ACT_DTYPE) * 0.5
        self.conv_b = torch.randn(self.conv_dim, device=dev, dtype=ACT_DTYPE) * 0.1
        # in_proj's output for the conv: x | B | C, one row per sequence
        self.xbc_in = torch.randn(batch, self.conv_dim, device=dev, dtype=ACT_DTYPE)
        self.xbc = torch.randn(batch, self.conv_dim, device=dev, dtype=ACT_DTYPE)  # conv out
        xd = nheads * HEADDIM
        gd = ngroups * DSTATE
        self.x = self.xbc[:, :xd].view(batch, nheads, HEADDIM)
        self.B = self.xbc[:, xd:xd + gd].view(batch, ngroups, DSTATE)
        self.C = self.xbc[:, xd + gd:].view(batch, ngroups, DSTATE)
        self.dt = torch.randn(batch, nheads, device=dev, dtype=ACT_DTYPE)
        self.dt_bias = torch.randn(nheads, device=dev, dtype=ACT_DTYPE) * 0.5
        self.A = -torch.exp(torch.rand(nheads, device=dev, dtype=torch.float32) * 2)
        self.D = torch.randn(nheads, device=dev, dtype=ACT_DTYPE)
        self.out = torch.empty(batch, nheads, HEADDIM, device=dev, dtype=ACT_DTYPE)

    def ssm_bytes(self):
        b, h, g = self.batch, self.nheads, self.ngroups
        st = h * HEADDIM * DSTATE * self.state.element_size()
        act = 2  # bf16 activations
        small = b * (2 * h * HEADDIM * act + 2 * g * DSTATE * act + h * act + 4)
        small += h * (4 + 2 * act)  # A, D, dt_bias
        return {"state": 2 * b * st, "other": small}

    def conv_bytes(self):
        return conv_bytes(self.batch, self.conv_dim)

    def ssm(self, block_m, warps):
        st = self.state
        # vLLM's MambaMixer2 passes A, dt, dt_bias and D expanded with stride 0 over head_dim
        D = self.D[:, None].expand(-1, HEADDIM)
        grid = (triton.cdiv(HEADDIM, block_m), self.batch, self.nheads)
        _ssu_decode[grid](
            st, self.x, self.dt, self.dt_bias, self.A, self.B, self.C, D, self.out, self.idx,
            NULL_SLOT, HEADDIM, DSTATE, self.nheads // self.ngroups,
            st.stride(0), st.stride(1), st.stride(2), st.stride(3),
            self.x.stride(0), self.x.stride(1), self.x.stride(2),
            self.dt.stride(0), self.dt.stride(1),
            self.dt_bias.stride(0), self.A.stride(0), D.stride(0), D.stride(1),
            self.B.stride(0), self.B.stride(1), self.B.stride(2),
            self.C.stride(0), self.C.stride(1), self.C.stride(2),
            self.out.stride(0), self.out.stride(1), self.out.stride(2),
            BLOCK_SIZE_M=block_m, BLOCK_SIZE_DSTATE=triton.next_power_of_2(DSTATE),
            num_warps=warps,
        )

    def conv(self):
        grid = (self.batch, triton.cdiv(self.conv_dim, CONV_BLOCK_N))
        _conv_update[grid](
            self.xbc_in, self.conv_w, self.conv_b, self.conv_state, self.idx, self.xbc,
            self.conv_dim, self.xbc_in.stride(0), self.conv_state.stride(0),
            self.conv_state.stride(1), self.xbc.stride(0),
            WIDTH=CONV_WIDTH, BLOCK_N=CONV_BLOCK_N,
        )

    def ssm_reference(self):
        """(out, new states of the batch's slots) by plain PyTorch in float32."""
        idx = self.idx.long()
        s = self.state[idx].float()  # [b, h, m, n]
        rep = self.nheads // self.ngroups
        Bh = self.B.float().repeat_interleave(rep, 1)  # [b, h, n]
        Ch = self.C.float().repeat_interleave(rep, 1)
        dt = torch.nn.functional.softplus(self.dt.float() + self.dt_bias.float())  # [b, h]
        dA = torch.exp(self.A[None, :] * dt)
        x = self.x.float()
        s = s * dA[..., None, None] + (Bh * dt[..., None])[:, :, None, :] * x[..., None]
        out = (s * Ch[:, :, None, :]).sum(-1) + x * self.D.float()[None, :, None]
        return out, s

    def conv_reference(self):
        idx = self.idx.long()
        st = self.conv_state[idx].float()  # [b, 3, dim]
        win = torch.cat([st, self.xbc_in.float()[:, None, :]], 1)  # [b, 4, dim]
        acc = (win * self.conv_w.float().t()[None]).sum(1) + self.conv_b.float()
        return torch.nn.functional.silu(acc), win[:, 1:]


def check(dev, shapes, batches, configs):
    """Largest errors of the SSM kernel (output, state) and the conv kernel vs PyTorch."""
    gen = random.Random(1)
    worst = {"ssm_out": 0.0, "ssm_state": 0.0, "conv_out": 0.0, "conv_state": 0.0}
    for (_, h, g, sd) in shapes:
        for b in batches:
            for (bm, w) in configs:
                layer = MambaLayer(dev, b, h, g, sd, gen)
                want_out, want_state = layer.ssm_reference()
                layer.ssm(bm, w)
                got_state = layer.state[layer.idx.long()].float()
                # compare with the reference rounded to the state dtype, as the kernel stores it
                want_state = want_state.to(sd).float()
                # errors relative to the value (floor 0.01); bf16 values are within a unit
                # in the last place (2^-8 .. 2^-7 relative) of the float32 reference
                tol = 1e-4 if sd == torch.float32 else 1e-2
                want_out = want_out.to(ACT_DTYPE).float()
                e_out = ((layer.out.float() - want_out).abs()
                         / (1e-2 + want_out.abs())).max().item()
                e_st = ((got_state - want_state).abs()
                        / (1e-2 + want_state.abs())).max().item()
                worst["ssm_out"] = max(worst["ssm_out"], e_out)
                worst["ssm_state"] = max(worst["ssm_state"], e_st)
                if e_st > tol or e_out > 1e-2:
                    raise SystemExit(f"SSM kernel disagrees with PyTorch: b={b} h={h} {sd} "
                                     f"BLOCK_SIZE_M={bm}: out {e_out}, state {e_st}")
            want_out, want_st = layer.conv_reference()
            layer.conv()
            want_out = want_out.to(ACT_DTYPE).float()
            e_out = ((layer.xbc.float() - want_out).abs() / (1e-2 + want_out.abs())).max().item()
            e_st = (layer.conv_state[layer.idx.long()].float() - want_st).abs().max().item()
            worst["conv_out"] = max(worst["conv_out"], e_out)
            worst["conv_state"] = max(worst["conv_state"], e_st)
            if e_out > 1e-2 or e_st > 0:
                raise SystemExit(f"conv kernel disagrees with PyTorch: {e_out}, {e_st}")
    return worst


def layers_for(bytes_per_call):
    return max(MIN_LAYERS, min(MAX_LAYERS, math.ceil(MIN_REPLAY_BYTES / bytes_per_call)))


def graph_time(layers, fn):
    """Seconds per layer step, `fn(layer)` for each layer captured in one CUDA graph."""
    replay = gpu_timing.graph_replay(lambda: [fn(l) for l in layers])
    return gpu_timing.timed(replay, 10, 2) / len(layers)


def measure(dev, gpu_name, copy_tb_s):
    gen = random.Random(0)
    rows, conv_rows = [], []
    for (name, h, g, sd) in SHAPES:
        for b in BATCHES:
            st_bytes = 2 * b * h * HEADDIM * DSTATE * torch.empty((), dtype=sd).element_size()
            n_layers = layers_for(st_bytes)
            layers = [MambaLayer(dev, b, h, g, sd, gen) for _ in range(n_layers)]
            by = layers[0].ssm_bytes()
            total = by["state"] + by["other"]
            bm, w, src = vllm_config(gpu_name, sd, b, h)
            tried = {}
            for cfg in dict.fromkeys([(bm, w), DEFAULT_CONFIG] + SWEEP):
                try:
                    tried[cfg] = graph_time(layers, lambda l, c=cfg: l.ssm(*c))
                except Exception as e:  # a tile that does not fit: report, go on
                    print(json.dumps({"config": cfg, "error": repr(e)[:200]}), file=sys.stderr,
                          flush=True)
            t = tried[(bm, w)]
            best_cfg = min(tried, key=tried.get)
            tb_s = total / t / 1e12
            row = {
                "shape": name, "nheads": h, "ngroups": g, "state_dtype": str(sd).split(".")[1],
                "batch": b, "layers_per_graph": n_layers,
                "vllm_block_size_m_num_warps": [bm, w], "vllm_config_source": src,
                "us": t * 1e6, "state_bytes": by["state"], "other_bytes": by["other"],
                "tb_per_s": tb_s, "of_copy_rate": tb_s / copy_tb_s,
                "default_4_4_us": tried.get(DEFAULT_CONFIG, float("nan")) * 1e6,
                "best_block_size_m_num_warps": list(best_cfg), "best_us": tried[best_cfg] * 1e6,
                "best_of_copy_rate": total / tried[best_cfg] / 1e12 / copy_tb_s,
                "all_us": {f"{c[0]}x{c[1]}": v * 1e6 for c, v in tried.items()},
            }
            print(json.dumps({k: v for k, v in row.items() if k != "all_us"}), file=sys.stderr,
                  flush=True)
            rows.append(row)
            del layers
            torch.cuda.empty_cache()

            # conv1d update: its own layers (the states are small, so more of them)
            cb = conv_bytes(b, h * HEADDIM + 2 * g * DSTATE)
            if sd == torch.float32:  # the conv state is bf16 whatever the SSM state's dtype
                n_conv = layers_for(cb)
                layers = [MambaLayer(dev, b, h, g, sd, gen, with_ssm_state=False)
                          for _ in range(n_conv)]
                tc = graph_time(layers, lambda l: l.conv())
                conv_rows.append({
                    "shape": name.rsplit(",", 1)[0], "conv_dim": layers[0].conv_dim, "batch": b,
                    "layers_per_graph": n_conv, "replay_bytes": n_conv * cb,
                    "us": tc * 1e6, "bytes": cb, "tb_per_s": cb / tc / 1e12,
                    "of_copy_rate": cb / tc / 1e12 / copy_tb_s})
                print(json.dumps(conv_rows[-1]), file=sys.stderr, flush=True)
                del layers
                torch.cuda.empty_cache()
    return rows, conv_rows


def slopes(rows, copy_tb_s):
    """Per shape, microseconds each sequence adds between SLOPE_FROM and SLOPE_TO, vs the copy
    rate's time for its state bytes (read + written) and for all its bytes."""
    out = {}
    for name in dict.fromkeys(r["shape"] for r in rows):
        pts = {r["batch"]: r for r in rows if r["shape"] == name}
        lo, hi = pts[SLOPE_FROM], pts[SLOPE_TO]
        n = SLOPE_TO - SLOPE_FROM
        per_seq_state = (hi["state_bytes"] - lo["state_bytes"]) / n
        per_seq_all = per_seq_state + (hi["other_bytes"] - lo["other_bytes"]) / n
        at_copy = per_seq_state / (copy_tb_s * 1e12) * 1e6
        entry = {}
        for key, label in [("us", "vllm_config"), ("best_us", "best_config")]:
            slope = (hi[key] - lo[key]) / n
            entry[label] = {"us_per_seq": slope, "x_state_at_copy_rate": slope / at_copy,
                            "tb_per_s": per_seq_all / (slope * 1e-6) / 1e12}
        out[name] = {"state_bytes_per_seq": per_seq_state, "all_bytes_per_seq": per_seq_all,
                     "state_at_copy_rate_us_per_seq": at_copy, **entry}
    return out


def main():
    if "--check" in sys.argv:
        dev = torch.device("cuda" if HAVE_GPU else "cpu")
        small = [(n, h, g, sd) for (n, h, g, sd) in SHAPES]
        worst = check(dev, small, [1, 3], [(4, 1), (16, 2)])
        print(json.dumps({"max_rel_error": worst}))
        return
    dev = torch.device("cuda", 0)
    out = gpu_timing.environment(dev)
    out["triton"] = triton.__version__
    out["date_utc"] = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M")
    out["sms"] = torch.cuda.get_device_properties(dev).multi_processor_count
    out["follows"] = ("vLLM 0.33.0 selective_state_update (mamba_ssm.py) and "
                      "causal_conv1d_update (causal_conv1d.py), decode path, re-implemented")
    copy = gpu_timing.copy_tb_per_s(dev)
    out["d2d_copy_read_plus_write_tb_per_s"] = copy
    out["kernel_max_rel_error_vs_torch"] = check(dev, SHAPES, [1, 5, 64], [(4, 1), (16, 2),
                                                                             (4, 4), (64, 8)])
    print(json.dumps(out), file=sys.stderr, flush=True)
    rows, conv_rows = measure(dev, torch.cuda.get_device_name(dev), copy)
    out["ssm_update"] = rows
    out["ssm_update_per_seq_slope"] = slopes(rows, copy)
    out["conv1d_update"] = conv_rows
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
