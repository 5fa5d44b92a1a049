//! A validating JSON scanner for the router's hot path: it checks a document against the JSON
//! grammar (RFC 8259) in one pass and hands out where things are (keys, raw values) without
//! building or decoding anything.
//!
//! Why not a crate: on the router's documents (a request of a few hundred bytes, an answer of a
//! few hundred) serde_json's validating skip cost about 19 instructions a byte and jiter's about
//! 23 (callgrind, `bench/router_instructions.sh`); a scan that only classifies bytes costs a
//! fraction of that. It is deliberately narrow: whatever it refuses — invalid JSON, and shapes it
//! does not handle, such as documents nested deeper than [`MAX_DEPTH`] — goes to serde_json, which
//! stays the arbiter and words every error (`rewrite.rs`). The fuzz targets hold it to serde's
//! verdict: it takes nothing serde refuses.
//!
//! A document the scanner takes is UTF-8 too: it checks the text of every string, where JSON's
//! only non-ASCII bytes may be, as it passes them.

/// The deepest nesting the scanner takes (serde_json's recursion limit is 128).
pub const MAX_DEPTH: usize = 127;

/// A key the scanner passed: its text's byte range (without the quotes) and whether it holds an
/// escape (then its text is not yet its name).
#[derive(Debug, Clone, Copy)]
pub struct Key {
    pub start: usize,
    pub end: usize,
    pub escaped: bool,
}

/// Bytes that end a run of plain string content: the quote, the backslash, control characters.
static STOP: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 0x20 {
        t[c] = true;
        c += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t
};

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// The high bit of each of the eight bytes of `w` (read little-endian) that may be a quote, a
/// backslash, below 0x20 or not ASCII: the classic has-zero-byte and has-less-than tests. A flag
/// above a real stop byte can be false (a borrow carries up), the lowest flag never is: so the
/// lowest set bit marks the first stop byte, and no flag means none.
#[inline(always)]
fn stop_mask(w: u64) -> u64 {
    let zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    let below_space = w.wrapping_sub(ONES * 0x20) & !w & HIGH;
    zero(w ^ (ONES * u64::from(b'"'))) | zero(w ^ (ONES * u64::from(b'\\'))) | below_space | (w & HIGH)
}

pub struct Scanner<'a> {
    b: &'a [u8],
    pub i: usize,
}

impl<'a> Scanner<'a> {
    pub fn new(b: &'a [u8]) -> Scanner<'a> {
        Scanner { b, i: 0 }
    }

    /// Skips whitespace; the next byte, if any.
    #[inline(always)]
    pub fn peek(&mut self) -> Option<u8> {
        while let Some(&c) = self.b.get(self.i) {
            if !matches!(c, b' ' | b'\n' | b'\r' | b'\t') {
                return Some(c);
            }
            self.i += 1;
        }
        None
    }

    /// Consumes `c` after whitespace, or fails.
    fn expect(&mut self, c: u8) -> Option<()> {
        (self.peek()? == c).then(|| self.i += 1)
    }

    /// Only whitespace is left.
    pub fn finish(&mut self) -> Option<()> {
        self.peek().is_none().then_some(())
    }

    /// A string at the current position (its opening quote next): passed, and whether it holds an
    /// escape. Its text is checked as UTF-8 here (JSON's only non-ASCII bytes are inside
    /// strings, so a document the scanner takes is UTF-8 whole).
    #[inline(always)]
    fn string(&mut self) -> Option<bool> {
        let b = self.b;
        let mut i = self.i + 1;
        let mut escaped = false;
        loop {
            // Eight bytes at a time to the first stop byte; the last few one by one.
            while let Some(w) = b.get(i..i + 8) {
                let m = stop_mask(u64::from_le_bytes(w.try_into().expect("eight bytes")));
                if m != 0 {
                    i += m.trailing_zeros() as usize / 8;
                    break;
                }
                i += 8;
            }
            while !STOP[usize::from(*b.get(i)?)] {
                if b[i] >= 0x80 {
                    // A run of non-ASCII text, checked whole up to the next stop byte (a run starts
                    // and ends on ASCII, so a character cut at either end is refused).
                    let run = i;
                    while !STOP[usize::from(*b.get(i)?)] {
                        i += 1;
                    }
                    std::str::from_utf8(&b[run..i]).ok()?;
                    break;
                }
                i += 1;
            }
            match b[i] {
                b'"' => {
                    self.i = i + 1;
                    return Some(escaped);
                }
                b'\\' => {
                    escaped = true;
                    i += match *b.get(i + 1)? {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => 2,
                        b'u' if b.get(i + 2..i + 6)?.iter().all(u8::is_ascii_hexdigit) => 6,
                        _ => return None,
                    };
                }
                _ => return None, // a raw control character
            }
        }
    }

    /// An object's opening brace and its first key (`None` inside: the object is empty).
    pub fn object_first(&mut self) -> Option<Option<Key>> {
        self.expect(b'{')?;
        if self.peek()? == b'}' {
            self.i += 1;
            return Some(None);
        }
        self.key().map(Some)
    }

    /// After a member's value: the next key, or `None` at the object's end.
    pub fn object_next(&mut self) -> Option<Option<Key>> {
        match self.peek()? {
            b',' => {
                self.i += 1;
                self.key().map(Some)
            }
            b'}' => {
                self.i += 1;
                Some(None)
            }
            _ => None,
        }
    }

    /// An object's members: each key's name handed to `member` with the scanner at its value,
    /// which `member` passes. `None` when a key holds an escape (its text is not its name: every
    /// caller leaves those to serde) or when `member` or the JSON fails.
    #[inline(always)]
    pub fn plain_members(&mut self, mut member: impl FnMut(&mut Self, Key) -> Option<()>) -> Option<()> {
        let mut key = self.object_first()?;
        while let Some(k) = key {
            if k.escaped {
                return None;
            }
            member(self, k)?;
            key = self.object_next()?;
        }
        Some(())
    }

    /// A key and its colon.
    #[inline(always)]
    fn key(&mut self) -> Option<Key> {
        if self.peek()? != b'"' {
            return None;
        }
        let start = self.i + 1;
        let escaped = self.string()?;
        let end = self.i - 1;
        self.expect(b':')?;
        Some(Key { start, end, escaped })
    }

    /// A number (the JSON grammar: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`);
    /// its value when it is a plain non-negative integer that fits a `u64`.
    fn number(&mut self) -> Option<Option<u64>> {
        let b = self.b;
        let mut i = self.i;
        let negative = b.get(i) == Some(&b'-');
        i += usize::from(negative);
        let mut value = Some(0u64);
        match *b.get(i)? {
            b'0' => i += 1,
            b'1'..=b'9' => {
                while let Some(&c) = b.get(i).filter(|c| c.is_ascii_digit()) {
                    value = value.and_then(|v| v.checked_mul(10)?.checked_add(u64::from(c - b'0')));
                    i += 1;
                }
            }
            _ => return None,
        }
        let integer = !negative && !matches!(b.get(i), Some(b'.' | b'e' | b'E'));
        if b.get(i) == Some(&b'.') {
            i += 1;
            i = digits(b, i)?;
        }
        if matches!(b.get(i), Some(b'e' | b'E')) {
            i += 1;
            if matches!(b.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            i = digits(b, i)?;
        }
        self.i = i;
        Some(value.filter(|_| integer))
    }

    /// A token count: a plain non-negative integer (`None` for any other value, valid or not).
    pub fn count(&mut self) -> Option<u64> {
        match self.peek()? {
            b'-' | b'0'..=b'9' => self.number()?,
            _ => None,
        }
    }

    /// `null`, consumed; `false` (nothing consumed) when the next value is something else.
    pub fn null(&mut self) -> Option<bool> {
        let at = self.peek()? == b'n';
        if at {
            self.literal(b"null")?;
        }
        Some(at)
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        (self.b.get(self.i..self.i + word.len())? == word).then(|| self.i += word.len())
    }

    /// Passes one value, checking it whole, nested at most `depth` levels (`depth` 0: only a
    /// scalar). Iterative: a deep document costs no stack.
    pub fn skip(&mut self, depth: usize) -> Option<()> {
        let depth = depth.min(MAX_DEPTH);
        // One bit per open container, 1 for an object; `open` of them.
        let (mut kinds, mut open) = (0u128, 0usize);
        loop {
            // A value.
            match self.peek()? {
                c @ (b'{' | b'[') => {
                    self.i += 1;
                    open += 1;
                    if open > depth {
                        return None;
                    }
                    let object = c == b'{';
                    kinds = kinds << 1 | u128::from(object);
                    let close = if object { b'}' } else { b']' };
                    if self.peek()? != close {
                        if object {
                            self.key()?;
                        }
                        continue;
                    }
                    self.i += 1;
                    open -= 1;
                    kinds >>= 1;
                }
                b'"' => {
                    self.string()?;
                }
                b't' => self.literal(b"true")?,
                b'f' => self.literal(b"false")?,
                b'n' => self.literal(b"null")?,
                b'-' | b'0'..=b'9' => {
                    self.number()?;
                }
                _ => return None,
            }
            // After a value: the next element of the container it is in, or its end (and so on
            // outwards).
            loop {
                if open == 0 {
                    return Some(());
                }
                let object = kinds & 1 == 1;
                match self.peek()? {
                    b',' => {
                        self.i += 1;
                        if object {
                            self.key()?;
                        }
                        break;
                    }
                    b'}' if object => {}
                    b']' if !object => {}
                    _ => return None,
                }
                self.i += 1;
                open -= 1;
                kinds >>= 1;
            }
        }
    }
}

/// One or more digits from `i`; the position after them.
fn digits(b: &[u8], mut i: usize) -> Option<usize> {
    let start = i;
    while b.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    (i > start).then_some(i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid(doc: &str) -> bool {
        let mut s = Scanner::new(doc.as_bytes());
        s.skip(MAX_DEPTH).is_some() && s.finish().is_some()
    }

    #[test]
    fn takes_json_and_refuses_the_rest_as_serde_does() {
        let docs = [
            "0",
            "-0",
            "1.5e-3",
            "-12E+4",
            "123456789012345678901234567890",
            "true",
            "false",
            "null",
            r#""""#,
            r#""a\"b\\c\/d\b\f\n\r\t\u00E9\uD83D\uDE00""#,
            "[]",
            "{}",
            " [ 1 , [ ] , { } , { \"a\" : [ null ] } ] ",
            r#"{"a":{"b":{"c":[1,2,{"d":"e"}]}},"f":"long string over eight bytes, then more"}"#,
            "\"é ü 😀\"",
            "01",
            "1.",
            ".5",
            "-",
            "+1",
            "1e",
            "1e+",
            "--1",
            "NaN",
            "Infinity",
            "tru",
            "nul",
            "[1,]",
            "[,1]",
            "{,}",
            r#"{"a":1,}"#,
            r#"{"a" 1}"#,
            r#"{a:1}"#,
            "{'a':1}",
            r#"{"a":1}}"#,
            "[1]]",
            "[",
            "{",
            r#""abc"#,
            r#""\q""#,
            r#""\u12G4""#,
            r#""\u12""#,
            "\"tab\there\"",
            "\"nl\nx\"",
            "[1 2]",
            r#"{"a":1 "b":2}"#,
            "",
            " ",
            "[]x",
            "\"a\u{7f}\"",
            "[1]\u{a0}",
        ];
        for doc in docs {
            let serde = serde_json::from_str::<serde::de::IgnoredAny>(doc).is_ok();
            assert_eq!(valid(doc), serde, "{doc:?}: serde says {serde}");
        }
    }

    #[test]
    fn text_is_checked_as_utf8() {
        let ok: &[&[u8]] = &["\"é\"".as_bytes(), "\"a 😀 ü\\n 中文\"".as_bytes(), "\"12345678é12345678\"".as_bytes()];
        let bad: &[&[u8]] = &[
            b"\"\xff\"",
            b"\"\xc3\"",
            b"\"a\xc3\"",
            b"\"\x80abc\"",
            b"\"\xc0\xaf\"",
            b"\"\xed\xa0\x80\"",
            b"\"\xf5\x80\x80\x80\"",
            b"\"12345678\xe4\xb8\"",
            b"\"\xe4\xb8\\n\"",
            b"[\xc3\xa9]",
            b"\xef\xbb\xbf{}",
        ];
        for doc in ok.iter().chain(bad) {
            let mut s = Scanner::new(doc);
            let fast = s.skip(MAX_DEPTH).is_some() && s.finish().is_some();
            // serde_json skips strings without checking them: UTF-8 is std's to judge.
            let serde =
                std::str::from_utf8(doc).is_ok_and(|t| serde_json::from_str::<serde::de::IgnoredAny>(t).is_ok());
            assert_eq!(fast, serde, "{doc:x?}");
            assert_eq!(fast, ok.contains(doc), "{doc:x?}");
        }
    }

    #[test]
    fn depth_is_bounded_without_recursion() {
        let nested = |n: usize| "[".repeat(n) + &"]".repeat(n);
        assert!(valid(&nested(MAX_DEPTH)));
        assert!(!valid(&nested(MAX_DEPTH + 1)), "past the limit: serde's to judge");
        assert!(!valid(&nested(1_000_000)));
        let mut s = Scanner::new(b"[[1]]");
        assert!(s.skip(1).is_none(), "two levels within one");
        let mut s = Scanner::new(br#"{"a":{"b":[]}}"#);
        assert!(s.skip(3).is_some() && Scanner::new(br#"{"a":{"b":[]}}"#).skip(2).is_none());
        assert!(Scanner::new(b"7").skip(0).is_some());
    }

    #[test]
    fn keys_counts_and_nulls() {
        let doc = br#" { "a\n" : 12 , "b" : null, "c": -1, "d": 1.0, "e": 18446744073709551616 } "#;
        let mut s = Scanner::new(doc);
        let k = s.object_first().unwrap().unwrap();
        assert_eq!((&doc[k.start..k.end], k.escaped), (&br"a\n"[..], true));
        assert_eq!(s.count(), Some(12));
        let k = s.object_next().unwrap().unwrap();
        assert_eq!((&doc[k.start..k.end], k.escaped), (&b"b"[..], false));
        assert_eq!(s.null(), Some(true));
        for _ in 0..3 {
            s.object_next().unwrap().unwrap();
            let at = s.i;
            assert_eq!(s.count(), None, "not a plain u64");
            s.i = at;
            s.skip(0).unwrap();
        }
        assert!(s.object_next().unwrap().is_none() && s.finish().is_some());
        assert!(Scanner::new(b" {} ").object_first().unwrap().is_none());
    }

    #[test]
    fn the_word_test_finds_the_first_stop_byte() {
        let stops: Vec<u8> = (0u8..0x20).chain([b'"', b'\\']).chain(0x80..=0xff).collect();
        let first = |w: [u8; 8]| match stop_mask(u64::from_le_bytes(w)) {
            0 => None,
            m => Some(m.trailing_zeros() as usize / 8),
        };
        // Every stop byte at every place, after plain bytes of every kind and before anything.
        for &stop in &stops {
            for plain in (0x20u8..=0x7f).filter(|c| !stops.contains(c)) {
                for at in 0..8 {
                    let mut w = [plain; 8];
                    w[at] = stop;
                    for after in [0u8, 1, b'"', b'\\', 0x7f, 0x80, 0xff, 0x21, 0x20] {
                        w[(at + 1).min(7)..].fill(if at == 7 { stop } else { after });
                        assert_eq!(first(w), Some(at), "{w:x?}");
                    }
                }
            }
        }
        for plain in (0x20u8..=0x7f).filter(|c| !stops.contains(c)) {
            assert_eq!(first([plain; 8]), None, "{plain:#x}");
            assert_eq!(first([plain, 0x21, 0x7e, 0x5b, plain, 0x7f, 0x20, plain]), None);
        }
    }
}
