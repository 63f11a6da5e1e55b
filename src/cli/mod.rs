//! The command line: flags, files, printing and exit codes. No formula lives here.
//!
//! `plan` and `render` take the model and hardware by id or file, or a whole deployment file
//! (`-f`); flags given on the command line override the file's values.

mod args;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::deployment::{Deployment, DeploymentError, ProfileRef};
use crate::error::{ErrorKind, Report};
use crate::plan::PlanError;
use crate::profile::{Catalog, HardwareProfile, ModelProfile, ProfileError};
use crate::render::{RenderError, Renderer};
use crate::units::gib;
use args::{PlanArgs, RenderArgs};

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
    /// Validates LeaderWorkerSet and Service manifests (schema, admission rules, consistency).
    Validate {
        /// YAML files, each with one or more documents.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Builds a model profile from a Hugging Face config.json, for review and reuse.
    Import {
        /// The model's config.json.
        #[arg(long, value_name = "PATH")]
        hf_config: PathBuf,
        /// The repository (or local path) vLLM loads [default: the config's _name_or_path,
        /// else its directory].
        #[arg(long, value_name = "REPO")]
        hf_repo: Option<String>,
        /// The checkpoint's model.safetensors.index.json, for its exact size.
        #[arg(long, value_name = "PATH")]
        safetensors_index: Option<PathBuf>,
        /// The profile's id [default: the repository's last path component, lower case].
        #[arg(long)]
        id: Option<String>,
        /// Write the profile here instead of printing it.
        #[arg(short = 'o', long = "output", value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Lists the built-in model profiles.
    Models,
    /// Lists the built-in hardware profiles.
    Hardware,
    /// Prints the JSON Schema of a profile or deployment file.
    Schema {
        /// Which schema.
        kind: SchemaKind,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum SchemaKind {
    Model,
    Hardware,
    Deployment,
}

/// A failure, with the exit status it maps to.
#[derive(Debug, thiserror::Error)]
enum CliError {
    /// A library failure; its kind decides the exit status.
    #[error(transparent)]
    Lib(#[from] crate::Error),
    /// Bad command-line usage.
    #[error("{0}")]
    Usage(String),
    /// A file failed validation.
    #[error("{count} problem(s) found:\n{report}")]
    Invalid { count: usize, report: String },
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
    crate::error::WriteError,
    crate::error::YamlError
);

impl CliError {
    fn status(&self) -> u8 {
        match self {
            CliError::Lib(e) => match e.kind() {
                ErrorKind::InvalidInput => exit::INVALID_INPUT,
                ErrorKind::Infeasible => exit::INFEASIBLE,
                ErrorKind::InvalidManifest => exit::VALIDATION,
                ErrorKind::Io => exit::IO,
            },
            CliError::Invalid { .. } => exit::VALIDATION,
            CliError::Usage(_) => exit::USAGE,
        }
    }
}

/// Runs the command line and returns the process's exit status.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { exit::USAGE } else { 0 });
        }
    };
    match run(cli) {
        Ok(out) => {
            print_stdout(&out);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {}", Report(&e));
            ExitCode::from(e.status())
        }
    }
}

/// Prints to stdout, treating a closed pipe (`| head`) as success rather than a panic.
fn print_stdout(text: &str) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    let _ = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush());
}

fn run(cli: Cli) -> Result<String, CliError> {
    match cli.command {
        Command::Plan(args) => {
            let plan = args.deployment(None)?.plan()?;
            Ok(match args.format {
                args::Format::Table => plan.to_table(),
                args::Format::Json => json(&plan)?,
            })
        }
        Command::Render(args) => render(&args),
        Command::Validate { files } => validate_files(&files),
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
        ),
        Command::Models => Ok(list_models(Catalog::builtin())),
        Command::Hardware => Ok(list_hardware(Catalog::builtin())),
        Command::Schema { kind } => json(&match kind {
            SchemaKind::Model => schemars::schema_for!(ModelProfile),
            SchemaKind::Hardware => schemars::schema_for!(HardwareProfile),
            SchemaKind::Deployment => schemars::schema_for!(Deployment),
        }),
    }
}

fn json<T: serde::Serialize>(value: &T) -> Result<String, CliError> {
    let mut json = serde_json::to_string_pretty(value).map_err(|e| crate::error::YamlError {
        message: e.to_string(),
    })?;
    json.push('\n');
    Ok(json)
}

fn render(args: &RenderArgs) -> Result<String, CliError> {
    let deployment = args.plan.deployment(Some(args))?;
    let plan = deployment.plan()?;
    let options = &deployment.render;
    let renderer = Renderer::new(options.clone())?;
    let manifests = renderer.render(&plan)?;
    for warning in renderer.warnings(&plan) {
        eprintln!("warning: {warning}");
    }
    let output = match &args.output_dir {
        Some(dir) => {
            let written = manifests.write_to_dir(dir)?;
            let names: Vec<String> = written.iter().map(|p| p.display().to_string()).collect();
            eprintln!("wrote {}", names.join(", "));
            String::new()
        }
        None => manifests.to_yaml()?,
    };
    let namespace = options
        .namespace
        .as_deref()
        .map(|n| format!(" -n {n}"))
        .unwrap_or_default();
    let apply = match &args.output_dir {
        Some(dir) => format!("kubectl apply{namespace} -f {}", dir.display()),
        None => format!("lwsplan render ... | kubectl apply{namespace} -f -"),
    };
    let service = manifests.service.metadata.name.clone().unwrap_or_default();
    eprintln!(
        "# {} on {} × {} {}: TP {} × PP {}, max_model_len {}, {} KV tokens\n\
         # apply:        {apply}\n\
         # wait:         kubectl get pods{namespace} -l {}={} -w   (loading can take {} min)\n\
         # port-forward: kubectl port-forward{namespace} svc/{service} {port}:{port}\n\
         # first request: curl http://localhost:{port}/v1/completions -H 'Content-Type: application/json' \\\n\
         #   -d '{{\"model\": \"{}\", \"prompt\": \"Hello\", \"max_tokens\": 32, \"temperature\": 0}}'",
        plan.model,
        plan.nodes,
        plan.gpus_per_node,
        plan.gpu_name,
        plan.tensor_parallel_size,
        plan.pipeline_parallel_size,
        plan.max_model_len,
        plan.kv_cache_tokens,
        crate::manifest::NAME_LABEL,
        options.name,
        renderer.startup_seconds(&plan).div_ceil(60),
        options.model_source.as_deref().unwrap_or(&plan.model_repo),
        port = options.port,
    );
    Ok(output)
}

/// A profile from `config.json`, with the exact checkpoint size when an index is given.
fn import_profile(
    config: &std::path::Path,
    hf_repo: Option<&str>,
    index: Option<&std::path::Path>,
) -> Result<ModelProfile, CliError> {
    let mut profile = ModelProfile::from_hf_config_file(config, hf_repo)?;
    if let Some(index) = index {
        let index = crate::profile::SafetensorsIndex::from_file(index, profile.num_hidden_layers)?;
        if !profile.apply_safetensors_index(&index) {
            eprintln!(
                "warning: the safetensors index also holds MTP layers, whose bytes cannot be told \
                 apart: lwsplan keeps its own weight total"
            );
        }
    }
    Ok(profile)
}

fn import(
    config: &std::path::Path,
    hf_repo: Option<&str>,
    index: Option<&std::path::Path>,
    id: Option<String>,
    output: Option<&std::path::Path>,
) -> Result<String, CliError> {
    let mut profile = import_profile(config, hf_repo, index)?;
    if let Some(id) = id {
        profile.id = id;
        profile.check(&config.display().to_string())?;
    }
    let yaml = crate::yaml::to_string(&profile)?;
    let text = format!(
        "# Imported by lwsplan from {}: review it, then use it with --model-file.\n{yaml}",
        config.display()
    );
    match output {
        Some(path) => {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .ok_or_else(|| {
                    CliError::Usage(format!("-o {}: not a file name", path.display()))
                })?;
            let dir = path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(std::path::Path::new("."));
            crate::output::write_all(dir, &[(name, text)])?;
            eprintln!("wrote {}", path.display());
            Ok(String::new())
        }
        None => Ok(text),
    }
}

/// What `ProfileRef` a `--model`/`--model-file` pair means.
fn profile_ref<T>(id: &Option<String>, file: &Option<PathBuf>) -> Option<ProfileRef<T>> {
    match (id, file) {
        (_, Some(path)) => Some(ProfileRef::File(path.clone())),
        (Some(id), None) => Some(ProfileRef::Id(id.clone())),
        (None, None) => None,
    }
}

fn list_models(catalog: &Catalog) -> String {
    let mut out = format!(
        "{:<28} {:<46} {:>9} {:>11} {:>8}  {}\n",
        "ID", "HUGGING FACE REPO", "PARAMS", "WEIGHTS", "CONTEXT", "ATTENTION / MLP"
    );
    for m in catalog.models() {
        let attention = match &m.attention {
            crate::profile::Attention::Gqa {
                num_attention_heads,
                num_key_value_heads,
                ..
            } => format!("GQA {num_attention_heads}/{num_key_value_heads} heads"),
            crate::profile::Attention::Mla { kv_lora_rank, .. } => {
                format!("MLA latent {kv_lora_rank}")
            }
        };
        let mlp = match &m.mlp {
            crate::profile::Mlp::Dense { .. } => "dense".to_string(),
            crate::profile::Mlp::Moe {
                n_routed_experts,
                num_experts_per_tok,
                ..
            } => format!("MoE {num_experts_per_tok}/{n_routed_experts}"),
        };
        out.push_str(&format!(
            "{:<28} {:<46} {:>8.1}B {:>11} {:>8}  {attention}, {mlp}\n",
            m.id,
            m.hf_repo,
            crate::plan::parameters(m) as f64 / 1e9,
            gib(crate::plan::weight_bytes(m)),
            m.max_position_embeddings,
        ));
    }
    out
}

fn list_hardware(catalog: &Catalog) -> String {
    let mut out = format!(
        "{:<15} {:<24} {:>11} {:>5} {:>4} {:>9}  {:<22} {}\n",
        "ID", "GPU", "MEMORY", "SM", "FP8", "GPUS/NODE", "GKE ACCELERATOR", "GPU PRODUCT"
    );
    for h in catalog.hardware_profiles() {
        let mut shapes: Vec<u64> = std::iter::once(h.node.gpus)
            .chain(h.node.shapes.iter().map(|s| s.gpus))
            .collect();
        shapes.sort();
        let shapes: Vec<String> = shapes.iter().map(u64::to_string).collect();
        out.push_str(&format!(
            "{:<15} {:<24} {:>11} {:>5} {:>4} {:>9}  {:<22} {}\n",
            h.id,
            h.name,
            gib(h.gpu.memory_bytes),
            h.gpu.compute_capability,
            if h.gpu.native_fp8 { "yes" } else { "no" },
            shapes.join(","),
            h.labels.gke_accelerator,
            h.labels.gpu_product
        ));
    }
    out
}

fn validate_files(files: &[PathBuf]) -> Result<String, CliError> {
    let mut report = String::new();
    let mut count = 0;
    let mut ok = String::new();
    for path in files {
        let text = crate::input::read_text(path, crate::input::MAX_MANIFEST_FILE, "a manifest")
            .map_err(|source| crate::Error::Read {
                path: path.clone(),
                source,
            })?;
        let problems = crate::validate::validate_yaml(&text);
        if problems.is_empty() {
            ok.push_str(&format!("{}: valid\n", path.display()));
        }
        for problem in &problems {
            report.push_str(&format!("  {}: {problem}\n", path.display()));
        }
        count += problems.len();
    }
    if count > 0 {
        report.pop();
        return Err(CliError::Invalid { count, report });
    }
    Ok(ok)
}
