//! GGUF metadata and tensor infos, read from the file's header only (llama.cpp's format: magic,
//! version, typed key/values, then name/shape/type/offset per tensor). Hand-written: the header is
//! small and fixed, and candle-core's reader would add ~110 s of build for these ~150 lines.

use std::io::Read;
use std::path::Path;

use super::memory::{InspectError, ModelInfo};

/// (elements per block, bytes per block) of a ggml tensor type.
fn block(t: u32) -> Option<(u64, u64)> {
    Some(match t {
        0 => (1, 4),      // F32
        1 => (1, 2),      // F16
        2 => (32, 18),    // Q4_0
        3 => (32, 20),    // Q4_1
        6 => (32, 22),    // Q5_0
        7 => (32, 24),    // Q5_1
        8 => (32, 34),    // Q8_0
        9 => (32, 36),    // Q8_1
        10 => (256, 84),  // Q2_K
        11 => (256, 110), // Q3_K
        12 => (256, 144), // Q4_K
        13 => (256, 176), // Q5_K
        14 => (256, 210), // Q6_K
        15 => (256, 292), // Q8_K
        24 => (1, 1),     // I8
        25 => (1, 2),     // I16
        26 => (1, 4),     // I32
        27 => (1, 8),     // I64
        28 => (1, 8),     // F64
        30 => (1, 2),     // BF16
        _ => return None,
    })
}

fn type_name(t: u32) -> String {
    match t {
        0 => "F32".into(),
        1 => "F16".into(),
        2 => "Q4_0".into(),
        3 => "Q4_1".into(),
        6 => "Q5_0".into(),
        7 => "Q5_1".into(),
        8 => "Q8_0".into(),
        9 => "Q8_1".into(),
        10 => "Q2_K".into(),
        11 => "Q3_K".into(),
        12 => "Q4_K".into(),
        13 => "Q5_K".into(),
        14 => "Q6_K".into(),
        15 => "Q8_K".into(),
        30 => "BF16".into(),
        n => format!("ggml type {n}"),
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Int(i128),
    Float(f64),
    Bool(bool),
    Str(String),
    Array(usize),
}

struct Reader<R> {
    r: R,
    path: std::path::PathBuf,
}

impl<R: Read> Reader<R> {
    fn bad(&self, m: impl Into<String>) -> InspectError {
        InspectError::BadGguf(self.path.clone(), m.into())
    }
    fn bytes<const N: usize>(&mut self) -> Result<[u8; N], InspectError> {
        let mut b = [0u8; N];
        self.r.read_exact(&mut b).map_err(|e| self.bad(format!("truncated header: {e}")))?;
        Ok(b)
    }
    fn u32(&mut self) -> Result<u32, InspectError> {
        Ok(u32::from_le_bytes(self.bytes()?))
    }
    fn u64(&mut self) -> Result<u64, InspectError> {
        Ok(u64::from_le_bytes(self.bytes()?))
    }
    fn string(&mut self) -> Result<String, InspectError> {
        let n = self.u64()?;
        if n > 1 << 24 {
            return Err(self.bad(format!("a string of {n} bytes")));
        }
        let mut b = vec![0u8; n as usize];
        self.r.read_exact(&mut b).map_err(|e| self.bad(format!("truncated string: {e}")))?;
        Ok(String::from_utf8_lossy(&b).into_owned())
    }
    fn value(&mut self, t: u32) -> Result<Value, InspectError> {
        Ok(match t {
            0 => Value::Int(self.bytes::<1>()?[0] as i128),
            1 => Value::Int(self.bytes::<1>()?[0] as i8 as i128),
            2 => Value::Int(u16::from_le_bytes(self.bytes()?) as i128),
            3 => Value::Int(i16::from_le_bytes(self.bytes()?) as i128),
            4 => Value::Int(self.u32()? as i128),
            5 => Value::Int(i32::from_le_bytes(self.bytes()?) as i128),
            6 => Value::Float(f32::from_le_bytes(self.bytes()?) as f64),
            7 => Value::Bool(self.bytes::<1>()?[0] != 0),
            8 => Value::Str(self.string()?),
            9 => {
                let inner = self.u32()?;
                let n = self.u64()?;
                if n > 1 << 28 {
                    return Err(self.bad(format!("an array of {n} items")));
                }
                for _ in 0..n {
                    self.value(inner)?;
                }
                Value::Array(n as usize)
            }
            10 => Value::Int(self.u64()? as i128),
            11 => Value::Int(i64::from_le_bytes(self.bytes()?) as i128),
            12 => Value::Float(f64::from_le_bytes(self.bytes()?)),
            t => return Err(self.bad(format!("unknown value type {t}"))),
        })
    }
}

/// Inspects one `.gguf` file.
pub fn inspect(path: &Path) -> Result<ModelInfo, InspectError> {
    let f = std::fs::File::open(path).map_err(|e| InspectError::Io(path.to_path_buf(), e))?;
    let mut r = Reader { r: std::io::BufReader::new(f), path: path.to_path_buf() };
    if &r.bytes::<4>()? != b"GGUF" {
        return Err(r.bad("no GGUF magic"));
    }
    let version = r.u32()?;
    if !(2..=3).contains(&version) {
        return Err(r.bad(format!("version {version} (garnet reads 2 and 3)")));
    }
    let tensors = r.u64()?;
    let kvs = r.u64()?;
    if tensors > 1 << 20 || kvs > 1 << 20 {
        return Err(r.bad(format!("{tensors} tensors and {kvs} keys: not a real header")));
    }
    let mut meta = std::collections::BTreeMap::new();
    for _ in 0..kvs {
        let key = r.string()?;
        let t = r.u32()?;
        let v = r.value(t)?;
        meta.insert(key, v);
    }
    let mut info = ModelInfo {
        path: path.to_path_buf(),
        model_type: None,
        files: vec![path.to_path_buf()],
        tensors: tensors as usize,
        parameters: 0,
        weight_bytes: 0,
        bytes_by_dtype: Default::default(),
        quantization: None,
        layers: None,
        kv_heads: None,
        head_dim: None,
        max_context: None,
        sliding_window: None,
    };
    for _ in 0..tensors {
        let name = r.string()?;
        let dims = r.u32()?;
        if dims > 8 {
            return Err(r.bad(format!("tensor `{name}` has {dims} dimensions")));
        }
        let mut n = 1u64;
        for _ in 0..dims {
            n = n.saturating_mul(r.u64()?);
        }
        let t = r.u32()?;
        let _offset = r.u64()?;
        let (per, bytes) = block(t).ok_or_else(|| r.bad(format!("tensor `{name}`: unsupported type {t}")))?;
        let size = n.div_ceil(per) * bytes;
        info.parameters += n;
        info.weight_bytes += size;
        *info.bytes_by_dtype.entry(type_name(t)).or_default() += size;
    }
    let int = |k: &str| match meta.get(k) {
        Some(Value::Int(i)) if *i >= 0 => Some(*i as u64),
        _ => None,
    };
    if let Some(Value::Str(arch)) = meta.get("general.architecture") {
        info.model_type = Some(arch.clone());
        info.layers = int(&format!("{arch}.block_count"));
        let heads = int(&format!("{arch}.attention.head_count"));
        info.kv_heads = int(&format!("{arch}.attention.head_count_kv")).or(heads);
        info.head_dim = int(&format!("{arch}.attention.key_length"))
            .or_else(|| Some(int(&format!("{arch}.embedding_length"))? / heads?));
        info.max_context = int(&format!("{arch}.context_length"));
        info.sliding_window = int(&format!("{arch}.attention.sliding_window"));
    }
    Ok(info)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Writes a small GGUF v3: llama metadata and two tensors (F32 [8, 4], Q8_0 [64]).
    pub fn write_small_gguf(path: &Path) {
        let mut b: Vec<u8> = b"GGUF".to_vec();
        let s = |b: &mut Vec<u8>, x: &str| {
            b.extend((x.len() as u64).to_le_bytes());
            b.extend(x.as_bytes());
        };
        b.extend(3u32.to_le_bytes());
        b.extend(2u64.to_le_bytes()); // tensors
        b.extend(7u64.to_le_bytes()); // keys
        s(&mut b, "general.architecture");
        b.extend(8u32.to_le_bytes());
        s(&mut b, "llama");
        for (k, v) in [
            ("llama.block_count", 2u32),
            ("llama.attention.head_count", 4),
            ("llama.attention.head_count_kv", 2),
            ("llama.embedding_length", 64),
            ("llama.context_length", 2048),
        ] {
            s(&mut b, k);
            b.extend(4u32.to_le_bytes());
            b.extend(v.to_le_bytes());
        }
        s(&mut b, "tokenizer.ggml.tokens");
        b.extend(9u32.to_le_bytes());
        b.extend(8u32.to_le_bytes());
        b.extend(2u64.to_le_bytes());
        s(&mut b, "a");
        s(&mut b, "b");
        s(&mut b, "token_embd.weight");
        b.extend(2u32.to_le_bytes());
        b.extend(8u64.to_le_bytes());
        b.extend(4u64.to_le_bytes());
        b.extend(0u32.to_le_bytes());
        b.extend(0u64.to_le_bytes());
        s(&mut b, "blk.0.attn_q.weight");
        b.extend(1u32.to_le_bytes());
        b.extend(64u64.to_le_bytes());
        b.extend(8u32.to_le_bytes());
        b.extend(128u64.to_le_bytes());
        while !b.len().is_multiple_of(32) {
            b.push(0);
        }
        b.extend(vec![0u8; 128 + 68]);
        std::fs::write(path, b).unwrap();
    }

    #[test]
    fn reads_a_small_gguf() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("m.gguf");
        write_small_gguf(&p);
        let m = inspect(&p).unwrap();
        assert_eq!(m.model_type.as_deref(), Some("llama"));
        assert_eq!(m.tensors, 2);
        assert_eq!(m.parameters, 32 + 64);
        assert_eq!(m.weight_bytes, 32 * 4 + 2 * 34, "F32 4 bytes each; Q8_0 34 bytes per 32");
        assert_eq!(m.bytes_by_dtype["Q8_0"], 68);
        assert_eq!((m.layers, m.kv_heads, m.head_dim, m.max_context), (Some(2), Some(2), Some(16), Some(2048)));
        assert_eq!(m.kv_bytes_per_token(16), Some(256));
        std::fs::write(&p, b"GGUF\x09\x00\x00\x00").unwrap();
        assert!(inspect(&p).unwrap_err().to_string().contains("version 9"));
    }
}
