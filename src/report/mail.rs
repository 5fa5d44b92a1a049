//! Outgoing mail over SMTP (lettre): the monthly report with its PDF attached, the welcome email.
//! STARTTLS (required, never silently plain) or TLS from the first byte; plain SMTP only to
//! loopback (the inventory refuses it otherwise). Credentials come from a 0600 file and appear in
//! no log or error.

use anyhow::{Context, Result, anyhow};
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart, header::ContentType};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::inventory::{MailSecurity, MailSpec};

/// The longest a whole SMTP exchange may take (connect, TLS, login, a message with a PDF).
const SEND_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

/// Whether `s` parses as a mailbox (`name <a@b>` or `a@b`).
pub fn is_mailbox(s: &str) -> bool {
    s.parse::<Mailbox>().is_ok()
}

/// One file attached to a message.
pub struct File {
    pub name: String,
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

/// A message to send: plain text, with attachments.
pub struct Mail {
    pub to: Vec<String>,
    pub subject: String,
    pub text: String,
    pub files: Vec<File>,
}

/// The message as bytes on the wire (RFC 5322), and its recipients.
pub fn build(spec: &MailSpec, mail: &Mail) -> Result<Message> {
    let from: Mailbox = spec.from.parse().map_err(|e| anyhow!("mail.from `{}`: {e}", spec.from))?;
    anyhow::ensure!(!mail.to.is_empty(), "no recipient: set `cluster.contacts` in the inventory");
    let mut b = Message::builder().from(from).subject(&mail.subject);
    for t in &mail.to {
        let to: Mailbox = t.parse().map_err(|e| anyhow!("contact `{t}` is not an email address: {e}"))?;
        b = b.to(to);
    }
    let mut parts = MultiPart::mixed().singlepart(SinglePart::plain(mail.text.clone()));
    for f in &mail.files {
        let ct = ContentType::parse(f.content_type).map_err(|e| anyhow!("content type {}: {e}", f.content_type))?;
        parts = parts.singlepart(Attachment::new(f.name.clone()).body(f.body.clone(), ct));
    }
    b.multipart(parts).context("building the message")
}

/// Sends `mail` through the configured server. Errors name the server and what failed, never a
/// credential.
pub async fn send(spec: &MailSpec, mail: &Mail) -> Result<()> {
    let message = build(spec, mail)?;
    let server = format!("{}:{}", spec.host, spec.port);
    let tls = || -> Result<TlsParameters> {
        let mut b = TlsParameters::builder(spec.host.clone());
        if let Some(ca) = &spec.ca_file {
            let pem = std::fs::read(ca).with_context(|| format!("mail.ca_file `{}`", ca.display()))?;
            let cert = Certificate::from_pem(&pem).map_err(|e| anyhow!("mail.ca_file `{}`: {e}", ca.display()))?;
            b = b.add_root_certificate(cert);
        }
        b.build_rustls().map_err(|e| anyhow!("TLS settings for {server}: {e}"))
    };
    let mut t = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(spec.host.as_str())
        .port(spec.port)
        .timeout(Some(std::time::Duration::from_secs(30)))
        .tls(match spec.security {
            MailSecurity::Starttls => Tls::Required(tls()?),
            MailSecurity::Tls => Tls::Wrapper(tls()?),
            MailSecurity::None => Tls::None,
        });
    if let Some(f) = &spec.credentials_file {
        let text = crate::util::read_secret_file(f)?;
        let mut lines = text.lines();
        let (user, pass) = match (lines.next(), lines.next()) {
            (Some(u), Some(p)) if !u.trim().is_empty() => (u.trim().to_string(), p.trim().to_string()),
            _ => anyhow::bail!(
                "mail credentials file `{}` needs the username on its first line and the password on its second",
                f.display()
            ),
        };
        t = t.credentials(Credentials::new(user, pass));
    }
    let transport = t.build();
    let recipients = mail.to.join(", ");
    // The whole exchange is bounded: a server that stops answering mid-dialogue (lettre's own
    // timeout covers each connection attempt) must not hold a scheduled run.
    match tokio::time::timeout(SEND_TIMEOUT, transport.send(message)).await {
        Ok(Ok(_)) => Ok(()),
        // lettre's errors carry the server's reply, never the credentials.
        Ok(Err(e)) => Err(anyhow!("sending mail to {recipients} through {server} ({:?}) failed: {e}", spec.security)),
        Err(_) => Err(anyhow!(
            "sending mail to {recipients} through {server} ({:?}) failed: no answer within {} s",
            spec.security,
            SEND_TIMEOUT.as_secs()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_carries_its_attachment_and_recipients() {
        let spec = MailSpec {
            host: "127.0.0.1".into(),
            port: 25,
            security: MailSecurity::None,
            from: "garnet <reports@example.com>".into(),
            credentials_file: None,
            ca_file: None,
        };
        let mail = Mail {
            to: vec!["ops@example.com".into(), "CFO <cfo@example.com>".into()],
            subject: "acme: November 2026".into(),
            text: "attached".into(),
            files: vec![File {
                name: "report.pdf".into(),
                content_type: "application/pdf",
                body: b"%PDF-1.7".to_vec(),
            }],
        };
        let m = build(&spec, &mail).unwrap();
        let raw = String::from_utf8(m.formatted()).unwrap();
        assert!(raw.contains("To: ops@example.com, CFO <cfo@example.com>"), "{raw}");
        assert!(raw.contains("filename=\"report.pdf\""), "{raw}");
        let bad = Mail { to: vec!["not an address".into()], ..mail };
        let e = build(&spec, &bad).unwrap_err().to_string();
        assert!(e.contains("contact `not an address`"), "{e}");
        assert!(!is_mailbox("nope") && is_mailbox("a@b.example"));
    }
}
