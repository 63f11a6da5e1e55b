//! How fast a routed-expert layer's grouped GEMMs run at prefill, by shape, from single-launch
//! grouped GEMMs measured on an H100.
//!
//! A fused MoE layer runs two grouped GEMMs a step, each one launch over the experts a rank holds:
//! gate_up (K = hidden, N = 2 × width) and down (K = width, N = hidden), where `width` is
//! `moe_intermediate_size` cut TP ways without expert parallelism and whole with it. Each expert
//! gets the step's routed tokens over the experts (8192 batched tokens × 8 of 256 experts: 256 a
//! step). The rate of both GEMMs together (gate_up does twice down's FLOPs), relative to cuBLAS's
//! dense 8192³ matmul of the same format, is tabled here by tokens per expert and width and
//! interpolated linearly in log2 of both ([`super::curve`]).
//!
//! Source: `tools/measurements/h100-grouped-gemm-2026-12-07.json`, written by
//! `tools/measure_grouped_gemm.py` (H100 80GB HBM3, driver 580.159.04, torch 2.11, Triton 3.6),
//! equal token counts per expert. The dense references are the same run's cuBLAS matmuls, 786 BF16
//! TFLOP/s (`dense_bf16_8192_tflops`) and 1400 row-wise FP8 (`dense_fp8_rowwise_8192_tflops`): the
//! rates the estimate's dense compute efficiencies stand for, so on an H100 the estimate runs the
//! experts at the measured kernel's own rate. On other Hopper GPUs the ratio is assumed to hold
//! (their tensor cores are the same; H200's dense rates are in
//! `tools/measurements/h200-throughput-2026-12-01.json`, no grouped run); on Blackwell and Ampere
//! it is unverified.
//!
//! Which measured kernel stands for vLLM's:
//!
//! - BF16 experts: `torch._grouped_mm` (CUTLASS). vLLM runs them through its Triton `fused_moe`,
//!   which this does not measure; the CUTLASS kernel is the nearest measured.
//! - FP8 experts: the block-scaled Triton kernel of the script (1 × 128 activation and 128 × 128
//!   weight scales, rows gathered through an index as `fused_moe` reads them): the DeepSeek / GLM /
//!   Qwen3-FP8 checkpoint format, and the kind of kernel vLLM's Triton `fused_moe` runs for block
//!   FP8 (vLLM's MoE path for it at TP 8 since vllm-project/vllm#29346; elsewhere DeepGEMM where
//!   installed). It is ours, not vLLM's tuned one: 722 TFLOP/s on one 8192-row group where cuBLAS's
//!   FP8 reaches 1400, in the class of vLLM's own Triton block-FP8 GEMMs (vllm-project/vllm#23939:
//!   305–357 TFLOP/s on an H100 at 4096–16384 rows before its configs were tuned, where torch's
//!   BF16 reached 705–718), so its rate is taken as it is, against cuBLAS. Row-wise FP8
//!   (`torch._scaled_grouped_mm`) is not used: its rate falls and recovers with tokens per expert
//!   (DeepSeek TP 8 gate_up: 556 TFLOP/s at 128, 341–360 at 256–1024, 953 at 2048), a kernel
//!   heuristic's choice rather than the shape. The FP8 rates serve FP4 experts too (unmeasured).
//!
//! With few tokens an expert the kernels stream their weights (gate_up at 16 an expert: BF16 41–45
//! TFLOP/s at every width, block FP8, half the bytes, 83–92): experts stored in fewer bytes than
//! the measured kernel's weights (BF16 2 a parameter, FP8 1), such as MXFP4 dequantized to BF16 on
//! Hopper, run as the measured kernel would with that many times the tokens, at the same FLOPs per
//! weight byte.
//!
//! Left out: uneven routing. A step's real counts (the script's `routed_step` rows: at 256 a
//! DeepSeek TP 8 expert, the busiest gets 293) run BF16 gate_up 8 % and down 19 % below equal
//! counts.

use super::curve::{Segment, interpolate};

/// The most widths a table holds.
const MAX_WIDTHS: usize = 8;
const _: () = assert!(BF16.len() <= MAX_WIDTHS && FP8.len() <= MAX_WIDTHS);

/// Tokens per expert of the measured grid.
const TOKENS: [f64; 8] = [16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0, 2048.0];

/// One measured width: both GEMMs' rate, by FLOPs, over the dense matmul's, at each of
/// [`TOKENS`].
struct Measured {
    /// Expert width a rank holds (`moe_intermediate_size` / TP, or whole under EP).
    width: f64,
    rates: [f64; 8],
}

/// `torch._grouped_mm` over cuBLAS's dense BF16 matmul (786.2 TFLOP/s), by width ascending.
/// DeepSeek TP 8 stands for width 256; GLM-5.2 TP 8 (hidden 6144 against 7168) measured within
/// 0.04 of it.
const BF16: [Measured; 7] = [
    // Qwen3-235B-A22B TP 8 (hidden 4096).
    Measured {
        width: 192.0,
        rates: [0.041, 0.080, 0.153, 0.278, 0.445, 0.535, 0.567, 0.611],
    },
    // DeepSeek-R1 / V3.2 TP 8 (hidden 7168).
    Measured {
        width: 256.0,
        rates: [0.050, 0.098, 0.186, 0.329, 0.536, 0.657, 0.668, 0.711],
    },
    // Qwen3-235B-A22B TP 4.
    Measured {
        width: 384.0,
        rates: [0.052, 0.104, 0.198, 0.361, 0.588, 0.733, 0.776, 0.811],
    },
    // Qwen3-30B-A3B TP 1 (hidden 2048).
    Measured {
        width: 768.0,
        rates: [0.052, 0.104, 0.203, 0.382, 0.639, 0.777, 0.822, 0.805],
    },
    // gpt-oss-120b TP 2 (hidden 2880).
    Measured {
        width: 1440.0,
        rates: [0.052, 0.106, 0.210, 0.404, 0.689, 0.808, 0.791, 0.794],
    },
    // DeepSeek-R1 / V3.2 EP 8.
    Measured {
        width: 2048.0,
        rates: [0.055, 0.112, 0.223, 0.441, 0.777, 0.904, 0.863, 0.850],
    },
    // gpt-oss-120b TP 1.
    Measured {
        width: 2880.0,
        rates: [0.054, 0.110, 0.216, 0.418, 0.746, 0.836, 0.802, 0.809],
    },
];

/// The block-FP8 Triton kernel over cuBLAS's dense row-wise FP8 matmul (1400.4 TFLOP/s), by
/// width ascending. Its 128-wide blocks leave out the widths not a multiple of 128 (Qwen3-235B
/// TP 8, gpt-oss).
#[allow(clippy::approx_constant)] // 0.318 is a measurement, not 1/π.
const FP8: [Measured; 4] = [
    // DeepSeek-R1 / V3.2 TP 8; GLM-5.2 TP 8 within 0.004.
    Measured {
        width: 256.0,
        rates: [0.060, 0.102, 0.167, 0.216, 0.238, 0.255, 0.257, 0.258],
    },
    // Qwen3-235B-A22B TP 4.
    Measured {
        width: 384.0,
        rates: [0.060, 0.109, 0.178, 0.234, 0.274, 0.287, 0.299, 0.295],
    },
    // Qwen3-30B-A3B TP 1.
    Measured {
        width: 768.0,
        rates: [0.059, 0.109, 0.186, 0.246, 0.280, 0.304, 0.318, 0.315],
    },
    // DeepSeek-R1 / V3.2 EP 8.
    Measured {
        width: 2048.0,
        rates: [0.065, 0.126, 0.228, 0.350, 0.392, 0.357, 0.363, 0.367],
    },
];

/// The rate of a routed layer's grouped GEMMs relative to a dense matmul of the same format,
/// at `tokens_per_expert` tokens routed to each expert a step, expert `width` a rank and
/// `weight_bytes` a parameter of the experts' weights: interpolated in log2 of tokens and width
/// between the measured points, held at the table's edges.
pub(crate) fn relative_rate(
    fp8: bool,
    tokens_per_expert: f64,
    width: f64,
    weight_bytes: f64,
) -> f64 {
    let (table, measured_bytes): (&[Measured], f64) = if fp8 { (&FP8, 1.0) } else { (&BF16, 2.0) };
    let tokens = same_intensity_tokens(tokens_per_expert, measured_bytes, weight_bytes);
    // Tables hold a few widths; fixed arrays keep the estimate free of allocation.
    let mut widths = [0.0; MAX_WIDTHS];
    let mut at_width = [0.0; MAX_WIDTHS];
    let n = table.len().min(MAX_WIDTHS);
    let on_grid = Segment::locate(&TOKENS, tokens);
    for (i, m) in table.iter().take(n).enumerate() {
        widths[i] = m.width;
        at_width[i] = on_grid.read(&m.rates);
    }
    interpolate(&widths[..n], &at_width[..n], width)
}

/// The tokens an expert at which the measured kernel, its weights `measured_bytes` a parameter,
/// does as many FLOPs per weight byte as `tokens` do on weights of `weight_bytes`.
fn same_intensity_tokens(tokens: f64, measured_bytes: f64, weight_bytes: f64) -> f64 {
    if weight_bytes > 0.0 {
        tokens * measured_bytes / weight_bytes
    } else {
        tokens
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table's own points come back as measured (DeepSeek TP 8 at 256 tokens an expert,
    /// BF16: gate_up at 490.3 TFLOP/s with twice down's FLOPs, down at 328.4, so
    /// 3 / (2 / 490.3 + 1 / 328.4) / 786.2 = 0.536), and a shape between points lands between
    /// them.
    #[test]
    fn reads_the_measured_points() {
        let rows = [
            (false, 256.0, 256.0, 0.536),
            (false, 16.0, 192.0, 0.041),
            (false, 2048.0, 2880.0, 0.809),
            (true, 256.0, 256.0, 0.238),
            (true, 512.0, 2048.0, 0.357),
            // Beyond the grid: held at its edges.
            (true, 8.0, 128.0, 0.060),
            (false, 8192.0, 7168.0, 0.809),
        ];
        for (fp8, tokens, width, want) in rows {
            let bytes = if fp8 { 1.0 } else { 2.0 };
            let got = relative_rate(fp8, tokens, width, bytes);
            assert!((got - want).abs() < 1e-12, "{fp8} {tokens} {width}: {got}");
        }
        // Qwen3-30B-A3B's 4096-token prompt at TP 1: 256 an expert, width 768; and halfway in
        // log2 between DeepSeek TP 8 and Qwen3-235B TP 4 widths and 256 and 512 tokens.
        assert!((relative_rate(false, 256.0, 768.0, 2.0) - 0.639).abs() < 1e-12);
        let between = relative_rate(false, 362.0, 313.5, 2.0);
        assert!(between > 0.536 && between < 0.733, "{between}");
    }

    /// Weights a quarter of BF16's bytes (MXFP4 on Hopper, dequantized to BF16) at 64 tokens an
    /// expert do the FLOPs per weight byte the BF16 kernel does at 256.
    #[test]
    fn narrower_weights_read_at_the_same_intensity() {
        let mxfp4 = relative_rate(false, 64.0, 768.0, 0.5);
        assert!((mxfp4 - relative_rate(false, 256.0, 768.0, 2.0)).abs() < 1e-12);
        // Unknown bytes leave the tokens as they are.
        assert_eq!(same_intensity_tokens(64.0, 2.0, 0.0), 64.0);
    }
}
