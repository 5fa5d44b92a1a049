//! Fast JSON rewrites on the proxy's hot path, without building a value tree.
//!
//! A loader's answer names the loader's own model id at the top level; the client must see the
//! public name. [`swap_model`] replaces that one string in place when it finds it in the expected
//! shape (`"model"` key, optional spaces, `:`, the exact JSON-encoded id) — inside string values a
//! quote is always escaped, so an unescaped `"model"` is a key. When the shape is not there, the
//! caller falls back to a full parse. [`peek_usage`] reads the usage numbers, skipping the rest.

use serde::Deserialize;

use super::sse::Usage;

/// `body` with the first top-level-looking `"model": <from>` turned into `"model": <to>`.
pub fn swap_model(body: &[u8], from_json: &[u8], to_json: &[u8]) -> Option<Vec<u8>> {
    let finder = memchr::memmem::Finder::new(b"\"model\"");
    let mut start = 0;
    while let Some(i) = finder.find(&body[start..]) {
        let key_end = start + i + 7;
        let mut j = key_end;
        while j < body.len() && body[j].is_ascii_whitespace() {
            j += 1;
        }
        if body.get(j) == Some(&b':') {
            j += 1;
            while j < body.len() && body[j].is_ascii_whitespace() {
                j += 1;
            }
            if body[j..].starts_with(from_json) {
                let mut out = Vec::with_capacity(body.len() + to_json.len());
                out.extend_from_slice(&body[..j]);
                out.extend_from_slice(to_json);
                out.extend_from_slice(&body[j + from_json.len()..]);
                return Some(out);
            }
            return None; // a model key with another value: let the slow path decide
        }
        start = key_end;
    }
    None
}

#[derive(Deserialize)]
struct Peek {
    #[serde(default)]
    usage: Option<RawUsage>,
}

#[derive(Deserialize)]
struct RawUsage {
    #[serde(default)]
    prompt_tokens: u64,
    #[serde(default)]
    completion_tokens: u64,
    #[serde(default)]
    prompt_tokens_details: Option<Details>,
}

#[derive(Deserialize)]
struct Details {
    #[serde(default)]
    cached_tokens: Option<u64>,
}

/// The usage numbers of an answer or chunk; `Err` when it is not JSON at all.
pub fn peek_usage(body: &[u8]) -> Result<Option<Usage>, serde_json::Error> {
    let p: Peek = serde_json::from_slice(body)?;
    Ok(p.usage.map(|u| Usage {
        prompt_tokens: u.prompt_tokens,
        completion_tokens: u.completion_tokens,
        cached_tokens: u.prompt_tokens_details.and_then(|d| d.cached_tokens).unwrap_or(0),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swaps_only_the_model_key() {
        let body = br#"{"id": "x", "model": "/m/tiny", "choices": [{"message": {"content": "the \"model\": \"/m/tiny\" string"}}]}"#;
        let out = swap_model(body, br#""/m/tiny""#, br#""tiny""#).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"id": "x", "model": "tiny", "choices": [{"message": {"content": "the \"model\": \"/m/tiny\" string"}}]}"#
        );
        assert!(swap_model(br#"{"model":"other"}"#, br#""/m/tiny""#, br#""tiny""#).is_none());
        assert!(swap_model(br#"{"id":1}"#, br#""/m/tiny""#, br#""tiny""#).is_none());
        assert_eq!(swap_model(br#"{"model":"/m/tiny"}"#, br#""/m/tiny""#, br#""t""#).unwrap(), br#"{"model":"t"}"#);
    }

    #[test]
    fn usage_is_read_without_the_rest() {
        let u = peek_usage(br#"{"choices":[],"usage":{"prompt_tokens":9,"completion_tokens":3,"prompt_tokens_details":{"cached_tokens":8}}}"#).unwrap().unwrap();
        assert_eq!((u.prompt_tokens, u.completion_tokens, u.cached_tokens), (9, 3, 8));
        assert_eq!(peek_usage(br#"{"choices":[{"delta":{}}]}"#).unwrap(), None);
        assert!(peek_usage(b"nope").is_err());
    }
}
