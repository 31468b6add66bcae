//! Heat maps of functions on a 2-D grid (a Darcy coefficient, its solution, a prediction and its
//! error), as a grid of panels each with a title, axes and a colour bar with its value range, in
//! SVG and PNG from the bundled font like every other figure.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::plot::{ensure_font, plot_err, FONT};
use crate::error::{Result, TrainError};

/// One panel: a function sampled on `rows × cols` vertices of the unit square, row-major
/// (row i is y = i/(rows−1)).
#[derive(Debug, Clone)]
pub struct Heatmap<'a> {
    /// The panel's title.
    pub title: String,
    /// The values, `rows × cols`, row-major.
    pub values: &'a [f64],
    /// Vertices along y.
    pub rows: usize,
    /// Vertices along x.
    pub cols: usize,
}

/// Stops of the viridis colour map (perceptually uniform, readable in grey).
const VIRIDIS: [(f64, (f64, f64, f64)); 5] = [
    (0.0, (68.0, 1.0, 84.0)),
    (0.25, (59.0, 82.0, 139.0)),
    (0.5, (33.0, 145.0, 140.0)),
    (0.75, (94.0, 201.0, 98.0)),
    (1.0, (253.0, 231.0, 37.0)),
];

/// The viridis colour of `t` ∈ [0, 1] (clamped), linear between the stops.
fn viridis(t: f64) -> RGBColor {
    let t = if t.is_finite() { t.clamp(0.0, 1.0) } else { 0.0 };
    let i = VIRIDIS.iter().position(|(s, _)| *s >= t).unwrap_or(VIRIDIS.len() - 1).max(1);
    let ((s0, c0), (s1, c1)) = (VIRIDIS[i - 1], VIRIDIS[i]);
    let w = (t - s0) / (s1 - s0);
    let mix = |a: f64, b: f64| (a + w * (b - a)).round() as u8;
    RGBColor(mix(c0.0, c1.0), mix(c0.1, c1.1), mix(c0.2, c1.2))
}

/// The finite range of `values` (a unit interval around a constant or empty field).
fn range(values: &[f64]) -> (f64, f64) {
    let (lo, hi) =
        values.iter().filter(|v| v.is_finite()).fold((f64::MAX, f64::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    if lo > hi {
        (0.0, 1.0)
    } else if hi - lo < 1e-300 {
        (lo - 0.5, hi + 0.5)
    } else {
        (lo, hi)
    }
}

/// A value label: 3 significant digits without trailing zeros, plain for 10⁻³ ≤ |v| < 10⁴.
fn label(v: f64) -> String {
    if v != 0.0 && (v.abs() < 1e-3 || v.abs() >= 1e4) {
        let s = format!("{v:.2e}");
        let (mantissa, exponent) = s.split_once('e').unwrap_or((&s, "0"));
        let mantissa =
            if mantissa.contains('.') { mantissa.trim_end_matches('0').trim_end_matches('.') } else { mantissa };
        return format!("{mantissa}e{exponent}");
    }
    let decimals = if v == 0.0 { 0 } else { (2.0 - v.abs().log10().floor()).clamp(0.0, 6.0) as usize };
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

fn panel<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, map: &Heatmap<'_>) -> std::result::Result<(), String> {
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    let (w, _) = area.dim_in_pixel();
    let (plot, bar) = area.split_horizontally(w.saturating_sub(84));
    let (lo, hi) = range(map.values);
    let mut chart = ChartBuilder::on(&plot)
        .margin(6)
        .caption(&map.title, (FONT, 17))
        .x_label_area_size(26)
        .y_label_area_size(34)
        .build_cartesian_2d(0.0..1.0, 0.0..1.0)
        .map_err(err)?;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_labels(3)
        .y_labels(3)
        .label_style((FONT, 12))
        .x_label_formatter(&|v| label(*v))
        .y_label_formatter(&|v| label(*v))
        .draw()
        .map_err(err)?;
    let (rows, cols) = (map.rows.max(1), map.cols.max(1));
    let (dx, dy) = (1.0 / cols as f64, 1.0 / rows as f64);
    chart
        .draw_series((0..rows).flat_map(|i| {
            (0..cols).map(move |j| {
                let t = (map.values[i * cols + j] - lo) / (hi - lo);
                let (x, y) = (j as f64 * dx, i as f64 * dy);
                Rectangle::new([(x, y), (x + dx, y + dy)], viridis(t).filled())
            })
        }))
        .map_err(err)?;
    // the colour bar, labelled on its right with the panel's range; a tick that is zero up to
    // rounding (lo + k·step) is labelled 0
    let tick = |v: &f64| label(if v.abs() <= 1e-9 * (hi - lo) { 0.0 } else { *v });
    let mut scale = ChartBuilder::on(&bar)
        .margin_top(30)
        .margin_bottom(30)
        .margin_left(2)
        .right_y_label_area_size(62)
        .build_cartesian_2d(0.0..1.0, lo..hi)
        .map_err(err)?;
    scale
        .configure_mesh()
        .disable_mesh()
        .disable_x_axis()
        .y_labels(5)
        .label_style((FONT, 11))
        .y_label_formatter(&tick)
        .draw()
        .map_err(err)?;
    let steps = 64;
    scale
        .draw_series((0..steps).map(|k| {
            let (a, b) = (lo + (hi - lo) * k as f64 / steps as f64, lo + (hi - lo) * (k + 1) as f64 / steps as f64);
            Rectangle::new([(0.0, a), (1.0, b)], viridis((k as f64 + 0.5) / steps as f64).filled())
        }))
        .map_err(err)?;
    Ok(())
}

fn draw<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    title: &str,
    panels: &[Heatmap<'_>],
    columns: usize,
) -> std::result::Result<(), String> {
    ensure_font()?;
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let root = root.titled(title, (FONT, 22)).map_err(|e| e.to_string())?;
    let rows = panels.len().div_ceil(columns);
    for (area, map) in root.split_evenly((rows, columns)).iter().zip(panels) {
        panel(area, map)?;
    }
    root.present().map_err(|e| e.to_string())
}

/// Draws `panels` in a grid of `columns` columns into `stem.svg` and `stem.png`, under `title`;
/// each panel has its own title, axes and colour bar. Every panel's values must number
/// `rows × cols`.
///
/// ```
/// use spectrans_train::trainer::{plot_heatmaps, Heatmap};
/// let dir = std::env::temp_dir().join("spectrans-doc-heatmap");
/// std::fs::create_dir_all(&dir)?;
/// let f: Vec<f64> = (0..16 * 16).map(|k| ((k % 16) as f64 / 15.0).sin()).collect();
/// let panel = Heatmap { title: "sin x".into(), values: &f, rows: 16, cols: 16 };
/// plot_heatmaps(&dir.join("sin"), "a field", &[panel.clone(), panel], 2)?;
/// assert!(dir.join("sin.svg").exists() && dir.join("sin.png").exists());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn plot_heatmaps(stem: &Path, title: &str, panels: &[Heatmap<'_>], columns: usize) -> Result<()> {
    if let Some(bad) = panels.iter().find(|p| p.values.len() != p.rows * p.cols) {
        return Err(TrainError::config(
            "plot_heatmaps",
            "values",
            format!("panel `{}` has {} values for a {}×{} grid", bad.title, bad.values.len(), bad.rows, bad.cols),
        ));
    }
    let columns = columns.clamp(1, panels.len().max(1));
    let rows = panels.len().div_ceil(columns).max(1);
    let size = (340 * columns as u32, 60 + 280 * rows as u32);
    let svg = stem.with_extension("svg");
    draw(SVGBackend::new(&svg, size).into_drawing_area(), title, panels, columns).map_err(plot_err(&svg))?;
    let png = stem.with_extension("png");
    draw(BitMapBackend::new(&png, size).into_drawing_area(), title, panels, columns).map_err(plot_err(&png))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_colour_map_runs_from_purple_to_yellow_and_ranges_are_safe() {
        assert_eq!(viridis(0.0), RGBColor(68, 1, 84));
        assert_eq!(viridis(1.0), RGBColor(253, 231, 37));
        assert_eq!(viridis(f64::NAN), viridis(0.0));
        assert_eq!(range(&[]), (0.0, 1.0));
        assert_eq!(range(&[2.0, 2.0]), (1.5, 2.5));
        assert_eq!(range(&[1.0, f64::NAN, 3.0]), (1.0, 3.0));
        let labels = [0.5, 12.0, 0.0123, 0.005, 1e-5, 0.0].map(label);
        assert_eq!(labels, ["0.5", "12", "0.0123", "0.005", "1e-5", "0"]);
        assert_eq!([-4.0e-4, 1.08e-19, 2.5e5, 12345.0].map(label), ["-4e-4", "1.08e-19", "2.5e5", "1.23e4"]);
    }

    #[test]
    fn panels_are_drawn_and_a_wrong_size_is_refused() {
        let dir = std::env::temp_dir().join(format!("spectrans-heatmap-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let v: Vec<f64> = (0..9).map(|k| k as f64).collect();
        let good = Heatmap { title: "ramp".into(), values: &v, rows: 3, cols: 3 };
        plot_heatmaps(&dir.join("ok"), "four ramps", &vec![good.clone(); 4], 2).unwrap();
        let svg = std::fs::read_to_string(dir.join("ok.svg")).unwrap();
        assert_eq!(svg.matches("ramp").count(), 5, "the figure's and every panel's title are drawn");
        let bad = Heatmap { rows: 4, ..good };
        let e = plot_heatmaps(&dir.join("bad"), "t", &[bad], 1).unwrap_err().to_string();
        assert!(e.contains("ramp") && e.contains("9 values") && e.contains("4×3"), "{e}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
