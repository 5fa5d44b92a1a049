//! Rewriting a loader's SSE stream on the fly: restore the public model name in every chunk,
//! account the usage chunk (and drop it when the client did not ask for it), pass keep-alive
//! comments and `[DONE]` through. Works across arbitrary chunk boundaries.

use bytes::{BufMut, Bytes, BytesMut};

/// What a usage chunk reported.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub cached_tokens: u64,
}

impl Usage {
    pub fn from_json(v: &serde_json::Value) -> Option<Usage> {
        let u = v.get("usage")?;
        if u.is_null() {
            return None;
        }
        Some(Usage {
            prompt_tokens: u.get("prompt_tokens").and_then(|x| x.as_u64()).unwrap_or(0),
            completion_tokens: u.get("completion_tokens").and_then(|x| x.as_u64()).unwrap_or(0),
            cached_tokens: u.pointer("/prompt_tokens_details/cached_tokens").and_then(|x| x.as_u64()).unwrap_or(0),
        })
    }
}

pub struct Rewriter {
    public_model: String,
    /// JSON-encoded forms for the fast in-place swap.
    from_json: Vec<u8>,
    to_json: Vec<u8>,
    keep_usage_chunk: bool,
    pending: BytesMut,
    pub usage: Option<Usage>,
    pub saw_done: bool,
    /// Content/text chunks seen (for diagnostics).
    pub chunks: u64,
}

impl Rewriter {
    /// `loader_model` is what the loader puts in `model`; `public_model` what the client sees.
    pub fn new(loader_model: &str, public_model: &str, keep_usage_chunk: bool) -> Self {
        Rewriter {
            public_model: public_model.to_string(),
            from_json: serde_json::to_vec(loader_model).expect("string serializes"),
            to_json: serde_json::to_vec(public_model).expect("string serializes"),
            keep_usage_chunk,
            pending: BytesMut::new(),
            usage: None,
            saw_done: false,
            chunks: 0,
        }
    }

    /// Feeds upstream bytes; returns what to send to the client now (possibly empty).
    pub fn feed(&mut self, data: &[u8]) -> Bytes {
        self.pending.extend_from_slice(data);
        let mut out = BytesMut::new();
        while let Some(pos) = self.pending.iter().position(|&b| b == b'\n') {
            let line = self.pending.split_to(pos + 1);
            let line = &line[..pos];
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            self.line(line, &mut out);
        }
        out.freeze()
    }

    /// End of upstream: a last line without newline, if any.
    pub fn finish(&mut self) -> Bytes {
        let mut out = BytesMut::new();
        if !self.pending.is_empty() {
            let rest = std::mem::take(&mut self.pending);
            self.line(&rest, &mut out);
        }
        out.freeze()
    }

    fn line(&mut self, line: &[u8], out: &mut BytesMut) {
        if line.is_empty() {
            return; // event separators: we write our own
        }
        if line.starts_with(b":") {
            out.put_slice(line);
            out.put_slice(b"\n\n");
            return;
        }
        let Some(payload) = line.strip_prefix(b"data:") else {
            out.put_slice(line);
            out.put_slice(b"\n");
            return;
        };
        let payload = payload.strip_prefix(b" ").unwrap_or(payload);
        if payload == b"[DONE]" {
            self.saw_done = true;
            out.put_slice(b"data: [DONE]\n\n");
            return;
        }
        // Fast path: an ordinary chunk (no usage) only needs its model swapped.
        if memchr::memmem::find(payload, b"\"usage\"").is_none()
            && let Some(swapped) = super::rewrite::swap_model(payload, &self.from_json, &self.to_json)
        {
            self.chunks += 1;
            out.put_slice(b"data: ");
            out.put_slice(&swapped);
            out.put_slice(b"\n\n");
            return;
        }
        let Ok(mut v) = serde_json::from_slice::<serde_json::Value>(payload) else {
            out.put_slice(line);
            out.put_slice(b"\n\n");
            return;
        };
        if v.get("model").is_some() {
            v["model"] = serde_json::Value::String(self.public_model.clone());
        }
        let usage_only = v.get("choices").and_then(|c| c.as_array()).is_some_and(|c| c.is_empty());
        if let Some(u) = Usage::from_json(&v) {
            self.usage = Some(u);
        }
        if usage_only && !self.keep_usage_chunk {
            return;
        }
        if !usage_only && !self.keep_usage_chunk {
            // The loader was asked for usage on our behalf; the client did not ask.
            if let Some(o) = v.as_object_mut() {
                o.remove("usage");
            }
        }
        self.chunks += 1;
        out.put_slice(b"data: ");
        out.put_slice(v.to_string().as_bytes());
        out.put_slice(b"\n\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STREAM: &str = ": keepalive 1/1\n\ndata: {\"model\": \"/m/tiny\", \"choices\": [{\"delta\": {\"content\": \"hi\"}}]}\n\ndata: {\"model\": \"/m/tiny\", \"choices\": [], \"usage\": {\"prompt_tokens\": 9, \"completion_tokens\": 3, \"prompt_tokens_details\": {\"cached_tokens\": 8}}}\n\ndata: [DONE]\n\n";

    fn run(keep: bool, split: usize) -> (String, Rewriter) {
        let mut r = Rewriter::new("/m/tiny", "tiny", keep);
        let mut out = Vec::new();
        for chunk in STREAM.as_bytes().chunks(split) {
            out.extend_from_slice(&r.feed(chunk));
        }
        out.extend_from_slice(&r.finish());
        (String::from_utf8(out).unwrap(), r)
    }

    #[test]
    fn strips_usage_chunk_unless_asked_and_restores_model() {
        for split in [1, 7, 1000] {
            let (out, r) = run(false, split);
            assert!(out.starts_with(": keepalive 1/1\n\n"), "{out}");
            assert!(out.contains("\"model\": \"tiny\""), "fast path keeps the loader's spacing: {out}");
            assert!(!out.contains("/m/tiny"), "{out}");
            assert!(!out.contains("usage"), "{out}");
            assert!(out.ends_with("data: [DONE]\n\n"));
            assert_eq!(r.usage, Some(Usage { prompt_tokens: 9, completion_tokens: 3, cached_tokens: 8 }));
            assert!(r.saw_done);
            let (kept, _) = run(true, split);
            assert!(kept.contains("\"completion_tokens\":3"), "{kept}");
        }
    }
}
