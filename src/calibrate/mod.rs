//! Calibration: lwsplan's predictions against what vLLM did. Start-up logs are parsed
//! ([`StartupLog`]) and compared with the planner's [`Startup`](crate::plan::Startup)
//! ([`compare`]); development sets of logs ([`evaluate_dir`]) and of published benchmark results
//! ([`evaluate_benchmarks`]) are evaluated entry by entry, each against its tolerance or band.
//!
//! This is tooling around the planner (the `calibrate` feature; `lwsplan check-log` and
//! `check-perf` use it): it depends on the planner, never the reverse.

mod accuracy;
mod benchmark;
mod dataset;
mod startup_log;

pub use accuracy::{Comparison, Row, Tolerance, compare, compare_stage, options_from_log};
pub use benchmark::{
    BenchmarkEntry, BenchmarkPoint, BenchmarkResult, PointResult, RANKING_TIE, RankedPair, WITHIN,
    WITHIN_SATURATED, evaluate_benchmarks, evaluate_benchmarks_within, point_within, ranked_pairs,
};
pub use dataset::{DatasetError, Entry, EntryResult, Reported, evaluate_dir, evaluate_dir_within};
pub use startup_log::StartupLog;
