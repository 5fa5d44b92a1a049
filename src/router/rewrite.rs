//! Fast JSON reads and rewrites on the proxy's hot path, without building a value tree.
//!
//! A request's top-level members are read by the scanner (`json.rs`) as spans of the body
//! ([`Members::scan`]), and written to the loader with the router's overrides
//! ([`Members::write_json`]). A loader's whole answer is read once for its usage and the place of
//! its `model` string ([`read_answer`]), so the caller puts the public name there. Whatever the
//! scanner declines is read by serde_json ([`Members::parse`], [`peek_usage`]), which also words
//! the errors. An SSE chunk's model is swapped by [`swap_model`] where it finds the expected shape
//! (`"model"` key, optional spaces, `:`, the exact JSON-encoded id) — inside string values a quote
//! is always escaped, so an unescaped `"model"` is a key; otherwise the chunk is parsed.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

use super::json::{MAX_DEPTH, Scanner};
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
    let mut depth = 0usize;
    let mut i = 0;
    while let Some(&c) = body.get(i) {
        i += 1;
        match c {
            // A string: skipped to its closing quote (the bulk of a prompt), searched for quotes
            // and backslashes only; an escape's next byte is never the end.
            b'"' => loop {
                match memchr::memchr2(b'"', b'\\', &body[i..]) {
                    None => return false,
                    Some(n) if body[i + n] == b'"' => {
                        i += n + 1;
                        break;
                    }
                    Some(n) => i += n + 2,
                }
                if i >= body.len() {
                    return false;
                }
            },
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
/// validating pass by the router's scanner (`json.rs`); any other shape (escaped keys, a repeated
/// `usage`, token counts that are not plain integers, a top level that is not an object) is read
/// by serde as before, which also words the error.
pub fn read_answer(body: &[u8]) -> Result<AnswerScan, serde_json::Error> {
    if let Some(a) = scan_answer(body) {
        return Ok(a);
    }
    Ok(AnswerScan { usage: peek_usage(body)?, model: ModelAt::Unknown })
}

/// The fast path of [`read_answer`].
pub(crate) fn scan_answer(body: &[u8]) -> Option<AnswerScan> {
    let mut s = Scanner::new(body); // it checks the text as UTF-8 as it goes
    let (mut usage, mut saw_usage, mut model) = (None, false, ModelAt::Absent);
    // An escaped key might spell `usage` or `model`: the scanner leaves those to serde.
    s.plain_members(|s, k| {
        match &body[k.start..k.end] {
            b"usage" if std::mem::replace(&mut saw_usage, true) => return None, // serde: a repeated field
            b"usage" => {
                if !s.null()? {
                    usage = Some(scan_usage(s, body)?);
                }
            }
            b"model" => {
                let string = s.peek()? == b'"';
                let start = s.i;
                s.skip(0)?;
                model = match model {
                    ModelAt::Absent if string => ModelAt::At(start..s.i),
                    _ => ModelAt::Unknown, // repeated, or not a string
                };
            }
            _ => s.skip(MAX_DEPTH - 1)?,
        }
        Some(())
    })?;
    s.finish()?;
    Some(AnswerScan { usage, model })
}

/// The `usage` object, its fields as serde reads them into [`RawUsage`] (missing: 0).
fn scan_usage(s: &mut Scanner<'_>, body: &[u8]) -> Option<Usage> {
    let mut u = Usage::default();
    let mut seen = [false; 3];
    s.plain_members(|s, k| {
        let field = match &body[k.start..k.end] {
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
            Some(0) => u.prompt_tokens = s.count()?,
            Some(1) => u.completion_tokens = s.count()?,
            Some(_) if s.null()? => {}
            Some(_) => u.cached_tokens = scan_details(s, body)?,
            None => s.skip(MAX_DEPTH - 2)?,
        }
        Some(())
    })?;
    Some(u)
}

/// `prompt_tokens_details`: its `cached_tokens` (null or missing: 0).
fn scan_details(s: &mut Scanner<'_>, body: &[u8]) -> Option<u64> {
    let (mut cached, mut seen) = (0, false);
    s.plain_members(|s, k| {
        match &body[k.start..k.end] {
            b"cached_tokens" if std::mem::replace(&mut seen, true) => return None,
            b"cached_tokens" if s.null()? => {}
            b"cached_tokens" => cached = s.count()?,
            _ => s.skip(MAX_DEPTH - 3)?,
        }
        Some(())
    })?;
    Some(cached)
}

/// A request's top-level members in order, each value kept as its raw JSON text borrowed from the
/// body (nested values — the messages — are never parsed or copied). A repeated key counts by its
/// last occurrence, as a map would.
#[derive(Debug, Default)]
pub struct Members<'a>(Vec<(Cow<'a, str>, Cow<'a, str>)>);

impl<'a> Members<'a> {
    /// The members of the object `body`, by serde_json (escaped keys decoded). The router reads
    /// most requests with [`Members::scan`] first.
    pub fn parse(body: &'a [u8]) -> Result<Members<'a>, serde_json::Error> {
        parse(body)
    }

    /// The fast path: the members of the object `text` when it is valid JSON nested at most
    /// `max_depth` levels (the object itself one) and no key needs unescaping; `None` otherwise
    /// (then [`Members::parse`] decides, and words the error). One pass, nothing decoded.
    pub fn scan(text: &'a str, max_depth: usize) -> Option<Members<'a>> {
        let mut s = Scanner::new(text.as_bytes());
        let mut out = Vec::with_capacity(8);
        s.plain_members(|s, k| {
            s.peek()?;
            let start = s.i;
            s.skip(max_depth.checked_sub(1)?)?;
            out.push((Cow::Borrowed(&text[k.start..k.end]), Cow::Borrowed(&text[start..s.i])));
            Some(())
        })?;
        s.finish()?;
        Some(Members(out))
    }

    /// Whether `key` is a non-empty array. Exact without parsing it: the members came from valid
    /// JSON, so a value opening with `[` is an array, empty only if `]` comes next.
    pub fn is_nonempty_array(&self, key: &str) -> bool {
        self.get(key)
            .and_then(|v| v.trim_start().strip_prefix('['))
            .is_some_and(|rest| !rest.trim_start().starts_with(']'))
    }

    /// The raw JSON of `key`'s value, as held: borrowed from the body unless it was set.
    pub fn get_cow(&self, key: &str) -> Option<Cow<'a, str>> {
        self.0.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.clone())
    }

    /// The raw JSON of `key`'s value.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.as_ref())
    }

    /// Sets `key` to the raw JSON `value` (replacing every occurrence).
    pub fn set(&mut self, key: &'a str, value: impl Into<Cow<'a, str>>) {
        self.remove(key);
        self.0.push((Cow::Borrowed(key), value.into()));
    }

    pub fn remove(&mut self, key: &str) {
        if self.0.iter().any(|(k, _)| k == key) {
            self.0.retain(|(k, _)| k != key);
        }
    }

    pub fn to_json(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.json_len(&[]));
        self.write_json(&mut out, &[]);
        out
    }

    /// The members that `overrides` (key, raw JSON value) do not replace, in order.
    fn kept<'s>(&'s self, overrides: &'s [(&str, &str)]) -> impl Iterator<Item = (&'s Cow<'a, str>, &'s str)> {
        self.0.iter().filter(|(k, _)| !overrides.iter().any(|(o, _)| o == k)).map(|(k, v)| (k, v.as_ref()))
    }

    /// The length of what [`Members::write_json`] writes with the same `overrides`, exactly (the
    /// router states it as the loader request's `Content-Length` before writing the body).
    pub fn json_len(&self, overrides: &[(&str, &str)]) -> usize {
        let keys = self.kept(overrides).map(|(k, v)| key_json_len(k) + 1 + v.len());
        let added = overrides.iter().map(|(k, v)| k.len() + 3 + v.len());
        let (n, len) = keys.chain(added).fold((0, 0), |(n, len), l| (n + 1, len + l));
        2 + len + n.max(1) - 1
    }

    /// Writes the members as a JSON object to `out`, each of `overrides` in place of any member
    /// of its key, after the others. Override keys are plain names written as they are.
    pub fn write_json(&self, out: &mut Vec<u8>, overrides: &[(&str, &str)]) {
        out.push(b'{');
        let mut first = true;
        let mut sep = |out: &mut Vec<u8>| {
            if !std::mem::replace(&mut first, false) {
                out.push(b',');
            }
        };
        for (k, v) in self.kept(overrides) {
            sep(out);
            match k {
                // Borrowed: it had no escape in the request, so its text is a JSON string as is
                // (JSON strings hold no raw quote, backslash or control character).
                Cow::Borrowed(k) => {
                    out.push(b'"');
                    out.extend_from_slice(k.as_bytes());
                    out.push(b'"');
                }
                Cow::Owned(k) => serde_json::to_writer(&mut *out, k).expect("a string serializes"),
            }
            out.push(b':');
            out.extend_from_slice(v.as_bytes());
        }
        for (k, v) in overrides {
            sep(out);
            out.push(b'"');
            out.extend_from_slice(k.as_bytes());
            out.extend_from_slice(b"\":");
            out.extend_from_slice(v.as_bytes());
        }
        out.push(b'}');
    }
}

/// The length of a key written as a JSON string: a borrowed key as it came, an owned (decoded)
/// one as serde_json encodes it, counted without writing it anywhere.
#[allow(clippy::ptr_arg, reason = "borrowed and owned keys are written differently")]
fn key_json_len(k: &Cow<'_, str>) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0 += b.len();
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    match k {
        Cow::Borrowed(k) => k.len() + 2,
        Cow::Owned(k) => {
            let mut c = Count(0);
            serde_json::to_writer(&mut c, k).expect("a string serializes");
            c.0
        }
    }
}

/// A loader request's body: the client's members with the router's overrides.
pub struct Payload<'m, 'a> {
    pub members: &'m Members<'a>,
    pub overrides: &'m [(&'m str, &'m str)],
}

impl super::upstream::RequestBody for Payload<'_, '_> {
    fn byte_len(&self) -> usize {
        self.members.json_len(self.overrides)
    }
    fn write(&self, out: &mut Vec<u8>) {
        self.members.write_json(out, self.overrides);
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
        m.set("model", r#""/m/tiny""#);
        m.set("max_tokens", "8");
        m.remove("key");
        let out: serde_json::Value = serde_json::from_slice(&m.to_json()).unwrap();
        assert_eq!(
            out,
            serde_json::json!({"messages": [{"role": "user", "content": "a \"quoted\" é"}], "model": "/m/tiny", "max_tokens": 8})
        );
        // Overrides replace members of their keys and go last; the stated length is exact, also
        // for a key that had escapes (written re-encoded).
        let m = Members::parse(br#"{"model":"x","k\u00e9y\n":[1, 2],"max_tokens":9,"z":null}"#).unwrap();
        let overrides = [("model", r#""/m/tiny""#), ("max_tokens", "8")];
        let mut out = Vec::new();
        m.write_json(&mut out, &overrides);
        assert_eq!(std::str::from_utf8(&out).unwrap(), r#"{"kéy\n":[1, 2],"z":null,"model":"/m/tiny","max_tokens":8}"#);
        assert_eq!(m.json_len(&overrides), out.len());
        assert_eq!((Members::default().to_json(), Members::default().json_len(&[])), (b"{}".to_vec(), 2));
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
        r#"{"a":NaN}"#,
        r#"{"a":Infinity}"#,
        r#"{"a":01}"#,
        r#"{"a":1.}"#,
        r#"{"a":-}"#,
        r#"{"a":+1}"#,
        r#"{"a":.5}"#,
        r#"{"a":1e}"#,
        r#"{"a":"x"} x"#,
        r#"{"a":"x",}"#,
        r#"{"a" "x"}"#,
        r#"{"a":"\q"}"#,
        r#"{"a":"\u12G4"}"#,
        "{\"a\":\"tab\there\"}",
        r#"{"a":[1,]}"#,
        r#"{"a":tru}"#,
        r#"{"a":"x"#,
        r#"{'a':1}"#,
        r#"{"a":1}}"#,
    ];

    #[test]
    fn the_fast_path_takes_only_json_and_reads_it_as_serde_does() {
        for bad in NOT_JSON {
            assert!(serde_json::from_str::<serde_json::Value>(bad).is_err(), "{bad} is JSON after all");
            assert!(Members::scan(bad, 128).is_none(), "members took {bad}");
            assert!(scan_answer(bad.as_bytes()).is_none(), "the answer scan took {bad}");
            assert!(Members::parse(bad.as_bytes()).is_err() && read_answer(bad.as_bytes()).is_err(), "{bad}");
        }
        let body = r#" { "model" : "tiny" , "messages":[{"role":"user","content":"a \"q\" \u00e9 é"}],"n":1.5e3,"x":[true,false,null,-0.0,{}],"model":"m2"} "#;
        let fast = Members::scan(body, 3).expect("the fast path takes it");
        assert!(Members::scan(body, 2).is_none(), "three levels deep");
        let slow: Members = parse(body.as_bytes()).unwrap();
        assert_eq!(fast.0, slow.0, "the same members, spans and order as serde's");
        assert_eq!(fast.get("model"), Some(r#""m2""#));
        assert!(Members::scan(r#"{"k\u0065y":1}"#, 128).is_none(), "an escaped key is serde's to decode");
        assert_eq!(Members::parse(br#"{"k\u0065y":1}"#).unwrap().get("key"), Some("1"));
        assert_eq!(Members::scan(" {} ", 1).map(|m| m.0.len()), Some(0));
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
            br#"{"usage":{"prompt_tokens":18446744073709551616}}"#,
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
        let max = br#"{"usage":{"prompt_tokens":18446744073709551615}}"#;
        assert_eq!(scan_answer(max).unwrap().usage, peek_usage(max).unwrap());
    }

    #[test]
    fn usage_is_read_without_the_rest() {
        let u = peek_usage(br#"{"choices":[],"usage":{"prompt_tokens":9,"completion_tokens":3,"prompt_tokens_details":{"cached_tokens":8}}}"#).unwrap().unwrap();
        assert_eq!((u.prompt_tokens, u.completion_tokens, u.cached_tokens), (9, 3, 8));
        assert_eq!(peek_usage(br#"{"choices":[{"delta":{}}]}"#).unwrap(), None);
        assert!(peek_usage(b"nope").is_err());
    }
}
