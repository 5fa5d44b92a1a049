//! The `russh` transport: garnet's own SSH client, for machines without OpenSSH.
//!
//! Authenticates with the node's `identity_file` or, failing that, the keys of the agent at
//! `SSH_AUTH_SOCK`. Host keys are checked against `known_hosts` (the inventory's, else
//! `~/.ssh/known_hosts`): `strict` refuses unknown hosts, `accept-new` records them; a changed key
//! is always refused.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use russh::client::{self, Handle};
use russh::keys::{PrivateKeyWithHashAlg, PublicKeyOrCertificate};
use russh::{ChannelMsg, Disconnect};
use tokio::sync::Mutex;

use super::{ConnectError, OutputPump, RunOutput, RunRequest, Stream, Transport, TransportError};
use crate::inventory::{HostKeyChecking, Node};

pub struct Russh {
    handle: Handle<Checker>,
}

struct Checker {
    host: String,
    port: u16,
    known_hosts: PathBuf,
    checking: HostKeyChecking,
    /// Why the key was refused, for the error message.
    verdict: Arc<Mutex<Option<String>>>,
}

impl client::Handler for Checker {
    type Error = russh::Error;

    async fn check_server_key(&mut self, key: &PublicKeyOrCertificate) -> Result<bool, Self::Error> {
        let PublicKeyOrCertificate::PublicKey { key, .. } = key else {
            *self.verdict.lock().await = Some("host certificates are not supported by the russh transport".into());
            return Ok(false);
        };
        match russh::keys::check_known_hosts_path(&self.host, self.port, key, &self.known_hosts) {
            Ok(true) => Ok(true),
            Ok(false) if self.checking == HostKeyChecking::AcceptNew => {
                if let Err(e) =
                    russh::keys::known_hosts::learn_known_hosts_path(&self.host, self.port, key, &self.known_hosts)
                {
                    *self.verdict.lock().await =
                        Some(format!("cannot record the host key in `{}`: {e}", self.known_hosts.display()));
                    return Ok(false);
                }
                Ok(true)
            }
            Ok(false) => {
                *self.verdict.lock().await = Some(format!(
                    "host key for {}:{} is not in `{}` and host_key_checking is strict",
                    self.host,
                    self.port,
                    self.known_hosts.display()
                ));
                Ok(false)
            }
            Err(e) => {
                *self.verdict.lock().await = Some(format!("host key verification failed: {e}"));
                Ok(false)
            }
        }
    }
}

fn home() -> PathBuf {
    std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/"))
}

pub async fn connect(node: &Node) -> Result<Russh, ConnectError> {
    let config = Arc::new(client::Config {
        inactivity_timeout: None,
        keepalive_interval: Some(Duration::from_secs(15)),
        nodelay: true,
        ..Default::default()
    });
    let known_hosts = node.known_hosts.clone().unwrap_or_else(|| home().join(".ssh/known_hosts"));
    let verdict = Arc::new(Mutex::new(None));
    let checker = Checker {
        host: node.host.clone(),
        port: node.port,
        known_hosts,
        checking: node.host_key_checking,
        verdict: verdict.clone(),
    };
    let addr = (node.host.as_str(), node.port);
    let connecting = client::connect(config, addr, checker);
    let mut handle = match tokio::time::timeout(node.connect_timeout, connecting).await {
        Err(_) => return Err(ConnectError::new(format!("connection to {}:{} timed out", node.host, node.port), true)),
        Ok(Err(e)) => {
            if let Some(v) = verdict.lock().await.take() {
                return Err(ConnectError::new(v, false));
            }
            return Err(ConnectError::from_ssh_text(&format!("connect to {}:{}: {e}", node.host, node.port)));
        }
        Ok(Ok(h)) => h,
    };
    let user = node.user.clone().or_else(|| std::env::var("USER").ok()).unwrap_or_else(|| "root".into());
    let authed = authenticate(&mut handle, &user, node).await?;
    if !authed {
        return Err(ConnectError::new(format!("Permission denied (publickey) for {user}@{}", node.host), false));
    }
    Ok(Russh { handle })
}

async fn authenticate(handle: &mut Handle<Checker>, user: &str, node: &Node) -> Result<bool, ConnectError> {
    let hash = handle.best_supported_rsa_hash().await.ok().flatten().flatten();
    let key_files: Vec<PathBuf> = match &node.identity_file {
        Some(p) => vec![p.clone()],
        None => ["id_ed25519", "id_ecdsa", "id_rsa"]
            .iter()
            .map(|f| home().join(".ssh").join(f))
            .filter(|p| p.exists())
            .collect(),
    };
    for path in &key_files {
        let key = russh::keys::load_secret_key(path, None)
            .map_err(|e| ConnectError::new(format!("cannot load identity `{}`: {e}", path.display()), false))?;
        let res = handle
            .authenticate_publickey(user, PrivateKeyWithHashAlg::new(Arc::new(key), hash))
            .await
            .map_err(|e| ConnectError::from_ssh_text(&e.to_string()))?;
        if res.success() {
            return Ok(true);
        }
    }
    if node.identity_file.is_none()
        && let Ok(mut agent) = russh::keys::agent::client::AgentClient::connect_env().await
    {
        let ids = agent.request_identities().await.unwrap_or_default();
        for id in ids {
            let public = id.public_key().into_owned();
            if let Ok(res) = handle.authenticate_publickey_with(user, public, hash, &mut agent).await
                && res.success()
            {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

#[async_trait]
impl Transport for Russh {
    async fn run(&self, req: RunRequest) -> Result<RunOutput, TransportError> {
        let lost = |e: russh::Error| TransportError::ConnectionLost(e.to_string());
        let mut channel = self.handle.channel_open_session().await.map_err(lost)?;
        channel.exec(true, req.command.as_bytes()).await.map_err(lost)?;
        let mut pump = OutputPump::new(&req);
        let stdin = req.stdin.clone();
        let work = async {
            if let Some(data) = stdin {
                channel.data(&data[..]).await.map_err(lost)?;
            }
            channel.eof().await.map_err(lost)?;
            let (mut code, mut signal) = (None, None);
            while let Some(msg) = channel.wait().await {
                match msg {
                    ChannelMsg::Data { data } => pump.feed(Stream::Stdout, &data).await,
                    ChannelMsg::ExtendedData { data, ext: 1 } => pump.feed(Stream::Stderr, &data).await,
                    ChannelMsg::ExitStatus { exit_status } => code = Some(exit_status as i32),
                    ChannelMsg::ExitSignal { signal_name, .. } => signal = Some(format!("{signal_name:?}")),
                    ChannelMsg::Close => break,
                    _ => {}
                }
            }
            if code.is_none() && signal.is_none() {
                return Err(TransportError::ConnectionLost("the channel closed without an exit status".into()));
            }
            Ok((code, signal))
        };
        let (exit_code, signal) = match req.timeout {
            None => work.await?,
            Some(t) => tokio::time::timeout(t, work).await.map_err(|_| TransportError::Timeout(t))??,
        };
        let (stdout, stderr) = pump.finish().await;
        Ok(RunOutput { exit_code, signal, stdout, stderr })
    }

    async fn close(self: Box<Self>) {
        let _ = self.handle.disconnect(Disconnect::ByApplication, "", "en").await;
    }
}
