//! `garnet model inspect`: memory math for a model folder, or estimates for a size.

use std::path::Path;

use anyhow::Result;
use serde_json::json;

use super::Ctx;
use crate::ExitStatus;
use crate::cli::{ModelCommand, ModelInspectArgs};
use crate::exit::UsageError;
use crate::placement::memory::{self, RUNTIME_OVERHEAD_BYTES};
use crate::util::human_bytes;

pub fn run(cmd: &ModelCommand, ctx: &Ctx) -> Result<ExitStatus> {
    match cmd {
        ModelCommand::Inspect(args) => inspect(args, ctx),
    }
}

fn inspect(args: &ModelInspectArgs, ctx: &Ctx) -> Result<ExitStatus> {
    let p = &ctx.printer;
    let path = Path::new(&args.model);
    if !path.exists() {
        let Some(params) = memory::parse_size(&args.model) else {
            return Err(UsageError(format!(
                "`{}` is neither a model folder nor a size like `8B` or `500M`",
                args.model
            ))
            .into());
        };
        let rows = memory::estimates(params, args.group_size);
        if p.json {
            let est: Vec<_> = rows
                .iter()
                .map(|(q, bpw, bytes)| json!({"quantization": q, "bits_per_weight": bpw, "weight_bytes": bytes}))
                .collect();
            p.json_line(&json!({"event": "model_estimate", "parameters": params, "group_size": args.group_size, "estimates": est}));
            return Ok(ExitStatus::Success);
        }
        let mut t = p.table();
        t.set_header(vec!["quantization", "bits/weight", "weights", "formula"]);
        for (q, bpw, bytes) in rows {
            let formula = if bpw >= 16.0 {
                format!("{params} × 16 / 8")
            } else {
                format!("{params} × ({} + 32/{}) / 8", bpw - 32.0 / args.group_size as f64, args.group_size)
            };
            t.add_row(vec![q.to_string(), format!("{bpw}"), human_bytes(bytes), formula]);
        }
        p.out(format!(
            "estimates for {params} parameters (MLX quantization: a 16-bit scale and bias per group of {}):",
            args.group_size
        ));
        p.out(t);
        p.out("KV cache and context need the model's config (layers, KV heads, head size): inspect its folder.");
        return Ok(ExitStatus::Success);
    }
    let m = memory::inspect(path)?;
    let context = args.context.or(m.max_context).unwrap_or(8192);
    let kv = m.kv_bytes_per_token(args.kv_bits);
    let need = m.need(context, args.concurrency, args.kv_bits);
    if p.json {
        p.json_line(&json!({
            "event": "model", "info": m, "kv_bits": args.kv_bits, "kv_bytes_per_token": kv,
            "context": context, "concurrency": args.concurrency, "need": need,
        }));
        return Ok(ExitStatus::Success);
    }
    let quant = match m.quantization {
        Some(q) => format!("{}-bit, group {}", q.bits, q.group_size),
        None => "none".into(),
    };
    let dtypes =
        m.bytes_by_dtype.iter().map(|(d, b)| format!("{d} {}", human_bytes(*b))).collect::<Vec<_>>().join(", ");
    let mut out = vec![
        format!(
            "model `{}`{}: {} tensors in {} file(s)",
            m.path.display(),
            m.model_type.as_deref().map(|t| format!(" ({t})")).unwrap_or_default(),
            m.tensors,
            m.files.len()
        ),
        format!("  parameters    {}", m.parameters),
        format!("  weights       {} ({} bytes: {dtypes})", human_bytes(m.weight_bytes), m.weight_bytes),
        format!("  quantization  {quant}"),
    ];
    match (kv, m.layers, m.kv_heads, m.head_dim) {
        (Some(kv), Some(l), Some(h), Some(d)) => {
            out.push(format!(
                "  KV cache      {kv} bytes/token = 2 × {l} layers × {h} KV heads × {d} head dim × {} bits / 8",
                args.kv_bits
            ));
        }
        _ => out.push("  KV cache      unknown: config.json lacks layers, heads or head size".into()),
    }
    if let Some(w) = m.sliding_window {
        out.push(format!("  sliding window {w} tokens: the KV cache keeps at most that many per sequence"));
    }
    if let Some(n) = need {
        out.push(format!(
            "  at {context} tokens × {} sequence(s): weights {} + KV {} + runtime {} = {}",
            args.concurrency,
            human_bytes(n.weights),
            human_bytes(n.kv),
            human_bytes(RUNTIME_OVERHEAD_BYTES),
            human_bytes(n.total)
        ));
    }
    p.out(out.join("\n"));
    Ok(ExitStatus::Success)
}
