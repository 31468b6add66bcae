//! Figures of a run with plotters, each as SVG (with text) and PNG. The PNG backend draws no
//! text (plotters without a font feature renders none into bitmaps), so PNGs never depend on
//! system fonts; the SVGs carry the titles, axes labels and legends.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;
use serde_json::Value;

use crate::error::{Result, TrainError};

/// A named curve of (x, y) points.
#[derive(Debug, Clone)]
pub struct Series {
    /// Legend label.
    pub label: String,
    /// The points.
    pub points: Vec<(f64, f64)>,
    /// Drawn dashed (e.g. a prediction against a solid truth).
    pub dashed: bool,
}

fn plot_err(path: &Path) -> impl Fn(String) -> TrainError + '_ {
    move |e| TrainError::format(path.display().to_string(), format!("cannot draw the plot: {e}"))
}

const COLORS: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

fn draw<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    title: &str,
    x_label: &str,
    series: &[Series],
    log_y: bool,
    text: bool,
) -> std::result::Result<(), String> {
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let pts = series
        .iter()
        .flat_map(|s| s.points.iter())
        .filter(|(x, y)| x.is_finite() && y.is_finite() && (!log_y || *y > 0.0));
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for &(x, y) in pts {
        (x0, x1, y0, y1) = (x0.min(x), x1.max(x), y0.min(y), y1.max(y));
    }
    if x0 > x1 {
        (x0, x1, y0, y1) = (0.0, 1.0, 0.1, 1.0);
    }
    if x1 <= x0 {
        x1 = x0 + 1.0;
    }
    if y1 <= y0 {
        y1 = y0 + y0.abs().max(1e-3);
    }
    let pad = if log_y { 0.0 } else { 0.05 * (y1 - y0) };
    let mut builder = ChartBuilder::on(&root);
    builder.margin(12);
    if text {
        builder.caption(title, ("sans-serif", 22)).x_label_area_size(36).y_label_area_size(60);
    }
    macro_rules! body {
        ($chart:expr) => {{
            let mut chart = $chart;
            if text {
                chart.configure_mesh().x_desc(x_label).draw().map_err(|e| e.to_string())?;
            } else {
                chart.configure_mesh().x_labels(0).y_labels(0).draw().map_err(|e| e.to_string())?;
            }
            for (i, s) in series.iter().enumerate() {
                let color = COLORS[i % COLORS.len()];
                let points: Vec<(f64, f64)> = s
                    .points
                    .iter()
                    .copied()
                    .filter(|(x, y)| x.is_finite() && y.is_finite() && (!log_y || *y > 0.0))
                    .collect();
                let anno = if s.dashed {
                    chart
                        .draw_series(DashedLineSeries::new(points, 6, 4, color.stroke_width(2)))
                        .map_err(|e| e.to_string())?
                } else {
                    chart.draw_series(LineSeries::new(points, color.stroke_width(2))).map_err(|e| e.to_string())?
                };
                anno.label(s.label.clone())
                    .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], color.stroke_width(2)));
            }
            if text {
                chart
                    .configure_series_labels()
                    .background_style(WHITE.mix(0.8))
                    .border_style(BLACK)
                    .draw()
                    .map_err(|e| e.to_string())?;
            }
        }};
    }
    if log_y {
        body!(builder.build_cartesian_2d(x0..x1, (y0 * 0.9..y1 * 1.1).log_scale()).map_err(|e| e.to_string())?);
    } else {
        body!(builder.build_cartesian_2d(x0..x1, y0 - pad..y1 + pad).map_err(|e| e.to_string())?);
    }
    root.present().map_err(|e| e.to_string())
}

/// Draws `series` into `stem.svg` (with title, axes labels and legend) and `stem.png` (960×540,
/// the same curves and grid without text).
///
/// ```
/// use spectrans_train::trainer::{plot_series, Series};
/// let dir = std::env::temp_dir().join("spectrans-doc-plot");
/// std::fs::create_dir_all(&dir)?;
/// let s = Series { label: "x²".into(), points: (0..10).map(|i| (i as f64, (i * i) as f64)).collect(), dashed: false };
/// plot_series(&dir.join("square"), "square", "x", &[s], false)?;
/// assert!(dir.join("square.svg").exists() && dir.join("square.png").exists());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn plot_series(stem: &Path, title: &str, x_label: &str, series: &[Series], log_y: bool) -> Result<()> {
    let svg = stem.with_extension("svg");
    draw(SVGBackend::new(&svg, (960, 540)).into_drawing_area(), title, x_label, series, log_y, true)
        .map_err(plot_err(&svg))?;
    let png = stem.with_extension("png");
    draw(BitMapBackend::new(&png, (960, 540)).into_drawing_area(), title, x_label, series, log_y, false)
        .map_err(plot_err(&png))
}

/// Draws `curves` (label → points) against the step, log-scaled, into `stem.svg`/`.png`.
pub fn plot_curves(stem: &Path, title: &str, curves: Vec<(String, Vec<(f64, f64)>)>) -> Result<()> {
    let series: Vec<Series> =
        curves.into_iter().map(|(label, points)| Series { label, points, dashed: false }).collect();
    plot_series(stem, title, "step", &series, true)
}

/// The loss curves of a metrics log: training loss and every evaluation metric against the step.
pub(crate) fn plot_metrics(history: &[Value], dir: &Path) -> Result<()> {
    let mut curves: Vec<(String, Vec<(f64, f64)>)> = vec![("train_loss".into(), Vec::new())];
    for v in history {
        let Some(step) = v["step"].as_f64() else { continue };
        let Some(obj) = v.as_object() else { continue };
        let train = v["kind"] == "train";
        for (k, val) in obj {
            let skip = ["kind", "step", "epoch", "lr", "wall_time_s", "samples_per_s"].contains(&k.as_str());
            let (Some(y), false) = (val.as_f64(), skip) else { continue };
            let label = if train { k.clone() } else { format!("eval {k}") };
            match curves.iter_mut().find(|(l, _)| *l == label) {
                Some((_, pts)) => pts.push((step, y)),
                None => curves.push((label, vec![(step, y)])),
            }
        }
    }
    plot_curves(&dir.join("loss"), "training curves", curves)
}
