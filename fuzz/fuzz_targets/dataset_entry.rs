//! Any text as a `check-log` log, a `check-log --dataset` entry and a `check-perf` setup: an
//! error or a verdict, never a panic, never a hang (parsing is linear in the input: issue 21
//! found quadratic escape stripping), and never a verdict on a figure no GPU reports — a
//! non-finite or impossible measurement is an error, not "within".
#![no_main]

use libfuzzer_sys::fuzz_target;
use lwsplan::calibrate::{StartupLog, evaluate_benchmarks, evaluate_dir};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let log = StartupLog::parse(text);
    if log.implausible().is_none() {
        for v in [log.model_loading_gib, log.available_kv_cache_gib, log.total_memory_gib]
            .into_iter()
            .flatten()
        {
            assert!(v.is_finite(), "{v} passed as plausible");
        }
    }
    // The same text as a dataset of one entry, in a directory of its own: references outside
    // it are refused, so nothing else on the machine is read.
    let dir = std::env::temp_dir().join(format!("lwsplan-fuzz-dataset-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    if std::fs::create_dir_all(&dir).is_err() || std::fs::write(dir.join("entry.yaml"), text).is_err()
    {
        return;
    }
    if let Ok(results) = evaluate_dir(&dir) {
        for r in results {
            let m = r.entry.measured();
            assert!(m.implausible().is_none(), "an implausible entry was evaluated");
        }
    }
    if let Ok(results) = evaluate_benchmarks(&dir) {
        for r in results {
            for p in r.points {
                assert!(p.point.output_tokens_per_s.is_finite() && p.point.output_tokens_per_s > 0.0);
                assert!(p.point.tpot_ms.is_finite() && p.point.tpot_ms > 0.0);
            }
        }
    }
});
