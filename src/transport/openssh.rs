//! The `openssh` transport: the system `ssh` client, one multiplexed master per node.
//!
//! Everything `ssh` reads applies (`~/.ssh/config`, ProxyJump, ProxyCommand such as
//! `cloudflared access ssh`, agents, FIDO keys). Host keys are always verified: `accept-new`
//! learns unknown hosts and refuses changed keys, `strict` refuses unknown hosts too.
//!
//! **Kept masters.** With [`ConnectOptions::persist`] set (the default, 60 s like Ansible's
//! ControlPersist), a node's master lives at a fixed path in the operator's 0700 control
//! directory, named by a hash of everything that decides the connection (host, port, user, key,
//! known_hosts, ssh_config, host-key mode), so a later command reuses it without a handshake.
//! - While a garnet process uses a master it holds an idle mux connection to it: OpenSSH counts it
//!   as a client, so the master never times out mid-run. Once the process lets go (or dies), the
//!   master exits after `persist` of idleness.
//! - A per-master lock file serialises checking and launching, so two garnet processes never start
//!   two masters for one socket.
//! - A socket whose master is gone, or that does not answer an alive check within 5 s, is removed
//!   and replaced (so is one opened before the known_hosts files changed); a reused master that
//!   cannot open a channel is replaced once and the command retried (it never started on the node).
//! - `garnet connections close` (and `keys`, `offboard`) ask masters to stop.
//!
//! Without `persist` (`--ssh-persist 0`), the master is launched the same way at a socket of this
//! process's own and stopped when the node's work ends (ten seconds after garnet, should it die).

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use openssh::{Session, Stdio};
use tokio::io::AsyncWriteExt;

use super::{ConnectError, ConnectOptions, OutputPump, RunOutput, RunRequest, Transport, TransportError, pump_two};
use crate::inventory::{HostKeyChecking, Node};

/// How long a kept master may take to answer an alive check before it is replaced.
const CHECK_TIMEOUT: Duration = Duration::from_secs(5);

pub struct OpenSsh {
    live: Mutex<Live>,
    /// Set for kept masters: what a replacement needs.
    kept: Option<(Node, ConnectOptions)>,
}

struct Live {
    session: Arc<Session>,
    /// The idle mux connection that keeps the master from timing out while in use.
    hold: UnixStream,
    /// The master was already running when this process connected.
    reused: bool,
}

pub async fn connect(node: &Node, opts: &ConnectOptions) -> Result<OpenSsh, ConnectError> {
    ensure_private_dir(&opts.control_dir)?;
    match opts.persist {
        // A master of this run alone, at a socket no other process uses, stopped by `close`; it
        // lingers at most ten seconds should garnet die without closing it (its hold goes with it).
        // Not less: the master's timer runs from its start until garnet holds it, which on an
        // overloaded machine (hundreds of handshakes on two cores) took over a second.
        None => {
            static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
            let base = socket_path(node, &opts.control_dir);
            let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let sock = base.with_file_name(format!(
                "{}-{}-{n}",
                base.file_name().unwrap_or_default().to_string_lossy(),
                std::process::id()
            ));
            let _ = std::fs::remove_file(&sock);
            launch(node, Duration::from_secs(10), &sock).await?;
            let live = held(sock)?;
            Ok(OpenSsh { live: Mutex::new(live), kept: None })
        }
        Some(persist) => {
            let live = kept_master(node, opts, persist, false).await?;
            Ok(OpenSsh { live: Mutex::new(live), kept: Some((node.clone(), opts.clone())) })
        }
    }
}

/// The just-started master at `sock`, held.
fn held(sock: PathBuf) -> Result<Live, ConnectError> {
    let hold = UnixStream::connect(&sock).map_err(|e| {
        ConnectError::new(format!("the new SSH master's socket `{}` does not answer: {e}", sock.display()), true)
    })?;
    Ok(Live { session: Arc::new(Session::resume_mux(sock.into_boxed_path(), None)), hold, reused: false })
}

/// The control directory must be private: a master's socket lets anyone who can reach it run
/// commands as the operator on the node. Created 0700; an existing one must be owned by this user
/// and closed to others (a loose one of ours is tightened).
pub fn ensure_private_dir(dir: &Path) -> Result<(), ConnectError> {
    let fail = |what: String| ConnectError::new(format!("control directory `{}`: {what}", dir.display()), false);
    if !dir.exists() {
        std::fs::create_dir_all(dir).map_err(|e| fail(format!("cannot create it: {e}")))?;
    }
    let meta = std::fs::symlink_metadata(dir).map_err(|e| fail(e.to_string()))?;
    if !meta.is_dir() {
        return Err(fail("is not a directory".into()));
    }
    // SAFETY: getuid has no preconditions.
    let me = unsafe { libc::getuid() };
    if meta.uid() != me {
        return Err(fail(format!(
            "is owned by uid {}, not by you (uid {me}); remove it or set --state-dir",
            meta.uid()
        )));
    }
    if meta.mode() & 0o077 != 0 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| fail(format!("cannot make it private (0700): {e}")))?;
    }
    Ok(())
}

/// The kept master's socket for `node`: the control directory and a hash of every setting that
/// decides which connection `ssh` would make.
pub fn socket_path(node: &Node, control_dir: &Path) -> PathBuf {
    use sha2::Digest;
    let key = format!(
        "v1\0{}\0{}\0{}\0{}\0{}\0{}\0{:?}",
        node.host,
        node.port,
        node.user.as_deref().unwrap_or(""),
        node.identity_file.as_deref().map(|p| p.display().to_string()).unwrap_or_default(),
        node.known_hosts.as_deref().map(|p| p.display().to_string()).unwrap_or_default(),
        node.ssh_config.as_deref().map(|p| p.display().to_string()).unwrap_or_default(),
        node.host_key_checking,
    );
    let digest = sha2::Sha256::digest(key.as_bytes());
    let name: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    control_dir.join(name)
}

/// Identity, size and modification time of the known_hosts files `ssh` checks the node's key
/// against (the node's `known_hosts`, else `~/.ssh/known_hosts`, and the system's). A
/// `UserKnownHostsFile` set only inside an `ssh_config` is not seen.
fn known_hosts_stamp(node: &Node) -> String {
    let user = node
        .known_hosts
        .clone()
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".ssh/known_hosts")));
    let files = [user, Some(PathBuf::from("/etc/ssh/ssh_known_hosts"))];
    files
        .iter()
        .map(|f| match f.as_deref().map(std::fs::metadata) {
            Some(Ok(m)) => format!("{}:{}:{}.{}", m.ino(), m.size(), m.mtime(), m.mtime_nsec()),
            _ => "-".to_string(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Takes the master's lock file (blocking in a worker thread); released when the file drops.
async fn lock(path: &Path) -> Result<std::fs::File, ConnectError> {
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::OpenOptionsExt;
    let lock_path = path.with_extension("lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(&lock_path)
        .map_err(|e| ConnectError::new(format!("cannot open `{}`: {e}", lock_path.display()), false))?;
    tokio::task::spawn_blocking(move || {
        // SAFETY: the descriptor is open for the duration of the call.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
        if rc == 0 { Ok(file) } else { Err(std::io::Error::last_os_error()) }
    })
    .await
    .map_err(|e| ConnectError::new(format!("locking the control socket: {e}"), false))?
    .map_err(|e| ConnectError::new(format!("cannot lock `{}`: {e}", lock_path.display()), false))
}

/// Reuses the node's kept master when it is alive and answers, else starts one.
async fn kept_master(
    node: &Node,
    opts: &ConnectOptions,
    persist: Duration,
    replace: bool,
) -> Result<Live, ConnectError> {
    let sock = socket_path(node, &opts.control_dir);
    let _lock = lock(&sock).await?;
    let stamp = known_hosts_stamp(node);
    let recorded = std::fs::read_to_string(sock.with_extension("lock")).unwrap_or_default();
    if replace {
        let _ = std::fs::remove_file(&sock);
    } else if recorded.lines().nth(1) != Some(stamp.as_str()) {
        // The host keys it was verified against changed since (or it predates this record): a
        // master is reused only while they are as they were, so a key removed from known_hosts
        // stops the next command as it would a fresh `ssh`.
        if stop_master(&sock).await {
            tracing::debug!(node = %node.name, "known_hosts changed since the SSH master was opened, replacing it");
        }
    } else if let Some(live) = reuse(&sock).await {
        return Ok(live);
    }
    launch(node, persist, &sock).await?;
    // Which node this master reaches (for closing every master to a node, `masters_to`), and the
    // host-key files it was verified against (after `accept-new` learned the node).
    let _ = std::fs::write(sock.with_extension("lock"), format!("{}\n{}\n", node.address(), known_hosts_stamp(node)));
    held(sock)
}

/// A running master at `sock`, held; `None` (and the socket removed) when it is gone or stuck.
async fn reuse(sock: &Path) -> Option<Live> {
    if !sock.exists() {
        return None;
    }
    // Hold first: from then on the master cannot time out under us.
    let hold = match UnixStream::connect(sock) {
        Ok(h) => h,
        Err(e) => {
            tracing::debug!(socket = %sock.display(), error = %e, "stale SSH control socket, replacing it");
            let _ = std::fs::remove_file(sock);
            return None;
        }
    };
    let session = Session::resume_mux(sock.to_path_buf().into_boxed_path(), None);
    match tokio::time::timeout(CHECK_TIMEOUT, session.check()).await {
        Ok(Ok(())) => Some(Live { session: Arc::new(session), hold, reused: true }),
        other => {
            tracing::debug!(socket = %sock.display(), result = ?other.map(|r| r.err()), "SSH master does not answer, replacing it");
            let _ = std::fs::remove_file(sock);
            None
        }
    }
}

/// Starts `ssh -M -f -N` with the master socket at `sock` and ControlPersist `persist`.
async fn launch(node: &Node, persist: Duration, sock: &Path) -> Result<(), ConnectError> {
    let log = sock.with_extension("log");
    let _ = std::fs::remove_file(&log);
    let mut cmd = tokio::process::Command::new("ssh");
    cmd.stdin(std::process::Stdio::null()).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null());
    cmd.arg("-E").arg(&log).arg("-S").arg(sock).args(["-M", "-f", "-N"]);
    cmd.arg("-o").arg(format!("ControlPersist={}s", persist.as_secs().max(1)));
    cmd.args(["-o", "BatchMode=yes", "-o"]);
    cmd.arg(match node.host_key_checking {
        HostKeyChecking::Strict => "StrictHostKeyChecking=yes",
        HostKeyChecking::AcceptNew => "StrictHostKeyChecking=accept-new",
    });
    cmd.arg("-o").arg(format!("ConnectTimeout={}", node.connect_timeout.as_secs().max(1)));
    cmd.args(["-o", "ServerAliveInterval=15"]);
    cmd.arg("-p").arg(node.port.to_string());
    if let Some(user) = &node.user {
        cmd.arg("-l").arg(user);
    }
    if let Some(key) = &node.identity_file {
        cmd.args(["-o", "IdentitiesOnly=yes", "-i"]).arg(key);
    }
    if let Some(cfg) = &node.ssh_config {
        cmd.arg("-F").arg(cfg);
    }
    if let Some(kh) = &node.known_hosts {
        let mut o = std::ffi::OsString::from("UserKnownHostsFile=");
        o.push(kh);
        cmd.arg("-o").arg(o);
    }
    cmd.arg("--").arg(&node.host);
    let status =
        cmd.status().await.map_err(|e| ConnectError::new(format!("cannot run the `ssh` client: {e}"), false))?;
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let _ = std::fs::remove_file(&log);
    if status.success() && sock.exists() {
        return Ok(());
    }
    if status.success() {
        // It connected, then its ControlPersist ran out before anyone used it (a short
        // `--ssh-persist` on a loaded machine): worth another try.
        return Err(ConnectError::new(
            format!(
                "the SSH master exited before its first use (ControlPersist={}s ran out)",
                persist.as_secs().max(1)
            ),
            true,
        ));
    }
    let text: Vec<&str> =
        text.lines().filter(|l| !l.starts_with("Warning: Permanently added") && !l.trim().is_empty()).collect();
    let text = if text.is_empty() { format!("ssh exited with {status}") } else { text.join("\n") };
    Err(ConnectError::from_ssh_text(&text))
}

fn run_error(e: openssh::Error) -> TransportError {
    match e {
        openssh::Error::Disconnected => TransportError::ConnectionLost("the SSH master connection went away".into()),
        openssh::Error::RemoteProcessTerminated => {
            TransportError::ConnectionLost("the remote process was terminated".into())
        }
        other => TransportError::Other(format!("ssh: {other}")),
    }
}

/// Asks the master at `sock` to stop: it accepts no new sessions and exits once the running ones
/// end. Returns whether a master was there.
pub async fn stop_master(sock: &Path) -> bool {
    if !sock.exists() {
        return false;
    }
    let session = Session::resume_mux(sock.to_path_buf().into_boxed_path(), None);
    let alive = matches!(tokio::time::timeout(CHECK_TIMEOUT, session.check()).await, Ok(Ok(())));
    if alive {
        let _ = tokio::time::timeout(CHECK_TIMEOUT, session.close()).await;
    }
    let _ = std::fs::remove_file(sock);
    alive
}

/// Every kept master socket in `control_dir` that reaches `node`'s host and port, whatever user,
/// key or config opened it (a key revocation must end them all).
pub fn masters_to(node: &Node, control_dir: &Path) -> Vec<PathBuf> {
    let target = host_port(&node.address()).to_string();
    let Ok(entries) = std::fs::read_dir(control_dir) else { return Vec::new() };
    let mut out: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "lock"))
        .filter(|p| {
            std::fs::read_to_string(p).is_ok_and(|t| host_port(t.lines().next().unwrap_or("").trim()) == target)
        })
        .map(|p| p.with_extension(""))
        .filter(|s| s.exists())
        .collect();
    out.sort();
    out
}

fn host_port(address: &str) -> &str {
    address.rsplit_once('@').map(|(_, hp)| hp).unwrap_or(address)
}

/// The process id of the master at `sock`, when one answers.
pub async fn master_pid(sock: &Path) -> Option<u32> {
    if !sock.exists() {
        return None;
    }
    let out = tokio::process::Command::new("ssh")
        .arg("-S")
        .arg(sock)
        .args(["-O", "check", "garnet-master"])
        .stdin(std::process::Stdio::null())
        .output();
    let out = tokio::time::timeout(CHECK_TIMEOUT, out).await.ok()?.ok()?;
    let text = String::from_utf8_lossy(&out.stderr);
    let pid = text.split("pid=").nth(1)?.split(')').next()?;
    pid.trim().parse().ok()
}

impl OpenSsh {
    fn session(&self) -> (Arc<Session>, bool) {
        let live = self.live.lock().unwrap();
        (live.session.clone(), live.reused)
    }

    async fn spawn(&self, req: &RunRequest) -> Result<openssh::Child<Arc<Session>>, TransportError> {
        let start = |session: Arc<Session>| {
            let mut cmd = Session::to_raw_command(session, &req.command);
            cmd.stdin(if req.stdin.is_some() { Stdio::piped() } else { Stdio::null() })
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            async move { cmd.spawn().await }
        };
        let (session, reused) = self.session();
        match start(session).await {
            Ok(child) => Ok(child),
            Err(e) => match &self.kept {
                // A master that was already running may have lost its node since (a reboot): the
                // channel never opened, so the command never ran. Replace the master once.
                Some((node, opts)) if reused => {
                    tracing::debug!(node = %node.name, error = %e, "kept SSH master cannot open a channel, replacing it");
                    let persist = opts.persist.unwrap_or(Duration::from_secs(60));
                    let fresh = kept_master(node, opts, persist, true)
                        .await
                        .map_err(|c| TransportError::ConnectionLost(format!("replacing the SSH master: {c}")))?;
                    let session = fresh.session.clone();
                    *self.live.lock().unwrap() = fresh;
                    start(session).await.map_err(run_error)
                }
                _ => Err(run_error(e)),
            },
        }
    }
}

#[async_trait]
impl Transport for OpenSsh {
    async fn run(&self, req: RunRequest) -> Result<RunOutput, TransportError> {
        let mut child = self.spawn(&req).await?;
        let mut pump = OutputPump::new(&req);
        let stdin = child.stdin().take();
        let data = req.stdin.clone();
        let (stdout, stderr) = (child.stdout().take(), child.stderr().take());
        let work = async {
            let feed = async move {
                if let (Some(mut w), Some(d)) = (stdin, data) {
                    let _ = w.write_all(&d).await;
                    let _ = w.shutdown().await;
                }
            };
            let (_, r) = tokio::join!(feed, pump_two(&mut pump, stdout, stderr));
            r.map_err(|e| TransportError::ConnectionLost(format!("reading output: {e}")))?;
            child.wait().await.map_err(run_error)
        };
        let status = match req.timeout {
            None => work.await?,
            // Dropping the child closes its channel; sshd then hangs up on the remote command.
            Some(t) => tokio::time::timeout(t, work).await.map_err(|_| TransportError::Timeout(t))??,
        };
        let (stdout, stderr) = pump.finish().await;
        Ok(RunOutput { exit_code: status.code(), signal: None, stdout, stderr })
    }

    async fn close(self: Box<Self>) {
        let live = self.live.into_inner().unwrap();
        drop(live.hold);
        // A kept master: letting go starts its ControlPersist timer. This run's own: stopped now.
        if self.kept.is_none() {
            stop_master(live.session.control_socket()).await;
        }
    }
}
