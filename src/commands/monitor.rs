//! `garnet monitor` (the node daemon) and `garnet wait-ready` (deploy's readiness check).

use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use super::Ctx;
use crate::ExitStatus;
use crate::cli::{MonitorArgs, WaitReadyArgs};
use crate::node::config::NodeConfig;

pub async fn run(args: &MonitorArgs, _ctx: &Ctx) -> Result<ExitStatus> {
    let mut cfg = NodeConfig::load(&args.config)?;
    if let Some(i) = args.interval {
        cfg.interval_secs = i.as_secs().max(1) as u32;
    }
    // Samples matter more than the health endpoint: a taken port is a warning, not a stop.
    let listener = match tokio::net::TcpListener::bind(&cfg.health_listen).await {
        Ok(l) => {
            crate::daemon_line!("monitor: node `{}`, health on http://{}/health", cfg.node, l.local_addr()?);
            Some(l)
        }
        Err(e) => {
            crate::daemon_line!(
                "monitor: node `{}`: cannot listen on `{}` ({e}); sampling without a health endpoint",
                cfg.node,
                cfg.health_listen
            );
            None
        }
    };
    let path = Some(args.config.clone());
    crate::telemetry::monitor::run(cfg, path, listener, super::shutdown_signal("monitor", "shipping what is spooled"))
        .await?;
    Ok(ExitStatus::Success)
}

pub async fn wait_ready(args: &WaitReadyArgs) -> Result<ExitStatus> {
    let start = Instant::now();
    let mut last;
    loop {
        let left = args.timeout.saturating_sub(start.elapsed());
        match crate::http::one_token(
            &args.url,
            &args.model,
            left.clamp(Duration::from_secs(1), Duration::from_secs(60)),
        )
        .await
        {
            Ok(()) => {
                crate::result_line!(
                    "ready: {} serves `{}` after {:.1}s",
                    args.url,
                    args.model,
                    start.elapsed().as_secs_f64()
                );
                return Ok(ExitStatus::Success);
            }
            Err(e) => last = e,
        }
        if start.elapsed() >= args.timeout {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // The log's tail first and the reason last: the step's message is the last line.
    for log in &args.log {
        if let Ok(text) = std::fs::read_to_string(log) {
            let lines: Vec<&str> = text.lines().collect();
            crate::daemon_line!("--- last lines of {} ---", log.display());
            for l in &lines[lines.len().saturating_sub(20)..] {
                crate::daemon_line!("{l}");
            }
        }
    }
    crate::daemon_line!(
        "not ready: {} did not answer a completion for `{}` within {}: {}",
        args.url,
        args.model,
        crate::util::human_duration(args.timeout),
        last.replace('\n', " ")
    );
    Ok(ExitStatus::Failure)
}

/// `garnet admin-call`: the router's admin API, driven from the router node.
pub async fn admin_call(args: &crate::cli::AdminCallArgs) -> Result<ExitStatus> {
    use hyper::Method;

    use crate::router::table::RoutesConfig;
    let token = crate::util::read_secret_file(&args.token_file)?;
    let base = args.url.trim_end_matches('/');
    let t = Duration::from_secs(30);
    // `get` is for people and `status`: answer now. The others run right after a router start.
    let retry = args.call.first().map(String::as_str) != Some("get");
    let call = |m: Method, path: String, body: Option<serde_json::Value>| {
        let token = token.clone();
        async move {
            // A router that was just (re)started may not listen yet: retry connection failures for
            // a while rather than fail the step.
            let patience = if retry { Duration::from_secs(30) } else { Duration::ZERO };
            let deadline = Instant::now() + patience;
            let r = loop {
                match crate::http::request(m.clone(), &format!("{base}{path}"), Some(&token), body.as_ref(), t).await {
                    Ok(r) => break r,
                    Err(e) if Instant::now() < deadline => {
                        tracing::debug!("admin API at {base}: {e}; retrying");
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                    Err(e) => anyhow::bail!("admin API at {base}: {e}"),
                }
            };
            if !r.ok() {
                anyhow::bail!("admin API at {base}{path}: HTTP {}: {}", r.status, r.text());
            }
            Ok::<_, anyhow::Error>(r.json().unwrap_or_default())
        }
    };
    match args.call.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["apply-routes", file] => {
            let text = std::fs::read_to_string(file).with_context(|| format!("cannot read `{file}`"))?;
            let want: RoutesConfig =
                serde_json::from_str(&text).with_context(|| format!("`{file}` is not a routes file"))?;
            let live = call(Method::GET, "/admin/routes".into(), None).await?;
            if serde_json::from_value::<RoutesConfig>(live["routes"].clone()).ok().as_ref() == Some(&want) {
                crate::result_line!("{}", serde_json::json!({"unchanged": true}));
                return Ok(ExitStatus::Unchanged);
            }
            let r = call(Method::PUT, "/admin/routes".into(), Some(serde_json::to_value(&want)?)).await?;
            crate::result_line!("{r}");
            Ok(ExitStatus::Success)
        }
        ["wait-idle", id, "--max", max] => {
            let max = crate::cli::parse_duration(max).map_err(anyhow::Error::msg)?;
            let path = format!("/admin/backends/{}", id.replace('/', "%2F"));
            let start = Instant::now();
            loop {
                let b = call(Method::GET, path.clone(), None).await?;
                let n = b["in_flight"].as_u64().unwrap_or(0);
                if n == 0 || start.elapsed() >= max {
                    crate::result_line!(
                        "{}",
                        serde_json::json!({"in_flight": n, "waited_ms": start.elapsed().as_millis() as u64})
                    );
                    return Ok(ExitStatus::Success);
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        ["get", path] => {
            crate::result_line!("{}", call(Method::GET, path.to_string(), None).await?);
            Ok(ExitStatus::Success)
        }
        other => Err(crate::exit::UsageError(format!("unknown admin call {other:?}")).into()),
    }
}

/// `garnet supervise`: the services' supervisor. The program runs as a child; its stdout and
/// stderr go to size-rotated log files (`--log-out`, `--log-err`, see `node::logs`) or, without
/// them, to the supervisor's own; each exit is recorded in the exit file; a failure (non-zero
/// exit or a signal) restarts it after a backoff (1 s doubling to 30 s, reset after a minute up)
/// when `--restart` (the process backend; launchd and systemd restart the supervisor instead); a
/// clean exit ends the service. SIGTERM/SIGINT are passed to the program, which gets 25 s before
/// SIGKILL.
pub async fn supervise(args: &crate::cli::SuperviseArgs) -> Result<ExitStatus> {
    use std::process::Stdio;
    use tokio::signal::unix::{SignalKind, signal};

    use crate::node::logs::{LogRotation, RotatingFile};
    let (Some(program), rest) = (args.argv.first(), &args.argv[1.min(args.argv.len())..]) else {
        return Err(crate::exit::UsageError("nothing to run".into()).into());
    };
    let rotation = LogRotation { max_bytes: args.log_max_bytes.max(1024), keep: args.log_keep };
    let sink = |p: &Option<std::path::PathBuf>| -> Result<Option<Sink>> {
        p.as_ref()
            .map(|p| {
                RotatingFile::open(p, rotation)
                    .map(|f| std::sync::Arc::new(std::sync::Mutex::new(f)))
                    .with_context(|| format!("cannot open log `{}`", p.display()))
            })
            .transpose()
    };
    let (out, err) = (sink(&args.log_out)?, sink(&args.log_err)?);
    let note = |msg: String| match &err {
        Some(e) => e.lock().unwrap_or_else(|p| p.into_inner()).write(format!("supervise: {msg}\n").as_bytes()),
        None => crate::daemon_line!("supervise: {msg}"),
    };
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut restarts = 0u64;
    let mut backoff = Duration::from_secs(1);
    loop {
        let started = Instant::now();
        let piped = |s: &Option<Sink>| if s.is_some() { Stdio::piped() } else { Stdio::inherit() };
        let mut child = tokio::process::Command::new(program)
            .args(rest)
            .stdout(piped(&out))
            .stderr(piped(&err))
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start `{program}`"))?;
        let pid = child.id().map(|p| p as i32);
        // The program's pid, for the monitor's look at its memory.
        if let Some(p) = pid {
            let _ = std::fs::write(crate::telemetry::loaders::child_file(&args.exit_file), format!("{p}\n"));
        }
        let mut pumps = Vec::new();
        if let (Some(pipe), Some(s)) = (child.stdout.take(), &out) {
            pumps.push(tokio::spawn(pump(pipe, s.clone())));
        }
        if let (Some(pipe), Some(s)) = (child.stderr.take(), &err) {
            pumps.push(tokio::spawn(pump(pipe, s.clone())));
        }
        let status = tokio::select! {
            s = child.wait() => s?,
            _ = term.recv() => return stop(&mut child, pid, pumps).await,
            _ = int.recv() => return stop(&mut child, pid, pumps).await,
        };
        drain(pumps).await;
        use std::os::unix::process::ExitStatusExt;
        let record = serde_json::json!({
            "at": jiff::Timestamp::now().to_string(), "exit_code": status.code(), "signal": status.signal(),
            "ran_secs": started.elapsed().as_secs_f64(), "restarts": restarts,
        });
        let tmp = args.exit_file.with_extension("exit.tmp");
        if std::fs::write(&tmp, format!("{record}\n")).and_then(|()| std::fs::rename(&tmp, &args.exit_file)).is_err() {
            note(format!("cannot write `{}`", args.exit_file.display()));
        }
        if let Err(e) = crate::node::logs::append_exit(&args.exit_file, &record) {
            note(format!("cannot append to the exit log: {e}"));
        }
        if status.success() || !args.restart {
            return Ok(if status.success() { ExitStatus::Success } else { ExitStatus::Failure });
        }
        if started.elapsed() > Duration::from_secs(60) {
            backoff = Duration::from_secs(1);
        }
        note(format!("`{program}` ended ({status}); starting it again in {}s", backoff.as_secs()));
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = term.recv() => return Ok(ExitStatus::Success),
            _ = int.recv() => return Ok(ExitStatus::Success),
        }
        backoff = (backoff * 2).min(Duration::from_secs(30));
        restarts += 1;
    }
}

type Sink = std::sync::Arc<std::sync::Mutex<crate::node::logs::RotatingFile>>;

/// Copies a child's output into its log, a line at a time (a line longer than the read buffer in
/// pieces), until the pipe closes.
async fn pump(pipe: impl tokio::io::AsyncRead + Unpin, sink: Sink) {
    use tokio::io::AsyncBufReadExt;
    let mut r = tokio::io::BufReader::with_capacity(16 * 1024, pipe);
    loop {
        let n = match r.fill_buf().await {
            Ok([]) | Err(_) => return,
            Ok(buf) => {
                let n = memchr::memchr(b'\n', buf).map_or(buf.len(), |i| i + 1);
                sink.lock().unwrap_or_else(|p| p.into_inner()).write(&buf[..n]);
                n
            }
        };
        r.consume(n);
    }
}

/// Waits (briefly) for the log pumps to copy what the program wrote last.
async fn drain(pumps: Vec<tokio::task::JoinHandle<()>>) {
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        for p in pumps {
            let _ = p.await;
        }
    })
    .await;
}

async fn stop(
    child: &mut tokio::process::Child,
    pid: Option<i32>,
    pumps: Vec<tokio::task::JoinHandle<()>>,
) -> Result<ExitStatus> {
    if let Some(pid) = pid {
        unsafe { libc::kill(pid, libc::SIGTERM) };
    }
    if tokio::time::timeout(Duration::from_secs(25), child.wait()).await.is_err() {
        let _ = child.kill().await;
    }
    drain(pumps).await;
    Ok(ExitStatus::Success)
}
