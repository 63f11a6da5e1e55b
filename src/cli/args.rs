//! Command-line arguments and how they combine with a deployment file.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::{CliError, profile_ref};
use crate::deployment::{Deployment, ProfileRef};
use crate::plan::{ExpertParallel, KvCacheDtype, Launcher, MaxModelLen, PlanOptions};
use crate::render::{EnvVar, Platform, RenderOptions, SecretKeyRef};
use crate::units::ByteSize;

/// Output format of `plan`.
#[derive(Debug, Clone, Copy, ValueEnum, Default)]
pub enum Format {
    /// A readable table.
    #[default]
    Table,
    /// The plan as JSON.
    Json,
}

/// Which model and hardware, and the planner's options. Unset flags take the deployment
/// file's value, then the default.
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// A deployment file (see `lwsplan schema deployment`); flags override its values.
    #[arg(short = 'f', long = "file", value_name = "PATH")]
    pub file: Option<PathBuf>,
    /// A built-in model id (see `lwsplan models`).
    #[arg(long, conflicts_with = "model_file")]
    pub model: Option<String>,
    /// A model profile file (see `lwsplan schema model`).
    #[arg(long, value_name = "PATH")]
    pub model_file: Option<PathBuf>,
    /// A Hugging Face config.json to build the model profile from (see `lwsplan import`).
    #[arg(long, value_name = "PATH", conflicts_with_all = ["model", "model_file"])]
    pub hf_config: Option<PathBuf>,
    /// With --hf-config: the repository (or local path) vLLM loads [default: the config's
    /// _name_or_path, else its directory].
    #[arg(long, value_name = "REPO", requires = "hf_config")]
    pub hf_repo: Option<String>,
    /// With --hf-config: the checkpoint's model.safetensors.index.json, for its exact size.
    #[arg(long, value_name = "PATH", requires = "hf_config")]
    pub safetensors_index: Option<PathBuf>,
    /// A built-in hardware id (see `lwsplan hardware`).
    #[arg(long, conflicts_with = "hardware_file")]
    pub hardware: Option<String>,
    /// A hardware profile file (see `lwsplan schema hardware`).
    #[arg(long, value_name = "PATH")]
    pub hardware_file: Option<PathBuf>,
    /// Fraction of each GPU's memory vLLM may use, in (0, 1] [default: 0.9].
    #[arg(long)]
    pub gpu_memory_utilization: Option<f64>,
    /// KV cache element type [default: auto].
    #[arg(long, value_enum)]
    pub kv_cache_dtype: Option<KvDtypeArg>,
    /// Context length in tokens, or `auto`: the full context if it fits, else the longest that
    /// does [default: auto].
    #[arg(long, value_parser = parse_max_model_len)]
    pub max_model_len: Option<MaxModelLen>,
    /// GPUs per node, overriding the hardware profile.
    #[arg(long)]
    pub gpus_per_node: Option<u64>,
    /// A fixed node count.
    #[arg(long)]
    pub nodes: Option<u64>,
    /// A fixed tensor-parallel size (may exceed a node's GPUs: TP then spans nodes).
    #[arg(long)]
    pub tensor_parallel_size: Option<u64>,
    /// A fixed pipeline-parallel size.
    #[arg(long)]
    pub pipeline_parallel_size: Option<u64>,
    /// How each group starts vLLM: `native` (vllm serve --nnodes) or `ray` [default: native].
    #[arg(long, value_enum)]
    pub launcher: Option<LauncherArg>,
    /// Expert parallelism for MoE models (--enable-expert-parallel): `auto` uses it only where
    /// a layout needs it [default: auto].
    #[arg(long, value_enum)]
    pub expert_parallel: Option<ExpertParallelArg>,
    /// LWS replicas: independent groups, each serving the model [default: 1].
    #[arg(long)]
    pub replicas: Option<u64>,
    /// Sequences of max_model_len tokens to serve at once: adds replicas until they fit.
    #[arg(long)]
    pub target_concurrent_sequences: Option<u64>,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
}

/// Plan options plus how to deploy the plan.
#[derive(Debug, Args)]
pub struct RenderArgs {
    #[command(flatten)]
    pub plan: PlanArgs,
    /// LeaderWorkerSet name; the Service is `<name>-leader` [default: vllm].
    #[arg(long)]
    pub name: Option<String>,
    /// Namespace of both objects.
    #[arg(long)]
    pub namespace: Option<String>,
    /// Container image [default: vllm/vllm-openai:v0.28.0 for the native launcher].
    #[arg(long)]
    pub image: Option<String>,
    /// Which node label selects the GPUs: `gke` (cloud.google.com/gke-accelerator, also Google
    /// Distributed Cloud) or `nvidia` (nvidia.com/gpu.product from GPU feature discovery)
    /// [default: gke].
    #[arg(long, value_enum)]
    pub platform: Option<PlatformArg>,
    /// /dev/shm size (e.g. 15Gi), overriding the plan's.
    #[arg(long)]
    pub shm_size: Option<ByteSize>,
    /// The API port [default: 8080].
    #[arg(long)]
    pub port: Option<u16>,
    /// Secret and key holding the Hugging Face token, as NAME/KEY [default: hf-secret/hf_api_token].
    #[arg(long, value_parser = parse_secret_ref)]
    pub hf_secret: Option<SecretKeyRef>,
    /// Environment variable that carries the token [default: HF_TOKEN].
    #[arg(long)]
    pub hf_token_env: Option<String>,
    /// What vLLM loads instead of the profile's Hugging Face repo (a mirror or a local path).
    #[arg(long)]
    pub model_source: Option<String>,
    /// A directory whose *.j2 files replace the built-in templates of the same name.
    #[arg(long, value_name = "DIR")]
    pub templates: Option<PathBuf>,
    /// An extra environment variable, K=V (repeatable; added after the file's).
    #[arg(long = "env", value_name = "K=V", value_parser = parse_env)]
    pub env: Vec<EnvVar>,
    /// An extra `vllm serve` argument (repeatable; added after the file's),
    /// e.g. --vllm-arg=--enable-prefix-caching.
    #[arg(long = "vllm-arg", value_name = "ARG", allow_hyphen_values = true)]
    pub vllm_args: Vec<String>,
    /// Where pods keep downloaded weights (HF_HOME=/models): `none`, `pvc:CLAIM` (an existing
    /// shared claim), `per-pod[:SIZE]` (a claim per pod, sized for the checkpoint by default) or
    /// `host-path:DIR` [default: none].
    #[arg(long, value_name = "SPEC", value_parser = parse_model_cache)]
    pub model_cache: Option<crate::render::ModelCache>,
    /// With --model-cache pvc or host-path: the cache already holds the weights, so the startup
    /// budget assumes reading (1 GB/s) rather than downloading (250 MB/s).
    #[arg(long)]
    pub warm_cache: bool,
    /// The network interface NCCL and Gloo use between nodes (sets NCCL_SOCKET_IFNAME and
    /// GLOO_SOCKET_IFNAME), e.g. eth0.
    #[arg(long, value_name = "IFACE")]
    pub network_interface: Option<String>,
    /// GPUDirect RDMA: the RDMA device resource each pod requests, as NAME=COUNT (e.g.
    /// rdma/rdma_shared_device_a=1); adds IPC_LOCK and NCCL_IB_DISABLE=0.
    #[arg(long, value_name = "NAME=COUNT", value_parser = parse_rdma)]
    pub rdma_resource: Option<(String, u32)>,
    /// With --rdma-resource: the HCAs NCCL may use (NCCL_IB_HCA), e.g. mlx5.
    #[arg(long, value_name = "HCA", requires = "rdma_resource")]
    pub nccl_ib_hca: Option<String>,
    /// The vLLM version the image runs, for a custom image whose tag does not say (e.g. 0.18.0):
    /// decides which flags are rendered and which plans are refused.
    #[arg(long, value_name = "VERSION")]
    pub vllm_version: Option<String>,
    /// Add a Linux capability to every container (repeatable), e.g. IPC_LOCK for GPUDirect RDMA.
    #[arg(long = "add-capability", value_name = "CAP")]
    pub capabilities: Vec<String>,
    /// Write one file per object into DIR instead of printing (all files or none).
    #[arg(short = 'o', long = "output-dir", value_name = "DIR")]
    pub output_dir: Option<PathBuf>,
}

/// `--kv-cache-dtype`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum KvDtypeArg {
    /// The model's dtype.
    Auto,
    /// FP8.
    Fp8,
}

/// `--expert-parallel`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ExpertParallelArg {
    /// Only where a layout needs it.
    Auto,
    /// Always, for MoE models.
    On,
    /// Never.
    Off,
}

/// `--launcher`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LauncherArg {
    /// vLLM's native multi-node mode.
    Native,
    /// A Ray cluster per group.
    Ray,
}

/// `--platform`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum PlatformArg {
    /// GKE / Google Distributed Cloud labels.
    Gke,
    /// NVIDIA GPU feature discovery labels.
    Nvidia,
}

fn parse_max_model_len(s: &str) -> Result<MaxModelLen, String> {
    s.parse().map_err(|e: crate::ValueError| e.to_string())
}

fn parse_secret_ref(s: &str) -> Result<SecretKeyRef, String> {
    match s.split_once('/') {
        Some((name, key)) if !name.is_empty() && !key.is_empty() && !key.contains('/') => {
            Ok(SecretKeyRef {
                name: name.to_string(),
                key: key.to_string(),
            })
        }
        _ => Err(format!(
            "`{s}`: expected NAME/KEY, e.g. hf-secret/hf_api_token"
        )),
    }
}

fn parse_model_cache(s: &str) -> Result<crate::render::ModelCache, String> {
    use crate::render::ModelCache;
    let (kind, arg) = s.split_once(':').unwrap_or((s, ""));
    match (kind, arg) {
        ("none", "") => Ok(ModelCache::None),
        ("pvc", claim) if !claim.is_empty() => Ok(ModelCache::Pvc {
            claim_name: claim.to_string(),
            warm: false,
        }),
        ("per-pod", "") => Ok(ModelCache::PerPod {
            storage_class: None,
            size: None,
        }),
        ("per-pod", size) => Ok(ModelCache::PerPod {
            storage_class: None,
            size: Some(size.parse().map_err(|e: crate::ValueError| e.to_string())?),
        }),
        ("host-path", path) if path.starts_with('/') => Ok(ModelCache::HostPath {
            path: path.to_string(),
            warm: false,
        }),
        _ => Err(format!(
            "`{s}`: expected none, pvc:CLAIM, per-pod[:SIZE] or host-path:/ABSOLUTE/DIR"
        )),
    }
}

fn parse_rdma(s: &str) -> Result<(String, u32), String> {
    let (name, count) = s.split_once('=').unwrap_or((s, "1"));
    let count = count
        .parse()
        .map_err(|_| format!("`{s}`: expected NAME=COUNT, e.g. rdma/rdma_shared_device_a=1"))?;
    Ok((name.to_string(), count))
}

fn parse_env(s: &str) -> Result<EnvVar, String> {
    let Some((name, value)) = s.split_once('=') else {
        return Err(format!("`{s}`: expected NAME=VALUE"));
    };
    crate::validate::names::check_env_name(name)?;
    Ok(EnvVar {
        name: name.to_string(),
        value: value.to_string(),
    })
}

/// Sets `target` when the flag was given.
fn set<T>(target: &mut T, flag: Option<T>) {
    if let Some(value) = flag {
        *target = value;
    }
}

impl PlanArgs {
    /// The deployment these arguments describe: the file's (if any), with every given flag
    /// laid over it.
    pub fn deployment(&self, render: Option<&RenderArgs>) -> Result<Deployment, CliError> {
        let file = match &self.file {
            Some(path) => Some(Deployment::from_file(path)?),
            None => None,
        };
        let imported = match &self.hf_config {
            Some(path) => Some(ProfileRef::Inline(Box::new(super::import_profile(
                path,
                self.hf_repo.as_deref(),
                self.safetensors_index.as_deref(),
            )?))),
            None => None,
        };
        let model = imported
            .or_else(|| profile_ref(&self.model, &self.model_file))
            .or_else(|| file.as_ref().map(|d| d.model.clone()));
        let hardware = profile_ref(&self.hardware, &self.hardware_file)
            .or_else(|| file.as_ref().map(|d| d.hardware.clone()));
        let (Some(model), Some(hardware)) = (model, hardware) else {
            return Err(CliError::Usage(
                "give the model (--model ID, --model-file PATH or --hf-config PATH) and the hardware \
                 (--hardware ID or --hardware-file PATH), or a deployment file with -f"
                    .into(),
            ));
        };
        let (mut plan, mut options) = match file {
            Some(d) => (d.plan, d.render),
            None => (PlanOptions::default(), RenderOptions::default()),
        };
        self.apply(&mut plan);
        if let Some(render) = render {
            render.apply(&mut options);
        }
        Ok(Deployment {
            model,
            hardware,
            plan,
            render: options,
        })
    }

    fn apply(&self, plan: &mut PlanOptions) {
        set(
            &mut plan.gpu_memory_utilization,
            self.gpu_memory_utilization,
        );
        set(
            &mut plan.kv_cache_dtype,
            self.kv_cache_dtype.map(|k| match k {
                KvDtypeArg::Auto => KvCacheDtype::Auto,
                KvDtypeArg::Fp8 => KvCacheDtype::Fp8,
            }),
        );
        set(&mut plan.max_model_len, self.max_model_len);
        set(&mut plan.gpus_per_node, self.gpus_per_node.map(Some));
        set(&mut plan.nodes, self.nodes.map(Some));
        set(
            &mut plan.tensor_parallel_size,
            self.tensor_parallel_size.map(Some),
        );
        set(
            &mut plan.pipeline_parallel_size,
            self.pipeline_parallel_size.map(Some),
        );
        set(
            &mut plan.expert_parallel,
            self.expert_parallel.map(|e| match e {
                ExpertParallelArg::Auto => ExpertParallel::Auto,
                ExpertParallelArg::On => ExpertParallel::On,
                ExpertParallelArg::Off => ExpertParallel::Off,
            }),
        );
        set(&mut plan.replicas, self.replicas.map(Some));
        set(
            &mut plan.target_concurrent_sequences,
            self.target_concurrent_sequences.map(Some),
        );
        set(
            &mut plan.launcher,
            self.launcher.map(|l| match l {
                LauncherArg::Native => Launcher::Native,
                LauncherArg::Ray => Launcher::Ray,
            }),
        );
    }
}

impl RenderArgs {
    fn apply(&self, options: &mut RenderOptions) {
        set(&mut options.name, self.name.clone());
        set(&mut options.namespace, self.namespace.clone().map(Some));
        set(&mut options.image, self.image.clone().map(Some));
        set(
            &mut options.platform,
            self.platform.map(|p| match p {
                PlatformArg::Gke => Platform::Gke,
                PlatformArg::Nvidia => Platform::Nvidia,
            }),
        );
        set(&mut options.shm_size, self.shm_size.map(Some));
        set(&mut options.port, self.port);
        set(&mut options.hf_secret, self.hf_secret.clone());
        set(&mut options.hf_token_env, self.hf_token_env.clone());
        set(
            &mut options.model_source,
            self.model_source.clone().map(Some),
        );
        set(&mut options.templates, self.templates.clone().map(Some));
        options.env.extend(self.env.iter().cloned());
        options.vllm_args.extend(self.vllm_args.iter().cloned());
        options
            .capabilities
            .extend(self.capabilities.iter().cloned());
        set(
            &mut options.vllm_version,
            self.vllm_version.clone().map(Some),
        );
        set(&mut options.model_cache, self.model_cache.clone());
        if self.warm_cache {
            match &mut options.model_cache {
                crate::render::ModelCache::Pvc { warm, .. }
                | crate::render::ModelCache::HostPath { warm, .. } => *warm = true,
                _ => {}
            }
        }
        set(
            &mut options.network.socket_ifname,
            self.network_interface.clone().map(Some),
        );
        if let Some((resource, count)) = &self.rdma_resource {
            options.network.rdma = Some(crate::render::Rdma {
                resource: resource.clone(),
                count: *count,
                ib_hca: self.nccl_ib_hca.clone(),
            });
        }
    }
}
