//! The command line: flags, files, printing and exit codes. No formula lives here.
//!
//! `plan` and `render` take the model and hardware by id or file, or a whole deployment file
//! (`-f`, or `-f -` for standard input); flags given on the command line override the file's
//! values.

mod args;
mod chart;
mod check_log;
mod check_perf;
mod hints;
mod list;
mod terminal;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand, ValueEnum};

use args::{Format, ManifestFormat, PlanArgs, RenderArgs};
use lwsplan::io::{InputError, MAX_MANIFEST_FILE, MAX_SMALL_FILE};
use lwsplan::plan::PlanError;
use lwsplan::profile::{Catalog, HardwareProfile, ModelProfile, ProfileError};
use lwsplan::render::{RenderError, TemplateContext};
use lwsplan::{Deployment, DeploymentError, ProfileRef};
use lwsplan::{ErrorKind, Report, YamlError};
use terminal::Terminal;

/// Exit status for each kind of failure (documented in the README).
pub mod exit {
    /// Bad command-line usage (clap's own status).
    pub const USAGE: u8 = 2;
    /// A profile, file or option value is invalid.
    pub const INVALID_INPUT: u8 = 3;
    /// The model does not fit the hardware under the given constraints.
    pub const INFEASIBLE: u8 = 4;
    /// A manifest failed validation.
    pub const VALIDATION: u8 = 5;
    /// Reading or writing a file failed.
    pub const IO: u8 = 6;
    /// `check-log`: the log is outside lwsplan's tolerance.
    pub const OUTSIDE_TOLERANCE: u8 = 1;
}

/// Plans and renders multi-node vLLM deployments as LeaderWorkerSet manifests.
#[derive(Debug, Parser)]
#[command(name = "lwsplan", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Finds the parallel layout and sizes memory, KV cache, context length and /dev/shm.
    Plan(Box<PlanArgs>),
    /// Plans, then renders the LeaderWorkerSet and Service YAML (validated before it is printed).
    Render(Box<RenderArgs>),
    /// Validates LeaderWorkerSet and Service manifests (schema, admission rules, consistency);
    /// other kinds are listed as skipped.
    Validate {
        /// YAML files, each with one or more documents; - reads standard input.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Treat a document of a kind lwsplan does not validate as an error.
        #[arg(long)]
        strict_kinds: bool,
    },
    /// Compares a vLLM start-up log with lwsplan's prediction for the same run: weights, KV
    /// memory and capacity side by side, and the term that explains a difference. Exit 1 when
    /// outside tolerance.
    CheckLog(Box<check_log::CheckLogArgs>),
    /// Compares the performance estimate with published benchmark results (a directory of
    /// setups): output tokens per second and time per output token, point by point.
    CheckPerf(check_perf::CheckPerfArgs),
    /// Builds a model profile from a Hugging Face config.json, for review and reuse.
    Import {
        /// The model's config.json.
        #[arg(long, value_name = "PATH")]
        hf_config: PathBuf,
        /// The repository vLLM loads [default: the config's _name_or_path when it is a
        /// repository id].
        #[arg(long, value_name = "OWNER/NAME")]
        hf_repo: Option<String>,
        /// The checkpoint's model.safetensors.index.json, for its exact size.
        #[arg(long, value_name = "PATH")]
        safetensors_index: Option<PathBuf>,
        /// The profile's id [default: the repository's last path component, lower case].
        #[arg(long)]
        id: Option<String>,
        /// Write the profile here instead of printing it: a file, or a directory that gets
        /// `<id>.yaml` (as `render -o`).
        #[arg(short = 'o', long = "output", value_name = "FILE|DIR")]
        output: Option<PathBuf>,
    },
    /// Lists the built-in model profiles.
    Models {
        /// Output format.
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
    /// Lists the built-in hardware profiles.
    Hardware {
        /// Output format.
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
    /// Prints a JSON Schema: of a profile, a deployment file, or what templates see.
    Schema {
        /// Which schema.
        kind: SchemaKind,
    },
    /// Writes the built-in templates, the start of a `--templates` override.
    Templates {
        /// The directory to write them into (created if needed); - prints them to standard
        /// output instead, each after a `{# file: NAME #}` line.
        #[arg(short = 'o', long = "output", value_name = "DIR")]
        output: PathBuf,
    },
    /// Prints a shell completion script, e.g. `lwsplan completions bash > /etc/bash_completion.d/lwsplan`.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Prints a man page (roff): lwsplan's, or a subcommand's with its options, exit statuses
    /// and examples, e.g. `lwsplan man render > lwsplan-render.1`.
    Man {
        /// The subcommand whose page to print (render, plan, validate, …).
        subcommand: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum SchemaKind {
    /// What `plan --format json` prints.
    Plan,
    Model,
    Hardware,
    Deployment,
    TemplateContext,
}

/// A failure, with the exit status it maps to.
#[derive(Debug, thiserror::Error)]
enum CliError {
    /// A library failure; its kind decides the exit status.
    #[error(transparent)]
    Lib(#[from] lwsplan::Error),
    /// A development set could not be evaluated.
    #[error(transparent)]
    Dataset(#[from] lwsplan::calibrate::DatasetError),
    /// Bad command-line usage.
    #[error("{0}")]
    Usage(String),
    /// A log that cannot be compared: what it says is impossible or not a measurement.
    #[error("{0}")]
    Log(String),
    /// Files failed validation or could not be read; every file was reported.
    #[error("{summary}")]
    Files { summary: String, status: u8 },
    /// `check-log` found a difference beyond tolerance: the comparison still goes to stdout.
    #[error("{summary}")]
    Outside { report: String, summary: String },
}

macro_rules! from_stage {
    ($($t:ty),*) => {$(
        impl From<$t> for CliError {
            fn from(e: $t) -> Self {
                CliError::Lib(e.into())
            }
        }
    )*};
}
from_stage!(
    ProfileError,
    DeploymentError,
    PlanError,
    RenderError,
    lwsplan::WriteError,
    YamlError
);

impl CliError {
    fn status(&self) -> u8 {
        match self {
            CliError::Lib(e) => status(e.kind()),
            CliError::Dataset(e) => status(e.kind()),
            CliError::Files { status, .. } => *status,
            CliError::Outside { .. } => exit::OUTSIDE_TOLERANCE,
            CliError::Usage(_) => exit::USAGE,
            CliError::Log(_) => exit::INVALID_INPUT,
        }
    }
}

fn status(kind: ErrorKind) -> u8 {
    match kind {
        ErrorKind::InvalidInput => exit::INVALID_INPUT,
        ErrorKind::Infeasible => exit::INFEASIBLE,
        ErrorKind::InvalidManifest => exit::VALIDATION,
        ErrorKind::Io => exit::IO,
        // A kind added by a newer library: the input is the likeliest thing to change.
        _ => exit::INVALID_INPUT,
    }
}

/// Runs the command line and returns the process's exit status. Everything it prints names
/// options by their flags (the library names them by their fields).
fn main() -> ExitCode {
    lwsplan::option::with_flags(cli_main)
}

fn cli_main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { exit::USAGE } else { 0 });
        }
    };
    let mut terminal = Terminal::new();
    let result = run(cli, &mut terminal).and_then(|out| terminal.stdout(&out));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if let CliError::Outside { report, .. } = &e
                && let Err(write) = terminal.stdout(report)
            {
                terminal.error(&Report(&write).to_string());
                return ExitCode::from(write.status());
            }
            terminal.error(&Report(&e).to_string());
            ExitCode::from(e.status())
        }
    }
}

/// `plan --chart`: the candidate layouts over a concurrency sweep, as SVG, written whole or
/// not at all.
fn write_chart(
    deployment: &Deployment,
    plan: &lwsplan::plan::Plan,
    path: &Path,
) -> Result<(), CliError> {
    let Some(workload) = deployment.plan.workload else {
        return Err(CliError::Usage(
            "--chart needs a workload: give --input-tokens and --output-tokens".to_string(),
        ));
    };
    let sweep = deployment.sweep(&chart::concurrencies())?;
    let title = format!(
        "{} on {} × {}: {} in / {} out, vLLM {}",
        plan.model,
        plan.total_gpus,
        plan.hardware,
        workload.input_tokens,
        workload.output_tokens,
        deployment.plan_options().vllm_version()
    );
    let svg = chart::svg(&sweep, &title).map_err(CliError::Usage)?;
    let (dir, name) = match (path.parent(), path.file_name()) {
        (Some(dir), Some(name)) => (dir, name.to_string_lossy().into_owned()),
        _ => {
            return Err(CliError::Usage(format!(
                "--chart {}: not a file path",
                path.display()
            )));
        }
    };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    lwsplan::io::write_all(dir, &[(name, svg)])?;
    Ok(())
}

fn run(cli: Cli, terminal: &mut Terminal) -> Result<String, CliError> {
    match cli.command {
        Command::Plan(args) => {
            let mut deployment = args.source.deployment()?;
            let file = deployment.plan.clone();
            args.plan.apply(&mut deployment.plan);
            if deployment.plan != file {
                deployment.origin = None;
            }
            let plan = deployment.plan()?;
            if let Some(path) = &args.chart {
                write_chart(&deployment, &plan, path)?;
            }
            Ok(match args.format {
                Format::Table => plan.to_table(),
                Format::Json => json(&plan)?,
            })
        }
        Command::Render(args) => render(&args, terminal),
        Command::CheckLog(args) => check_log::run(&args),
        Command::CheckPerf(args) => check_perf::run(&args),
        Command::Validate {
            files,
            strict_kinds,
        } => validate_files(&files, strict_kinds, terminal),
        Command::Import {
            hf_config,
            hf_repo,
            safetensors_index,
            id,
            output,
        } => import(
            &hf_config,
            hf_repo.as_deref(),
            safetensors_index.as_deref(),
            id,
            output.as_deref(),
            terminal,
        ),
        Command::Models { format } => list::models(Catalog::builtin(), format),
        Command::Hardware { format } => list::hardware(Catalog::builtin(), format),
        Command::Schema { kind } => json(&match kind {
            SchemaKind::Plan => schemars::schema_for!(lwsplan::Plan),
            SchemaKind::Model => schemars::schema_for!(ModelProfile),
            SchemaKind::Hardware => schemars::schema_for!(HardwareProfile),
            SchemaKind::Deployment => schemars::schema_for!(Deployment),
            SchemaKind::TemplateContext => schemars::schema_for!(TemplateContext),
        }),
        Command::Templates { output } => {
            let files: Vec<(String, String)> = lwsplan::render::templates()
                .map(|(name, text)| (name.to_string(), text.to_string()))
                .collect();
            if output.as_os_str() == "-" {
                // A directory named `-` is never what was meant.
                return Ok(files
                    .iter()
                    .map(|(name, text)| format!("{{# file: {name} #}}\n{text}"))
                    .collect());
            }
            lwsplan::io::write_all(&output, &files)?;
            for (name, _) in &files {
                terminal.note(&format!("wrote {}", output.join(name).display()));
            }
            Ok(String::new())
        }
        Command::Completions { shell } => {
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut completing_ids(), "lwsplan", &mut out);
            Ok(String::from_utf8_lossy(&out).into_owned())
        }
        Command::Man { subcommand } => man(subcommand.as_deref()),
    }
}

/// The command line as completion scripts see it: `--model` and `--hardware` complete the
/// built-in ids (the parser itself still takes repository ids and labels too).
fn completing_ids() -> clap::Command {
    let catalog = Catalog::builtin();
    let models: Vec<String> = catalog.models().iter().map(|m| m.id.clone()).collect();
    let hardware: Vec<String> = catalog
        .hardware_profiles()
        .iter()
        .map(|h| h.id.clone())
        .collect();
    let mut cli = Cli::command();
    for sub in ["plan", "render"] {
        let (models, hardware) = (models.clone(), hardware.clone());
        cli = cli.mut_subcommand(sub, |c| {
            c.mut_arg("model", |a| {
                a.value_parser(clap::builder::PossibleValuesParser::new(models))
            })
            .mut_arg("hardware", |a| {
                a.value_parser(clap::builder::PossibleValuesParser::new(hardware))
            })
        });
    }
    cli
}

/// Exit statuses, for every man page.
const EXIT_STATUS: &str = "0 success; 2 bad usage; 3 invalid input (a profile, an option \
    value, a name); 4 no layout fits (infeasible plan); 5 validation failed (or nothing to \
    validate); 6 a file could not be read or written; 1 (check-log) outside tolerance.";

/// Examples per subcommand.
fn examples(subcommand: &str) -> &'static [&'static str] {
    match subcommand {
        "render" => &[
            "lwsplan render --model deepseek-r1 --hardware h100-80gb | kubectl apply -f -",
            "lwsplan render --model deepseek-ai/DeepSeek-R1 --hardware nvidia-h100-80gb -n llm --model-cache pvc:r1-weights -o r1.yaml",
            "lwsplan render -f examples/deepseek-r1-h200.yaml --format json",
        ],
        "plan" => &[
            "lwsplan plan --model deepseek-r1 --hardware h100-80gb",
            "lwsplan plan --model gpt-oss-120b --hardware h100-80gb --format json",
        ],
        "validate" => &[
            "lwsplan validate manifests/*.yaml",
            "kubectl get lws -o yaml | lwsplan validate -",
        ],
        "check-log" => &[
            "kubectl logs vllm-probe-0 | lwsplan check-log - --model deepseek-r1 --hardware h100-80gb",
        ],
        "import" => {
            &["lwsplan import --hf-config config.json --hf-repo Qwen/Qwen3-32B -o profiles/"]
        }
        "schema" => &[
            "lwsplan schema deployment > deployment.schema.json",
            "lwsplan schema plan",
        ],
        _ => &[],
    }
}

/// The man page of lwsplan, or of one subcommand (`lwsplan-render(1)`), with exit statuses
/// and examples.
fn man(subcommand: Option<&str>) -> Result<String, CliError> {
    let mut cli = Cli::command();
    // Built, so clap's own `help` subcommand, which the page lists, has a page too.
    cli.build();
    let command = match subcommand {
        None => cli,
        Some(sub) => {
            let found = cli.find_subcommand(sub).cloned().ok_or_else(|| {
                let known: Vec<String> = Cli::command()
                    .get_subcommands()
                    .map(|c| c.get_name().to_string())
                    .collect();
                CliError::Usage(format!(
                    "no subcommand `{}`; the subcommands are {}",
                    terminal::cut(sub, 40),
                    known.join(", ")
                ))
            })?;
            found
                .name(format!("lwsplan-{sub}"))
                .bin_name(format!("lwsplan {sub}"))
        }
    };
    let mut out = Vec::new();
    clap_mangen::Man::new(command)
        .render(&mut out)
        .map_err(|e| CliError::Usage(format!("cannot render the man page: {e}")))?;
    let mut page = String::from_utf8_lossy(&out).into_owned();
    page.push_str(&format!(".SH \"EXIT STATUS\"\n{EXIT_STATUS}\n"));
    let sub = subcommand.unwrap_or("render");
    if !examples(sub).is_empty() {
        page.push_str(".SH EXAMPLES\n");
        for example in examples(sub) {
            page.push_str(&format!(
                ".PP\n.nf\n{}\n.fi\n",
                example.replace('\\', "\\\\").replace('-', "\\-")
            ));
        }
    }
    Ok(page)
}

fn json<T: serde::Serialize>(value: &T) -> Result<String, CliError> {
    let mut json = serde_json::to_string_pretty(value).map_err(|e| YamlError {
        message: e.to_string(),
    })?;
    json.push('\n');
    Ok(json)
}

/// Where `-o` writes: a directory of files, one file, or standard output.
enum Target<'a> {
    Stdout,
    File(&'a Path),
    Dir(&'a Path),
}

impl<'a> Target<'a> {
    /// An existing directory is a directory and an existing file a file; a new path is a file
    /// when it ends in `.yaml`, `.yml` or `.json`, else a directory.
    fn of(path: Option<&'a Path>) -> Target<'a> {
        let Some(path) = path else {
            return Target::Stdout;
        };
        if path.as_os_str() == "-" {
            return Target::Stdout;
        }
        match std::fs::metadata(path) {
            Ok(meta) if meta.is_dir() => Target::Dir(path),
            Ok(_) => Target::File(path),
            Err(_) => {
                let file = path
                    .extension()
                    .and_then(|e| e.to_str())
                    .is_some_and(|e| matches!(e, "yaml" | "yml" | "json"));
                if file && !path.as_os_str().to_string_lossy().ends_with('/') {
                    Target::File(path)
                } else {
                    Target::Dir(path)
                }
            }
        }
    }
}

/// Writes `text` to the file `path`, atomically.
fn write_file(path: &Path, text: String) -> Result<(), CliError> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| CliError::Usage(format!("-o {}: not a file name", path.display())))?;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    lwsplan::io::write_all(dir, &[(name, text)])?;
    Ok(())
}

fn render(args: &RenderArgs, terminal: &mut Terminal) -> Result<String, CliError> {
    let format = args.format()?;
    let deployment = args.deployment()?;
    let plan = deployment.plan()?;
    let renderer = deployment.renderer()?;
    let options = renderer.options();
    let manifests = renderer
        .render(&plan)
        .map_err(|e| deployment.in_file(e.into()))?;
    for warning in renderer.warnings(&plan) {
        terminal.warning(&warning);
    }
    let text = match format {
        ManifestFormat::Yaml => manifests.to_yaml()?,
        ManifestFormat::Json => json(&manifests.to_list())?,
    };
    let target = Target::of(args.output.as_deref());
    let written: Option<String> = match target {
        Target::Stdout => None,
        Target::File(path) => {
            write_file(path, text.clone())?;
            Some(path.display().to_string())
        }
        Target::Dir(dir) => {
            let files = match format {
                ManifestFormat::Yaml => manifests.to_files()?,
                ManifestFormat::Json => manifests
                    .to_files()?
                    .into_iter()
                    .map(|(name, _)| name.replace(".yaml", ".json"))
                    .zip([
                        json(&manifests.leader_worker_set)?,
                        json(&manifests.service)?,
                    ])
                    .collect(),
            };
            lwsplan::io::write_all(dir, &files)?;
            let paths: Vec<String> = files
                .iter()
                .map(|(name, _)| dir.join(name).display().to_string())
                .collect();
            Some(paths.join(" "))
        }
    };
    if let Some(written) = &written {
        terminal.note(&format!("wrote {written}"));
    }
    if !args.quiet {
        let steps = hints::NextSteps {
            plan: &plan,
            options,
            service: manifests.service.metadata.name.as_deref().unwrap_or(""),
            written: match target {
                Target::Stdout => None,
                Target::File(p) | Target::Dir(p) => Some(p),
            },
            startup_minutes: renderer.startup_seconds(&plan).div_ceil(60),
            pod_security: renderer.pod_security(&plan),
            network: renderer.network_prerequisite(&plan),
            command: std::iter::once("lwsplan".to_string())
                .chain(std::env::args().skip(1))
                .collect(),
            claim_size: lwsplan::render::checkpoint_disk_size(&plan),
            probe_source: options.probe.then(|| probe_source(&deployment)),
        };
        terminal.note(&steps.to_string());
    }
    Ok(if written.is_some() {
        String::new()
    } else {
        text
    })
}

/// How `check-log` names the deployment's model and hardware, for the probe's next steps.
fn probe_source(deployment: &Deployment) -> String {
    let q = |s: &str| lwsplan::render::shell_quote(s);
    let model = match &deployment.model {
        ProfileRef::Id(id) => format!("--model {}", q(id)),
        ProfileRef::File(path) => format!("--model-file {}", q(&path.display().to_string())),
        ProfileRef::Inline(profile) => format!("--model-file <the profile of {}>", profile.id),
    };
    let hardware = match &deployment.hardware {
        ProfileRef::Id(id) => format!("--hardware {}", q(id)),
        ProfileRef::File(path) => format!("--hardware-file {}", q(&path.display().to_string())),
        ProfileRef::Inline(profile) => format!("--hardware-file <the profile of {}>", profile.id),
    };
    format!("{model} {hardware}")
}

/// A profile from `config.json`, with the exact checkpoint size when an index is given.
fn import_profile(
    config: &Path,
    hf_repo: Option<&str>,
    index: Option<&Path>,
) -> Result<ModelProfile, CliError> {
    let mut profile = ModelProfile::from_hf_config_file(config, hf_repo)?;
    if let Some(index) = index {
        let index =
            lwsplan::profile::SafetensorsIndex::from_file(index, profile.num_hidden_layers)?;
        lwsplan::plan::check_checkpoint_size(&profile, index.total_size)?;
        if !profile.apply_safetensors_index(&index) {
            Terminal::new().warning(
                "the safetensors index also holds MTP layers, whose bytes cannot be told apart: \
                 lwsplan keeps its own weight total",
            );
        }
    }
    Ok(profile)
}

fn import(
    config: &Path,
    hf_repo: Option<&str>,
    index: Option<&Path>,
    id: Option<String>,
    output: Option<&Path>,
    terminal: &mut Terminal,
) -> Result<String, CliError> {
    let mut profile = import_profile(config, hf_repo, index)?;
    if let Some(id) = id {
        profile.id = id;
        profile.check(&config.display().to_string())?;
    }
    let yaml = lwsplan::yaml::to_string(&profile)?;
    let text = format!(
        "# Imported by lwsplan from {}: review it, then use it with --model-file.\n{yaml}",
        config.display()
    );
    let path = match Target::of(output) {
        Target::Stdout => return Ok(text),
        Target::File(path) => path.to_path_buf(),
        Target::Dir(dir) => {
            let path = dir.join(format!("{}.yaml", file_stem(&profile.id)?));
            keep_other_repositories(&path, &profile.hf_repo)?;
            path
        }
    };
    write_file(&path, text)?;
    terminal.note(&format!("wrote {}", path.display()));
    Ok(String::new())
}

/// A profile id as a file name in `import -o DIR`: one plain name, never a path or a hidden
/// file.
fn file_stem(id: &str) -> Result<&str, CliError> {
    let plain = !id.is_empty()
        && id.len() <= 128
        && !id.starts_with('.')
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
    if plain {
        Ok(id)
    } else {
        Err(CliError::Lib(lwsplan::Error::Profile(
            ProfileError::Invalid {
                origin: "import".into(),
                field: "id".into(),
                message: format!(
                    "`{}` is not a file name for -o DIR: use letters, digits, `.`, `_` and `-`, not \
                 starting with `.` (--id)",
                    terminal::cut(id, 80)
                ),
            },
        )))
    }
}

/// `import -o DIR` names the file after the model, which two repositories can share
/// (`meta-llama/Llama-3.1-8B`, `unsloth/Llama-3.1-8B`): a file there that is not a profile of
/// the same repository is never replaced.
fn keep_other_repositories(path: &Path, hf_repo: &str) -> Result<(), CliError> {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return Ok(());
    };
    let existing = meta
        .is_file()
        .then(|| lwsplan::io::read_text(path, MAX_SMALL_FILE, "a profile").ok())
        .flatten()
        .and_then(|text| ModelProfile::from_yaml(&text, "").ok())
        .map(|p| p.hf_repo);
    match existing {
        Some(repo) if repo == hf_repo => Ok(()),
        other => Err(CliError::Lib(lwsplan::Error::Profile(
            ProfileError::Invalid {
                origin: path.display().to_string(),
                field: "id".into(),
                message: match other {
                    Some(repo) => format!(
                        "the file holds the profile of {:?}, not of {hf_repo}, and is kept: give \
                     another --id, or -o a file",
                        terminal::cut(&repo, 100)
                    ),
                    None => {
                        "the file is not a model profile, and is kept: give another --id, or -o \
                         a file"
                            .to_string()
                    }
                },
            },
        ))),
    }
}

/// A file argument that may be `-`, standard input.
pub(crate) struct Input<'a> {
    path: &'a Path,
}

impl<'a> From<&'a Path> for Input<'a> {
    fn from(path: &'a Path) -> Self {
        Input { path }
    }
}

impl Input<'_> {
    fn is_stdin(&self) -> bool {
        self.path.as_os_str() == "-"
    }

    fn name(&self) -> String {
        if self.is_stdin() {
            "<stdin>".to_string()
        } else {
            self.path.display().to_string()
        }
    }

    fn read(&self, limit: u64, what: &'static str) -> Result<String, InputError> {
        if self.is_stdin() {
            lwsplan::io::read_text_from(std::io::stdin().lock(), limit, what)
        } else {
            // Manifests and logs are as good from a pipe (`validate <(kubectl get …)`).
            lwsplan::io::read_text_or_stream(self.path, limit, what)
        }
    }
}

/// A deployment file, or standard input (`-f -`; its relative paths are then relative to the
/// working directory).
fn read_deployment(input: &Input<'_>) -> Result<Deployment, CliError> {
    if !input.is_stdin() {
        return Ok(Deployment::from_file(input.path)?);
    }
    let text = input
        .read(MAX_SMALL_FILE, "a deployment file")
        .map_err(|source| DeploymentError::Read {
            path: input.name(),
            source,
        })?;
    Ok(Deployment::from_yaml(&text, &input.name())?)
}

/// Validates every file, reporting each (read failures included) before exiting: 6 when a file
/// could not be read, else 3 when one was not text or too large, else 5 when a manifest is
/// invalid.
fn validate_files(
    files: &[PathBuf],
    strict_kinds: bool,
    terminal: &mut Terminal,
) -> Result<String, CliError> {
    let mut out = String::new();
    let mut report = Vec::new();
    let mut problems = 0;
    let mut unreadable = 0;
    let mut worst = None::<u8>;
    let mut worse = |s: u8| {
        let rank = |s: u8| match s {
            exit::IO => 3,
            exit::INVALID_INPUT => 2,
            _ => 1,
        };
        if worst.is_none_or(|old| rank(s) > rank(old)) {
            worst = Some(s);
        }
    };
    let mut stdin_read = false;
    for path in files {
        let input = Input::from(path.as_path());
        if input.is_stdin() && std::mem::replace(&mut stdin_read, true) {
            return Err(CliError::Usage("- (standard input) given twice".into()));
        }
        let text = match input.read(MAX_MANIFEST_FILE, "a manifest") {
            Ok(text) => text,
            Err(e) => {
                let kind = if e.is_io() {
                    ErrorKind::Io
                } else {
                    ErrorKind::InvalidInput
                };
                worse(status(kind));
                unreadable += 1;
                report.push(format!("  {}: cannot read it: {e}", input.name()));
                continue;
            }
        };
        let checked = lwsplan::validate::check_yaml(&text);
        for problem in &checked.problems {
            let problem = problem
                .to_string()
                .replace("--> <input>:", &format!("--> {}:", input.name()));
            report.push(format!("  {}: {problem}", input.name()));
        }
        problems += checked.problems.len();
        if !checked.problems.is_empty() {
            worse(exit::VALIDATION);
        }
        for skipped in &checked.skipped {
            if strict_kinds {
                report.push(format!(
                    "  {}: {skipped}: a kind lwsplan does not validate (--strict-kinds)",
                    input.name()
                ));
                problems += 1;
                worse(exit::VALIDATION);
            } else {
                terminal.note(&format!(
                    "{}: skipped {skipped}: a kind lwsplan does not validate",
                    input.name()
                ));
            }
        }
        if checked.problems.is_empty() && checked.validated == 0 {
            report.push(format!(
                "  {}: nothing validated: no LeaderWorkerSet or Service in it",
                input.name()
            ));
            problems += 1;
            worse(exit::VALIDATION);
            continue;
        }
        if checked.problems.is_empty() && (!strict_kinds || checked.skipped.is_empty()) {
            out.push_str(&format!("{}: valid\n", input.name()));
        }
    }
    match worst {
        None => Ok(out),
        Some(status) => {
            // What did pass is still worth knowing.
            terminal.stdout(&out)?;
            let what = match (problems, unreadable) {
                (p, 0) => format!("{p} problem(s) found"),
                (0, u) => format!("{u} file(s) could not be read"),
                (p, u) => format!("{p} problem(s) found and {u} file(s) could not be read"),
            };
            Err(CliError::Files {
                summary: format!("{what}:\n{}", terminal::sanitize(&report.join("\n"))),
                status,
            })
        }
    }
}
