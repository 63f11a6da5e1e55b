"""What the measuring scripts in tools/ share: timing a CUDA call, replaying it from a CUDA
graph, the GPU's reference rates, and naming the environment."""
import subprocess

import torch


def timed(fn, iters, warmup):
    """Mean seconds per call of `fn` over `iters` calls after `warmup`, by CUDA events."""
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    start = torch.cuda.Event(enable_timing=True)
    end = torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(iters):
        fn()
    end.record()
    torch.cuda.synchronize()
    return start.elapsed_time(end) / 1000 / iters


def graph_replay(fn, calls=1, warmups=1):
    """`fn` called `calls` times inside one CUDA graph, as vLLM replays its decode steps (no
    Python or launch cost); returns the graph's replay. `warmups` calls on a side stream first
    (cuBLAS workspaces, Triton compilation, NCCL set-up) stay outside the capture."""
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        for _ in range(warmups):
            fn()
    torch.cuda.current_stream().wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        for _ in range(calls):
            fn()
    return graph.replay


def dense_bf16_flops_per_s(dev, n=8192):
    """Achieved FLOP/s of an n × n × n BF16 matmul: the compute roof the others are read against."""
    a = torch.randn(n, n, device=dev, dtype=torch.bfloat16)
    b = torch.randn(n, n, device=dev, dtype=torch.bfloat16)
    return 2 * n**3 / timed(lambda: a @ b, 20, 5)


def copy_tb_per_s(dev):
    """Achieved TB/s of a 1 GiB device-to-device copy, bytes read plus written."""
    big = torch.empty(1 << 30, device=dev, dtype=torch.uint8)
    dst = torch.empty_like(big)
    return 2 * big.numel() / timed(lambda: dst.copy_(big), 20, 5) / 1e12


def environment(dev):
    """The GPU's name, torch and CUDA versions, and the driver where nvidia-smi answers."""
    out = {
        "gpu": torch.cuda.get_device_name(dev),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
    }
    try:
        out["driver"] = subprocess.run(
            ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    return out
