#!/usr/bin/env python3
"""Measures what a hardware profile and the reserve need from a GPU, with PyTorch alone.

Prints JSON: the GPU's name, driver and CUDA versions; cudaMemGetInfo's total (the figure vLLM's
budget multiplies, `gpu.memory_bytes` in a hardware profile); and memory outside PyTorch's
allocator (vLLM's "non-torch" term) after creating the CUDA context, after a cuBLAS GEMM, and
after a one-rank NCCL communicator with an all-reduce. Run on the GPU to profile:

    python3 tools/measure_gpu_memory.py > measurement.json
"""
import json
import os
import subprocess

import torch


def non_torch_bytes():
    free, total = torch.cuda.mem_get_info()
    return (total - free) - torch.cuda.memory_reserved()


def main():
    torch.cuda.init()
    device = torch.device("cuda", 0)
    torch.cuda.set_device(device)
    free, total = torch.cuda.mem_get_info()
    out = {
        "gpu": torch.cuda.get_device_name(device),
        "compute_capability": "%d.%d" % torch.cuda.get_device_capability(device),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "mem_get_info_total_bytes": total,
        "mem_get_info_free_bytes_at_start": free,
        "non_torch_after_context_bytes": non_torch_bytes(),
    }
    try:
        smi = subprocess.run(
            ["nvidia-smi", "--query-gpu=driver_version,memory.total", "--format=csv,noheader"],
            capture_output=True, text=True, check=True,
        ).stdout.strip().splitlines()[0]
        out["driver"], out["nvidia_smi_memory_total"] = [x.strip() for x in smi.split(",")]
    except (OSError, subprocess.CalledProcessError):
        pass
    a = torch.randn(4096, 4096, device=device, dtype=torch.bfloat16)
    (a @ a).sum().item()
    torch.cuda.synchronize()
    out["non_torch_after_cublas_bytes"] = non_torch_bytes()
    try:
        import torch.distributed as dist

        os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
        os.environ.setdefault("MASTER_PORT", "29512")
        dist.init_process_group("nccl", rank=0, world_size=1, device_id=device)
        t = torch.ones(1 << 20, device=device)
        dist.all_reduce(t)
        torch.cuda.synchronize()
        out["non_torch_after_nccl_bytes"] = non_torch_bytes()
        dist.destroy_process_group()
    except Exception as e:  # report, do not hide
        out["nccl_error"] = repr(e)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
