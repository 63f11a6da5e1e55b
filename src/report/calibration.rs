//! The calibration's results as Markdown tables: what `check-log --format markdown` and
//! `check-perf` print, and what the accuracy and performance pages of `docs/` hold (generated
//! and tested).

use crate::calibrate::{BenchmarkResult, Comparison, EntryResult, RANKING_TIE, ranked_pairs};

/// The results as a Markdown table: predicted / logged per entry, and the verdict.
pub fn accuracy_markdown(results: &[EntryResult]) -> String {
    let mut out = String::from(
        "| run | vLLM | GPU | model | TP × PP | weights GiB (lwsplan / log) | KV GiB (lwsplan / log) | KV tokens (lwsplan / log) | verdict |\n\
         |---|---|---|---|---|---|---|---|---|\n",
    );
    let cell = |c: &Comparison, quantity: &str| -> String {
        let Some(row) = c.rows.iter().find(|r| r.quantity == quantity) else {
            return "-".into();
        };
        let fmt = |v: f64| match row.unit {
            "tokens" => format!("{v:.0}"),
            _ => format!("{v:.2}"),
        };
        format!(
            "{} / {}",
            fmt(row.predicted),
            row.measured.map_or("-".into(), fmt)
        )
    };
    for r in results {
        let c = &r.comparison;
        let log = r.entry.measured();
        let layout = format!(
            "{} × {}",
            log.tensor_parallel_size
                .or(r.entry.options.tensor_parallel_size)
                .unwrap_or(1),
            log.pipeline_parallel_size
                .or(r.entry.options.pipeline_parallel_size)
                .unwrap_or(1)
        );
        let verdict = match r.as_expected() {
            true => r.verdict(),
            false => format!("**{}**", r.verdict()),
        };
        out.push_str(&format!(
            "| [{}]({}) | {}{} | {} | {} | {} | {} | {} | {} | {} |\n",
            r.name,
            r.entry.source,
            r.entry.vllm_version,
            if r.entry.vllm_version_inferred.is_some() {
                " (inferred)"
            } else {
                ""
            },
            r.gpu,
            r.model,
            layout,
            cell(c, "Model loading took"),
            cell(c, "Available KV cache memory"),
            cell(c, "GPU KV cache size"),
            verdict.replace('|', "\\|")
        ));
    }
    out
}

/// The results as a Markdown table, one row per point, and a summary line.
pub fn benchmarks_markdown(results: &[BenchmarkResult]) -> String {
    let mut out = String::from(
        "| setup | vLLM | GPU | model | TP | in / out | concurrency | output tok/s (lwsplan / measured) | TPOT ms (lwsplan / measured) | off by |\n\
         |---|---|---|---|---|---|---|---|---|---|\n",
    );
    let (mut factors, mut saturated) = (Vec::new(), Vec::new());
    // Per term (throughput, TPOT, TTFT): points inside the range, points with a measurement.
    let mut in_range = [(0usize, 0usize); 3];
    for r in results {
        let tp = r.entry.options.tensor_parallel_size.unwrap_or(1);
        let miss = r.entry.known_miss.is_some();
        for p in &r.points {
            if !miss {
                for (count, inside) in in_range.iter_mut().zip(p.in_range()) {
                    if let Some(inside) = inside {
                        count.0 += usize::from(inside);
                        count.1 += 1;
                    }
                }
            }
            match (miss, p.kv_cache_saturated) {
                (true, _) => {}
                (false, false) => factors.push(p.worst_factor()),
                (false, true) => saturated.push(p.worst_factor()),
            }
            out.push_str(&format!(
                "| [{}]({}) | {} | {} | {} | {} | {} / {} | {} | {:.0} / {:.0} | {:.1} / {:.1} | ×{:.2}{} |\n",
                r.name,
                r.entry.source,
                r.entry.vllm_version,
                r.gpu,
                r.model,
                tp,
                p.point.input_tokens,
                p.point.output_tokens,
                p.point.concurrency,
                p.output_tokens_per_s,
                p.point.output_tokens_per_s,
                p.tpot_ms,
                p.point.tpot_ms,
                p.worst_factor(),
                match (miss, p.kv_cache_saturated) {
                    (true, _) => " (known miss)",
                    (false, true) => " (KV saturated)",
                    (false, false) => "",
                }
            ));
        }
    }
    let within = |limit: f64| factors.iter().filter(|f| **f <= limit).count();
    let worst = |set: &[f64]| set.iter().copied().fold(1.0, f64::max);
    let misses: Vec<String> = results
        .iter()
        .filter_map(|r| {
            r.entry
                .known_miss
                .as_ref()
                .map(|why| format!("- {}: {why}\n", r.name))
        })
        .collect();
    if !misses.is_empty() {
        out.push_str("\nKnown misses (not counted below):\n\n");
        out.push_str(&misses.concat());
    }
    out.push_str(&format!(
        "\n{} points outside the known misses where the KV cache holds every request: {} within \
         ×1.5, {} within ×2, the worst ×{:.2}.\n",
        factors.len(),
        within(1.5),
        within(2.0),
        worst(&factors)
    ));
    if !saturated.is_empty() {
        out.push_str(&format!(
            "{} points with more requests in flight than the KV cache holds (KV saturated: vLLM \
             preempts and recomputes, which the estimate leaves out): the worst ×{:.2}.\n",
            saturated.len(),
            worst(&saturated)
        ));
    }
    let [t, tpot, ttft] = in_range;
    out.push_str(&format!(
        "The estimate's range (`performance.range`) holds the measured output tokens/s per GPU on \
         {} of {} points outside the known misses, the TPOT on {} of {}, the TTFT on {} of {} \
         (where the source gives one).\n",
        t.0, t.1, tpot.0, tpot.1, ttft.0, ttft.1
    ));
    out.push_str(&targets_line(results));
    let pairs = ranked_pairs(results);
    if !pairs.is_empty() {
        out.push_str(&format!(
            "\nWhich layout serves fastest: {} of {} pairs of setups measured on the same GPU under \
             the same workload serving the same model (per-GPU output throughput apart by more than \
             ×{RANKING_TIE}) are \
             ordered as measured.\n\n| faster (measured) | slower | in / out at concurrency | measured | estimated |\n\
             |---|---|---|---|---|\n",
            pairs.iter().filter(|p| p.agrees()).count(),
            pairs.len()
        ));
        for p in &pairs {
            out.push_str(&format!(
                "| {} | {} | {} | ×{:.2} | ×{:.2}{} |\n",
                p.faster,
                p.slower,
                p.workload,
                p.measured_ratio,
                p.estimated_ratio,
                if p.agrees() { "" } else { " (reversed)" }
            ));
        }
    }
    out
}

/// The oldest release whose points make up the development set the accuracy targets are judged
/// on (vLLM 0.13, where the V1 engine's async scheduling and full CUDA graphs are the defaults).
pub const TARGET_SET_SINCE: crate::plan::VllmVersion = crate::plan::VllmVersion(0, 13, 0);

/// The accuracy targets, counted: on the points from [`TARGET_SET_SINCE`] on, outside the known
/// misses, how many per-GPU throughputs and TPOTs lie within ×1.25 of the measurement (target
/// 85 %), TTFTs within ×2 (target 90 %), the worst throughput (target: within ×2), and how
/// often the range holds each measurement (target 80 %).
pub fn targets_line(results: &[BenchmarkResult]) -> String {
    let factor = |r: f64| if r >= 1.0 { r } else { 1.0 / r };
    let points: Vec<_> = results
        .iter()
        .filter(|r| r.entry.known_miss.is_none() && r.entry.vllm_version >= TARGET_SET_SINCE)
        .flat_map(|r| r.points.iter())
        .collect();
    let count = |f: &dyn Fn(&crate::calibrate::PointResult) -> Option<bool>| {
        let seen: Vec<bool> = points.iter().filter_map(|p| f(p)).collect();
        (seen.iter().filter(|x| **x).count(), seen.len())
    };
    let throughput = count(&|p| Some(factor(p.throughput_ratio()) <= 1.25));
    let tpot = count(&|p| Some(factor(p.tpot_ratio()) <= 1.25));
    let ttft = count(&|p| p.point.ttft_ms.map(|t| factor(p.ttft_ms / t) <= 2.0));
    let ranges = count(&|p| {
        let seen: Vec<bool> = p.in_range().into_iter().flatten().collect();
        Some(seen.iter().all(|x| *x))
    });
    let worst = points
        .iter()
        .map(|p| factor(p.throughput_ratio()))
        .fold(1.0, f64::max);
    let pct = |(a, n): (usize, usize)| {
        if n == 0 {
            "-".to_string()
        } else {
            format!("{a} of {n} ({:.0} %)", 100.0 * a as f64 / n as f64)
        }
    };
    format!(
        "\nAgainst the targets, on the {} points from vLLM {TARGET_SET_SINCE} on outside the known \
         misses: output tokens/s within ×1.25 on {} (target 85 %), TPOT within ×1.25 on {} (target \
         85 %), TTFT within ×2 on {} (target 90 %, where the source gives one), the worst \
         throughput ×{worst:.2} (target ×2), every term inside the range on {} (target 80 %).\n",
        points.len(),
        pct(throughput),
        pct(tpot),
        pct(ttft),
        pct(ranges)
    )
}
