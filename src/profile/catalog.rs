//! The built-in profiles, embedded from `profiles/` at compile time.

use super::{HardwareProfile, ModelProfile, ProfileError};

/// Built-in model profiles: id and YAML text.
pub const BUILTIN_MODELS: &[(&str, &str)] = &[
    (
        "deepseek-r1",
        include_str!("../../profiles/models/deepseek-r1.yaml"),
    ),
    (
        "llama-3.1-405b-instruct",
        include_str!("../../profiles/models/llama-3.1-405b-instruct.yaml"),
    ),
    (
        "llama-3.1-70b-instruct",
        include_str!("../../profiles/models/llama-3.1-70b-instruct.yaml"),
    ),
    (
        "llama-3.1-8b-instruct",
        include_str!("../../profiles/models/llama-3.1-8b-instruct.yaml"),
    ),
];

/// Built-in hardware profiles: id and YAML text.
pub const BUILTIN_HARDWARE: &[(&str, &str)] = &[
    (
        "h100-80gb",
        include_str!("../../profiles/hardware/h100-80gb.yaml"),
    ),
    (
        "h200-141gb",
        include_str!("../../profiles/hardware/h200-141gb.yaml"),
    ),
    (
        "a100-80gb",
        include_str!("../../profiles/hardware/a100-80gb.yaml"),
    ),
    (
        "a100-40gb",
        include_str!("../../profiles/hardware/a100-40gb.yaml"),
    ),
    ("l4", include_str!("../../profiles/hardware/l4.yaml")),
];

/// The built-in profiles, parsed and checked.
///
/// ```
/// let catalog = lwsplan::Catalog::builtin()?;
/// let model = catalog.model("deepseek-r1")?;
/// assert_eq!(model.hf_repo, "deepseek-ai/DeepSeek-R1");
/// # Ok::<(), lwsplan::profile::ProfileError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Catalog {
    models: Vec<ModelProfile>,
    hardware: Vec<HardwareProfile>,
}

impl Catalog {
    /// Parses every built-in profile. Fails only if a built-in profile is broken, which the
    /// test suite rules out.
    pub fn builtin() -> Result<Self, ProfileError> {
        let models = BUILTIN_MODELS
            .iter()
            .map(|(id, text)| load_builtin(id, text, ModelProfile::from_yaml, |m| &m.id))
            .collect::<Result<_, _>>()?;
        let hardware = BUILTIN_HARDWARE
            .iter()
            .map(|(id, text)| load_builtin(id, text, HardwareProfile::from_yaml, |h| &h.id))
            .collect::<Result<_, _>>()?;
        Ok(Catalog { models, hardware })
    }

    /// Every built-in model, in catalog order.
    pub fn models(&self) -> &[ModelProfile] {
        &self.models
    }

    /// Every built-in hardware profile, in catalog order.
    pub fn hardware_profiles(&self) -> &[HardwareProfile] {
        &self.hardware
    }

    /// The built-in model with this id; an unknown id names the closest one.
    pub fn model(&self, id: &str) -> Result<&ModelProfile, ProfileError> {
        find(&self.models, id, "model", |m| &m.id)
    }

    /// The built-in hardware profile with this id; an unknown id names the closest one.
    pub fn hardware(&self, id: &str) -> Result<&HardwareProfile, ProfileError> {
        find(&self.hardware, id, "hardware", |h| &h.id)
    }
}

fn load_builtin<T>(
    id: &str,
    text: &str,
    parse: fn(&str, &str) -> Result<T, ProfileError>,
    id_of: fn(&T) -> &String,
) -> Result<T, ProfileError> {
    let origin = format!("built-in profile {id}");
    let profile = parse(text, &origin)?;
    if id_of(&profile) != id {
        return Err(ProfileError::Invalid {
            origin,
            field: "id".into(),
            message: format!(
                "is `{}`, but the catalog lists it as `{id}`",
                id_of(&profile)
            ),
        });
    }
    Ok(profile)
}

fn find<'a, T>(
    items: &'a [T],
    id: &str,
    kind: &'static str,
    id_of: fn(&T) -> &String,
) -> Result<&'a T, ProfileError> {
    if let Some(found) = items.iter().find(|item| id_of(item) == id) {
        return Ok(found);
    }
    let known: Vec<String> = items.iter().map(|item| id_of(item).clone()).collect();
    Err(ProfileError::Unknown {
        kind,
        id: id.to_string(),
        suggestion: closest(id, &known),
        known,
    })
}

/// The known id closest to `id` by edit distance, if it is close enough to be a typo
/// (at most a third of the id's length, and at least 2 edits allowed).
fn closest(id: &str, known: &[String]) -> Option<String> {
    let id = id.to_ascii_lowercase();
    let limit = (id.chars().count() / 3).max(2);
    known
        .iter()
        .map(|k| (edit_distance(&id, k), k))
        .filter(|(d, k)| *d <= limit || k.starts_with(&id) || k.contains(&id))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k.clone())
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
        let catalog = Catalog::builtin().expect("built-in profiles are valid");
        assert_eq!(catalog.models().len(), BUILTIN_MODELS.len());
        assert_eq!(catalog.hardware_profiles().len(), BUILTIN_HARDWARE.len());
    }

    #[test]
    fn typo_suggests_the_closest_id() {
        let catalog = Catalog::builtin().unwrap();
        let cases = [
            ("deepseek-r2", Some("deepseek-r1")),
            ("h100", Some("h100-80gb")),
            ("llama-3.1-405b", Some("llama-3.1-405b-instruct")),
            ("h10-80gb", Some("h100-80gb")),
            ("tpu-v5e", None),
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
