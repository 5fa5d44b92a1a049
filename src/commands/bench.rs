//! `garnet bench`: load against an OpenAI-compatible endpoint; a table, or one JSON report.

use std::time::Duration;

use anyhow::Result;

use super::Ctx;
use crate::ExitStatus;
use crate::bench::{self, BenchConfig, Percentiles};
use crate::cli::BenchArgs;
use crate::exit::UsageError;

pub async fn run(args: &BenchArgs, ctx: &Ctx) -> Result<ExitStatus> {
    if !(0.0..=1.0).contains(&args.stream) {
        return Err(UsageError(format!("`--stream {}` must be between 0 and 1", args.stream)).into());
    }
    let api_key = args.api_key_file.as_deref().map(crate::util::read_secret_file).transpose()?;
    let cfg = BenchConfig {
        url: args.url.clone(),
        model: args.model.clone(),
        clients: args.clients.max(1),
        requests: args.requests,
        duration: if args.requests.is_none() { Some(args.duration.unwrap_or(Duration::from_secs(10))) } else { None },
        stream_fraction: args.stream,
        max_tokens: args.max_tokens,
        prompt: args.prompt.clone(),
        api_key,
        timeout: args.timeout,
        expect_full: args.expect_full,
        rate: args.rate,
    };
    let p = &ctx.printer;
    if !p.json && !p.quiet {
        ctx.printer.note(format!("bench: {} clients against {} (model `{}`)…", cfg.clients, cfg.url, cfg.model));
    }
    let r = bench::run(cfg).await?;
    if p.json {
        let mut v = serde_json::to_value(&r)?;
        v["event"] = "bench".into();
        p.json_line(&v);
    } else {
        let mut t = p.table();
        t.set_header(vec!["", "p50 ms", "p95 ms", "p99 ms", "max ms"]);
        for (name, pc) in [("time to first token", &r.ttft), ("inter-token", &r.inter_token), ("end to end", &r.e2e)] {
            let cells = match pc {
                Some(Percentiles { p50_ms, p95_ms, p99_ms, max_ms }) => {
                    [p50_ms, p95_ms, p99_ms, max_ms].map(|x| format!("{x:.1}")).to_vec()
                }
                None => vec!["-".into(); 4],
            };
            let mut row = vec![name.to_string()];
            row.extend(cells);
            t.add_row(row);
        }
        p.out(t);
        let failures = if r.failures.is_empty() {
            "none".to_string()
        } else {
            r.failures.iter().map(|(k, n)| format!("{k}: {n}")).collect::<Vec<_>>().join(", ")
        };
        p.out(format!(
            "{} requests ({} streaming) in {:.1}s: {} ok, {} failed ({failures}); {:.1} req/s, {:.1} tokens/s",
            r.requests, r.streams, r.duration_s, r.ok, r.failed, r.requests_per_s, r.tokens_per_s
        ));
        if r.interrupted {
            p.note("stopped early by a signal: the requests in flight were finished and counted");
        }
    }
    Ok(if r.failed == 0 {
        ExitStatus::Success
    } else if r.ok > 0 {
        ExitStatus::Partial
    } else {
        ExitStatus::Failure
    })
}
