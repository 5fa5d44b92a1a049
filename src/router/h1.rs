//! HTTP/1 message bodies, shared by the router's server side (request bodies) and its upstream
//! client (answers): framing by `Content-Length`, chunked transfer coding, or the end of the
//! connection, decoded incrementally from a connection's read buffer.

use std::fmt;

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt};

/// How much a read asks for when the buffer runs low.
pub const READ_CHUNK: usize = 16 * 1024;
/// Longest chunk-size or trailer line accepted.
const MAX_LINE: usize = 4096;

/// How a body's end is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    Length(u64),
    Chunked,
    /// Until the connection closes (HTTP/1.0 answers without a length).
    Eof,
}

#[derive(Debug, Clone, Copy)]
enum State {
    Length(u64),
    Size,
    Data(u64),
    DataEnd,
    Trailers,
    Eof,
    Done,
}

/// Why a body could not be read.
#[derive(Debug)]
pub enum DecodeError {
    Io(std::io::Error),
    /// The connection ended before the body did.
    Closed,
    Invalid(&'static str),
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Io(e) => write!(f, "{e}"),
            DecodeError::Closed => f.write_str("the connection closed mid-body"),
            DecodeError::Invalid(what) => write!(f, "invalid body: {what}"),
        }
    }
}

/// Decodes one body; the bytes after it stay in the buffer (the next message's).
#[derive(Debug)]
pub struct Decoder {
    state: State,
}

/// Reads more into `buf`; false at the end of the connection.
pub async fn fill<R: AsyncRead + Unpin>(io: &mut R, buf: &mut BytesMut) -> std::io::Result<bool> {
    if buf.capacity() - buf.len() < 1024 {
        buf.reserve(READ_CHUNK);
    }
    Ok(io.read_buf(buf).await? > 0)
}

impl Decoder {
    pub fn new(framing: Framing) -> Decoder {
        let state = match framing {
            Framing::Length(0) => State::Done,
            Framing::Length(n) => State::Length(n),
            Framing::Chunked => State::Size,
            Framing::Eof => State::Eof,
        };
        Decoder { state }
    }

    pub fn is_done(&self) -> bool {
        matches!(self.state, State::Done)
    }

    /// Whether the body ends with the connection (so the connection cannot be reused).
    pub fn until_eof(&self) -> bool {
        matches!(self.state, State::Eof)
    }

    /// How many bytes the rest of a length-framed body takes, if all of it is buffered.
    pub fn buffered_rest(&self, buf: &BytesMut) -> Option<usize> {
        match self.state {
            State::Length(n) if buf.len() as u64 >= n => Some(n as usize),
            State::Done => Some(0),
            _ => None,
        }
    }

    /// Marks the body read (after the caller consumed `buffered_rest` bytes itself).
    pub fn finish(&mut self) {
        self.state = State::Done;
    }

    /// The whole rest of a length-framed body, if it is already buffered (no await, no copy).
    pub fn take_buffered(&mut self, buf: &mut BytesMut) -> Option<Bytes> {
        match self.state {
            State::Length(n) if buf.len() as u64 >= n => {
                self.state = State::Done;
                Some(buf.split_to(n as usize).freeze())
            }
            State::Done => Some(Bytes::new()),
            _ => None,
        }
    }

    /// The next piece of the body; `None` at its end.
    pub async fn chunk<R: AsyncRead + Unpin>(
        &mut self,
        io: &mut R,
        buf: &mut BytesMut,
    ) -> Result<Option<Bytes>, DecodeError> {
        loop {
            match self.state {
                State::Done => return Ok(None),
                State::Length(left) | State::Data(left) if !buf.is_empty() => {
                    let n = (left as usize).min(buf.len());
                    let out = buf.split_to(n).freeze();
                    let left = left - n as u64;
                    self.state = match (self.state, left) {
                        (State::Length(_), 0) => State::Done,
                        (State::Length(_), _) => State::Length(left),
                        (_, 0) => State::DataEnd,
                        _ => State::Data(left),
                    };
                    return Ok(Some(out));
                }
                State::Eof if !buf.is_empty() => return Ok(Some(buf.split().freeze())),
                State::Size => {
                    if let Some(pos) = memchr::memmem::find(buf, b"\r\n") {
                        let line = &buf[..pos];
                        let hex = line.split(|&c| c == b';').next().unwrap_or_default().trim_ascii();
                        let size = std::str::from_utf8(hex).ok().and_then(|h| u64::from_str_radix(h, 16).ok());
                        let Some(size) = size.filter(|_| !hex.is_empty() && hex.len() <= 16) else {
                            return Err(DecodeError::Invalid("a bad chunk size"));
                        };
                        buf.advance(pos + 2);
                        self.state = if size == 0 { State::Trailers } else { State::Data(size) };
                        continue;
                    }
                    if buf.len() > MAX_LINE {
                        return Err(DecodeError::Invalid("a chunk size line over 4 KiB"));
                    }
                }
                State::DataEnd if buf.len() >= 2 => {
                    if &buf[..2] != b"\r\n" {
                        return Err(DecodeError::Invalid("a chunk without its CRLF"));
                    }
                    buf.advance(2);
                    self.state = State::Size;
                    continue;
                }
                State::Trailers => {
                    if let Some(pos) = memchr::memmem::find(buf, b"\r\n") {
                        buf.advance(pos + 2);
                        if pos == 0 {
                            self.state = State::Done;
                            return Ok(None);
                        }
                        continue;
                    }
                    if buf.len() > MAX_LINE {
                        return Err(DecodeError::Invalid("a trailer line over 4 KiB"));
                    }
                }
                _ => {}
            }
            match fill(io, buf).await {
                Ok(true) => {}
                Ok(false) if matches!(self.state, State::Eof) => {
                    self.state = State::Done;
                    return Ok(None);
                }
                Ok(false) => return Err(DecodeError::Closed),
                Err(e) => return Err(DecodeError::Io(e)),
            }
        }
    }
}

/// Parses a `Content-Length` value (digits only: no sign, no list).
pub fn content_length(v: &[u8]) -> Option<u64> {
    let v = v.trim_ascii();
    if v.is_empty() || v.len() > 19 {
        return None; // 19 digits cannot overflow a u64
    }
    v.iter().try_fold(0u64, |n, &c| c.is_ascii_digit().then(|| n * 10 + u64::from(c - b'0')))
}

/// Whether a `Transfer-Encoding` value ends in `chunked` (the only coding that frames a body).
pub fn is_chunked(v: &[u8]) -> bool {
    v.rsplit(|&c| c == b',').next().is_some_and(|t| t.trim_ascii().eq_ignore_ascii_case(b"chunked"))
}

/// `Connection` tokens: (close, keep-alive).
pub fn connection_tokens(v: &[u8]) -> (bool, bool) {
    let (mut close, mut keep) = (false, false);
    for t in v.split(|&c| c == b',') {
        let t = t.trim_ascii();
        close |= t.eq_ignore_ascii_case(b"close");
        keep |= t.eq_ignore_ascii_case(b"keep-alive");
    }
    (close, keep)
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn decode(framing: Framing, wire: &[u8], split: usize) -> (Result<Vec<u8>, String>, Vec<u8>) {
        let (mut a, mut b) = tokio::io::duplex(64);
        let pieces: Vec<Vec<u8>> = wire.chunks(split.max(1)).map(|c| c.to_vec()).collect();
        let writer = tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            for p in pieces {
                if b.write_all(&p).await.is_err() {
                    return; // the decoder stopped reading (an error)
                }
            }
        });
        let mut buf = BytesMut::new();
        let mut d = Decoder::new(framing);
        let mut out = Vec::new();
        let r = loop {
            match d.chunk(&mut a, &mut buf).await {
                Ok(Some(c)) => out.extend_from_slice(&c),
                Ok(None) => break Ok(out),
                Err(e) => break Err(e.to_string()),
            }
        };
        drop(a);
        writer.await.unwrap();
        (r, buf.to_vec())
    }

    #[tokio::test]
    async fn chunked_bodies_decode_at_any_split_and_leave_the_next_message() {
        let wire = b"5;ext=1\r\nhello\r\n10\r\n, world and more\r\n0\r\nX-T: 1\r\n\r\nNEXT";
        for split in [1, 2, 3, 7, 64] {
            let (r, rest) = decode(Framing::Chunked, wire, split).await;
            assert_eq!(r.unwrap(), b"hello, world and more", "split {split}");
            // What follows the body is not consumed beyond what was read with it.
            assert!(b"NEXT".starts_with(&rest) || rest == b"NEXT", "split {split}: {rest:?}");
        }
    }

    #[tokio::test]
    async fn lengths_and_eof_frame_bodies_and_short_ones_are_errors() {
        assert_eq!(decode(Framing::Length(5), b"helloNEXT", 64).await.0.unwrap(), b"hello");
        assert_eq!(decode(Framing::Eof, b"all of it", 2).await.0.unwrap(), b"all of it");
        assert!(decode(Framing::Length(10), b"hello", 64).await.0.unwrap_err().contains("closed mid-body"));
        assert!(decode(Framing::Chunked, b"zz\r\nhello\r\n", 64).await.0.unwrap_err().contains("chunk size"));
        assert!(decode(Framing::Chunked, b"5\r\nhelloXX0\r\n\r\n", 64).await.0.unwrap_err().contains("CRLF"));
        assert!(decode(Framing::Chunked, b"5\r\nhel", 64).await.0.unwrap_err().contains("closed mid-body"));
        let long = format!("{}\r\n", "1".repeat(5000));
        assert!(decode(Framing::Chunked, long.as_bytes(), 64).await.0.is_err());
    }

    #[test]
    fn header_values() {
        assert_eq!(content_length(b" 42 "), Some(42));
        assert_eq!(content_length(b"+4"), None);
        assert_eq!(content_length(b"4, 4"), None);
        assert_eq!(content_length(b"99999999999999999999"), None);
        assert_eq!(content_length(b"9999999999999999999"), Some(9_999_999_999_999_999_999));
        assert_eq!((content_length(b""), content_length(b"1a"), content_length(b"0")), (None, None, Some(0)));
        assert!(is_chunked(b"gzip, Chunked"));
        assert!(!is_chunked(b"chunked, gzip"));
        assert_eq!(connection_tokens(b"Keep-Alive, Upgrade"), (false, true));
        assert_eq!(connection_tokens(b"close"), (true, false));
    }
}
