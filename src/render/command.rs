//! The commands each pod runs: `vllm serve` in vLLM's native multi-node mode, or the Ray
//! bootstrap of the published guide.
//!
//! Native mode (vllm PR #23691; the LWS example of kubernetes-sigs/lws PR #1021): every pod
//! runs `vllm serve MODEL` with the same parallel sizes and `--nnodes $(LWS_GROUP_SIZE)
//! --node-rank $(LWS_WORKER_INDEX) --master-addr $(LWS_LEADER_ADDRESS)`; workers add
//! `--headless`, and only the leader serves the API. Kubernetes expands `$(VAR)` in commands
//! from the pod's environment, which LWS fills in.

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
        plan.tensor_parallel_size.to_string(),
        "--pipeline-parallel-size".to_string(),
        plan.pipeline_parallel_size.to_string(),
    ];
    serve_args.extend(plan.vllm_args.iter().cloned());
    serve_args.extend(options.vllm_args.iter().cloned());
    let port = options.port.to_string();
    if plan.nodes == 1 {
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
        Launcher::Ray => {
            // The published guide's form: the image's ray_init.sh forms the Ray cluster (the
            // leader waits until LWS_GROUP_SIZE nodes joined), then the leader starts the API
            // server on the Ray executor. One shell line, so user strings are shell-quoted.
            let mut script = format!(
                "/vllm-workspace/ray_init.sh leader --ray_cluster_size=$(LWS_GROUP_SIZE); \
                 python3 -m vllm.entrypoints.openai.api_server --port {port} --model {}",
                shell_quote(&kube_escape(model))
            );
            for arg in &serve_args {
                script.push(' ');
                script.push_str(&shell_quote(&kube_escape(arg)));
            }
            Commands {
                leader: vec!["sh".into(), "-c".into(), script],
                worker: vec![
                    "sh".into(),
                    "-c".into(),
                    "/vllm-workspace/ray_init.sh worker --ray_address=$(LWS_LEADER_ADDRESS)".into(),
                ],
            }
        }
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
