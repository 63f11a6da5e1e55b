#!/usr/bin/env python3
"""Where measured / estimated falls on the benchmark set: the quantiles behind the range factors.

`performance.range` is the estimate times a factor pair per term (RANGE_FACTORS and
RANGE_FACTORS_SATURATED in src/plan/performance.rs). This reads `lwsplan check-perf --format
json` and prints, for output tokens/s per GPU, TPOT and TTFT, split by whether the estimate's KV
cache saturates, the quantiles of measured / estimated over the points outside the known misses,
and how many points a candidate pair holds. Pure Python:

    lwsplan check-perf --dataset tests/fixtures/benchmarks --dataset-root tests/fixtures \\
        --format json > perf.json
    python3 tools/range_quantiles.py perf.json [--share 0.85]
"""
import argparse
import json


def ratios(setups):
    rows = {False: {"tok": [], "tpot": [], "ttft": []}, True: {"tok": [], "tpot": [], "ttft": []}}
    for setup in setups:
        if setup["entry"].get("known_miss"):
            continue
        for p in setup["points"]:
            m = p["point"]
            sat = p["kv_cache_saturated"]
            rows[sat]["tok"].append(m["output_tokens_per_s"] / p["output_tokens_per_s"])
            rows[sat]["tpot"].append(m["tpot_ms"] / p["tpot_ms"])
            if m.get("ttft_ms") is not None and p.get("ttft_ms"):
                rows[sat]["ttft"].append(m["ttft_ms"] / p["ttft_ms"])
    return rows


def quantile(xs, q):
    xs = sorted(xs)
    i = q * (len(xs) - 1)
    lo = int(i)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (i - lo) * (xs[hi] - xs[lo])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("perf_json")
    ap.add_argument("--share", type=float, default=0.85,
                    help="central share the printed pair should hold (default 0.85)")
    args = ap.parse_args()
    rows = ratios(json.load(open(args.perf_json)))
    tail = (1 - args.share) / 2
    for sat, terms in rows.items():
        print("KV cache saturated" if sat else "KV cache holds every request")
        for term, xs in terms.items():
            if not xs:
                continue
            lo, hi = quantile(xs, tail), quantile(xs, 1 - tail)
            print(f"  {term:5} n={len(xs):3}  p{100 * tail:.1f}={lo:.3f}  median={quantile(xs, 0.5):.3f}"
                  f"  p{100 * (1 - tail):.1f}={hi:.3f}")


if __name__ == "__main__":
    main()
