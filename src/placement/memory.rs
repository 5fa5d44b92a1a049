//! Model memory math from a model's own files, without loading a weight.
//!
//! - Weights: the tensor bytes of the safetensors files (each file opens with an 8-byte
//!   little-endian header length and a JSON header of dtypes, shapes and byte offsets); sharded
//!   models are found through `model.safetensors.index.json`.
//! - Parameters: element counts, except that MLX-quantized weights are packed (`U32` holding
//!   `32 / bits` values) and their `.scales` / `.biases` are bookkeeping, not parameters.
//! - KV cache per token: `2 × layers × kv_heads × head_dim × bytes per element` (grouped-query
//!   attention through `num_key_value_heads`; a sliding window caps the tokens kept per sequence).
//! - Need at a context × concurrency: weights + KV per token × min(context, window) × concurrency
//!   + a runtime overhead.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Bytes the loader process needs besides weights and KV (Python, MLX, buffers): an estimate.
pub const RUNTIME_OVERHEAD_BYTES: u64 = 512 << 20;

#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    #[error("`{0}`: {1}")]
    Io(PathBuf, std::io::Error),
    #[error("`{0}` is not a safetensors file: {1}")]
    BadSafetensors(PathBuf, String),
    #[error("`{0}` is not a GGUF file garnet can read: {1}")]
    BadGguf(PathBuf, String),
    #[error("`{0}`: {1}")]
    BadConfig(PathBuf, String),
    #[error("`{0}` has no `*.safetensors` weights")]
    NoWeights(PathBuf),
}

#[derive(Debug, Clone, Deserialize)]
struct TensorInfo {
    dtype: String,
    shape: Vec<u64>,
    data_offsets: [u64; 2],
}

/// What one safetensors header says.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Tensors {
    pub count: usize,
    /// Bytes of tensor data (what the weights occupy in memory).
    pub bytes: u64,
    /// Bytes per dtype.
    pub by_dtype: BTreeMap<String, u64>,
    /// Element counts by tensor name (for parameter counting).
    #[serde(skip)]
    pub elements: BTreeMap<String, (String, u64)>,
}

/// Reads the header of one safetensors file (only the header: a few KB, whatever the file's size).
pub fn read_safetensors_header(path: &Path) -> Result<Tensors, InspectError> {
    use std::io::Read;
    let io = |e| InspectError::Io(path.to_path_buf(), e);
    let bad = |m: String| InspectError::BadSafetensors(path.to_path_buf(), m);
    let mut f = std::fs::File::open(path).map_err(io)?;
    let file_len = f.metadata().map_err(io)?.len();
    let mut len = [0u8; 8];
    f.read_exact(&mut len).map_err(|e| bad(format!("cannot read the header length: {e}")))?;
    let n = u64::from_le_bytes(len);
    if n > 100 << 20 || n + 8 > file_len {
        return Err(bad(format!("header length {n} does not fit a {file_len}-byte file")));
    }
    let mut header = vec![0u8; n as usize];
    f.read_exact(&mut header).map_err(io)?;
    let map: BTreeMap<String, serde_json::Value> =
        serde_json::from_slice(&header).map_err(|e| bad(format!("header is not JSON: {e}")))?;
    let mut t = Tensors::default();
    let data_len = file_len - 8 - n;
    for (name, v) in map {
        if name == "__metadata__" {
            continue;
        }
        let info: TensorInfo = serde_json::from_value(v).map_err(|e| bad(format!("tensor `{name}`: {e}")))?;
        let [a, b] = info.data_offsets;
        if a > b || b > data_len {
            return Err(bad(format!("tensor `{name}`: offsets {a}..{b} outside the {data_len}-byte data")));
        }
        t.count += 1;
        t.bytes += b - a;
        *t.by_dtype.entry(info.dtype.clone()).or_default() += b - a;
        t.elements.insert(name, (info.dtype, info.shape.iter().product()));
    }
    Ok(t)
}

/// The parts of `config.json` the math needs.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct ModelConfig {
    #[serde(default)]
    pub model_type: Option<String>,
    #[serde(default)]
    pub hidden_size: Option<u64>,
    #[serde(default)]
    pub num_hidden_layers: Option<u64>,
    #[serde(default)]
    pub num_attention_heads: Option<u64>,
    #[serde(default)]
    pub num_key_value_heads: Option<u64>,
    #[serde(default)]
    pub head_dim: Option<u64>,
    #[serde(default)]
    pub max_position_embeddings: Option<u64>,
    #[serde(default)]
    pub sliding_window: Option<u64>,
    #[serde(default)]
    pub quantization: Option<Quant>,
    #[serde(default)]
    pub torch_dtype: Option<String>,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq)]
pub struct Quant {
    pub group_size: u64,
    pub bits: u64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ModelInfo {
    pub path: PathBuf,
    pub model_type: Option<String>,
    pub files: Vec<PathBuf>,
    pub tensors: usize,
    pub parameters: u64,
    pub weight_bytes: u64,
    pub bytes_by_dtype: BTreeMap<String, u64>,
    pub quantization: Option<Quant>,
    pub layers: Option<u64>,
    pub kv_heads: Option<u64>,
    pub head_dim: Option<u64>,
    pub max_context: Option<u64>,
    pub sliding_window: Option<u64>,
}

impl ModelInfo {
    /// KV-cache bytes per token at `kv_bits` per element (16 for fp16/bf16), if the config tells.
    pub fn kv_bytes_per_token(&self, kv_bits: u32) -> Option<u64> {
        Some(2 * self.layers? * self.kv_heads? * self.head_dim? * kv_bits as u64 / 8)
    }

    /// Memory to serve `concurrency` sequences of `context` tokens.
    pub fn need(&self, context: u64, concurrency: u64, kv_bits: u32) -> Option<Need> {
        let per_token = self.kv_bytes_per_token(kv_bits)?;
        let kept = self.sliding_window.map_or(context, |w| context.min(w));
        let kv = per_token * kept * concurrency;
        Some(Need {
            weights: self.weight_bytes,
            kv,
            overhead: RUNTIME_OVERHEAD_BYTES,
            total: self.weight_bytes + kv + RUNTIME_OVERHEAD_BYTES,
        })
    }
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct Need {
    pub weights: u64,
    pub kv: u64,
    pub overhead: u64,
    pub total: u64,
}

/// The weight files of a model folder: the index's shards, else every `*.safetensors`.
fn weight_files(dir: &Path) -> Result<Vec<PathBuf>, InspectError> {
    let index = dir.join("model.safetensors.index.json");
    if index.exists() {
        let text = std::fs::read_to_string(&index).map_err(|e| InspectError::Io(index.clone(), e))?;
        let v: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| InspectError::BadConfig(index.clone(), e.to_string()))?;
        let map = v["weight_map"]
            .as_object()
            .ok_or_else(|| InspectError::BadConfig(index.clone(), "no `weight_map`".into()))?;
        let mut files: Vec<PathBuf> = map.values().filter_map(|f| f.as_str()).map(|f| dir.join(f)).collect();
        files.sort();
        files.dedup();
        return Ok(files);
    }
    let rd = std::fs::read_dir(dir).map_err(|e| InspectError::Io(dir.to_path_buf(), e))?;
    let mut files: Vec<PathBuf> =
        rd.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "safetensors")).collect();
    files.sort();
    if files.is_empty() {
        return Err(InspectError::NoWeights(dir.to_path_buf()));
    }
    Ok(files)
}

/// Inspects a local model: a folder (config.json + safetensors, or one `.gguf`), or a `.gguf` file.
pub fn inspect(dir: &Path) -> Result<ModelInfo, InspectError> {
    if dir.is_file() {
        return super::gguf::inspect(dir);
    }
    if !dir.join("config.json").exists() {
        let rd = std::fs::read_dir(dir).map_err(|e| InspectError::Io(dir.to_path_buf(), e))?;
        let ggufs: Vec<PathBuf> =
            rd.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "gguf")).collect();
        if let [one] = ggufs.as_slice() {
            return super::gguf::inspect(one);
        }
    }
    let cfg_path = dir.join("config.json");
    let cfg: ModelConfig = match std::fs::read_to_string(&cfg_path) {
        Ok(t) => serde_json::from_str(&t).map_err(|e| InspectError::BadConfig(cfg_path.clone(), e.to_string()))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => ModelConfig::default(),
        Err(e) => return Err(InspectError::Io(cfg_path, e)),
    };
    let files = weight_files(dir)?;
    let mut all = Tensors::default();
    for f in &files {
        let t = read_safetensors_header(f)?;
        all.count += t.count;
        all.bytes += t.bytes;
        for (k, v) in t.by_dtype {
            *all.by_dtype.entry(k).or_default() += v;
        }
        all.elements.extend(t.elements);
    }
    let parameters = count_parameters(&all, cfg.quantization);
    let heads = cfg.num_attention_heads;
    Ok(ModelInfo {
        path: dir.to_path_buf(),
        model_type: cfg.model_type.clone(),
        files,
        tensors: all.count,
        parameters,
        weight_bytes: all.bytes,
        bytes_by_dtype: all.by_dtype,
        quantization: cfg.quantization,
        layers: cfg.num_hidden_layers,
        kv_heads: cfg.num_key_value_heads.or(heads),
        head_dim: cfg.head_dim.or_else(|| Some(cfg.hidden_size? / heads?)),
        max_context: cfg.max_position_embeddings,
        sliding_window: cfg.sliding_window,
    })
}

/// Logical parameters: packed MLX weights count `32 / bits` values per `U32`; scales and biases of
/// quantized weights are not parameters.
fn count_parameters(t: &Tensors, q: Option<Quant>) -> u64 {
    t.elements
        .iter()
        .map(|(name, (dtype, n))| {
            let base = name.strip_suffix(".scales").or_else(|| name.strip_suffix(".biases"));
            if let Some(base) = base
                && t.elements.get(&format!("{base}.weight")).is_some_and(|(d, _)| d == "U32")
            {
                return 0;
            }
            match (dtype.as_str(), q) {
                ("U32", Some(q)) if q.bits > 0 => n * (32 / q.bits),
                _ => *n,
            }
        })
        .sum()
}

/// Bits per weight of each quantization, MLX style: `bits` plus a 16-bit scale and a 16-bit bias
/// per group of `group` weights.
pub fn bits_per_weight(bits: u32, group: u32) -> f64 {
    if bits >= 16 { 16.0 } else { bits as f64 + 32.0 / group as f64 }
}

/// Parses `8B`, `70b`, `1.5B`, `500M` into a parameter count.
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let (num, mult) = match s.chars().last()? {
        'b' | 'B' => (&s[..s.len() - 1], 1e9),
        'm' | 'M' => (&s[..s.len() - 1], 1e6),
        _ => return None,
    };
    let n: f64 = num.parse().ok()?;
    (n > 0.0).then_some((n * mult) as u64)
}

/// Estimated weight bytes for `params` at each quantization garnet offers.
pub fn estimates(params: u64, group: u32) -> Vec<(&'static str, f64, u64)> {
    [("4bit", 4), ("6bit", 6), ("8bit", 8), ("bf16", 16)]
        .into_iter()
        .map(|(name, bits)| {
            let bpw = bits_per_weight(bits, group);
            (name, bpw, (params as f64 * bpw / 8.0).ceil() as u64)
        })
        .collect()
}

/// What a model entry needs on a node, from its own files (weights + KV cache at its context ×
/// concurrency + runtime); `None` when the files are not local or cannot be read.
pub fn entry_need(m: &crate::inventory::ModelSpec) -> Option<u64> {
    let info = inspect(m.local_path.as_ref()?).ok()?;
    info.need(u64::from(m.context.unwrap_or(4096)), u64::from(m.max_concurrency), 16).map(|n| n.total)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes a safetensors file with the given (name, dtype, shape, bytes per element).
    fn write_st(path: &Path, tensors: &[(&str, &str, &[u64], u64)]) -> u64 {
        let mut header = serde_json::Map::new();
        let mut off = 0;
        for (name, dtype, shape, elem) in tensors {
            let n: u64 = shape.iter().product::<u64>() * elem;
            header.insert(
                name.to_string(),
                serde_json::json!({"dtype": dtype, "shape": shape, "data_offsets": [off, off + n]}),
            );
            off += n;
        }
        header.insert("__metadata__".into(), serde_json::json!({"format": "mlx"}));
        let h = serde_json::to_vec(&header).unwrap();
        let mut bytes = (h.len() as u64).to_le_bytes().to_vec();
        bytes.extend(h);
        bytes.extend(vec![0u8; off as usize]);
        std::fs::write(path, bytes).unwrap();
        off
    }

    #[test]
    fn dense_model_bytes_params_and_kv() {
        let d = tempfile::tempdir().unwrap();
        let data = write_st(
            &d.path().join("model.safetensors"),
            &[("embed.weight", "F16", &[100, 64], 2), ("norm.weight", "F32", &[64], 4)],
        );
        std::fs::write(d.path().join("config.json"), r#"{"model_type":"llama","hidden_size":64,"num_hidden_layers":2,"num_attention_heads":4,"num_key_value_heads":2}"#).unwrap();
        let m = inspect(d.path()).unwrap();
        assert_eq!(m.weight_bytes, data);
        assert_eq!(m.weight_bytes, 100 * 64 * 2 + 64 * 4);
        assert_eq!(m.parameters, 100 * 64 + 64);
        assert_eq!(m.bytes_by_dtype["F16"], 12_800);
        // 2 × 2 layers × 2 kv heads × 16 head dim × 2 bytes
        assert_eq!(m.kv_bytes_per_token(16), Some(256));
        assert_eq!(m.kv_bytes_per_token(8), Some(128));
        let need = m.need(1000, 4, 16).unwrap();
        assert_eq!(need.kv, 256 * 1000 * 4);
        assert_eq!(need.total, m.weight_bytes + 1_024_000 + RUNTIME_OVERHEAD_BYTES);
    }

    #[test]
    fn quantized_and_sharded_and_sliding_window() {
        let d = tempfile::tempdir().unwrap();
        // A 4-bit MLX linear of 128×256 logical weights, group 64: packed U32 [128, 32], scales and
        // biases F16 [128, 4].
        let a = write_st(
            &d.path().join("model-00001-of-00002.safetensors"),
            &[("l.weight", "U32", &[128, 32], 4), ("l.scales", "F16", &[128, 4], 2)],
        );
        let b = write_st(
            &d.path().join("model-00002-of-00002.safetensors"),
            &[("l.biases", "F16", &[128, 4], 2), ("n.weight", "F16", &[256], 2)],
        );
        std::fs::write(
            d.path().join("model.safetensors.index.json"),
            r#"{"weight_map":{"l.weight":"model-00001-of-00002.safetensors","l.scales":"model-00001-of-00002.safetensors","l.biases":"model-00002-of-00002.safetensors","n.weight":"model-00002-of-00002.safetensors"}}"#,
        )
        .unwrap();
        std::fs::write(d.path().join("config.json"), r#"{"hidden_size":256,"num_hidden_layers":1,"num_attention_heads":2,"head_dim":128,"sliding_window":512,"quantization":{"group_size":64,"bits":4}}"#).unwrap();
        let m = inspect(d.path()).unwrap();
        assert_eq!(m.files.len(), 2);
        assert_eq!(m.weight_bytes, a + b);
        assert_eq!(m.weight_bytes, 128 * 32 * 4 + 2 * 128 * 4 * 2 + 256 * 2);
        assert_eq!(m.parameters, 128 * 256 + 256, "packed weights unpacked, scales/biases not counted");
        assert_eq!(m.kv_heads, Some(2), "no num_key_value_heads: as many as attention heads");
        let need = m.need(100_000, 1, 16).unwrap();
        assert_eq!(need.kv, 2 * 2 * 128 * 2 * 512, "the sliding window caps the tokens kept");
    }

    #[test]
    fn rejects_what_is_not_safetensors() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("x.safetensors");
        std::fs::write(&p, [255u8; 16]).unwrap();
        assert!(read_safetensors_header(&p).unwrap_err().to_string().contains("does not fit"));
        assert!(matches!(inspect(tempfile::tempdir().unwrap().path()), Err(InspectError::NoWeights(_))));
    }

    #[test]
    fn size_estimates() {
        assert_eq!(parse_size("8B"), Some(8_000_000_000));
        assert_eq!(parse_size("1.5b"), Some(1_500_000_000));
        assert_eq!(parse_size("500M"), Some(500_000_000));
        assert_eq!(parse_size("lots"), None);
        assert_eq!(bits_per_weight(4, 64), 4.5);
        let e = estimates(8_000_000_000, 64);
        assert_eq!(e[0], ("4bit", 4.5, 4_500_000_000));
        assert_eq!(e[3], ("bf16", 16.0, 16_000_000_000));
    }
}
