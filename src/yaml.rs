//! The one place YAML is read and written, so that changing the YAML crate is a one-file change.
//!
//! Reading rejects duplicate keys (serde-saphyr's default); writing never folds long lines and
//! quotes strings that a YAML 1.1 reader would take for booleans or numbers (`"yes"`, `"1.10"`),
//! which matters because Kubernetes tooling still reads YAML 1.1.

use serde::Serialize;
use serde::de::DeserializeOwned;

/// YAML that does not parse into the type asked for, or a value that does not serialize.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct YamlError {
    /// The parser's message, with line and column.
    pub message: String,
}

/// Parses one YAML document into `T`; the error text carries line and column.
#[cfg_attr(not(any(test, feature = "machinery")), allow(dead_code))]
pub fn from_str<T: DeserializeOwned>(text: &str) -> Result<T, YamlError> {
    from_str_named(text, "<input>")
}

/// [`from_str`], naming the text `origin` (a file path) in the excerpt of an error.
pub fn from_str_named<T: DeserializeOwned>(text: &str, origin: &str) -> Result<T, YamlError> {
    serde_saphyr::from_str(text).map_err(|e| message(e, origin, Excerpt::Shown))
}

/// [`from_str`] for a file given as something it may not be (a profile named by a deployment
/// file): an error says where (line and column) and which key, but quotes none of the text —
/// no excerpt, no value — so that pointing lwsplan at a file of secrets (`file:
/// /path/secret.env`) cannot print them.
pub fn from_str_unquoted<T: DeserializeOwned>(text: &str) -> Result<T, YamlError> {
    serde_saphyr::from_str(text).map_err(|e| message(e, "", Excerpt::Hidden))
}

/// Parses every document of a multi-document YAML stream (`---` separated).
pub fn from_str_multiple<T: DeserializeOwned>(text: &str) -> Result<Vec<T>, YamlError> {
    serde_saphyr::from_multiple(text).map_err(|e| message(e, "<input>", Excerpt::Shown))
}

/// Whether an error may quote the text it is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Excerpt {
    Shown,
    Hidden,
}

/// The parser's message without its own `error: ` prefix (callers say where the text came
/// from), its excerpt naming `origin`, in lwsplan's words where the parser speaks of its own
/// API. A missing field has no line of its own — the parser points at wherever the map ended —
/// so it is reported without a position.
fn message(e: serde_saphyr::Error, origin: &str, excerpt: Excerpt) -> YamlError {
    let text = match excerpt {
        Excerpt::Shown => e.to_string(),
        Excerpt::Hidden => at_line(&e),
    };
    let text = text.strip_prefix("error: ").unwrap_or(&text);
    let first = text.lines().next().unwrap_or_default();
    if let Some(at) = first.find("missing field `") {
        return YamlError {
            message: first[at..].to_string(),
        };
    }
    let text = in_our_words(text);
    YamlError {
        message: match excerpt {
            Excerpt::Shown => text.replace("--> <input>:", &format!("--> {origin}:")),
            Excerpt::Hidden => without_values(text.lines().next().unwrap_or_default()),
        },
    }
}

/// The parser's message alone, `line L column C: …` as with an excerpt.
fn at_line(e: &serde_saphyr::Error) -> String {
    let bare = e.without_snippet().to_string();
    match e.location() {
        Some(at) => {
            let suffix = format!(" at line {}, column {}", at.line(), at.column());
            let message = bare.strip_suffix(&suffix).unwrap_or(&bare);
            format!("line {} column {}: {message}", at.line(), at.column())
        }
        None => bare,
    }
}

/// The parser's advice is for programs calling it (`set DuplicateKeyPolicy in Options`, `use
/// from_str_multiple`, `budget breached: Nodes { … }`): said instead as what to change in the
/// file.
fn in_our_words(text: &str) -> String {
    let mut text = text
        .replace(
            ", set DuplicateKeyPolicy in Options if acceptable",
            ": give each key once",
        )
        .replace(
            "multiple YAML documents detected; use from_str_multiple or \
             from_str_multiple_with_options",
            "more than one YAML document (`---`); give one",
        );
    while let Some(at) = text.find("budget breached: ") {
        let rest = &text[at + "budget breached: ".len()..];
        let what = rest
            .split(|c: char| !c.is_ascii_alphabetic())
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        let end = rest
            .find('}')
            .map_or(rest.len(), |i| i + 1)
            .min(rest.find('\n').unwrap_or(rest.len()));
        let said = format!(
            "the YAML has more {what} than lwsplan reads in one file (an alias bomb, or \
             nesting no deployment needs)"
        );
        text = format!("{}{said}{}", &text[..at], &rest[end..]);
    }
    text
}

/// A parser message with every value it quotes replaced by `…`: serde quotes scalars (`invalid
/// type: string "…"`, `` integer `5` ``, `` unknown variant `x` ``); the names of fields and
/// keys (`` unknown field `k` ``, `` duplicate mapping key: k ``) stay, to say where.
fn without_values(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(open) = rest.find(['"', '`']) {
        let quote = rest[open..].chars().next().unwrap_or('"');
        let before = &rest[..open];
        out.push_str(before);
        let Some(len) = rest[open + 1..].find(quote) else {
            out.push_str(&rest[open..]);
            return out;
        };
        let keeps_name = quote == '`' && (before.ends_with("field ") || before.ends_with("key "));
        if keeps_name {
            out.push_str(&rest[open..open + len + 2]);
        } else {
            out.push(quote);
            out.push('…');
            out.push(quote);
        }
        rest = &rest[open + len + 2..];
    }
    out.push_str(rest);
    out
}

/// Writes `value` as one YAML document: block style, two-space indent, no folding.
pub fn to_string<T: Serialize>(value: &T) -> Result<String, YamlError> {
    let options = serde_saphyr::ser_options! {
        prefer_block_scalars: false,
    };
    serde_saphyr::to_string_with_options(value, options).map_err(|e| YamlError {
        message: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Profile {
        id: String,
        layers: u64,
    }

    /// Rows: a file given as a profile, and all an error may say of it.
    #[test]
    fn a_file_that_is_no_profile_is_not_quoted() {
        for (text, said) in [
            (
                "AWS_ACCESS_KEY_ID=AKIA123\nAWS_SECRET_ACCESS_KEY=abcdef\n",
                "line 1 column 1: expected mapping start",
            ),
            ("id: x\nlayers: hunter2\n", "line 2 column 9: invalid u64"),
            (
                "password: hunter2\n",
                "line 1 column 1: unknown field `password`, expected one of id, layers",
            ),
        ] {
            let err = from_str_unquoted::<Profile>(text).unwrap_err();
            assert_eq!(err.message, said, "{text:?}");
        }
    }

    /// Rows: serde's ways of quoting a value, and the message without it.
    #[test]
    fn quoted_values_are_cut_names_kept() {
        for (said, kept) in [
            (
                "invalid type: string \"hunter2\", expected u64",
                "invalid type: string \"…\", expected u64",
            ),
            (
                "unknown variant `hunter2`, expected one of a, b",
                "unknown variant `…`, expected one of a, b",
            ),
            ("invalid value: integer `5`", "invalid value: integer `…`"),
            (
                "unknown field `password`, expected id",
                "unknown field `password`, expected id",
            ),
            ("unclosed \"quote", "unclosed \"quote"),
        ] {
            assert_eq!(without_values(said), kept);
        }
    }

    /// Rows: what the parser says, and what lwsplan says instead.
    #[test]
    fn the_parser_s_internals_are_said_in_our_words() {
        let dup = from_str::<Profile>("id: x\nid: y\nlayers: 1\n").unwrap_err();
        assert!(
            dup.message
                .contains("duplicate mapping key: id: give each key once"),
            "{dup}"
        );
        let multi = from_str::<Profile>("id: x\nlayers: 1\n---\nid: y\nlayers: 2\n").unwrap_err();
        assert!(
            multi.message.contains("more than one YAML document"),
            "{multi}"
        );
        for err in [dup, multi] {
            assert!(!err.message.contains("Options"), "{err}");
            assert!(!err.message.contains("from_str_multiple"), "{err}");
        }
        let said = in_our_words("line 1 column 1: budget breached: Nodes { nodes: 250001 }");
        assert_eq!(
            said,
            "line 1 column 1: the YAML has more nodes than lwsplan reads in one file (an alias \
             bomb, or nesting no deployment needs)"
        );
    }
}
