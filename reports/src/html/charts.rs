//! The report's charts: functions from plain data (labels and numbers) to
//! inline SVG strings, drawn with plotters' SVG backend.
//!
//! Text: without a font feature, plotters lays text out with a crude estimate
//! (about 0.7 em per byte) and writes it as SVG `<text>` elements that the
//! browser renders with its own fonts. That is enough for axis ticks,
//! captions and short labels, so every label here goes through plotters,
//! which XML-escapes it. Labels are also cut to [`LABEL_CHARS`] characters
//! so that a long variant name cannot push the plot off the canvas; the
//! tables carry the full names.
//!
//! Safety: the page inserts these strings as markup (minijinja's safe
//! strings), so any user text that reaches them must be escaped here:
//! plotters escapes `<text>` content and attribute values, and
//! [`finish_svg`] escapes the only attribute written by hand.
//!
//! Robustness: values may be missing (`None`) or not finite (NaN from a
//! broken record); such points are left out, and a chart with nothing to
//! draw says so instead of failing. Drawing errors (none are expected from an
//! in-memory backend) give the same "no data" picture with a note.

use std::error::Error;

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::format::Style;

/// Characters of a label drawn in a chart.
pub(crate) const LABEL_CHARS: usize = 28;

/// plotters writes `font-size = size / 1.24`; this gives 12px text.
const FONT: f64 = 15.0;
const SMALL_FONT: f64 = 13.5;
const FAMILY: &str = "sans-serif";
/// Horizontal pixels per byte of label text in plotters' estimate.
const PX_PER_CHAR: f64 = FONT / 1.24 / 1.24 * 0.7;

const INK: RGBColor = RGBColor(31, 35, 40);
const MUTED: RGBColor = RGBColor(89, 99, 110);
const GRID: RGBColor = RGBColor(230, 233, 237);
const AXIS: RGBColor = RGBColor(160, 167, 175);

/// A colour, as the view layer picks it (variant palette, verdict colours).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rgb(pub(crate) u8, pub(crate) u8, pub(crate) u8);

impl Rgb {
    fn plotters(self) -> RGBColor {
        RGBColor(self.0, self.1, self.2)
    }

    /// `#rrggbb`, for the HTML legends that go with the charts.
    pub(crate) fn hex(self) -> String {
        format!("#{:02x}{:02x}{:02x}", self.0, self.1, self.2)
    }
}

/// One row of a dot-and-whisker panel: a point estimate and its interval.
#[derive(Debug, Clone)]
pub(crate) struct IntervalRow {
    pub(crate) label: String,
    pub(crate) value: Option<f64>,
    pub(crate) low: Option<f64>,
    pub(crate) high: Option<f64>,
    pub(crate) color: Rgb,
}

/// A panel of rows sharing one horizontal axis (one metric).
#[derive(Debug, Clone)]
pub(crate) struct IntervalPanel {
    pub(crate) title: String,
    pub(crate) rows: Vec<IntervalRow>,
    /// How values and ticks are written.
    pub(crate) format: Style,
    /// Differences: ticks with a sign and a vertical line at zero.
    pub(crate) differences: bool,
}

/// Latency percentiles of one variant.
#[derive(Debug, Clone)]
pub(crate) struct PercentileRow {
    pub(crate) label: String,
    pub(crate) p50: Option<f64>,
    pub(crate) p90: Option<f64>,
    pub(crate) p99: Option<f64>,
    pub(crate) color: Rgb,
}

/// One variant's values, for a distribution.
#[derive(Debug, Clone)]
pub(crate) struct Series {
    pub(crate) label: String,
    pub(crate) values: Vec<f64>,
    pub(crate) color: Rgb,
}

/// One point of a scatter plot, with an optional vertical interval.
#[derive(Debug, Clone)]
pub(crate) struct ScatterPoint {
    pub(crate) label: String,
    pub(crate) x: Option<f64>,
    pub(crate) y: Option<f64>,
    pub(crate) y_low: Option<f64>,
    pub(crate) y_high: Option<f64>,
    pub(crate) color: Rgb,
}

/// Axes of a scatter plot.
#[derive(Debug, Clone)]
pub(crate) struct ScatterAxes {
    pub(crate) x_title: String,
    pub(crate) x_format: Style,
    pub(crate) y_title: String,
    pub(crate) y_format: Style,
}

type DrawResult = Result<(), Box<dyn Error>>;
type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;

/// Most points of an ECDF line; larger samples are drawn at this many quantiles.
const ECDF_POINTS: usize = 300;

/// Panels of dot-and-whisker rows stacked in one SVG: each variant's mean
/// with its interval (one panel per metric), or a forest plot of paired
/// differences (one panel per metric, one row per comparison).
pub(crate) fn interval_chart(description: &str, panels: &[IntervalPanel], width: u32) -> String {
    if panels.iter().all(|p| p.rows.is_empty()) {
        return no_data(description, width);
    }
    let caption = |p: &IntervalPanel| if p.title.is_empty() { 0 } else { 24 };
    let heights: Vec<u32> = panels.iter().map(|p| 40 + caption(p) + 30 * p.rows.len().max(1) as u32).collect();
    let height = heights.iter().sum();
    let labels = panels.iter().flat_map(|p| &p.rows).map(|r| r.label.as_str());
    let label_width = label_width(labels);
    draw(description, (width, height), |root| {
        let mut rest = root.clone();
        for (panel, &h) in panels.iter().zip(&heights) {
            let (area, below) = rest.split_vertically(h);
            interval_panel(&area, panel, label_width)?;
            rest = below;
        }
        Ok(())
    })
}

fn interval_panel(area: &Area<'_>, panel: &IntervalPanel, label_width: u32) -> DrawResult {
    let finite: Vec<f64> =
        panel.rows.iter().flat_map(|r| [r.value, r.low, r.high]).flatten().filter(|v| v.is_finite()).collect();
    let Some((low, high)) = padded_range(&finite, panel.differences) else {
        area.draw(&Text::new(panel.title.clone(), (10, 10), font(FONT, &INK).pos(Pos::new(HPos::Left, VPos::Top))))?;
        area.draw(&Text::new("No values to plot.", (10, 34), font(FONT, &MUTED).pos(Pos::new(HPos::Left, VPos::Top))))?;
        return Ok(());
    };
    let n = panel.rows.len();
    let ys: Vec<f64> = (0..n).map(|i| (n - 1 - i) as f64).collect();
    let labels: Vec<String> = panel.rows.iter().map(|r| short(&r.label)).collect();
    let label_at = |y: &f64| ys.iter().position(|v| v == y).map_or_else(String::new, |i| labels[i].clone());
    let tick = |x: &f64| {
        let x = snap(*x, high - low);
        trim_zeros(&if panel.differences { panel.format.signed(x) } else { panel.format.value(x) })
    };

    let mut builder = ChartBuilder::on(area);
    // A panel of a stacked chart names its metric; a lone panel's figure
    // caption already does.
    if !panel.title.is_empty() {
        builder.caption(short(&panel.title), font(FONT, &INK));
    }
    let mut chart = builder
        .margin(6)
        .margin_right(28)
        .x_label_area_size(26)
        .y_label_area_size(label_width)
        .build_cartesian_2d(low..high, RowAxis::new(n))?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .x_labels(6)
        .x_label_formatter(&tick)
        .y_label_formatter(&label_at)
        .label_style(font(SMALL_FONT, &MUTED))
        .axis_style(AXIS)
        .bold_line_style(GRID)
        .light_line_style(TRANSPARENT)
        .draw()?;

    if panel.differences && low <= 0.0 && high >= 0.0 {
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(0.0, -0.6), (0.0, n as f64 - 0.4)],
            MUTED.stroke_width(1),
        )))?;
    }
    for (row, &y) in panel.rows.iter().zip(&ys) {
        let color = row.color.plotters();
        if let (Some(lo), Some(hi)) = (finite_value(row.low), finite_value(row.high)) {
            let whisker = color.stroke_width(2);
            chart.draw_series([
                PathElement::new(vec![(lo, y), (hi, y)], whisker),
                PathElement::new(vec![(lo, y - 0.2), (lo, y + 0.2)], whisker),
                PathElement::new(vec![(hi, y - 0.2), (hi, y + 0.2)], whisker),
            ])?;
        }
        match finite_value(row.value) {
            Some(v) => {
                let text = if panel.differences { panel.format.signed(v) } else { panel.format.value(v) };
                chart.draw_series(std::iter::once(
                    EmptyElement::at((v, y))
                        + Circle::new((0, 0), 5, color.filled())
                        + Text::new(text, (0, -8), font(SMALL_FONT, &INK).pos(Pos::new(HPos::Center, VPos::Bottom))),
                ))?;
            }
            None => {
                chart.draw_series(std::iter::once(Text::new(
                    "no value",
                    (low, y),
                    font(SMALL_FONT, &MUTED).pos(Pos::new(HPos::Left, VPos::Center)),
                )))?;
            }
        }
    }
    Ok(())
}

/// Latency percentiles per variant: a line from p50 to p99 with a circle at
/// p50, a triangle at p90 and a square at p99.
pub(crate) fn percentile_chart(description: &str, rows: &[PercentileRow], format: &Style, width: u32) -> String {
    let finite: Vec<f64> =
        rows.iter().flat_map(|r| [r.p50, r.p90, r.p99]).flatten().filter(|v| v.is_finite()).collect();
    let Some((_, high)) = padded_range(&finite, true) else {
        return no_data(description, width);
    };
    let n = rows.len();
    let height = 84 + 34 * n as u32;
    let label_width = label_width(rows.iter().map(|r| r.label.as_str()));
    draw(description, (width, height), |root| {
        let ys: Vec<f64> = (0..n).map(|i| (n - 1 - i) as f64).collect();
        let labels: Vec<String> = rows.iter().map(|r| short(&r.label)).collect();
        let label_at = |y: &f64| ys.iter().position(|v| v == y).map_or_else(String::new, |i| labels[i].clone());
        let tick = |x: &f64| trim_zeros(&format.value(snap(*x, high)));
        // A legend strip for the three marker shapes, above the plot.
        let (legend, plot) = root.split_vertically(26);
        let (muted, ink) = (MUTED.filled(), font(SMALL_FONT, &INK).pos(Pos::new(HPos::Left, VPos::Center)));
        let x0 = label_width as i32 + 6;
        legend.draw(&Circle::new((x0 + 5, 13), 5, muted))?;
        legend.draw(&Text::new("p50", (x0 + 14, 13), ink.clone()))?;
        legend.draw(&TriangleMarker::new((x0 + 55, 13), 6, muted))?;
        legend.draw(&Text::new("p90", (x0 + 64, 13), ink.clone()))?;
        legend.draw(&Rectangle::new([(x0 + 100, 8), (x0 + 110, 18)], muted))?;
        legend.draw(&Text::new("p99", (x0 + 114, 13), ink))?;
        let mut chart = ChartBuilder::on(&plot)
            .margin(6)
            .margin_right(28)
            .x_label_area_size(26)
            .y_label_area_size(label_width)
            .build_cartesian_2d(0.0..high, RowAxis::new(n))?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .x_labels(6)
            .x_label_formatter(&tick)
            .y_label_formatter(&label_at)
            .label_style(font(SMALL_FONT, &MUTED))
            .axis_style(AXIS)
            .bold_line_style(GRID)
            .light_line_style(TRANSPARENT)
            .draw()?;
        for (row, &y) in rows.iter().zip(&ys) {
            let color = row.color.plotters();
            let points: Vec<f64> =
                [row.p50, row.p90, row.p99].into_iter().flatten().filter(|v| v.is_finite()).collect();
            if let (Some(&first), Some(&last)) = (points.first(), points.last()) {
                chart.draw_series(std::iter::once(PathElement::new(
                    vec![(first, y), (last, y)],
                    color.stroke_width(2),
                )))?;
            }
            if let Some(v) = finite_value(row.p50) {
                chart.draw_series(std::iter::once(
                    EmptyElement::at((v, y))
                        + Circle::new((0, 0), 5, color.filled())
                        + Text::new(
                            format.value(v),
                            (0, -8),
                            font(SMALL_FONT, &INK).pos(Pos::new(HPos::Center, VPos::Bottom)),
                        ),
                ))?;
            }
            if let Some(v) = finite_value(row.p90) {
                chart.draw_series(std::iter::once(TriangleMarker::new((v, y), 6, color.filled())))?;
            }
            if let Some(v) = finite_value(row.p99) {
                chart.draw_series(std::iter::once(
                    EmptyElement::at((v, y))
                        + Rectangle::new([(-5, -5), (5, 5)], color.filled())
                        + Text::new(
                            format.value(v),
                            (0, -8),
                            font(SMALL_FONT, &INK).pos(Pos::new(HPos::Center, VPos::Bottom)),
                        ),
                ))?;
            }
        }
        Ok(())
    })
}

/// Empirical cumulative distribution of each series: the share of values at
/// or below x. Shows the whole distribution, tails included, and overlays
/// cleanly for several variants.
pub(crate) fn ecdf_chart(description: &str, series: &[Series], format: &Style, width: u32) -> String {
    let sorted: Vec<Vec<f64>> = series
        .iter()
        .map(|s| {
            let mut values: Vec<f64> = s.values.iter().copied().filter(|v| v.is_finite()).collect();
            values.sort_by(f64::total_cmp);
            values
        })
        .collect();
    let all: Vec<f64> = sorted.iter().flatten().copied().collect();
    let Some((low, high)) = padded_range(&all, false) else {
        return no_data(description, width);
    };
    let low = if all.iter().all(|&v| v >= 0.0) { low.max(0.0) } else { low };
    draw(description, (width, 300), |root| {
        let tick = |x: &f64| trim_zeros(&format.value(snap(*x, high - low)));
        let share = |y: &f64| format!("{:.0}%", y * 100.0);
        let mut chart = ChartBuilder::on(root)
            .margin(8)
            .margin_right(28)
            .x_label_area_size(40)
            .y_label_area_size(56)
            .build_cartesian_2d(low..high, 0.0..1.02)?;
        chart
            .configure_mesh()
            .x_labels(6)
            .y_labels(6)
            .x_label_formatter(&tick)
            .y_label_formatter(&share)
            .x_desc("end-to-end latency")
            .y_desc("share of responses ≤ x")
            .axis_desc_style(font(SMALL_FONT, &MUTED))
            .label_style(font(SMALL_FONT, &MUTED))
            .axis_style(AXIS)
            .bold_line_style(GRID)
            .light_line_style(TRANSPARENT)
            .draw()?;
        for (s, values) in series.iter().zip(&sorted) {
            if values.is_empty() {
                continue;
            }
            let color = s.color.plotters();
            chart
                .draw_series(LineSeries::new(ecdf_steps(values), color.stroke_width(2)))?
                .label(short(&s.label))
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(3)));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .label_font(font(SMALL_FONT, &INK))
            .background_style(WHITE.mix(0.9))
            .border_style(GRID)
            .draw()?;
        Ok(())
    })
}

/// The staircase of an ECDF over sorted values, at most [`ECDF_POINTS`]
/// steps: above that, steps at evenly spaced quantiles keep the page light.
fn ecdf_steps(sorted: &[f64]) -> Vec<(f64, f64)> {
    let n = sorted.len();
    let steps = n.min(ECDF_POINTS);
    let mut points = Vec::with_capacity(2 * steps + 1);
    let mut previous = 0.0;
    for k in 1..=steps {
        // The k-th of `steps` quantiles; every value when n ≤ ECDF_POINTS.
        let index = (k * n).div_ceil(steps) - 1;
        let (x, y) = (sorted[index], (index + 1) as f64 / n as f64);
        points.push((x, previous));
        points.push((x, y));
        previous = y;
    }
    points
}

/// One labelled point per item, with a vertical interval: cost per sample
/// against quality, say.
pub(crate) fn scatter_chart(description: &str, points: &[ScatterPoint], axes: &ScatterAxes, width: u32) -> String {
    let drawn: Vec<&ScatterPoint> =
        points.iter().filter(|p| finite_value(p.x).is_some() && finite_value(p.y).is_some()).collect();
    let xs: Vec<f64> = drawn.iter().filter_map(|p| p.x).collect();
    let ys: Vec<f64> =
        drawn.iter().flat_map(|p| [p.y, p.y_low, p.y_high]).flatten().filter(|v| v.is_finite()).collect();
    let (Some((x_low, x_high)), Some((y_low, y_high))) = (padded_range(&xs, false), padded_range(&ys, false)) else {
        return no_data(description, width);
    };
    // Room on the right for the labels, and costs start at zero.
    let x_low = if x_low > 0.0 || xs.iter().all(|&x| x >= 0.0) { 0.0 } else { x_low };
    let x_high = x_high + (x_high - x_low) * 0.25;
    draw(description, (width, 320), |root| {
        let x_tick = |x: &f64| trim_zeros(&axes.x_format.value(snap(*x, x_high - x_low)));
        let y_tick = |y: &f64| trim_zeros(&axes.y_format.value(snap(*y, y_high - y_low)));
        let mut chart = ChartBuilder::on(root)
            .margin(10)
            .margin_right(28)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(x_low..x_high, y_low..y_high)?;
        chart
            .configure_mesh()
            .x_labels(6)
            .y_labels(6)
            .x_label_formatter(&x_tick)
            .y_label_formatter(&y_tick)
            .x_desc(short(&axes.x_title))
            .y_desc(short(&axes.y_title))
            .axis_desc_style(font(SMALL_FONT, &MUTED))
            .label_style(font(SMALL_FONT, &MUTED))
            .axis_style(AXIS)
            .bold_line_style(GRID)
            .light_line_style(TRANSPARENT)
            .draw()?;
        for p in drawn {
            let (Some(x), Some(y)) = (p.x, p.y) else { continue };
            let color = p.color.plotters();
            if let (Some(lo), Some(hi)) = (finite_value(p.y_low), finite_value(p.y_high)) {
                chart.draw_series(std::iter::once(PathElement::new(vec![(x, lo), (x, hi)], color.stroke_width(2))))?;
            }
            chart.draw_series(std::iter::once(
                EmptyElement::at((x, y))
                    + Circle::new((0, 0), 6, color.filled())
                    + Text::new(short(&p.label), (10, 0), font(FONT, &INK).pos(Pos::new(HPos::Left, VPos::Center))),
            ))?;
        }
        Ok(())
    })
}

/// The vertical axis of a chart of labelled rows: row `i` of `n` sits at
/// `y = n - 1 - i` (the first row on top), with one tick per row, where the
/// label formatter writes the row's label. (plotters' `with_key_points` has
/// no label formatting, hence this small coordinate of our own.)
struct RowAxis {
    inner: RangedCoordf64,
    rows: usize,
}

impl RowAxis {
    fn new(rows: usize) -> Self {
        RowAxis { inner: (-0.6..rows as f64 - 0.4).into(), rows }
    }
}

impl Ranged for RowAxis {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        self.inner.map(value, limit)
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            (0..self.rows).map(|y| y as f64).collect()
        }
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.inner.range()
    }
}

/// A small SVG that says there is nothing to plot.
pub(crate) fn no_data(description: &str, width: u32) -> String {
    draw(description, (width, 48), |root| {
        root.draw(&Text::new(
            "No data to plot.",
            (12, 24),
            font(FONT, &MUTED).pos(Pos::new(HPos::Left, VPos::Center)),
        ))?;
        Ok(())
    })
}

/// Run `paint` on a white canvas and return the SVG, or a bare "could not be
/// drawn" SVG if plotters reports an error.
fn draw(description: &str, (width, height): (u32, u32), paint: impl FnOnce(&Area<'_>) -> DrawResult) -> String {
    let mut svg = String::new();
    let outcome = {
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(Box::<dyn Error>::from).and_then(|()| paint(&root)).and_then(|()| Ok(root.present()?))
    };
    match outcome {
        Ok(()) => finish_svg(&svg, description),
        Err(_) => format!(
            "<svg class=\"chart\" role=\"img\" width=\"{width}\" height=\"48\" viewBox=\"0 0 {width} 48\" \
             aria-label=\"{}\"><text x=\"12\" y=\"28\" font-family=\"{FAMILY}\" font-size=\"12\">\
             This chart could not be drawn.</text></svg>",
            escape_xml(description)
        ),
    }
}

/// Replace plotters' root tag with one for inline use: no `xmlns` (the HTML
/// parser puts inline `<svg>` in the SVG namespace, and the page must name no
/// URL), a class for the page's CSS, and an accessible description.
fn finish_svg(svg: &str, description: &str) -> String {
    let Some(open_end) = svg.find('>') else {
        return String::new();
    };
    let open = &svg[..open_end];
    let attribute = |name: &str| {
        let start = open.find(&format!(" {name}=\""))? + name.len() + 3;
        let len = open[start..].find('"')?;
        Some(&open[start..start + len])
    };
    let mut out = String::with_capacity(svg.len() + 100);
    out.push_str("<svg class=\"chart\" role=\"img\"");
    for name in ["width", "height", "viewBox"] {
        if let Some(value) = attribute(name) {
            out.push_str(&format!(" {name}=\"{value}\""));
        }
    }
    out.push_str(" aria-label=\"");
    out.push_str(&escape_xml(description));
    out.push('"');
    out.push_str(&svg[open_end..]);
    out
}

/// XML-escape text for an attribute value or element content.
pub(crate) fn escape_xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Control characters are not allowed in XML 1.0.
            c if c.is_control() && !matches!(c, '\n' | '\t') => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

fn font(size: f64, color: &RGBColor) -> TextStyle<'_> {
    (FAMILY, size).into_font().color(color)
}

/// `label` cut to [`LABEL_CHARS`] characters, with an ellipsis, and with
/// control characters (which XML forbids) replaced by spaces.
pub(crate) fn short(label: &str) -> String {
    let clean = |c: char| if c.is_control() { ' ' } else { c };
    let mut chars = label.chars();
    let mut out: String = chars.by_ref().take(LABEL_CHARS).map(clean).collect();
    if chars.next().is_some() {
        out.pop();
        out.push('…');
    }
    out
}

/// Width of a label column that fits the longest (shortened) label.
fn label_width<'a>(labels: impl Iterator<Item = &'a str>) -> u32 {
    let longest = labels.map(|l| short(l).len()).max().unwrap_or(0);
    ((longest as f64 * PX_PER_CHAR) as u32 + 16).clamp(48, 260)
}

/// A tick label without trailing zeros in its fraction (`0.500s` → `0.5s`,
/// `+10.0 pts` → `+10 pts`): ticks are round numbers, and the zeros only
/// crowd the axis.
fn trim_zeros(text: &str) -> String {
    let Some(dot) = text.find('.') else {
        return text.to_owned();
    };
    let end = text[dot + 1..].find(|c: char| !c.is_ascii_digit()).map_or(text.len(), |i| dot + 1 + i);
    let fraction = text[dot + 1..end].trim_end_matches('0');
    let (head, tail) = (&text[..dot], &text[end..]);
    if fraction.is_empty() {
        format!("{head}{tail}")
    } else {
        format!("{head}.{fraction}{tail}")
    }
}

/// A tick value with floating-point dust removed: plotters' ticks near zero
/// can come out as `1e-17` rather than `0`.
fn snap(value: f64, span: f64) -> f64 {
    if value.abs() < span.abs() * 1e-9 {
        0.0
    } else {
        value
    }
}

fn finite_value(value: Option<f64>) -> Option<f64> {
    value.filter(|v| v.is_finite())
}

/// The range of `values` with 8% padding on each side (and room around a
/// single value); `None` when there are no values. `with_zero` stretches it
/// to include 0.
fn padded_range(values: &[f64], with_zero: bool) -> Option<(f64, f64)> {
    let mut low = values.iter().copied().fold(f64::INFINITY, f64::min);
    let mut high = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !low.is_finite() || !high.is_finite() {
        return None;
    }
    if with_zero {
        (low, high) = (low.min(0.0), high.max(0.0));
    }
    let span = high - low;
    let pad = match (span > 0.0, high.abs() > 0.0) {
        (true, _) => span * 0.08,
        (false, true) => high.abs() * 0.1,
        (false, false) => 1.0,
    };
    (low, high) = (low - pad, high + pad);
    Some((low, high))
}

#[cfg(test)]
mod tests;
