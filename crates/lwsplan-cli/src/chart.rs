//! `plan --chart FILE.svg`: output tokens per second per GPU against tokens per second per user
//! over a concurrency sweep, one series per candidate layout, the way InferenceMAX and
//! AIConfigurator draw the throughput / interactivity frontier. Each series carries its
//! estimate's range as a band; the chosen layout is drawn thicker and named so.

use lwsplan::plan::{Layout, Sweep};
use plotters::prelude::*;

/// Concurrencies swept: powers of two and the points between them (×1.5), 1 to 1024.
pub fn concurrencies() -> Vec<u64> {
    let mut out = Vec::new();
    let mut c = 1u64;
    while c <= 1024 {
        out.push(c);
        if (2..1024).contains(&c) {
            out.push(c + c / 2);
        }
        c *= 2;
    }
    out
}

/// Series colours, distinguishable on white and for the common colour-vision deficiencies
/// (Okabe-Ito).
const PALETTE: [RGBColor; 8] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(120, 120, 120),
    RGBColor(0, 0, 0),
];

/// A layout's name on the chart.
fn name(layout: &Layout) -> String {
    let mut name = match layout.data_parallel_size {
        1 => format!(
            "TP {} × PP {}",
            layout.tensor_parallel_size, layout.pipeline_parallel_size
        ),
        dp => format!("TP {} × DP {dp}", layout.tensor_parallel_size),
    };
    if layout.decode_context_parallel_size > 1 {
        name += &format!(", DCP {}", layout.decode_context_parallel_size);
    }
    name + &format!(" ({} GPUs)", layout.gpus())
}

/// The chart as SVG text; the same sweep gives the same bytes.
pub fn svg(sweep: &Sweep, title: &str) -> Result<String, String> {
    let mut out = String::new();
    draw(sweep, title, &mut out).map_err(|e| format!("drawing the chart: {e}"))?;
    Ok(out)
}

fn draw(sweep: &Sweep, title: &str, out: &mut String) -> Result<(), String> {
    let per_user = |tpot_ms: f64| 1000.0 / tpot_ms.max(f64::MIN_POSITIVE);
    let points = || sweep.series.iter().flat_map(|s| s.points.iter());
    let x_max = points().map(|p| per_user(p.tpot_ms)).fold(1.0, f64::max) * 1.05;
    let y_max = points()
        .map(|p| p.range.output_tokens_per_s_per_gpu[1])
        .fold(1.0, f64::max)
        * 1.05;
    let root = SVGBackend::with_string(out, (900, 560)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 18))
        .margin(16)
        .x_label_area_size(44)
        .y_label_area_size(64)
        .build_cartesian_2d(0f64..x_max, 0f64..y_max)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("output tokens/s per user (1000 / TPOT ms)")
        .y_desc("output tokens/s per GPU")
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(err)?;
    // Every band first, then the lines and markers over them, so no band hides a series.
    for (i, series) in sweep.series.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        let upper = series
            .points
            .iter()
            .map(|p| (per_user(p.tpot_ms), p.range.output_tokens_per_s_per_gpu[1]));
        let lower = series
            .points
            .iter()
            .rev()
            .map(|p| (per_user(p.tpot_ms), p.range.output_tokens_per_s_per_gpu[0]));
        chart
            .draw_series(std::iter::once(Polygon::new(
                upper.chain(lower).collect::<Vec<_>>(),
                color.mix(0.12),
            )))
            .map_err(err)?;
    }
    for (i, series) in sweep.series.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        let width = if series.chosen { 3 } else { 1 };
        let line = series
            .points
            .iter()
            .map(|p| (per_user(p.tpot_ms), p.output_tokens_per_s_per_gpu));
        let label = if series.chosen {
            format!("{} (chosen)", name(&series.layout))
        } else {
            name(&series.layout)
        };
        chart
            .draw_series(LineSeries::new(line.clone(), color.stroke_width(width)))
            .map_err(err)?
            .label(label)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(width))
            });
        chart
            .draw_series(line.map(|xy| Circle::new(xy, 2 + width, color.filled())))
            .map_err(err)?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(err)?;
    root.present().map_err(err)?;
    Ok(())
}

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sweep_spans_one_to_1024() {
        let c = concurrencies();
        assert_eq!(c.first(), Some(&1));
        assert_eq!(c.last(), Some(&1024));
        assert!(c.windows(2).all(|w| w[0] < w[1]));
    }
}
