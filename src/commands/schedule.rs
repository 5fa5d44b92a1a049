//! `garnet schedule install|status|remove`: the weekly review and the monthly report on timers
//! on the operator's host ([`crate::report::schedule`] writes the units).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde_json::json;

use super::Ctx;
use crate::ExitStatus;
use crate::cli::{ScheduleArgs, ScheduleBackend, ScheduleCommand};
use crate::exit::UsageError;
use crate::report::schedule::{self, Job};

fn home() -> Result<PathBuf> {
    std::env::var_os("HOME").map(PathBuf::from).context("HOME is not set: pass `--unit-dir` and `--out`")
}

struct Setup {
    backend: ScheduleBackend,
    unit_dir: PathBuf,
    out: PathBuf,
    exe: PathBuf,
    slug: String,
    jobs: Vec<Job>,
}

impl Setup {
    fn new(args: &ScheduleArgs, ctx: &Ctx, inv: &crate::inventory::Inventory) -> Result<Setup> {
        let backend = args.backend.unwrap_or(if cfg!(target_os = "macos") {
            ScheduleBackend::Launchd
        } else {
            ScheduleBackend::Systemd
        });
        let unit_dir = match &args.unit_dir {
            Some(d) => d.clone(),
            None => match backend {
                ScheduleBackend::Systemd => home()?.join(".config/systemd/user"),
                ScheduleBackend::Launchd => home()?.join("Library/LaunchAgents"),
            },
        };
        let slug = inv.cluster.slug.clone();
        let out = match &args.out {
            Some(d) => d.clone(),
            None => home()?.join(".local/share/garnet").join(&slug),
        };
        let absolute = |p: &Path| -> Result<PathBuf> {
            if p.is_absolute() { Ok(p.to_path_buf()) } else { Ok(std::env::current_dir()?.join(p)) }
        };
        let inventory = std::fs::canonicalize(&ctx.global.inventory)
            .with_context(|| format!("cannot resolve `{}`", ctx.global.inventory.display()))?;
        let out = absolute(&out)?;
        let exe = std::env::current_exe().context("cannot tell where this garnet binary is")?;
        Ok(Setup { backend, unit_dir: absolute(&unit_dir)?, jobs: schedule::jobs(&inventory, &out), out, exe, slug })
    }

    /// Each job's files and what they should hold.
    fn files(&self, job: &Job) -> Vec<(PathBuf, String)> {
        let name = schedule::unit_name(&self.slug, job);
        match self.backend {
            ScheduleBackend::Systemd => {
                let (service, timer) = schedule::systemd(&self.exe, &self.slug, job);
                vec![
                    (self.unit_dir.join(format!("{name}.service")), service),
                    (self.unit_dir.join(format!("{name}.timer")), timer),
                ]
            }
            ScheduleBackend::Launchd => {
                let label = schedule::launchd_label(&self.slug, job);
                let plist = schedule::launchd(&self.exe, &self.slug, job, &self.out.join("logs"));
                vec![(self.unit_dir.join(format!("{label}.plist")), plist)]
            }
        }
    }
}

/// Runs `program args`, its failure an error naming it and what it said.
fn call(program: &str, args: &[&str]) -> Result<String> {
    let out =
        std::process::Command::new(program).args(args).output().with_context(|| format!("cannot run `{program}`"))?;
    if !out.status.success() {
        anyhow::bail!(
            "`{program} {}` failed: {}",
            args.join(" "),
            crate::util::one_line(&String::from_utf8_lossy(&out.stderr))
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn uid() -> u32 {
    // SAFETY: getuid has no preconditions and cannot fail.
    unsafe { libc::getuid() }
}

pub async fn run(c: &ScheduleCommand, ctx: &Ctx) -> Result<ExitStatus> {
    match c {
        ScheduleCommand::Install(a) => install(a, ctx),
        ScheduleCommand::Status(a) => status(a, ctx).await,
        ScheduleCommand::Remove(a) => remove(a, ctx),
    }
}

fn install(args: &ScheduleArgs, ctx: &Ctx) -> Result<ExitStatus> {
    let inv = ctx.load_inventory()?;
    super::report::mail_for(true, &inv)
        .map_err(|e| UsageError(format!("the scheduled runs email what they make: {e}")))?;
    let s = Setup::new(args, ctx, &inv)?;
    std::fs::create_dir_all(&s.unit_dir).with_context(|| format!("cannot create `{}`", s.unit_dir.display()))?;
    std::fs::create_dir_all(s.out.join("logs")).with_context(|| format!("cannot create `{}`", s.out.display()))?;
    let p = &ctx.printer;
    let mut written = Vec::new();
    for job in &s.jobs {
        for (path, text) in s.files(job) {
            let same = std::fs::read_to_string(&path).is_ok_and(|t| t == text);
            if !same {
                std::fs::write(&path, &text).with_context(|| format!("cannot write `{}`", path.display()))?;
            }
            written.push(json!({"job": job.kind, "file": path, "changed": !same}));
        }
    }
    // Check what was written the way the service manager reads it.
    for job in &s.jobs {
        for (path, _) in s.files(job) {
            verify(s.backend, &path)?;
        }
    }
    if !args.no_enable {
        match s.backend {
            ScheduleBackend::Systemd => {
                call("systemctl", &["--user", "daemon-reload"])?;
                for job in &s.jobs {
                    let timer = format!("{}.timer", schedule::unit_name(&s.slug, job));
                    call("systemctl", &["--user", "enable", "--now", &timer])?;
                }
            }
            ScheduleBackend::Launchd => {
                let domain = format!("gui/{}", uid());
                for job in &s.jobs {
                    let label = schedule::launchd_label(&s.slug, job);
                    // Reloaded so a changed plist takes effect; not loaded yet is fine.
                    let _ = call("launchctl", &["bootout", &format!("{domain}/{label}")]);
                    let plist = s.unit_dir.join(format!("{label}.plist"));
                    call("launchctl", &["bootstrap", &domain, &plist.display().to_string()])?;
                }
            }
        }
    }
    if p.json {
        p.json_line(&json!({"event": "schedule_installed", "backend": s.backend, "files": written, "enabled": !args.no_enable, "out": s.out}));
    } else {
        for j in &s.jobs {
            p.out(format!("{:8} {} ({})", j.kind, j.description, j.on_calendar));
        }
        for w in &written {
            p.out(format!(
                "  {} {}",
                if w["changed"] == true { "wrote" } else { "unchanged" },
                w["file"].as_str().unwrap_or("")
            ));
        }
        p.out(format!(
            "reports and artifacts go to {}; {}",
            s.out.display(),
            if args.no_enable { "not enabled (--no-enable)" } else { "enabled" }
        ));
    }
    Ok(ExitStatus::Success)
}

/// The service manager's own check of a file: `systemd-analyze verify` (when installed) for a
/// unit, a parse for a plist.
fn verify(backend: ScheduleBackend, path: &Path) -> Result<()> {
    match backend {
        ScheduleBackend::Systemd => {
            let Ok(out) = std::process::Command::new("systemd-analyze").arg("verify").arg(path).output() else {
                tracing::debug!("systemd-analyze is not installed: {} not verified", path.display());
                return Ok(());
            };
            let err = String::from_utf8_lossy(&out.stderr);
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let complaints: Vec<&str> = err.lines().filter(|l| l.contains(&name)).collect();
            anyhow::ensure!(
                complaints.is_empty(),
                "systemd-analyze verify {}: {}",
                path.display(),
                complaints.join("; ")
            );
        }
        ScheduleBackend::Launchd => {
            plist::Value::from_file(path).with_context(|| format!("{} does not parse as a plist", path.display()))?;
        }
    }
    Ok(())
}

async fn status(args: &ScheduleArgs, ctx: &Ctx) -> Result<ExitStatus> {
    let inv = ctx.load_inventory()?;
    let s = Setup::new(args, ctx, &inv)?;
    let store = crate::store::open(&inv).await.context("cannot open the store")?;
    // The last run of each job: the newest audit entry for its command in the last 40 days.
    let today = jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).date();
    let since = today.checked_sub(jiff::Span::new().days(40))?;
    let audit = crate::telemetry::read::records(store.as_ref(), "audit", &inv.cluster.slug, since, today).await?;
    let p = &ctx.printer;
    let mut rows = Vec::new();
    let mut all_installed = true;
    for job in &s.jobs {
        let files = s.files(job);
        let installed = files.iter().all(|(f, _)| f.exists());
        let current = files.iter().all(|(f, t)| std::fs::read_to_string(f).is_ok_and(|x| &x == t));
        all_installed &= installed;
        let next = match (s.backend, installed && !args.no_enable) {
            (ScheduleBackend::Systemd, true) => {
                let timer = format!("{}.timer", schedule::unit_name(&s.slug, job));
                call("systemctl", &["--user", "show", &timer, "-p", "NextElapseUSecRealtime", "--value"])
                    .ok()
                    .map(|v| v.trim().to_string())
                    .filter(|v| !v.is_empty())
            }
            _ => None,
        };
        let last = audit
            .iter()
            .filter(|a| {
                a["command"].as_str().is_some_and(|c| c.starts_with(job.audit_command) && c.contains("--email"))
            })
            .max_by(|a, b| a["started_at"].as_str().cmp(&b["started_at"].as_str()));
        rows.push(json!({
            "job": job.kind,
            "schedule": job.on_calendar,
            "installed": installed,
            "current": current,
            "files": files.iter().map(|(f, _)| f).collect::<Vec<_>>(),
            "next_run": next,
            "last_run": last.map(|a| json!({"at": a["started_at"], "command": a["command"], "exit_code": a["exit_code"], "error": a["error"]})),
        }));
    }
    if p.json {
        p.json_line(&json!({"event": "schedule_status", "backend": s.backend, "jobs": rows}));
    } else {
        let mut t = p.table();
        t.set_header(vec!["job", "schedule", "installed", "next run", "last run"]);
        for r in &rows {
            let last = match &r["last_run"] {
                serde_json::Value::Null => "never (in the last 40 days)".to_string(),
                l => format!(
                    "{} exit {}{}",
                    l["at"].as_str().unwrap_or("?"),
                    l["exit_code"],
                    l["error"].as_str().map(|e| format!(": {e}")).unwrap_or_default()
                ),
            };
            let installed = match (r["installed"] == true, r["current"] == true) {
                (true, true) => "yes",
                (true, false) => "yes, stale: run `schedule install`",
                _ => "no",
            };
            t.add_row(vec![
                r["job"].as_str().unwrap_or("").to_string(),
                r["schedule"].as_str().unwrap_or("").to_string(),
                installed.to_string(),
                r["next_run"].as_str().unwrap_or("-").to_string(),
                last,
            ]);
        }
        p.out(t);
    }
    Ok(if all_installed { ExitStatus::Success } else { ExitStatus::Failure })
}

fn remove(args: &ScheduleArgs, ctx: &Ctx) -> Result<ExitStatus> {
    let inv = ctx.load_inventory()?;
    let s = Setup::new(args, ctx, &inv)?;
    let p = &ctx.printer;
    let mut removed = Vec::new();
    for job in &s.jobs {
        if !args.no_enable {
            match s.backend {
                ScheduleBackend::Systemd => {
                    let timer = format!("{}.timer", schedule::unit_name(&s.slug, job));
                    if s.unit_dir.join(&timer).exists() {
                        call("systemctl", &["--user", "disable", "--now", &timer])?;
                    }
                }
                ScheduleBackend::Launchd => {
                    let label = schedule::launchd_label(&s.slug, job);
                    let _ = call("launchctl", &["bootout", &format!("gui/{}/{label}", uid())]);
                }
            }
        }
        for (f, _) in s.files(job) {
            if f.exists() {
                std::fs::remove_file(&f).with_context(|| format!("cannot delete `{}`", f.display()))?;
                removed.push(f);
            }
        }
    }
    if !args.no_enable && s.backend == ScheduleBackend::Systemd && !removed.is_empty() {
        call("systemctl", &["--user", "daemon-reload"])?;
    }
    if p.json {
        p.json_line(&json!({"event": "schedule_removed", "files": removed}));
    } else if removed.is_empty() {
        p.out("nothing to remove: no job of this cluster is installed there");
    } else {
        for f in &removed {
            p.out(format!("removed {}", f.display()));
        }
    }
    Ok(ExitStatus::Success)
}
