//! Real loaders (`mlx_lm.server` on a tiny generated model) and a real `garnet router` process.
//!
//! The Python venv (`mlx[cpu]`, `mlx-lm`, `openai`) comes from `GARNET_TEST_PYTHON`, which `.ci/run`
//! sets after creating it; without it, these tests fail in CI and skip elsewhere.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::Garnet;

pub fn python() -> Option<PathBuf> {
    match std::env::var_os("GARNET_TEST_PYTHON") {
        Some(p) if Path::new(&p).exists() => Some(PathBuf::from(p)),
        _ if std::env::var_os("CI").is_some() => {
            panic!("GARNET_TEST_PYTHON is not set to the test venv's python (.ci/run sets it)")
        }
        _ => {
            eprintln!("skipping loader test: set GARNET_TEST_PYTHON to a venv python with mlx[cpu], mlx-lm and openai");
            None
        }
    }
}

fn support(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support").join(file)
}

/// The tiny model for `seed`, generated once into the target directory.
pub fn tiny_model(py: &Path, seed: u32) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("tiny-model-{seed}"));
    let _g = super::USERS.lock().unwrap();
    if !dir.join("model.safetensors").exists() {
        let out = Command::new(py).arg(support("make_tiny_model.py")).arg(&dir).arg(seed.to_string()).output().unwrap();
        assert!(out.status.success(), "make_tiny_model: {}", String::from_utf8_lossy(&out.stderr));
    }
    dir
}

pub fn free_port() -> u16 {
    super::free_port("127.0.0.1")
}

pub struct Loader {
    pub port: u16,
    pub model: String,
    child: Option<Child>,
    pub log: PathBuf,
}

impl Loader {
    pub fn start(py: &Path, model: &Path, dir: &Path) -> Loader {
        Loader::start_in(py, &model.display().to_string(), None, dir)
    }

    /// Two loaders of `model`, started side by side.
    pub fn start_two(py: &Path, model: &Path, dir: &Path) -> (Loader, Loader) {
        std::thread::scope(|s| {
            let a = s.spawn(|| Loader::start(py, model, dir));
            let b = s.spawn(|| Loader::start(py, model, dir));
            (a.join().unwrap(), b.join().unwrap())
        })
    }

    /// Routes for model `tiny` on two loaders, with backend ids `n1/tiny` and `n2/tiny` (as deploy
    /// names them: node/model) and `extra` YAML lines for the model.
    pub fn routes_for_two(a: &Loader, b: &Loader, extra: &str) -> String {
        format!(
            "models:\n  - name: tiny\n{extra}    backends:\n      - {{id: n1/tiny, url: \"{}\", model: \"{}\"}}\n      - {{id: n2/tiny, url: \"{}\", model: \"{}\"}}\n",
            a.url(),
            a.model,
            b.url(),
            b.model
        )
    }

    /// Started as deploy starts it: `--model` relative to the working directory `cwd`.
    pub fn start_in(py: &Path, model_arg: &str, cwd: Option<&Path>, dir: &Path) -> Loader {
        let port = free_port();
        let log = dir.join(format!("loader-{port}.log"));
        let hf = dir.join("hf-home");
        std::fs::create_dir_all(&hf).unwrap();
        let child = Command::new(py)
            .args(["-m", "mlx_lm.server", "--host", "127.0.0.1", "--port", &port.to_string(), "--model", model_arg])
            .current_dir(cwd.unwrap_or(dir))
            .env("HF_HUB_OFFLINE", "1")
            .env("HF_HOME", &hf)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(std::fs::File::create(log.with_extension("err")).unwrap())
            .spawn()
            .expect("start mlx_lm.server");
        let l = Loader { port, model: model_arg.to_string(), child: Some(child), log };
        l.wait_ready();
        l
    }

    /// Ready means a real one-token completion (its `/health` says ok before the model loads).
    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(90);
        let body =
            format!(r#"{{"model":"{}","messages":[{{"role":"user","content":"hi"}}],"max_tokens":1}}"#, self.model);
        loop {
            if let Ok(resp) = http_post(self.port, "/v1/chat/completions", &body)
                && (resp.starts_with("HTTP/1.0 200") || resp.starts_with("HTTP/1.1 200"))
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "loader on {} not ready; log: {}",
                self.port,
                std::fs::read_to_string(self.log.with_extension("err")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Loader {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A minimal HTTP/1.0 POST over loopback (no client library needed for readiness checks).
pub fn http_post(port: u16, path: &str, body: &str) -> std::io::Result<String> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(
        s,
        "POST {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out)
}

/// A raw HTTP/1.1 request with optional bearer token; returns (status, body).
pub fn http(port: u16, method: &str, path: &str, token: Option<&str>, body: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    write!(s, "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}", body.len()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status = out.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = out.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, body)
}

/// A `garnet router` process on ephemeral loopback ports.
pub struct RouterProc {
    pub port: u16,
    pub admin_port: u16,
    pub token: String,
    child: Child,
}

impl RouterProc {
    pub fn start(dir: &Path, routes_yaml: &str, extra: &[&str]) -> RouterProc {
        let routes = dir.join("routes.yaml");
        std::fs::write(&routes, routes_yaml).unwrap();
        let token_file = Self::token_file(dir);
        let mut args: Vec<String> =
            ["--routes", &routes.display().to_string(), "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"]
                .iter()
                .map(|s| s.to_string())
                .collect();
        args.extend(["--admin-token-file".to_string(), token_file.display().to_string()]);
        args.extend(extra.iter().map(|s| s.to_string()));
        Self::spawn(dir, Garnet::new(), &args)
    }

    /// The admin token file every test router uses (mode 0600).
    pub fn token_file(dir: &Path) -> PathBuf {
        let token_file = dir.join("admin.token");
        std::fs::write(&token_file, "admin-token-for-tests").unwrap();
        std::fs::set_permissions(&token_file, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
        token_file
    }

    /// `garnet [g's args] -o json router ARGS`, waiting for its `router_listening` line.
    pub fn spawn(dir: &Path, g: Garnet, args: &[String]) -> RouterProc {
        Self::spawn_command(dir, g.args(["-o", "json", "router"]).args(args.iter().cloned()).command())
    }

    /// A prepared `garnet -o json router …` command (e.g. with limits set before exec), started
    /// and waited for; its stderr goes to `DIR/router.log`.
    pub fn spawn_command(dir: &Path, mut cmd: Command) -> RouterProc {
        let token = "admin-token-for-tests".to_string();
        let mut child =
            cmd.stdout(Stdio::piped()).stderr(std::fs::File::create(dir.join("router.log")).unwrap()).spawn().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let v: serde_json::Value = serde_json::from_str(&line).unwrap_or_else(|e| {
            panic!(
                "router start: {e}: {line:?}: {}",
                std::fs::read_to_string(dir.join("router.log")).unwrap_or_default()
            )
        });
        let port = |k: &str| v[k].as_str().unwrap().rsplit(':').next().unwrap().parse().unwrap();
        RouterProc { port: port("listen"), admin_port: port("admin_listen"), token, child }
    }

    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}/v1", self.port)
    }

    /// `garnet monitor` for node `n1` of `cluster`, sampling this router every 5 s into the local
    /// store `dir/store` (stderr to `dir/monitor.log`); the caller stops it.
    pub fn monitor(&self, dir: &Path, cluster: &str) -> Child {
        let config = dir.join("node.json");
        std::fs::write(
            &config,
            serde_json::to_vec(&serde_json::json!({
                "cluster": cluster, "node": "n1", "interval_secs": 5, "health_listen": format!("127.0.0.1:{}", free_port()),
                "spool_dir": dir.join("spool"), "spool_max": 1000,
                "store": {"kind": "local", "path": dir.join("store"), "endpoint": null, "bucket": null, "prefix": null,
                          "region": null, "credentials_file": null, "path_style": false},
                "router": {"admin_url": format!("http://127.0.0.1:{}", self.admin_port), "token_file": dir.join("admin.token")},
            }))
            .unwrap(),
        )
        .unwrap();
        crate::common::Garnet::new()
            .args(["monitor", "--config", &config.display().to_string(), "--interval", "5s"])
            .command()
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("monitor.log")).unwrap())
            .spawn()
            .unwrap()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn admin(&self, method: &str, path: &str, body: &str) -> (u16, serde_json::Value) {
        let (status, body) = http(self.admin_port, method, path, Some(&self.token), body);
        (status, serde_json::from_str(&body).unwrap_or(serde_json::Value::Null))
    }

    /// SIGTERM, then wait: returns the exit code.
    pub fn stop(mut self) -> Option<i32> {
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        self.child.wait().ok().and_then(|s| s.code())
    }
}

impl Drop for RouterProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A real S3-compatible server (moto) on loopback with one bucket.
pub struct S3Server {
    pub port: u16,
    pub bucket: String,
    child: Child,
}

impl S3Server {
    pub fn start(py: &Path, dir: &Path) -> S3Server {
        let port = free_port();
        let child = Command::new(py)
            .args(["-m", "moto.server", "-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("moto.log")).unwrap())
            .spawn()
            .expect("start moto");
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "moto did not start: {}",
                std::fs::read_to_string(dir.join("moto.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let bucket = "garnet-test".to_string();
        let code = format!(
            "import boto3; boto3.client('s3', endpoint_url='http://127.0.0.1:{port}', aws_access_key_id='test-key-id', aws_secret_access_key='test-secret', region_name='us-east-1').create_bucket(Bucket='{bucket}')"
        );
        let out = Command::new(py).args(["-c", &code]).output().unwrap();
        assert!(out.status.success(), "create bucket: {}", String::from_utf8_lossy(&out.stderr));
        S3Server { port, bucket, child }
    }

    /// The server's process (to pause it: a bucket that accepts and never answers).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A 0600 credentials file for this server.
    pub fn credentials(&self, dir: &Path) -> PathBuf {
        let f = dir.join("s3.credentials");
        std::fs::write(&f, "[default]\naws_access_key_id = test-key-id\naws_secret_access_key = test-secret\n")
            .unwrap();
        std::fs::set_permissions(&f, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
        f
    }

    /// The inventory `store:` section for this server.
    pub fn store_yaml(&self, dir: &Path, prefix: &str) -> String {
        format!(
            "store: {{kind: s3, endpoint: \"http://127.0.0.1:{}\", bucket: {}, prefix: \"{prefix}\", region: us-east-1, path_style: true, credentials_file: {}}}\n",
            self.port,
            self.bucket,
            self.credentials(dir).display()
        )
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What the router answers for one fixed prompt (the tiny models are greedy: same model, same text).
pub fn answer(port: u16) -> String {
    let body = r#"{"model":"tiny","messages":[{"role":"user","content":"which model are you"}],"max_tokens":12}"#;
    let raw = http_post(port, "/v1/chat/completions", body).unwrap();
    let v: serde_json::Value =
        serde_json::from_str(raw.split("\r\n\r\n").nth(1).unwrap_or(&raw)).unwrap_or_else(|_| panic!("{raw}"));
    v["choices"][0]["message"]["content"].as_str().unwrap_or_else(|| panic!("{raw}")).to_string()
}

/// One chat completion of `tiny` from a client with its own clock (asserted 200): its end time,
/// end-to-end ms and completion tokens.
pub fn timed_chat(port: u16, stream: bool, max_tokens: u32) -> (std::time::SystemTime, f64, u64) {
    use std::io::{Read, Write};
    let body = format!(
        r#"{{"model":"tiny","messages":[{{"role":"user","content":"tell me"}}],"max_tokens":{max_tokens},"stream":{stream},"stream_options":{{"include_usage":true}}}}"#
    );
    let t0 = Instant::now();
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    write!(
        s,
        "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let (e2e, end) = (t0.elapsed().as_secs_f64() * 1000.0, std::time::SystemTime::now());
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    let usage: serde_json::Value = if stream {
        let line = out.lines().rfind(|l| l.contains("\"usage\"")).expect("a usage chunk");
        serde_json::from_str::<serde_json::Value>(line.trim_start_matches("data: ")).unwrap()["usage"].clone()
    } else {
        serde_json::from_str::<serde_json::Value>(out.split_once("\r\n\r\n").unwrap().1).unwrap()["usage"].clone()
    };
    (end, e2e, usage["completion_tokens"].as_u64().unwrap())
}
