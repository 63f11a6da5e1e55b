//! A development set of published vLLM start-ups: each entry a run someone published (its
//! source, release, GPU, model, flags and the logged lines, verbatim), which lwsplan predicts
//! and compares ([`compare`](super::compare)). lwsplan's own set is
//! `tests/fixtures/vllm-logs/`; `lwsplan check-log --dataset DIR` runs any directory of them.
//!
//! An entry is a YAML file:
//!
//! ```yaml
//! source: https://github.com/…/codellama-7b.log   # where the figures come from
//! vllm_version: 0.19.0
//! gpu: h100-80gb              # or gpu_file: a hardware profile, relative to the entry
//! model: llama-3.1-8b-instruct  # or model_file:, or hf_config: (+ hf_repo:)
//! options: {gpu_memory_utilization: 0.95, max_model_len: 8192}  # plan options, as a deployment file's
//! log: |                      # the logged lines, verbatim
//!   … Model loading took 14.99 GiB memory and 31.46 seconds
//! reported: {available_kv_cache_gib: 58.11}  # figures the source quotes without a log
//! known_miss: why lwsplan is outside tolerance here, when it is
//! ```
//!
//! A dataset is data, possibly someone else's: its file references (`model_file`, `gpu_file`,
//! `hf_config`) resolve only inside the dataset directory, or inside a `root` that the caller
//! names and that holds it (lwsplan's own sets share `tests/fixtures/hf`); figures no GPU could
//! report are refused with the entry and the field; an empty directory is an error.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::accuracy::{Comparison, Tolerance, compare_stage, options_from_log};
use super::startup_log::StartupLog;
use crate::plan::{PlanOptions, Planner, VllmVersion};
use crate::{Catalog, Error, HardwareProfile, ModelProfile};

/// One published run.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Entry {
    /// Where the figures come from: a URL, at a commit where the source has one.
    pub source: String,
    /// The release the run used.
    pub vllm_version: VllmVersion,
    /// Why the release is inferred, when the source does not state it.
    #[serde(default)]
    pub vllm_version_inferred: Option<String>,
    /// A built-in hardware id.
    #[serde(default)]
    pub gpu: Option<String>,
    /// A hardware profile file, relative to the entry.
    #[serde(default)]
    pub gpu_file: Option<PathBuf>,
    /// What CUDA or the log reported of the GPU, verbatim.
    #[serde(default)]
    pub cuda_reported: Option<String>,
    /// A built-in model id.
    #[serde(default)]
    pub model: Option<String>,
    /// A model profile file, relative to the entry.
    #[serde(default)]
    pub model_file: Option<PathBuf>,
    /// A Hugging Face config.json, relative to the entry.
    #[serde(default)]
    pub hf_config: Option<PathBuf>,
    /// With `hf_config`: the repository the run served.
    #[serde(default)]
    pub hf_repo: Option<String>,
    /// The run's flags, as plan options; what the log states overrides them.
    #[serde(default)]
    pub options: PlanOptions,
    /// The logged lines, verbatim.
    #[serde(default)]
    pub log: Option<String>,
    /// Figures the source quotes where it publishes no log (a table, a parsed summary).
    #[serde(default)]
    pub reported: Reported,
    /// Why lwsplan misses this run, when it does: the entry stays, marked.
    #[serde(default)]
    pub known_miss: Option<String>,
}

/// Figures a source quotes, in the log's units.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Reported {
    /// The pipeline stage whose worker's lines the figures are (absent: the tightest, as a
    /// whole log's minimum is).
    pub stage: Option<u64>,
    /// "Model loading took", GiB.
    pub model_loading_gib: Option<f64>,
    /// "Available KV cache memory", GiB.
    pub available_kv_cache_gib: Option<f64>,
    /// "GPU KV cache size", tokens.
    pub kv_cache_tokens: Option<u64>,
    /// Torch peak of the profiling run, GiB.
    pub torch_peak_gib: Option<f64>,
    /// Non-torch memory of the profiling run, GiB.
    pub non_torch_gib: Option<f64>,
    /// CUDA's total memory, GiB.
    pub total_memory_gib: Option<f64>,
}

/// An entry's outcome.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct EntryResult {
    /// The file's name without `.yaml`.
    pub name: String,
    #[allow(missing_docs)]
    pub entry: Entry,
    /// The model profile's id.
    pub model: String,
    /// The hardware profile's id.
    pub gpu: String,
    #[allow(missing_docs)]
    pub comparison: Comparison,
}

impl EntryResult {
    /// Within tolerance, or a miss the entry declares: either way as expected.
    pub fn as_expected(&self) -> bool {
        self.comparison.within != self.entry.known_miss.is_some()
    }

    /// The verdict in words: within, a known miss and why, or not as expected.
    pub fn verdict(&self) -> String {
        match (&self.entry.known_miss, self.comparison.within) {
            (None, true) => "within".to_string(),
            (Some(why), false) => format!("known miss: {why}"),
            (None, false) => "OUT OF TOLERANCE".to_string(),
            (Some(_), true) => "within, but marked a known miss".to_string(),
        }
    }
}

impl Entry {
    /// Reads an entry file.
    pub fn from_file(path: &Path) -> Result<Entry, DatasetError> {
        let text = crate::io::read_text(path, crate::io::MAX_MANIFEST_FILE, "a log entry")
            .map_err(|source| Error::Read {
                path: path.to_path_buf(),
                source,
            })?;
        Ok(crate::yaml::from_str_named(
            &text,
            &path.display().to_string(),
        )?)
    }

    /// What the log and the quoted figures say, the log first.
    pub fn measured(&self) -> StartupLog {
        let mut log = self
            .log
            .as_deref()
            .map(StartupLog::parse)
            .unwrap_or_default();
        let r = &self.reported;
        log.model_loading_gib = log.model_loading_gib.or(r.model_loading_gib);
        log.available_kv_cache_gib = log.available_kv_cache_gib.or(r.available_kv_cache_gib);
        log.kv_cache_tokens = log.kv_cache_tokens.or(r.kv_cache_tokens);
        log.torch_peak_gib = log.torch_peak_gib.or(r.torch_peak_gib);
        log.non_torch_gib = log.non_torch_gib.or(r.non_torch_gib);
        log.total_memory_gib = log.total_memory_gib.or(r.total_memory_gib);
        log
    }

    /// Predicts the run and compares it with what was measured; `dir` resolves relative paths,
    /// which must stay inside it.
    pub fn evaluate(&self, dir: &Path, name: &str) -> Result<EntryResult, DatasetError> {
        self.evaluate_within(dir, dir, name)
    }

    /// [`evaluate`](Self::evaluate), with file references allowed anywhere inside `root` (a
    /// directory holding `dir`).
    pub fn evaluate_within(
        &self,
        dir: &Path,
        root: &Path,
        name: &str,
    ) -> Result<EntryResult, DatasetError> {
        let catalog = Catalog::builtin();
        let model = self.model_profile(catalog, dir, root)?;
        let hardware = self.hardware_profile(catalog, dir, root)?;
        let measured = self.measured();
        if let Some((field, value)) = measured.implausible() {
            return Err(DatasetError::Entry {
                message: format!(
                    "{field}: {} is not a figure a GPU reports (not finite, out of range or of \
                     the wrong sign): fix the log line or the `reported` value",
                    crate::error::base::truncate(&value.to_string(), 24)
                ),
            });
        }
        let mut options = options_from_log(&measured, &self.options);
        options.vllm_version = Some(self.vllm_version);
        let startup = Planner::new(&model, &hardware).startup(&options)?;
        Ok(EntryResult {
            name: name.to_string(),
            entry: self.clone(),
            model: model.id.clone(),
            gpu: hardware.id.clone(),
            comparison: compare_stage(
                &startup,
                &measured,
                Tolerance::default(),
                self.reported.stage,
            ),
        })
    }

    fn model_profile(
        &self,
        catalog: &Catalog,
        dir: &Path,
        root: &Path,
    ) -> Result<ModelProfile, DatasetError> {
        model_profile(
            (
                &self.model,
                &self.model_file,
                &self.hf_config,
                &self.hf_repo,
            ),
            catalog,
            (dir, root),
        )
    }

    fn hardware_profile(
        &self,
        catalog: &Catalog,
        dir: &Path,
        root: &Path,
    ) -> Result<HardwareProfile, DatasetError> {
        hardware_profile((&self.gpu, &self.gpu_file), catalog, (dir, root))
    }
}

/// An entry's file reference, relative to `dir`, resolved with every link followed; refused
/// unless it lands inside `root`, so that a dataset cannot make lwsplan read (and quote in an
/// error) a file elsewhere, such as `../../../../etc/passwd`.
pub(crate) fn inside(
    key: &str,
    file: &Path,
    (dir, root): (&Path, &Path),
) -> Result<PathBuf, DatasetError> {
    let joined = dir.join(file);
    let not_found = |source: std::io::Error| {
        DatasetError::Pipeline(Error::Read {
            path: joined.clone(),
            source: crate::io::InputError::Io(source),
        })
    };
    let resolved = joined.canonicalize().map_err(not_found)?;
    let root = root.canonicalize().map_err(|source| DatasetError::Dir {
        dir: root.to_path_buf(),
        source,
    })?;
    if !resolved.starts_with(&root) {
        return Err(DatasetError::Entry {
            message: format!(
                "{key}: {} is outside the dataset directory {}; a dataset's files are read only \
                 from inside it",
                file.display(),
                root.display()
            ),
        });
    }
    Ok(resolved)
}

/// A dataset entry's model: a built-in id, a profile file or a config.json, relative to `dir`.
pub(crate) fn model_profile(
    (id, file, config, repo): (
        &Option<String>,
        &Option<PathBuf>,
        &Option<PathBuf>,
        &Option<String>,
    ),
    catalog: &Catalog,
    dirs: (&Path, &Path),
) -> Result<ModelProfile, DatasetError> {
    match (id, file, config) {
        (Some(id), None, None) => Ok(catalog.model(id)?.clone()),
        (None, Some(file), None) => {
            Ok(ModelProfile::from_file(&inside("model_file", file, dirs)?)?)
        }
        (None, None, Some(config)) => Ok(ModelProfile::from_hf_config_file(
            &inside("hf_config", config, dirs)?,
            repo.as_deref(),
        )?),
        _ => Err(DatasetError::Entry {
            message: "name the model once: model, model_file or hf_config".into(),
        }),
    }
}

/// A dataset entry's GPU: a built-in id or a hardware profile file, relative to `dir`.
pub(crate) fn hardware_profile(
    (id, file): (&Option<String>, &Option<PathBuf>),
    catalog: &Catalog,
    dirs: (&Path, &Path),
) -> Result<HardwareProfile, DatasetError> {
    match (id, file) {
        (Some(id), None) => Ok(catalog.hardware(id)?.clone()),
        (None, Some(file)) => Ok(HardwareProfile::from_file(&inside(
            "gpu_file", file, dirs,
        )?)?),
        _ => Err(DatasetError::Entry {
            message: "name the GPU once: gpu or gpu_file".into(),
        }),
    }
}

/// The `*.yaml` files of `dir`, sorted, with their names. A directory with none is an error
/// (a run over nothing would pass), and so is a `*.yaml` entry that is not a readable file (a
/// link loop, a directory), rather than being skipped.
pub(crate) fn entries(dir: &Path) -> Result<Vec<(String, PathBuf)>, DatasetError> {
    let dir_error = |source| DatasetError::Dir {
        dir: dir.to_path_buf(),
        source,
    };
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(dir_error)? {
        let path = entry.map_err(dir_error)?.path();
        if path.extension().is_some_and(|x| x == "yaml") {
            found.push(path);
        }
    }
    // In name order, so that which bad entry is reported does not depend on the filesystem.
    found.sort();
    let mut paths = Vec::new();
    for path in found {
        match std::fs::metadata(&path) {
            Ok(meta) if meta.is_file() => paths.push(path),
            Ok(_) => {
                return Err(DatasetError::In {
                    entry: path,
                    source: Box::new(DatasetError::Entry {
                        message: "not a regular file; an entry is a YAML file".into(),
                    }),
                });
            }
            Err(source) => {
                return Err(DatasetError::Pipeline(Error::Read {
                    path,
                    source: crate::io::InputError::Io(source),
                }));
            }
        }
    }
    if paths.is_empty() {
        return Err(DatasetError::Entry {
            message: format!(
                "{} holds no entries (*.yaml files): nothing to evaluate",
                dir.display()
            ),
        });
    }
    paths.sort();
    Ok(paths
        .into_iter()
        .map(|p| {
            let name = p
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            (name, p)
        })
        .collect())
}

/// Why a set of start-up logs could not be evaluated.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DatasetError {
    /// An entry is malformed.
    #[error("{message}")]
    Entry {
        /// What is wrong.
        message: String,
    },
    /// An entry failed; the cause says how.
    #[error("entry {}", entry.display())]
    In {
        /// The entry's file.
        entry: PathBuf,
        #[allow(missing_docs)]
        #[source]
        source: Box<DatasetError>,
    },
    /// Loading a profile, planning or reading a file failed.
    #[error(transparent)]
    Pipeline(#[from] Error),
    /// The directory cannot be read.
    #[error("cannot read {}", dir.display())]
    Dir {
        #[allow(missing_docs)]
        dir: PathBuf,
        #[allow(missing_docs)]
        #[source]
        source: std::io::Error,
    },
}

impl DatasetError {
    /// What kind of failure this is.
    pub fn kind(&self) -> crate::ErrorKind {
        match self {
            DatasetError::Entry { .. } => crate::ErrorKind::InvalidInput,
            DatasetError::In { source, .. } => source.kind(),
            DatasetError::Pipeline(source) => source.kind(),
            DatasetError::Dir { .. } => crate::ErrorKind::Io,
        }
    }
}

/// Every `*.yaml` entry in `dir`, by name, evaluated; entries' files must be inside `dir`.
pub fn evaluate_dir(dir: &Path) -> Result<Vec<EntryResult>, DatasetError> {
    evaluate_dir_within(dir, dir)
}

/// [`evaluate_dir`], with entries' files allowed anywhere inside `root`, a directory that
/// holds `dir`.
pub fn evaluate_dir_within(dir: &Path, root: &Path) -> Result<Vec<EntryResult>, DatasetError> {
    entries(dir)?
        .into_iter()
        .map(|(name, path)| {
            Entry::from_file(&path)
                .and_then(|entry| entry.evaluate_within(dir, root, &name))
                .map_err(|source| DatasetError::In {
                    entry: path.clone(),
                    source: Box::new(source),
                })
        })
        .collect()
}

// Each stage's error reaches a dataset through the pipeline's one error type.
macro_rules! from_stage {
    ($($stage:ty),*) => {$(
        impl From<$stage> for DatasetError {
            fn from(e: $stage) -> Self {
                DatasetError::Pipeline(e.into())
            }
        }
    )*};
}
from_stage!(
    crate::PlanError,
    crate::YamlError,
    crate::ProfileError,
    crate::DeploymentError
);

#[cfg(test)]
mod tests {
    use super::*;

    fn result(within: bool, known_miss: Option<&str>) -> EntryResult {
        EntryResult {
            name: "synthetic".into(),
            entry: Entry {
                source: "https://example.com/synthetic.log".into(),
                vllm_version: VllmVersion(0, 19, 0),
                vllm_version_inferred: None,
                gpu: Some("h100-80gb".into()),
                gpu_file: None,
                cuda_reported: None,
                model: Some("llama-3.1-8b-instruct".into()),
                model_file: None,
                hf_config: None,
                hf_repo: None,
                options: PlanOptions::default(),
                log: None,
                reported: Reported::default(),
                known_miss: known_miss.map(str::to_string),
            },
            model: "llama-3.1-8b-instruct".into(),
            gpu: "h100-80gb".into(),
            comparison: Comparison {
                rows: Vec::new(),
                within,
                explanation: None,
                failure: None,
            },
        }
    }

    /// An entry is as expected when it is within tolerance and not marked, or outside and
    /// marked a known miss; a marked entry that is within tolerance is not (the mark is stale
    /// and would hide the next regression), nor is an unmarked one outside.
    #[test]
    fn verdicts_of_every_combination() {
        let why = "the reserve's activation fit overestimates this model";
        let rows = [
            (true, None, true, "within".to_string()),
            (false, Some(why), true, format!("known miss: {why}")),
            (false, None, false, "OUT OF TOLERANCE".to_string()),
            (
                true,
                Some(why),
                false,
                "within, but marked a known miss".to_string(),
            ),
        ];
        for (within, known_miss, expected, verdict) in rows {
            let r = result(within, known_miss);
            assert_eq!(r.as_expected(), expected, "within {within}, {known_miss:?}");
            assert_eq!(r.verdict(), verdict);
        }
    }
}
