//! Charts: well-formed SVG, escaped labels, no panic on odd input.

use super::*;

const EVIL: &str = "<script>alert(1)</script>";

/// A minimal XML well-formedness check: every `<` opens a tag, comment or
/// declaration; tags nest and close; attribute values are quoted; text has no
/// stray `&` that is not an entity. Enough to catch an unescaped label or a
/// broken tag.
fn assert_well_formed(svg: &str) {
    let mut stack: Vec<&str> = Vec::new();
    let mut rest = svg;
    while let Some(at) = rest.find(['<', '&']) {
        let (text, tail) = rest.split_at(at);
        assert!(!text.contains('>'), "stray '>' in text {text:?}");
        if tail.starts_with('&') {
            let end = tail.find(';').unwrap_or_else(|| panic!("unterminated entity in {tail:.40}"));
            let entity = &tail[1..end];
            assert!(
                ["lt", "gt", "amp", "quot", "apos"].contains(&entity) || entity.starts_with('#'),
                "unknown entity {entity:?}"
            );
            rest = &tail[end + 1..];
            continue;
        }
        let end = tail.find('>').unwrap_or_else(|| panic!("unterminated tag in {tail:.60}"));
        let tag = &tail[1..end];
        rest = &tail[end + 1..];
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(stack.pop(), Some(name.trim()), "mismatched </{name}>");
            continue;
        }
        let self_closing = tag.ends_with('/');
        let body = tag.trim_end_matches('/');
        let name = body.split_whitespace().next().expect("a tag name");
        assert!(name.chars().all(|c| c.is_ascii_alphanumeric()), "odd tag name {name:?}");
        // Attributes: name="value" pairs, values without '<' or '"'.
        let mut attrs = body[name.len()..].trim();
        while !attrs.is_empty() {
            let eq = attrs.find("=\"").unwrap_or_else(|| panic!("unquoted attribute in <{tag}>"));
            let value_end = attrs[eq + 2..].find('"').expect("closing quote") + eq + 2;
            assert!(!attrs[eq + 2..value_end].contains('<'), "'<' in attribute of <{tag}>");
            attrs = attrs[value_end + 1..].trim_start();
        }
        if !self_closing {
            stack.push(name);
        }
    }
    assert!(stack.is_empty(), "unclosed tags {stack:?}");
    assert!(svg.starts_with("<svg class=\"chart\""), "{svg:.80}");
    assert!(!svg.contains("http"), "the page names no URL");
}

fn row(label: &str, value: Option<f64>, low: Option<f64>, high: Option<f64>) -> IntervalRow {
    IntervalRow { label: label.into(), value, low, high, color: Rgb(1, 2, 3) }
}

fn panel(title: &str, rows: Vec<IntervalRow>, differences: bool) -> IntervalPanel {
    IntervalPanel { title: title.into(), rows, format: Style::Percent, differences }
}

#[test]
fn interval_chart_draws_rows_with_escaped_labels() {
    let svg = interval_chart(
        "means of em",
        &[panel(
            "exact_match",
            vec![row("baseline", Some(0.5), Some(0.4), Some(0.6)), row(EVIL, Some(0.7), Some(0.55), Some(0.8))],
            false,
        )],
        640,
    );
    assert_well_formed(&svg);
    assert!(svg.contains("exact_match"));
    assert!(svg.contains("baseline"));
    assert!(svg.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{svg}");
    assert!(!svg.contains("<script"));
    assert!(svg.contains("50.0%") && svg.contains("70.0%"), "value labels: {svg}");
    assert!(svg.contains("<circle"));
}

#[test]
fn forest_plot_has_a_zero_line_and_signed_ticks() {
    let svg = interval_chart(
        "differences",
        &[
            panel("em", vec![row("b vs a", Some(0.12), Some(0.02), Some(0.22))], true),
            panel("f1", vec![row("b vs a", Some(-0.01), Some(-0.05), Some(0.03))], true),
        ],
        900,
    );
    assert_well_formed(&svg);
    assert!(svg.contains("+12.0 pts"), "value label: {svg}");
    assert!(svg.contains("\n+10 pts\n</text>"), "tick without trailing zeros: {svg}");
    assert!(svg.contains("em") && svg.contains("f1"));
}

#[test]
fn odd_input_does_not_panic() {
    let nan = Some(f64::NAN);
    let inf = Some(f64::INFINITY);
    let charts = [
        interval_chart("empty", &[], 640),
        interval_chart("no rows", &[panel("m", vec![], false)], 640),
        interval_chart(
            "all missing",
            &[panel("m", vec![row("a", None, None, None), row("b", nan, inf, nan)], false)],
            640,
        ),
        interval_chart(
            "one value",
            &[panel("m", vec![row("a", Some(0.0), None, None), row("b", None, None, None)], true)],
            640,
        ),
        percentile_chart("none", &[], &Style::Seconds, 640),
        percentile_chart(
            "partial",
            &[PercentileRow { label: EVIL.into(), p50: Some(0.5), p90: None, p99: nan, color: Rgb(0, 0, 0) }],
            &Style::Seconds,
            640,
        ),
        ecdf_chart("none", &[], &Style::Seconds, 640),
        ecdf_chart(
            "nan only",
            &[Series { label: "a".into(), values: vec![f64::NAN], color: Rgb(0, 0, 0) }],
            &Style::Seconds,
            640,
        ),
        ecdf_chart(
            "one value",
            &[
                Series { label: "a".into(), values: vec![1.0], color: Rgb(0, 0, 0) },
                Series { label: "b".into(), values: vec![], color: Rgb(0, 0, 0) },
            ],
            &Style::Seconds,
            640,
        ),
        scatter_chart("none", &[], &axes(), 640),
        scatter_chart(
            "missing cost",
            &[ScatterPoint {
                label: "a".into(),
                x: None,
                y: Some(0.5),
                y_low: None,
                y_high: None,
                color: Rgb(0, 0, 0),
            }],
            &axes(),
            640,
        ),
        no_data(EVIL, 640),
    ];
    for svg in &charts {
        assert_well_formed(svg);
    }
    assert!(charts[0].contains("No data to plot."));
    assert!(charts[2].contains("No values to plot."));
    assert!(charts[11].contains("aria-label=\"&lt;script&gt;"), "{}", charts[11]);
}

fn axes() -> ScatterAxes {
    ScatterAxes {
        x_title: "cost per sample".into(),
        x_format: Style::Usd,
        y_title: EVIL.into(),
        y_format: Style::Percent,
    }
}

#[test]
fn percentiles_ecdf_and_scatter_draw_their_data() {
    let p = percentile_chart(
        "latency",
        &[PercentileRow { label: "base".into(), p50: Some(0.5), p90: Some(0.9), p99: Some(1.2), color: Rgb(9, 9, 9) }],
        &Style::Seconds,
        640,
    );
    assert_well_formed(&p);
    assert!(p.contains("0.500s") && p.contains("1.20s"), "{p}");

    let values: Vec<f64> = (0..1000).map(|i| f64::from(i) / 100.0).collect();
    let e = ecdf_chart("latency", &[Series { label: EVIL.into(), values, color: Rgb(9, 9, 9) }], &Style::Seconds, 640);
    assert_well_formed(&e);
    assert!(e.contains("<polyline"));
    // 1000 values are drawn at most at ECDF_POINTS steps.
    assert!(e.len() < 20_000, "{} bytes", e.len());

    let s = scatter_chart(
        "cost",
        &[
            ScatterPoint {
                label: EVIL.into(),
                x: Some(0.002),
                y: Some(0.8),
                y_low: Some(0.7),
                y_high: Some(0.9),
                color: Rgb(1, 1, 1),
            },
            ScatterPoint {
                label: "cheap".into(),
                x: Some(0.001),
                y: Some(0.6),
                y_low: None,
                y_high: None,
                color: Rgb(2, 2, 2),
            },
        ],
        &axes(),
        640,
    );
    assert_well_formed(&s);
    assert!(s.contains("&lt;script&gt;alert(1)&lt;/script&gt;") && s.contains("cheap"), "{s}");
}

#[test]
fn ecdf_steps_end_at_one() {
    let steps = ecdf_steps(&[1.0, 2.0, 3.0]);
    assert_eq!(
        steps,
        vec![(1.0, 0.0), (1.0, 1.0 / 3.0), (2.0, 1.0 / 3.0), (2.0, 2.0 / 3.0), (3.0, 2.0 / 3.0), (3.0, 1.0)]
    );
    let many: Vec<f64> = (0..10_000).map(f64::from).collect();
    let steps = ecdf_steps(&many);
    assert_eq!(steps.len(), 2 * ECDF_POINTS);
    assert_eq!(steps.last(), Some(&(9999.0, 1.0)));
}

#[test]
fn labels_are_shortened_on_char_boundaries() {
    assert_eq!(short("abc"), "abc");
    let long = "é".repeat(40);
    assert_eq!(short(&long).chars().count(), LABEL_CHARS);
    assert!(short(&long).ends_with('…'));
    assert_eq!(short("a\u{7}b"), "a b");
    assert_eq!(trim_zeros("0.500s"), "0.5s");
    assert_eq!(trim_zeros("+10.0 pts"), "+10 pts");
    assert_eq!(trim_zeros("$0.000500"), "$0.0005");
    assert_eq!(trim_zeros("120"), "120");
    assert_eq!(escape_xml("<a href='x'>&\"</a>"), "&lt;a href=&apos;x&apos;&gt;&amp;&quot;&lt;/a&gt;");
}
