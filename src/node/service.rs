//! Services on a node, from one description: a launchd property list (macOS), a systemd unit
//! (Linux), or a plain detached process with a pidfile (containers, CI). Deploy installs them; the
//! same text is what `--dry-run` shows.

use std::collections::BTreeMap;

use crate::inventory::ServiceBackend;
use crate::transport::shell_quote;

/// What to run and how.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceSpec {
    /// Short name, e.g. `garnet-monitor`, `garnet-loader-llama`.
    pub name: String,
    pub program: String,
    pub args: Vec<String>,
    pub env: BTreeMap<String, String>,
    pub working_dir: Option<String>,
    /// Folder for the process backend's pidfile and the logs.
    pub run_dir: String,
    /// Start it again when it exits with a failure.
    pub restart: bool,
    /// The process backend's supervisor (a garnet binary on the node): it restarts the program
    /// when it fails and records how it ended in `<run_dir>/<name>.exit`. Without one, a crashed
    /// process stays down. launchd and systemd supervise by themselves.
    pub supervisor: Option<String>,
    /// How big its logs may grow (rotated by the supervisor; without one they are not rotated).
    pub logs: crate::node::logs::LogRotation,
}

impl ServiceSpec {
    /// launchd label: reverse-DNS, one per service.
    pub fn label(&self) -> String {
        format!("dev.garnet.{}", self.name.trim_start_matches("garnet-"))
    }
    pub fn stdout_log(&self) -> String {
        format!("{}/{}.out.log", self.run_dir, self.name)
    }
    pub fn stderr_log(&self) -> String {
        format!("{}/{}.err.log", self.run_dir, self.name)
    }
    /// Where the service manager sends the supervisor's own output (only what it says before its
    /// rotated logs are open; the program's output is in the `.out`/`.err` logs).
    pub fn supervisor_log(&self) -> String {
        format!("{}/{}.supervise.log", self.run_dir, self.name)
    }
    /// The manager's stdout and stderr files: the supervisor's log when supervised, else the logs.
    fn manager_logs(&self) -> (String, String) {
        match &self.supervisor {
            Some(_) => (self.supervisor_log(), self.supervisor_log()),
            None => (self.stdout_log(), self.stderr_log()),
        }
    }
    pub fn pidfile(&self) -> String {
        format!("{}/{}.pid", self.run_dir, self.name)
    }
    /// How the program last ended (written by the supervisor).
    pub fn exit_file(&self) -> String {
        format!("{}/{}.exit", self.run_dir, self.name)
    }
    fn argv(&self) -> Vec<String> {
        std::iter::once(self.program.clone()).chain(self.args.iter().cloned()).collect()
    }
    /// What the service manager runs: the program under `garnet supervise` when there is a
    /// supervisor (logs rotated, exits recorded; restarts too when `restart_here`, i.e. on the
    /// process backend, where nothing else restarts it).
    fn command(&self, restart_here: bool) -> Vec<String> {
        let Some(sup) = &self.supervisor else { return self.argv() };
        let mut w = vec![sup.clone(), "supervise".into(), "--exit-file".into(), self.exit_file()];
        if restart_here && self.restart {
            w.push("--restart".into());
        }
        w.extend([
            "--log-out".into(),
            self.stdout_log(),
            "--log-err".into(),
            self.stderr_log(),
            "--log-max-bytes".into(),
            self.logs.max_bytes.to_string(),
            "--log-keep".into(),
            self.logs.keep.to_string(),
            "--".into(),
        ]);
        w.into_iter().chain(self.argv()).collect()
    }
}

/// Open-file limit set for every service (the router raises its soft limit to the hard one).
pub const NOFILE: u64 = 65_536;

/// The LaunchAgent property list.
pub fn launchd_plist(s: &ServiceSpec) -> String {
    use plist::{Dictionary, Value};
    let mut d = Dictionary::new();
    d.insert("Label".into(), Value::String(s.label()));
    d.insert("ProgramArguments".into(), Value::Array(s.command(false).into_iter().map(Value::String).collect()));
    if !s.env.is_empty() {
        let env: Dictionary = s.env.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
        d.insert("EnvironmentVariables".into(), Value::Dictionary(env));
    }
    if let Some(w) = &s.working_dir {
        d.insert("WorkingDirectory".into(), Value::String(w.clone()));
    }
    d.insert("RunAtLoad".into(), Value::Boolean(true));
    if s.restart {
        let mut k = Dictionary::new();
        k.insert("SuccessfulExit".into(), Value::Boolean(false));
        d.insert("KeepAlive".into(), Value::Dictionary(k));
        d.insert("ThrottleInterval".into(), Value::Integer(5.into()));
    }
    let (out, err) = s.manager_logs();
    d.insert("StandardOutPath".into(), Value::String(out));
    d.insert("StandardErrorPath".into(), Value::String(err));
    // Each client connection and model file is a descriptor; launchd's default soft limit is 256.
    let mut files = Dictionary::new();
    files.insert("NumberOfFiles".into(), Value::Integer(NOFILE.into()));
    d.insert("SoftResourceLimits".into(), Value::Dictionary(files.clone()));
    d.insert("HardResourceLimits".into(), Value::Dictionary(files));
    d.insert("ProcessType".into(), Value::String("Interactive".into()));
    let mut out = Vec::new();
    Value::Dictionary(d).to_writer_xml(&mut out).expect("plist serializes");
    out.push(b'\n');
    String::from_utf8(out).expect("plist is UTF-8")
}

/// systemd's quoting for `ExecStart` and `Environment`: double quotes, `\` and `"` escaped, `%` doubled.
pub(crate) fn sd_quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\"").replace('%', "%%"))
}

/// The (user) systemd unit.
pub fn systemd_unit(s: &ServiceSpec) -> String {
    let mut u = format!(
        "[Unit]\nDescription=garnet {}\nAfter=network-online.target\n\n[Service]\nType=simple\nExecStart={}\n",
        s.name,
        s.command(false).iter().map(|a| sd_quote(a)).collect::<Vec<_>>().join(" ")
    );
    for (k, v) in &s.env {
        u.push_str(&format!("Environment={}\n", sd_quote(&format!("{k}={v}"))));
    }
    if let Some(w) = &s.working_dir {
        u.push_str(&format!("WorkingDirectory={w}\n"));
    }
    if s.restart {
        u.push_str("Restart=on-failure\nRestartSec=5\n");
    }
    let (out, err) = s.manager_logs();
    u.push_str(&format!("StandardOutput=append:{out}\nStandardError=append:{err}\nLimitNOFILE={NOFILE}\n"));
    u.push_str("KillSignal=SIGTERM\nTimeoutStopSec=30\n\n[Install]\nWantedBy=default.target\n");
    u
}

/// Exit code of start/stop scripts meaning "already so".
pub use crate::plan::UNCHANGED;

/// Shell to start the service as a detached process with a pidfile (exit 100 if it already runs).
pub fn process_start(s: &ServiceSpec) -> String {
    let env: String = s.env.iter().map(|(k, v)| format!("{k}={} ", shell_quote(v))).collect();
    let argv = s.command(true);
    let (out, err) = s.manager_logs();
    let cmd: String = argv.iter().map(|a| shell_quote(a)).collect::<Vec<_>>().join(" ");
    let cd = s.working_dir.as_deref().map(|w| format!("cd {} && ", shell_quote(w))).unwrap_or_default();
    format!(
        "mkdir -p {dir}; p={pid}\n\
         if [ -f \"$p\" ] && kill -0 \"$(cat \"$p\")\" 2>/dev/null; then exit {UNCHANGED}; fi\n\
         ( {cd}{env}exec {cmd} ) </dev/null >>{out} 2>>{err} &\n\
         echo $! > \"$p\"",
        dir = shell_quote(&s.run_dir),
        pid = shell_quote(&s.pidfile()),
        out = shell_quote(&out),
        err = shell_quote(&err),
    )
}

/// Shell to stop it: TERM, up to 30 s for it to go, then KILL (exit 100 if it was not running).
pub fn process_stop(s: &ServiceSpec) -> String {
    stop_pidfile(&shell_quote(&s.pidfile()))
}

/// The stop script for a pidfile given as a shell word (quoted path or `"$var"`).
fn stop_pidfile(pidfile: &str) -> String {
    format!(
        "p={pidfile}; [ -f \"$p\" ] || exit {UNCHANGED}; n=$(cat \"$p\")\n\
         if ! kill -0 \"$n\" 2>/dev/null; then rm -f \"$p\"; exit {UNCHANGED}; fi\n\
         kill -TERM \"$n\"; i=0\n\
         while kill -0 \"$n\" 2>/dev/null && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done\n\
         kill -KILL \"$n\" 2>/dev/null; rm -f \"$p\""
    )
}

/// Shell that exits 0 when the service runs, 3 when it does not (systemd's convention).
pub fn process_status(s: &ServiceSpec) -> String {
    format!(
        "p={pid}; [ -f \"$p\" ] && kill -0 \"$(cat \"$p\")\" 2>/dev/null || exit 3",
        pid = shell_quote(&s.pidfile())
    )
}

/// Where a service's definition lives on the node (`home` is the user's home directory there).
pub fn definition_path(backend: ServiceBackend, s: &ServiceSpec, home: &str, garnet_home: &str) -> String {
    match backend {
        ServiceBackend::Launchd => format!("{home}/Library/LaunchAgents/{}.plist", s.label()),
        ServiceBackend::Systemd => format!("{home}/.config/systemd/user/{}.service", s.name),
        _ => format!("{garnet_home}/services/{}.sh", s.name),
    }
}

/// The definition's text: the plist, the unit, or the process backend's start script.
pub fn definition(backend: ServiceBackend, s: &ServiceSpec) -> String {
    match backend {
        ServiceBackend::Launchd => launchd_plist(s),
        ServiceBackend::Systemd => systemd_unit(s),
        _ => format!("#!/bin/sh\n# garnet service `{}`: started by `garnet deploy`\n{}\n", s.name, process_start(s)),
    }
}

/// Shell that makes the service run at generation `generation` (a hash of its definition and of
/// everything it reads): exit 100 when it already does, else (re)start it and record the generation.
/// This is what makes a second deploy restart nothing, and a changed model or config restart
/// exactly the services that use it.
pub fn ensure_running(backend: ServiceBackend, s: &ServiceSpec, def_path: &str, generation: &str) -> String {
    // The run directory, and a private `TMPDIR` the service is given (it must exist).
    let run =
        std::iter::once(&s.run_dir).chain(s.env.get("TMPDIR")).map(|d| shell_quote(d)).collect::<Vec<_>>().join(" ");
    let gen_file = shell_quote(&format!("{}/{}.gen", s.run_dir, s.name));
    let def = shell_quote(def_path);
    let (running, restart) = match backend {
        ServiceBackend::Launchd => (
            format!("launchctl print \"gui/$(id -u)/{}\" >/dev/null 2>&1", s.label()),
            format!(
                "launchctl bootout \"gui/$(id -u)/{l}\" 2>/dev/null; launchctl bootstrap \"gui/$(id -u)\" {def} || exit 1",
                l = s.label()
            ),
        ),
        ServiceBackend::Systemd => (
            format!("systemctl --user daemon-reload && systemctl --user is-active -q {}.service", s.name),
            format!(
                "systemctl --user enable -q {n}.service && systemctl --user restart {n}.service || exit 1",
                n = s.name
            ),
        ),
        _ => (format!("( {} )", process_status(s)), format!("( {} ); sh {def} || exit 1", process_stop(s))),
    };
    format!(
        "mkdir -p {run}; g={generation}; f={gen_file}\n\
         if {running} && [ \"$(cat \"$f\" 2>/dev/null)\" = \"$g\" ]; then exit {UNCHANGED}; fi\n\
         {restart}\n\
         echo \"$g\" > \"$f\""
    )
}

/// Shell that stops and removes every garnet service whose name matches the shell glob `names`
/// (`garnet-loader-*`, or one exact name) under `run_dir` except `keep` (what an earlier deploy
/// installed and the placement no longer wants); exit 100 if none.
pub fn prune(backend: ServiceBackend, run_dir: &str, garnet_home: &str, names: &str, keep: &[String]) -> String {
    let stop = match backend {
        ServiceBackend::Launchd => "l=\"dev.garnet.${n#garnet-}\"; launchctl bootout \"gui/$(id -u)/$l\" 2>/dev/null; rm -f \"$HOME/Library/LaunchAgents/$l.plist\"".to_string(),
        ServiceBackend::Systemd => "systemctl --user disable --now -q \"$n.service\" 2>/dev/null; rm -f \"$HOME/.config/systemd/user/$n.service\"; systemctl --user daemon-reload".to_string(),
        _ => format!("( {} ); rm -f {}/services/\"$n.sh\"", stop_pidfile(&format!("{}/\"$n.pid\"", shell_quote(run_dir))), shell_quote(garnet_home)),
    };
    format!(
        "keep=' {keep} '; changed=\n\
         for f in {run}/{names}.gen; do\n\
         [ -e \"$f\" ] || continue; n=$(basename \"$f\" .gen)\n\
         case \"$keep\" in *\" $n \"*) continue;; esac\n\
         echo \"removing $n\"; {stop}; rm -f \"$f\"; changed=1\n\
         done\n\
         [ -n \"$changed\" ] || exit {UNCHANGED}",
        keep = keep.join(" "),
        run = shell_quote(run_dir),
    )
}

/// The backend to use for a node (auto: launchd on macOS, systemd on Linux).
pub fn backend_for(configured: ServiceBackend, os: Option<crate::inventory::Os>) -> ServiceBackend {
    match (configured, os) {
        (ServiceBackend::Auto, Some(crate::inventory::Os::Macos)) => ServiceBackend::Launchd,
        (ServiceBackend::Auto, Some(crate::inventory::Os::Linux)) => ServiceBackend::Systemd,
        (ServiceBackend::Auto, None) => ServiceBackend::Process,
        (b, _) => b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(run_dir: &str) -> ServiceSpec {
        ServiceSpec {
            name: "garnet-loader-tiny".into(),
            program: "/bin/sleep".into(),
            args: vec!["30".into()],
            env: [("HF_HUB_OFFLINE".to_string(), "1".to_string()), ("NOTE".to_string(), "50% \"quoted\"".to_string())]
                .into(),
            working_dir: Some("/tmp".into()),
            run_dir: run_dir.into(),
            restart: true,
            supervisor: None,
            logs: Default::default(),
        }
    }

    #[test]
    fn plist_parses_back() {
        let text = launchd_plist(&spec("/Users/garnet/.garnet/run"));
        let v = plist::Value::from_reader_xml(text.as_bytes()).unwrap();
        let d = v.as_dictionary().unwrap();
        assert_eq!(d["Label"].as_string(), Some("dev.garnet.loader-tiny"));
        let args: Vec<&str> =
            d["ProgramArguments"].as_array().unwrap().iter().map(|a| a.as_string().unwrap()).collect();
        assert_eq!(args, ["/bin/sleep", "30"]);
        assert_eq!(d["EnvironmentVariables"].as_dictionary().unwrap()["NOTE"].as_string(), Some("50% \"quoted\""));
        assert_eq!(d["KeepAlive"].as_dictionary().unwrap()["SuccessfulExit"].as_boolean(), Some(false));
        assert_eq!(d["StandardErrorPath"].as_string(), Some("/Users/garnet/.garnet/run/garnet-loader-tiny.err.log"));
        let files = |k: &str| d[k].as_dictionary().unwrap()["NumberOfFiles"].as_unsigned_integer();
        assert_eq!((files("SoftResourceLimits"), files("HardResourceLimits")), (Some(NOFILE), Some(NOFILE)));
    }

    #[test]
    fn supervised_services_rotate_their_logs_on_every_backend() {
        let mut s = spec("/r");
        s.supervisor = Some("/g/bin/garnet".into());
        s.logs = crate::node::logs::LogRotation { max_bytes: 5000, keep: 4 };
        let want_logs = ["--log-out", "/r/garnet-loader-tiny.out.log", "--log-err", "/r/garnet-loader-tiny.err.log"];
        // launchd: the supervisor does not restart (launchd does), and its own output is apart.
        let v = plist::Value::from_reader_xml(launchd_plist(&s).as_bytes()).unwrap();
        let d = v.as_dictionary().unwrap();
        let args: Vec<&str> =
            d["ProgramArguments"].as_array().unwrap().iter().map(|a| a.as_string().unwrap()).collect();
        assert_eq!(&args[..4], ["/g/bin/garnet", "supervise", "--exit-file", "/r/garnet-loader-tiny.exit"]);
        assert!(args.windows(4).any(|w| w == want_logs), "{args:?}");
        assert!(args.windows(2).any(|w| w == ["--log-max-bytes", "5000"]) && !args.contains(&"--restart"), "{args:?}");
        assert_eq!(&args[args.len() - 3..], ["--", "/bin/sleep", "30"]);
        assert_eq!(d["StandardErrorPath"].as_string(), Some("/r/garnet-loader-tiny.supervise.log"));
        // systemd likewise, with the open-file limit.
        let unit = systemd_unit(&s);
        assert!(unit.contains("\"--log-keep\" \"4\"") && !unit.contains("--restart"), "{unit}");
        assert!(
            unit.contains("LimitNOFILE=65536\n") && unit.contains("append:/r/garnet-loader-tiny.supervise.log"),
            "{unit}"
        );
        // The process backend: the supervisor restarts it too.
        let sh = process_start(&s);
        assert!(sh.contains("--restart") && sh.contains("--log-err"), "{sh}");
    }

    #[test]
    fn systemd_unit_verifies() {
        let dir = tempfile::tempdir().unwrap();
        let unit = systemd_unit(&spec(&dir.path().display().to_string()));
        assert!(unit.contains("Environment=\"NOTE=50%% \\\"quoted\\\"\"\n"), "{unit}");
        assert!(unit.contains("ExecStart=\"/bin/sleep\" \"30\"\n"), "{unit}");
        let f = dir.path().join("garnet-loader-tiny.service");
        std::fs::write(&f, &unit).unwrap();
        let complaints = |path: &std::path::Path| -> Option<Vec<String>> {
            let out = std::process::Command::new("systemd-analyze").arg("verify").arg(path).output().ok()?;
            let err = String::from_utf8_lossy(&out.stderr).into_owned();
            Some(err.lines().filter(|l| l.contains(&*path.to_string_lossy())).map(str::to_string).collect())
        };
        let Some(found) = complaints(&f) else {
            assert!(std::env::var_os("CI").is_none(), "systemd-analyze missing");
            return;
        };
        assert!(found.is_empty(), "systemd-analyze: {found:?}");
        // And it does complain about a broken unit, so the check above means something.
        let bad = dir.path().join("broken.service");
        std::fs::write(&bad, unit.replace("Restart=on-failure", "Restart=sometimes")).unwrap();
        assert!(!complaints(&bad).unwrap().is_empty());
    }

    #[test]
    fn process_backend_for_real() {
        let dir = tempfile::tempdir().unwrap();
        let s = spec(&dir.path().join("run").display().to_string());
        let sh = |script: String| std::process::Command::new("sh").arg("-c").arg(script).status().unwrap().code();
        assert_eq!(sh(process_status(&s)), Some(3), "not running yet");
        assert_eq!(sh(process_start(&s)), Some(0));
        assert_eq!(sh(process_status(&s)), Some(0));
        assert_eq!(sh(process_start(&s)), Some(UNCHANGED), "second start changes nothing");
        let pid: i32 = std::fs::read_to_string(s.pidfile()).unwrap().trim().parse().unwrap();
        assert_eq!(unsafe { libc::kill(pid, 0) }, 0);
        assert_eq!(sh(process_stop(&s)), Some(0));
        assert_eq!(sh(process_status(&s)), Some(3));
        assert_eq!(sh(process_stop(&s)), Some(UNCHANGED));
        // Reaped by init or gone: either way no longer signalable as our sleep.
        std::thread::sleep(std::time::Duration::from_millis(100));
        let alive =
            std::fs::read_to_string(format!("/proc/{pid}/cmdline")).map(|c| c.contains("sleep")).unwrap_or(false);
        assert!(!alive, "the service process survived stop");
        assert_eq!(backend_for(ServiceBackend::Auto, Some(crate::inventory::Os::Macos)), ServiceBackend::Launchd);
    }
}
