"""Measure the collectives a vLLM step runs, on every GPU of one host: what the performance
estimate's communication terms need and a datasheet does not give (latency at decode sizes).

One process per GPU (torch.multiprocessing), NCCL, times by CUDA events:
- all-reduce at the sizes a decode step produces (hidden x batch x 2 bytes, hidden 4096 / 7168 /
  8192, batch 1-512), inside a CUDA graph as vLLM replays decode steps, and eagerly at prefill
  sizes (8192 and 16384 tokens);
- all-to-all at expert-parallel dispatch sizes (tokens x top-k x hidden x 1 byte, FP8 dispatch);
- send/recv between neighbouring ranks at pipeline hand-off sizes (hidden x batch x 2 bytes).
For each GPU count in --gpus (default 2, 4, 8: those the host has) it writes one JSON file with
"gpus", the GPU model, driver, NCCL version and date, each point's median microseconds, and the
bus bandwidth NCCL's tests would report (all-reduce: 2(n-1)/n x bytes / time).

NVLink multicast stays off (NCCL_NVLS_ENABLE=0 and the machine's other variables are kept):
multicast can take a shared host's GPUs out of service.

    python3 tools/measure_collectives.py --out tools/measurements
"""
import argparse
import datetime
import json
import os
import statistics

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from gpu_timing import environment, graph_replay, timed

HIDDEN = (4096, 7168, 8192)
DECODE_BATCH = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)
PREFILL_TOKENS = (8192, 16384)
TOP_K = 8
REPEATS = 7


def median_us(fn, iters=50, warmup=10):
    """Median over REPEATS of the mean microseconds per call over `iters` calls (the shared
    timer: one warm-up, then timed batches)."""
    timed(fn, 1, warmup)
    return statistics.median(timed(fn, iters, 0) * 1e6 for _ in range(REPEATS))


def all_reduce_points(rank, world):
    points = []
    for hidden in HIDDEN:
        for batch in DECODE_BATCH:
            x = torch.randn(batch, hidden, dtype=torch.bfloat16, device="cuda")
            replay = graph_replay(lambda: dist.all_reduce(x), warmups=3)
            us = median_us(replay)
            points.append(bus("all_reduce", "decode, CUDA graph", hidden, batch, x, us, world))
        for tokens in PREFILL_TOKENS:
            x = torch.randn(tokens, hidden, dtype=torch.bfloat16, device="cuda")
            us = median_us(lambda: dist.all_reduce(x), iters=10, warmup=3)
            points.append(bus("all_reduce", "prefill, eager", hidden, tokens, x, us, world))
    return points


def all_to_all_points(rank, world):
    points = []
    for hidden in HIDDEN:
        for batch in DECODE_BATCH:
            # Each token goes to TOP_K experts; the dispatch buffer is split evenly over ranks.
            rows = batch * TOP_K
            rows -= rows % world
            if rows == 0:
                continue
            src = torch.randint(0, 255, (rows, hidden), dtype=torch.uint8, device="cuda")
            dst = torch.empty_like(src)
            us = median_us(lambda: dist.all_to_all_single(dst, src))
            points.append(bus("all_to_all", "EP dispatch, FP8, eager", hidden, batch, src, us, world))
    return points


def send_recv_points(rank, world):
    if world < 2:
        return []
    points = []
    for hidden in HIDDEN:
        for batch in DECODE_BATCH:
            x = torch.randn(batch, hidden, dtype=torch.bfloat16, device="cuda")

            def hand_off():
                # Even ranks send to the next, odd ranks receive: one PP boundary per pair.
                if rank % 2 == 0 and rank + 1 < world:
                    dist.send(x, rank + 1)
                elif rank % 2 == 1:
                    dist.recv(x, rank - 1)

            us = median_us(hand_off)
            points.append(bus("send_recv", "PP hand-off, eager", hidden, batch, x, us, world))
    return points


def bus(op, mode, hidden, rows, tensor, us, world):
    size = tensor.numel() * tensor.element_size()
    factor = {"all_reduce": 2 * (world - 1) / world, "all_to_all": (world - 1) / world}.get(op, 1)
    return {
        "op": op,
        "mode": mode,
        "hidden": hidden,
        "rows": rows,
        "bytes": size,
        "us": round(us, 2),
        "bus_gb_per_s": round(size * factor / (us * 1e-6) / 1e9, 2) if us > 0 else None,
    }


def worker(rank, world, port, queue):
    os.environ.setdefault("NCCL_NVLS_ENABLE", "0")
    torch.cuda.set_device(rank)
    dist.init_process_group(
        "nccl", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world,
        device_id=torch.device("cuda", rank),
    )
    points = all_reduce_points(rank, world) + all_to_all_points(rank, world) + send_recv_points(rank, world)
    # Every rank timed the same collectives; rank 0 reports (the slowest rank bounds a step,
    # so take the maximum over ranks).
    times = torch.tensor([p["us"] for p in points], dtype=torch.float64, device="cuda")
    dist.all_reduce(times, op=dist.ReduceOp.MAX)
    if rank == 0:
        for p, us in zip(points, times.tolist()):
            p["us"] = round(us, 2)
        queue.put(points)
    dist.destroy_process_group()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--gpus", type=int, nargs="*", help="GPU counts [2 4 8, those present]")
    parser.add_argument("--out", default=os.environ.get("OUT", "."))
    args = parser.parse_args()
    os.environ["NCCL_NVLS_ENABLE"] = "0"
    present = torch.cuda.device_count()
    counts = args.gpus or [n for n in (2, 4, 8) if n <= present] or [present]
    env = environment(0)
    env["nccl"] = ".".join(map(str, torch.cuda.nccl.version()))
    for n, world in enumerate(counts):
        if world > present:
            print(f"skipping {world} GPUs: the host has {present}")
            continue
        ctx = mp.get_context("spawn")
        queue = ctx.SimpleQueue()
        port = 29500 + n
        mp.spawn(worker, args=(world, port, queue), nprocs=world, join=True)
        points = queue.get()
        result = {
            "gpus": world,
            **env,
            "date": datetime.date.today().isoformat(),
            "nccl_env": {k: v for k, v in os.environ.items() if k.startswith(("NCCL_", "TORCH_SYMM", "NVSHMEM"))},
            "points": points,
        }
        gpu = env["gpu"].split()[1].lower() if len(env["gpu"].split()) > 1 else "gpu"
        path = os.path.join(args.out, f"{gpu}-collectives-{world}gpu-{result['date']}.json")
        with open(path, "w") as f:
            json.dump(result, f, indent=1)
        decode = [p for p in points if p["op"] == "all_reduce" and p["mode"].startswith("decode")]
        print(f"{world} GPU(s): all-reduce decode {min(p['us'] for p in decode):.1f}-"
              f"{max(p['us'] for p in decode):.1f} us; wrote {path}")


if __name__ == "__main__":
    main()
