//! Reading a container's `vllm serve` invocation as vLLM's own argument parser would: flags
//! spelled with `-` or `_`, `--flag=value` or `--flag value`, short aliases, the last
//! occurrence winning — in exec form or inside `sh -c`.
//!
//! Used twice: to refuse an extra `--vllm-arg` that would override a planned flag behind the
//! checks' back, and by `validate` to read the parallel sizes a manifest really starts.

/// Short aliases vLLM's `EngineArgs` defines (`vllm/engine/arg_utils.py`): `-tp`, `-pp`,
/// `-dp`, `-dpl`, `-dpa`, `-dpp`, `-dpr`, `-dcp`, `-ep`, `-q`.
const ALIASES: &[(&str, &str)] = &[
    ("tp", "tensor-parallel-size"),
    ("pp", "pipeline-parallel-size"),
    ("dp", "data-parallel-size"),
    ("dpl", "data-parallel-size-local"),
    ("dpa", "data-parallel-address"),
    ("dpp", "data-parallel-rpc-port"),
    ("dpr", "data-parallel-start-rank"),
    ("dcp", "decode-context-parallel-size"),
    ("ep", "enable-expert-parallel"),
    ("q", "quantization"),
];

/// vLLM flags that take no value (`store_true`), so the next word is not theirs.
const SWITCHES: &[&str] = &[
    "headless",
    "enable-expert-parallel",
    "no-enable-expert-parallel",
    "enable-eplb",
    "trust-remote-code",
    "enforce-eager",
    "no-enforce-eager",
    "enable-prefix-caching",
    "no-enable-prefix-caching",
    "enable-chunked-prefill",
    "no-enable-chunked-prefill",
    "disable-log-requests",
    "enable-log-requests",
    "disable-log-stats",
    "enable-auto-tool-choice",
    "disable-custom-all-reduce",
    "enable-dbo",
    "data-parallel-hybrid-lb",
    "data-parallel-external-lb",
];

/// Long flags lwsplan plans, reads or refuses, besides the switches: what an abbreviation is
/// expanded against.
const KNOWN: &[&str] = &[
    "tensor-parallel-size",
    "pipeline-parallel-size",
    "data-parallel-size",
    "data-parallel-size-local",
    "data-parallel-address",
    "data-parallel-rpc-port",
    "data-parallel-start-rank",
    "decode-context-parallel-size",
    "max-model-len",
    "gpu-memory-utilization",
    "kv-cache-memory-bytes",
    "kv-cache-dtype",
    "max-num-batched-tokens",
    "max-num-seqs",
    "port",
    "nnodes",
    "node-rank",
    "master-addr",
    "master-port",
    "distributed-executor-backend",
    "model",
];

/// vLLM flags that change the memory lwsplan plans in ways it does not model: refused where
/// lwsplan takes vLLM flags (`--vllm-arg`), and expanded against like `KNOWN`.
pub(crate) const UNMODELLED: &[&str] = &[
    "kv-cache-memory",
    "cpu-offload-gb",
    "quantization",
    "dtype",
    "num-gpu-blocks-override",
    "speculative-config",
];

/// The flag a long option abbreviates, as argparse reads it (`allow_abbrev`, on in vLLM's
/// `FlexibleArgumentParser`): a name that is no flag itself but the start of exactly one
/// (`--tensor-parallel` → `tensor-parallel-size`). `None` when it is a flag, or the start of
/// none or of several (argparse then refuses it as ambiguous).
pub(crate) fn abbreviates(name: &str) -> Option<&'static str> {
    let known = || KNOWN.iter().chain(UNMODELLED).chain(SWITCHES).copied();
    if known().any(|k| k == name) {
        return None;
    }
    let mut matches = known().filter(|k| k.starts_with(name));
    match (matches.next(), matches.next()) {
        (Some(only), None) => Some(only),
        _ => None,
    }
}

/// The canonical spelling of a flag (`--tensor_parallel_size`, `-tp` → `tensor-parallel-size`),
/// or `None` for a word that is not a flag.
pub(crate) fn canonical(word: &str) -> Option<String> {
    let name = word.split_once('=').map_or(word, |(n, _)| n);
    let bare = if let Some(long) = name.strip_prefix("--") {
        long
    } else {
        let short = name.strip_prefix('-')?;
        // A negative number is a value, not a flag.
        if short.is_empty() || short.starts_with(|c: char| c.is_ascii_digit() || c == '.') {
            return None;
        }
        ALIASES
            .iter()
            .find(|(alias, _)| *alias == short)
            .map_or(short, |(_, long)| long)
    };
    if bare.is_empty() {
        return None;
    }
    Some(bare.replace('_', "-"))
}

/// The flags of one `vllm serve` (or OpenAI API server) invocation, in order.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct ServeFlags {
    /// `(canonical flag, value)`; a switch has no value.
    pub flags: Vec<(String, Option<String>)>,
}

impl ServeFlags {
    /// Reads flags from argv words (after the program and positional model).
    pub fn parse<S: AsRef<str>>(words: &[S]) -> ServeFlags {
        let mut flags = Vec::new();
        let mut i = 0;
        while i < words.len() {
            let word = words[i].as_ref();
            i += 1;
            let Some(name) = canonical(word) else {
                continue;
            };
            let name = match word.starts_with("--").then(|| abbreviates(&name)).flatten() {
                Some(full) => full.to_string(),
                None => name,
            };
            if let Some((_, value)) = word.split_once('=') {
                flags.push((name, Some(value.to_string())));
                continue;
            }
            let takes_value = !SWITCHES.contains(&name.as_str())
                && words
                    .get(i)
                    .is_some_and(|next| canonical(next.as_ref()).is_none());
            let value = if takes_value {
                i += 1;
                Some(words[i - 1].as_ref().to_string())
            } else {
                None
            };
            flags.push((name, value));
        }
        ServeFlags { flags }
    }

    /// The serve flags of a container: its command and args, in exec form or as the scripts of
    /// `sh -c` / `bash -c`, from the word after `serve` (or the API server module) on.
    pub fn of_container(command: &[String], args: &[String]) -> Option<ServeFlags> {
        Some(ServeFlags::parse(&serve_words(command, args)?))
    }

    /// The value of the last occurrence of `flag` (canonical spelling): vLLM's argparse keeps
    /// the last.
    pub fn last(&self, flag: &str) -> Option<Option<&str>> {
        self.flags
            .iter()
            .rev()
            .find(|(name, _)| name == flag)
            .map(|(_, value)| value.as_deref())
    }

    /// The last value of `flag`, parsed.
    pub fn value<T: std::str::FromStr>(&self, flag: &str) -> Option<T> {
        self.last(flag)??.trim().parse().ok()
    }

    /// Whether `flag` is given at all.
    pub fn has(&self, flag: &str) -> bool {
        self.last(flag).is_some()
    }
}

/// The words of a container's `vllm serve` invocation after `serve` (or the API server
/// module), in exec form or from the scripts of `sh -c` / `bash -c`.
pub(crate) fn serve_words(command: &[String], args: &[String]) -> Option<Vec<String>> {
    let argv: Vec<String> = command.iter().chain(args).cloned().collect();
    let words: Vec<String> = match argv.iter().position(|w| w == "-c") {
        Some(i) if argv.first().is_some_and(|p| p.ends_with("sh")) => {
            argv[i + 1..].iter().flat_map(|s| shell_words(s)).collect()
        }
        _ => argv,
    };
    let start = words.iter().position(|w| {
        w == "serve" || w == "vllm.entrypoints.openai.api_server" || w.ends_with("api_server")
    })?;
    Some(words[start + 1..].to_vec())
}

/// Splits a shell script into words the way `sh` would for simple commands: single quotes,
/// double quotes with backslash escapes, backslashes; `;`, `&&`, `||`, `|` and newlines end a
/// command and are kept as words of their own.
pub(crate) fn shell_words(script: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = script.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                for c in chars.by_ref() {
                    if c == '\'' {
                        break;
                    }
                    word.push(c);
                }
            }
            '"' => {
                in_word = true;
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => {
                            if let Some(&next) = chars.peek()
                                && "\"\\$`\n".contains(next)
                            {
                                chars.next();
                                word.push(next);
                            } else {
                                word.push('\\');
                            }
                        }
                        c => word.push(c),
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(next) = chars.next() {
                    word.push(next);
                }
            }
            ';' | '|' | '&' | '\n' => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
                words.push(c.to_string());
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(words: &[&str]) -> Vec<String> {
        words.iter().map(|s| s.to_string()).collect()
    }

    /// Rows: an abbreviation, and the flag argparse reads it as (or none).
    #[test]
    fn abbreviations_read_as_argparse_does() {
        for (word, flag) in [
            ("tensor-parallel", Some("tensor-parallel-size")),
            ("max-model", Some("max-model-len")),
            ("headl", Some("headless")),
            ("max-num", None),
            ("data-parallel-size", None),
            ("unrelated", None),
        ] {
            assert_eq!(abbreviates(word), flag, "{word}");
        }
        let flags = ServeFlags::parse(&v(&["--tensor-parallel=2", "--max-model", "999"]));
        assert_eq!(flags.value::<u64>("tensor-parallel-size"), Some(2));
        assert_eq!(flags.value::<u64>("max-model-len"), Some(999));
    }

    #[test]
    fn flags_read_as_argparse_does() {
        let flags = ServeFlags::parse(&[
            "--tensor-parallel-size",
            "8",
            "--pipeline_parallel_size=2",
            "--headless",
            "-pp",
            "1",
            "--max-model-len",
            "-1",
        ]);
        assert_eq!(flags.value::<i64>("tensor-parallel-size"), Some(8));
        assert_eq!(
            flags.value::<i64>("pipeline-parallel-size"),
            Some(1),
            "last wins"
        );
        assert_eq!(flags.last("headless"), Some(None));
        assert_eq!(flags.value::<i64>("max-model-len"), Some(-1));
    }

    #[test]
    fn the_serve_command_is_found_in_exec_form_and_in_sh_c() {
        let exec = ServeFlags::of_container(
            &v(&["vllm", "serve", "m", "--tensor-parallel-size", "8"]),
            &v(&["--pipeline-parallel-size=2"]),
        )
        .unwrap();
        assert_eq!(exec.value::<i64>("pipeline-parallel-size"), Some(2));
        let script = "/vllm-workspace/ray_init.sh leader --ray_cluster_size=$(LWS_GROUP_SIZE); \
                      python3 -m vllm.entrypoints.openai.api_server --port 8080 --model m \
                      --tensor-parallel-size '8' --pipeline_parallel_size \"2\" --pipeline-parallel-size=1";
        let shell = ServeFlags::of_container(&v(&["sh", "-c", script]), &[]).unwrap();
        assert_eq!(shell.value::<i64>("tensor-parallel-size"), Some(8));
        assert_eq!(shell.value::<i64>("pipeline-parallel-size"), Some(1));
        assert_eq!(shell.value::<u16>("port"), Some(8080));
        assert!(ServeFlags::of_container(&v(&["sleep", "inf"]), &[]).is_none());
    }

    #[test]
    fn shell_words_follow_sh_quoting() {
        assert_eq!(
            shell_words(r#"a 'b c' "d \"e\"" f\ g;h"#),
            v(&["a", "b c", "d \"e\"", "f g", ";", "h"])
        );
    }
}
