//! The `local` transport: commands run on this machine through `sh -c`, in their own process
//! group so that a timeout kills the whole tree.

use std::process::Stdio;

use async_trait::async_trait;
use tokio::io::AsyncWriteExt;

use super::{OutputPump, RunOutput, RunRequest, Transport, TransportError, pump_two};

pub struct Local;

#[async_trait]
impl Transport for Local {
    async fn run(&self, req: RunRequest) -> Result<RunOutput, TransportError> {
        let mut cmd = tokio::process::Command::new("sh");
        cmd.arg("-c")
            .arg(&req.command)
            .stdin(if req.stdin.is_some() { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        let mut child = cmd.spawn().map_err(|e| TransportError::Other(format!("cannot start `sh`: {e}")))?;
        let pid = child.id();
        let mut pump = OutputPump::new(&req);
        let stdin = child.stdin.take();
        let data = req.stdin.clone();
        let (stdout, stderr) = (child.stdout.take(), child.stderr.take());
        let work = async {
            let feed = async move {
                if let (Some(mut w), Some(d)) = (stdin, data) {
                    let _ = w.write_all(&d).await;
                    let _ = w.shutdown().await;
                }
            };
            let (_, r) = tokio::join!(feed, pump_two(&mut pump, stdout, stderr));
            r.map_err(|e| TransportError::Other(format!("reading output: {e}")))?;
            child.wait().await.map_err(|e| TransportError::Other(format!("waiting for `sh`: {e}")))
        };
        let status = match req.timeout {
            None => work.await?,
            Some(t) => match tokio::time::timeout(t, work).await {
                Ok(r) => r?,
                Err(_) => {
                    if let Some(pid) = pid {
                        // The whole process group: `sh` and whatever it started.
                        unsafe { libc::kill(-(pid as i32), libc::SIGKILL) };
                    }
                    return Err(TransportError::Timeout(t));
                }
            },
        };
        let (stdout, stderr) = pump.finish().await;
        use std::os::unix::process::ExitStatusExt;
        Ok(RunOutput { exit_code: status.code(), signal: status.signal().map(signal_name), stdout, stderr })
    }

    async fn close(self: Box<Self>) {}
}

pub(crate) fn signal_name(sig: i32) -> String {
    match sig {
        libc::SIGHUP => "HUP".into(),
        libc::SIGINT => "INT".into(),
        libc::SIGKILL => "KILL".into(),
        libc::SIGPIPE => "PIPE".into(),
        libc::SIGTERM => "TERM".into(),
        libc::SIGSEGV => "SEGV".into(),
        libc::SIGABRT => "ABRT".into(),
        n => n.to_string(),
    }
}
