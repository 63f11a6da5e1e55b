//! The commands each pod runs: `vllm serve` in vLLM's native multi-node mode, or the Ray
//! bootstrap of the published guide.
//!
//! Native mode (vllm PR #23691; the LWS example of kubernetes-sigs/lws PR #1021): every pod
//! runs `vllm serve MODEL` with the same parallel sizes and `--nnodes $(LWS_GROUP_SIZE)
//! --node-rank $(LWS_WORKER_INDEX) --master-addr $(LWS_LEADER_ADDRESS)`; workers add
//! `--headless`, and only the leader serves the API. Kubernetes expands `$(VAR)` in commands
//! from the pod's environment, which LWS fills in.
//!
//! Data parallelism (DP + EP) follows vLLM's multi-node data-parallel deployment
//! (`docs/serving/data_parallel_deployment.md`): every pod runs `--data-parallel-size-local`
//! engines and names the leader with `--data-parallel-address` and a fixed
//! `--data-parallel-rpc-port`; worker *i* starts at rank `i × local`
//! (`--data-parallel-start-rank`) and runs `--headless`. The leader's API server balances
//! requests over every engine of the group (vLLM's internal load balancing), so the Service
//! keeps selecting the leader alone.

use super::RenderOptions;
use crate::plan::{Launcher, Plan};

/// The leader's and the worker's commands.
pub(crate) struct Commands {
    /// The leader's command.
    pub leader: Vec<String>,
    /// The worker's command (unused when the group has one pod).
    pub worker: Vec<String>,
}

/// Builds the commands for this plan and these options.
pub(crate) fn commands(plan: &Plan, options: &RenderOptions) -> Commands {
    let model = options.model_source.as_deref().unwrap_or(&plan.model_repo);
    let mut serve_args = vec![
        "--tensor-parallel-size".to_string(),
        plan.layout.tensor_parallel_size.to_string(),
        "--pipeline-parallel-size".to_string(),
        plan.layout.pipeline_parallel_size.to_string(),
    ];
    serve_args.extend(plan.vllm_args.iter().cloned());
    serve_args.extend(options.vllm_args.iter().cloned());
    let port = options.port.to_string();
    if plan.layout.data_parallel_size > 1 {
        return data_parallel(plan, model, &port, &serve_args);
    }
    if plan.layout.nodes == 1 {
        // One node: no group to coordinate, plain `vllm serve` whatever the launcher.
        let serve = exec(["vllm", "serve", model, "--port", &port], &serve_args);
        return Commands {
            worker: serve.clone(),
            leader: serve,
        };
    }
    match plan.launcher {
        Launcher::Native => {
            let group = [
                "--nnodes",
                "$(LWS_GROUP_SIZE)",
                "--node-rank",
                "$(LWS_WORKER_INDEX)",
                "--master-addr",
                "$(LWS_LEADER_ADDRESS)",
            ];
            let mut leader = exec(["vllm", "serve", model, "--port", &port], &serve_args);
            leader.extend(group.iter().map(|s| s.to_string()));
            let mut worker = exec(["vllm", "serve", model], &serve_args);
            worker.extend(group.iter().map(|s| s.to_string()));
            worker.push("--headless".to_string());
            Commands { leader, worker }
        }
        Launcher::Ray => ray(model, &port, &serve_args, options.ray_bootstrap),
    }
}

/// The port the engines of a data-parallel group coordinate on (vLLM's docs use 13345).
pub const DATA_PARALLEL_RPC_PORT: u16 = 13345;

/// DP + EP: one pod runs every engine when the group is one node; across nodes, the leader and
/// the workers wire the engines to the leader's address, each worker from its own start rank.
fn data_parallel(plan: &Plan, model: &str, port: &str, serve_args: &[String]) -> Commands {
    let dp = plan.layout.data_parallel_size.to_string();
    let mut args: Vec<String> = serve_args.to_vec();
    args.extend(["--data-parallel-size".to_string(), dp]);
    if plan.layout.nodes == 1 {
        let serve = exec(["vllm", "serve", model, "--port", port], &args);
        return Commands {
            worker: serve.clone(),
            leader: serve,
        };
    }
    let local = plan.layout().data_parallel_size_local();
    let rpc = DATA_PARALLEL_RPC_PORT.to_string();
    let group = [
        "--data-parallel-size-local".to_string(),
        local.to_string(),
        "--data-parallel-address".to_string(),
        "$(LWS_LEADER_ADDRESS)".to_string(),
        "--data-parallel-rpc-port".to_string(),
        rpc,
    ];
    let mut leader = exec(["vllm", "serve", model, "--port", port], &args);
    leader.extend(group.iter().cloned());
    // The start rank is arithmetic on the worker index: a shell line, user strings quoted and
    // kept from Kubernetes' expansion, lwsplan's own `$` written `$$`.
    let quoted: Vec<String> = args
        .iter()
        .map(|a| shell_quote(&kube_escape(a)))
        .chain(group.iter().cloned())
        .collect();
    let worker = format!(
        "exec vllm serve {} --headless --data-parallel-start-rank $$((LWS_WORKER_INDEX * {local})) {}",
        shell_quote(&kube_escape(model)),
        quoted.join(" ")
    );
    Commands {
        leader,
        worker: vec!["sh".to_string(), "-c".to_string(), worker],
    }
}

/// How long a Ray group waits for its pods before giving up (the published script's default
/// `ray_init_timeout`, vLLM `examples/online_serving/multi-node-serving.sh`, doubled for image
/// pulls of a large group).
const RAY_WAIT_SECONDS: u64 = 600;

/// The Ray launcher: a Ray cluster per group, then the API server on the leader with the Ray
/// executor. One shell line each, so user strings are shell-quoted (and `$` escaped from
/// Kubernetes, which expands `$(VAR)` first; lwsplan's own `$` are written `$$`).
fn ray(model: &str, port: &str, serve_args: &[String], bootstrap: super::RayBootstrap) -> Commands {
    let quoted = |args: &[String]| -> String {
        args.iter()
            .map(|a| shell_quote(&kube_escape(a)))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let args = quoted(serve_args);
    let (leader, worker) = match bootstrap {
        // The published guide's form: the image's ray_init.sh forms the cluster (the leader
        // waits until LWS_GROUP_SIZE nodes joined).
        super::RayBootstrap::Script => (
            format!(
                "/vllm-workspace/ray_init.sh leader --ray_cluster_size=$(LWS_GROUP_SIZE); \
                 python3 -m vllm.entrypoints.openai.api_server --port {port} --model {} {args}",
                shell_quote(&kube_escape(model))
            ),
            "/vllm-workspace/ray_init.sh worker --ray_address=$(LWS_LEADER_ADDRESS)".to_string(),
        ),
        // Any image with Ray: the leader starts the head and counts live nodes (as vLLM's
        // multi-node-serving.sh does, through ray.nodes()) until the whole group joined, and
        // fails after a while instead of serving on a partial group; workers retry joining.
        super::RayBootstrap::Inline => (
            format!(
                "ray start --head --port=6379 --disable-usage-stats && i=0 && \
                 until [ \"$$(python3 -c 'import ray; ray.init(address=\"auto\", logging_level=\"ERROR\"); \
                 print(sum(n[\"Alive\"] for n in ray.nodes()))' 2>/dev/null)\" = \"$(LWS_GROUP_SIZE)\" ]; \
                 do i=$$((i + 5)); if [ \"$$i\" -ge {RAY_WAIT_SECONDS} ]; then \
                 echo \"lwsplan: not every pod of the group joined Ray within {RAY_WAIT_SECONDS} s\" >&2; exit 1; fi; \
                 sleep 5; done && exec vllm serve {} --port {port} --distributed-executor-backend ray {args}",
                shell_quote(&kube_escape(model))
            ),
            format!(
                "i=0; until ray start --address=$(LWS_LEADER_ADDRESS):6379 --block; do \
                 i=$$((i + 5)); if [ \"$$i\" -ge {RAY_WAIT_SECONDS} ]; then \
                 echo \"lwsplan: cannot join the Ray head at $(LWS_LEADER_ADDRESS):6379 within \
                 {RAY_WAIT_SECONDS} s\" >&2; exit 1; fi; sleep 5; done"
            ),
        ),
    };
    let sh = |script: String| vec!["sh".to_string(), "-c".to_string(), script];
    Commands {
        leader: sh(leader),
        worker: sh(worker),
    }
}

/// An exec-form command: each argument is one argv entry, no shell involved. User strings are
/// only protected from Kubernetes' `$(VAR)` expansion.
fn exec<const N: usize>(head: [&str; N], args: &[String]) -> Vec<String> {
    head.iter()
        .map(|s| kube_escape(s))
        .chain(args.iter().map(|s| kube_escape(s)))
        .collect()
}

/// Kubernetes expands `$(VAR)` in `command` and `args` and reduces every `$$` to `$`, so a
/// literal `$` is written `$$`. Applied to every string that did not come from lwsplan itself.
pub fn kube_escape(s: &str) -> String {
    s.replace('$', "$$")
}

/// Quotes one word for `sh -c`: unchanged when it holds only characters the shell passes
/// through, else single-quoted with embedded single quotes as `'\''`.
pub fn shell_quote(word: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_./:=,+@%".contains(c);
    if !word.is_empty() && word.chars().all(plain) {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_quoting_keeps_plain_words() {
        assert_eq!(shell_quote("--max-model-len"), "--max-model-len");
        assert_eq!(
            shell_quote("deepseek-ai/DeepSeek-R1"),
            "deepseek-ai/DeepSeek-R1"
        );
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote("$(rm -rf /)"), "'$(rm -rf /)'");
        assert_eq!(shell_quote(""), "''");
    }

    #[test]
    fn kubernetes_expansion_is_escaped_in_user_strings() {
        assert_eq!(kube_escape("$(HOME)"), "$$(HOME)");
        assert_eq!(
            kube_escape("$$"),
            "$$$$",
            "each `$$` would otherwise become `$`"
        );
        assert_eq!(kube_escape("a$b"), "a$$b");
        assert_eq!(kube_escape("plain"), "plain");
    }
}
