#!/usr/bin/env python3
"""Replay a benchmark burst through a model of vLLM V1's scheduler, to tell what a KV-saturated
run's numbers come from: the cost of a step, or preemption's recompute.

The model follows `Scheduler.schedule` in vLLM v0.13.0 (`vllm/v1/core/sched/scheduler.py`):
- running requests first, one decode token each (or the rest of their prompt in chunks),
  allocating a KV block at each block boundary (`KVCacheManager.allocate_slots`); when no block
  is free, the last running request is preempted (`self.running.pop()`, `_preempt_request`:
  its blocks freed, `num_computed_tokens = 0`, prepended to the waiting queue);
- then, only if nothing was preempted this step, waiting requests FCFS while the token budget
  (`max_num_batched_tokens`) and free blocks allow, each allocating blocks for the prompt chunk
  it runs (no watermark: admission drains the free blocks);
- prefix caching (`CacheConfig.enable_prefix_caching`, default True): freed blocks keep their
  contents at the free queue's tail, a request's in reverse order (`KVCacheManager.free`), new
  blocks come from the head, and a readmitted request reuses the longest prefix of its full
  blocks still cached, so only what was evicted meanwhile is recomputed.

A step takes max(floor, base + cp · prefill tokens + cd · decode tokens) seconds; `floor` stands
for the weights' streaming time. Scan `cp` to find the per-token cost that reproduces a
measurement's duration, TTFT and TPOT, and read `recompute` (prompt tokens prefilled again after
a preemption) against the prompt tokens to see whether preemption matters.

    python3 tools/simulate_v1_scheduler.py '{"n": 500, "inp": 2000, "out": 100, "blocks": 8392, "cp": 9e-5, "cd": 9e-5}'

Prints: duration (s), output tokens/s, mean TTFT (s), mean TPOT (s, as `vllm bench serve`
computes it: (latency - TTFT) / (output - 1)), preemptions, tokens lost, tokens served from the
prefix cache on readmission, tokens recomputed, steps. Needs only Python 3.
"""
import json
import math
import sys
from collections import OrderedDict


def simulate(n, inp, out, blocks, bs=64, budget=8192, max_seqs=1024, base=0.003, cp=30e-6,
             cd=30e-6, floor=0.0, conc=None, total=None, prefix=True):
    """`n` requests of `inp` prompt and `out` output tokens, at most `conc` in flight (a closed
    loop over `total` requests; all at once by default), on `blocks` KV blocks of `bs` tokens."""
    total = total or n
    conc = conc or n
    pool = OrderedDict((("free", i), None) for i in range(blocks))
    nfree = blocks
    waiting, running, req = [], [], {}
    arrived, inflight, done, steps = 0, 0, 0, 0
    t = 0.0
    first, finish = {}, {}
    lost = preemptions = hits = 0

    def alloc(k):
        nonlocal nfree
        for _ in range(k):
            pool.popitem(last=False)
        nfree -= k

    def free(r):
        nonlocal nfree
        full = min(r["blk"], r["comp"] // bs)
        for i in reversed(range(r["blk"])):
            key = (r["id"], i) if (prefix and i < full) else ("evictable", r["id"], i, steps)
            pool[key] = None
        nfree += r["blk"]
        r["blk"] = 0

    def arrive():
        nonlocal arrived, inflight
        while inflight < conc and arrived < total:
            r = dict(id=arrived, comp=0, gen=0, blk=0, t0=t)
            req[arrived] = r
            waiting.append(r)
            arrived += 1
            inflight += 1

    arrive()
    while done < total:
        steps += 1
        tb, preempted, sched = budget, False, []
        i = 0
        while i < len(running) and tb > 0:
            r = running[i]
            left = inp + r["gen"] - r["comp"]
            ntok = min(left, tb) if left > 1 else 1
            need = max(0, math.ceil((r["comp"] + ntok) / bs) - r["blk"])
            scheduled = True
            while need > nfree:
                v = running.pop()
                tb += sum(s[1] for s in sched if s[0] is v)
                sched = [s for s in sched if s[0] is not v]
                lost += v["comp"]
                preemptions += 1
                free(v)
                v["comp"] = 0
                waiting.insert(0, v)
                preempted = True
                if v is r:
                    scheduled = False
                    break
            if not scheduled:
                break
            alloc(need)
            r["blk"] += need
            sched.append((r, ntok))
            tb -= ntok
            i += 1
        if not preempted:
            while waiting and tb > 0 and len(running) < max_seqs:
                r = waiting[0]
                h = 0
                if prefix and r["comp"] == 0:
                    # The last known token is always recomputed (it yields the next logits).
                    while h < (inp + r["gen"] - 1) // bs and (r["id"], h) in pool:
                        h += 1
                ntok = min(inp + r["gen"] - h * bs, tb)
                need = math.ceil((h * bs + ntok) / bs) - h
                if need > nfree - h:
                    break
                for j in range(h):
                    del pool[(r["id"], j)]
                nfree -= h
                alloc(need)
                r["blk"], r["comp"] = h + need, h * bs
                hits += h * bs
                waiting.pop(0)
                running.append(r)
                sched.append((r, ntok))
                tb -= ntok
        pre = sum(ntok for r, ntok in sched if not (ntok == 1 and r["gen"] > 0))
        dec = len(sched) - sum(1 for r, ntok in sched if not (ntok == 1 and r["gen"] > 0))
        t += max(floor, base + cp * pre + cd * dec)
        for r, ntok in sched:
            r["comp"] += ntok
            if r["comp"] >= inp + r["gen"]:
                first.setdefault(r["id"], t)
                r["gen"] += 1
                if r["gen"] >= out:
                    running.remove(r)
                    free(r)
                    done += 1
                    inflight -= 1
                    finish[r["id"]] = t
        arrive()
    ttft = sum(first[i] - req[i]["t0"] for i in range(total)) / total
    tpot = sum((finish[i] - first[i]) / max(out - 1, 1) for i in range(total)) / total
    return dict(duration_s=round(t, 1), output_tokens_per_s=round(total * out / t, 1),
                ttft_s=round(ttft, 2), tpot_s=round(tpot, 4), preemptions=preemptions,
                lost_tokens=lost, prefix_hit_tokens=hits, recomputed_tokens=lost - hits,
                steps=steps)


if __name__ == "__main__":
    print(json.dumps(simulate(**json.loads(sys.argv[1]))))
