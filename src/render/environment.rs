//! The one template environment: strict undefined values, JSON escaping for every template,
//! a formatter that keeps JSON valid YAML, built-in templates overridden by a directory, and
//! bounds on what an override may cost.

use std::path::Path;

use minijinja::{AutoEscape, Environment, UndefinedBehavior, Value};

use super::RenderError;
use crate::io::InputError;

/// The built-in templates, by file name.
pub(crate) const TEMPLATES: &[(&str, &str)] = &[
    (
        "leaderworkerset.yaml.j2",
        include_str!("../../templates/leaderworkerset.yaml.j2"),
    ),
    (
        "service.yaml.j2",
        include_str!("../../templates/service.yaml.j2"),
    ),
];

/// Instructions one render may run. The built-in templates take a few thousand; an override
/// that loops without end (nested `range(100000)`) stops here instead of hanging.
pub(crate) const FUEL: u64 = 5_000_000;
/// The most text one template may produce: a manifest is kilobytes, so 4 MiB is far beyond any
/// real one and stops an override that would fill memory (`"y" * 100000000`).
pub(crate) const MAX_OUTPUT_BYTES: usize = 4 << 20;
/// The most bytes a template override file may have.
pub(crate) const MAX_TEMPLATE_BYTES: u64 = crate::io::MAX_SMALL_FILE;

/// Builds the environment: built-in templates, then same-named overrides from `dir`.
pub(crate) fn environment(dir: Option<&Path>) -> Result<Environment<'static>, RenderError> {
    if let Some(dir) = dir {
        reject_unknown_templates(dir)?;
    }
    environment_with(|name| match dir {
        Some(dir) => override_source(dir, name),
        None => Ok(None),
    })
}

/// The environment with each built-in template replaced by what `source` gives for its name.
pub(crate) fn environment_with(
    source: impl Fn(&str) -> Result<Option<String>, RenderError>,
) -> Result<Environment<'static>, RenderError> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_auto_escape_callback(|_| AutoEscape::Json);
    env.set_formatter(yaml_json_formatter);
    env.set_fuel(Some(FUEL));
    for (name, builtin) in TEMPLATES {
        let text = source(name)?.unwrap_or_else(|| builtin.to_string());
        env.add_template_owned(*name, text)
            .map_err(|e| RenderError::template(name, e))?;
    }
    Ok(env)
}

/// Renders `name` with `context` into a string of at most [`MAX_OUTPUT_BYTES`].
pub(crate) fn render(
    env: &Environment<'static>,
    name: &str,
    context: &Value,
) -> Result<String, RenderError> {
    let template = env
        .get_template(name)
        .map_err(|e| RenderError::template(name, e))?;
    let mut out = Bounded(Vec::new());
    template
        .render_captured_to(context.clone(), &mut out)
        .map_err(|e| RenderError::template(name, e))?;
    String::from_utf8(out.0).map_err(|_| RenderError::OutputTooLarge {
        template: name.to_string(),
        limit: MAX_OUTPUT_BYTES,
    })
}

/// A writer that refuses to grow past [`MAX_OUTPUT_BYTES`].
struct Bounded(Vec<u8>);

impl std::io::Write for Bounded {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.0.len() + buf.len() > MAX_OUTPUT_BYTES {
            return Err(std::io::Error::other(format!(
                "the template's output passed {MAX_OUTPUT_BYTES} bytes"
            )));
        }
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Writes every interpolated value as JSON that is also valid YAML. JSON leaves DEL, the C1
/// controls and a few other code points raw, which YAML forbids or reads as line breaks; they
/// are written as `\uXXXX` escapes, which mean the same in both. Strings marked safe pass as is.
fn yaml_json_formatter(
    out: &mut minijinja::Output,
    _state: &mut minijinja::State,
    value: &Value,
) -> Result<(), minijinja::Error> {
    if value.is_undefined() {
        return Err(minijinja::Error::from(minijinja::ErrorKind::UndefinedError));
    }
    // Checked before serializing, so an oversized value is not copied twice more.
    if value.as_str().is_some_and(|s| s.len() > MAX_OUTPUT_BYTES) {
        return Err(minijinja::Error::new(
            minijinja::ErrorKind::InvalidOperation,
            format!("a value longer than {MAX_OUTPUT_BYTES} bytes"),
        ));
    }
    if value.is_safe() {
        return out
            .write_str(value.as_str().unwrap_or_default())
            .map_err(minijinja::Error::from);
    }
    let json = serde_json::to_string(value).map_err(|e| {
        minijinja::Error::new(
            minijinja::ErrorKind::BadSerialization,
            "unable to format to JSON",
        )
        .with_source(e)
    })?;
    out.write_str(&yaml_safe(&json))
        .map_err(minijinja::Error::from)
}

/// Escapes the code points YAML does not accept raw inside a double-quoted scalar.
pub(crate) fn yaml_safe(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        match c {
            '\u{7f}'..='\u{9f}'
            | '\u{2028}'
            | '\u{2029}'
            | '\u{feff}'
            | '\u{fffe}'
            | '\u{ffff}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out
}

fn override_source(dir: &Path, name: &str) -> Result<Option<String>, RenderError> {
    let path = dir.join(name);
    match crate::io::read_text(&path, MAX_TEMPLATE_BYTES, "a template") {
        Ok(text) => Ok(Some(text)),
        Err(InputError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(RenderError::TemplateRead { path, source }),
    }
}

/// A `.j2` file that overrides nothing is most likely a misspelt name.
fn reject_unknown_templates(dir: &Path) -> Result<(), RenderError> {
    let entries = std::fs::read_dir(dir).map_err(|e| RenderError::TemplateRead {
        path: dir.to_path_buf(),
        source: InputError::Io(e),
    })?;
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".j2"))
        .collect();
    names.sort();
    let known: Vec<&str> = TEMPLATES.iter().map(|(n, _)| *n).collect();
    match names
        .into_iter()
        .find(|name| !known.contains(&name.as_str()))
    {
        Some(name) => Err(RenderError::UnknownTemplate {
            path: dir.join(name),
            known: known.join(", "),
        }),
        None => Ok(()),
    }
}
