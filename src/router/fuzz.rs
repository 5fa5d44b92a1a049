//! Fuzz targets for the router's parsers: what a hostile client or a broken loader controls.
//! Each takes arbitrary bytes and panics only when a property fails; nothing may hang (every
//! input is finite and read from memory).
//!
//! - [`http_head`]: the request-head parser (`server.rs`), then the body framing it chose;
//! - [`body_decoder`]: the HTTP/1 body decoder (`h1.rs`) on arbitrary bytes under each framing,
//!   fed in arbitrary pieces, and a chunked encoding of random data decoding back to the data;
//! - [`json_request`]: the request rewrite (`rewrite.rs`): depth check, members, the edits the
//!   proxy makes, and the result being valid JSON equal to the input but for those edits; and
//!   the SSE rewriter (`sse.rs`) on the same bytes as a loader's stream; and the fast member
//!   scan reading what serde reads;
//! - [`json_answer`]: a loader's whole answer read for its usage and model (`rewrite.rs`), the
//!   fast scan against serde's reading.
//!
//! They run three ways: under libFuzzer (`fuzz/`, `bench/fuzz.sh`), in CI for a bounded number
//! of mutated inputs from the checked-in corpus (`tests` below), and on each corpus file.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use bytes::BytesMut;

use super::h1::{DecodeError, Decoder, Framing};

/// Runs a future that never waits on anything outside memory to completion.
fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

/// Reads a body with `decoder` from `rest` (delivered `piece` bytes at a time) and `buf`.
fn decode_all(mut decoder: Decoder, mut buf: BytesMut, rest: &[u8], piece: usize) -> Result<Vec<u8>, DecodeError> {
    let mut reader = Pieces { data: rest, piece: piece.max(1) };
    let mut out = Vec::new();
    block_on(async {
        while let Some(c) = decoder.chunk(&mut reader, &mut buf).await? {
            out.extend_from_slice(&c);
        }
        Ok(out)
    })
}

/// An in-memory reader that hands out at most `piece` bytes per read.
struct Pieces<'a> {
    data: &'a [u8],
    piece: usize,
}

impl tokio::io::AsyncRead for Pieces<'_> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let n = self.data.len().min(self.piece).min(buf.remaining());
        buf.put_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Poll::Ready(Ok(()))
    }
}

/// The request-head parser on arbitrary bytes; for a parsed head, its body read by the framing
/// it chose (never more bytes than there are).
pub fn http_head(data: &[u8]) {
    let mut buf = BytesMut::from(data);
    if let Some(framing) = super::server::fuzz_head(&mut buf) {
        assert!(buf.len() <= data.len());
        let len = buf.len();
        if let Ok(body) = decode_all(Decoder::new(framing), buf, &[], 7) {
            assert!(body.len() <= len, "a body longer than its input");
        }
    }
}

/// The body decoder: arbitrary bytes under each framing, in pieces of a size the input picks;
/// and random data, chunk-encoded in pieces the input picks, decodes back to itself.
pub fn body_decoder(data: &[u8]) {
    let Some((&sel, rest)) = data.split_first() else { return };
    let piece = 1 + (sel as usize >> 2);
    let framing = match sel & 3 {
        0 => Framing::Chunked,
        1 => Framing::Eof,
        2 => Framing::Length(rest.len() as u64 / 2),
        _ => Framing::Length(rest.len() as u64 + 1),
    };
    match decode_all(Decoder::new(framing), BytesMut::new(), rest, piece) {
        Ok(body) => {
            assert!(body.len() <= rest.len(), "decoded more than was read");
            if let Framing::Length(n) = framing {
                assert_eq!(body.len() as u64, n);
            }
        }
        Err(_) => assert!(framing != Framing::Eof, "a to-the-end body cannot fail in memory"),
    }
    // Round trip: `rest` as the payload, chunk sizes taken from the selector.
    let mut wire = Vec::new();
    for c in rest.chunks(piece) {
        wire.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
        wire.extend_from_slice(c);
        wire.extend_from_slice(b"\r\n");
    }
    wire.extend_from_slice(b"0\r\n\r\n");
    let back = decode_all(Decoder::new(Framing::Chunked), BytesMut::new(), &wire, 1 + (sel as usize % 5))
        .expect("a valid chunked body decodes");
    assert_eq!(back, rest, "chunked round trip changed the body");
}

/// The proxy's request rewrite: a body within the depth limit that parses as members comes out
/// as valid JSON, equal to the input but for the edited members; and the SSE rewriter takes the
/// same bytes as a stream without failing.
pub fn json_request(data: &[u8]) {
    use super::rewrite::{Members, nests_deeper_than};
    let deep = nests_deeper_than(data, 128);
    for max in [0, 1, 2, 3, 5, 128] {
        assert_eq!(nests_deeper_than(data, max), deepest_bytewise(data) > max, "depth over {max}");
    }
    if let Ok(original) = serde_json::from_slice::<serde_json::Value>(data) {
        // serde_json's own limit is 128 levels, so anything it parsed is within ours.
        assert!(!deep || !original.is_object(), "a parsed object judged too deep");
    }
    // The fast path takes only what serde takes, and reads the same members from it.
    if let Some(fast) = std::str::from_utf8(data).ok().and_then(|t| Members::scan(t, 128)) {
        assert!(!nests_deeper_than(data, 128), "the fast path took a body nested too deep");
        let slow: Members = super::rewrite::parse(data).expect("the fast path took what serde refuses");
        assert_eq!(format!("{fast:?}"), format!("{slow:?}"), "the fast path read other members");
    }
    if !deep && let Ok(mut m) = Members::parse(data) {
        serde_json::from_slice::<serde::de::IgnoredAny>(data).expect("members came from valid JSON");
        m.remove("max_completion_tokens");
        m.set("stream_options", r#"{"include_usage":true}"#);
        let overrides = [("model", "\"loader-id\""), ("max_tokens", "8")];
        let mut out = Vec::new();
        m.write_json(&mut out, &overrides);
        assert_eq!(out.len(), m.json_len(&overrides), "the stated length is not the written one");
        assert_eq!(m.to_json().len(), m.json_len(&[]));
        serde_json::from_slice::<serde::de::IgnoredAny>(&out).expect("the rewrite is valid JSON");
        // Member by member, where serde builds the values (a number past an f64's range is valid
        // JSON that it does not build).
        let (Ok(original), Ok(v)) =
            (serde_json::from_slice::<serde_json::Value>(data), serde_json::from_slice::<serde_json::Value>(&out))
        else {
            return;
        };
        assert_eq!(v["model"], "loader-id");
        let (mut before, mut after) =
            (original.as_object().expect("an object").clone(), v.as_object().unwrap().clone());
        for k in ["model", "max_tokens", "stream_options", "max_completion_tokens"] {
            before.remove(k);
            after.remove(k);
        }
        assert_eq!(before, after, "the rewrite changed other members");
    }
    let mut rw = super::sse::Rewriter::new("loader-id", "public", data.first().is_some_and(|b| b & 1 == 1));
    for piece in data.chunks(1 + data.len() / 3) {
        let _ = rw.feed(piece);
    }
    let _ = rw.finish();
}

/// The depth check's oracle: the deepest nesting reached, byte by byte, every byte looked at
/// (the check itself skips through strings and stops at the first level past its limit).
fn deepest_bytewise(body: &[u8]) -> usize {
    let (mut depth, mut deepest, mut in_string, mut escaped) = (0usize, 0, false, false);
    for &c in body {
        (in_string, escaped) = match (in_string, escaped, c) {
            (true, true, _) => (true, false),
            (true, false, b'\\') => (true, true),
            (_, _, b'"') => (!in_string, false),
            (true, ..) => (true, false),
            (false, _, b'[' | b'{') => {
                depth += 1;
                deepest = deepest.max(depth);
                (false, false)
            }
            (false, _, b']' | b'}') => {
                depth = depth.saturating_sub(1);
                (false, false)
            }
            _ => (false, false),
        };
    }
    deepest
}

/// A loader's whole answer (`rewrite::read_answer`): the fast scan takes only JSON serde takes,
/// reads the same usage as serde, and finds the model string a full parse finds; when the scan
/// declines, the answer is read by serde with serde's outcome.
pub fn json_answer(data: &[u8]) {
    use super::rewrite::{ModelAt, peek_usage, read_answer, scan_answer};
    let serde = peek_usage(data).map_err(|e| e.to_string());
    let Some(fast) = scan_answer(data) else {
        assert_eq!(read_answer(data).map(|a| a.usage).map_err(|e| e.to_string()), serde);
        return;
    };
    serde_json::from_slice::<serde::de::IgnoredAny>(data).expect("the scan took what serde refuses");
    assert_eq!(Ok(fast.usage), serde, "the scan read another usage");
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) else {
        return; // valid, with a number serde does not build (past an f64's range)
    };
    match (&fast.model, v.get("model")) {
        (ModelAt::Absent, None) | (ModelAt::Unknown, Some(_)) => {}
        (ModelAt::At(r), Some(m)) => {
            assert_eq!(serde_json::from_slice::<serde_json::Value>(&data[r.clone()]).ok().as_ref(), Some(m));
        }
        (at, m) => panic!("the scan placed the model at {at:?}, a parse found {m:?}"),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// The checked-in corpus, per target.
    fn corpus(target: &str) -> Vec<Vec<u8>> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus").join(target);
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        files.iter().map(|p| std::fs::read(p).unwrap()).collect()
    }

    /// Mutates corpus inputs (bit flips, byte inserts and deletes, splices, repeats) with a fixed
    /// seed: a bounded, coverage-blind fuzz run that CI can afford; `bench/fuzz.sh` runs libFuzzer.
    fn run(target: &str, f: fn(&[u8]), rounds: usize) {
        // `GARNET_FUZZ_ROUNDS=N` runs longer (by hand; CI keeps the default).
        let rounds = std::env::var("GARNET_FUZZ_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(rounds);
        let seeds = corpus(target);
        assert!(!seeds.is_empty(), "no corpus for {target}");
        for s in &seeds {
            f(s);
        }
        let mut x = 0x2545f4914f6cdd1du64;
        let mut rnd = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..rounds {
            let mut d = seeds[rnd() as usize % seeds.len()].clone();
            for _ in 0..1 + rnd() % 8 {
                let at = if d.is_empty() { 0 } else { rnd() as usize % d.len() };
                match rnd() % 6 {
                    0 if !d.is_empty() => d[at] ^= 1 << (rnd() % 8),
                    1 => d.insert(at, rnd() as u8),
                    2 if !d.is_empty() => {
                        d.remove(at);
                    }
                    3 => {
                        let other = &seeds[rnd() as usize % seeds.len()];
                        let from = rnd() as usize % (other.len() + 1);
                        d.splice(at..at, other[from..].iter().take(64).copied());
                    }
                    4 if !d.is_empty() => {
                        let b = d[at];
                        d.splice(at..at, std::iter::repeat_n(b, (rnd() % 200) as usize));
                    }
                    _ => d.truncate(at),
                }
            }
            f(&d);
        }
    }

    #[test]
    fn http_head_holds_on_corpus_and_mutations() {
        run("http_head", super::http_head, 20_000);
    }

    #[test]
    fn body_decoder_holds_on_corpus_and_mutations() {
        run("body_decoder", super::body_decoder, 20_000);
    }

    #[test]
    fn json_request_holds_on_corpus_and_mutations() {
        run("json_request", super::json_request, 20_000);
    }

    #[test]
    fn json_answer_holds_on_corpus_and_mutations() {
        run("json_answer", super::json_answer, 20_000);
    }
}
