//! The S3-compatible store (Cloudflare R2 in production, MinIO, AWS; moto in tests) through
//! `aws-sdk-s3`: a custom endpoint, path-style addressing when asked, credentials from a 0600
//! file named in the inventory or the standard AWS environment/profile. `create_new` is a
//! conditional put (`If-None-Match: *`), so two operators on two laptops cannot both take a lock.

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;

use super::{Store, StoreError};
use crate::inventory::StoreSpec;

pub struct S3Store {
    client: Client,
    bucket: String,
    prefix: String,
    describe: String,
}

/// `aws_access_key_id` / `aws_secret_access_key` (and optional `aws_session_token`) from an
/// AWS-style credentials file; sections are ignored, the first value of each key wins.
fn parse_credentials(text: &str) -> Option<(String, String, Option<String>)> {
    let get = |name: &str| {
        text.lines().find_map(|l| {
            let (k, v) = l.split_once('=')?;
            (k.trim() == name).then(|| v.trim().to_string())
        })
    };
    Some((get("aws_access_key_id")?, get("aws_secret_access_key")?, get("aws_session_token")))
}

impl S3Store {
    pub async fn new(spec: &StoreSpec) -> Result<S3Store, StoreError> {
        let bucket = spec.bucket.clone().unwrap_or_default();
        let region = Region::new(spec.region.clone().unwrap_or_else(|| "auto".into()));
        let mut b = aws_sdk_s3::config::Builder::new()
            .behavior_version(BehaviorVersion::latest())
            .region(region.clone())
            .force_path_style(spec.path_style);
        if let Some(ep) = &spec.endpoint {
            b = b.endpoint_url(ep);
        }
        match &spec.credentials_file {
            Some(f) => {
                let text = crate::util::read_secret_file(f).map_err(|e| StoreError::Unsupported(format!("{e:#}")))?;
                let (id, secret, token) = parse_credentials(&text).ok_or_else(|| {
                    StoreError::Unsupported(format!(
                        "credentials file `{}` needs `aws_access_key_id = …` and `aws_secret_access_key = …`",
                        f.display()
                    ))
                })?;
                b = b.credentials_provider(Credentials::new(id, secret, token, None, "garnet-credentials-file"));
            }
            None => {
                // The standard chain: environment, shared profile, and so on.
                let shared = aws_config::defaults(BehaviorVersion::latest()).region(region).load().await;
                if let Some(p) = shared.credentials_provider() {
                    b = b.credentials_provider(p);
                }
            }
        }
        let prefix = spec.prefix.clone().unwrap_or_default();
        let prefix = if prefix.is_empty() || prefix.ends_with('/') { prefix } else { format!("{prefix}/") };
        let describe = format!(
            "s3 bucket `{bucket}`{}{}",
            if prefix.is_empty() { String::new() } else { format!(" under `{prefix}`") },
            spec.endpoint.as_deref().map(|e| format!(" at {e}")).unwrap_or_default()
        );
        Ok(S3Store { client: Client::from_conf(b.build()), bucket, prefix, describe })
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }
}

fn s3_error<E: ProvideErrorMetadata + std::fmt::Debug>(
    op: &str,
    key: &str,
    e: &aws_sdk_s3::error::SdkError<E>,
) -> StoreError {
    let detail = match e.as_service_error() {
        Some(se) => format!("{}: {}", se.code().unwrap_or("error"), se.message().unwrap_or("")),
        None => format!("{e}"),
    };
    StoreError::Io { key: key.to_string(), source: std::io::Error::other(format!("S3 {op}: {detail}")) }
}

#[async_trait]
impl Store for S3Store {
    async fn put(&self, key: &str, data: &[u8]) -> Result<(), StoreError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(self.key(key))
            .body(ByteStream::from(data.to_vec()))
            .send()
            .await
            .map_err(|e| s3_error("put", key, &e))?;
        Ok(())
    }

    async fn create_new(&self, key: &str, data: &[u8]) -> Result<bool, StoreError> {
        let r = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(self.key(key))
            .if_none_match("*")
            .body(ByteStream::from(data.to_vec()))
            .send()
            .await;
        match r {
            Ok(_) => Ok(true),
            Err(e) => {
                let status = e.raw_response().map(|r| r.status().as_u16());
                // 412: it exists; 409: a concurrent conditional write won the race.
                if matches!(status, Some(412) | Some(409)) {
                    Ok(false)
                } else {
                    Err(s3_error("conditional put", key, &e))
                }
            }
        }
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        match self.client.get_object().bucket(&self.bucket).key(self.key(key)).send().await {
            Ok(o) => {
                let bytes = o
                    .body
                    .collect()
                    .await
                    .map_err(|e| StoreError::Io { key: key.into(), source: std::io::Error::other(e) })?;
                Ok(Some(bytes.into_bytes().to_vec()))
            }
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => Ok(None),
            Err(e) => Err(s3_error("get", key, &e)),
        }
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(self.key(key))
            .send()
            .await
            .map_err(|e| s3_error("delete", key, &e))?;
        Ok(())
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let mut out = Vec::new();
        let mut token = None;
        loop {
            let page = self
                .client
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(self.key(prefix))
                .set_continuation_token(token.take())
                .send()
                .await
                .map_err(|e| s3_error("list", prefix, &e))?;
            for o in page.contents() {
                if let Some(k) = o.key().and_then(|k| k.strip_prefix(&self.prefix)) {
                    out.push(k.to_string());
                }
            }
            match page.next_continuation_token() {
                Some(t) if page.is_truncated() == Some(true) => token = Some(t.to_string()),
                _ => break,
            }
        }
        out.sort();
        Ok(out)
    }

    fn describe(&self) -> String {
        self.describe.clone()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn credentials_file() {
        let (a, b, t) =
            super::parse_credentials("[default]\naws_access_key_id = AKIA\naws_secret_access_key=SECRET\n").unwrap();
        assert_eq!((a.as_str(), b.as_str(), t), ("AKIA", "SECRET", None));
        assert!(super::parse_credentials("nothing").is_none());
    }
}
