//! The built-in profiles, checked by `build.rs` and embedded at compile time.

use std::sync::OnceLock;

use super::{HardwareProfile, ModelProfile, ProfileError};

mod generated {
    include!(concat!(env!("OUT_DIR"), "/builtin.rs"));
}

pub use generated::ids;

/// The built-in profiles, each parsed the first time it is asked for (a process usually needs
/// one model and one GPU, and parsing the rest would cost it more than planning does).
///
/// ```
/// use lwsplan::profile::ids;
///
/// let model = lwsplan::Catalog::builtin().model(ids::DEEPSEEK_R1)?;
/// assert_eq!(model.hf_repo, "deepseek-ai/DeepSeek-R1");
/// # Ok::<(), lwsplan::profile::ProfileError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Catalog {
    models: Shelf<ModelProfile>,
    hardware: Shelf<HardwareProfile>,
}

impl Catalog {
    /// The built-in catalog. `build.rs` has already parsed and checked every profile with
    /// these same types, so parsing them again cannot fail.
    pub fn builtin() -> &'static Catalog {
        static CATALOG: OnceLock<Catalog> = OnceLock::new();
        CATALOG.get_or_init(|| Catalog {
            models: Shelf::new(generated::MODELS, "model", |text, id| {
                ModelProfile::from_yaml(text, id).expect("checked by build.rs")
            }),
            hardware: Shelf::new(generated::HARDWARE, "hardware", |text, id| {
                HardwareProfile::from_yaml(text, id).expect("checked by build.rs")
            }),
        })
    }

    /// Every built-in model, sorted by id.
    pub fn models(&self) -> &[ModelProfile] {
        self.models.all()
    }

    /// Every built-in hardware profile, sorted by id.
    pub fn hardware_profiles(&self) -> &[HardwareProfile] {
        self.hardware.all()
    }

    /// The built-in model with this id, or with this Hugging Face repository (what
    /// `lwsplan models` prints, e.g. `deepseek-ai/DeepSeek-R1`, any case); an unknown one names
    /// the closest id.
    pub fn model(&self, id: &str) -> Result<&ModelProfile, ProfileError> {
        self.models.find(id).or_else(|e| {
            let by_repo: Vec<&ModelProfile> = self
                .models()
                .iter()
                .filter(|m| m.hf_repo.eq_ignore_ascii_case(id))
                .collect();
            match by_repo.as_slice() {
                [one] => self.models.find(&one.id),
                _ => Err(e),
            }
        })
    }

    /// The built-in hardware profile with this id, or the one node type with this GKE
    /// accelerator label value (`nvidia-h100-80gb`), GPU product label
    /// (`NVIDIA-H100-80GB-HBM3`) or GPU name; an unknown one names the closest id.
    pub fn hardware(&self, id: &str) -> Result<&HardwareProfile, ProfileError> {
        self.hardware.find(id).or_else(|e| {
            let matches = |h: &&HardwareProfile| {
                h.labels.gke_accelerator == id
                    || h.labels.gpu_product.eq_ignore_ascii_case(id)
                    || h.name.eq_ignore_ascii_case(id)
            };
            let found: Vec<&HardwareProfile> =
                self.hardware_profiles().iter().filter(matches).collect();
            match found.as_slice() {
                [one] => self.hardware.find(&one.id),
                _ => Err(e),
            }
        })
    }
}

/// The embedded profiles of one kind, `(id, YAML)` sorted by id, each parsed on first use.
#[derive(Debug, Clone)]
struct Shelf<T> {
    texts: &'static [(&'static str, &'static str)],
    kind: &'static str,
    parse: fn(&str, &str) -> T,
    each: Vec<OnceLock<T>>,
    all: OnceLock<Vec<T>>,
}

impl<T: Clone> Shelf<T> {
    fn new(
        texts: &'static [(&'static str, &'static str)],
        kind: &'static str,
        parse: fn(&str, &str) -> T,
    ) -> Shelf<T> {
        Shelf {
            texts,
            kind,
            parse,
            each: texts.iter().map(|_| OnceLock::new()).collect(),
            all: OnceLock::new(),
        }
    }

    fn get(&self, i: usize) -> &T {
        let (id, text) = self.texts[i];
        self.each[i].get_or_init(|| (self.parse)(text, id))
    }

    fn all(&self) -> &[T] {
        self.all
            .get_or_init(|| (0..self.texts.len()).map(|i| self.get(i).clone()).collect())
    }

    fn find(&self, id: &str) -> Result<&T, ProfileError> {
        if let Some(i) = self.texts.iter().position(|(known, _)| *known == id) {
            return Ok(self.get(i));
        }
        let known: Vec<String> = self.texts.iter().map(|(k, _)| k.to_string()).collect();
        Err(ProfileError::Unknown {
            kind: self.kind,
            id: crate::error::base::truncate(id, 80),
            suggestion: closest(id, &known),
            known,
        })
    }
}

/// Ids longer than this get no suggestion: no built-in id is near, and the edit distance's
/// cost grows with the product of the lengths.
const MAX_SUGGESTED_LEN: usize = 64;

/// The known id closest to `id`: one it is a prefix or part of first (`h100` → `h100-80gb`),
/// then one holding every word of it (`llama-405b` → `llama-3.1-405b-instruct`), else the
/// nearest by edit distance if that is close enough to be a typo (at most a third of the id's
/// length, and at least 2 edits allowed).
fn closest(id: &str, known: &[String]) -> Option<String> {
    if id.len() > MAX_SUGGESTED_LEN {
        return None;
    }
    let id = id.to_ascii_lowercase();
    let limit = (id.chars().count() / 3).max(2);
    let words = |s: &str| -> Vec<String> {
        s.split(['-', '.', '_', '/'])
            .filter(|w| !w.is_empty())
            .map(str::to_string)
            .collect()
    };
    let wanted = words(&id);
    known
        .iter()
        .filter_map(|k| {
            let distance = edit_distance(&id, k);
            let part = k.starts_with(&id) || k.contains(&id);
            let has_words = !wanted.is_empty() && {
                let theirs = words(k);
                wanted.iter().all(|w| theirs.contains(w))
            };
            let rank = if part {
                0
            } else if has_words {
                1
            } else {
                2
            };
            (rank < 2 || distance <= limit).then_some((rank, distance, k))
        })
        .min()
        .map(|(_, _, k)| k.clone())
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            let next = (row[j + 1] + 1).min(row[j] + 1).min(prev + cost);
            prev = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_profile_parses_and_checks() {
        let catalog = Catalog::builtin();
        assert_eq!(catalog.models().len(), generated::MODELS.len());
        assert_eq!(catalog.hardware_profiles().len(), generated::HARDWARE.len());
        assert_eq!(
            catalog
                .model(ids::LLAMA_3_1_405B_INSTRUCT)
                .unwrap()
                .num_hidden_layers,
            126
        );
        assert_eq!(catalog.hardware(ids::H200_141GB).unwrap().node.gpus, 8);
    }

    #[test]
    fn typo_suggests_the_closest_id() {
        let catalog = Catalog::builtin();
        let cases = [
            ("deepseek-r2", Some("deepseek-r1")),
            ("h100", Some("h100-80gb")),
            ("llama-3.1-405b", Some("llama-3.1-405b-instruct")),
            ("h10-80gb", Some("h100-80gb")),
            ("llama-405b", Some("llama-3.1-405b-instruct")),
            ("qwen3-235b", Some("qwen3-235b-a22b")),
            ("tpu-v5e", None),
            (&"x".repeat(5000), None),
        ];
        for (typo, want) in cases {
            let model_err = catalog.model(typo).err();
            let hw_err = catalog.hardware(typo).err();
            let suggestion = [model_err, hw_err]
                .into_iter()
                .flatten()
                .find_map(|e| match e {
                    ProfileError::Unknown { suggestion, .. } => suggestion,
                    _ => None,
                });
            assert_eq!(suggestion.as_deref(), want, "typo {typo}");
        }
    }

    #[test]
    fn edit_distance_counts_single_edits() {
        assert_eq!(edit_distance("h100", "h100"), 0);
        assert_eq!(edit_distance("h100", "h200"), 1);
        assert_eq!(edit_distance("l4", "l40"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
    }
}
