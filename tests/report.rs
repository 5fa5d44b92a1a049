//! `garnet report`: a synthetic month written by garnet's own telemetry writer, read back as a
//! reader would. The PDF's text (`pdftotext`) carries the JSON's numbers, the JSON's volume
//! equals DuckDB's sums over the same Parquet, the same inputs give the same bytes, every page
//! renders (`pdftoppm`), and the report arrives through a real SMTP server (aiosmtpd) over
//! STARTTLS with a login, the attachment intact. A month garnet cannot see is said, not zeroed.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

use crate::common::Garnet;
use crate::common::loaders::{free_port, python};

/// A synthetic November of 8 nodes (node-008 joins on the 16th, node-007 is silent 3 hours on
/// the 12th, node-003 runs hot) into `dir/store`; returns the inventory's text.
fn month(dir: &Path) -> String {
    Garnet::new()
        .args(["telemetry", "synth", "--store", &dir.join("store").display().to_string(), "--cluster", "acme"])
        .args(["--nodes", "8", "--days", "30", "--start", "2026-11-01"])
        .args(["--write-inventory", &dir.join("inventory.yaml").display().to_string()])
        .run()
        .expect(0);
    std::fs::read_to_string(dir.join("inventory.yaml")).unwrap()
}

fn need(cmd: &str) -> bool {
    let ok = Command::new(cmd).arg("-v").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok();
    if !ok {
        assert!(std::env::var_os("CI").is_none(), "{cmd} is missing (.ci/run installs poppler-utils)");
        eprintln!("skipping: {cmd} is not installed");
    }
    ok
}

/// `1234567` → `1,234,567`, as the template writes integers.
fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `v` with `d` decimals and thousands separators, rounded half away from zero as typst's
/// `calc.round` does (the template's rule).
fn fixed(v: f64, d: u32) -> String {
    let scale = 10u64.pow(d);
    let m = (v.abs() * scale as f64).round() as u64;
    let s = format!("{}{}", if v < 0.0 && m > 0 { "-" } else { "" }, thousands(m / scale));
    if d == 0 { s } else { format!("{s}.{:0width$}", m % scale, width = d as usize) }
}

fn pdftotext(pdf: &Path) -> String {
    let out = Command::new("pdftotext").args(["-layout"]).arg(pdf).arg("-").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// `text` from the line that is just `heading` on.
fn section<'a>(text: &'a str, heading: &str) -> &'a str {
    let at = text
        .match_indices(heading)
        .find(|(i, _)| {
            let line_start = text[..*i].rfind('\n').map_or(0, |n| n + 1);
            let line_end = text[*i..].find('\n').map_or(text.len(), |n| i + n);
            text[line_start..line_end].trim() == heading
        })
        .unwrap_or_else(|| panic!("no heading `{heading}` in:\n{text}"));
    &text[at.0..]
}

/// The line of `text` that starts with `first` (after spaces), and its words.
fn row<'a>(text: &'a str, first: &str) -> Vec<&'a str> {
    text.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|w| w.first() == Some(&first))
        .unwrap_or_else(|| panic!("no line starting with `{first}` in:\n{text}"))
}

struct Smtp {
    child: Child,
    dir: PathBuf,
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Smtp {
    /// aiosmtpd on loopback in `mode` (`starttls` or `tls`, a self-signed certificate for
    /// 127.0.0.1, login `ops` / `s3cret-pass`), messages into `dir/mail`.
    fn start(dir: &Path, mode: &str) -> (Smtp, u16) {
        // A private CA and the server's certificate signed by it (as a company relay has).
        let (cert, key) = (dir.join("smtp.crt"), dir.join("smtp.key"));
        std::fs::write(
            dir.join("smtp.ext"),
            "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        let p = |s: &str| dir.join(s).display().to_string();
        for args in [
            vec!["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=garnet test CA"],
            vec!["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1"],
            vec!["x509", "-req", "-days", "2", "-CAcreateserial"],
        ] {
            let mut c = Command::new("openssl");
            c.args(&args).current_dir(dir).stderr(Stdio::null()).stdout(Stdio::null());
            match args[0] {
                "req" if args[1] == "-x509" => c.args(["-keyout", &p("ca.key"), "-out", &p("ca.crt")]),
                "req" => c.args(["-keyout", &p("smtp.key"), "-out", &p("smtp.csr")]),
                _ => c.args(["-in", &p("smtp.csr"), "-CA", &p("ca.crt"), "-CAkey", &p("ca.key")]).args([
                    "-extfile",
                    &p("smtp.ext"),
                    "-out",
                    &p("smtp.crt"),
                ]),
            };
            assert!(c.status().unwrap().success(), "openssl {args:?}");
        }
        let port = free_port();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/smtp_server.py");
        let mut child = Command::new("/usr/bin/python3")
            .arg(script)
            .args([port.to_string(), dir.join("mail").display().to_string(), mode.to_string()])
            .args([cert.display().to_string(), key.display().to_string(), "ops".into(), "s3cret-pass".into()])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.as_mut().unwrap()), &mut line).unwrap();
        assert_eq!(line.trim(), "ready", "aiosmtpd did not start (is python3-aiosmtpd installed?)");
        (Smtp { child, dir: dir.to_path_buf() }, port)
    }

    fn messages(&self) -> Vec<PathBuf> {
        std::fs::read_dir(self.dir.join("mail/new")).map_or(vec![], |d| d.map(|e| e.unwrap().path()).collect())
    }
}

#[test]
fn a_month_renders_a_pdf_that_says_the_jsons_numbers_and_arrives_by_smtp() {
    if !need("pdftotext") || !need("pdftoppm") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let text = month(d);
    let (smtp, port) = Smtp::start(d, "starttls");
    let creds = d.join("smtp-credentials");
    std::fs::write(&creds, "ops\ns3cret-pass\n").unwrap();
    std::fs::set_permissions(&creds, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let text = text.replace(
        "cluster: {slug: acme, tier: pro}",
        "cluster: {slug: acme, tier: pro, contacts: [ops@acme.example, \"CFO <cfo@acme.example>\"]}",
    ) + &format!(
        "mail:\n  host: 127.0.0.1\n  port: {port}\n  security: starttls\n  from: \"garnet <reports@garnet.example>\"\n  credentials_file: {}\n  ca_file: {}\n",
        creds.display(),
        d.join("ca.crt").display()
    );
    let inv = d.join("inventory.yaml");
    std::fs::write(&inv, text).unwrap();
    let inv = inv.display().to_string();
    let outdir = d.join("out");
    let r = Garnet::new()
        .args(["-i", &inv, "report", "--month", "2026-11", "--out", &outdir.display().to_string(), "--email"])
        .run();
    r.expect(0);
    assert!(r.stdout.contains("emailed to ops@acme.example, CFO <cfo@acme.example>"), "{}", r.stdout);
    assert!(!format!("{}{}", r.stdout, r.stderr).contains("s3cret"), "a credential in the output");
    let json_bytes = std::fs::read(outdir.join("report.json")).unwrap();
    let json: Value = serde_json::from_slice(&json_bytes).unwrap();
    let pdf_path = outdir.join("report.pdf");
    let pdf = std::fs::read(&pdf_path).unwrap();

    // The PDF says the JSON's numbers.
    let t = pdftotext(&pdf_path);
    let h = &json["headline"];
    for (what, s) in [
        ("tokens", thousands(h["tokens"].as_u64().unwrap())),
        ("requests", thousands(h["requests"].as_u64().unwrap())),
        ("$/M", format!("${}", fixed(h["all_in_usd_per_mtok"].as_f64().unwrap(), 4))),
        ("uptime", format!("{}%", fixed(h["cluster_uptime"].as_f64().unwrap() * 100.0, 3))),
        ("savings", format!("{}%", fixed(h["best_savings"]["savings_pct"].as_f64().unwrap(), 1))),
        ("cost", format!("${}", fixed(json["cost"]["total_usd"].as_f64().unwrap(), 2))),
    ] {
        assert!(t.contains(&s), "the PDF does not say the {what} {s}:\n{t}");
    }
    assert!(t.contains("November 2026") && t.contains("Pro tier"), "{t}");
    let models = json["volume"]["models"].as_array().unwrap();
    assert_eq!(models.len(), 4);
    for m in models {
        let w = row(section(&t, "Inference volume"), m["model"].as_str().unwrap());
        let want = [
            thousands(m["requests"].as_u64().unwrap()),
            thousands(m["tokens"].as_u64().unwrap()),
            format!("{}%", fixed(m["token_share"].as_f64().unwrap() * 100.0, 1)),
        ];
        assert_eq!(&w[1..4], &want.iter().map(String::as_str).collect::<Vec<_>>()[..], "{w:?}");
    }
    for n in json["uptime"]["nodes"].as_array().unwrap() {
        let w = row(section(&t, "Uptime"), n["node"].as_str().unwrap());
        assert_eq!(w[1], format!("{}%", fixed(n["uptime"].as_f64().unwrap() * 100.0, 3)), "{w:?}");
    }
    // The month's story, as the reader needs it: node-008 measured from when it joined, node-007's
    // three silent hours an incident, node-003 too hot with the ambient change it calls for.
    let node = |name: &str, section: &str| {
        json[section]["nodes"].as_array().unwrap().iter().find(|n| n["node"] == name).unwrap().clone()
    };
    let n8 = node("node-008", "uptime");
    assert!(n8["measured_from"].as_str().unwrap().starts_with("2026-11-16"), "{n8}");
    // (The month's last second after the last sample is the only time it was not seen.)
    assert!(n8["uptime"].as_f64().unwrap() > 0.99999 && n8["down_secs"].as_f64().unwrap() <= 1.0, "{n8}");
    let incidents = json["uptime"]["incidents"].as_array().unwrap();
    let gaps: Vec<&Value> = incidents.iter().filter(|i| i["kind"] == "node_gap").collect();
    assert_eq!(gaps.len(), 1, "{incidents:?}");
    assert_eq!(gaps[0]["node"], "node-007");
    assert!(gaps[0]["at"].as_str().unwrap().starts_with("2026-11-12"), "{:?}", gaps[0]);
    let n3 = node("node-003", "thermal");
    assert!(n3["ambient_adjust_celsius"].as_i64().unwrap() < 0, "{n3}");
    assert_eq!(n3["onset_celsius"], 95, "the synthetic node throttles from 95 °C: {n3}");
    assert!(json["recommendations"].as_array().unwrap().iter().any(|r| r["kind"] == "thermal"), "{json:#}");
    assert_eq!(json["distribution"]["rebalance"], true);
    assert!(t.contains("Rebalance recommended: Yes"), "{t}");
    for n in ["node-001", "node-002"] {
        assert_eq!(node(n, "thermal")["ambient_adjust_celsius"], Value::Null, "no heat pattern on {n}");
    }

    // The volume from the same Parquet files by DuckDB, with no garnet code.
    if let Some(py) = python() {
        let script = r#"
import duckdb, json, sys
con = duckdb.connect()
rows = con.execute(f"SELECT model, sum(requests), sum(prompt_tokens) + sum(completion_tokens) FROM read_parquet('{sys.argv[1]}/**/backends.parquet') GROUP BY model").fetchall()
print(json.dumps({m: [int(r), int(t)] for m, r, t in rows}))
"#;
        let root = d.join("store/telemetry-parquet");
        let out = Command::new(&py).args(["-c", script]).arg(&root).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let duck: Value = serde_json::from_slice(&out.stdout).unwrap();
        for m in models {
            let name = m["model"].as_str().unwrap();
            assert_eq!(duck[name][0], m["requests"], "requests of {name}");
            assert_eq!(duck[name][1], m["tokens"], "tokens of {name}");
        }
    }

    // The same inputs, the same bytes; and in the store beside the telemetry.
    let again = d.join("again");
    Garnet::new()
        .args(["-i", &inv, "report", "--month", "2026-11", "--out", &again.display().to_string()])
        .run()
        .expect(0);
    assert!(std::fs::read(again.join("report.pdf")).unwrap() == pdf, "the same month rendered to different bytes");
    let stored = d.join("store/reports/cluster=acme/month=2026-11");
    assert!(std::fs::read(stored.join("report.pdf")).unwrap() == pdf);

    // Every page renders to an image with something on it.
    let pages =
        Command::new("pdftoppm").args(["-png", "-r", "40"]).arg(&pdf_path).arg(d.join("page")).status().unwrap();
    assert!(pages.success());
    let pngs: Vec<u64> = std::fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("page-"))
        .map(|p| std::fs::metadata(p).unwrap().len())
        .collect();
    assert!(pngs.len() >= 4, "{pngs:?}");
    assert!(pngs.iter().all(|b| *b > 3000), "a blank page: {pngs:?}");

    // The message as the server received it: to the contacts, the attachments byte for byte, after
    // a login over STARTTLS.
    let msgs = smtp.messages();
    assert_eq!(msgs.len(), 1, "{msgs:?}");
    let parse = r#"
import email, email.policy, hashlib, json, sys
m = email.message_from_bytes(open(sys.argv[1], "rb").read(), policy=email.policy.default)
parts = {p.get_filename(): hashlib.sha256(p.get_content()).hexdigest() for p in m.iter_attachments()}
print(json.dumps({"to": m["To"], "from": m["From"], "subject": m["Subject"], "parts": parts, "text": m.get_body(("plain",)).get_content()}))
"#;
    let out = Command::new("/usr/bin/python3").args(["-c", parse]).arg(&msgs[0]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let m: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(m["to"], "ops@acme.example, CFO <cfo@acme.example>");
    assert_eq!(m["subject"], "acme: monthly report for November 2026");
    let sha = |b: &[u8]| {
        use sha2::Digest;
        format!("{:x}", sha2::Sha256::digest(b))
    };
    assert_eq!(m["parts"]["acme-2026-11-report.pdf"], sha(&pdf));
    assert_eq!(m["parts"]["acme-2026-11-report.json"], sha(&json_bytes));
    assert!(m["text"].as_str().unwrap().contains(&format!("Tokens served: {}", h["tokens"])), "{m}");
    let logins = std::fs::read_to_string(d.join("logins")).unwrap();
    assert!(logins.trim().ends_with(" ops"), "{logins}");
}

#[test]
fn a_month_it_cannot_see_or_price_is_said_not_zeroed() {
    if !need("pdftotext") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let text = month(d);
    // API prices that each stand in for one model: two models have none.
    let one_api = text
        .replace("output_usd_per_mtok: 0.60}\n", "output_usd_per_mtok: 0.60, models: [phi-4-mini]}\n")
        .replace("output_usd_per_mtok: 10.00}\n", "output_usd_per_mtok: 10.00, models: [mistral-small-24b]}\n");
    assert_ne!(one_api, text, "the synthetic inventory's prices moved");
    let inv = d.join("one-api.yaml");
    std::fs::write(&inv, &one_api).unwrap();
    let out = d.join("nov");
    let r = Garnet::new()
        .args(["-i", &inv.display().to_string(), "report", "--month", "2026-11", "--out", &out.display().to_string()])
        .run();
    r.expect(0);
    let j: Value = serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    let unknowns = j["unknowns"].as_array().unwrap();
    assert!(
        unknowns.iter().any(|u| u.as_str().unwrap()
            == "No API price stands in for `llama-3.1-8b-instruct`, `qwen2.5-coder-7b`: no savings are shown for them."),
        "{unknowns:?}"
    );
    let mini = j["cost"]["apis"].as_array().unwrap().iter().find(|a| a["api"] == "gpt-4o-mini").unwrap().clone();
    assert_eq!(mini["models"], serde_json::json!(["phi-4-mini"]), "{mini}");
    // Its saving is against phi's own allocated cost, not the whole cluster's.
    let phi = j["cost"]["models"].as_array().unwrap().iter().find(|m| m["model"] == "phi-4-mini").unwrap().clone();
    let want = (1.0 - phi["usd"].as_f64().unwrap() / mini["api_usd"].as_f64().unwrap()) * 100.0;
    assert!((mini["savings_pct"].as_f64().unwrap() - want).abs() < 1e-9, "{mini} vs {phi}");

    // October: no telemetry at all; and no `cost:` section.
    let start = text.find("cost:\n").unwrap();
    let no_cost = text[..start].to_string();
    let inv = d.join("no-cost.yaml");
    std::fs::write(&inv, no_cost).unwrap();
    let out = d.join("oct");
    let r = Garnet::new()
        .args(["-i", &inv.display().to_string(), "report", "--month", "2026-10", "--out", &out.display().to_string()])
        .run();
    r.expect(0);
    assert!(r.stderr.contains("No telemetry at all for 2026-10"), "{}", r.stderr);
    let j: Value = serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(j["volume"]["requests"], 0);
    assert!(j["volume"]["days"].as_array().unwrap().iter().all(|d| d["source"] == "missing"));
    assert!(j["uptime"]["nodes"].as_array().unwrap().iter().all(|n| n["uptime"].is_null()), "{:#}", j["uptime"]);
    assert!(j["uptime"]["cluster"].is_null() && j["headline"]["cluster_uptime"].is_null());
    assert!(j["cost"]["not_computed"].as_str().unwrap().contains("no `cost:` section"));
    let t = pdftotext(&out.join("report.pdf"));
    for s in ["What this report does not know", "No telemetry at all for 2026-10", "Not computed", "unknown, not 0"] {
        assert!(t.contains(s), "the PDF does not say `{s}`:\n{t}");
    }
    // No uptime figure is printed for a node never seen: a dash, not 0%.
    assert_eq!(row(section(&t, "Uptime"), "node-001")[1], "–", "{t}");
}

#[test]
fn welcome_email_schedule_and_a_failed_send_on_record() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (smtp, port) = Smtp::start(d, "tls");
    let creds = d.join("smtp-credentials");
    let write_creds = |pass: &str| {
        std::fs::write(&creds, format!("ops\n{pass}\n")).unwrap();
        std::fs::set_permissions(&creds, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    };
    write_creds("s3cret-pass");
    let inv = d.join("acme.yaml");
    std::fs::write(
        &inv,
        format!(
            "cluster: {{slug: acme, tier: scale, contacts: [ops@acme.example]}}\nnodes: []\nstore: {{kind: local, path: {}}}\nmail:\n  host: 127.0.0.1\n  port: {port}\n  security: tls\n  from: garnet@garnet.example\n  credentials_file: {}\n  ca_file: {}\n",
            d.join("store").display(),
            creds.display(),
            d.join("ca.crt").display()
        ),
    )
    .unwrap();
    let inv = inv.display().to_string();
    // Day 0: the welcome email goes once.
    let r = Garnet::new().args(["-i", &inv, "init", "acme", "--tier", "scale"]).run();
    r.expect(0);
    assert!(r.stdout.contains("welcome email sent to ops@acme.example"), "{}", r.stdout);
    let r = Garnet::new().args(["-i", &inv, "init", "acme", "--tier", "scale"]).run();
    r.expect(0);
    assert!(r.stderr.contains("welcome email already sent"), "{}", r.stderr);
    let msgs = smtp.messages();
    assert_eq!(msgs.len(), 1, "{msgs:?}");
    let body = std::fs::read_to_string(&msgs[0]).unwrap();
    assert!(body.contains("Subject: Welcome to garnet: cluster acme"), "{body}");
    assert!(body.contains("What hardware are you running?") && body.contains("Scale:"), "{body}");

    // The schedule: written, verified by systemd-analyze (inside `install`), not enabled here
    // (no user systemd in CI).
    let units = d.join("units");
    let sched = |verb: &str| {
        Garnet::new()
            .args(["-i", &inv, "-o", "json", "schedule", verb, "--backend", "systemd", "--no-enable"])
            .args(["--unit-dir", &units.display().to_string(), "--out", &d.join("runs").display().to_string()])
            .run()
    };
    sched("install").expect(0);
    let timer = std::fs::read_to_string(units.join("garnet-acme-monthly.timer")).unwrap();
    assert!(timer.contains("OnCalendar=*-*-01 06:00:00 UTC\n") && timer.contains("\nPersistent=true\n"), "{timer}");
    let service = std::fs::read_to_string(units.join("garnet-acme-weekly.service")).unwrap();
    assert!(
        service.contains("\"placement\" \"diff\"")
            && service.contains(&format!("\"{}\"", std::fs::canonicalize(&inv).unwrap().display()))
    );
    // A run whose mail cannot go (a wrong password): a clear error naming the server, no secret,
    // and its outcome in the audit log, which `schedule status` shows.
    write_creds("wrong-pass");
    let r = Garnet::new()
        .args(["-i", &inv, "report", "--month", "2026-11", "--out", &d.join("r").display().to_string(), "--email"])
        .run();
    r.expect(1);
    assert!(r.stderr.contains(&format!("through 127.0.0.1:{port} (Tls) failed")), "{}", r.stderr);
    assert!(!r.stderr.contains("wrong-pass"), "{}", r.stderr);
    let st = sched("status");
    st.expect(0);
    let v: Value = serde_json::from_str(st.stdout.trim()).unwrap();
    let monthly = v["jobs"].as_array().unwrap().iter().find(|j| j["job"] == "monthly").unwrap().clone();
    assert_eq!(monthly["installed"], true);
    assert_eq!(monthly["current"], true);
    assert_eq!(monthly["last_run"]["exit_code"], 1, "{monthly}");
    assert!(monthly["last_run"]["error"].as_str().unwrap().contains("failed"), "{monthly}");
    assert_eq!(smtp.messages().len(), 1, "nothing sent with the wrong password");
    sched("remove").expect(0);
    assert!(!units.join("garnet-acme-monthly.timer").exists());
    assert_eq!(sched("status").code, 1, "not installed any more");
}
