//! `garnet model inspect` on real model files: the tiny MLX model and a 4-bit variant made by
//! `mlx_lm convert`, checked against what MLX itself loads.

use std::path::Path;
use std::process::Command;

use crate::common::Garnet;
use crate::common::loaders::{python, tiny_model};

/// (bytes, tensor count) as MLX loads them: an implementation independent of garnet's.
fn mlx_view(py: &Path, dir: &Path) -> (u64, u64) {
    let code = format!(
        "import mlx.core as mx; w = mx.load('{}/model.safetensors'); print(sum(a.nbytes for a in w.values()), len(w))",
        dir.display()
    );
    let out = Command::new(py).args(["-c", &code]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let mut it = text.split_whitespace().map(|x| x.parse().unwrap());
    (it.next().unwrap(), it.next().unwrap())
}

fn inspect(dir: &Path) -> serde_json::Value {
    let r = Garnet::new()
        .args(["-o", "json", "model", "inspect", &dir.display().to_string(), "--context", "1000", "--concurrency", "3"])
        .run();
    r.expect(0);
    r.events().remove(0)
}

#[test]
fn inspects_the_tiny_model_and_its_4bit_variant_exactly() {
    let Some(py) = python() else { return };
    let dense = tiny_model(&py, 0);
    let q4 = Path::new(env!("CARGO_TARGET_TMPDIR")).join("tiny-model-0-q4");
    {
        let _g = crate::common::USERS.lock().unwrap();
        if !q4.join("model.safetensors").exists() {
            let out = Command::new(&py)
                .args(["-m", "mlx_lm", "convert", "--hf-path"])
                .arg(&dense)
                .arg("--mlx-path")
                .arg(&q4)
                .args(["-q", "--q-bits", "4", "--q-group-size", "32"])
                .env("HF_HUB_OFFLINE", "1")
                .output()
                .unwrap();
            assert!(out.status.success(), "mlx_lm convert: {}", String::from_utf8_lossy(&out.stderr));
        }
    }
    let d = inspect(&dense);
    let q = inspect(&q4);
    for (v, dir) in [(&d, &dense), (&q, &q4)] {
        let (bytes, tensors) = mlx_view(&py, dir);
        assert_eq!(v["info"]["weight_bytes"].as_u64(), Some(bytes), "{v}");
        assert_eq!(v["info"]["tensors"].as_u64(), Some(tensors), "{v}");
        // 2 × 2 layers × 2 KV heads × 16 head dim × 2 bytes.
        assert_eq!(v["kv_bytes_per_token"], 256, "{v}");
        assert_eq!(v["need"]["kv"], 256 * 1000 * 3);
        assert_eq!(v["need"]["total"].as_u64().unwrap(), bytes + 256 * 1000 * 3 + (512 << 20));
    }
    assert_eq!(q["info"]["quantization"]["bits"], 4);
    assert_eq!(q["info"]["quantization"]["group_size"], 32);
    assert_eq!(q["info"]["parameters"], d["info"]["parameters"], "unpacking 4-bit weights gives back the same count");
    assert!(q["info"]["weight_bytes"].as_u64().unwrap() < d["info"]["weight_bytes"].as_u64().unwrap() / 3);
}
