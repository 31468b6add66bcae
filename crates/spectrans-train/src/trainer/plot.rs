//! Figures of a run with plotters, each as SVG and PNG with the same text: title, axis labels,
//! tick labels and legend. Text is rasterised from a bundled font (a Latin/Greek subset of DejaVu
//! Sans, `assets/fonts/`, licence beside it) through plotters' `ab_glyph` backend, so PNGs never
//! depend on the fonts of the machine that draws them.

use std::path::Path;
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};
use serde_json::Value;

use crate::error::{Result, TrainError};

/// The font family name every figure uses; [`ensure_font`] registers the bundled font under it.
pub(super) const FONT: &str = "sans-serif";
/// DejaVu Sans (subset; see `assets/fonts/make_subset.sh` and `LICENSE-DejaVu.txt`).
const FONT_BYTES: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans-subset.ttf");
/// Pixel size of every figure (SVG and PNG).
const SIZE: (u32, u32) = (960, 540);
/// Curves of at most this many points also get a marker per point (an evaluation every few
/// epochs would otherwise be an invisible one-point line).
const MARKED: usize = 12;

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

/// How the y axis maps values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum YScale {
    /// Evenly spaced values.
    Linear,
    /// Logarithmic (points with y ≤ 0 are left out).
    Log,
}

/// The text and axes of a line figure.
#[derive(Debug, Clone, Copy)]
pub struct Figure<'a> {
    /// Caption above the plot.
    pub title: &'a str,
    /// Label of the x axis.
    pub x_label: &'a str,
    /// Label of the y axis.
    pub y_label: &'a str,
    /// Linear or logarithmic y axis.
    pub y_scale: YScale,
}

pub(super) fn plot_err(path: &Path) -> impl Fn(String) -> TrainError + '_ {
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

/// Registers the bundled font once per process under [`FONT`].
pub(super) fn ensure_font() -> std::result::Result<(), String> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| register_font(FONT, FontStyle::Normal, FONT_BYTES).is_ok());
    if ok {
        Ok(())
    } else {
        Err("the bundled font DejaVuSans-subset.ttf is not a valid font file".into())
    }
}

/// The finite points of `s` that the y scale can show.
fn visible(s: &Series, y_scale: YScale) -> impl Iterator<Item = (f64, f64)> + '_ {
    s.points
        .iter()
        .copied()
        .filter(move |(x, y)| x.is_finite() && y.is_finite() && (y_scale == YScale::Linear || *y > 0.0))
}

/// The (x, y) ranges of the axes: the data's extent, padded on a linear y axis, and a unit box
/// when there is nothing to show.
fn ranges(series: &[Series], y_scale: YScale) -> ((f64, f64), (f64, f64)) {
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for (x, y) in series.iter().flat_map(|s| visible(s, y_scale)) {
        (x0, x1, y0, y1) = (x0.min(x), x1.max(x), y0.min(y), y1.max(y));
    }
    if x0 > x1 {
        (x0, x1, y0, y1) = (0.0, 1.0, 0.1, 1.0);
    }
    if x1 <= x0 {
        x1 = x0 + 1.0;
    }
    match y_scale {
        YScale::Log => {
            if y1 <= y0 {
                (y0, y1) = (y0 / 2.0, y0 * 2.0);
            }
            ((x0, x1), (y0 / 1.25, y1 * 1.25))
        }
        YScale::Linear => {
            if y1 <= y0 {
                y1 = y0 + y0.abs().max(1e-3);
            }
            let pad = 0.05 * (y1 - y0);
            ((x0, x1), (y0 - pad, y1 + pad))
        }
    }
}

/// A tick label on a linear axis spanning `span`: as many decimals as ticks about a tenth of
/// the span apart need, trailing zeros dropped.
fn linear_tick(span: f64) -> impl Fn(&f64) -> String {
    let decimals = (-(span / 10.0).log10()).ceil().clamp(0.0, 8.0) as usize;
    move |v| {
        let s = format!("{v:.decimals$}");
        let s = if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.') } else { &s };
        if s == "-0" {
            "0".to_string()
        } else {
            s.to_string()
        }
    }
}

/// The labelled ticks of a logarithmic axis over [y0, y1] (0 < y0 < y1, finite; otherwise none):
/// 1, 2 and 5 of every decade the range touches, partial decades at either end included
/// (plotters' own log ticks start at the first power of ten inside the range, so a curve living
/// between 0.015 and 0.1 got no label at all); over more than six decades 1 per decade, at most
/// 13 of them; every mantissa 1–9 when the 1-2-5 ticks would be fewer than three; and the range's
/// two ends besides when even those are fewer than two.
fn log_key_points(y0: f64, y1: f64) -> Vec<f64> {
    if !(y0.is_finite() && y1.is_finite() && 0.0 < y0 && y0 < y1) {
        return Vec::new();
    }
    let (lo, hi) = (y0.log10().floor().max(-330.0) as i32, y1.log10().ceil().min(330.0) as i32);
    let decades = y1.log10() - y0.log10(); // not log10(y1 / y0): that ratio may overflow
    let within = |mantissas: &[f64], every: i32| -> Vec<f64> {
        (lo..=hi)
            .filter(|e| (e - lo) % every == 0)
            .flat_map(|e| mantissas.iter().map(move |m| m * 10f64.powi(e)))
            .filter(|v| (y0..=y1).contains(v))
            .collect()
    };
    let ticks = if decades > 6.0 {
        within(&[1.0], (decades / 12.0).ceil().max(1.0) as i32)
    } else {
        within(&[1.0, 2.0, 5.0], 1)
    };
    if ticks.len() >= 3 {
        return ticks;
    }
    let mut fine = within(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0], 1);
    if fine.len() < 2 {
        fine.insert(0, y0);
        fine.push(y1);
    }
    fine
}

/// A tick label for a logarithmic axis (given the ticks of [`log_key_points`]): plain for
/// 0.01 ≤ |v| < 10⁴, scientific otherwise.
fn log_tick(v: &f64) -> String {
    let a = v.abs();
    if (1e-2..1e4).contains(&a) {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        format!("{v:.0e}")
    }
}

fn draw<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    figure: &Figure<'_>,
    series: &[Series],
) -> std::result::Result<(), String> {
    ensure_font()?;
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let ((x0, x1), (y0, y1)) = ranges(series, figure.y_scale);
    let mut builder = ChartBuilder::on(&root);
    builder.margin(16).caption(figure.title, (FONT, 24)).x_label_area_size(52).y_label_area_size(84);
    let x_tick = linear_tick(x1 - x0);
    let light = match figure.y_scale {
        YScale::Linear => RGBColor(238, 238, 238).stroke_width(1),
        YScale::Log => TRANSPARENT.stroke_width(0),
    };
    macro_rules! body {
        ($chart:expr, $y_format:expr) => {{
            let mut chart = $chart;
            chart
                .configure_mesh()
                .x_desc(figure.x_label)
                .y_desc(figure.y_label)
                .label_style((FONT, 15))
                .axis_desc_style((FONT, 17))
                .x_label_formatter(&x_tick)
                .y_labels(14)
                .y_label_formatter($y_format)
                .light_line_style(light)
                .draw()
                .map_err(|e| e.to_string())?;
            for (i, s) in series.iter().enumerate() {
                let color = COLORS[i % COLORS.len()];
                let points: Vec<(f64, f64)> = visible(s, figure.y_scale).collect();
                if points.len() <= MARKED {
                    chart
                        .draw_series(points.iter().map(|&p| Circle::new(p, 3, color.filled())))
                        .map_err(|e| e.to_string())?;
                }
                let anno = if s.dashed {
                    chart
                        .draw_series(DashedLineSeries::new(points, 6, 4, color.stroke_width(2)))
                        .map_err(|e| e.to_string())?
                } else {
                    chart.draw_series(LineSeries::new(points, color.stroke_width(2))).map_err(|e| e.to_string())?
                };
                anno.label(s.label.clone())
                    .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], color.stroke_width(2)));
            }
            chart
                .configure_series_labels()
                .label_font((FONT, 15))
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .draw()
                .map_err(|e| e.to_string())?;
        }};
    }
    match figure.y_scale {
        YScale::Log => {
            let y = (y0..y1).log_scale().with_key_points(log_key_points(y0, y1));
            body!(builder.build_cartesian_2d(x0..x1, y).map_err(|e| e.to_string())?, &log_tick)
        }
        YScale::Linear => {
            body!(builder.build_cartesian_2d(x0..x1, y0..y1).map_err(|e| e.to_string())?, &linear_tick(y1 - y0))
        }
    }
    root.present().map_err(|e| e.to_string())
}

/// Draws `series` into `stem.svg` and `stem.png` (960×540), both with the figure's title, axis
/// labels, tick labels and a legend.
///
/// ```
/// use spectrans_train::trainer::{plot_series, Figure, Series, YScale};
/// let dir = std::env::temp_dir().join("spectrans-doc-plot");
/// std::fs::create_dir_all(&dir)?;
/// let s = Series { label: "x²".into(), points: (0..10).map(|i| (i as f64, (i * i) as f64)).collect(), dashed: false };
/// let figure = Figure { title: "square", x_label: "x", y_label: "x²", y_scale: YScale::Linear };
/// plot_series(&dir.join("square"), &figure, &[s])?;
/// assert!(dir.join("square.svg").exists() && dir.join("square.png").exists());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn plot_series(stem: &Path, figure: &Figure<'_>, series: &[Series]) -> Result<()> {
    let svg = stem.with_extension("svg");
    draw(SVGBackend::new(&svg, SIZE).into_drawing_area(), figure, series).map_err(plot_err(&svg))?;
    let png = stem.with_extension("png");
    draw(BitMapBackend::new(&png, SIZE).into_drawing_area(), figure, series).map_err(plot_err(&png))
}

/// Draws `curves` (label → points) against the step on a logarithmic y axis into `stem.svg`/`.png`.
pub fn plot_curves(stem: &Path, title: &str, y_label: &str, curves: Vec<(String, Vec<(f64, f64)>)>) -> Result<()> {
    let series: Vec<Series> =
        curves.into_iter().map(|(label, points)| Series { label, points, dashed: false }).collect();
    plot_series(stem, &Figure { title, x_label: "step", y_label, y_scale: YScale::Log }, &series)
}

/// The loss curves of a metrics log: training loss and every evaluation metric against the step.
pub(crate) fn plot_metrics(history: &[Value], dir: &Path) -> Result<()> {
    let mut curves: Vec<(String, Vec<(f64, f64)>)> = vec![("train loss".into(), Vec::new())];
    for v in history {
        let Some(step) = v["step"].as_f64() else { continue };
        let Some(obj) = v.as_object() else { continue };
        let train = v["kind"] == "train";
        for (k, val) in obj {
            let skip = ["kind", "step", "epoch", "lr", "wall_time_s", "samples_per_s"].contains(&k.as_str());
            let (Some(y), false) = (val.as_f64(), skip) else { continue };
            let label = match (train, k.as_str()) {
                (true, "train_loss") => "train loss".to_string(),
                (true, _) => k.replace('_', " "),
                (false, _) => format!("eval: {}", k.replace('_', " ")),
            };
            match curves.iter_mut().find(|(l, _)| *l == label) {
                Some((_, pts)) => pts.push((step, y)),
                None => curves.push((label, vec![(step, y)])),
            }
        }
    }
    plot_curves(&dir.join("loss"), "Training curves", "loss / metric (log scale)", curves)
}

#[cfg(test)]
mod tests {
    use super::*;

    const W: u32 = 480;
    const H: u32 = 270;

    /// Renders a figure into an RGB buffer through the same code as the PNG files.
    fn render(figure: &Figure<'_>, series: &[Series]) -> Vec<u8> {
        let mut buf = vec![0u8; (W * H * 3) as usize];
        draw(BitMapBackend::with_buffer(&mut buf, (W, H)).into_drawing_area(), figure, series).unwrap();
        buf
    }

    /// Pixels that differ between two renders inside the rectangle [x0, x1) × [y0, y1).
    fn changed(a: &[u8], b: &[u8], (x0, x1): (u32, u32), (y0, y1): (u32, u32)) -> usize {
        let mut n = 0;
        for y in y0..y1 {
            for x in x0..x1 {
                let i = ((y * W + x) * 3) as usize;
                n += usize::from(a[i..i + 3] != b[i..i + 3]);
            }
        }
        n
    }

    fn curve(label: &str) -> Series {
        Series { label: label.into(), points: (1..50).map(|i| (i as f64, 1.0 / i as f64)).collect(), dashed: false }
    }

    #[test]
    fn the_bitmap_carries_title_axis_labels_ticks_and_legend() {
        let base = Figure { title: "A title", x_label: "step", y_label: "loss", y_scale: YScale::Log };
        let full = render(&base, &[curve("train loss")]);
        // Each text element changes pixels in its own region when its text changes.
        let retitled = render(&Figure { title: "Other words", ..base }, &[curve("train loss")]);
        assert!(changed(&full, &retitled, (0, W), (0, 40)) > 50, "title");
        let relabeled_x = render(&Figure { x_label: "epoch number", ..base }, &[curve("train loss")]);
        assert!(changed(&full, &relabeled_x, (0, W), (H - 40, H)) > 50, "x axis label");
        let relabeled_y = render(&Figure { y_label: "something else", ..base }, &[curve("train loss")]);
        assert!(changed(&full, &relabeled_y, (0, 40), (0, H)) > 50, "y axis label");
        let legend = render(&base, &[curve("a much longer legend label")]);
        assert!(changed(&full, &legend, (W / 2, W), (30, H / 2)) > 50, "legend");
        // Tick labels: a different y range relabels the ticks left of the plot area.
        let mut shifted = curve("train loss");
        shifted.points.iter_mut().for_each(|p| p.1 *= 1e3);
        let reticked = render(&base, &[shifted]);
        assert!(changed(&full, &reticked, (30, 100), (40, H - 60)) > 50, "y tick labels");
    }

    #[test]
    fn linear_ticks_have_the_decimals_their_spacing_needs() {
        assert_eq!(linear_tick(400.0)(&50.0), "50");
        assert_eq!(linear_tick(1.0)(&0.3), "0.3");
        assert_eq!(linear_tick(0.5)(&0.25), "0.25");
        assert_eq!(linear_tick(0.04)(&0.015), "0.015");
        assert_eq!(linear_tick(0.04)(&-0.0001), "0");
    }

    #[test]
    fn log_ticks_read_plainly_in_the_usual_range() {
        assert_eq!(log_tick(&0.5), "0.5");
        assert_eq!(log_tick(&20.0), "20");
        assert_eq!(log_tick(&0.001), "1e-3");
        assert_eq!(log_tick(&1e5), "1e5");
        assert_eq!(log_tick(&2e-5), "2e-5");
    }

    #[test]
    fn log_ticks_cover_partial_decades() {
        let close =
            |a: Vec<f64>, b: &[f64]| a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x / y - 1.0).abs() < 1e-12);
        // a Darcy-like curve between 0.015 and 0.3: the ticks below 0.1 are there too
        assert!(close(log_key_points(0.015, 0.3), &[0.02, 0.05, 0.1, 0.2]));
        assert!(close(log_key_points(8e-4, 4.0), &[1e-3, 2e-3, 5e-3, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0]));
        // inside one decade: every mantissa
        assert!(close(log_key_points(0.012, 0.045), &[0.02, 0.03, 0.04]));
        // many decades: one tick per decade, at most 13
        assert!(close(log_key_points(1e-9, 1e-1), &[1e-9, 1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1]));
        let wide = log_key_points(1e-30, 1.0);
        assert!((2..=13).contains(&wide.len()) && wide.windows(2).all(|w| w[0] < w[1]), "{wide:?}");
        // between two mantissas (a plateau of 1.3–1.5, padded): the ends; one mantissa: it and the ends
        assert!(close(log_key_points(1.04, 1.875), &[1.04, 1.875]));
        assert!(close(log_key_points(1.68, 2.875), &[1.68, 2.0, 2.875]));
        // not a range: no ticks (and no endless loop over exponents)
        for (a, b) in [(0.0, 1.0), (1.0, 1.0), (2.0, 1.0), (f64::NAN, 1.0), (1e-3, f64::INFINITY)] {
            assert!(log_key_points(a, b).is_empty(), "{a} {b}");
        }
        // the widest finite range: still at most 13 ticks
        assert!((2..=13).contains(&log_key_points(5e-324, 1e308).len()));
    }

    #[test]
    fn empty_or_non_positive_data_still_draws() {
        let f = Figure { title: "t", x_label: "x", y_label: "y", y_scale: YScale::Log };
        let s = Series { label: "zeros".into(), points: vec![(0.0, 0.0), (1.0, f64::NAN)], dashed: false };
        render(&f, &[s]);
        render(&Figure { y_scale: YScale::Linear, ..f }, &[]);
    }
}
