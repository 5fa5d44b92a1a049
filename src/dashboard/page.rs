//! The dashboard's HTML, rendered from a [`View`] on the server: every name and value escaped
//! here ([`esc`]), no inline script or style (the Content-Security-Policy forbids both), and the
//! values a test or a script reads carried raw in `data-v` beside their formatted text.
//! `assets/dashboard.js` only swaps in the fresh `<main>` this module renders.

use std::fmt::Write as _;

use super::View;
use super::curve::Curve;
use crate::report::chart;

/// HTML-escapes text and attribute values (quotes included).
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// The page's base path.
pub fn base(slug: &str) -> String {
    format!("/account/cluster/{}", percent(slug))
}

/// A path segment percent-encoded (slugs are validated, artifact names come from keys).
pub fn percent(s: &str) -> String {
    let mut o = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~=".contains(&b) {
            o.push(b as char);
        } else {
            let _ = write!(o, "%{b:02X}");
        }
    }
    o
}

fn num(v: Option<f64>, digits: usize, unit: &str) -> String {
    v.map_or("–".into(), |v| format!("{v:.digits$}{unit}"))
}

fn raw(v: Option<f64>) -> String {
    v.map_or(String::new(), |v| v.to_string())
}

/// A table cell with its formatted text and its raw value.
fn td(field: &str, raw_value: &str, text: &str) -> String {
    format!(r#"<td data-f="{}" data-v="{}">{}</td>"#, esc(field), esc(raw_value), esc(text))
}

fn money(v: Option<f64>) -> String {
    match v {
        None => "–".into(),
        Some(v) if v >= 100.0 => format!("${v:.0}"),
        Some(v) if v >= 1.0 => format!("${v:.2}"),
        Some(v) => format!("${v:.4}"),
    }
}

/// The whole page.
pub fn page(v: &View, error: Option<&str>) -> String {
    let b = base(&v.cluster);
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="icon" href="/assets/icon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/assets/dashboard.css">
<script src="/assets/dashboard.js" defer></script>
</head>
<body data-fragment="{b}/fragment" data-refresh="{refresh}">
<header><h1>garnet · <span id="cluster">{cluster}</span></h1><p id="conn" class="conn">live: refreshes every {refresh} s</p></header>
{main}
<footer>garnet {version} · read-only · data from the cluster's store · <a href="{b}/state.json">state.json</a> · <a href="/assets/LICENSE.txt">code license</a></footer>
</body>
</html>
"#,
        title = esc(&format!("garnet · {}", v.cluster)),
        cluster = esc(&v.cluster),
        refresh = v.refresh_secs,
        main = fragment(v, error),
        version = env!("CARGO_PKG_VERSION"),
    )
}

/// The live part (`<main id="live">`), swapped in by the script on each refresh.
pub fn fragment(v: &View, error: Option<&str>) -> String {
    let b = base(&v.cluster);
    let s = &v.status;
    let mut o = String::new();
    let _ = write!(o, r#"<main id="live" data-version="{}" data-at="{}">"#, v.version, esc(&s.at));
    let _ = write!(o, r#"<p class="updated">as of <time datetime="{t}">{t}</time></p>"#, t = esc(&s.at));
    if let Some(e) = error {
        let _ = write!(
            o,
            r#"<p class="error" role="alert">The last refresh failed: {}. Showing the one before.</p>"#,
            esc(e)
        );
    }
    let any_sample = s.nodes.iter().any(|n| n.sample.is_some()) || v.first_sample.is_some();
    if !any_sample {
        let _ = write!(
            o,
            r#"<section id="empty" class="empty"><h2>Waiting for the first sample</h2><p>No node of {c} has sent a sample to the store yet. Once <code>garnet deploy</code> has started the monitors, the first sample arrives within a minute and the first cost-per-token point with the first traffic.</p></section>"#,
            c = esc(&v.cluster)
        );
    }

    // Headline tiles.
    let rps: f64 = v.status.backends.iter().map(|b| b.requests_per_s).sum::<f64>() + 0.0;
    let last = v.hourly.points.last();
    let _ = write!(
        o,
        r#"<section class="tiles"><div class="tile"><span class="k">nodes up</span><span class="n" id="nodes-up" data-v="{up}">{up} / {total}</span></div><div class="tile"><span class="k">requests / s</span><span class="n" id="rps" data-v="{rps}">{rps:.2}</span></div><div class="tile"><span class="k">tokens / s (prompt + completion)</span><span class="n" id="tps" data-v="{tps}">{tps:.1}</span></div><div class="tile"><span class="k">$ per million tokens now</span><span class="n" id="usd-per-mtok" data-v="{now}">{now_t}</span></div><div class="tile"><span class="k">$ per million tokens, this hour</span><span class="n" id="usd-per-mtok-hour" data-v="{hour}">{hour_t}</span></div></section>"#,
        up = s.nodes_up,
        total = s.nodes.len(),
        rps = rps,
        tps = s.prompt_and_completion_tokens_per_s,
        now = raw(s.usd_per_mtok),
        now_t = money(s.usd_per_mtok),
        hour = raw(last.and_then(|p| p.all_in_usd_per_mtok)),
        hour_t = money(last.and_then(|p| p.all_in_usd_per_mtok)),
    );

    // The cost curve.
    o.push_str(r#"<section id="cost"><h2>Cost per million tokens</h2>"#);
    match (&v.hourly.not_computed, v.hourly.points.is_empty()) {
        (Some(why), _) => {
            let _ = write!(o, r#"<p class="note">Not computed: {}.</p>"#, esc(why));
        }
        (None, true) => o.push_str(
            r#"<p class="note">No point yet: a point needs a sampled hour with traffic. It appears with the first tokens served.</p>"#,
        ),
        (None, false) => {
            let _ = write!(
                o,
                r#"<figure><img id="cost-hour" src="{b}/cost-hour.svg?v={ver}" alt="cost per million tokens per hour, per model and all-in, beside the API prices" width="720" height="260"><figcaption>Per hour, from the first sample ({first}). Solid: garnet's cost (all-in: every node's fixed cost and measured energy, idle included, over all tokens; per model: its allocated share). Dashed: what the same tokens would cost at each API.</figcaption></figure>"#,
                ver = v.version,
                first = esc(v.first_sample.as_deref().unwrap_or("–")),
            );
            if v.daily.points.len() > 1 {
                let _ = write!(
                    o,
                    r#"<figure><img id="cost-day" src="{b}/cost-day.svg?v={ver}" alt="cost per million tokens per day" width="720" height="260"><figcaption>Per day.</figcaption></figure>"#,
                    ver = v.version
                );
            }
            o.push_str(&points_table(&v.hourly, 6));
        }
    }
    o.push_str("</section>");

    // Models.
    o.push_str(r#"<section id="models"><h2>Models</h2>"#);
    if s.models.is_empty() {
        o.push_str(r#"<p class="note">No traffic in the latest samples.</p>"#);
    } else {
        o.push_str(r#"<table id="model-table"><thead><tr><th>model</th><th>requests (last window)</th><th>failed</th><th>p50</th><th>p95</th><th>completion tokens / s</th><th>queue</th><th>prompt-cache hits</th></tr></thead><tbody>"#);
        for m in &s.models {
            let _ = write!(
                o,
                r#"<tr data-model="{}"><th scope="row">{}</th>{}{}{}{}{}{}{}</tr>"#,
                esc(&m.model),
                esc(&m.model),
                td("requests", &m.requests.to_string(), &m.requests.to_string()),
                td("failures", &m.failures.to_string(), &m.failures.to_string()),
                td("p50_ms", &raw(m.p50_ms), &num(m.p50_ms, 0, " ms")),
                td("p95_ms", &raw(m.p95_ms), &num(m.p95_ms, 0, " ms")),
                td("tokens_per_s", &raw(m.tokens_per_s), &num(m.tokens_per_s, 1, "")),
                td(
                    "queue_depth",
                    &m.queue_depth.map_or(String::new(), |q| q.to_string()),
                    &m.queue_depth.map_or("–".into(), |q| q.to_string())
                ),
                td(
                    "kv_cache_hit_rate",
                    &raw(m.kv_cache_hit_rate),
                    &num(m.kv_cache_hit_rate.map(|r| r * 100.0), 0, "%")
                ),
            );
        }
        o.push_str("</tbody></table>");
    }
    if !s.backends.is_empty() {
        o.push_str(r#"<h3>Per node</h3><table id="backends"><thead><tr><th>model</th><th>node</th><th>requests / s</th><th>p50</th><th>p95</th><th>completion tokens / s</th><th>busy</th><th>prompt-cache hits</th></tr></thead><tbody>"#);
        for bk in &s.backends {
            let _ = write!(
                o,
                r#"<tr data-model="{m}" data-node="{n}"><td>{m}</td><td>{n}</td>{}{}{}{}{}{}</tr>"#,
                td("requests_per_s", &bk.requests_per_s.to_string(), &format!("{:.2}", bk.requests_per_s)),
                td("p50_ms", &raw(bk.p50_ms), &num(bk.p50_ms, 0, " ms")),
                td("p95_ms", &raw(bk.p95_ms), &num(bk.p95_ms, 0, " ms")),
                td(
                    "completion_tokens_per_s",
                    &bk.completion_tokens_per_s.to_string(),
                    &format!("{:.1}", bk.completion_tokens_per_s)
                ),
                td("busy_share", &bk.busy_share.to_string(), &format!("{:.0}%", bk.busy_share * 100.0)),
                td(
                    "kv_cache_hit_rate",
                    &raw(bk.kv_cache_hit_rate),
                    &num(bk.kv_cache_hit_rate.map(|r| r * 100.0), 0, "%")
                ),
                m = esc(&bk.model),
                n = esc(if bk.node.is_empty() { "?" } else { &bk.node }),
            );
        }
        o.push_str("</tbody></table>");
    }
    o.push_str("</section>");

    // Nodes.
    o.push_str(r#"<section id="nodes"><h2>Nodes</h2><table><thead><tr><th>node</th><th>state</th><th>last sample</th><th>memory used</th><th>pressure</th><th>hottest</th><th>throttled</th><th>power</th></tr></thead><tbody>"#);
    for n in &s.nodes {
        let smp = n.sample.as_ref();
        let mem = smp.map(|s| &s.memory);
        let used = mem.and_then(|m| m.used_bytes);
        let total = mem.and_then(|m| m.total_bytes);
        let th = smp.map(|s| &s.thermal);
        let celsius = th.and_then(|t| t.max_celsius);
        let limit = th.and_then(|t| t.cpu_speed_limit);
        let throttled =
            smp.map(|s| crate::telemetry::summary::throttled(s.thermal.cpu_speed_limit, s.thermal.pressure.as_deref()));
        let watts = smp.and_then(|s| s.power.as_ref()).and_then(|p| p.system_watts.or(p.package_watts));
        let _ = write!(
            o,
            r#"<tr data-node="{nm}" class="state-{cls}"><th scope="row">{nm}</th>{}{}{}{}{}{}{}</tr>"#,
            td("state", n.state, n.state),
            td(
                "age_secs",
                &n.age_secs.map_or(String::new(), |a| a.to_string()),
                &n.age_secs.map_or("never".into(), |a| format!(
                    "{} ago",
                    crate::util::human_duration(std::time::Duration::from_secs(a.max(0) as u64))
                )),
            ),
            td(
                "used_bytes",
                &used.map_or(String::new(), |u| u.to_string()),
                &match (used, total) {
                    (Some(u), Some(t)) => format!("{} / {}", crate::util::human_bytes(u), crate::util::human_bytes(t)),
                    _ => "–".into(),
                },
            ),
            td(
                "memory_pressure",
                mem.and_then(|m| m.pressure.as_deref()).unwrap_or(""),
                mem.and_then(|m| m.pressure.as_deref()).unwrap_or("–")
            ),
            td("max_celsius", &raw(celsius), &num(celsius, 0, " °C")),
            td(
                "throttled",
                &throttled.map_or(String::new(), |t| t.to_string()),
                &match (throttled, limit) {
                    (Some(true), Some(l)) if l < 100 => format!("yes, CPU at {l}%"),
                    (Some(true), _) => format!("yes, {}", th.and_then(|t| t.pressure.as_deref()).unwrap_or("pressure")),
                    (Some(false), _) => "no".into(),
                    (None, _) => "–".into(),
                },
            ),
            td("watts", &raw(watts), &num(watts, 0, " W")),
            nm = esc(&n.node),
            cls = n.state.replace(' ', "-"),
        );
    }
    o.push_str("</tbody></table></section>");

    // Placement.
    o.push_str(r#"<section id="placement"><h2>Placement</h2>"#);
    if v.placement.is_empty() {
        o.push_str(r#"<p class="note">No model is placed.</p>"#);
    } else {
        o.push_str("<table><thead><tr><th>model</th><th>nodes (the entry serving it there)</th></tr></thead><tbody>");
        for p in &v.placement {
            let nodes: Vec<String> = p
                .nodes
                .iter()
                .map(|(n, e)| {
                    if e == &p.model {
                        format!(r#"<span class="chip">{}</span>"#, esc(n))
                    } else {
                        format!(r#"<span class="chip">{} ({})</span>"#, esc(n), esc(e))
                    }
                })
                .collect();
            let _ = write!(
                o,
                r#"<tr data-model="{m}"><th scope="row">{m}</th><td>{}</td></tr>"#,
                nodes.join(" "),
                m = esc(&p.model)
            );
        }
        o.push_str("</tbody></table>");
    }
    o.push_str("</section>");

    // Events and operator actions.
    o.push_str(r#"<section id="events"><h2>Recent events</h2>"#);
    if v.events.is_empty() {
        o.push_str(r#"<p class="note">No loader event in the last 7 days.</p>"#);
    } else {
        o.push_str("<table><thead><tr><th>when</th><th>node</th><th>what</th><th>model</th><th>detail</th></tr></thead><tbody>");
        for e in &v.events {
            let kind = e["kind"].as_str().unwrap_or("?");
            let detail = if e["exit"].is_object() { crate::placement::diff::exit_detail(e) } else { String::new() };
            let _ = write!(
                o,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(e["at"].as_str().unwrap_or("")),
                esc(e["node"].as_str().unwrap_or("")),
                esc(&kind.replace('_', " ")),
                esc(e["model"].as_str().unwrap_or("")),
                esc(&detail)
            );
        }
        o.push_str("</tbody></table>");
    }
    o.push_str(r#"</section><section id="audit"><h2>Operator actions</h2>"#);
    if v.audit.is_empty() {
        o.push_str(r#"<p class="note">No garnet run recorded in the last 30 days.</p>"#);
    } else {
        o.push_str("<table><thead><tr><th>started</th><th>who</th><th>command</th><th>message</th><th>outcome</th></tr></thead><tbody>");
        for a in &v.audit {
            let code = a["exit_code"].as_u64();
            let outcome = match (code, a["error"].as_str()) {
                (Some(0), _) => "ok".to_string(),
                (_, Some(e)) => format!("failed: {e}"),
                (Some(c), None) => format!("exit {c}"),
                (None, None) => "?".into(),
            };
            let _ = write!(
                o,
                "<tr><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
                esc(a["started_at"].as_str().unwrap_or("")),
                esc(&format!("{}@{}", a["user"].as_str().unwrap_or("?"), a["host"].as_str().unwrap_or("?"))),
                esc(a["command"].as_str().unwrap_or("")),
                esc(a["message"].as_str().unwrap_or("")),
                esc(&outcome)
            );
        }
        o.push_str("</tbody></table>");
    }
    o.push_str("</section>");

    // Artifacts.
    o.push_str(r#"<section id="artifacts"><h2>Reports and weekly reviews</h2>"#);
    if v.artifacts.is_empty() {
        o.push_str(r#"<p class="note">None yet: <code>garnet placement diff</code> writes the weekly review, <code>garnet report</code> the monthly report (<code>garnet schedule install</code> runs both on their own).</p>"#);
    } else {
        o.push_str("<ul>");
        for a in &v.artifacts {
            let label = match (a.kind, a.name.as_str()) {
                ("monthly", "report.pdf") => format!("Monthly report {} (PDF)", a.period),
                ("monthly", n) => format!("Monthly report {} ({n})", a.period),
                (_, n) => format!("Weekly review {} — {n}", a.period.replace('_', " → ")),
            };
            let _ = write!(
                o,
                r#"<li><a href="{b}/files/{}/{}/{}">{}</a></li>"#,
                a.kind,
                percent(&a.period),
                percent(&a.name),
                esc(&label)
            );
        }
        o.push_str("</ul>");
    }
    o.push_str("</section>");
    if !v.skipped.is_empty() {
        let _ = write!(o, r#"<p class="note">Unreadable objects skipped: {}.</p>"#, esc(&v.skipped.join(", ")));
    }
    o.push_str("</main>");
    o
}

/// The latest points of a curve as a table (the values the chart draws).
fn points_table(c: &Curve, n: usize) -> String {
    let mut o = String::new();
    let pts: Vec<_> = c.points.iter().rev().take(n).collect();
    let models: Vec<&String> = pts.first().map(|p| p.models.keys().collect()).unwrap_or_default();
    let apis: Vec<&String> = pts.first().map(|p| p.apis.keys().collect()).unwrap_or_default();
    o.push_str(
        r#"<table id="cost-points"><thead><tr><th>hour (UTC)</th><th>tokens</th><th>cost</th><th>all-in $/M</th>"#,
    );
    for m in &models {
        let _ = write!(o, "<th>{} $/M</th>", esc(m));
    }
    for a in &apis {
        let _ = write!(o, r#"<th class="api">{} $/M</th>"#, esc(a));
    }
    o.push_str("</tr></thead><tbody>");
    for p in pts {
        let _ = write!(
            o,
            r#"<tr data-start="{s}"><td>{s}</td>{}{}{}"#,
            td("tokens", &p.tokens.to_string(), &chart::short(p.tokens as f64)),
            td("usd", &p.usd.to_string(), &money(Some(p.usd))),
            td("all_in_usd_per_mtok", &raw(p.all_in_usd_per_mtok), &money(p.all_in_usd_per_mtok)),
            s = esc(&p.start)
        );
        for m in &models {
            let x = p.models.get(*m).copied().flatten();
            o.push_str(&td(&format!("model:{m}"), &raw(x), &money(x)));
        }
        for a in &apis {
            let x = p.apis.get(*a).copied().flatten();
            o.push_str(&td(&format!("api:{a}"), &raw(x), &money(x)));
        }
        o.push_str("</tr>");
    }
    o.push_str("</tbody></table>");
    o
}

/// A curve as an SVG line chart: all-in and per model solid, the APIs dashed; a bucket with no
/// tokens breaks the lines.
pub fn chart(c: &Curve) -> String {
    let (Some(first), Some(last)) = (c.points.first(), c.points.last()) else {
        return String::new();
    };
    let t = |p: &super::curve::Point| p.start.parse::<jiff::Timestamp>().map_or(0.0, |t| t.as_second() as f64);
    // The axis runs to the end of the last bucket, so a lone first point has a real time scale.
    let width = if c.by == "day" { 86_400.0 } else { 3_600.0 };
    let (x0, x1) = (t(first), t(last) + width);
    let y = |v: Option<f64>| v.unwrap_or(f64::NAN);
    let mut series = vec![chart::Series {
        name: "all-in".into(),
        colour: chart::PALETTE[0],
        points: c.points.iter().map(|p| (t(p), y(p.all_in_usd_per_mtok))).collect(),
        dashed: false,
    }];
    let models: Vec<&String> = last.models.keys().collect();
    for (k, m) in models.iter().enumerate() {
        series.push(chart::Series {
            name: (*m).clone(),
            colour: chart::PALETTE[(1 + k) % chart::PALETTE.len()],
            points: c.points.iter().map(|p| (t(p), y(p.models.get(*m).copied().flatten()))).collect(),
            dashed: false,
        });
    }
    for (k, a) in last.apis.keys().enumerate() {
        series.push(chart::Series {
            name: a.clone(),
            colour: chart::PALETTE[(1 + models.len() + k) % chart::PALETTE.len()],
            points: c.points.iter().map(|p| (t(p), y(p.apis.get(a).copied().flatten()))).collect(),
            dashed: true,
        });
    }
    let style = chart::Style { width: 720.0, height: 260.0, font: "sans-serif", unit: "$ per million tokens" };
    let by = c.by;
    chart::lines(&series, &style, x0, x1, &|x| {
        jiff::Timestamp::from_second(x as i64)
            .map(|t| {
                let z = t.to_zoned(jiff::tz::TimeZone::UTC);
                // Days as dates once the ticks are a day or more apart.
                if by == "day" && x1 - x0 >= 4.0 * 86_400.0 {
                    z.strftime("%b %d").to_string()
                } else if x1 - x0 <= 6.0 * 3_600.0 {
                    z.strftime("%H:%M").to_string()
                } else {
                    z.strftime("%b %d %H:00").to_string()
                }
            })
            .unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_covers_attributes_and_text() {
        assert_eq!(
            esc(r#"<img src=x onerror="a('b')">&"#),
            "&lt;img src=x onerror=&quot;a(&#39;b&#39;)&quot;&gt;&amp;"
        );
        assert_eq!(percent("a b/../c"), "a%20b%2F..%2Fc");
        assert_eq!(base("acme-1"), "/account/cluster/acme-1");
    }
}
