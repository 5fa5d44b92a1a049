//! Charts as SVG text, the same bytes for the same data: the monthly report embeds them in its
//! PDF, the dashboard inlines them. No script, no external font or image: text is set in the
//! family the caller names (the report's embedded fonts).

use std::fmt::Write;

/// One bar: its label (under the axis) and its value (`None`: no data, drawn as a hatched gap
/// and never as a zero).
pub struct Bar {
    pub label: String,
    pub value: Option<f64>,
}

pub struct Style<'a> {
    pub width: f64,
    pub height: f64,
    pub font: &'a str,
    /// What the values are, shown at the top left (e.g. `tokens per day`).
    pub unit: &'a str,
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// A round axis maximum at or over `max` (1, 2 or 5 × a power of ten) and its tick step.
pub fn nice_max(max: f64) -> (f64, f64) {
    if max <= 0.0 || !max.is_finite() {
        return (1.0, 0.25);
    }
    let p = 10f64.powf(max.log10().floor());
    for m in [1.0, 2.0, 2.5, 5.0, 10.0] {
        if m * p >= max {
            let top = m * p;
            let step = if m == 2.5 { top / 5.0 } else { top / 4.0 };
            return (top, step);
        }
    }
    (10.0 * p, 2.5 * p)
}

/// `1234567` → `1.2M`, `1500` → `1.5k`, `12` → `12`.
pub fn short(v: f64) -> String {
    let a = v.abs();
    let (x, s) = if a >= 1e9 {
        (v / 1e9, "B")
    } else if a >= 1e6 {
        (v / 1e6, "M")
    } else if a >= 1e3 {
        (v / 1e3, "k")
    } else {
        (v, "")
    };
    let t = if x.fract().abs() < 1e-9 { format!("{x:.0}") } else { format!("{x:.1}") };
    format!("{}{s}", t.trim_end_matches(".0"))
}

/// The opening tag, the unit at the top left, and the y axis's grid lines with their labels
/// (`plot`: left, top, width, height of the plot area; `y`: where a value sits).
fn open(
    s: &mut String,
    style: &Style<'_>,
    plot: (f64, f64, f64, f64),
    (ymax, step): (f64, f64),
    y: &dyn Fn(f64) -> f64,
    label: &dyn Fn(f64) -> String,
) {
    let (w, h) = (style.width, style.height);
    let (left, _, pw, _) = plot;
    let _ = write!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="{f}" font-size="8">"##,
        f = esc(style.font)
    );
    let _ = write!(s, r##"<text x="0" y="9" fill="#555">{}</text>"##, esc(style.unit));
    let mut t = 0.0;
    while t <= ymax + step / 2.0 {
        let y = y(t);
        let _ = write!(
            s,
            r##"<line x1="{left}" y1="{y:.2}" x2="{x2:.2}" y2="{y:.2}" stroke="#ddd" stroke-width="0.5"/><text x="{tx:.2}" y="{ty:.2}" text-anchor="end" fill="#555">{}</text>"##,
            label(t),
            x2 = left + pw,
            tx = left - 4.0,
            ty = y + 3.0
        );
        t += step;
    }
}

/// The x axis line and the closing tag.
fn close(s: &mut String, (left, top, pw, ph): (f64, f64, f64, f64)) {
    let _ = write!(
        s,
        r##"<line x1="{left}" y1="{y:.2}" x2="{x2:.2}" y2="{y:.2}" stroke="#333" stroke-width="0.8"/></svg>"##,
        y = top + ph,
        x2 = left + pw
    );
}

/// A bar chart with a y axis of round ticks; every `label_every`-th label shown.
pub fn bars(bars: &[Bar], style: &Style<'_>, label_every: usize) -> String {
    let (w, h) = (style.width, style.height);
    let (left, right, top, bottom) = (44.0, 6.0, 18.0, 22.0);
    let (pw, ph) = (w - left - right, h - top - bottom);
    let max = bars.iter().filter_map(|b| b.value).fold(0.0, f64::max);
    let (ymax, step) = nice_max(max);
    let mut s = String::new();
    open(&mut s, style, (left, top, pw, ph), (ymax, step), &|t| top + ph - t / ymax * ph, &short);
    let n = bars.len().max(1) as f64;
    let slot = pw / n;
    let bw = (slot * 0.72).max(0.5);
    for (k, b) in bars.iter().enumerate() {
        let x = left + slot * k as f64 + (slot - bw) / 2.0;
        match b.value {
            Some(v) => {
                let bh = (v / ymax * ph).max(if v > 0.0 { 0.5 } else { 0.0 });
                let _ = write!(
                    s,
                    r##"<rect x="{x:.2}" y="{y:.2}" width="{bw:.2}" height="{bh:.2}" fill="#2f5d8a"/>"##,
                    y = top + ph - bh
                );
            }
            None => {
                let _ = write!(
                    s,
                    r##"<rect x="{x:.2}" y="{top:.2}" width="{bw:.2}" height="{ph:.2}" fill="none" stroke="#c0392b" stroke-width="0.6" stroke-dasharray="2,2"/>"##
                );
            }
        }
        if label_every > 0 && k % label_every == 0 {
            let _ = write!(
                s,
                r##"<text x="{cx:.2}" y="{ly:.2}" text-anchor="middle" fill="#333">{}</text>"##,
                esc(&b.label),
                cx = x + bw / 2.0,
                ly = top + ph + 11.0
            );
        }
    }
    close(&mut s, (left, top, pw, ph));
    s
}

/// One line of a line chart: points (x, y) in the caller's units, and its colour.
pub struct Series {
    pub name: String,
    pub colour: &'static str,
    pub points: Vec<(f64, f64)>,
    /// Drawn dashed (a reference such as an API price).
    pub dashed: bool,
}

/// Colours for series, in order.
pub const PALETTE: [&str; 6] = ["#2f5d8a", "#c0392b", "#27ae60", "#8e44ad", "#d68910", "#566573"];

/// A line chart over `[x0, x1]` with a legend; `x_label` turns an x into its tick text.
pub fn lines(series: &[Series], style: &Style<'_>, x0: f64, x1: f64, x_label: &dyn Fn(f64) -> String) -> String {
    let (w, h) = (style.width, style.height);
    let legend = 12.0 * series.len().div_ceil(3) as f64;
    // Room on the right for half of the last tick's label.
    let (left, right, top, bottom) = (48.0, 28.0, 18.0, 22.0 + legend);
    let (pw, ph) = (w - left - right, h - top - bottom);
    let max = series.iter().flat_map(|s| s.points.iter().map(|p| p.1).filter(|y| y.is_finite())).fold(0.0, f64::max);
    let (ymax, step) = nice_max(max);
    let span = if x1 > x0 { x1 - x0 } else { 1.0 };
    let px = |x: f64| left + (x - x0) / span * pw;
    let py = |y: f64| top + ph - (y / ymax).clamp(0.0, 1.05) * ph;
    let mut s = String::new();
    open(&mut s, style, (left, top, pw, ph), (ymax, step), &py, &|t| short_money(t, step));
    for k in 0..=4 {
        let x = x0 + span * f64::from(k) / 4.0;
        let _ = write!(
            s,
            r##"<text x="{cx:.2}" y="{ly:.2}" text-anchor="middle" fill="#333">{}</text>"##,
            esc(&x_label(x)),
            cx = px(x),
            ly = top + ph + 11.0
        );
    }
    for (k, se) in series.iter().enumerate() {
        if se.points.is_empty() {
            continue;
        }
        let dash = if se.dashed { r#" stroke-dasharray="4,3""# } else { "" };
        // A point whose y is not a number breaks the line (a gap in the data, not a zero).
        for run in se.points.split(|p| !p.1.is_finite()).filter(|r| !r.is_empty()) {
            if run.len() == 1 {
                let (x, y) = run[0];
                let _ = write!(s, r##"<circle cx="{:.2}" cy="{:.2}" r="2" fill="{}"/>"##, px(x), py(y), se.colour);
            } else {
                let d: Vec<String> = run.iter().map(|&(x, y)| format!("{:.2},{:.2}", px(x), py(y))).collect();
                let _ = write!(
                    s,
                    r##"<polyline points="{}" fill="none" stroke="{}" stroke-width="1.2"{dash}/>"##,
                    d.join(" "),
                    se.colour
                );
            }
        }
        let (lx, ly) = (left + (k % 3) as f64 * pw / 3.0, top + ph + 24.0 + 12.0 * (k / 3) as f64);
        let _ = write!(
            s,
            r##"<line x1="{lx:.2}" y1="{y:.2}" x2="{x2:.2}" y2="{y:.2}" stroke="{c}" stroke-width="1.5"{dash}/><text x="{tx:.2}" y="{ly:.2}" fill="#333">{}</text>"##,
            esc(&se.name),
            c = se.colour,
            y = ly - 3.0,
            x2 = lx + 14.0,
            tx = lx + 18.0
        );
    }
    close(&mut s, (left, top, pw, ph));
    s
}

/// A dollar tick: as many decimals as the step needs.
fn short_money(v: f64, step: f64) -> String {
    let decimals = if step >= 1.0 { 0 } else { (-step.log10()).ceil() as usize };
    format!("${v:.decimals$}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_are_round_and_cover_the_data() {
        assert_eq!(nice_max(7.3), (10.0, 2.5));
        assert_eq!(nice_max(180.0), (200.0, 50.0));
        assert_eq!(nice_max(2.2), (2.5, 0.5));
        assert_eq!(nice_max(0.0), (1.0, 0.25));
        assert_eq!(short(1_234_567.0), "1.2M");
        assert_eq!(short(1500.0), "1.5k");
        assert_eq!(short(2_000_000.0), "2M");
        assert_eq!(short_money(0.05, 0.025), "$0.05");
    }

    #[test]
    fn lines_draw_each_series_and_a_lone_point() {
        let series = [
            Series { name: "llama".into(), colour: PALETTE[0], points: vec![(0.0, 0.5), (1.0, 0.8)], dashed: false },
            Series {
                name: "API <list>".into(),
                colour: PALETTE[1],
                points: vec![(0.0, 1.2), (1.0, 1.2)],
                dashed: true,
            },
            Series { name: "first".into(), colour: PALETTE[2], points: vec![(0.5, 0.3)], dashed: false },
            Series {
                name: "gap".into(),
                colour: PALETTE[3],
                points: vec![(0.0, 0.1), (0.2, 0.2), (0.4, f64::NAN), (0.6, 0.1), (0.8, 0.1)],
                dashed: false,
            },
        ];
        let style = Style { width: 400.0, height: 160.0, font: "X", unit: "$ per million tokens" };
        let s = lines(&series, &style, 0.0, 1.0, &|x| format!("t{x}"));
        assert_eq!(s.matches("<polyline").count(), 4, "{s}");
        assert_eq!(s.matches("<circle").count(), 1, "{s}");
        // The dashed series is dashed in the plot and in the legend; the axis tops at $2.0.
        assert_eq!(s.matches("stroke-dasharray=\"4,3\"").count(), 2, "{s}");
        assert!(s.contains(">$2.0<") && s.contains("API &lt;list&gt;") && s.contains(">t0.5<"), "{s}");
    }

    #[test]
    fn a_missing_day_is_a_gap_not_a_zero_and_names_are_escaped() {
        let b = [
            Bar { label: "1".into(), value: Some(10.0) },
            Bar { label: "<2>".into(), value: None },
            Bar { label: "3".into(), value: Some(0.0) },
        ];
        let s = bars(&b, &Style { width: 300.0, height: 100.0, font: "X", unit: "tokens & more" }, 1);
        assert_eq!(s.matches("stroke-dasharray").count(), 1, "{s}");
        assert!(s.contains("&lt;2&gt;") && s.contains("tokens &amp; more"));
        assert_eq!(s, bars(&b, &Style { width: 300.0, height: 100.0, font: "X", unit: "tokens & more" }, 1));
    }
}
