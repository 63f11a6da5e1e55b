//! `lwsplan check-perf`: the performance estimate against a directory of published benchmark
//! results, point by point.

use std::path::PathBuf;

use clap::Args;

use super::check_log::CheckFormat;
use super::{CliError, json};
use lwsplan::calibrate;

/// `check-perf`'s arguments.
#[derive(Debug, Args)]
pub struct CheckPerfArgs {
    /// A directory of benchmark setups (*.yaml), such as lwsplan's own
    /// tests/fixtures/benchmarks.
    #[arg(long, value_name = "DIR")]
    pub dataset: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value = "table", help_heading = "Output")]
    pub format: CheckFormat,
}

/// Runs `check-perf`: every point's estimate next to its measurement; exit 1 when one outside
/// the known misses is off by more than its band ([`calibrate::WITHIN`], or
/// [`calibrate::WITHIN_SATURATED`] where the KV cache is saturated).
pub fn run(args: &CheckPerfArgs) -> Result<String, CliError> {
    let results = calibrate::evaluate_benchmarks(&args.dataset)?;
    let out = match args.format {
        CheckFormat::Json => json(&results)?,
        CheckFormat::Markdown | CheckFormat::Table => {
            lwsplan::report::calibration::benchmarks_markdown(&results)
        }
    };
    let outside = results
        .iter()
        .flat_map(|r| r.points.iter().map(move |p| (r, p)))
        .filter(|(r, p)| !calibrate::point_within(r, p))
        .count();
    if outside == 0 {
        Ok(out)
    } else {
        Err(CliError::Outside {
            report: out,
            summary: format!("{outside} points are off by more than their band"),
        })
    }
}
