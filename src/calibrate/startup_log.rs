//! Reading a vLLM start-up log: the lines in which vLLM reports what it did with each GPU's
//! memory, in every release lwsplan models (0.10 on).
//!
//! vLLM prints, per worker, `Model loading took X GiB` (V0: `Loading model weights took X
//! GB`, in GiB despite the unit), `Available KV cache memory: X GiB` (negative when nothing is
//! left), and once per engine `GPU KV cache size: N tokens` and `Maximum concurrency for L
//! tokens per request: Cx`. With `VLLM_LOGGING_LEVEL=DEBUG` (and in some releases at INFO) it
//! also breaks the non-KV memory down: `Total non KV cache memory: …; torch peak memory
//! increase: …; non-torch forward increase memory: …; weights memory: …` (v0.11 on), or
//! `model weights take …; non_torch_memory takes …; PyTorch activation peak memory takes …`
//! (earlier). The release, the layout and the flags come from the banner, the engine's config
//! line and the `non-default args` line, so a log can be checked without being told how it was
//! started. Every value is kept as logged: GiB with two decimals.
//!
//! ```
//! use lwsplan::calibrate::StartupLog;
//! let log = StartupLog::parse(
//!     "INFO 04-22 15:13:03 [gpu_model_runner.py:4820] Model loading took 12.56 GiB memory and 38.07 seconds\n\
//!      INFO 04-22 15:13:20 [gpu_worker.py:436] Available KV cache memory: 61.66 GiB\n\
//!      INFO 04-22 15:13:20 [kv_cache_utils.py:1319] GPU KV cache size: 126,256 tokens\n",
//! );
//! assert_eq!(log.model_loading_gib, Some(12.56));
//! assert_eq!(log.available_kv_cache_gib, Some(61.66));
//! assert_eq!(log.kv_cache_tokens, Some(126_256));
//! ```

use serde::Serialize;

use crate::plan::VllmVersion;

/// What a start-up log says. Values a log repeats per worker keep the extreme that matters:
/// the largest weights, the smallest KV memory (vLLM sizes the group by its tightest GPU).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct StartupLog {
    /// The release, from the banner, the API server line or the engine's config line.
    pub vllm_version: Option<VllmVersion>,
    /// `tensor_parallel_size=` in the engine's config.
    pub tensor_parallel_size: Option<u64>,
    /// `pipeline_parallel_size=` in the engine's config.
    pub pipeline_parallel_size: Option<u64>,
    /// `data_parallel_size=` in the engine's config.
    pub data_parallel_size: Option<u64>,
    /// `decode_context_parallel_size=` in the engine's config.
    pub decode_context_parallel_size: Option<u64>,
    /// `max_seq_len=` in the engine's config (`--max-model-len`).
    pub max_model_len: Option<u64>,
    /// `quantization=` in the engine's config, when not `None`.
    pub quantization: Option<String>,
    /// `kv_cache_dtype=` in the engine's config.
    pub kv_cache_dtype: Option<String>,
    /// `dtype=` in the engine's config, e.g. `torch.bfloat16`.
    pub dtype: Option<String>,
    /// `enforce_eager=` in the engine's config.
    pub enforce_eager: Option<bool>,
    /// `gpu_memory_utilization` from the non-default arguments (absent: vLLM's 0.9).
    pub gpu_memory_utilization: Option<f64>,
    /// `max_num_seqs`, as given or as vLLM defaulted it.
    pub max_num_seqs: Option<u64>,
    /// `max_num_batched_tokens`, as given or as vLLM defaulted it.
    pub max_num_batched_tokens: Option<u64>,
    /// `enable_expert_parallel` from the non-default arguments.
    pub enable_expert_parallel: Option<bool>,
    /// The GPU's total memory as CUDA reports it, in GiB.
    pub total_memory_gib: Option<f64>,
    /// The largest `Model loading took` over the workers, GiB.
    pub model_loading_gib: Option<f64>,
    /// The smallest `Available KV cache memory` over the workers, GiB (negative: none).
    pub available_kv_cache_gib: Option<f64>,
    /// `GPU KV cache size`, tokens.
    pub kv_cache_tokens: Option<u64>,
    /// `Maximum concurrency for L tokens per request: C`: (L, C).
    pub max_concurrency: Option<(u64, f64)>,
    /// Peak PyTorch activations of the profiling run, GiB (breakdown line).
    pub torch_peak_gib: Option<f64>,
    /// Non-torch memory of the profiling run, GiB (breakdown line).
    pub non_torch_gib: Option<f64>,
    /// `Estimated CUDA graph memory: X GiB total` or `Graph capturing finished …, took X GiB`.
    pub cuda_graph_gib: Option<f64>,
    /// How start-up failed, when it did: vLLM's own words.
    pub failure: Option<String>,
}

impl StartupLog {
    /// Reads every line vLLM reports memory in; lines it does not know are skipped.
    pub fn parse(text: &str) -> StartupLog {
        let mut log = StartupLog::default();
        for raw in text.lines() {
            let line = strip_ansi(raw);
            log.read_line(&line);
        }
        log
    }

    /// The first figure no GPU could have logged — not finite (a 400-digit number reads as
    /// infinity), out of any GPU's range, or of the wrong sign — as `(field, value)`. A log
    /// with one is not compared: its verdict would mean nothing.
    pub fn implausible(&self) -> Option<(&'static str, f64)> {
        use Range::*;
        let checks = [
            ("model_loading_gib", self.model_loading_gib, Positive),
            ("total_memory_gib", self.total_memory_gib, Positive),
            // Negative when nothing is left for the cache: vLLM logs that too.
            (
                "available_kv_cache_gib",
                self.available_kv_cache_gib,
                Signed,
            ),
            ("torch_peak_gib", self.torch_peak_gib, Signed),
            ("non_torch_gib", self.non_torch_gib, Signed),
            ("cuda_graph_gib", self.cuda_graph_gib, NonNegative),
            (
                "gpu_memory_utilization",
                self.gpu_memory_utilization,
                Fraction,
            ),
            (
                "max_concurrency",
                self.max_concurrency.map(|(_, c)| c),
                NonNegative,
            ),
        ];
        checks.into_iter().find_map(|(field, value, range)| {
            value
                .filter(|v| !(v.is_finite() && range.holds(*v)))
                .map(|v| (field, v))
        })
    }

    /// Whether the log holds anything lwsplan compares.
    pub fn has_measurements(&self) -> bool {
        self.model_loading_gib.is_some()
            || self.available_kv_cache_gib.is_some()
            || self.kv_cache_tokens.is_some()
    }

    fn read_line(&mut self, line: &str) {
        if let Some(v) = after(line, "  version ")
            .or_else(|| after(line, "API server version "))
            .or_else(|| after(line, "LLM engine (v"))
            && let Ok(version) = word(v).trim_end_matches(')').parse()
        {
            self.vllm_version.get_or_insert(version);
        }
        if line.contains("with config: ") {
            self.read_engine_config(line);
        }
        if let Some(args) = after(line, "non-default args: ") {
            self.read_non_default_args(args);
        }
        if let Some(v) = after(line, "Defaulting max_num_seqs to ") {
            self.max_num_seqs = self.max_num_seqs.or(number(v));
        }
        if let Some(v) = after(line, "Defaulting max_num_batched_tokens to ")
            .or_else(|| after(line, "enabled with max_num_batched_tokens="))
        {
            self.max_num_batched_tokens = self.max_num_batched_tokens.or(number(v));
        }
        if let Some(v) = after(line, "Model loading took ")
            .or_else(|| after(line, "Loading model weights took "))
            && let Some(gib) = decimal(v)
        {
            self.model_loading_gib = Some(self.model_loading_gib.map_or(gib, |m| m.max(gib)));
        }
        // vLLM's refusal to start quotes the same figure: "… larger than the available KV cache
        // memory (5.44 GiB)" (`check_enough_kv_cache_memory`, vllm/v1/core/kv_cache_utils.py).
        if let Some(v) = after(line, "Available KV cache memory: ")
            .or_else(|| after(line, "larger than the available KV cache memory ("))
            && let Some(gib) = decimal(v)
        {
            self.available_kv_cache_gib =
                Some(self.available_kv_cache_gib.map_or(gib, |m| m.min(gib)));
        }
        if let Some(v) = after(line, "GPU KV cache size: ") {
            self.kv_cache_tokens = number(v).or(self.kv_cache_tokens);
        }
        if let Some(v) = after(line, "Maximum concurrency for ")
            && let (Some(len), Some(c)) = (number(v), after(v, "per request: ").and_then(decimal))
        {
            self.max_concurrency = Some((len, c));
        }
        // v0.11 on: one sentence with every term.
        if let Some(v) = after(line, "torch peak memory increase: ") {
            self.torch_peak_gib = decimal(v);
        }
        if let Some(v) = after(line, "non-torch forward increase memory: ") {
            self.non_torch_gib = decimal(v);
        }
        // Earlier releases: "PyTorch activation peak memory takes X; non_torch_memory takes Y".
        if let Some(v) = after(line, "activation peak memory takes ") {
            self.torch_peak_gib = decimal(v);
        }
        if let Some(v) = after(line, "non_torch_memory takes ") {
            self.non_torch_gib = decimal(v);
        }
        if let Some(v) = after(line, "Estimated CUDA graph memory: ")
            .or_else(|| after(line, "Graph capturing finished").and_then(|v| after(v, "took ")))
        {
            self.cuda_graph_gib = self.cuda_graph_gib.or(decimal(v));
        }
        if let Some(v) = after(line, "total_memory=").or_else(|| after(line, "total_gpu_memory ("))
        {
            self.total_memory_gib = self.total_memory_gib.or(decimal(v));
        }
        if let Some(v) = after(line, "Free memory on device")
            && let Some(total) = after(v, "/")
        {
            self.total_memory_gib = self.total_memory_gib.or(decimal(total));
        }
        self.read_failure(line);
    }

    fn read_engine_config(&mut self, line: &str) {
        let field = |key: &str| after(line, &format!(" {key}=")).map(config_value);
        if let Some(v) = field("tensor_parallel_size") {
            self.tensor_parallel_size = v.parse().ok();
        }
        if let Some(v) = field("pipeline_parallel_size") {
            self.pipeline_parallel_size = v.parse().ok();
        }
        if let Some(v) = field("data_parallel_size") {
            self.data_parallel_size = v.parse().ok();
        }
        if let Some(v) = field("decode_context_parallel_size") {
            self.decode_context_parallel_size = v.parse().ok();
        }
        if let Some(v) = field("max_seq_len") {
            self.max_model_len = v.parse().ok();
        }
        if let Some(v) = field("quantization") {
            self.quantization = (v != "None").then(|| v.to_string());
        }
        if let Some(v) = field("kv_cache_dtype") {
            self.kv_cache_dtype = Some(v.to_string());
        }
        if let Some(v) = field("dtype") {
            self.dtype = Some(v.to_string());
        }
        if let Some(v) = field("enforce_eager") {
            self.enforce_eager = Some(v == "True");
        }
    }

    /// `non-default args: {'model': …, 'gpu_memory_utilization': 0.95, …}`: a Python dict.
    fn read_non_default_args(&mut self, args: &str) {
        let value = |key: &str| after(args, &format!("'{key}': "));
        if let Some(v) = value("gpu_memory_utilization") {
            self.gpu_memory_utilization = decimal(v);
        }
        if let Some(v) = value("max_num_seqs") {
            self.max_num_seqs = number(v);
        }
        if let Some(v) = value("max_num_batched_tokens") {
            self.max_num_batched_tokens = number(v);
        }
        if let Some(v) = value("enable_expert_parallel") {
            self.enable_expert_parallel = Some(v.starts_with("True"));
        }
        if let Some(v) = value("max_model_len") {
            self.max_model_len = self.max_model_len.or(number(v));
        }
        if let Some(v) = value("kv_cache_dtype") {
            self.kv_cache_dtype = Some(
                v.trim_matches(|c| c == '\'')
                    .split('\'')
                    .next()
                    .unwrap_or("")
                    .into(),
            );
        }
    }

    fn read_failure(&mut self, line: &str) {
        if self.failure.is_some() {
            return;
        }
        const FAILURES: &[&str] = &[
            "No available memory for the cache blocks",
            "larger than the available KV cache memory",
            "larger than the maximum number of tokens that can be stored in KV cache",
            "CUDA out of memory",
            "is less than desired GPU memory utilization",
            "EngineCore failed to start",
        ];
        if let Some(found) = FAILURES.iter().find(|f| line.contains(*f)) {
            self.failure = Some((*found).to_string());
        }
    }
}

/// Where a logged figure may lie.
#[derive(Clone, Copy)]
enum Range {
    /// Above zero, at most a PiB in GiB.
    Positive,
    /// Zero or more, at most a PiB.
    NonNegative,
    /// Either sign, within a PiB.
    Signed,
    /// In (0, 1].
    Fraction,
}

impl Range {
    /// 1 PiB in GiB: no GPU reports more memory, of any kind.
    const MAX_GIB: f64 = (1u64 << 20) as f64;

    fn holds(self, v: f64) -> bool {
        match self {
            Range::Positive => v > 0.0 && v <= Self::MAX_GIB,
            Range::NonNegative => (0.0..=Self::MAX_GIB).contains(&v),
            Range::Signed => v.abs() <= Self::MAX_GIB,
            Range::Fraction => v > 0.0 && v <= 1.0,
        }
    }
}

/// The text after `needle`'s first occurrence.
fn after<'a>(line: &'a str, needle: &str) -> Option<&'a str> {
    line.find(needle).map(|i| &line[i + needle.len()..])
}

/// The first whitespace-separated word.
fn word(text: &str) -> &str {
    text.split_whitespace().next().unwrap_or("")
}

/// A value in the engine's config line: up to the next `,`.
fn config_value(text: &str) -> &str {
    text.split(',').next().unwrap_or("").trim()
}

/// A whole number at the start of `text`, thousands separators allowed (`126,256`).
fn number(text: &str) -> Option<u64> {
    let digits: String = text
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == ',')
        .filter(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// A decimal at the start of `text`, sign allowed (`-2.14`).
fn decimal(text: &str) -> Option<f64> {
    let text = text.trim_start();
    let end = text
        .char_indices()
        .find(|&(i, c)| !(c.is_ascii_digit() || c == '.' || (i == 0 && c == '-')))
        .map_or(text.len(), |(i, _)| i);
    text[..end].parse().ok()
}

/// The line without terminal colour codes, as published logs often keep them (raw `ESC[…m` or
/// the `^[[…m` a terminal copy shows). One pass, and a code's end is looked for only within
/// the 12 bytes a colour code can span: linear in the line, however many escapes it holds (a
/// search to the end of the line at each escape made a 400 KB line of them take minutes).
fn strip_ansi(line: &str) -> String {
    const CODE_SPAN: usize = 13;
    let bytes = line.as_bytes();
    let mut out = String::with_capacity(line.len());
    let mut i = 0;
    while let Some(c) = line[i..].chars().next() {
        if c == '\u{1b}' || bytes[i..].starts_with(b"^[[") {
            let window = &bytes[i..bytes.len().min(i + CODE_SPAN)];
            if let Some(end) = window.iter().position(|&b| b == b'm') {
                i += end + 1;
                continue;
            }
        }
        out.push(c);
        i += c.len_utf8();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_release_s_lines_are_read() {
        let log = StartupLog::parse(concat!(
            "^[[0;36m(EngineCore_DP0 pid=70073)^[[0;0m INFO 01-27 00:31:59 [gpu_model_runner.py:3905] Model loading took 64.38 GiB memory and 14.38 seconds\n",
            "(EngineCore_0 pid=5839) INFO 08-20 18:04:22 [gpu_worker.py:276] Available KV cache memory: -2.14 GiB\n",
            "INFO 07-24 14:07:31 model_runner.py:692] Loading model weights took 57.7520 GB\n",
            "(EngineCore pid=243) DEBUG 04-22 01:47:55 [v1/worker/gpu_worker.py:435] Memory profiling takes 18.17 seconds. Total non KV cache memory: 17.12GiB; torch peak memory increase: 1.89GiB; non-torch forward increase memory: 0.25GiB; weights memory: 14.99GiB.\n",
            "(APIServer pid=1) INFO 04-22 15:12:00 [entrypoints/utils.py:233] non-default args: {'model_tag': 'x', 'max_model_len': 8192, 'gpu_memory_utilization': 0.95, 'max_num_seqs': 16, 'kv_cache_dtype': 'fp8'}\n",
            "(EngineCore pid=283) INFO 04-22 15:12:23 [v1/engine/core.py:105] Initializing a V1 LLM engine (v0.19.0) with config: model='x', dtype=torch.bfloat16, max_seq_len=8192, tensor_parallel_size=2, pipeline_parallel_size=1, quantization=mxfp4, enforce_eager=False, kv_cache_dtype=fp8, device_config=cuda\n",
            "(EngineCore pid=283) INFO 04-22 15:13:20 [v1/core/kv_cache_utils.py:1324] Maximum concurrency for 8,192 tokens per request: 15.41x\n",
            "ValueError: Free memory on device cuda:1 (60.33/79.19 GiB) on startup is less than desired GPU memory utilization (0.95, 75.23 GiB).\n",
        ));
        assert_eq!(log.model_loading_gib, Some(64.38));
        assert_eq!(log.available_kv_cache_gib, Some(-2.14));
        assert_eq!(log.torch_peak_gib, Some(1.89));
        assert_eq!(log.non_torch_gib, Some(0.25));
        assert_eq!(log.vllm_version, Some(VllmVersion(0, 19, 0)));
        assert_eq!(log.tensor_parallel_size, Some(2));
        assert_eq!(log.quantization.as_deref(), Some("mxfp4"));
        assert_eq!(log.kv_cache_dtype.as_deref(), Some("fp8"));
        assert_eq!(log.gpu_memory_utilization, Some(0.95));
        assert_eq!(log.max_num_seqs, Some(16));
        assert_eq!(log.max_model_len, Some(8192));
        assert_eq!(log.max_concurrency, Some((8192, 15.41)));
        assert_eq!(log.total_memory_gib, Some(79.19));
        assert_eq!(log.enforce_eager, Some(false));
        assert!(log.failure.unwrap().contains("less than desired"));
    }

    /// vllm-project/vllm#44376 (comment of 2026-06-03): the refusal quotes the available KV
    /// memory, the one figure its run published.
    #[test]
    fn reads_the_available_memory_of_a_refused_start() {
        let log = StartupLog::parse(
            "ERROR 06-03 14:24:40 [core.py:1165] ValueError: To serve at least one request with \
             the model's max seq len (30000), (6.66 GiB KV cache is needed, which is larger than \
             the available KV cache memory (5.44 GiB). Based on the available memory, the \
             estimated maximum model length is 13528.\n",
        );
        assert_eq!(log.available_kv_cache_gib, Some(5.44));
        assert!(log.has_measurements());
        assert!(log.failure.unwrap().contains("available KV cache memory"));
    }

    #[test]
    fn workers_keep_the_extremes() {
        let log = StartupLog::parse(
            "Model loading took 7.51 GiB memory\nModel loading took 8.02 GiB memory\n\
             Available KV cache memory: 66.54 GiB\nAvailable KV cache memory: 65.90 GiB\n",
        );
        assert_eq!(log.model_loading_gib, Some(8.02));
        assert_eq!(log.available_kv_cache_gib, Some(65.90));
    }

    #[test]
    fn the_v0_10_breakdown_and_banner_are_read() {
        let log = StartupLog::parse(concat!(
            "(APIServer pid=1009) INFO 09-10 23:26:12 [api_server.py:1805] vLLM API server version 0.10.1.1\n",
            "INFO 04-12 08:21:19 [worker.py:267] the current vLLM instance can use total_gpu_memory (23.58GiB) x gpu_memory_utilization (0.99) = 23.35GiB\n",
            "INFO 04-12 08:21:19 [worker.py:267] model weights take 21.21GiB; non_torch_memory takes 0.20GiB; PyTorch activation peak memory takes 0.37GiB; the rest of the memory reserved for KV Cache is 1.57GiB.\n",
        ));
        assert_eq!(log.vllm_version, Some(VllmVersion(0, 10, 1)));
        assert_eq!(log.total_memory_gib, Some(23.58));
        assert_eq!(log.non_torch_gib, Some(0.20));
        assert_eq!(log.torch_peak_gib, Some(0.37));
    }

    /// Rows: what a copied terminal log holds, and what is left of it.
    #[test]
    fn colour_codes_are_stripped() {
        for (raw, plain) in [
            (
                "\u{1b}[0;36m(EngineCore)\u{1b}[0;0m INFO",
                "(EngineCore) INFO",
            ),
            ("^[[0;36m(EngineCore)^[[0;0m INFO", "(EngineCore) INFO"),
            // No `m` within a code's span: not a code, kept.
            ("\u{1b}[ 1 2 3 4 5 6 7 8 m", "\u{1b}[ 1 2 3 4 5 6 7 8 m"),
            ("é\u{1b}[1mü^[", "éü^["),
            ("\u{1b}\u{1b}\u{1b}", "\u{1b}\u{1b}\u{1b}"),
        ] {
            assert_eq!(strip_ansi(raw), plain, "{raw:?}");
        }
    }

    /// Rows: a line as a hostile or corrupt log has it, and the field refused.
    #[test]
    fn implausible_figures_are_named() {
        let huge = format!("Model loading took 1{}.0 GiB memory", "0".repeat(400));
        for (line, field) in [
            (huge.as_str(), "model_loading_gib"),
            ("Model loading took 0.00 GiB memory", "model_loading_gib"),
            (
                "Available KV cache memory: 99999999999 GiB",
                "available_kv_cache_gib",
            ),
            (
                "non-default args: {'gpu_memory_utilization': 1.5}",
                "gpu_memory_utilization",
            ),
        ] {
            let log = StartupLog::parse(line);
            assert_eq!(log.implausible().map(|(f, _)| f), Some(field), "{line}");
        }
        let fine = StartupLog::parse("Available KV cache memory: -2.14 GiB\n");
        assert_eq!(fine.implausible(), None);
    }

    #[test]
    fn garbage_is_not_a_measurement() {
        let log =
            StartupLog::parse("Model loading took lots\n\u{1b}[\nGPU KV cache size: tokens\n");
        assert!(!log.has_measurements());
    }
}
