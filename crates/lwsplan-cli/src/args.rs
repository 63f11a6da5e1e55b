//! Command-line arguments and how they combine with a deployment file: every flag that is given
//! overrides the file's value, every flag that is not leaves it.

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::{CliError, Input};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use lwsplan::plan::{ExpertParallel, KvCacheDtype, Launcher, MaxModelLen, PlanOptions};
use lwsplan::render::{EnvVar, ModelCache, Platform, Rdma, RenderOptions, SecretKeyRef};
use lwsplan::units::ByteSize;
use lwsplan::{Deployment, ProfileRef};

/// Output format of `plan`, `models` and `hardware`.
#[derive(Debug, Clone, Copy, ValueEnum, Default, PartialEq, Eq)]
pub enum Format {
    /// A readable table.
    #[default]
    Table,
    /// JSON.
    Json,
}

/// Output format of `render`.
#[derive(Debug, Clone, Copy, ValueEnum, Default, PartialEq, Eq)]
pub enum ManifestFormat {
    /// Multi-document YAML.
    #[default]
    Yaml,
    /// A `v1` `List` holding both objects, as `kubectl get -o json` prints.
    Json,
}

/// Which model and hardware.
#[derive(Debug, Args)]
#[command(next_help_heading = "Model and hardware")]
pub struct Source {
    /// A deployment file (see `lwsplan schema deployment`), or - for standard input; flags
    /// override its values.
    #[arg(short = 'f', long = "file", value_name = "PATH")]
    pub file: Option<PathBuf>,
    /// A built-in model id or its repository (see `lwsplan models`).
    #[arg(long, conflicts_with = "model_file")]
    pub model: Option<String>,
    /// A model profile file (see `lwsplan schema model`).
    #[arg(long, value_name = "PATH")]
    pub model_file: Option<PathBuf>,
    /// A Hugging Face config.json to build the model profile from (see `lwsplan import`).
    #[arg(long, value_name = "PATH", conflicts_with_all = ["model", "model_file"])]
    pub hf_config: Option<PathBuf>,
    /// With --hf-config: the repository vLLM loads [default: the config's _name_or_path when it
    /// is a repository id].
    #[arg(long, value_name = "OWNER/NAME", requires = "hf_config")]
    pub hf_repo: Option<String>,
    /// With --hf-config: the checkpoint's model.safetensors.index.json, for its exact size.
    #[arg(long, value_name = "PATH", requires = "hf_config")]
    pub safetensors_index: Option<PathBuf>,
    /// A built-in hardware id, its GKE accelerator label value or GPU product (see `lwsplan
    /// hardware`).
    #[arg(long, conflicts_with = "hardware_file")]
    pub hardware: Option<String>,
    /// A hardware profile file (see `lwsplan schema hardware`).
    #[arg(long, value_name = "PATH")]
    pub hardware_file: Option<PathBuf>,
}

/// The planner's options.
#[derive(Debug, Args)]
#[command(next_help_heading = "Plan")]
#[command(group(clap::ArgGroup::new("load").multiple(true).args(["concurrency", "request_rate"])))]
pub struct PlanFlags {
    /// Fraction of each GPU's memory vLLM may use, in (0, 1] [default: 0.9].
    #[arg(long, value_name = "FRACTION")]
    pub gpu_memory_utilization: Option<f64>,
    /// The KV cache's size per GPU in bytes, fixed (vLLM's `--kv-cache-memory-bytes`; vLLM then
    /// ignores --gpu-memory-utilization, and the plan checks that the GPU holds it beside the
    /// weights and the reserve).
    #[arg(long, value_name = "BYTES")]
    pub kv_cache_memory_bytes: Option<u64>,
    /// KV cache element type [default: auto].
    #[arg(long, value_parser = choices::<KvCacheDtype>())]
    pub kv_cache_dtype: Option<KvCacheDtype>,
    /// Context length in tokens, or `auto`: the full context if it fits, else the longest that
    /// does [default: auto].
    #[arg(long, value_name = "TOKENS|auto", value_parser = parse_value::<MaxModelLen>)]
    pub max_model_len: Option<MaxModelLen>,
    /// GPUs per node, overriding the hardware profile.
    #[arg(long, value_name = "N")]
    pub gpus_per_node: Option<u64>,
    /// A fixed node count.
    #[arg(long, value_name = "N")]
    pub nodes: Option<u64>,
    /// A fixed tensor-parallel size (may exceed a node's GPUs: TP then spans nodes).
    #[arg(long, value_name = "N")]
    pub tensor_parallel_size: Option<u64>,
    /// A fixed pipeline-parallel size.
    #[arg(long, value_name = "N")]
    pub pipeline_parallel_size: Option<u64>,
    /// How each group starts vLLM: `native` (vllm serve --nnodes) or `ray` [default: native].
    #[arg(long, value_parser = choices::<Launcher>())]
    pub launcher: Option<Launcher>,
    /// Expert parallelism for MoE models (--enable-expert-parallel): `auto` uses it only where
    /// a layout needs it [default: auto].
    #[arg(long, value_parser = choices::<ExpertParallel>())]
    pub expert_parallel: Option<ExpertParallel>,
    /// LWS replicas: independent groups, each serving the model [default: 1].
    #[arg(long, value_name = "N")]
    pub replicas: Option<u64>,
    /// Sequences of max_model_len tokens to serve at once: adds replicas until they fit.
    #[arg(long, value_name = "N")]
    pub target_concurrent_sequences: Option<u64>,
    /// The vLLM release to plan for (its memory behaviour and flags) [default: an official
    /// --image's tag, else 0.28.0; 0.17.1, the newest image with Ray, for --launcher ray].
    #[arg(long, value_name = "VERSION", value_parser = parse_value::<lwsplan::plan::VllmVersion>)]
    pub vllm_version: Option<lwsplan::plan::VllmVersion>,
    /// Tokens per forward pass, which sizes vLLM's profiling run [default: vLLM's for the GPU:
    /// 8192 on 70 GiB or more but A100, else 2048].
    #[arg(long, value_name = "TOKENS")]
    pub max_num_batched_tokens: Option<u64>,
    /// Sequences per step, which sizes the sampler's warm-up [default: vLLM's for the GPU: 1024
    /// on 70 GiB or more but A100, else 256].
    #[arg(long, value_name = "N")]
    pub max_num_seqs: Option<u64>,
    /// Layout families to consider: `tp-pp`, `dp-ep` (data-parallel attention with
    /// expert-parallel MoE) or `auto` (all that apply; plain TP × PP wins ties) [default: auto].
    #[arg(long, value_parser = choices::<lwsplan::plan::Strategy>())]
    pub strategy: Option<lwsplan::plan::Strategy>,
    /// A fixed data-parallel size (DP + EP, MoE models): engines, each with its own KV cache,
    /// sharing the experts.
    #[arg(long, value_name = "N")]
    pub data_parallel_size: Option<u64>,
    /// A fixed decode-context-parallel size (MLA models): the KV cache split over that many
    /// ranks of each TP group instead of replicated.
    #[arg(long, value_name = "N")]
    pub decode_context_parallel_size: Option<u64>,
    /// What transfers between nodes run over: `tcp` (pod networking), `tcpx` / `tcpxo` (GKE A3
    /// High / Mega), `rdma` (InfiniBand or RoCE; GKE A3 Ultra and A4) or `nvlink` (an NVL72
    /// rack) [default: the hardware profile's].
    #[arg(long, value_parser = choices::<lwsplan::profile::Network>())]
    pub network: Option<lwsplan::profile::Network>,
    /// MTP speculative decoding proposing N tokens a step (`--speculative-config` with method
    /// `mtp`): the checkpoint's multi-token-prediction layers are loaded and counted on the
    /// last pipeline stage [default: off; the MTP layers are not loaded].
    #[arg(long, value_name = "N")]
    pub speculative_mtp: Option<u64>,
    /// Workload: prompt tokens per request (with --output-tokens and --concurrency or
    /// --request-rate: estimates throughput and latency per layout).
    #[arg(long, value_name = "N", requires_all = ["output_tokens", "load"], help_heading = "Workload")]
    pub input_tokens: Option<u64>,
    /// Workload: generated tokens per request.
    #[arg(long, value_name = "N", requires_all = ["input_tokens", "load"], help_heading = "Workload")]
    pub output_tokens: Option<u64>,
    /// Workload: requests in flight at once, across all replicas; with --request-rate, the most
    /// in flight (as `vllm bench serve --max-concurrency`).
    #[arg(long, value_name = "N", requires_all = ["input_tokens", "output_tokens"], help_heading = "Workload")]
    pub concurrency: Option<u64>,
    /// Workload: requests arriving per second, across all replicas (as `vllm bench serve
    /// --request-rate`); the requests in flight follow by Little's law.
    #[arg(long, value_name = "PER_S", requires_all = ["input_tokens", "output_tokens"], help_heading = "Workload")]
    pub request_rate: Option<f64>,
    /// What to optimise among the layouts that fit: `capacity` (fewest GPUs, most KV),
    /// `throughput` (output tokens/s per GPU) or `latency` (time per output token); the last two
    /// need the workload [default: capacity].
    #[arg(long, value_parser = choices::<lwsplan::plan::Objective>(), help_heading = "Workload")]
    pub objective: Option<lwsplan::plan::Objective>,
    /// Layouts estimated slower than this per output token rank last, ms.
    #[arg(long, value_name = "MS", help_heading = "Workload")]
    pub max_tpot_ms: Option<f64>,
    /// Layouts estimated slower than this to the first token rank last, ms.
    #[arg(long, value_name = "MS", help_heading = "Workload")]
    pub max_ttft_ms: Option<f64>,
    /// Price of one GPU hour: adds the cost per million output tokens.
    #[arg(long, value_name = "PRICE", help_heading = "Workload")]
    pub gpu_hour_price: Option<f64>,
}

/// `plan`'s arguments.
#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub source: Source,
    #[command(flatten)]
    pub plan: PlanFlags,
    /// Output format.
    #[arg(long, value_enum, default_value = "table", help_heading = "Output")]
    pub format: Format,
    /// Also write an SVG chart: output tokens/s per GPU against tokens/s per user for the
    /// candidate layouts over concurrencies 1 to 1024 (needs --input-tokens and
    /// --output-tokens), the chosen layout marked, the estimate's ranges as bands.
    #[arg(long, value_name = "FILE.svg", help_heading = "Output")]
    pub chart: Option<std::path::PathBuf>,
}

/// What the pods run.
#[derive(Debug, Args)]
#[command(next_help_heading = "Render")]
pub struct RenderFlags {
    /// LeaderWorkerSet name; the Service is `<name>-leader` [default: vllm].
    #[arg(long)]
    pub name: Option<String>,
    /// Container image [default: vllm/vllm-openai:v0.28.0 for the native launcher].
    #[arg(long)]
    pub image: Option<String>,
    /// How the Ray launcher forms each group's Ray cluster: `inline` (ray start in the
    /// manifest; any image with Ray) or `script` (the guide's ray_init.sh image) [default: inline].
    #[arg(long, value_parser = choices::<lwsplan::render::RayBootstrap>())]
    pub ray_bootstrap: Option<lwsplan::render::RayBootstrap>,
    /// The image carries Ray though its official release dropped it (a derived image).
    #[arg(long)]
    pub image_has_ray: bool,
    /// Render the memory probe instead: the same group as `<name>-probe`, one replica, vLLM on
    /// random weights of the real shapes (--load-format dummy: no download, the same memory
    /// profile). Minutes on the real nodes; its log goes to `lwsplan check-log`.
    #[arg(long)]
    pub probe: bool,
    /// What vLLM loads instead of the profile's Hugging Face repo (a mirror, or a path in the
    /// pod).
    #[arg(long, value_name = "REPO|PATH")]
    pub model_source: Option<String>,
    /// The API port [default: 8080].
    #[arg(long)]
    pub port: Option<u16>,
    /// /dev/shm size (e.g. 15Gi), overriding the plan's.
    #[arg(long, value_name = "SIZE", value_parser = parse_value::<ByteSize>)]
    pub shm_size: Option<ByteSize>,
    /// Secret and key holding the Hugging Face token, as NAME/KEY, or `none` for no token (a
    /// model that is not gated); for a model that is not gated the reference is optional
    /// [default: hf-secret/hf_api_token].
    #[arg(long, value_name = "NAME/KEY|none", value_parser = parse_secret_ref)]
    pub hf_secret: Option<HfSecret>,
    /// Environment variable that carries the token [default: HF_TOKEN].
    #[arg(long, value_name = "NAME")]
    pub hf_token_env: Option<String>,
    /// An extra environment variable, NAME=VALUE (repeatable; added after the file's). `$` is
    /// literal: Kubernetes does not expand `$(VAR)` in it.
    #[arg(long = "env", value_name = "NAME=VALUE", value_parser = parse_env)]
    pub env: Vec<EnvVar>,
    /// An extra `vllm serve` argument (repeatable; added after the file's),
    /// e.g. --vllm-arg=--enable-prefix-caching. Flags lwsplan plans are refused.
    #[arg(long = "vllm-arg", value_name = "ARG", allow_hyphen_values = true)]
    pub vllm_args: Vec<String>,
    /// A directory whose *.j2 files replace the built-in templates of the same name (see
    /// `lwsplan templates`).
    #[arg(long, value_name = "DIR")]
    pub templates: Option<PathBuf>,
    /// Add a Linux capability to every container (repeatable), e.g. IPC_LOCK for GPUDirect RDMA.
    #[arg(long = "add-capability", value_name = "CAP")]
    pub capabilities: Vec<String>,
}

/// Where and how the pods run in the cluster.
#[derive(Debug, Args)]
#[command(next_help_heading = "Cluster")]
pub struct ClusterFlags {
    /// Namespace of both objects.
    #[arg(short = 'n', long)]
    pub namespace: Option<String>,
    /// Which node label selects the GPUs: `gke` (cloud.google.com/gke-accelerator, also Google
    /// Distributed Cloud) or `nvidia` (nvidia.com/gpu.product from GPU feature discovery)
    /// [default: gke].
    #[arg(long, value_parser = choices::<Platform>())]
    pub platform: Option<Platform>,
    /// Where pods keep downloaded weights (HF_HOME=/models): `none`, `pvc:CLAIM` (an existing
    /// shared claim), `per-pod[:SIZE]` (a claim per pod, sized for the checkpoint by default) or
    /// `host-path:DIR` [default: none].
    #[arg(long, value_name = "SPEC", value_parser = parse_model_cache)]
    pub model_cache: Option<ModelCache>,
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
    /// CPU request of each pod (e.g. 32); the limit stays unset.
    #[arg(long, value_name = "QUANTITY")]
    pub cpu: Option<String>,
    /// Memory request and limit of each pod (e.g. 1000Gi), /dev/shm included.
    #[arg(long, value_name = "QUANTITY")]
    pub memory: Option<String>,
    /// Ephemeral-storage request and limit of each pod (e.g. 800Gi), for downloaded weights.
    #[arg(long, value_name = "QUANTITY")]
    pub ephemeral_storage: Option<String>,
    /// The pods' service account.
    #[arg(long, value_name = "NAME")]
    pub service_account: Option<String>,
    /// The pods' priority class.
    #[arg(long, value_name = "NAME")]
    pub priority_class: Option<String>,
    /// A Secret to pull the image with (repeatable).
    #[arg(long = "image-pull-secret", value_name = "NAME")]
    pub image_pull_secrets: Vec<String>,
    /// When the kubelet pulls the image: Always, IfNotPresent or Never.
    #[arg(long, value_name = "POLICY")]
    pub image_pull_policy: Option<String>,
    /// An extra label on the pods, KEY=VALUE (repeatable).
    #[arg(long = "pod-label", value_name = "KEY=VALUE", value_parser = parse_key_value)]
    pub pod_labels: Vec<(String, String)>,
    /// Keep each group in one placement domain: the node label its pods share, one group per
    /// domain (LWS's exclusive-topology), e.g. cloud.google.com/gce-topology-block on GKE.
    #[arg(long, value_name = "TOPOLOGY_KEY")]
    pub exclusive_topology: Option<String>,
    /// Pods per LWS subgroup (subGroupPolicy.subGroupSize), for the
    /// subgroup-exclusive-topology annotation.
    #[arg(long, value_name = "N")]
    pub subgroup_size: Option<u64>,
    /// Tolerate the GPU node pools' taint (nvidia.com/gpu, Exists, NoSchedule).
    #[arg(long)]
    pub gpu_toleration: bool,
    /// An extra annotation on the pods, KEY=VALUE (repeatable).
    #[arg(long = "pod-annotation", value_name = "KEY=VALUE", value_parser = parse_key_value)]
    pub pod_annotations: Vec<(String, String)>,
}

/// `render`'s arguments.
#[derive(Debug, Args)]
pub struct RenderArgs {
    #[command(flatten)]
    pub source: Source,
    #[command(flatten)]
    pub plan: PlanFlags,
    #[command(flatten)]
    pub render: RenderFlags,
    #[command(flatten)]
    pub cluster: ClusterFlags,
    /// Write the manifests here instead of printing them: a directory (existing, or a path
    /// without a .yaml/.yml/.json extension) gets `<name>-leaderworkerset.yaml` and
    /// `<name>-service.yaml`; a file gets one multi-document file; `-` is standard output.
    /// Files are replaced atomically, all or none.
    #[arg(
        short = 'o',
        long = "output",
        value_name = "DIR|FILE",
        help_heading = "Output"
    )]
    pub output: Option<PathBuf>,
    /// Output format [default: json when -o names a .json file, else yaml].
    #[arg(long, value_enum, help_heading = "Output")]
    pub format: Option<ManifestFormat>,
    /// Print no next steps on standard error.
    #[arg(short, long, help_heading = "Output")]
    pub quiet: bool,
}

/// A clap parser for one of the library's option enums: its names and their help come from the
/// enum's JSON Schema (serde's spelling, the variants' docs), so the library needs no clap.
pub fn choices<T>() -> impl clap::builder::TypedValueParser<Value = T>
where
    T: schemars::JsonSchema + serde::de::DeserializeOwned + Clone + Send + Sync + 'static,
{
    use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
    let schema = schemars::schema_for!(T);
    let text = |v: &serde_json::Value| v.as_str().map(str::to_owned);
    let values: Vec<PossibleValue> = match schema.get("oneOf").and_then(|v| v.as_array()) {
        Some(variants) => variants
            .iter()
            .filter_map(|variant| {
                let name = variant.get("const").and_then(text)?;
                // A doc comment's line breaks are the source's, not the terminal's.
                let help = variant
                    .get("description")
                    .and_then(text)
                    .unwrap_or_default();
                let help = help.split_whitespace().collect::<Vec<_>>().join(" ");
                Some(PossibleValue::new(name).help(help))
            })
            .collect(),
        None => schema
            .get("enum")
            .and_then(|v| v.as_array())
            .into_iter()
            .flatten()
            .filter_map(text)
            .map(PossibleValue::new)
            .collect(),
    };
    PossibleValuesParser::new(values).map(|name| {
        serde_json::from_value(serde_json::Value::String(name)).expect("a listed name parses")
    })
}

/// Parses a value through its `FromStr`, for clap.
fn parse_value<T: std::str::FromStr<Err = lwsplan::ValueError>>(s: &str) -> Result<T, String> {
    s.parse().map_err(|e: lwsplan::ValueError| e.to_string())
}

/// `--hf-secret`: a Secret key, or none.
#[derive(Debug, Clone)]
pub struct HfSecret(pub Option<SecretKeyRef>);

fn parse_secret_ref(s: &str) -> Result<HfSecret, String> {
    if s == "none" {
        return Ok(HfSecret(None));
    }
    match s.split_once('/') {
        Some((name, key)) if !name.is_empty() && !key.is_empty() && !key.contains('/') => {
            Ok(HfSecret(Some(SecretKeyRef {
                name: name.to_string(),
                key: key.to_string(),
            })))
        }
        _ => Err(format!(
            "`{s}`: expected NAME/KEY, e.g. hf-secret/hf_api_token, or none"
        )),
    }
}

fn parse_model_cache(s: &str) -> Result<ModelCache, String> {
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
            size: Some(parse_value(size)?),
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
    lwsplan::validate::check_env_name(name)?;
    Ok(EnvVar {
        name: name.to_string(),
        value: value.to_string(),
        expand: false,
    })
}

fn parse_key_value(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| format!("`{s}`: expected KEY=VALUE"))
}

/// Sets `target` when the flag was given.
fn set<T>(target: &mut T, flag: Option<T>) {
    if let Some(value) = flag {
        *target = value;
    }
}

impl Source {
    /// The deployment these arguments describe: the file's (if any), with the model and
    /// hardware flags laid over it.
    pub fn deployment(&self) -> Result<Deployment, CliError> {
        let file = match &self.file {
            Some(path) => Some(super::read_deployment(&Input::from(path.as_path()))?),
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
        let (plan, render, origin) = match file {
            Some(d) => (d.plan, d.render, d.origin),
            None => (PlanOptions::default(), RenderOptions::default(), None),
        };
        Ok(Deployment {
            model,
            hardware,
            plan,
            render,
            origin,
        })
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

impl PlanFlags {
    /// Lays the given flags over `plan`.
    pub fn apply(&self, plan: &mut PlanOptions) {
        set(
            &mut plan.gpu_memory_utilization,
            self.gpu_memory_utilization,
        );
        set(
            &mut plan.kv_cache_memory_bytes,
            self.kv_cache_memory_bytes.map(Some),
        );
        set(&mut plan.kv_cache_dtype, self.kv_cache_dtype);
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
        set(&mut plan.expert_parallel, self.expert_parallel);
        set(&mut plan.replicas, self.replicas.map(Some));
        set(
            &mut plan.target_concurrent_sequences,
            self.target_concurrent_sequences.map(Some),
        );
        set(&mut plan.launcher, self.launcher);
        set(&mut plan.vllm_version, self.vllm_version.map(Some));
        set(
            &mut plan.max_num_batched_tokens,
            self.max_num_batched_tokens.map(Some),
        );
        set(&mut plan.max_num_seqs, self.max_num_seqs.map(Some));
        set(&mut plan.strategy, self.strategy);
        set(
            &mut plan.data_parallel_size,
            self.data_parallel_size.map(Some),
        );
        set(
            &mut plan.decode_context_parallel_size,
            self.decode_context_parallel_size.map(Some),
        );
        set(&mut plan.network, self.network.map(Some));
        set(&mut plan.speculative_mtp, self.speculative_mtp.map(Some));
        if let (Some(input_tokens), Some(output_tokens)) = (self.input_tokens, self.output_tokens) {
            plan.workload = Some(lwsplan::plan::Workload {
                input_tokens,
                output_tokens,
                concurrency: self.concurrency,
                request_rate: self.request_rate,
            });
        }
        set(&mut plan.objective, self.objective);
        set(&mut plan.max_tpot_ms, self.max_tpot_ms.map(Some));
        set(&mut plan.max_ttft_ms, self.max_ttft_ms.map(Some));
        set(&mut plan.gpu_hour_price, self.gpu_hour_price.map(Some));
    }
}

impl RenderArgs {
    /// The output format: `--format`, else `-o`'s extension (`.json` → JSON, `.yaml`/`.yml` →
    /// YAML), else YAML. A flag that contradicts the extension is an error.
    pub fn format(&self) -> Result<ManifestFormat, CliError> {
        let extension = self
            .output
            .as_deref()
            .and_then(|p| p.extension())
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        let implied = match extension.as_deref() {
            Some("json") => Some(ManifestFormat::Json),
            Some("yaml" | "yml") => Some(ManifestFormat::Yaml),
            _ => None,
        };
        match (self.format, implied) {
            (Some(given), Some(implied)) if given != implied => Err(CliError::Usage(format!(
                "--format {} contradicts -o {}: give one, or a file name with the format's \
                 extension",
                match given {
                    ManifestFormat::Json => "json",
                    ManifestFormat::Yaml => "yaml",
                },
                self.output
                    .as_deref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default()
            ))),
            (Some(given), _) => Ok(given),
            (None, Some(implied)) => Ok(implied),
            (None, None) => Ok(ManifestFormat::Yaml),
        }
    }

    /// The deployment: file, then every flag laid over it. `--warm-cache` without a cache to
    /// be warm is refused rather than ignored.
    pub fn deployment(&self) -> Result<Deployment, CliError> {
        let mut deployment = self.source.deployment()?;
        let file = (deployment.plan.clone(), deployment.render.clone());
        self.plan.apply(&mut deployment.plan);
        self.apply(&mut deployment.render)?;
        // Once flags changed the file's options, a refused value may be a flag's: name flags.
        if (&deployment.plan, &deployment.render) != (&file.0, &file.1) {
            deployment.origin = None;
        }
        Ok(deployment)
    }

    fn apply(&self, options: &mut RenderOptions) -> Result<(), CliError> {
        let r = &self.render;
        let c = &self.cluster;
        set(&mut options.name, r.name.clone());
        set(&mut options.image, r.image.clone().map(Some));
        set(&mut options.ray_bootstrap, r.ray_bootstrap);
        options.image_has_ray |= r.image_has_ray;
        options.probe |= r.probe;
        set(&mut options.model_source, r.model_source.clone().map(Some));
        set(&mut options.port, r.port);
        set(&mut options.shm_size, r.shm_size.map(Some));
        set(&mut options.hf_secret, r.hf_secret.clone().map(|s| s.0));
        set(&mut options.hf_token_env, r.hf_token_env.clone());
        set(&mut options.templates, r.templates.clone().map(Some));
        options.env.extend(r.env.iter().cloned());
        options.vllm_args.extend(r.vllm_args.iter().cloned());
        options.capabilities.extend(r.capabilities.iter().cloned());
        set(&mut options.namespace, c.namespace.clone().map(Some));
        set(&mut options.platform, c.platform);
        set(&mut options.model_cache, c.model_cache.clone());
        if c.warm_cache {
            match &mut options.model_cache {
                ModelCache::Pvc { warm, .. } | ModelCache::HostPath { warm, .. } => *warm = true,
                _ => {
                    return Err(CliError::Usage(
                        "--warm-cache needs --model-cache pvc:CLAIM or host-path:DIR: only a \
                         cache that outlives the pods can already hold the weights"
                            .into(),
                    ));
                }
            }
        }
        set(
            &mut options.network.socket_ifname,
            c.network_interface.clone().map(Some),
        );
        if let Some((resource, count)) = &c.rdma_resource {
            options.network.rdma = Some(Rdma {
                resource: resource.clone(),
                count: *count,
                ib_hca: c.nccl_ib_hca.clone(),
            });
        }
        let pod = &mut options.pod;
        // CPU is requested only (a CPU limit throttles the engine's busy loops); memory and
        // ephemeral storage are requested and limited alike.
        for (key, value, limit) in [
            ("cpu", &c.cpu, false),
            ("memory", &c.memory, true),
            ("ephemeral-storage", &c.ephemeral_storage, true),
        ] {
            if let Some(value) = value {
                let quantity = Quantity(value.clone());
                let resources = &mut pod.resources;
                resources
                    .requests
                    .get_or_insert_with(BTreeMap::new)
                    .insert(key.to_string(), quantity.clone());
                if limit {
                    resources
                        .limits
                        .get_or_insert_with(BTreeMap::new)
                        .insert(key.to_string(), quantity);
                }
            }
        }
        set(
            &mut pod.service_account_name,
            c.service_account.clone().map(Some),
        );
        set(
            &mut pod.priority_class_name,
            c.priority_class.clone().map(Some),
        );
        pod.image_pull_secrets
            .extend(c.image_pull_secrets.iter().cloned());
        set(
            &mut pod.image_pull_policy,
            c.image_pull_policy.clone().map(Some),
        );
        extend(&mut pod.labels, &c.pod_labels);
        set(
            &mut options.exclusive_topology,
            c.exclusive_topology.clone().map(Some),
        );
        set(&mut options.subgroup_size, c.subgroup_size.map(Some));
        options.gpu_toleration |= c.gpu_toleration;
        let pod = &mut options.pod;
        extend(&mut pod.annotations, &c.pod_annotations);
        Ok(())
    }
}

fn extend(map: &mut BTreeMap<String, String>, pairs: &[(String, String)]) {
    map.extend(pairs.iter().cloned());
}
