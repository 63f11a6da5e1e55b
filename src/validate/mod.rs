//! Strict validation of LeaderWorkerSet and Service manifests, rendered or hand-written.
//!
//! Every document is checked three ways, and every problem is reported, not just the first:
//!
//! 1. **Schema.** A LeaderWorkerSet against the vendored CRD's `openAPIV3Schema`, unknown
//!    fields rejected as a strict API server does; a Service by a typed round-trip through
//!    k8s-openapi, where any field that does not survive is unknown.
//! 2. **Admission.** What the LWS webhook enforces: DNS-1035 names within LWS's length limit,
//!    `size ≥ 1`, replicas within bounds.
//! 3. **Consistency.** What makes a multi-node vLLM group work: GPU limit × size = TP × PP,
//!    leader and workers alike (image, GPUs, node selector), the Service selecting the leader,
//!    `/dev/shm` mounted where it is declared, no `LeaderReady` deadlock.
//!
//! ```
//! let yaml = "apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec: {selector: {app: x}, typo: 1}\n";
//! let problems = lwsplan::validate::validate_yaml(yaml);
//! assert_eq!(problems.len(), 1);
//! assert_eq!(problems[0].path, "spec.typo");
//! ```

// Used by build.rs (which compiles it on its own) and by tests.
#[cfg(any(test, feature = "machinery"))]
pub(crate) mod crd;
mod group;
mod lints;
pub(crate) mod names;
pub(crate) mod schema;
pub(crate) mod security;
mod wiring;

pub use names::check_env_name;

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::Value;

use crate::manifest::{self, LeaderWorkerSet, Manifests};

/// One thing wrong with one document.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct Problem {
    /// 1-based index of the document in its file or stream.
    pub document: usize,
    /// `Kind/name` of the object, or `document` when it has none.
    pub object: String,
    /// Dotted path to the field, e.g. `spec.leaderWorkerTemplate.size`; empty for the document.
    pub path: String,
    /// What is wrong and what is expected.
    pub message: String,
}

/// Every problem found, as one error value: one line each, indented.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problems(pub Vec<Problem>);

impl std::fmt::Display for Problems {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, problem) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "  {problem}")?;
        }
        Ok(())
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "document {} ({})", self.document, self.object)?;
        if !self.path.is_empty() {
            write!(f, ": {}", self.path)?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Collects problems for one document.
pub(crate) struct Findings<'a> {
    document: usize,
    object: String,
    problems: &'a mut Vec<Problem>,
}

impl Findings<'_> {
    pub(crate) fn add(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.problems.push(Problem {
            document: self.document,
            object: self.object.clone(),
            path: path.into(),
            message: message.into(),
        });
    }
}

/// Validates a YAML stream of any number of documents: the problems of the LeaderWorkerSets
/// and Services in it (documents of other kinds are skipped; see [`check_yaml`]).
pub fn validate_yaml(text: &str) -> Vec<Problem> {
    check_yaml(text).problems
}

/// What validating a stream found.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Validation {
    /// Every problem of every LeaderWorkerSet and Service.
    pub problems: Vec<Problem>,
    /// Documents of kinds lwsplan does not validate (a Secret, a ConfigMap), as
    /// `document N (apiVersion/kind name)`.
    pub skipped: Vec<String>,
    /// LeaderWorkerSets and Services found and checked (the items of a `v1` List included):
    /// none means nothing was validated.
    pub validated: usize,
}

/// Validates a YAML stream: problems of what lwsplan knows, and what it skipped.
pub fn check_yaml(text: &str) -> Validation {
    match parse_documents(text) {
        Ok(documents) => {
            let checked = check_documents(&documents);
            Validation {
                validated: checked.sets.len() + checked.services.len(),
                problems: checked.problems,
                skipped: checked.skipped,
            }
        }
        Err(problem) => Validation {
            problems: vec![problem],
            skipped: Vec::new(),
            validated: 0,
        },
    }
}

/// Validates typed manifests, e.g. after changing them in code.
pub fn validate(manifests: &Manifests) -> Vec<Problem> {
    let documents = [
        serde_json::to_value(&manifests.leader_worker_set),
        serde_json::to_value(&manifests.service),
    ];
    match documents {
        [Ok(lws), Ok(service)] => check_documents(&[lws, service]).problems,
        _ => vec![Problem {
            document: 1,
            object: "document".into(),
            path: String::new(),
            message: "the objects do not serialize".into(),
        }],
    }
}

/// Parses a YAML stream into typed manifests: exactly one LeaderWorkerSet and one Service,
/// both valid, or every problem found.
///
/// ```
/// let yaml = lwsplan::Renderer::new(Default::default())?.render(&lwsplan::Planner::new(
///     lwsplan::Catalog::builtin().model("llama-3.1-8b-instruct")?,
///     lwsplan::Catalog::builtin().hardware("h100-80gb")?,
/// ).plan(&Default::default())?)?.to_yaml()?;
/// let manifests = lwsplan::validate::parse_manifests(&yaml).expect("a render validates");
/// assert_eq!(lwsplan::Manifests::new(manifests.leader_worker_set.clone(), manifests.service.clone()), manifests);
/// # Ok::<(), lwsplan::Error>(())
/// ```
pub fn parse_manifests(text: &str) -> Result<Manifests, Vec<Problem>> {
    let documents = parse_documents(text).map_err(|p| vec![p])?;
    let Checked {
        problems,
        mut sets,
        mut services,
        skipped,
    } = check_documents(&documents);
    if !problems.is_empty() {
        return Err(problems);
    }
    // Whatever else a template emits is refused by name, never dropped: lwsplan would not
    // print it, and the user would not know.
    if !skipped.is_empty() {
        return Err(skipped
            .iter()
            .map(|skipped| {
                // `document N (apiVersion/Kind name)`, as check_documents lists it.
                let (document, object) = skipped
                    .strip_prefix("document ")
                    .and_then(|rest| rest.split_once(' '))
                    .unwrap_or(("1", skipped));
                Problem {
                    document: document.parse().unwrap_or(1),
                    object: object.trim_matches(['(', ')']).to_string(),
                    path: String::new(),
                    message: "a kind lwsplan does not render: the templates may emit only the \
                              LeaderWorkerSet and the Service"
                        .into(),
                }
            })
            .collect());
    }
    match (sets.len(), services.len()) {
        (1, 1) => Ok(Manifests::new(sets.remove(0), services.remove(0).1)),
        _ => Err(vec![Problem {
            document: 1,
            object: "document".into(),
            path: String::new(),
            message: "expected one LeaderWorkerSet and one Service".into(),
        }]),
    }
}

fn parse_documents(text: &str) -> Result<Vec<Value>, Problem> {
    let documents: Vec<Value> =
        crate::yaml::from_str_multiple(text).map_err(|message| Problem {
            document: 1,
            object: "document".into(),
            path: String::new(),
            message: format!("not valid YAML: {message}"),
        })?;
    // `kubectl get -o yaml` of several objects is one `v1` List: its items are the documents.
    let documents: Vec<Value> = documents
        .into_iter()
        .filter(|d| !d.is_null())
        .flat_map(|d| match list_items(&d) {
            Some(items) => items,
            None => vec![d],
        })
        .collect();
    if documents.is_empty() {
        return Err(Problem {
            document: 1,
            object: "document".into(),
            path: String::new(),
            message: "no documents".into(),
        });
    }
    Ok(documents)
}

/// The items of a `v1` List (`kubectl get -o yaml`), or `None` for any other document.
fn list_items(doc: &Value) -> Option<Vec<Value>> {
    let is_list = doc.get("apiVersion").and_then(Value::as_str) == Some("v1")
        && doc.get("kind").and_then(Value::as_str) == Some("List");
    is_list.then(|| {
        doc.get("items")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    })
}

/// What checking a stream found: its problems, and the objects that parsed.
struct Checked {
    problems: Vec<Problem>,
    sets: Vec<LeaderWorkerSet>,
    services: Vec<(usize, Service)>,
    skipped: Vec<String>,
}

fn check_documents(documents: &[Value]) -> Checked {
    let mut problems = Vec::new();
    let mut skipped = Vec::new();
    let mut sets: Vec<LeaderWorkerSet> = Vec::new();
    let mut services: Vec<(usize, Service)> = Vec::new();
    for (index, doc) in documents.iter().enumerate() {
        let document = index + 1;
        let object = object_name(doc);
        let mut findings = Findings {
            document,
            object,
            problems: &mut problems,
        };
        find_nulls(doc, "", &mut findings);
        let api_version = doc.get("apiVersion").and_then(Value::as_str);
        let kind = doc.get("kind").and_then(Value::as_str);
        match (api_version, kind) {
            (Some(manifest::API_VERSION), Some(manifest::KIND)) => {
                check_lws_schema(doc, &mut findings);
                check_lws_metadata(doc, &mut findings);
                match serde_json::from_value::<LeaderWorkerSet>(doc.clone()) {
                    Ok(lws) => {
                        lints::leader_worker_set(&lws, &mut findings);
                        wiring::leader_worker_set(&lws, &mut findings);
                        security_of(&lws, &mut findings);
                        group::check(&lws, &mut findings);
                        sets.push(lws);
                    }
                    Err(e) => findings.add("", format!("does not parse as a LeaderWorkerSet: {e}")),
                }
            }
            (Some("v1"), Some("Service")) => match serde_json::from_value::<Service>(doc.clone()) {
                Ok(service) => {
                    check_round_trip(doc, &service, &mut findings);
                    lints::service(&service, &mut findings);
                    security::service(&service, &mut findings);
                    services.push((document, service));
                }
                Err(e) => findings.add("", format!("does not parse as a Service: {e}")),
            },
            (Some(api_version), Some(kind)) if !kind.is_empty() => skipped.push(format!(
                "document {document} ({api_version}/{})",
                findings.object
            )),
            _ => findings.add(
                "kind",
                "missing apiVersion or kind: not a Kubernetes object".to_string(),
            ),
        }
    }
    for (document, service) in &services {
        let mut findings = Findings {
            document: *document,
            object: format!(
                "Service/{}",
                service.metadata.name.as_deref().unwrap_or_default()
            ),
            problems: &mut problems,
        };
        lints::service_selects_a_leader(service, &sets, &mut findings);
    }
    Checked {
        problems,
        sets,
        services,
        skipped,
    }
}

/// The security rules of both pod templates.
fn security_of(lws: &LeaderWorkerSet, findings: &mut Findings<'_>) {
    let template = &lws.spec.leader_worker_template;
    let pods = [
        (
            "spec.leaderWorkerTemplate.leaderTemplate",
            template.leader_template.as_ref(),
        ),
        (
            "spec.leaderWorkerTemplate.workerTemplate",
            Some(&template.worker_template),
        ),
    ];
    for (path, pod) in pods {
        if let Some(spec) = pod.and_then(|p| p.spec.as_ref()) {
            security::pod(path, spec, findings);
        }
    }
}

fn object_name(doc: &Value) -> String {
    match (
        doc.get("kind").and_then(Value::as_str),
        doc.pointer("/metadata/name").and_then(Value::as_str),
    ) {
        (Some(kind), Some(name)) => format!("{kind}/{name}"),
        (Some(kind), None) => kind.to_string(),
        _ => "document".to_string(),
    }
}

fn check_lws_schema(doc: &Value, findings: &mut Findings<'_>) {
    for error in schema::validator().iter_errors(doc) {
        let mut path = dotted(error.instance_path().as_str());
        let message = match error.kind() {
            jsonschema::error::ValidationErrorKind::AdditionalProperties { unexpected } => {
                for field in unexpected {
                    let field_path = if path.is_empty() {
                        field.clone()
                    } else {
                        format!("{path}.{field}")
                    };
                    findings.add(
                        field_path,
                        "unknown field: the LeaderWorkerSet CRD does not define it",
                    );
                }
                continue;
            }
            _ => error.to_string(),
        };
        if path.is_empty() {
            path = String::new();
        }
        findings.add(path, message);
    }
}

/// The CRD types every `metadata` as a bare object, so the schema accepts any field there; an
/// API server in strict mode refuses what `ObjectMeta` does not define. Each metadata is
/// round-tripped through `ObjectMeta`: what does not survive is unknown.
fn check_lws_metadata(doc: &Value, findings: &mut Findings<'_>) {
    for pointer in [
        "/metadata",
        "/spec/leaderWorkerTemplate/leaderTemplate/metadata",
        "/spec/leaderWorkerTemplate/workerTemplate/metadata",
    ] {
        let Some(meta) = doc.pointer(pointer) else {
            continue;
        };
        let Ok(typed) = serde_json::from_value::<ObjectMeta>(meta.clone()) else {
            continue;
        };
        if let Ok(back) = serde_json::to_value(&typed) {
            lost_fields(meta, &back, &dotted(pointer), "ObjectMeta", findings);
        }
    }
}

/// A Service parsed by k8s-openapi silently drops unknown fields: whatever is in the document
/// but not in the round-tripped object is unknown.
fn check_round_trip(doc: &Value, service: &Service, findings: &mut Findings<'_>) {
    let Ok(back) = serde_json::to_value(service) else {
        findings.add("", "does not serialize back");
        return;
    };
    lost_fields(doc, &back, "", "the Service API", findings);
}

fn lost_fields(original: &Value, back: &Value, path: &str, api: &str, findings: &mut Findings<'_>) {
    match (original, back) {
        (Value::Object(o), Value::Object(b)) => {
            for (key, value) in o {
                let child = join(path, key);
                match b.get(key) {
                    Some(bv) => lost_fields(value, bv, &child, api, findings),
                    None if value.is_null() => {}
                    None => findings.add(child, format!("unknown field: {api} does not define it")),
                }
            }
        }
        (Value::Array(o), Value::Array(b)) => {
            for (i, (ov, bv)) in o.iter().zip(b).enumerate() {
                lost_fields(ov, bv, &format!("{path}[{i}]"), api, findings);
            }
        }
        _ => {}
    }
}

fn find_nulls(value: &Value, path: &str, findings: &mut Findings<'_>) {
    match value {
        Value::Null => findings.add(path, "null value: omit the field instead"),
        Value::Object(map) => {
            for (key, v) in map {
                find_nulls(v, &join(path, key), findings);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                find_nulls(v, &format!("{path}[{i}]"), findings);
            }
        }
        _ => {}
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// `/spec/containers/0/name` → `spec.containers[0].name`.
fn dotted(pointer: &str) -> String {
    let mut out = String::new();
    for segment in pointer.split('/').skip(1) {
        let segment = segment.replace("~1", "/").replace("~0", "~");
        if segment.chars().all(|c| c.is_ascii_digit()) && !segment.is_empty() {
            out.push_str(&format!("[{segment}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&segment);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointers_become_dotted_paths() {
        assert_eq!(dotted(""), "");
        assert_eq!(
            dotted("/spec/template/spec/containers/0/name"),
            "spec.template.spec.containers[0].name"
        );
        assert_eq!(dotted("/metadata/labels/a~1b"), "metadata.labels.a/b");
    }
}
