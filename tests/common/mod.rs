//! Test harness: the built `garnet` binary behind a small builder, and real OpenSSH `sshd` nodes on
//! 127.0.x.y, each with its own user, home and host key, torn down on drop.

#![allow(dead_code, reason = "each test area uses part of the shared helpers")]

pub mod loaders;

use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

pub const SSHD: &str = "/usr/sbin/sshd";

/// Runs `garnet` with a private state directory and no inherited GARNET_* settings.
#[derive(Clone)]
pub struct Garnet {
    args: Vec<String>,
    env: Vec<(String, String)>,
    cwd: Option<PathBuf>,
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Garnet {
    pub fn new() -> Self {
        Garnet { args: vec![], env: vec![], cwd: None }
    }

    pub fn arg(mut self, a: impl Into<String>) -> Self {
        self.args.push(a.into());
        self
    }

    pub fn args<I: IntoIterator<Item = S>, S: Into<String>>(mut self, a: I) -> Self {
        self.args.extend(a.into_iter().map(Into::into));
        self
    }

    pub fn env(mut self, k: &str, v: impl Into<String>) -> Self {
        self.env.push((k.into(), v.into()));
        self
    }

    pub fn cwd(mut self, d: impl Into<PathBuf>) -> Self {
        self.cwd = Some(d.into());
        self
    }

    pub fn command(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_garnet"));
        c.args(&self.args).stdin(Stdio::null());
        for (k, _) in std::env::vars() {
            if k.starts_with("GARNET_") {
                c.env_remove(k);
            }
        }
        c.env("NO_COLOR", "1");
        for (k, v) in &self.env {
            c.env(k, v);
        }
        if let Some(d) = &self.cwd {
            c.current_dir(d);
        }
        c
    }

    pub fn run(&self) -> Run {
        let out = self.command().output().expect("run garnet");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

impl Run {
    /// Node → outcome, from the `node_finished` events of a `-o json` run.
    pub fn outcomes(&self) -> std::collections::BTreeMap<String, String> {
        self.events()
            .iter()
            .filter(|e| e["event"] == "node_finished")
            .map(|e| (e["node"].as_str().unwrap().to_string(), e["outcome"].as_str().unwrap().to_string()))
            .collect()
    }

    /// `node step` of every step that changed something (from `-o json`).
    pub fn changed_steps(&self) -> Vec<String> {
        self.events()
            .iter()
            .filter(|e| e["event"] == "step_finished" && e["outcome"] == "changed")
            .map(|e| format!("{} {}", e["node"], e["step"]))
            .collect()
    }

    pub fn events(&self) -> Vec<serde_json::Value> {
        self.stdout
            .lines()
            .map(|l| {
                serde_json::from_str(l)
                    .unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}\nstderr: {}", self.stderr))
            })
            .collect()
    }

    pub fn expect(&self, code: i32) -> &Self {
        assert_eq!(self.code, code, "exit code\n--- stdout\n{}\n--- stderr\n{}", truncate(&self.stdout), self.stderr);
        self
    }
}

/// The head of a long output, plus every line about a failure (failed steps, their output, node
/// outcomes), which is what a reader of a failed test needs and what a plain cut would lose.
fn truncate(s: &str) -> String {
    if s.len() <= 4000 {
        return s.to_string();
    }
    let mut end = 4000;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    let telling: Vec<&str> = s[end..]
        .lines()
        .filter(|l| {
            ["\"failed\"", "\"unreachable\"", "node_finished", "\"output\"", "error"].iter().any(|w| l.contains(w))
        })
        .collect();
    format!("{}\n[… cut; the failure lines after it:]\n{}", &s[..end], telling.join("\n"))
}

/// Whether real-sshd tests can run here. CI installs everything, so there a missing piece fails
/// loudly; a developer machine without sshd or root skips with a message.
pub fn sshd_available() -> bool {
    let root = unsafe { libc::geteuid() } == 0;
    let ok = Path::new(SSHD).exists() && root;
    if !ok {
        let why = if root {
            format!("{SSHD} is missing (apt-get install openssh-server)")
        } else {
            "tests need root to create node users".into()
        };
        if std::env::var_os("CI").is_some() {
            panic!("real-sshd tests cannot run in CI: {why}");
        }
        eprintln!("skipping real-sshd test: {why}");
    }
    ok
}

pub static USERS: Mutex<()> = Mutex::new(());

/// Held by the tests that compare latencies with a client's own clock, and by the soak (which
/// loads both cores): one at a time, so that a clock comparison does not measure the soak.
pub static CLOCKS: Mutex<()> = Mutex::new(());

pub fn clocks() -> std::sync::MutexGuard<'static, ()> {
    CLOCKS.lock().unwrap_or_else(|e| e.into_inner())
}
static NEXT_IP: AtomicU32 = AtomicU32::new(1);

/// Creates `user` (with a home and an unlocked, password-less account) if missing.
pub fn ensure_user(user: &str) {
    let _g = USERS.lock().unwrap();
    if Command::new("id").arg("-u").arg(user).stdout(Stdio::null()).stderr(Stdio::null()).status().unwrap().success() {
        return;
    }
    let st = Command::new("useradd").args(["-m", "-s", "/bin/sh", user]).status().expect("useradd");
    assert!(st.success(), "useradd {user}");
    // useradd leaves the account locked; sshd (UsePAM no) refuses locked accounts.
    let st = Command::new("usermod").args(["-p", "*", user]).status().expect("usermod");
    assert!(st.success(), "usermod {user}");
}

pub struct Node {
    pub name: String,
    pub ip: String,
    pub port: u16,
    pub user: String,
    config: PathBuf,
    log: PathBuf,
    child: Option<Child>,
}

/// Several sshd nodes sharing one client key and known_hosts file.
pub struct Cluster {
    pub dir: tempfile::TempDir,
    pub nodes: Vec<Node>,
}

fn keygen(path: &Path) {
    let st = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "garnet-test", "-f"])
        .arg(path)
        .status()
        .expect("ssh-keygen");
    assert!(st.success());
}

impl Cluster {
    /// `n` running nodes: `node1..nodeN`, users `garnet-t1..garnet-tN`.
    pub fn start(n: usize) -> Cluster {
        Cluster::start_as(n, "garnet-t")
    }

    /// `n` running nodes with users `<prefix>1..<prefix>N`. Tests that deploy services give
    /// their cluster users of its own: services live in the user's home (`~/.garnet`), so two
    /// such tests sharing users would stop and replace each other's routers and loaders.
    pub fn start_as(n: usize, prefix: &str) -> Cluster {
        let dir = tempfile::Builder::new().prefix("g").tempdir().unwrap();
        let d = dir.path();
        // sshd reads authorized_keys as the target user.
        std::fs::set_permissions(d, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        std::fs::create_dir_all(d.join("run")).unwrap();
        std::fs::create_dir_all("/run/sshd").unwrap();
        keygen(&d.join("id_ed25519"));
        std::fs::copy(d.join("id_ed25519.pub"), d.join("authorized_keys")).unwrap();
        std::fs::set_permissions(d.join("authorized_keys"), std::os::unix::fs::PermissionsExt::from_mode(0o644))
            .unwrap();
        std::fs::write(
            d.join("ssh_config"),
            format!("Host *\n  BatchMode yes\n  IdentitiesOnly yes\n  GlobalKnownHostsFile /dev/null\n  UserKnownHostsFile {}\n  LogLevel ERROR\n", d.join("known_hosts").display()),
        )
        .unwrap();
        let mut known = String::new();
        let mut nodes = Vec::new();
        for i in 1..=n {
            let user = format!("{prefix}{i}");
            ensure_user(&user);
            let k = NEXT_IP.fetch_add(1, Ordering::SeqCst);
            let ip =
                Ipv4Addr::new(127, 0, 1 + (k / 250) as u8 + (std::process::id() % 50) as u8 * 4, (k % 250 + 1) as u8)
                    .to_string();
            let host_key = d.join(format!("host_key_{i}"));
            keygen(&host_key);
            let pubkey = std::fs::read_to_string(host_key.with_extension("pub")).unwrap();
            let mut node = Node {
                name: format!("node{i}"),
                ip: ip.clone(),
                port: 0,
                user: user.clone(),
                config: d.join(format!("sshd_{i}.conf")),
                log: d.join(format!("sshd_{i}.log")),
                child: None,
            };
            node.port = free_port(&ip);
            let mut parts = pubkey.split_whitespace();
            known.push_str(&format!("[{ip}]:{} {} {}\n", node.port, parts.next().unwrap(), parts.next().unwrap()));
            std::fs::write(
                &node.config,
                format!(
                    "Port {port}\nListenAddress {ip}\nHostKey {hk}\nPidFile {run}/sshd_{i}.pid\nAuthorizedKeysFile {ak} .ssh/authorized_keys\nStrictModes no\nUsePAM no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nPubkeyAuthentication yes\nPermitRootLogin no\nAllowUsers {user}\nMaxStartups 200:30:400\nMaxSessions 200\nLogLevel VERBOSE\n",
                    port = node.port,
                    hk = host_key.display(),
                    run = d.join("run").display(),
                    ak = d.join("authorized_keys").display(),
                ),
            )
            .unwrap();
            nodes.push(node);
        }
        std::fs::write(d.join("known_hosts"), known).unwrap();
        let mut c = Cluster { dir, nodes };
        for i in 0..n {
            c.up(i);
        }
        c
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Starts node `i` (0-based) and waits until sshd says it listens.
    pub fn up(&mut self, i: usize) {
        let node = &mut self.nodes[i];
        assert!(node.child.is_none(), "node {i} already up");
        let log = std::fs::File::create(&node.log).unwrap();
        let child = Command::new(SSHD)
            .args(["-D", "-e", "-f"])
            .arg(&node.config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start sshd");
        node.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let text = std::fs::read_to_string(&node.log).unwrap_or_default();
            if text.contains("Server listening on") {
                return;
            }
            if let Some(st) = node.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("sshd for {} exited ({st}):\n{text}", node.name);
            }
            assert!(Instant::now() < deadline, "sshd for {} did not start:\n{text}", node.name);
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Stops node `i`: it becomes unreachable.
    /// The node goes down: its sshd and every session it serves (as a powered-off machine would:
    /// a connection kept open from before does not survive).
    pub fn down(&mut self, i: usize) {
        if let Some(mut c) = self.nodes[i].child.take() {
            kill_tree(c.id() as i32);
            let _ = c.wait();
        }
    }

    pub fn log(&self, i: usize) -> String {
        let f = std::fs::File::open(&self.nodes[i].log).unwrap();
        BufReader::new(f).lines().map_while(Result::ok).collect::<Vec<_>>().join("\n")
    }

    /// Writes an inventory for these nodes (`transport` per node by index) and returns its path.
    pub fn inventory(&self, name: &str, transport: impl Fn(usize) -> &'static str, extra: &str) -> PathBuf {
        let d = self.path();
        let mut s = format!(
            "cluster: {{slug: {slug}, tier: pro}}\ndefaults:\n  identity_file: {d}/id_ed25519\n  known_hosts: {d}/known_hosts\n  ssh_config: {d}/ssh_config\n  host_key_checking: strict\n  connect_timeout_secs: 5\n  connect_retries: 1\nstore: {{kind: local, path: {d}/store}}\nnodes:\n",
            slug = name,
            d = d.display()
        );
        for (i, n) in self.nodes.iter().enumerate() {
            s.push_str(&format!(
                "  - {{name: {}, host: {}, port: {}, user: {}, transport: {}, roles: [loader], tags: [t{}]}}\n",
                n.name,
                n.ip,
                n.port,
                n.user,
                transport(i),
                i + 1
            ));
        }
        s.push_str(extra);
        let p = d.join(format!("{name}.yaml"));
        std::fs::write(&p, s).unwrap();
        p
    }

    /// The start of an inventory that deploys to these nodes (process backend; node 1 is the
    /// router, every node a loader with its own `port_offset`); `node_extra` goes into each node.
    pub fn deploy_inventory_head(&self, slug: &str, node_extra: &str) -> String {
        let mut s = format!(
            "cluster: {{slug: {slug}, tier: pro}}\n\
             defaults:\n  identity_file: {d}/id_ed25519\n  known_hosts: {d}/known_hosts\n  ssh_config: {d}/ssh_config\n  \
             host_key_checking: strict\n  connect_timeout_secs: 5\n  connect_retries: 0\n  service_backend: process\n\
             nodes:\n",
            d = self.path().display()
        );
        for (i, n) in self.nodes.iter().enumerate() {
            let roles = if i == 0 { "[router, loader]" } else { "[loader]" };
            s.push_str(&format!(
                "  - {{name: {}, host: {}, port: {}, user: {}, roles: {roles}, port_offset: {i}{node_extra}}}\n",
                n.name, n.ip, n.port, n.user
            ));
        }
        s
    }

    /// A `garnet` invocation for this cluster's inventory `inv`, with its own state directory.
    pub fn garnet(&self, inv: &Path) -> Garnet {
        Garnet::new()
            .env("GARNET_STATE_DIR", self.path().join("state").display().to_string())
            .arg("-i")
            .arg(inv.display().to_string())
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for i in 0..self.nodes.len() {
            self.down(i);
        }
    }
}

/// A port on `ip` that is free now, below the kernel's ephemeral range (32768 and up here): a port
/// taken from that range can be handed out meanwhile as the source port of some other test's
/// outgoing connection, and the server that later binds it fails with "address in use". Ports are
/// handed out in turn from a start that differs per process, so no two calls share one.
pub fn free_port(ip: &str) -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    const LOW: u32 = 10_000;
    const SPAN: u32 = 22_000;
    let _ = NEXT.compare_exchange(
        0,
        1 + (std::process::id().wrapping_mul(7919) ^ std::time::UNIX_EPOCH.elapsed().unwrap().subsec_nanos()) % SPAN,
        Ordering::SeqCst,
        Ordering::SeqCst,
    );
    for _ in 0..SPAN {
        // Steps of 131 spread the lab's blocks (base .. base + 129) apart.
        let port = (LOW + NEXT.fetch_add(131, Ordering::SeqCst) % SPAN) as u16;
        if TcpListener::bind((ip, port)).is_ok() {
            return port;
        }
    }
    panic!("no free port on {ip} between {LOW} and {}", LOW + SPAN);
}

/// A port on 127.0.0.1 where nothing listens.
pub fn closed_port() -> u16 {
    free_port("127.0.0.1")
}

/// A TCP forwarder in front of a real server that can fail like a network does: `down` closes the
/// listener and cuts every open connection (connections are refused), `up` listens again on the
/// same port.
pub struct Flaky {
    pub port: u16,
    target: u16,
    state: std::sync::Arc<Mutex<FlakyState>>,
}

struct FlakyState {
    up: bool,
    conns: Vec<std::net::TcpStream>,
    generation: u64,
}

impl Flaky {
    pub fn start(target: u16) -> Flaky {
        let port = free_port("127.0.0.1");
        let f = Flaky {
            port,
            target,
            state: std::sync::Arc::new(Mutex::new(FlakyState { up: false, conns: vec![], generation: 0 })),
        };
        f.up();
        f
    }

    pub fn up(&self) {
        let listener = TcpListener::bind(("127.0.0.1", self.port)).expect("rebind the flaky port");
        listener.set_nonblocking(true).unwrap();
        let generation = {
            let mut s = self.state.lock().unwrap();
            s.up = true;
            s.generation += 1;
            s.generation
        };
        let (state, target) = (self.state.clone(), self.target);
        std::thread::spawn(move || {
            loop {
                if state.lock().unwrap().generation != generation || !state.lock().unwrap().up {
                    return; // dropping the listener: new connections are refused
                }
                match listener.accept() {
                    Ok((client, _)) => {
                        client.set_nonblocking(false).unwrap();
                        let Ok(server) = std::net::TcpStream::connect(("127.0.0.1", target)) else { continue };
                        let mut s = state.lock().unwrap();
                        s.conns.push(client.try_clone().unwrap());
                        s.conns.push(server.try_clone().unwrap());
                        drop(s);
                        for (mut a, mut b) in
                            [(client.try_clone().unwrap(), server.try_clone().unwrap()), (server, client)]
                        {
                            std::thread::spawn(move || {
                                let _ = std::io::copy(&mut a, &mut b);
                                let _ = b.shutdown(std::net::Shutdown::Write);
                            });
                        }
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
    }

    pub fn down(&self) {
        let mut s = self.state.lock().unwrap();
        s.up = false;
        for c in s.conns.drain(..) {
            let _ = c.shutdown(std::net::Shutdown::Both);
        }
        drop(s);
        // Let the accept loop notice and close its listener.
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// SIGKILLs `pid` and every process below it (a supervisor and the program it runs).
pub fn kill_tree(pid: i32) {
    let children = |p: i32| -> Vec<i32> {
        std::fs::read_dir("/proc")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
            .filter(|c| {
                std::fs::read_to_string(format!("/proc/{c}/stat"))
                    .ok()
                    .and_then(|s| s.rsplit(')').next()?.split_whitespace().nth(1)?.parse::<i32>().ok())
                    == Some(p)
            })
            .collect()
    };
    for c in children(pid) {
        kill_tree(c);
    }
    unsafe { libc::kill(pid, libc::SIGKILL) };
}

/// Stops what deploy started on the nodes: every process of every pidfile under each home's
/// `.garnet/run`, with its children, then the folder.
pub struct NodeCleanup(pub Vec<PathBuf>);

impl Drop for NodeCleanup {
    fn drop(&mut self) {
        for home in &self.0 {
            for p in glob::glob(&format!("{}/.garnet/run/*.pid", home.display())).into_iter().flatten().flatten() {
                if let Some(pid) = std::fs::read_to_string(&p).ok().and_then(|t| t.trim().parse::<i32>().ok()) {
                    kill_tree(pid);
                }
            }
            let _ = std::fs::remove_dir_all(home.join(".garnet"));
        }
    }
}

/// A user's home directory (from /etc/passwd).
pub fn home_of(user: &str) -> PathBuf {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap();
    let line = passwd.lines().find(|l| l.starts_with(&format!("{user}:"))).expect("user exists");
    PathBuf::from(line.split(':').nth(5).unwrap())
}

/// The ```sh blocks of a rendered runbook, in order, without the undo blocks.
pub fn shell_blocks(markdown: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut lines = markdown.lines();
    while let Some(l) = lines.next() {
        if l == "```sh" {
            let block: Vec<&str> = lines.by_ref().take_while(|l| *l != "```").collect();
            if block.first() != Some(&garnet::procedure::UNDO_MARK) {
                out.push(block.join("\n"));
            }
        }
    }
    out
}

/// Pastes each block into `sh -e`, in order, as a person following the runbook would.
pub fn paste(markdown: &str, cwd: &std::path::Path) -> usize {
    let blocks = shell_blocks(markdown);
    for (i, b) in blocks.iter().enumerate() {
        let out = std::process::Command::new("sh").args(["-e", "-c", b]).current_dir(cwd).output().unwrap();
        assert!(
            out.status.success(),
            "block {} failed ({}):\n{b}\n--- stdout\n{}\n--- stderr\n{}",
            i + 1,
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    blocks.len()
}

/// The `<value>` placeholders left in a rendered runbook (none, when every value is known).
pub fn placeholders(markdown: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = markdown;
    while let Some(i) = rest.find('<') {
        rest = &rest[i + 1..];
        let Some(j) = rest.find('>') else { break };
        let name = &rest[..j];
        if !name.is_empty() && name.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
            out.push(format!("<{name}>"));
        }
        rest = &rest[j..];
    }
    out
}
