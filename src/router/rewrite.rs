//! Fast JSON rewrites on the proxy's hot path, without building a value tree.
//!
//! A loader's answer names the loader's own model id at the top level; the client must see the
//! public name. [`swap_model`] replaces that one string in place when it finds it in the expected
//! shape (`"model"` key, optional spaces, `:`, the exact JSON-encoded id) — inside string values a
//! quote is always escaped, so an unescaped `"model"` is a key. When the shape is not there, the
//! caller falls back to a full parse. [`peek_usage`] reads the usage numbers, skipping the rest.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

use super::sse::Usage;

/// The searcher for a `"model"` key, built once (building one costs more than a short search).
static MODEL_KEY: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
    std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"\"model\""));

/// Parses `body` as JSON after checking it is UTF-8 once, whole: serde's slice reader checks every
/// string (each key, each raw value) on its own, which cost more than the parse itself.
pub fn parse<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, serde_json::Error> {
    match std::str::from_utf8(body) {
        Ok(text) => serde_json::from_str(text),
        Err(e) => Err(<serde_json::Error as serde::de::Error>::custom(format_args!(
            "invalid UTF-8 at byte {}",
            e.valid_up_to()
        ))),
    }
}

/// `body` with the first top-level-looking `"model": <from>` turned into `"model": <to>`.
pub fn swap_model(body: &[u8], from_json: &[u8], to_json: &[u8]) -> Option<Vec<u8>> {
    let finder = &*MODEL_KEY;
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

/// Whether `body` nests arrays and objects deeper than `max` (brackets inside strings do not
/// count). One pass, no allocation: a check that runs before any parser or loader sees the body,
/// since a deep value is what makes recursive parsers (the loader's among them) fail.
pub fn nests_deeper_than(body: &[u8], max: usize) -> bool {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for &c in body {
        if in_string {
            match c {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
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
    let p: Peek = parse(body)?;
    Ok(p.usage.map(|u| Usage {
        prompt_tokens: u.prompt_tokens,
        completion_tokens: u.completion_tokens,
        cached_tokens: u.prompt_tokens_details.and_then(|d| d.cached_tokens).unwrap_or(0),
    }))
}

/// A request's top-level members in order, each value kept as its raw JSON text borrowed from the
/// body (nested values — the messages — are never parsed or copied). A repeated key counts by its
/// last occurrence, as a map would.
#[derive(Debug, Default)]
pub struct Members<'a>(Vec<(Cow<'a, str>, Cow<'a, str>)>);

impl<'a> Members<'a> {
    pub fn parse(body: &'a [u8]) -> Result<Members<'a>, serde_json::Error> {
        parse(body)
    }

    /// Whether `key` is a non-empty array. Exact without parsing it: the members came from valid
    /// JSON, so a value opening with `[` is an array, empty only if `]` comes next.
    pub fn is_nonempty_array(&self, key: &str) -> bool {
        self.get(key)
            .and_then(|v| v.trim_start().strip_prefix('['))
            .is_some_and(|rest| !rest.trim_start().starts_with(']'))
    }

    /// The raw JSON of `key`'s value.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.as_ref())
    }

    /// Sets `key` to the raw JSON `value` (replacing every occurrence).
    pub fn set(&mut self, key: &'a str, value: String) {
        self.remove(key);
        self.0.push((Cow::Borrowed(key), Cow::Owned(value)));
    }

    pub fn remove(&mut self, key: &str) {
        if self.0.iter().any(|(k, _)| k == key) {
            self.0.retain(|(k, _)| k != key);
        }
    }

    pub fn to_json(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.0.iter().map(|(k, v)| k.len() + v.len() + 4).sum::<usize>() + 2);
        out.push(b'{');
        for (i, (k, v)) in self.0.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            match k {
                // Borrowed: it had no escape in the request, so its text is a JSON string as is
                // (JSON strings hold no raw quote, backslash or control character).
                Cow::Borrowed(k) => {
                    out.push(b'"');
                    out.extend_from_slice(k.as_bytes());
                    out.push(b'"');
                }
                Cow::Owned(k) => serde_json::to_writer(&mut out, k).expect("a string serializes"),
            }
            out.push(b':');
            out.extend_from_slice(v.as_bytes());
        }
        out.push(b'}');
        out
    }
}

/// An object key, borrowed unless it had escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_string())))
            }
        }
        d.deserialize_str(V)
    }
}

impl<'de> Deserialize<'de> for Members<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Members<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut m: A) -> Result<Members<'de>, A::Error> {
                let mut v = Vec::with_capacity(8);
                while let Some((k, raw)) = m.next_entry::<Key<'de>, &'de RawValue>()? {
                    v.push((k.0, Cow::Borrowed(raw.get())));
                }
                Ok(Members(v))
            }
        }
        d.deserialize_map(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nesting_depth_ignores_strings() {
        assert!(!nests_deeper_than(br#"{"a":[1,{"b":2}]}"#, 3));
        assert!(nests_deeper_than(br#"{"a":[1,{"b":[2]}]}"#, 3));
        assert!(!nests_deeper_than(br#"{"a":"[[[[[[\"[[[["}"#, 1));
        assert!(nests_deeper_than(&[b'['; 100_000], 128));
        // An escaped backslash ends before the quote: the string closes there.
        assert!(nests_deeper_than(br#"{"a":"x\\",  "b":[[[]]]}"#, 3));
    }

    #[test]
    fn members_keep_order_and_raw_values() {
        let body = br#"{"model": "tiny", "messages": [{"role": "user", "content": "a \"quoted\" \u00e9"}], "k\u0065y": 1, "model": "last"}"#;
        let mut m = Members::parse(body).unwrap();
        assert_eq!(m.get("model"), Some(r#""last""#), "a repeated key counts by its last occurrence");
        assert_eq!(m.get("messages"), Some(r#"[{"role": "user", "content": "a \"quoted\" \u00e9"}]"#));
        assert_eq!(m.get("key"), Some("1"), "escaped keys are decoded");
        m.set("model", r#""/m/tiny""#.into());
        m.set("max_tokens", "8".into());
        m.remove("key");
        let out: serde_json::Value = serde_json::from_slice(&m.to_json()).unwrap();
        assert_eq!(
            out,
            serde_json::json!({"messages": [{"role": "user", "content": "a \"quoted\" é"}], "model": "/m/tiny", "max_tokens": 8})
        );
        assert!(Members::parse(b"[1]").is_err() && Members::parse(b"{\"a\":}").is_err());
        let e = Members::parse(b"{\"a\":\"\xff\"}").unwrap_err().to_string();
        assert!(e.contains("invalid UTF-8 at byte 6"), "{e}");
        let m = Members::parse(br#"{"a": [ ], "b": [ {"c": 1} ], "c": "[x]", "d": [[]]}"#).unwrap();
        assert!(!m.is_nonempty_array("a") && m.is_nonempty_array("b") && m.is_nonempty_array("d"));
        assert!(!m.is_nonempty_array("c") && !m.is_nonempty_array("missing"));
    }

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
