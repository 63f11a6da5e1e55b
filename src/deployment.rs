//! Deployment files: one YAML file that says which model, on which hardware, planned and
//! rendered how. The input stage of the pipeline, next to the built-in profiles.
//!
//! ```yaml
//! # yaml-language-server: $schema=deployment.schema.json
//! model: deepseek-r1            # a built-in id, {file: path}, or {profile: {...}} inline
//! hardware: h100-80gb           # likewise
//! plan:
//!   max_model_len: auto
//! render:
//!   name: deepseek-r1
//!   namespace: llm
//! ```
//!
//! Paths in a deployment file (`file:`, `render.templates`) are relative to the file.

use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::{ErrorKind, YamlError};
use crate::plan::{PlanOptions, Planner};
use crate::profile::{Catalog, HardwareProfile, ModelProfile, ProfileError};
use crate::render::{RenderOptions, Renderer};
use crate::{Error, Manifests, Plan};

/// One deployment: model, hardware, plan options and render options.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Deployment {
    /// The model: a built-in id, a profile file, or an inline profile.
    pub model: ProfileRef<ModelProfile>,
    /// The GPU node type: a built-in id, a profile file, or an inline profile.
    pub hardware: ProfileRef<HardwareProfile>,
    /// What the planner may choose and must respect.
    #[serde(default)]
    pub plan: PlanOptions,
    /// How the plan is deployed.
    #[serde(default)]
    pub render: RenderOptions,
    /// The file this deployment was read from, if any: an option it holds that is refused is
    /// then named by its key in the file, not by the command-line flag.
    #[serde(skip)]
    pub origin: Option<PathBuf>,
}

/// Where a profile comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum ProfileRef<T> {
    /// A built-in profile, by id.
    Id(String),
    /// A profile file; relative paths are relative to the deployment file.
    File(PathBuf),
    /// A profile written inline.
    Inline(Box<T>),
}

/// The map form of a [`ProfileRef`]: exactly one of the three keys.
#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct ProfileRefMap<T> {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    file: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    profile: Option<Box<T>>,
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for ProfileRef<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for Visitor<T> {
            type Value = ProfileRef<T>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a built-in id, or a map with one of `id`, `file` or `profile`")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(ProfileRef::Id(v.to_string()))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<Self::Value, A::Error> {
                let spec = ProfileRefMap::<T>::deserialize(
                    serde::de::value::MapAccessDeserializer::new(map),
                )?;
                match (spec.id, spec.file, spec.profile) {
                    (Some(id), None, None) => Ok(ProfileRef::Id(id)),
                    (None, Some(file), None) => Ok(ProfileRef::File(file)),
                    (None, None, Some(profile)) => Ok(ProfileRef::Inline(profile)),
                    _ => Err(serde::de::Error::custom(
                        "give exactly one of `id`, `file` or `profile`",
                    )),
                }
            }
        }
        d.deserialize_any(Visitor(std::marker::PhantomData))
    }
}

impl<T: Serialize> Serialize for ProfileRef<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            ProfileRef::Id(id) => s.serialize_str(id),
            ProfileRef::File(file) => ProfileRefMap::<T> {
                id: None,
                file: Some(file.clone()),
                profile: None,
            }
            .serialize(s),
            ProfileRef::Inline(profile) => {
                let mut map = serde::Serializer::serialize_map(s, Some(1))?;
                serde::ser::SerializeMap::serialize_entry(&mut map, "profile", profile)?;
                serde::ser::SerializeMap::end(map)
            }
        }
    }
}

impl<T: JsonSchema> JsonSchema for ProfileRef<T> {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        format!("ProfileRef_{}", T::schema_name()).into()
    }
    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let inline = generator.subschema_for::<T>();
        schemars::json_schema!({
            "oneOf": [
                {"type": "string", "description": "A built-in profile id (see `lwsplan models` / `lwsplan hardware`)"},
                {"type": "object", "properties": {"id": {"type": "string"}}, "required": ["id"], "additionalProperties": false},
                {"type": "object", "properties": {"file": {"type": "string", "description": "A profile file, relative to this file"}}, "required": ["file"], "additionalProperties": false},
                {"type": "object", "properties": {"profile": inline}, "required": ["profile"], "additionalProperties": false}
            ]
        })
    }
}

/// What went wrong with a deployment file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DeploymentError {
    /// The file could not be read: missing, unreadable, too large or not text.
    #[error("cannot read {path}")]
    Read {
        #[allow(missing_docs)]
        path: String,
        #[allow(missing_docs)]
        #[source]
        source: crate::io::InputError,
    },
    /// A value in the file that the planner or the renderer refuses.
    #[error("{path}: {key}: {message}")]
    Value {
        #[allow(missing_docs)]
        path: String,
        /// The key, e.g. `render.name`.
        key: String,
        /// What is wrong and what to do.
        message: String,
    },
    /// The file is not a valid deployment (syntax, types, unknown fields), with line and column.
    #[error("{path}: not a valid deployment file")]
    Parse {
        #[allow(missing_docs)]
        path: String,
        /// The parser's error.
        #[source]
        source: YamlError,
    },
}

impl DeploymentError {
    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            DeploymentError::Read { source, .. } if source.is_io() => ErrorKind::Io,
            _ => ErrorKind::InvalidInput,
        }
    }
}

/// k8s-openapi's types drop fields they do not define, so `render.pod` (Kubernetes' own types)
/// is round-tripped: a key of the file that does not come back is unknown, a typo such as
/// `operater:` in a toleration that would otherwise vanish. Reported with its line and column.
fn unknown_pod_field(text: &str, deployment: &Deployment) -> Option<YamlError> {
    let original: serde_json::Value = crate::yaml::from_str(text).ok()?;
    let pod = original.pointer("/render/pod")?;
    let back = serde_json::to_value(&deployment.render.pod).ok()?;
    let mut lost = Vec::new();
    lost_keys(pod, &back, "render.pod", &mut lost);
    // Reported in the file's order (the parsed maps are sorted by key).
    let mut found: Vec<((usize, usize), String, String)> = lost
        .into_iter()
        .map(|path| {
            let key = path.rsplit('.').next().unwrap_or(&path).to_string();
            (position_of_key(text, &key), key, path)
        })
        .collect();
    found.sort();
    let ((line, column), key, path) = found.first()?.clone();
    let others: Vec<String> = found[1..]
        .iter()
        .map(|((l, c), k, _)| format!("`{k}` (line {l} column {c})"))
        .collect();
    let also = if others.is_empty() {
        String::new()
    } else {
        format!("; also unknown: {}", others.join(", "))
    };
    Some(YamlError {
        message: format!(
            "line {line} column {column}: unknown field `{key}` at {path}: the Kubernetes type \
             there does not define it{also}"
        ),
    })
}

/// Every key of `original` that `back` lost, as dotted paths.
fn lost_keys(
    original: &serde_json::Value,
    back: &serde_json::Value,
    path: &str,
    lost: &mut Vec<String>,
) {
    use serde_json::Value;
    match (original, back) {
        (Value::Object(o), Value::Object(b)) => {
            for (k, v) in o {
                let child = format!("{path}.{k}");
                match b.get(k) {
                    Some(bv) => lost_keys(v, bv, &child, lost),
                    None if v.is_null() => {}
                    None => lost.push(child),
                }
            }
        }
        (Value::Array(o), Value::Array(b)) => {
            for (i, (ov, bv)) in o.iter().zip(b).enumerate() {
                lost_keys(ov, bv, &format!("{path}[{i}]"), lost);
            }
        }
        _ => {}
    }
}

/// Where `key:` first appears after the `pod:` key, 1-based (the start of the text when not
/// found).
fn position_of_key(text: &str, key: &str) -> (usize, usize) {
    let pod = text.find("pod:").unwrap_or(0);
    let pattern = format!("{key}:");
    let at = text[pod..]
        .match_indices(&pattern)
        .map(|(i, _)| pod + i)
        .find(|&i| {
            text[..i]
                .chars()
                .last()
                .is_none_or(|c| !(c.is_alphanumeric() || c == '_' || c == '-'))
        });
    let Some(at) = at else { return (1, 1) };
    let line = text[..at].matches('\n').count() + 1;
    let column = at - text[..at].rfind('\n').map_or(0, |n| n + 1) + 1;
    (line, column)
}

impl Deployment {
    /// Parses a deployment from YAML; `origin` names it in errors. The files it names are read
    /// when planned; for a deployment from someone else see
    /// [`from_untrusted_yaml`](Self::from_untrusted_yaml).
    pub fn from_yaml(text: &str, origin: &str) -> Result<Self, DeploymentError> {
        let parse = |source| DeploymentError::Parse {
            path: origin.to_string(),
            source,
        };
        let deployment: Deployment = crate::yaml::from_str_named(text, origin).map_err(parse)?;
        if let Some(unknown) = unknown_pod_field(text, &deployment) {
            return Err(parse(unknown));
        }
        Ok(deployment)
    }

    /// Parses a deployment that someone else wrote — a user's, read by an operator's service —
    /// refusing every reference to a file on this machine (`model: {file: …}`, `hardware:
    /// {file: …}`, `render.templates`): such a deployment can name built-in or inline profiles
    /// only, so it cannot make lwsplan read, or quote in an error, any local file.
    pub fn from_untrusted_yaml(text: &str, origin: &str) -> Result<Self, DeploymentError> {
        let deployment = Self::from_yaml(text, origin)?;
        if let Some((key, path)) = deployment.file_references().into_iter().next() {
            return Err(DeploymentError::Value {
                path: origin.to_string(),
                key: key.to_string(),
                message: format!(
                    "names a file on this machine ({}), which a deployment from elsewhere may \
                     not: give a built-in id or an inline profile",
                    crate::error::truncate(&path.display().to_string(), 80)
                ),
            });
        }
        Ok(deployment)
    }

    /// Every file on this machine the deployment names, by key: profile files and the
    /// templates directory.
    pub fn file_references(&self) -> Vec<(&'static str, &Path)> {
        let mut files = Vec::new();
        if let ProfileRef::File(path) = &self.model {
            files.push(("model.file", path.as_path()));
        }
        if let ProfileRef::File(path) = &self.hardware {
            files.push(("hardware.file", path.as_path()));
        }
        if let Some(dir) = &self.render.templates {
            files.push(("render.templates", dir.as_path()));
        }
        files
    }

    /// Reads a deployment file and makes its relative paths relative to the file's directory.
    pub fn from_file(path: &Path) -> Result<Self, DeploymentError> {
        let text = crate::io::read_text(path, crate::io::MAX_SMALL_FILE, "a deployment file")
            .map_err(|source| DeploymentError::Read {
                path: path.display().to_string(),
                source,
            })?;
        let mut deployment = Self::from_yaml(&text, &path.display().to_string())?;
        deployment.origin = Some(path.to_path_buf());
        let base = path.parent().unwrap_or(Path::new(""));
        for file in [
            match &mut deployment.model {
                ProfileRef::File(f) => Some(f),
                _ => None,
            },
            match &mut deployment.hardware {
                ProfileRef::File(f) => Some(f),
                _ => None,
            },
            deployment.render.templates.as_mut(),
        ]
        .into_iter()
        .flatten()
        {
            if file.is_relative() {
                *file = base.join(&*file);
            }
        }
        Ok(deployment)
    }

    /// The model profile this deployment names.
    pub fn model_profile(&self) -> Result<ModelProfile, ProfileError> {
        match &self.model {
            ProfileRef::Id(id) => Catalog::builtin().model(id).cloned(),
            ProfileRef::File(path) => ModelProfile::from_file(path),
            ProfileRef::Inline(profile) => {
                profile.check("inline model profile")?;
                Ok((**profile).clone())
            }
        }
    }

    /// The hardware profile this deployment names.
    pub fn hardware_profile(&self) -> Result<HardwareProfile, ProfileError> {
        match &self.hardware {
            ProfileRef::Id(id) => Catalog::builtin().hardware(id).cloned(),
            ProfileRef::File(path) => HardwareProfile::from_file(path),
            ProfileRef::Inline(profile) => {
                profile.check("inline hardware profile")?;
                Ok((**profile).clone())
            }
        }
    }

    /// Plans this deployment, for the vLLM release of its image when the options name none
    /// and the image is an official one.
    pub fn plan(&self) -> Result<Plan, Error> {
        let model = self.model_profile()?;
        let hardware = self.hardware_profile()?;
        Planner::new(&model, &hardware)
            .plan(&self.plan_options())
            .map_err(|e| self.in_file(e.into()))
    }

    /// The plan's candidate layouts estimated over `concurrencies` ([`Planner::sweep`]).
    pub fn sweep(&self, concurrencies: &[u64]) -> Result<crate::plan::Sweep, Error> {
        let model = self.model_profile()?;
        let hardware = self.hardware_profile()?;
        Planner::new(&model, &hardware)
            .sweep(&self.plan_options(), concurrencies)
            .map_err(|e| self.in_file(e.into()))
    }

    /// The plan options, with `vllm_version` taken from an official image's tag when unset.
    pub fn plan_options(&self) -> PlanOptions {
        let mut options = self.plan.clone();
        if options.vllm_version.is_none() {
            options.vllm_version = self
                .render
                .image
                .as_deref()
                .and_then(|i| crate::manifest::ImageRef::parse(i).ok())
                .and_then(|r| r.vllm_version());
        }
        options
    }

    /// The renderer for this deployment's render options.
    pub fn renderer(&self) -> Result<Renderer, Error> {
        Renderer::new(self.render.clone()).map_err(|e| self.in_file(e.into()))
    }

    /// Plans and renders this deployment into validated manifests.
    pub fn render(&self) -> Result<(Plan, Manifests), Error> {
        let plan = self.plan()?;
        let manifests = self
            .renderer()?
            .render(&plan)
            .map_err(|e| self.in_file(e.into()))?;
        Ok((plan, manifests))
    }

    /// An option refused in a deployment read from a file is named by its key there.
    pub fn in_file(&self, error: Error) -> Error {
        let Some(path) = &self.origin else {
            return error;
        };
        let (key, message) = match &error {
            Error::Plan(crate::PlanError::InvalidOption { option, message })
            | Error::Render(crate::RenderError::Option { option, message }) => {
                (option.key(), message.clone())
            }
            _ => return error,
        };
        Error::Deployment(DeploymentError::Value {
            path: path.display().to_string(),
            key,
            message,
        })
    }
}
