//! `lwsplan check-log`: a vLLM start-up log against lwsplan's prediction for the same run, or
//! a whole directory of published runs.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::args::{PlanFlags, Source};
use super::{CliError, Input, json};
use lwsplan::calibrate::{self, StartupLog, Tolerance};
use lwsplan::io::MAX_MANIFEST_FILE;
use lwsplan::plan::{PlanError, PlanOptions, Planner};

/// How `check-log` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CheckFormat {
    /// Aligned text.
    Table,
    /// JSON.
    Json,
    /// A Markdown table (with --dataset: the README's accuracy table).
    Markdown,
}

/// `check-log`'s arguments.
#[derive(Debug, Args)]
pub struct CheckLogArgs {
    /// The vLLM log of one start-up (any worker's; the leader's has every line), or - for
    /// standard input. The release, layout, utilization, context and KV dtype are read from it;
    /// flags override them.
    #[arg(value_name = "LOG", required_unless_present = "dataset")]
    pub log: Option<PathBuf>,
    /// Instead of one log, every entry (*.yaml) in a directory of published runs, such as
    /// lwsplan's own tests/fixtures/vllm-logs.
    #[arg(long, value_name = "DIR", conflicts_with = "log")]
    pub dataset: Option<PathBuf>,
    /// With --dataset: the directory the entries' files (model_file, gpu_file, hf_config) must
    /// lie in; it must hold the dataset [default: the dataset directory]. lwsplan's own sets
    /// share tests/fixtures.
    #[arg(long, value_name = "DIR", requires = "dataset")]
    pub dataset_root: Option<PathBuf>,
    #[command(flatten)]
    pub source: Source,
    #[command(flatten)]
    pub plan: PlanFlags,
    /// Output format.
    #[arg(long, value_enum, default_value = "table", help_heading = "Output")]
    pub format: CheckFormat,
}

/// Runs `check-log`: the comparison on stdout; exit 1 when a quantity is outside tolerance
/// (for a dataset: when an entry is neither within tolerance nor a declared known miss).
pub fn run(args: &CheckLogArgs) -> Result<String, CliError> {
    if let Some(dir) = &args.dataset {
        return dataset(
            dir,
            args.dataset_root.as_deref().unwrap_or(dir),
            args.format,
        );
    }
    let path = args
        .log
        .as_deref()
        .expect("clap requires LOG without --dataset");
    let input = Input::from(path);
    let text = input
        .read(MAX_MANIFEST_FILE, "a vLLM log")
        .map_err(|source| lwsplan::Error::Read {
            path: path.to_path_buf(),
            source,
        })?;
    let log = StartupLog::parse(&text);
    if let Some((field, value)) = log.implausible() {
        return Err(CliError::Log(format!(
            "{}: the log's {field} is {}, which no GPU reports (not finite, out of range or of \
             the wrong sign): is the log intact?",
            input.name(),
            match value.to_string() {
                plain if plain.len() <= 24 => plain,
                _ => format!("{value:e}"),
            }
        )));
    }
    if !log.has_measurements() {
        return Err(CliError::Usage(format!(
            "{} has none of the lines vLLM reports memory in (\"Model loading took\", \
             \"Available KV cache memory\", \"GPU KV cache size\"): give the log of a start-up \
             that got at least as far as loading the weights",
            input.name()
        )));
    }
    let mut deployment = args.source.deployment()?;
    // The log says how the run was started; flags say otherwise where the log is silent or
    // the user knows better.
    let given = deployment.plan.clone();
    let from_log = calibrate::options_from_log(&log, &given);
    deployment.plan = from_log.clone();
    args.plan.apply(&mut deployment.plan);
    let model = deployment.model_profile()?;
    let hardware = deployment.hardware_profile()?;
    let startup = Planner::new(&model, &hardware)
        .startup(&deployment.plan)
        .map_err(|e| blame_log(e, &input.name(), (&given, &from_log, &deployment.plan)))?;
    let comparison = calibrate::compare(&startup, &log, Tolerance::default());
    let out = match args.format {
        CheckFormat::Json => json(&serde_json::json!({
            "log": log,
            "predicted": startup,
            "comparison": comparison,
        }))?,
        CheckFormat::Table | CheckFormat::Markdown => format!(
            "{} on {} × {} (TP {} × PP {}), vLLM {}\n\n{}",
            model.id,
            startup.layout.tensor_parallel_size * startup.layout.pipeline_parallel_size,
            hardware.name,
            startup.layout.tensor_parallel_size,
            startup.layout.pipeline_parallel_size,
            startup.vllm_version,
            comparison.to_table()
        ),
    };
    if comparison.within {
        Ok(out)
    } else {
        Err(CliError::Outside {
            report: out,
            summary:
                "the log is outside lwsplan's tolerance (weights 3 %, KV memory 5 % or 1 GiB, \
                      KV tokens 5 %); the row marked above and the term named under it say where"
                    .into(),
        })
    }
}

/// An option refused in a value the log supplied (the flags neither gave nor changed it) is the
/// log's, not the flag's: the error says so, with the log's key, instead of naming a flag the
/// user never typed.
fn blame_log(
    error: PlanError,
    log: &str,
    (given, from_log, used): (&PlanOptions, &PlanOptions, &PlanOptions),
) -> CliError {
    let PlanError::InvalidOption { option, message } = &error else {
        return error.into();
    };
    let key = option.field();
    let field = |o: &PlanOptions| serde_json::to_value(o).ok().map(|v| v[key].clone());
    let (given, from_log, used) = (field(given), field(from_log), field(used));
    if from_log != given && used == from_log {
        CliError::Log(format!(
            "{log}: the run's {key}, as the log reads it: {message}; lwsplan predicts only runs \
             vLLM starts (a flag overrides the log's value)"
        ))
    } else {
        error.into()
    }
}

fn dataset(
    dir: &std::path::Path,
    root: &std::path::Path,
    format: CheckFormat,
) -> Result<String, CliError> {
    let results = calibrate::evaluate_dir_within(dir, root)?;
    let out = match format {
        CheckFormat::Json => json(&results)?,
        CheckFormat::Markdown => lwsplan::report::calibration::accuracy_markdown(&results),
        CheckFormat::Table => {
            let mut out = String::new();
            for r in &results {
                out.push_str(&format!(
                    "{} ({} on {}, vLLM {}): {}\n{}\n",
                    r.name,
                    r.model,
                    r.gpu,
                    r.entry.vllm_version,
                    r.verdict(),
                    r.comparison.to_table()
                ));
            }
            out
        }
    };
    let unexpected: Vec<&str> = results
        .iter()
        .filter(|r| !r.as_expected())
        .map(|r| r.name.as_str())
        .collect();
    if unexpected.is_empty() {
        Ok(out)
    } else {
        Err(CliError::Outside {
            report: out,
            summary: format!(
                "{} of {} entries are not as expected (outside tolerance, or within but marked a \
                 known miss): {}",
                unexpected.len(),
                results.len(),
                unexpected.join(", ")
            ),
        })
    }
}
