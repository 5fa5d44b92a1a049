//! `garnet dashboard` in a real browser (headless Chromium over the DevTools pipe,
//! `tests/support/browser.py`): the page's values equal `garnet status -o json` at the same
//! moment; its cost curve equals the cost model applied to DuckDB's (Parquet) and Python's (JSON)
//! own sums of the same samples; it updates without a reload; an empty cluster waits for its
//! first sample; a token guards it; names are escaped and the CSP holds; a flood of idle
//! connections does not take it down. The lab test (`tests/lab.rs`) checks it on real parts.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::Garnet;
use crate::common::loaders::python;

/// A running dashboard; stopped (SIGTERM) on drop.
pub struct Dash {
    child: Child,
    pub url: String,
    pub addr: String,
}

impl Dash {
    pub fn start(g: Garnet) -> Dash {
        let mut child = g.command().stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
        let mut err = BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        let mut seen = String::new();
        let deadline = Instant::now() + Duration::from_secs(120);
        let url = loop {
            line.clear();
            if err.read_line(&mut line).unwrap() == 0 || Instant::now() > deadline {
                let _ = child.kill();
                panic!("the dashboard did not start: {seen}");
            }
            seen.push_str(&line);
            if let Some(u) = line.split_whitespace().find(|w| w.starts_with("http://")) {
                break u.to_string();
            }
        };
        // Keep draining its log so it never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut sink = String::new();
            let _ = err.read_to_string(&mut sink);
        });
        let addr = url.trim_start_matches("http://").split('/').next().unwrap().to_string();
        Dash { child, url, addr }
    }
}

impl Drop for Dash {
    fn drop(&mut self) {
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 request: status, head (lower-cased) and body.
pub fn http(addr: &str, method: &str, path: &str, headers: &[(&str, &str)]) -> (u16, String, String) {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("Content-Length: 0\r\n\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let code = head.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    (code, head.to_ascii_lowercase(), body.to_string())
}

/// Runs browser steps (see `tests/support/browser.py`) and returns what they evaluated.
pub fn browser(py: &Path, steps: Value) -> Value {
    let out = Command::new(py)
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/browser.py"))
        .arg(steps.to_string())
        .output()
        .unwrap();
    assert!(out.status.success(), "browser: {}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["violations"], json!([]), "CSP or other violations: {v}");
    let errors: Vec<&Value> =
        v["console"].as_array().unwrap().iter().filter(|c| c["type"] == "error" || c["type"] == "exception").collect();
    assert!(errors.is_empty(), "console errors: {errors:?}");
    v
}

/// Whether Chromium is here (CI installs it; elsewhere the test says it skipped).
pub fn chromium() -> bool {
    let ok = Command::new("chromium").arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok();
    if !ok {
        assert!(std::env::var_os("CI").is_none(), "chromium is missing (.ci/run installs it)");
        eprintln!("skipping: chromium is not installed");
    }
    ok
}

/// The page's values, read from the DOM: tiles, nodes, models, per-node rows, cost points.
pub const READ_DOM: &str = r#"(() => {
  const cells = (tr) => Object.fromEntries([...tr.querySelectorAll('td[data-f]')].map(td => [td.dataset.f, td.dataset.v]));
  const rows = (sel, key) => Object.fromEntries([...document.querySelectorAll(sel)].map(tr => [key(tr), cells(tr)]));
  const v = (id) => { const e = document.getElementById(id); return e ? e.dataset.v : null; };
  return {
    version: document.getElementById('live').dataset.version,
    nodes_up: v('nodes-up'), tps: v('tps'), usd_per_mtok: v('usd-per-mtok'),
    nodes: rows('#nodes tbody tr', tr => tr.dataset.node),
    models: rows('#model-table tbody tr', tr => tr.dataset.model),
    backends: rows('#backends tbody tr', tr => tr.dataset.model + '@' + tr.dataset.node),
    points: rows('#cost-points tbody tr', tr => tr.dataset.start),
    empty: !!document.getElementById('empty'),
    text: document.getElementById('live').innerText,
  };
})()"#;

fn num(v: &Value) -> Option<f64> {
    match v {
        Value::String(s) if !s.is_empty() => s.parse().ok(),
        Value::Number(n) => n.as_f64(),
        _ => None,
    }
}

fn close(a: Option<f64>, b: Option<f64>, what: &str) {
    match (a, b) {
        (Some(a), Some(b)) => assert!((a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0), "{what}: {a} vs {b}"),
        (a, b) => assert_eq!(a, b, "{what}"),
    }
}

/// The DOM (read by [`READ_DOM`]) against `status -o json`: every node's state and readings,
/// every model's numbers, every backend's, the tiles.
pub fn same_as_status(dom: &Value, status: &Value) {
    let nodes = status["nodes"].as_array().unwrap();
    assert_eq!(dom["nodes"].as_object().unwrap().len(), nodes.len(), "{dom}");
    for n in nodes {
        let d = &dom["nodes"][n["node"].as_str().unwrap()];
        assert_eq!(d["state"], n["state"], "{}", n["node"]);
        let s = &n["sample"];
        close(num(&d["used_bytes"]), s["memory"]["used_bytes"].as_f64(), "used bytes");
        close(num(&d["max_celsius"]), s["thermal"]["max_celsius"].as_f64(), "max °C");
        let watts = s["power"]["system_watts"].as_f64().or(s["power"]["package_watts"].as_f64());
        close(num(&d["watts"]), watts, "watts");
    }
    assert_eq!(num(&dom["nodes_up"]), status["nodes_up"].as_f64(), "nodes up");
    close(num(&dom["tps"]), status["prompt_and_completion_tokens_per_s"].as_f64(), "tokens/s");
    close(num(&dom["usd_per_mtok"]), status["usd_per_mtok"].as_f64(), "$/M now");
    let models = status["models"].as_array().unwrap();
    assert_eq!(dom["models"].as_object().unwrap().len(), models.len(), "{dom}");
    for m in models {
        let d = &dom["models"][m["model"].as_str().unwrap()];
        for f in ["requests", "failures", "p50_ms", "p95_ms", "tokens_per_s", "queue_depth", "kv_cache_hit_rate"] {
            close(num(&d[f]), m[f].as_f64(), &format!("{} {f}", m["model"]));
        }
    }
    let backends = status["backends"].as_array().unwrap();
    assert_eq!(dom["backends"].as_object().unwrap().len(), backends.len(), "{dom}");
    for b in backends {
        let key = format!("{}@{}", b["model"].as_str().unwrap(), b["node"].as_str().unwrap());
        let d = &dom["backends"][&key];
        for f in ["requests_per_s", "p50_ms", "p95_ms", "completion_tokens_per_s", "busy_share", "kv_cache_hit_rate"] {
            close(num(&d[f]), b[f].as_f64(), &format!("{key} {f}"));
        }
    }
}

/// Reads the page and `status -o json` until both saw the same samples (a sample landing between
/// the two reads is retried), then compares them.
pub fn compare_with_status(
    py: &Path,
    dash: &Dash,
    status: &dyn Fn() -> Value,
    until: &dyn Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let dom = browser(py, json!([{"goto": dash.url}, {"eval": READ_DOM, "as": "dom"}]))["dom"].clone();
        let st = status();
        let stamps = |v: &Value| -> Vec<Value> {
            v["nodes"].as_array().unwrap().iter().map(|n| n["last_sample"].clone()).collect()
        };
        let state: Value =
            serde_json::from_str(&http(&dash.addr, "GET", &format!("{}/state.json", path_of(&dash.url)), &[]).2)
                .unwrap();
        if stamps(&state["status"]) == stamps(&st)
            && state["version"].to_string().trim_matches('"') == dom["version"].as_str().unwrap_or("")
            && until(&st)
        {
            same_as_status(&dom, &st);
            return dom;
        }
        assert!(
            Instant::now() < deadline,
            "the page and status never saw the same samples (or the condition never held): {st}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

pub fn path_of(url: &str) -> String {
    let rest = url.trim_start_matches("http://");
    rest[rest.find('/').unwrap()..].to_string()
}

fn synth(store: &Path, inv: &Path, start: &str, days: &str, format: &str) {
    Garnet::new()
        .args(["telemetry", "synth", "--store", &store.display().to_string(), "--cluster", "acme", "--nodes", "4"])
        .args(["--start", start, "--days", days, "--format", format])
        .args(["--write-inventory", &inv.display().to_string()])
        .run()
        .expect(0);
}

/// Removes the JSON samples stamped after now (the synthetic day runs to midnight): the store as
/// running monitors would have left it.
fn drop_future_samples(store: &Path) -> usize {
    let now = jiff::Timestamp::now();
    let mut n = 0;
    for p in glob::glob(&format!("{}/telemetry/**/*.json", store.display())).unwrap().flatten() {
        let body: Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
        if body["at"].as_str().unwrap().parse::<jiff::Timestamp>().unwrap() > now {
            std::fs::remove_file(&p).unwrap();
            n += 1;
        }
    }
    n
}

/// Per hour, from the samples themselves: DuckDB over the compacted days' Parquet, Python's json
/// over today's objects: tokens, and per node samples, energy and samples with energy.
fn independent_hours(py: &Path, store: &Path) -> Value {
    let script = r#"
import duckdb, glob, json, os, sys
root = sys.argv[1]
hours = {}
def h(k): return hours.setdefault(k, {"tokens": 0, "nodes": {}})
con = duckdb.connect()
pq = glob.glob(f"{root}/telemetry-parquet/**/backends.parquet", recursive=True)
if pq:
    for hr, t in con.execute(f"""SELECT epoch(time_bucket(INTERVAL 1 HOUR, "at" - INTERVAL 1 MICROSECOND))::BIGINT, sum(prompt_tokens + completion_tokens) FROM read_parquet('{root}/telemetry-parquet/**/backends.parquet') GROUP BY 1""").fetchall():
        h(hr)["tokens"] += int(t)
    for hr, node, n, j, m in con.execute(f"""SELECT epoch(time_bucket(INTERVAL 1 HOUR, "at" - INTERVAL 1 MICROSECOND))::BIGINT, node, count(*), coalesce(sum(energy_joules), 0), count(energy_joules) FROM read_parquet('{root}/telemetry-parquet/**/samples.parquet') GROUP BY 1, 2""").fetchall():
        h(hr)["nodes"][node] = [int(n), float(j), int(m)]
for p in glob.glob(f"{root}/telemetry/**/*.json", recursive=True):
    s = json.load(open(p))
    from datetime import datetime, timezone
    at = datetime.fromisoformat(s["at"].replace("Z", "+00:00")).timestamp()
    hr = int((at - 1e-6) // 3600 * 3600)
    x = h(hr)
    x["tokens"] += sum(b["prompt_tokens"] + b["completion_tokens"] for b in s.get("backends", []))
    e = (s.get("power") or {}).get("energy_joules")
    n = x["nodes"].setdefault(s["node"], [0, 0.0, 0])
    n[0] += 1
    if e is not None:
        n[1] += e
        n[2] += 1
print(json.dumps({str(k): v for k, v in hours.items()}))
"#;
    let out = Command::new(py).args(["-c", script]).arg(store).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn token_file(dir: &Path, token: &str, mode: u32) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let p = dir.join(format!("token-{mode:o}"));
    std::fs::write(&p, format!("{token}\n")).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
    p
}

#[test]
fn the_page_equals_status_and_its_cost_curve_equals_the_samples_summed_apart() {
    let Some(py) = python() else { return };
    if !chromium() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (store, inv) = (dir.path().join("store"), dir.path().join("inventory.yaml"));
    let utc = jiff::tz::TimeZone::UTC;
    let today = jiff::Timestamp::now().to_zoned(utc).date();
    // Two compacted days, then today as JSON objects up to now, as the monitors ship them.
    synth(&store, &inv, &today.checked_sub(jiff::Span::new().days(2)).unwrap().to_string(), "2", "parquet");
    synth(&store, &inv, &today.to_string(), "1", "json");
    drop_future_samples(&store);
    // Free text from the store the page shows: an operator's message and a loader event.
    let hostile = "<img src=x onerror=\"document.title='pwned'\"><script>document.title='pwned'</script>";
    let now = jiff::Timestamp::now();
    let audit_dir = store.join(format!("audit/cluster=acme/date={today}"));
    std::fs::create_dir_all(&audit_dir).unwrap();
    std::fs::write(
        audit_dir.join("000000-x.json"),
        json!({"run_id": "x", "cluster": "acme", "user": "eve", "host": "h", "command": "garnet hot-swap", "message": hostile,
               "started_at": now.to_string(), "finished_at": now.to_string(), "nodes": [], "summary": {}, "exit_code": 0})
        .to_string(),
    )
    .unwrap();
    let g = || Garnet::new().args(["-i", &inv.display().to_string()]);
    // The weekly review and a monthly report in the store: the page links them.
    let out = dir.path().join("out");
    let diff = g().args(["placement", "diff", "--since", "3d", "--out", &out.display().to_string()]).run();
    assert!(diff.code == 0 || diff.code == 5, "{}", diff.stderr);
    let month = today.checked_sub(jiff::Span::new().months(1)).unwrap().strftime("%Y-%m").to_string();
    g().args(["report", "--month", &month, "--out", &out.display().to_string()]).run().expect(0);
    let dash = Dash::start(g().args(["dashboard", "--listen", "127.0.0.1:0", "--refresh", "1s"]));

    // Headers: the policy, read-only, and no page for another cluster.
    let base = path_of(&dash.url);
    let (code, head, body) = http(&dash.addr, "GET", &base, &[]);
    assert_eq!(code, 200, "{head}");
    assert!(head.contains("content-security-policy: default-src 'none'; script-src 'self'"), "{head}");
    assert!(head.contains("x-content-type-options: nosniff") && head.contains("x-frame-options: deny"), "{head}");
    assert!(!body.contains("<script>document") && body.contains("&lt;img src=x"), "the message is escaped");
    assert!(!body.contains("http://") && !body.contains("https://"), "no address off this server: {body}");
    assert_eq!(http(&dash.addr, "POST", &base, &[]).0, 405);
    // The monthly PDF downloads as the store has it; the weekly artifacts are linked.
    let pdf_link = format!("{base}/files/monthly/{month}/report.pdf");
    assert!(body.contains(&format!("href=\"{pdf_link}\"")), "{body}");
    for name in ["placement-diff.md", "cost-diff.md", "eviction-log.md"] {
        assert!(body.contains(&format!("/{name}\"")), "{name}: {body}");
    }
    let mut s = std::net::TcpStream::connect(&dash.addr).unwrap();
    write!(s, "GET {pdf_link} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
    assert!(head.contains("content-type: application/pdf") && head.contains("attachment"), "{head}");
    assert_eq!(&raw[split + 4..], std::fs::read(out.join("report.pdf")).unwrap().as_slice(), "the PDF byte for byte");
    assert_eq!(http(&dash.addr, "GET", "/account/cluster/other", &[]).0, 404);
    assert_eq!(http(&dash.addr, "GET", &format!("{base}/files/monthly/..%2F..%2Fetc/passwd"), &[]).0, 404);

    // The DOM equals status at the same moment.
    let status = || {
        let r = g().args(["-o", "json", "status"]).run();
        serde_json::from_str::<Value>(r.stdout.trim()).unwrap_or_else(|_| panic!("{}", r.stderr))
    };
    let dom = compare_with_status(&py, &dash, &status, &|s| s["nodes_up"].as_u64() == Some(4));
    assert!(!dom["empty"].as_bool().unwrap());
    assert!(dom["text"].as_str().unwrap().contains(hostile), "the message is shown as text");

    // The curve: each full hour's all-in $/M is the fixed cost of the hour plus the measured energy,
    // over the tokens, both summed apart from garnet (DuckDB over Parquet, Python over JSON).
    let state: Value = serde_json::from_str(&http(&dash.addr, "GET", &format!("{base}/state.json"), &[]).2).unwrap();
    let fixed_per_sec = state["status"]["cost"]["fixed_usd_per_month"].as_f64().unwrap() / (365.25 / 12.0 * 86_400.0);
    let text = std::fs::read_to_string(&inv).unwrap();
    let kwh: f64 = text.split("usd_per_kwh:").nth(1).unwrap().split_whitespace().next().unwrap().parse().unwrap();
    let hours = independent_hours(&py, &store);
    let points = state["hourly"]["points"].as_array().unwrap();
    assert!(points.len() >= 48, "two days and today, hourly: {}", points.len());
    let mut full = 0;
    for p in points {
        let start = p["start"].as_str().unwrap().parse::<jiff::Timestamp>().unwrap().as_second();
        let h = &hours[start.to_string()];
        assert_eq!(p["tokens"].as_u64(), h["tokens"].as_u64(), "tokens of {}", p["start"]);
        let secs = p["secs"].as_f64().unwrap();
        if secs == 3600.0 {
            full += 1;
        }
        let energy: f64 = h["nodes"]
            .as_object()
            .unwrap()
            .values()
            .map(|n| {
                let (samples, joules, measured) =
                    (n[0].as_f64().unwrap(), n[1].as_f64().unwrap(), n[2].as_f64().unwrap());
                if measured > 0.0 { joules * samples / measured / 3.6e6 * kwh } else { 0.0 }
            })
            .sum();
        let want = (fixed_per_sec * secs + energy) / h["tokens"].as_f64().unwrap() * 1e6;
        close(p["all_in_usd_per_mtok"].as_f64(), Some(want), &format!("all-in $/M of {}", p["start"]));
    }
    assert!(full >= 47, "full hours: {full}");
    // The table under the chart shows the latest points as the JSON has them.
    let last = points.last().unwrap();
    close(
        num(&dom["points"][last["start"].as_str().unwrap()]["all_in_usd_per_mtok"]),
        last["all_in_usd_per_mtok"].as_f64(),
        "last point",
    );

    // Live: a node that stops sampling turns stale on the page without a reload.
    let shot = dir.path().join("dashboard.png");
    let v = browser(
        &py,
        json!([
            {"goto": dash.url},
            {"eval": "window.__same_page = 42", "as": "mark"},
            {"wait": "document.querySelectorAll('img#cost-hour').length == 1 && document.getElementById('cost-hour').complete && document.getElementById('cost-hour').naturalWidth > 0", "timeout": 20},
            {"screenshot": shot.display().to_string(), "width": 1280, "height": 2200},
            {"eval": "[document.title, document.querySelectorAll('main img:not(#cost-hour):not(#cost-day)').length]", "as": "safe"},
        ]),
    );
    assert_eq!(v["safe"], json!(["garnet · acme", 0]), "no script ran, no injected image: {v}");
    assert!(std::fs::metadata(&shot).unwrap().len() > 20_000, "a screenshot with content");
    if let Ok(d) = std::env::var("GARNET_SCREENSHOT_DIR") {
        std::fs::copy(&shot, Path::new(&d).join("dashboard-synthetic.png")).unwrap();
    }
    let stale_steps = json!([
        {"goto": dash.url},
        {"eval": "window.__same_page = 42", "as": "mark"},
        {"wait": "document.querySelector('#nodes tr[data-node=\"node-001\"] td[data-f=state]').dataset.v == 'stale'", "timeout": 60},
        {"eval": "window.__same_page", "as": "same"},
    ]);
    // node-001's samples of the last 5 minutes disappear: its newest is now older than 3 minutes.
    let cut = jiff::Timestamp::now() - jiff::SignedDuration::from_mins(5);
    for p in glob::glob(&format!("{}/telemetry/**/node=node-001/**/*.json", store.display())).unwrap().flatten() {
        let body: Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
        if body["at"].as_str().unwrap().parse::<jiff::Timestamp>().unwrap() > cut {
            std::fs::remove_file(&p).unwrap();
        }
    }
    let v = browser(&py, stale_steps);
    assert_eq!(v["same"], 42, "updated in place, not reloaded: {v}");

    // A placement record written while the page is open (a model taken off a node, as
    // `placement apply` records it): the placement map follows on the next refresh.
    let at = jiff::Timestamp::now();
    let record = json!({"schema_version": 1, "cluster": "acme", "at": at.to_string(), "command": "placement apply (a test)",
        "variants": {}, "previous": null, "entries": [], "moves": {}, "removed": {"llama-3.1-8b-instruct": ["node-004"]}});
    let key = store.join(format!("placement/cluster=acme/{}.json", at.strftime("%Y%m%dT%H%M%S%.6fZ")));
    std::fs::create_dir_all(key.parent().unwrap()).unwrap();
    std::fs::write(&key, record.to_string()).unwrap();
    let v = browser(
        &py,
        json!([
            {"goto": dash.url},
            {"wait": "!document.querySelector('#placement tr[data-model=\"llama-3.1-8b-instruct\"]').textContent.includes('node-004')", "timeout": 30},
            {"eval": "document.querySelector('#placement tr[data-model=\"llama-3.1-8b-instruct\"]').textContent", "as": "row"},
        ]),
    );
    assert!(v["row"].as_str().unwrap().contains("node-001"), "{v}");
}

#[test]
fn an_empty_cluster_waits_for_its_first_sample_behind_a_token_and_survives_a_flood() {
    let Some(py) = python() else { return };
    if !chromium() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (store, inv) = (dir.path().join("store"), dir.path().join("inventory.yaml"));
    // The synthetic rack's inventory, its store still empty.
    synth(&dir.path().join("elsewhere"), &inv, "2026-11-01", "1", "parquet");
    let text = std::fs::read_to_string(&inv)
        .unwrap()
        .replace(&dir.path().join("elsewhere").display().to_string(), &store.display().to_string());
    std::fs::write(&inv, text).unwrap();
    std::fs::create_dir_all(&store).unwrap();
    let g = || Garnet::new().args(["-i", &inv.display().to_string()]);

    // Off loopback without a token, a token anyone can read, a short token: refused, clearly.
    let r = g().args(["dashboard", "--listen", "0.0.0.0:0"]).run();
    r.expect(2);
    assert!(r.stderr.contains("is not loopback") && r.stderr.contains("--token-file"), "{}", r.stderr);
    let token = "s3cret-token-0123456789abcdef";
    let open = token_file(dir.path(), token, 0o644);
    let r = g().args(["dashboard", "--listen", "127.0.0.1:0", "--token-file", &open.display().to_string()]).run();
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains(&open.display().to_string()) && r.stderr.contains("chmod 600"), "{}", r.stderr);
    let short = token_file(dir.path(), "short", 0o600);
    let r = g().args(["dashboard", "--listen", "127.0.0.1:0", "--token-file", &short.display().to_string()]).run();
    r.expect(2);
    assert!(r.stderr.contains("shorter than 16"), "{}", r.stderr);

    let tf = token_file(dir.path(), token, 0o600);
    let dash = Dash::start(g().args([
        "dashboard",
        "--listen",
        "127.0.0.1:0",
        "--refresh",
        "1s",
        "--token-file",
        &tf.display().to_string(),
    ]));
    let base = path_of(&dash.url);
    let (code, head, body) = http(&dash.addr, "GET", &base, &[]);
    assert_eq!(code, 401, "{head}");
    assert!(head.contains("www-authenticate: bearer") && !body.contains(token), "{body}");
    assert_eq!(
        http(&dash.addr, "GET", &format!("{base}/state.json"), &[("Authorization", "Bearer wrong-token-0123456789")]).0,
        401
    );
    assert_eq!(http(&dash.addr, "GET", &format!("{base}?token=wrong"), &[]).0, 401);
    let bearer = format!("Bearer {token}");
    let (code, _, body) = http(&dash.addr, "GET", &base, &[("Authorization", &bearer)]);
    assert_eq!(code, 200);
    assert!(body.contains("Waiting for the first sample") && !body.contains(token), "{body}");
    assert_eq!(http(&dash.addr, "DELETE", &base, &[("Authorization", &bearer)]).0, 405);

    // In the browser: the token once in the address, then a cookie; the address loses it.
    let shot = dir.path().join("empty.png");
    let v = browser(
        &py,
        json!([
            {"goto": format!("{}?token={token}", dash.url)},
            {"eval": "[location.search, !!document.getElementById('empty'), document.querySelectorAll('#nodes tbody tr').length, document.cookie]", "as": "page"},
            {"screenshot": shot.display().to_string(), "width": 1280, "height": 1200},
            {"eval": "window.__same_page = 7", "as": "mark"},
        ]),
    );
    assert_eq!(v["page"], json!(["", true, 4, ""]), "token gone from the address, cookie HttpOnly: {v}");
    if let Ok(d) = std::env::var("GARNET_SCREENSHOT_DIR") {
        std::fs::copy(&shot, Path::new(&d).join("dashboard-empty.png")).unwrap();
    }

    // A flood of idle connections past the cap: the excess is closed at once, the server stays up
    // and answers once they go.
    let flood: Vec<std::net::TcpStream> =
        (0..300).filter_map(|_| std::net::TcpStream::connect(&dash.addr).ok()).collect();
    std::thread::sleep(Duration::from_millis(500));
    let closed = flood
        .iter()
        .filter(|s| {
            s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
            let mut b = [0u8; 1];
            matches!((&**s).read(&mut b), Ok(0))
        })
        .count();
    assert!(closed >= 300 - 256, "connections past the cap closed: {closed}");
    drop(flood);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(http(&dash.addr, "GET", &base, &[("Authorization", &bearer)]).0, 200);

    // The first sample arrives: the page leaves its waiting state on its own.
    let source = dir.path().join("today");
    let today = jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).date();
    synth(&source, &dir.path().join("unused.yaml"), &today.to_string(), "1", "json");
    drop_future_samples(&source);
    let newest = glob::glob(&format!("{}/telemetry/**/node=node-001/**/*.json", source.display()))
        .unwrap()
        .flatten()
        .max()
        .unwrap();
    let dest = store.join(newest.strip_prefix(&source).unwrap());
    std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
    std::fs::copy(&newest, &dest).unwrap();
    let v = browser(
        &py,
        json!([
            {"header": {"Authorization": bearer}},
            {"goto": dash.url},
            {"eval": "window.__same_page = 7", "as": "mark"},
            {"wait": "!document.getElementById('empty') && document.querySelector('#nodes tr[data-node=\"node-001\"] td[data-f=state]').dataset.v == 'up'", "timeout": 30},
            {"eval": "window.__same_page", "as": "same"},
        ]),
    );
    assert_eq!(v["same"], 7, "{v}");
}
