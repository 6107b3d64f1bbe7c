//! A small SVG line chart for the bench harness: several series against one
//! x axis, each with its own y axis scale label. Hand-written because the
//! plotting crates' text layout needs a system font stack (font-kit) for
//! their labels; an SVG viewer lays out text itself.

use std::fmt::Write;

/// One line on a chart.
#[derive(Debug, Clone)]
pub struct Series {
    /// Legend text.
    pub name: String,
    /// Stroke colour (CSS).
    pub color: &'static str,
    /// (x, y) points, in data units.
    pub points: Vec<(f64, f64)>,
}

/// One panel: a title, axis labels and its series.
#[derive(Debug, Clone)]
pub struct Panel {
    /// Panel title.
    pub title: String,
    /// Y axis label.
    pub y_label: String,
    /// Optional horizontal reference line (e.g. a limit), with its label.
    pub limit: Option<(f64, String)>,
    /// The lines.
    pub series: Vec<Series>,
}

const W: f64 = 760.0;
const PANEL_H: f64 = 300.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 50.0;

fn nice_max(v: f64) -> f64 {
    if v <= 0.0 || !v.is_finite() {
        return 1.0;
    }
    let mag = 10f64.powf(v.log10().floor());
    for m in [1.0, 2.0, 2.5, 5.0, 10.0] {
        if v <= m * mag {
            return m * mag;
        }
    }
    10.0 * mag
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Renders panels stacked vertically, sharing the x label.
pub fn render(title: &str, x_label: &str, panels: &[Panel]) -> String {
    let height = TOP + panels.len() as f64 * PANEL_H + 10.0;
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{height}" viewBox="0 0 {W} {height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(
        out,
        r##"<rect width="100%" height="100%" fill="#ffffff"/>"##
    );
    let _ = writeln!(
        out,
        r#"<text x="{}" y="22" font-size="16" text-anchor="middle">{}</text>"#,
        W / 2.0,
        esc(title)
    );
    let x_max = nice_max(
        panels
            .iter()
            .flat_map(|p| p.series.iter().flat_map(|s| s.points.iter().map(|p| p.0)))
            .fold(0.0, f64::max),
    );
    for (i, panel) in panels.iter().enumerate() {
        let y0 = TOP + i as f64 * PANEL_H;
        let (px, py, pw, ph) = (LEFT, y0 + 20.0, W - LEFT - RIGHT, PANEL_H - BOTTOM - 20.0);
        let data_max = panel
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.1))
            .chain(panel.limit.as_ref().map(|l| l.0))
            .fold(0.0, f64::max);
        let y_max = nice_max(data_max * 1.05);
        let sx = |x: f64| px + x / x_max * pw;
        let sy = |y: f64| py + ph - (y / y_max).min(1.0) * ph;
        let _ = writeln!(
            out,
            r#"<text x="{px}" y="{}" font-size="13" font-weight="bold">{}</text>"#,
            y0 + 12.0,
            esc(&panel.title)
        );
        let _ = writeln!(
            out,
            r##"<rect x="{px}" y="{py}" width="{pw}" height="{ph}" fill="none" stroke="#888"/>"##
        );
        for k in 0..=5 {
            let f = k as f64 / 5.0;
            let (gx, gy) = (px + f * pw, py + ph - f * ph);
            let _ = writeln!(
                out,
                r##"<line x1="{px}" y1="{gy}" x2="{}" y2="{gy}" stroke="#eee"/>"##,
                px + pw
            );
            let _ = writeln!(
                out,
                r#"<text x="{}" y="{}" text-anchor="end">{}</text>"#,
                px - 6.0,
                gy + 4.0,
                fmt_num(f * y_max)
            );
            let _ = writeln!(
                out,
                r#"<text x="{gx}" y="{}" text-anchor="middle">{}</text>"#,
                py + ph + 16.0,
                fmt_num(f * x_max)
            );
        }
        let _ = writeln!(
            out,
            r#"<text x="18" y="{}" transform="rotate(-90 18 {})" text-anchor="middle">{}</text>"#,
            py + ph / 2.0,
            py + ph / 2.0,
            esc(&panel.y_label)
        );
        let _ = writeln!(
            out,
            r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#,
            px + pw / 2.0,
            py + ph + 34.0,
            esc(x_label)
        );
        if let Some((v, label)) = &panel.limit {
            let ly = sy(*v);
            let _ = writeln!(
                out,
                r##"<line x1="{px}" y1="{ly}" x2="{}" y2="{ly}" stroke="#c00" stroke-dasharray="6 4"/>"##,
                px + pw
            );
            let _ = writeln!(
                out,
                r##"<text x="{}" y="{}" text-anchor="end" fill="#c00">{}</text>"##,
                px + pw - 4.0,
                ly - 4.0,
                esc(label)
            );
        }
        for (j, s) in panel.series.iter().enumerate() {
            let pts: Vec<String> = s
                .points
                .iter()
                .map(|&(x, y)| format!("{:.1},{:.1}", sx(x), sy(y)))
                .collect();
            let _ = writeln!(
                out,
                r#"<polyline fill="none" stroke="{}" stroke-width="2" points="{}"/>"#,
                s.color,
                pts.join(" ")
            );
            for &(x, y) in &s.points {
                let _ = writeln!(
                    out,
                    r#"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{}"/>"#,
                    sx(x),
                    sy(y),
                    s.color
                );
            }
            let lx = px + 10.0 + j as f64 * 180.0;
            let _ = writeln!(
                out,
                r#"<rect x="{lx}" y="{}" width="12" height="3" fill="{}"/>"#,
                py + 10.0,
                s.color
            );
            let _ = writeln!(
                out,
                r#"<text x="{}" y="{}">{}</text>"#,
                lx + 16.0,
                py + 14.0,
                esc(&s.name)
            );
        }
    }
    out.push_str("</svg>\n");
    out
}

fn fmt_num(v: f64) -> String {
    if v >= 100.0 || v == 0.0 {
        format!("{v:.0}")
    } else if v >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_series_and_escapes_text() {
        let svg = render(
            "a <b> & c",
            "players",
            &[Panel {
                title: "latency".into(),
                y_label: "ms".into(),
                limit: Some((60.0, "limit".into())),
                series: vec![Series {
                    name: "p99".into(),
                    color: "red",
                    points: vec![(50.0, 26.0), (500.0, 40.0)],
                }],
            }],
        );
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("a &lt;b&gt; &amp; c"));
        assert_eq!(svg.matches("<circle").count(), 2);
        assert!(svg.contains("stroke-dasharray"));
    }

    #[test]
    fn axis_maxima_are_round() {
        assert_eq!(nice_max(0.0), 1.0);
        assert_eq!(nice_max(3.2), 5.0);
        assert_eq!(nice_max(48.0), 50.0);
        assert_eq!(nice_max(5001.0), 10000.0);
    }
}
