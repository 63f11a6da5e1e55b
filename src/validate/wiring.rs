//! The group's wiring read as vLLM reads it, for any manifest: data-parallel engines that
//! cover every rank exactly once, workers that run headless, expert parallelism on every rank
//! or none, decode context parallelism that divides TP and exists in the image's release.
//!
//! vLLM's multi-node data parallelism (`docs/serving/data_parallel_deployment.md`,
//! `vllm/entrypoints/cli/serve.py`): each node runs `--data-parallel-size-local` engines from
//! its `--data-parallel-start-rank`; every node but the first runs `--headless`; all agree on
//! `--data-parallel-size`. Expert parallelism is one setting of the whole model
//! (`--enable-expert-parallel`), and DCP splits each TP group's KV cache, so TP must be a
//! multiple of it (`vllm/config/parallel.py`).

use k8s_openapi::api::core::v1::PodSpec;

use super::Findings;
use super::lints::gpus;
use crate::manifest::LeaderWorkerSet;
use crate::manifest::serve::{ServeFlags, canonical, serve_words};

const LEADER: &str = "spec.leaderWorkerTemplate.leaderTemplate";
const WORKER: &str = "spec.leaderWorkerTemplate.workerTemplate";
/// Workers whose start ranks are checked one by one; larger groups are not real.
const MAX_CHECKED_WORKERS: i64 = 4096;

/// One pod's vLLM invocation.
struct Serve {
    flags: ServeFlags,
    words: Vec<String>,
}

impl Serve {
    fn of(spec: &PodSpec) -> Option<Serve> {
        let container = spec.containers.first()?;
        let command = container.command.as_deref().unwrap_or_default();
        let args = container.args.as_deref().unwrap_or_default();
        let words = serve_words(command, args)?;
        Some(Serve {
            flags: ServeFlags::parse(&words),
            words,
        })
    }

    fn size(&self, flag: &str) -> Option<i64> {
        self.flags.value(flag)
    }

    /// Whether expert parallelism is on: the last of `--enable-expert-parallel` and its `no-`
    /// form wins.
    fn expert_parallel(&self) -> bool {
        self.flags
            .flags
            .iter()
            .rev()
            .find(|(f, _)| f == "enable-expert-parallel" || f == "no-enable-expert-parallel")
            .is_some_and(|(f, _)| f == "enable-expert-parallel")
    }

    /// `--data-parallel-start-rank` as a function of the worker index, `a × i + b`: a number,
    /// or shell arithmetic on `LWS_WORKER_INDEX` (the form lwsplan renders). `Err` holds the
    /// text when it is neither.
    fn start_rank(&self) -> Option<Result<(i64, i64), String>> {
        let at = self
            .words
            .iter()
            .rposition(|w| canonical(w).as_deref() == Some("data-parallel-start-rank"))?;
        let word = &self.words[at];
        let mut text = match word.split_once('=') {
            Some((_, value)) => value.to_string(),
            None => self.words.get(at + 1).cloned().unwrap_or_default(),
        };
        // Shell arithmetic spans words: `$((LWS_WORKER_INDEX * 4))`.
        let mut next = at + 2;
        while text.matches("((").count() > text.matches("))").count() {
            let Some(word) = self.words.get(next) else {
                break;
            };
            text.push_str(word);
            next += 1;
        }
        Some(linear_in_worker_index(&text).ok_or(text))
    }
}

/// `a × LWS_WORKER_INDEX + b` from a number or a shell expression of the worker index.
fn linear_in_worker_index(text: &str) -> Option<(i64, i64)> {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    let compact = compact
        .replace("$(LWS_WORKER_INDEX)", "i")
        .replace("${LWS_WORKER_INDEX}", "i")
        .replace("$LWS_WORKER_INDEX", "i")
        .replace("LWS_WORKER_INDEX", "i");
    let body = compact
        .strip_prefix("$$((")
        .or_else(|| compact.strip_prefix("$(("))
        .and_then(|b| b.strip_suffix("))"))
        .unwrap_or(&compact);
    let (product, offset) = match body.split_once('+') {
        Some((p, o)) => (p, o.parse::<i64>().ok()?),
        None => (body, 0),
    };
    let factor = match product {
        "i" => 1,
        p => match p.split_once('*') {
            Some(("i", k)) | Some((k, "i")) => k.parse().ok()?,
            _ => return p.parse().ok().map(|b: i64| (0, b + offset)),
        },
    };
    Some((factor, offset))
}

/// Checks one LeaderWorkerSet's wiring.
pub fn leader_worker_set(lws: &LeaderWorkerSet, findings: &mut Findings<'_>) {
    let template = &lws.spec.leader_worker_template;
    let size = i64::from(template.size.unwrap_or(1));
    let Some(leader_spec) = template
        .leader_template
        .as_ref()
        .and_then(|t| t.spec.as_ref())
    else {
        return;
    };
    let Some(leader) = Serve::of(leader_spec) else {
        return;
    };
    let image = leader_spec
        .containers
        .first()
        .and_then(|c| c.image.as_deref());
    decode_context_parallel(&leader, image, LEADER, findings);
    let worker_spec = template.worker_template.spec.as_ref();
    let worker = worker_spec.and_then(Serve::of);
    if size <= 1 {
        return;
    }
    let (Some(worker_spec), Some(worker)) = (worker_spec, worker) else {
        return;
    };
    let command = format!("{WORKER}.spec.containers[0].command");
    if !worker.flags.has("headless") {
        findings.add(
            &command,
            "workers run vLLM without --headless: each would start its own API server and \
             engine instead of joining the leader's",
        );
    }
    if leader.expert_parallel() != worker.expert_parallel() {
        findings.add(
            &command,
            format!(
                "expert parallelism is {} at the leader and {} at the workers: it is one setting \
                 of the whole model (--enable-expert-parallel on every rank or none)",
                on_off(leader.expert_parallel()),
                on_off(worker.expert_parallel())
            ),
        );
    }
    for flag in ["decode-context-parallel-size", "data-parallel-size"] {
        let (l, w) = (
            leader.size(flag).unwrap_or(1),
            worker.size(flag).unwrap_or(1),
        );
        if l != w {
            findings.add(
                &command,
                format!("--{flag} {w} on the workers, {l} on the leader: every rank must agree"),
            );
        }
    }
    data_parallel(
        &leader,
        &worker,
        size,
        (gpus(leader_spec), gpus(worker_spec)),
        findings,
    );
}

fn on_off(on: bool) -> &'static str {
    if on { "on" } else { "off" }
}

/// DCP divides TP, and the image's release has it.
fn decode_context_parallel(
    serve: &Serve,
    image: Option<&str>,
    path: &str,
    findings: &mut Findings<'_>,
) {
    let Some(dcp) = serve
        .size("decode-context-parallel-size")
        .filter(|d| *d > 1)
    else {
        return;
    };
    let command = format!("{path}.spec.containers[0].command");
    let tp = serve.size("tensor-parallel-size").unwrap_or(1);
    let feature = crate::plan::version::DECODE_CONTEXT_PARALLEL;
    let release = image
        .and_then(|i| crate::manifest::ImageRef::parse(i).ok())
        .and_then(|r| r.vllm_version());
    if let Some(version) = release
        && !feature.in_version(version)
    {
        findings.add(&command, feature.missing(version));
    } else if tp % dcp != 0 {
        findings.add(
            &command,
            format!(
                "--decode-context-parallel-size {dcp} does not divide --tensor-parallel-size \
                 {tp}: DCP splits each TP group's KV cache, so vLLM refuses it"
            ),
        );
    }
}

/// Every data-parallel rank run exactly once: the leader's engines from 0, worker *i*'s from
/// its start rank, each pod's engines filling its GPUs.
fn data_parallel(
    leader: &Serve,
    worker: &Serve,
    size: i64,
    (leader_gpus, worker_gpus): (i64, i64),
    findings: &mut Findings<'_>,
) {
    let dp = leader.size("data-parallel-size").unwrap_or(1);
    if dp <= 1 {
        return;
    }
    let command = format!("{WORKER}.spec.containers[0].command");
    let engine = |s: &Serve| {
        s.size("tensor-parallel-size")
            .unwrap_or(1)
            .saturating_mul(s.size("pipeline-parallel-size").unwrap_or(1))
    };
    let Some(worker_local) = worker.size("data-parallel-size-local") else {
        findings.add(
            &command,
            "workers give no --data-parallel-size-local: each node must say how many engines it \
             runs",
        );
        return;
    };
    if engine(worker).saturating_mul(worker_local) != worker_gpus {
        findings.add(
            &command,
            format!(
                "--data-parallel-size-local {worker_local} engines of {} GPUs each on a worker \
                 of {worker_gpus} GPUs: each pod's GPUs must hold exactly its local engines",
                engine(worker)
            ),
        );
    }
    let leader_local = leader
        .size("data-parallel-size-local")
        .unwrap_or(leader_gpus / engine(leader).max(1));
    if leader.size("data-parallel-start-rank").unwrap_or(0) != 0 {
        findings.add(
            format!("{LEADER}.spec.containers[0].command"),
            "the leader must start at data-parallel rank 0",
        );
    }
    let (factor, offset) = match worker.start_rank() {
        None => {
            findings.add(
                &command,
                "workers give no --data-parallel-start-rank: every worker would start at rank \
                 0, the leader's",
            );
            return;
        }
        Some(Err(text)) => {
            findings.add(
                &command,
                format!(
                    "--data-parallel-start-rank `{}` is neither a number nor \
                     $((LWS_WORKER_INDEX * N)): lwsplan cannot tell which ranks the workers run",
                    crate::error::truncate(&text, 60)
                ),
            );
            return;
        }
        Some(Ok(linear)) => linear,
    };
    if size > MAX_CHECKED_WORKERS {
        return;
    }
    let mut ranges = vec![(0, leader_local)];
    ranges.extend((1..size).map(|i| {
        let start = factor.saturating_mul(i).saturating_add(offset);
        (start, start.saturating_add(worker_local))
    }));
    ranges.sort_unstable();
    let mut next = 0;
    for (start, end) in ranges {
        if start != next {
            let what = if start < next {
                "overlap"
            } else {
                "leave a gap"
            };
            findings.add(
                &command,
                format!(
                    "data-parallel ranks {what} at rank {}: the leader runs ranks \
                     0..{leader_local} and worker i from {} ({worker_local} each), but the \
                     group's {dp} ranks must each run exactly once (start rank = \
                     LWS_WORKER_INDEX × {worker_local})",
                    start.min(next),
                    describe(factor, offset)
                ),
            );
            return;
        }
        next = end;
    }
    if next != dp {
        findings.add(
            &command,
            format!(
                "the group runs {next} data-parallel engines, but --data-parallel-size is {dp}"
            ),
        );
    }
}

fn describe(factor: i64, offset: i64) -> String {
    match (factor, offset) {
        (0, b) => b.to_string(),
        (a, 0) => format!("{a} × i"),
        (a, b) => format!("{a} × i + {b}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows: a start rank as a worker's command has it, and `(a, b)` in `a × i + b`.
    #[test]
    fn start_ranks_are_read_from_numbers_and_shell_arithmetic() {
        for (text, linear) in [
            ("$$((LWS_WORKER_INDEX*4))", Some((4, 0))),
            ("$((LWS_WORKER_INDEX * 4))", Some((4, 0))),
            ("$(( $(LWS_WORKER_INDEX) * 2 + 1 ))", Some((2, 1))),
            ("$((8*LWS_WORKER_INDEX))", Some((8, 0))),
            ("$(LWS_WORKER_INDEX)", Some((1, 0))),
            ("4", Some((0, 4))),
            ("$(hostname)", None),
        ] {
            assert_eq!(linear_in_worker_index(text), linear, "{text}");
        }
    }
}
