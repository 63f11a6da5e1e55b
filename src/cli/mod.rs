//! The command line: flags, files, printing and exit codes. No formula lives here.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::plan::{KvCacheDtype, Launcher, MaxModelLen};
use crate::profile::{Catalog, HardwareProfile, ModelProfile, ProfileError};
use crate::units::gib;
use crate::{PlanError, PlanOptions, Planner};

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
    Plan(PlanArgs),
    /// Plans, then renders the LeaderWorkerSet and Service YAML (validated before it is printed).
    Render(Box<RenderArgs>),
    /// Lists the built-in model profiles.
    Models,
    /// Lists the built-in hardware profiles.
    Hardware,
    /// Validates LeaderWorkerSet and Service manifests (schema, admission rules, consistency).
    Validate {
        /// YAML files, each with one or more documents.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Prints the JSON Schema of a profile file.
    Schema {
        /// Which schema.
        kind: SchemaKind,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum SchemaKind {
    Model,
    Hardware,
}

#[derive(Debug, Clone, Copy, ValueEnum, Default)]
enum Format {
    #[default]
    Table,
    Json,
}

/// Which model and hardware, and the planner's options.
#[derive(Debug, Args)]
struct PlanArgs {
    /// A built-in model id (see `lwsplan models`).
    #[arg(
        long,
        conflicts_with = "model_file",
        required_unless_present = "model_file"
    )]
    model: Option<String>,
    /// A model profile file (see `lwsplan schema model`).
    #[arg(long, value_name = "PATH")]
    model_file: Option<PathBuf>,
    /// A built-in hardware id (see `lwsplan hardware`).
    #[arg(
        long,
        conflicts_with = "hardware_file",
        required_unless_present = "hardware_file"
    )]
    hardware: Option<String>,
    /// A hardware profile file (see `lwsplan schema hardware`).
    #[arg(long, value_name = "PATH")]
    hardware_file: Option<PathBuf>,
    /// Fraction of each GPU's memory vLLM may use, in (0, 1].
    #[arg(long, default_value_t = crate::plan::DEFAULT_GPU_MEMORY_UTILIZATION)]
    gpu_memory_utilization: f64,
    /// KV cache element type.
    #[arg(long, value_enum, default_value = "auto")]
    kv_cache_dtype: KvDtypeArg,
    /// Context length in tokens, or `auto` (full context if it fits, else the longest that does).
    #[arg(long, default_value = "auto", value_parser = parse_max_model_len)]
    max_model_len: MaxModelLen,
    /// GPUs per node, overriding the hardware profile.
    #[arg(long)]
    gpus_per_node: Option<u64>,
    /// A fixed node count.
    #[arg(long)]
    nodes: Option<u64>,
    /// A fixed tensor-parallel size (may exceed a node's GPUs: TP then spans nodes).
    #[arg(long)]
    tensor_parallel_size: Option<u64>,
    /// A fixed pipeline-parallel size.
    #[arg(long)]
    pipeline_parallel_size: Option<u64>,
    /// How each group starts vLLM: `native` (vllm serve --nnodes) or `ray`.
    #[arg(long, value_enum, default_value = "native")]
    launcher: LauncherArg,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
}

/// Plan options plus how to deploy the plan.
#[derive(Debug, Args)]
struct RenderArgs {
    #[command(flatten)]
    plan: PlanArgs,
    /// LeaderWorkerSet name; the Service is `<name>-leader`.
    #[arg(long, default_value = "vllm")]
    name: String,
    /// Namespace of both objects.
    #[arg(long)]
    namespace: Option<String>,
    /// Container image [default: vllm/vllm-openai:v0.28.0 for the native launcher].
    #[arg(long)]
    image: Option<String>,
    /// Which node label selects the GPUs: `gke` (cloud.google.com/gke-accelerator, also Google
    /// Distributed Cloud) or `nvidia` (nvidia.com/gpu.product from GPU feature discovery).
    #[arg(long, value_enum, default_value = "gke")]
    platform: PlatformArg,
    /// /dev/shm size (e.g. 15Gi), overriding the plan's.
    #[arg(long, value_parser = crate::units::parse_quantity)]
    shm_size: Option<u64>,
    /// The API port.
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// Secret and key holding the Hugging Face token, as NAME/KEY.
    #[arg(long, default_value = "hf-secret/hf_api_token", value_parser = parse_secret_ref)]
    hf_secret: crate::render::SecretKeyRef,
    /// Environment variable that carries the token.
    #[arg(long, default_value = "HF_TOKEN")]
    hf_token_env: String,
    /// What vLLM loads instead of the profile's Hugging Face repo (a mirror or a local path).
    #[arg(long)]
    model_source: Option<String>,
    /// A directory whose *.j2 files replace the built-in templates of the same name.
    #[arg(long, value_name = "DIR")]
    templates: Option<PathBuf>,
    /// An extra environment variable, K=V (repeatable).
    #[arg(long = "env", value_name = "K=V", value_parser = parse_env)]
    env: Vec<(String, String)>,
    /// An extra `vllm serve` argument (repeatable), e.g. --vllm-arg=--enable-prefix-caching.
    #[arg(long = "vllm-arg", value_name = "ARG", allow_hyphen_values = true)]
    vllm_args: Vec<String>,
    /// Write one file per object into DIR instead of printing (all files or none).
    #[arg(short = 'o', long = "output-dir", value_name = "DIR")]
    output_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum PlatformArg {
    Gke,
    Nvidia,
}

fn parse_secret_ref(s: &str) -> Result<crate::render::SecretKeyRef, String> {
    match s.split_once('/') {
        Some((name, key)) if !name.is_empty() && !key.is_empty() && !key.contains('/') => {
            Ok(crate::render::SecretKeyRef {
                name: name.to_string(),
                key: key.to_string(),
            })
        }
        _ => Err(format!(
            "`{s}`: expected NAME/KEY, e.g. hf-secret/hf_api_token"
        )),
    }
}

fn parse_env(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if is_env_name(k) => Ok((k.to_string(), v.to_string())),
        _ => Err(format!(
            "`{s}`: expected NAME=VALUE with NAME of letters, digits and '_' not starting with a digit"
        )),
    }
}

fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum KvDtypeArg {
    Auto,
    Fp8,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LauncherArg {
    Native,
    Ray,
}

fn parse_max_model_len(s: &str) -> Result<MaxModelLen, String> {
    s.parse()
}

/// A failure, with the exit status it maps to.
#[derive(Debug, thiserror::Error)]
enum CliError {
    #[error(transparent)]
    Profile(#[from] ProfileError),
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error(transparent)]
    Render(#[from] crate::render::RenderError),
    #[error("{0}")]
    Io(String),
    #[error("{count} problem(s) found:\n{report}")]
    Invalid { count: usize, report: String },
}

impl CliError {
    fn status(&self) -> u8 {
        match self {
            CliError::Profile(ProfileError::Io { .. }) | CliError::Io(_) => exit::IO,
            CliError::Profile(_) => exit::INVALID_INPUT,
            CliError::Plan(PlanError::Infeasible(_)) => exit::INFEASIBLE,
            CliError::Plan(_) => exit::INVALID_INPUT,
            CliError::Invalid { .. } => exit::VALIDATION,
            CliError::Render(crate::render::RenderError::Invalid(_)) => exit::VALIDATION,
            CliError::Render(crate::render::RenderError::Io { .. }) => exit::IO,
            CliError::Render(_) => exit::INVALID_INPUT,
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
            eprintln!("error: {e}");
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
    let catalog = Catalog::builtin();
    match cli.command {
        Command::Plan(args) => {
            let (model, hardware) = load_profiles(catalog, &args)?;
            let plan = Planner::new(&model, &hardware).plan(&plan_options(&args))?;
            Ok(match args.format {
                Format::Table => plan.to_table(),
                Format::Json => {
                    let mut json = serde_json::to_string_pretty(&plan)
                        .map_err(|e| CliError::Io(e.to_string()))?;
                    json.push('\n');
                    json
                }
            })
        }
        Command::Render(args) => render(catalog, &args),
        Command::Validate { files } => validate_files(&files),
        Command::Models => Ok(list_models(catalog)),
        Command::Hardware => Ok(list_hardware(catalog)),
        Command::Schema { kind } => {
            let schema = match kind {
                SchemaKind::Model => schemars::schema_for!(ModelProfile),
                SchemaKind::Hardware => schemars::schema_for!(HardwareProfile),
            };
            let mut json =
                serde_json::to_string_pretty(&schema).map_err(|e| CliError::Io(e.to_string()))?;
            json.push('\n');
            Ok(json)
        }
    }
}

fn load_profiles(
    catalog: &Catalog,
    args: &PlanArgs,
) -> Result<(ModelProfile, HardwareProfile), CliError> {
    let model = match (&args.model, &args.model_file) {
        (_, Some(path)) => ModelProfile::from_file(path)?,
        (Some(id), None) => catalog.model(id)?.clone(),
        (None, None) => unreachable!("clap requires --model or --model-file"),
    };
    let hardware = match (&args.hardware, &args.hardware_file) {
        (_, Some(path)) => HardwareProfile::from_file(path)?,
        (Some(id), None) => catalog.hardware(id)?.clone(),
        (None, None) => unreachable!("clap requires --hardware or --hardware-file"),
    };
    Ok((model, hardware))
}

fn render(catalog: &Catalog, args: &RenderArgs) -> Result<String, CliError> {
    let (model, hardware) = load_profiles(catalog, &args.plan)?;
    let plan = Planner::new(&model, &hardware).plan(&plan_options(&args.plan))?;
    let options = crate::render::RenderOptions {
        name: args.name.clone(),
        namespace: args.namespace.clone(),
        image: args.image.clone(),
        platform: match args.platform {
            PlatformArg::Gke => crate::render::Platform::Gke,
            PlatformArg::Nvidia => crate::render::Platform::Nvidia,
        },
        port: args.port,
        hf_secret: args.hf_secret.clone(),
        hf_token_env: args.hf_token_env.clone(),
        shm_size_bytes: args.shm_size,
        model_source: args.model_source.clone(),
        env: args.env.clone(),
        vllm_args: args.vllm_args.clone(),
        templates_dir: args.templates.clone(),
        ..Default::default()
    };
    let manifests = crate::render::Renderer::new(options)?.render(&plan)?;
    let service = manifests.service.metadata.name.clone().unwrap_or_default();
    let namespace = args
        .namespace
        .as_deref()
        .map(|n| format!(" -n {n}"))
        .unwrap_or_default();
    let output = match &args.output_dir {
        Some(dir) => {
            let files = manifests.to_files().map_err(CliError::Io)?;
            crate::output::write_all(dir, &files).map_err(CliError::Io)?;
            let names: Vec<String> = files
                .iter()
                .map(|(n, _)| dir.join(n).display().to_string())
                .collect();
            eprintln!("wrote {}", names.join(", "));
            String::new()
        }
        None => manifests.to_yaml().map_err(CliError::Io)?,
    };
    let apply = match &args.output_dir {
        Some(dir) => format!("kubectl apply{namespace} -f {}", dir.display()),
        None => format!("lwsplan render ... | kubectl apply{namespace} -f -"),
    };
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
        args.name,
        crate::render::startup_seconds(plan.max_weight_bytes_per_pod).div_ceil(60),
        args.model_source.as_deref().unwrap_or(&plan.model_repo),
        port = args.port,
    );
    Ok(output)
}

fn plan_options(args: &PlanArgs) -> PlanOptions {
    PlanOptions {
        gpu_memory_utilization: args.gpu_memory_utilization,
        kv_cache_dtype: match args.kv_cache_dtype {
            KvDtypeArg::Auto => KvCacheDtype::Auto,
            KvDtypeArg::Fp8 => KvCacheDtype::Fp8,
        },
        max_model_len: args.max_model_len,
        gpus_per_node: args.gpus_per_node,
        nodes: args.nodes,
        tensor_parallel_size: args.tensor_parallel_size,
        pipeline_parallel_size: args.pipeline_parallel_size,
        launcher: match args.launcher {
            LauncherArg::Native => Launcher::Native,
            LauncherArg::Ray => Launcher::Ray,
        },
    }
}

fn list_models(catalog: &Catalog) -> String {
    let mut out = format!(
        "{:<26} {:<40} {:>9} {:>11} {:>8}  {}\n",
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
            "{:<26} {:<40} {:>8.1}B {:>11} {:>8}  {attention}, {mlp}\n",
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
        "{:<12} {:<24} {:>11} {:>4} {:>5} {:>6}  {:<20} {}\n",
        "ID", "GPU", "MEMORY", "SM", "FP8", "GPUS", "GKE ACCELERATOR", "GPU PRODUCT"
    );
    for h in catalog.hardware_profiles() {
        out.push_str(&format!(
            "{:<12} {:<24} {:>11} {:>4} {:>5} {:>6}  {:<20} {}\n",
            h.id,
            h.name,
            gib(h.gpu.memory_bytes),
            h.gpu.compute_capability,
            if h.gpu.native_fp8 { "yes" } else { "no" },
            h.node.gpus,
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
        let text = std::fs::read_to_string(path)
            .map_err(|e| CliError::Io(format!("cannot read {}: {e}", path.display())))?;
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
