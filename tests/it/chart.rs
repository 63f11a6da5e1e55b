//! `plan --chart`: the SVG a real renderer (resvg) draws, one series per candidate layout, the
//! same bytes every run.

use crate::{lwsplan, temp_dir};

/// The colours the chart gives its first series (Okabe-Ito, `chart.rs`'s palette).
const SERIES_COLORS: [[u8; 3]; 4] = [[0, 114, 178], [213, 94, 0], [0, 158, 115], [204, 121, 167]];

fn chart(dir: &str, extra: &[&str]) -> String {
    let dir = temp_dir(dir);
    let path = dir.join("chart.svg");
    let path = path.to_str().unwrap();
    let mut args = vec![
        "plan",
        "--model",
        "qwen3-235b-a22b-fp8",
        "--hardware",
        "h100-80gb",
        "--input-tokens",
        "2000",
        "--output-tokens",
        "500",
        "--concurrency",
        "64",
        "--chart",
        path,
    ];
    args.extend_from_slice(extra);
    let (code, _, stderr) = lwsplan(&args);
    assert_eq!(code, 0, "{stderr}");
    std::fs::read_to_string(path).unwrap()
}

/// Pixels of the rendered chart, RGBA.
fn render(svg: &str) -> resvg::tiny_skia::Pixmap {
    let tree = resvg::usvg::Tree::from_str(svg, &resvg::usvg::Options::default())
        .expect("the chart is SVG resvg reads");
    let size = tree.size().to_int_size();
    let mut pixmap = resvg::tiny_skia::Pixmap::new(size.width(), size.height()).unwrap();
    resvg::render(
        &tree,
        resvg::tiny_skia::Transform::default(),
        &mut pixmap.as_mut(),
    );
    pixmap
}

/// Opaque pixels of exactly this colour.
fn count(pixmap: &resvg::tiny_skia::Pixmap, rgb: [u8; 3]) -> usize {
    pixmap
        .pixels()
        .iter()
        .filter(|p| p.alpha() == 255 && [p.red(), p.green(), p.blue()] == rgb)
        .count()
}

#[test]
fn the_chart_draws_axes_and_a_series_per_layout() {
    let svg = chart("chart-draws", &[]);
    let pixmap = render(&svg);
    assert_eq!((pixmap.width(), pixmap.height()), (900, 560));
    // Not blank: a white background with black axes and tick marks on it.
    let white = count(&pixmap, [255, 255, 255]);
    assert!(white < 900 * 560, "the chart is blank");
    let dark = pixmap
        .pixels()
        .iter()
        .filter(|p| p.alpha() == 255 && p.red() < 96 && p.green() < 96 && p.blue() < 96)
        .count();
    // Two axes of about 450 and 800 pixels, antialiased, their ticks and labels.
    assert!(dark > 1000, "no axes: {dark} dark pixels");
    assert!(svg.contains("output tokens/s per GPU") && svg.contains("output tokens/s per user"));
    // The plan lists its fitting alternatives; the chart names each with its own colour, the
    // chosen one marked.
    let labels = svg.matches(" GPUs)").count();
    assert!(labels >= 4, "{labels} series labelled");
    assert_eq!(svg.matches("(chosen)").count(), 1);
    for rgb in SERIES_COLORS {
        assert!(count(&pixmap, rgb) > 20, "series {rgb:?} not drawn");
    }
}

#[test]
fn the_chart_is_deterministic() {
    assert_eq!(chart("chart-a", &[]), chart("chart-b", &[]));
}

#[test]
fn the_chart_needs_a_workload() {
    let dir = temp_dir("chart-no-workload");
    let path = dir.join("chart.svg");
    let (code, _, stderr) = lwsplan(&[
        "plan",
        "--model",
        "qwen3-235b-a22b-fp8",
        "--hardware",
        "h100-80gb",
        "--chart",
        path.to_str().unwrap(),
    ]);
    assert_ne!(code, 0);
    assert!(stderr.contains("--chart needs a workload"), "{stderr}");
    assert!(!path.exists());
}
