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
    /// The directory the setups' files (model_file, gpu_file, hf_config) must lie in; it must
    /// hold the dataset [default: the dataset directory]. lwsplan's own sets share
    /// tests/fixtures.
    #[arg(long, value_name = "DIR")]
    pub dataset_root: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "table", help_heading = "Output")]
    pub format: CheckFormat,
}

/// Runs `check-perf`: every point's estimate next to its measurement; exit 1 when one outside
/// the known misses is off by more than its band ([`calibrate::WITHIN`], or
/// [`calibrate::WITHIN_SATURATED`] where the KV cache is saturated).
pub fn run(args: &CheckPerfArgs) -> Result<String, CliError> {
    let root = args.dataset_root.as_deref().unwrap_or(&args.dataset);
    let results = calibrate::evaluate_benchmarks_within(&args.dataset, root)?;
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
