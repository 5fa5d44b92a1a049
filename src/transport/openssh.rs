//! The `openssh` transport: the system `ssh` client, one multiplexed master per node.
//!
//! Everything `ssh` reads applies (`~/.ssh/config`, ProxyJump, ProxyCommand such as
//! `cloudflared access ssh`, agents, FIDO keys). Host keys are always verified: `accept-new`
//! learns unknown hosts and refuses changed keys, `strict` refuses unknown hosts too.

use std::time::Duration;

use async_trait::async_trait;
use openssh::{KnownHosts, Session, SessionBuilder, Stdio};
use tokio::io::AsyncWriteExt;

use super::{ConnectError, ConnectOptions, OutputPump, RunOutput, RunRequest, Transport, TransportError, pump_two};
use crate::inventory::{HostKeyChecking, Node};

pub struct OpenSsh {
    session: Session,
}

pub async fn connect(node: &Node, opts: &ConnectOptions) -> Result<OpenSsh, ConnectError> {
    let mut b = SessionBuilder::default();
    b.known_hosts_check(match node.host_key_checking {
        HostKeyChecking::Strict => KnownHosts::Strict,
        HostKeyChecking::AcceptNew => KnownHosts::Add,
    });
    if let Some(user) = &node.user {
        b.user(user.clone());
    }
    b.port(node.port);
    if let Some(key) = &node.identity_file {
        b.keyfile(key);
    }
    if let Some(kh) = &node.known_hosts {
        b.user_known_hosts_file(kh);
    }
    if let Some(cfg) = &node.ssh_config {
        b.config_file(cfg);
    }
    b.connect_timeout(node.connect_timeout);
    b.server_alive_interval(Duration::from_secs(15));
    std::fs::create_dir_all(&opts.control_dir).map_err(|e| {
        ConnectError::new(format!("cannot create control directory `{}`: {e}", opts.control_dir.display()), false)
    })?;
    b.control_directory(&opts.control_dir);
    match b.connect_mux(&node.host).await {
        Ok(session) => Ok(OpenSsh { session }),
        Err(e) => Err(connect_error(e)),
    }
}

fn connect_error(e: openssh::Error) -> ConnectError {
    use std::error::Error as _;
    let mut text = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        text = format!("{text}: {s}");
        src = s.source();
    }
    ConnectError::from_ssh_text(&text)
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

#[async_trait]
impl Transport for OpenSsh {
    async fn run(&self, req: RunRequest) -> Result<RunOutput, TransportError> {
        let mut child = self
            .session
            .raw_command(&req.command)
            .stdin(if req.stdin.is_some() { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .await
            .map_err(run_error)?;
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
        let _ = self.session.close().await;
    }
}
