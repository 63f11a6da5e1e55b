//! The next steps `render` prints: the commands that take the manifests to a running server.
//!
//! Every value interpolated into a command is shell-quoted, so pasting a line runs exactly the
//! command shown, whatever a name, path or model source holds.

use std::fmt;
use std::path::Path;

use lwsplan::manifest::NAME_LABEL;
use lwsplan::plan::Plan;
use lwsplan::render::RenderOptions;
use lwsplan::render::shell_quote;

/// The LeaderWorkerSet release the README and these hints name (kubernetes-sigs/lws, released
/// 2026-08-11, <https://github.com/kubernetes-sigs/lws/releases/tag/v0.10.0>).
pub const LWS_RELEASE: &str = "v0.10.0";

/// What to run after `render`.
pub struct NextSteps<'a> {
    pub plan: &'a Plan,
    pub options: &'a RenderOptions,
    pub service: &'a str,
    /// Where the manifests were written, if not to standard output.
    pub written: Option<&'a Path>,
    pub startup_minutes: u64,
    /// The command line of this render (`lwsplan` and its arguments), to pipe into kubectl.
    pub command: Vec<String>,
    /// The size a shared claim must have: the checkpoint's disk size.
    pub claim_size: String,
    /// What the cluster needs for the inter-node fabric the render wires.
    pub network: Option<&'static str>,
    /// The Pod Security Standard level the pods meet.
    pub pod_security: lwsplan::render::PodSecurity,
    /// For a probe (`render --probe`): how `check-log` names the model and hardware.
    pub probe_source: Option<String>,
}

impl fmt::Display for NextSteps<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (plan, o) = (self.plan, self.options);
        let q = |s: &str| shell_quote(s);
        let namespace = o
            .namespace
            .as_deref()
            .map(|n| format!(" -n {}", q(n)))
            .unwrap_or_default();
        writeln!(
            f,
            "# {}: {}, max_model_len {}, {} KV tokens",
            plan.headline(),
            plan.layout().shape(),
            plan.max_model_len,
            plan.group_kv_cache_tokens
        )?;
        writeln!(
            f,
            "# needs:        the LeaderWorkerSet controller ({LWS_RELEASE}: kubectl apply --server-side -f \
             https://github.com/kubernetes-sigs/lws/releases/download/{LWS_RELEASE}/manifests.yaml) \
             and the NVIDIA device plugin or GPU operator (nodes advertise nvidia.com/gpu)"
        )?;
        if let Some(ns) = &o.namespace {
            writeln!(
                f,
                "# namespace:    kubectl create namespace {}   # once; skip if it exists",
                q(ns)
            )?;
        }
        if let lwsplan::render::ModelCache::Pvc { claim_name, .. } = &o.model_cache {
            // The claim must exist before the pods; every pod of every group mounts it, so
            // it must be shared: ReadWriteMany (Filestore, a CSI driver's RWX class).
            let claim = serde_json::json!({
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "metadata": {"name": claim_name},
                "spec": {
                    "accessModes": ["ReadWriteMany"],
                    "resources": {"requests": {"storage": self.claim_size}},
                },
            });
            writeln!(
                f,
                "# claim:        echo {} | kubectl apply{namespace} -f -   # ReadWriteMany: every pod mounts it; add storageClassName for your RWX class",
                q(&claim.to_string())
            )?;
        }
        if let Some(network) = self.network {
            writeln!(f, "# network:      {network}")?;
        }
        writeln!(f, "# pod security: {}", self.pod_security)?;
        // The token comes from the user's own shell ($HF_TOKEN), never from lwsplan; only a
        // gated model needs it (the reference is optional otherwise).
        if let Some(secret) = o.hf_secret.as_ref().filter(|_| plan.gated) {
            writeln!(
                f,
                "# secret:       kubectl create secret generic {}{namespace} {}\"$HF_TOKEN\"   # {} is gated: an account that accepted its licence",
                q(&secret.name),
                q(&format!("--from-literal={}=", secret.key)),
                plan.model_repo,
            )?;
        }
        let apply = match self.written {
            Some(path) => format!(
                "kubectl apply{namespace} -f {}",
                q(&path.display().to_string())
            ),
            None if self.command.iter().any(|a| a == "-") => format!(
                "the deployment came from standard input: re-run with -o FILE, then kubectl \
                 apply{namespace} -f FILE"
            ),
            None => format!(
                "{} | kubectl apply{namespace} -f -",
                self.command
                    .iter()
                    .map(|a| q(a))
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
        };
        writeln!(f, "# apply:        {apply}")?;
        writeln!(
            f,
            "# wait:         kubectl get pods{namespace} -l {} -w   # loading can take {} min",
            q(&format!("{NAME_LABEL}={}", o.name)),
            self.startup_minutes
        )?;
        writeln!(
            f,
            "# port-forward: kubectl port-forward{namespace} {} {port}:{port}",
            q(&format!("svc/{}", self.service)),
            port = o.port
        )?;
        if let Some(source) = &self.probe_source {
            // The probe's point is its log: collect it, compare it, delete the probe.
            let pod = format!("{}-0", o.name);
            return write!(
                f,
                "# check:        kubectl logs{namespace} {} -c {} | lwsplan check-log - {source}\n\
                 # delete:       kubectl delete{namespace} lws/{} svc/{}",
                q(&pod),
                q(&o.leader_container_name),
                q(&o.name),
                q(self.service),
            );
        }
        let model = o.model_source.as_deref().unwrap_or(&plan.model_repo);
        let body = format!(
            r#"{{"model": {}, "prompt": "Hello", "max_tokens": 32, "temperature": 0}}"#,
            serde_json::to_string(model).unwrap_or_default()
        );
        write!(
            f,
            "# first request: curl http://localhost:{}/v1/completions -H 'Content-Type: application/json' \\\n\
             #   -d {}",
            o.port,
            q(&body)
        )
    }
}
