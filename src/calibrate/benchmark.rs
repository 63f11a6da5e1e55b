//! The performance estimate against published benchmark results: each entry one setup (model,
//! GPU, layout, release) with the points its source measured (input and output lengths,
//! concurrency, output tokens per second, time per output token) and the source. lwsplan's own
//! set is `tests/fixtures/benchmarks/`; `lwsplan check-perf --dataset DIR` runs any directory.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::dataset::{DatasetError, entries, hardware_profile, model_profile};
use crate::plan::{PlanOptions, Planner, VllmVersion, Workload};
use crate::{Catalog, Error};

/// One benchmarked setup.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct BenchmarkEntry {
    /// Where the results come from.
    pub source: String,
    /// The part of the source that holds them.
    #[serde(default)]
    pub section: Option<String>,
    /// The release benchmarked.
    pub vllm_version: VllmVersion,
    /// A built-in hardware id.
    #[serde(default)]
    pub gpu: Option<String>,
    /// A hardware profile file, relative to the entry.
    #[serde(default)]
    pub gpu_file: Option<PathBuf>,
    /// A built-in model id.
    #[serde(default)]
    pub model: Option<String>,
    /// A model profile file, relative to the entry.
    #[serde(default)]
    pub model_file: Option<PathBuf>,
    /// A Hugging Face config.json, relative to the entry.
    #[serde(default)]
    pub hf_config: Option<PathBuf>,
    /// With `hf_config`: the repository.
    #[serde(default)]
    pub hf_repo: Option<String>,
    /// The layout and flags, as plan options (the layout is pinned: TP, PP 1 unless given).
    #[serde(default)]
    pub options: PlanOptions,
    /// The model served, when setups of different profiles serve the same model (a checkpoint
    /// and its FP8 quantization): setups with the same value are alternative deployments of it,
    /// which [`ranked_pairs`] compares. Default: the model profile's id.
    #[serde(default)]
    pub serves: Option<String>,
    /// The measured points.
    pub points: Vec<BenchmarkPoint>,
    /// Why the estimate misses this setup, when it does.
    #[serde(default)]
    pub known_miss: Option<String>,
}

/// One measured point, as the source quotes it.
#[derive(Debug, Clone, Copy, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BenchmarkPoint {
    /// Requests in flight.
    pub concurrency: u64,
    /// Prompt tokens per request.
    pub input_tokens: u64,
    /// Output tokens per request.
    pub output_tokens: u64,
    /// Measured output tokens per second, all GPUs.
    pub output_tokens_per_s: f64,
    /// Measured mean time per output token, ms.
    pub tpot_ms: f64,
    /// Measured mean time to first token, ms.
    #[serde(default)]
    pub ttft_ms: Option<f64>,
}

/// One point, predicted and measured.
#[derive(Debug, Clone, Copy, Serialize)]
#[non_exhaustive]
pub struct PointResult {
    #[allow(missing_docs)]
    pub point: BenchmarkPoint,
    /// Estimated output tokens per second.
    pub output_tokens_per_s: f64,
    /// Estimated time per output token, ms.
    pub tpot_ms: f64,
    /// Estimated time to first token, ms.
    pub ttft_ms: f64,
    /// Whether more requests were in flight than the KV cache holds (vLLM preempts, which the
    /// estimate does not model): see [`crate::plan::Performance::kv_cache_saturated`].
    pub kv_cache_saturated: bool,
    /// GPUs the planned layout takes.
    pub gpus: u64,
    /// The estimate's range.
    pub range: crate::plan::Range,
}

/// How far an estimate may be from a measurement: ×3 when the KV cache holds every request.
pub const WITHIN: f64 = 3.0;
/// How far when it does not (vLLM preempts and recomputes, which the estimate leaves out).
pub const WITHIN_SATURATED: f64 = 4.0;

impl PointResult {
    /// The band this point is held to: [`WITHIN`], or [`WITHIN_SATURATED`].
    pub fn band(&self) -> f64 {
        if self.kv_cache_saturated {
            WITHIN_SATURATED
        } else {
            WITHIN
        }
    }

    /// predicted / measured throughput.
    pub fn throughput_ratio(&self) -> f64 {
        self.output_tokens_per_s / self.point.output_tokens_per_s
    }

    /// predicted / measured time per output token.
    pub fn tpot_ratio(&self) -> f64 {
        self.tpot_ms / self.point.tpot_ms
    }

    /// Whether the measurement lies in the estimate's range: throughput per GPU, TPOT and TTFT
    /// (TTFT `None` where the source gives none).
    pub fn in_range(&self) -> [Option<bool>; 3] {
        let inside = |[lo, hi]: [f64; 2], x: f64| lo <= x && x <= hi;
        let r = &self.range;
        [
            Some(inside(
                r.output_tokens_per_s_per_gpu,
                self.point.output_tokens_per_s / self.gpus.max(1) as f64,
            )),
            Some(inside(r.tpot_ms, self.point.tpot_ms)),
            self.point.ttft_ms.map(|t| inside(r.ttft_ms, t)),
        ]
    }

    /// The worse of the two ratios as a factor ≥ 1 (×1.5 means off by half either way).
    pub fn worst_factor(&self) -> f64 {
        [self.throughput_ratio(), self.tpot_ratio()]
            .into_iter()
            .map(|r| if r >= 1.0 { r } else { 1.0 / r })
            .fold(1.0, f64::max)
    }
}

/// A setup's outcome.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct BenchmarkResult {
    /// The file's name without `.yaml`.
    pub name: String,
    #[allow(missing_docs)]
    pub entry: BenchmarkEntry,
    /// The model profile's id.
    pub model: String,
    /// The hardware profile's id.
    pub gpu: String,
    #[allow(missing_docs)]
    pub points: Vec<PointResult>,
}

impl BenchmarkEntry {
    /// Estimates every point of the setup; files it names must be inside `dir`.
    pub fn evaluate(&self, dir: &Path, name: &str) -> Result<BenchmarkResult, DatasetError> {
        self.evaluate_within(dir, dir, name)
    }

    /// [`evaluate`](Self::evaluate), with files allowed anywhere inside `root`, a directory
    /// that holds `dir`.
    pub fn evaluate_within(
        &self,
        dir: &Path,
        root: &Path,
        name: &str,
    ) -> Result<BenchmarkResult, DatasetError> {
        self.check_points()?;
        let catalog = Catalog::builtin();
        let model = model_profile(
            (
                &self.model,
                &self.model_file,
                &self.hf_config,
                &self.hf_repo,
            ),
            catalog,
            (dir, root),
        )?;
        let hardware = hardware_profile((&self.gpu, &self.gpu_file), catalog, (dir, root))?;
        let planner = Planner::new(&model, &hardware);
        let mut points = Vec::new();
        for point in &self.points {
            let mut options = self.options.clone();
            options.vllm_version = Some(self.vllm_version);
            options.tensor_parallel_size = Some(options.tensor_parallel_size.unwrap_or(1));
            options.pipeline_parallel_size = Some(options.pipeline_parallel_size.unwrap_or(1));
            options.data_parallel_size = Some(options.data_parallel_size.unwrap_or(1));
            options.workload = Some(Workload::closed(
                point.input_tokens,
                point.output_tokens,
                point.concurrency,
            ));
            let plan = planner.plan(&options)?;
            let estimate = plan.performance.ok_or_else(|| DatasetError::Entry {
                message: format!("{} has no dense peak: no estimate", hardware.id),
            })?;
            points.push(PointResult {
                point: *point,
                output_tokens_per_s: estimate.output_tokens_per_s,
                tpot_ms: estimate.tpot_ms,
                ttft_ms: estimate.ttft_ms,
                kv_cache_saturated: estimate.kv_cache_saturated,
                gpus: plan.total_gpus,
                range: estimate.range,
            });
        }
        Ok(BenchmarkResult {
            name: name.to_string(),
            entry: self.clone(),
            model: model.id.clone(),
            gpu: hardware.id.clone(),
            points,
        })
    }
}

impl BenchmarkEntry {
    /// Every point a measurement: counts at least 1, rates and times positive and finite. A
    /// NaN point would otherwise be "within" any band (every comparison with NaN is false).
    fn check_points(&self) -> Result<(), DatasetError> {
        if self.points.is_empty() {
            return Err(DatasetError::Entry {
                message: "points: empty; a setup has at least one measured point".into(),
            });
        }
        for (i, p) in self.points.iter().enumerate() {
            let counts = [
                ("concurrency", p.concurrency),
                ("input_tokens", p.input_tokens),
                ("output_tokens", p.output_tokens),
            ];
            if let Some((field, _)) = counts.iter().find(|(_, v)| *v == 0) {
                return Err(DatasetError::Entry {
                    message: format!("points[{i}].{field}: 0; a measured point has at least 1"),
                });
            }
            let rates = [
                ("output_tokens_per_s", Some(p.output_tokens_per_s)),
                ("tpot_ms", Some(p.tpot_ms)),
                ("ttft_ms", p.ttft_ms),
            ];
            for (field, value) in rates {
                if let Some(v) = value
                    && !(v.is_finite() && v > 0.0 && v < 1e12)
                {
                    return Err(DatasetError::Entry {
                        message: format!(
                            "points[{i}].{field}: {} is not a measurement (a positive, finite \
                             number)",
                            crate::error::base::truncate(&v.to_string(), 24)
                        ),
                    });
                }
            }
        }
        Ok(())
    }
}

/// Every `*.yaml` setup in `dir`, evaluated; files they name must be inside `dir`.
pub fn evaluate_benchmarks(dir: &Path) -> Result<Vec<BenchmarkResult>, DatasetError> {
    evaluate_benchmarks_within(dir, dir)
}

/// [`evaluate_benchmarks`], with files allowed anywhere inside `root`, a directory that holds
/// `dir`.
pub fn evaluate_benchmarks_within(
    dir: &Path,
    root: &Path,
) -> Result<Vec<BenchmarkResult>, DatasetError> {
    entries(dir)?
        .into_iter()
        .map(|(name, path)| {
            read(&path)
                .and_then(|entry| entry.evaluate_within(dir, root, &name))
                .map_err(|source| DatasetError::In {
                    entry: path.clone(),
                    source: Box::new(source),
                })
        })
        .collect()
}

fn read(path: &Path) -> Result<BenchmarkEntry, DatasetError> {
    let text = crate::io::read_text(path, crate::io::MAX_MANIFEST_FILE, "a benchmark entry")
        .map_err(|source| Error::Read {
            path: path.to_path_buf(),
            source,
        })?;
    Ok(crate::yaml::from_str_named(
        &text,
        &path.display().to_string(),
    )?)
}

/// Whether a point is as the set promises: within its [band](PointResult::band), unless its
/// setup is a known miss.
pub fn point_within(result: &BenchmarkResult, point: &PointResult) -> bool {
    result.entry.known_miss.is_some() || point.worst_factor() <= point.band()
}

/// Two setups' points under the same workload on the same GPU, as measured and as estimated.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct RankedPair {
    /// The setup measured faster per GPU.
    pub faster: String,
    #[allow(missing_docs)]
    pub slower: String,
    /// The workload: input / output tokens at a concurrency.
    pub workload: String,
    /// Measured per-GPU output throughput, faster / slower.
    pub measured_ratio: f64,
    /// Estimated per-GPU output throughput, the same setups in the same order.
    pub estimated_ratio: f64,
}

impl RankedPair {
    /// Whether the estimate orders the two as the measurement does.
    pub fn agrees(&self) -> bool {
        self.estimated_ratio > 1.0
    }
}

/// Measured differences smaller than this are ties, not rankings.
pub const RANKING_TIE: f64 = 1.1;

/// Which layout serves fastest, checked: every pair of setups (outside the known misses)
/// serving the same model on the same GPU under the same workload (the same concurrency, the
/// lengths within 5 %: outputs that stop early differ a little between runs) whose per-GPU
/// output throughput differs by more than [`RANKING_TIE`], with the estimate's ratio for the
/// same pair.
pub fn ranked_pairs(results: &[BenchmarkResult]) -> Vec<RankedPair> {
    let points: Vec<(&BenchmarkResult, &PointResult)> = results
        .iter()
        .filter(|r| r.entry.known_miss.is_none())
        .flat_map(|r| r.points.iter().map(move |p| (r, p)))
        .collect();
    let per_gpu = |p: &PointResult| {
        (
            p.point.output_tokens_per_s / p.gpus as f64,
            p.output_tokens_per_s / p.gpus as f64,
        )
    };
    let close = |x: u64, y: u64| x.abs_diff(y) * 20 <= x.max(y);
    let same_workload = |a: &BenchmarkPoint, b: &BenchmarkPoint| {
        a.concurrency == b.concurrency
            && close(a.input_tokens, b.input_tokens)
            && close(a.output_tokens, b.output_tokens)
    };
    let serves = |r: &BenchmarkResult| r.entry.serves.clone().unwrap_or_else(|| r.model.clone());
    let mut pairs = Vec::new();
    for (i, (ra, a)) in points.iter().enumerate() {
        for (rb, b) in &points[i + 1..] {
            if ra.name == rb.name
                || ra.gpu != rb.gpu
                || serves(ra) != serves(rb)
                || !same_workload(&a.point, &b.point)
            {
                continue;
            }
            let ((ma, ea), (mb, eb)) = (per_gpu(a), per_gpu(b));
            let (faster, slower, measured, estimated) = if ma >= mb {
                ((ra, a), rb, ma / mb, ea / eb)
            } else {
                ((rb, b), ra, mb / ma, eb / ea)
            };
            if measured > RANKING_TIE {
                pairs.push(RankedPair {
                    faster: faster.0.name.clone(),
                    slower: slower.name.clone(),
                    workload: format!(
                        "{} / {} at {}",
                        faster.1.point.input_tokens,
                        faster.1.point.output_tokens,
                        faster.1.point.concurrency
                    ),
                    measured_ratio: measured,
                    estimated_ratio: estimated,
                });
            }
        }
    }
    pairs
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A result of one point whose estimate is `throughput` and `tpot` times the measurement.
    fn one_point(saturated: bool, throughput: f64, tpot: f64, known_miss: bool) -> BenchmarkResult {
        let point = BenchmarkPoint {
            concurrency: 64,
            input_tokens: 1024,
            output_tokens: 1024,
            output_tokens_per_s: 1000.0,
            tpot_ms: 50.0,
            ttft_ms: None,
        };
        BenchmarkResult {
            name: "synthetic".into(),
            entry: BenchmarkEntry {
                source: "https://example.com/synthetic".into(),
                section: None,
                vllm_version: VllmVersion(0, 11, 0),
                gpu: Some("h100-80gb".into()),
                gpu_file: None,
                model: Some("llama-3.1-8b-instruct".into()),
                model_file: None,
                hf_config: None,
                hf_repo: None,
                options: PlanOptions::default(),
                serves: None,
                points: vec![point],
                known_miss: known_miss.then(|| "a documented reason".into()),
            },
            model: "llama-3.1-8b-instruct".into(),
            gpu: "h100-80gb".into(),
            points: vec![PointResult {
                point,
                output_tokens_per_s: 1000.0 * throughput,
                tpot_ms: 50.0 * tpot,
                ttft_ms: 100.0,
                kv_cache_saturated: saturated,
                gpus: 1,
                range: crate::plan::Range {
                    output_tokens_per_s_per_gpu: [500.0 * throughput, 2000.0 * throughput],
                    tpot_ms: [25.0 * tpot, 100.0 * tpot],
                    ttft_ms: [50.0, 200.0],
                },
            }],
        }
    }

    /// The bands, just inside and just outside, either way: ×3 where the KV cache holds every
    /// request, ×4 where it is saturated (vLLM preempts, which the estimate does not model, so
    /// the wider band covers an estimate off either way, never one beyond ×4). Each row:
    /// saturated, estimated / measured throughput, estimated / measured TPOT, within.
    #[test]
    fn points_are_held_to_their_band_either_way() {
        let rows = [
            (false, 2.99, 1.0, true),
            (false, 3.01, 1.0, false), // optimistic throughput
            (false, 1.0 / 2.99, 1.0, true),
            (false, 1.0 / 3.01, 1.0, false), // pessimistic throughput
            (false, 1.0, 2.99, true),
            (false, 1.0, 3.01, false),       // TPOT too slow
            (false, 1.0, 1.0 / 3.01, false), // TPOT too fast
            (false, 1.5, 3.01, false),       // the worse ratio decides
            (true, 3.99, 1.0, true),
            (true, 4.01, 1.0, false),       // an optimistic saturated miss
            (true, 1.0, 1.0 / 4.01, false), // optimistic TPOT, saturated
            (true, 1.0 / 3.99, 1.0, true),
            (true, 1.0 / 4.01, 1.0, false),
            (true, 1.0, 4.01, false),
        ];
        for (saturated, throughput, tpot, within) in rows {
            let result = one_point(saturated, throughput, tpot, false);
            let p = &result.points[0];
            assert_eq!(p.band(), if saturated { 4.0 } else { 3.0 }, "{saturated}");
            assert_eq!(
                point_within(&result, p),
                within,
                "saturated {saturated}, throughput ×{throughput}, TPOT ×{tpot}: factor {}",
                p.worst_factor()
            );
        }
    }

    /// A known miss is reported but not held to the band, however far off.
    #[test]
    fn a_known_miss_is_not_held_to_the_band() {
        for saturated in [false, true] {
            let result = one_point(saturated, 10.0, 1.0, true);
            assert!(point_within(&result, &result.points[0]));
            let result = one_point(saturated, 10.0, 1.0, false);
            assert!(!point_within(&result, &result.points[0]));
        }
    }
}
