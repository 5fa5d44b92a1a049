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

/// Where a key `jiter` handed out lies in `body`: its offset, length and whether it holds an
/// escape (then its text is not its name).
fn span(body: &[u8], key: Option<&[u8]>) -> Option<(usize, usize, bool)> {
    key.map(|k| (k.as_ptr() as usize - body.as_ptr() as usize, k.len(), k.contains(&b'\\')))
}

/// Where a whole answer's top-level `model` string is.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelAt {
    /// The answer has no `model` member.
    Absent,
    /// The byte range of its JSON string, quotes included.
    At(std::ops::Range<usize>),
    /// Not known from the fast path (another shape, or read by serde): parse to find it.
    Unknown,
}

/// What the proxy needs of a whole answer from a loader: that it is JSON, its usage numbers and
/// where its model name is.
#[derive(Debug, Clone, PartialEq)]
pub struct AnswerScan {
    pub usage: Option<Usage>,
    pub model: ModelAt,
}

/// Reads a loader's whole answer: `Err` when it is not JSON. Most answers are read in one
/// validating pass by [`jiter`]; any other shape (escaped keys at the top, a repeated `usage`,
/// token counts that are not plain integers, a top level that is not an object) is read by serde
/// as before, which also words the error.
pub fn read_answer(body: &[u8]) -> Result<AnswerScan, serde_json::Error> {
    if let Some(a) = scan_answer(body) {
        return Ok(a);
    }
    Ok(AnswerScan { usage: peek_usage(body)?, model: ModelAt::Unknown })
}

/// The fast path of [`read_answer`].
pub(crate) fn scan_answer(body: &[u8]) -> Option<AnswerScan> {
    use jiter::Peek;
    std::str::from_utf8(body).ok()?; // jiter's spans do not check it
    let mut j = jiter::Jiter::new(body);
    let (mut usage, mut saw_usage, mut model) = (None, false, ModelAt::Absent);
    let mut key = span(body, j.next_object_bytes().ok()?);
    while let Some((at, len, escaped)) = key {
        let name = &body[at..at + len];
        let peek = j.peek().ok()?;
        if escaped {
            return None; // it might spell `usage` or `model`
        } else if name == b"usage" {
            if std::mem::replace(&mut saw_usage, true) {
                return None; // serde calls a repeated field an error
            }
            match peek {
                Peek::Null => j.known_null().ok()?,
                Peek::Object => usage = Some(scan_usage(&mut j, body)?),
                _ => return None,
            }
        } else if name == b"model" {
            let start = j.current_index();
            j.known_skip(peek).ok()?;
            model = match model {
                ModelAt::Absent if peek == Peek::String => ModelAt::At(start..j.current_index()),
                _ => ModelAt::Unknown, // repeated, or not a string
            };
        } else {
            j.known_skip(peek).ok()?;
        }
        key = span(body, j.next_key_bytes().ok()?);
    }
    j.finish().ok()?;
    Some(AnswerScan { usage, model })
}

/// The `usage` object, its fields as serde reads them into [`RawUsage`] (missing: 0).
fn scan_usage(j: &mut jiter::Jiter<'_>, body: &[u8]) -> Option<Usage> {
    use jiter::Peek;
    let mut u = Usage::default();
    let mut seen = [false; 3];
    let mut key = span(body, j.next_object_bytes().ok()?);
    while let Some((at, len, escaped)) = key {
        let name = &body[at..at + len];
        let field = match name {
            _ if escaped => return None,
            b"prompt_tokens" => Some(0),
            b"completion_tokens" => Some(1),
            b"prompt_tokens_details" => Some(2),
            _ => None,
        };
        if let Some(f) = field
            && std::mem::replace(&mut seen[f], true)
        {
            return None;
        }
        match field {
            Some(0) => u.prompt_tokens = count(j)?,
            Some(1) => u.completion_tokens = count(j)?,
            Some(_) => match j.peek().ok()? {
                Peek::Null => j.known_null().ok()?,
                Peek::Object => u.cached_tokens = scan_details(j, body)?,
                _ => return None,
            },
            None => j.next_skip().ok()?,
        }
        key = span(body, j.next_key_bytes().ok()?);
    }
    Some(u)
}

/// `prompt_tokens_details`: its `cached_tokens` (null or missing: 0).
fn scan_details(j: &mut jiter::Jiter<'_>, body: &[u8]) -> Option<u64> {
    let (mut cached, mut seen) = (0, false);
    let mut key = span(body, j.next_object_bytes().ok()?);
    while let Some((at, len, escaped)) = key {
        match &body[at..at + len] {
            _ if escaped => return None,
            b"cached_tokens" if std::mem::replace(&mut seen, true) => return None,
            b"cached_tokens" if j.peek().ok()? == jiter::Peek::Null => j.known_null().ok()?,
            b"cached_tokens" => cached = count(j)?,
            _ => j.next_skip().ok()?,
        }
        key = span(body, j.next_key_bytes().ok()?);
    }
    Some(cached)
}

/// A token count: a non-negative integer that fits an `i64` (anything else is serde's to judge).
fn count(j: &mut jiter::Jiter<'_>) -> Option<u64> {
    match j.next_int().ok()? {
        jiter::NumberInt::Int(n) => u64::try_from(n).ok(),
        #[allow(unreachable_patterns, reason = "a big-integer variant exists with jiter's num-bigint feature")]
        _ => None,
    }
}

/// A request's top-level members in order, each value kept as its raw JSON text borrowed from the
/// body (nested values — the messages — are never parsed or copied). A repeated key counts by its
/// last occurrence, as a map would.
#[derive(Debug, Default)]
pub struct Members<'a>(Vec<(Cow<'a, str>, Cow<'a, str>)>);

impl<'a> Members<'a> {
    /// The members of the object `body`. The common case (valid UTF-8, keys without escapes) is
    /// read by [`jiter`]'s validating scanner, each value a span of the body; anything it does not
    /// take goes to serde_json, which decodes escaped keys and words the error.
    pub fn parse(body: &'a [u8]) -> Result<Members<'a>, serde_json::Error> {
        match std::str::from_utf8(body).ok().and_then(Members::scan) {
            Some(m) => Ok(m),
            None => parse(body),
        }
    }

    /// The fast path of [`Members::parse`]: `None` when the body is not a valid JSON object or a
    /// key needs unescaping.
    pub(crate) fn scan(text: &'a str) -> Option<Members<'a>> {
        let body = text.as_bytes();
        let mut j = jiter::Jiter::new(body);
        let mut out = Vec::with_capacity(8);
        let mut key = span(body, j.next_object_bytes().ok()?);
        while let Some((at, len, escaped)) = key {
            if escaped {
                return None;
            }
            let peek = j.peek().ok()?;
            let start = j.current_index();
            j.known_skip(peek).ok()?;
            out.push((Cow::Borrowed(&text[at..at + len]), Cow::Borrowed(&text[start..j.current_index()])));
            key = span(body, j.next_key_bytes().ok()?);
        }
        j.finish().ok()?;
        Some(Members(out))
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

    /// Documents the fast path must leave to serde (which refuses each of them): it never takes
    /// what serde would not.
    const NOT_JSON: &[&str] = &[
        r#"{"a":NaN}"#, r#"{"a":Infinity}"#, r#"{"a":01}"#, r#"{"a":1.}"#, r#"{"a":-}"#, r#"{"a":+1}"#,
        r#"{"a":.5}"#, r#"{"a":1e}"#, r#"{"a":"x"} x"#, r#"{"a":"x",}"#, r#"{"a" "x"}"#, r#"{"a":"\q"}"#,
        r#"{"a":"\u12G4"}"#, "{\"a\":\"tab\there\"}", r#"{"a":[1,]}"#, r#"{"a":tru}"#, r#"{"a":"x"#,
        r#"{'a':1}"#, r#"{"a":1}}"#,
    ];

    #[test]
    fn the_fast_path_takes_only_json_and_reads_it_as_serde_does() {
        for bad in NOT_JSON {
            assert!(serde_json::from_str::<serde_json::Value>(bad).is_err(), "{bad} is JSON after all");
            assert!(Members::scan(bad).is_none(), "members took {bad}");
            assert!(scan_answer(bad.as_bytes()).is_none(), "the answer scan took {bad}");
            assert!(Members::parse(bad.as_bytes()).is_err() && read_answer(bad.as_bytes()).is_err(), "{bad}");
        }
        let body = r#" { "model" : "tiny" , "messages":[{"role":"user","content":"a \"q\" \u00e9 é"}],"n":1.5e3,"x":[true,false,null,-0.0,{}],"model":"m2"} "#;
        let fast = Members::scan(body).expect("the fast path takes it");
        let slow: Members = parse(body.as_bytes()).unwrap();
        assert_eq!(fast.0, slow.0, "the same members, spans and order as serde's");
        assert_eq!(fast.get("model"), Some(r#""m2""#));
        assert!(Members::scan(r#"{"k\u0065y":1}"#).is_none(), "an escaped key is serde's to decode");
        assert_eq!(Members::parse(br#"{"k\u0065y":1}"#).unwrap().get("key"), Some("1"));
        assert_eq!(Members::scan("{}").map(|m| m.0.len()), Some(0));
    }

    #[test]
    fn answers_are_scanned_for_usage_and_the_model() {
        let body = br#"{"id":"c","model" : "/m/tiny","choices":[{"message":{"content":"\"model\":\"x\""}}],"usage":{"prompt_tokens":9,"total_tokens":12,"completion_tokens":3,"prompt_tokens_details":{"x":[1],"cached_tokens":8}}}"#;
        let a = scan_answer(body).expect("fast path");
        assert_eq!(a.usage, Some(Usage { prompt_tokens: 9, completion_tokens: 3, cached_tokens: 8 }));
        let ModelAt::At(r) = a.model.clone() else { panic!("{a:?}") };
        assert_eq!(&body[r], br#""/m/tiny""#);
        assert_eq!(read_answer(body).unwrap(), a);
        assert_eq!(peek_usage(body).unwrap(), a.usage, "serde reads the same usage");
        // Null and missing parts read as serde's defaults.
        let a = scan_answer(br#"{"usage":{"prompt_tokens_details":null,"completion_tokens":2}}"#).unwrap();
        assert_eq!(a.usage, Some(Usage { prompt_tokens: 0, completion_tokens: 2, cached_tokens: 0 }));
        assert_eq!((a.model, scan_answer(br#"{"usage":null}"#).unwrap().usage), (ModelAt::Absent, None));
        let a = scan_answer(br#"{"usage":{"prompt_tokens_details":{"cached_tokens":null}}}"#).unwrap();
        assert_eq!(a.usage, Some(Usage::default()));
        // A model that is not one string is found by a full parse.
        assert_eq!(scan_answer(br#"{"model":"a","model":"b"}"#).unwrap().model, ModelAt::Unknown);
        assert_eq!(scan_answer(br#"{"model":null}"#).unwrap().model, ModelAt::Unknown);
        // Shapes serde reads (or refuses) its own way are left to it, with the same outcome.
        for other in [
            &br#"{"usage":{"prompt_tokens":-1}}"#[..],
            br#"{"usage":{"prompt_tokens":1.0}}"#,
            br#"{"usage":{"prompt_tokens":null}}"#,
            br#"{"usage":{"prompt_tokens":18446744073709551615}}"#,
            br#"{"usage":{"prompt_tokens":1,"prompt_tokens":2}}"#,
            br#"{"usage":null,"usage":null}"#,
            br#"{"us\u0061ge":{"prompt_tokens":4}}"#,
            br#"{"usage":[1]}"#,
            br#"[null]"#,
            b"{\"a\":\"\xff\"}",
        ] {
            assert!(scan_answer(other).is_none(), "{}", String::from_utf8_lossy(other));
            let serde = peek_usage(other).map_err(|e| e.to_string());
            let read = read_answer(other).map(|a| a.usage).map_err(|e| e.to_string());
            assert_eq!(read, serde, "{}", String::from_utf8_lossy(other));
        }
        assert_eq!(peek_usage(br#"{"us\u0061ge":{"prompt_tokens":4}}"#).unwrap().unwrap().prompt_tokens, 4);
    }

    #[test]
    fn usage_is_read_without_the_rest() {
        let u = peek_usage(br#"{"choices":[],"usage":{"prompt_tokens":9,"completion_tokens":3,"prompt_tokens_details":{"cached_tokens":8}}}"#).unwrap().unwrap();
        assert_eq!((u.prompt_tokens, u.completion_tokens, u.cached_tokens), (9, 3, 8));
        assert_eq!(peek_usage(br#"{"choices":[{"delta":{}}]}"#).unwrap(), None);
        assert!(peek_usage(b"nope").is_err());
    }
}
