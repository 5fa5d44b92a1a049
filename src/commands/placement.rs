//! `garnet placement diff`: the span's telemetry per node × model, and the moves it calls for
//! ([`crate::placement::diff`]), as a table or JSON, and as Markdown + JSON files with `--out`.

use anyhow::{Context, Result};

use super::Ctx;
use crate::ExitStatus;
use crate::cli::{PlacementDiffArgs, Since};
use crate::placement::diff;

pub async fn diff(args: &PlacementDiffArgs, ctx: &Ctx) -> Result<ExitStatus> {
    let mut inv = ctx.load_inventory()?;
    let mail = super::report::mail_for(args.email, &inv)?;
    let store = crate::store::open(&inv).await.context("cannot open the store")?;
    let at = jiff::Timestamp::now();
    let result = diff_in(args, ctx, &mut inv, store.as_ref(), mail.as_ref()).await;
    if args.email {
        // A scheduled review's outcome on record, failures included.
        let command = format!(
            "garnet placement diff --since {} --until {} --email",
            match args.since {
                Since::Date(d) => d.to_string(),
                Since::Days(n) => format!("{n}d"),
                Since::At(t) => t.to_string(),
            },
            args.until.map_or("today".to_string(), |d| d.to_string())
        );
        super::audit_run(ctx, &inv, store.as_ref(), &command, at, &result).await;
    }
    result
}

async fn diff_in(
    args: &PlacementDiffArgs,
    ctx: &Ctx,
    inv: &mut crate::inventory::Inventory,
    store: &dyn crate::store::Store,
    mail: Option<&crate::inventory::MailSpec>,
) -> Result<ExitStatus> {
    // The placement as the latest record leaves it (hot-swaps, `--via` moves).
    let variants = super::deploy::load_variants(inv).await?;
    let inv = &*inv;
    let until = args.until.unwrap_or_else(|| jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).date());
    let since = match args.since {
        Since::Date(d) => d,
        Since::Days(n) => until.checked_sub(jiff::Span::new().days(i64::from(n) - 1))?,
        Since::At(t) => t.to_zoned(jiff::tz::TimeZone::UTC).date(),
    };
    let (mut from, to, until) = super::telemetry::day_span(since, Some(until))?;
    if let Since::At(t) = args.since {
        anyhow::ensure!(t < to, "the span from {t} to {until} has not begun");
        from = t;
    }
    let sum = super::telemetry::span_summary(inv, store, from, to, [true; 3], true).await?;
    let p = &ctx.printer;
    for k in &sum.skipped {
        p.warn(format!("skipped unreadable `{k}`"));
    }
    if sum.samples == 0 {
        anyhow::bail!(
            "no telemetry for cluster `{}` from {since} to {until} in {}: nothing to judge a placement by",
            inv.cluster.slug,
            store.describe()
        );
    }
    let settling = settling(store, &inv.cluster.slug, from, to).await?;
    let interval = f64::from(inv.monitor.interval_secs);
    let thresholds = diff::Thresholds {
        min_node_samples: args.min_samples,
        min_backend_samples: args.min_samples,
        min_requests: args.min_requests,
        ..diff::Thresholds::default()
    };
    let d = diff::diff(inv, &variants, &sum, interval, &thresholds, &settling);
    let events = crate::telemetry::read::records(store, "events", &inv.cluster.slug, since, until)
        .await
        .with_context(|| format!("reading the span's events from {}", store.describe()))?;
    let evictions = diff::eviction_log(&events, &sum, &d.moves);
    let markdown = d.markdown();
    let evictions_md = diff::eviction_markdown(&d.cluster, &d.from, &d.to, &evictions);
    let log = serde_json::json!({"cluster": d.cluster, "from": d.from, "to": d.to, "evictions": evictions});
    let costs = d.replay.as_ref().and_then(|r| {
        crate::placement::cost_diff::cost_diff(inv, &sum, &d.placement, &d.proposed, Some((&r.before, &r.after)))
    });
    let (cost_md, cost_json) = match &costs {
        Some(c) => (c.markdown(), serde_json::to_vec_pretty(c)?),
        None => {
            let why = "the inventory has no `cost:` section: nothing to price the tokens by";
            (
                format!(
                    "# Cost-per-million-tokens diff: {}, {} → {}\n\nNot computed: {why}.\n",
                    d.cluster, d.from, d.to
                ),
                serde_json::to_vec_pretty(
                    &serde_json::json!({"cluster": d.cluster, "from": d.from, "to": d.to, "not_computed": why}),
                )?,
            )
        }
    };
    let files = [
        ("placement-diff", "md", markdown.clone().into_bytes()),
        ("placement-diff", "json", serde_json::to_vec_pretty(&d)?),
        ("cost-diff", "md", cost_md.clone().into_bytes()),
        ("cost-diff", "json", cost_json),
        ("eviction-log", "md", evictions_md.clone().into_bytes()),
        ("eviction-log", "json", serde_json::to_vec_pretty(&log)?),
    ];
    // In the store, under the span's weekly prefix (the dashboard links them), and with `--out`.
    // A span from an instant is named by it (`2026-12-03T054907Z`), so the review after a change
    // does not overwrite the day's.
    let label = match args.since {
        Since::At(t) => t.strftime("%Y-%m-%dT%H%M%SZ").to_string(),
        _ => since.to_string(),
    };
    let prefix = crate::store::keys::weekly_span(&inv.cluster.slug, &label, until);
    for (name, ext, body) in &files {
        store
            .put(&format!("{prefix}{name}.{ext}"), body)
            .await
            .with_context(|| format!("cannot write the weekly artifacts to {}", store.describe()))?;
    }
    if let Some(dir) = &args.out {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
        for (name, ext, body) in &files {
            let path = dir.join(format!("{name}-{label}-{until}.{ext}"));
            std::fs::write(&path, body).with_context(|| format!("cannot write `{}`", path.display()))?;
        }
    }
    if let Some(spec) = mail {
        let message = crate::report::mail::Mail {
            to: inv.cluster.contacts.clone(),
            subject: format!(
                "{}: weekly placement review {since} to {until}: {}",
                inv.cluster.slug,
                match d.moves.len() {
                    0 => "no change proposed".to_string(),
                    1 => "1 move proposed".to_string(),
                    n => format!("{n} moves proposed"),
                }
            ),
            text: format!(
                "{}\n\nThe three artifacts are attached (Markdown, and JSON with the same numbers).\n",
                markdown.trim_end()
            ),
            files: files
                .iter()
                .map(|(name, ext, body)| crate::report::mail::File {
                    name: format!("{name}-{since}-{until}.{ext}"),
                    content_type: if *ext == "md" { "text/markdown; charset=utf-8" } else { "application/json" },
                    body: body.clone(),
                })
                .collect(),
        };
        crate::report::mail::send(spec, &message).await?;
        if !p.json {
            p.note(format!("emailed to {}", inv.cluster.contacts.join(", ")));
        }
    }
    if p.json {
        let mut v = serde_json::to_value(&d)?;
        v["event"] = "placement_diff".into();
        v["evictions"] = serde_json::to_value(&evictions)?;
        v["cost"] = serde_json::to_value(&costs)?;
        p.json_line(&v);
    } else {
        p.out(markdown.trim_end());
        p.out(format!("\n{}", cost_md.trim_end()));
        p.out(format!("\n{}", evictions_md.trim_end()));
    }
    Ok(if d.moves.is_empty() { ExitStatus::Success } else { ExitStatus::Proposed })
}

/// The nodes a placement record dated in `[from, to]` changed (a hot-swap, a `--via` move,
/// `placement apply`): the nodes its variants and moves name that the record before it did not
/// have the same way.
pub(crate) async fn settling(
    store: &dyn crate::store::Store,
    cluster: &str,
    from: jiff::Timestamp,
    to: jiff::Timestamp,
) -> Result<Vec<diff::Settling>> {
    use crate::placement::record::PlacementRecord;
    let keys = store.list(&crate::store::keys::placements(cluster)).await?;
    let mut out: Vec<diff::Settling> = Vec::new();
    let mut before: Option<PlacementRecord> = None;
    for k in keys {
        let Some(body) = store.get(&k).await? else { continue };
        let Ok(r) = serde_json::from_slice::<PlacementRecord>(&body) else { continue };
        let at = r.at.parse::<jiff::Timestamp>().ok();
        if at.is_some_and(|t| t >= from && t <= to) {
            let mut nodes: Vec<&String> = Vec::new();
            for (m, per) in &r.variants {
                for (n, v) in per {
                    if before.as_ref().and_then(|b| b.variants.get(m)).and_then(|x| x.get(n)) != Some(v) {
                        nodes.push(n);
                    }
                }
            }
            for (m, per) in &r.moves {
                for (origin, now) in per {
                    if before.as_ref().and_then(|b| b.moves.get(m)).and_then(|x| x.get(origin)) != Some(now) {
                        nodes.extend([origin, now]);
                    }
                }
            }
            // Moves undone (a rollback) touch their nodes too.
            if let Some(b) = &before {
                for (m, per) in &b.moves {
                    for (origin, was) in per {
                        if r.moves.get(m).and_then(|x| x.get(origin)) != Some(was) {
                            nodes.extend([origin, was]);
                        }
                    }
                }
            }
            for n in nodes {
                out.retain(|s| &s.node != n);
                out.push(diff::Settling { node: n.clone(), at: r.at.clone(), command: r.command.clone() });
            }
        }
        before = Some(r);
    }
    out.sort_by(|a, b| a.node.cmp(&b.node));
    Ok(out)
}

/// What `placement apply` reads of a diff's JSON.
#[derive(serde::Deserialize)]
struct DiffFile {
    cluster: String,
    from: String,
    to: String,
    placement: std::collections::BTreeMap<String, Vec<String>>,
    #[serde(default)]
    proposed: Option<std::collections::BTreeMap<String, Vec<String>>>,
    moves: Vec<FileMove>,
}

#[derive(serde::Deserialize)]
struct FileMove {
    #[serde(flatten)]
    change: diff::Move,
    why: String,
}

/// One move as apply carries it out, each a hot-swap.
enum Change {
    /// `model` leaves `from` for `to` (`--node FROM --via TO`, its own entry).
    Relocate { model: String, from: String, to: String },
    /// `model` swaps, on every node, to `entry` (its serving entry with other loader arguments).
    Entry { model: String, entry: crate::inventory::ModelSpec },
    /// `model` leaves `node`; its other nodes serve it.
    Leave { model: String, node: String },
}

struct Planned {
    change: Change,
    why: String,
}

impl Planned {
    fn title(&self) -> String {
        match &self.change {
            Change::Relocate { model, from, to } => format!("`{model}` {from} → {to}"),
            Change::Entry { model, entry } => {
                format!("`{model}` → `{}` ({}) on every node", entry.name, entry.loader_args.join(" "))
            }
            Change::Leave { model, node } => format!("`{model}` leaves {node} (its other nodes serve it)"),
        }
    }
}

/// `model`'s serving entry (on its first node) with `--prompt-cache-size SIZE` in its loader
/// arguments, as an entry of its own on the first port no entry uses.
fn cache_entry(
    inv: &crate::inventory::Inventory,
    variants: &crate::placement::record::Variants,
    model: &str,
    size: u32,
) -> Option<crate::inventory::ModelSpec> {
    let public = inv.models.iter().find(|m| m.name == model)?;
    let first = inv.placement.get(model)?.nodes.first()?;
    let base = crate::placement::record::serving(inv, variants, public, first);
    let name = format!("{model}-pc{size}");
    if let Some(e) = inv.models.iter().find(|m| m.name == name) {
        return Some(e.clone());
    }
    let mut args = base.loader_args.clone();
    match args.iter().rposition(|a| a == "--prompt-cache-size") {
        Some(i) if i + 1 < args.len() => args[i + 1] = size.to_string(),
        _ => args.extend(["--prompt-cache-size".to_string(), size.to_string()]),
    }
    let port = (base.port.saturating_add(1)..u16::MAX).find(|p| inv.models.iter().all(|m| m.port != *p))?;
    Some(crate::inventory::ModelSpec { name, port, loader_args: args, ..base.clone() })
}

/// A move planned as the hot-swap it is, against the placement as the moves before it left it
/// (the record they wrote).
async fn prepare_change(
    m: &Planned,
    inv: &crate::inventory::Inventory,
    variants: &crate::placement::record::Variants,
    args: &crate::cli::PlacementApplyArgs,
    ctx: &Ctx,
) -> Result<Option<super::hotswap::Prepared>> {
    let opts = |node: Option<&str>, via: Option<&str>| crate::cli::SwapOptions {
        node: node.map(str::to_string),
        via: via.map(str::to_string),
        checks: args.checks.clone(),
    };
    match &m.change {
        Change::Relocate { model, from, to } => {
            let public = inv
                .models
                .iter()
                .find(|x| &x.name == model)
                .ok_or_else(|| crate::exit::UsageError(format!("no model `{model}` in the inventory")))?;
            let b = crate::placement::record::serving(inv, variants, public, from).name.clone();
            super::hotswap::prepare(model, Some(&b), &opts(Some(from), Some(to)), ctx).await
        }
        Change::Entry { model, entry } => {
            super::hotswap::prepare_with(model, Some(&entry.name), Some(entry.clone()), &opts(None, None), ctx).await
        }
        Change::Leave { model, node } => super::hotswap::prepare_leave(model, &opts(Some(node), None), ctx).await,
    }
}

/// A placement with each model's nodes sorted, for comparing.
fn sorted(p: &std::collections::BTreeMap<String, Vec<String>>) -> std::collections::BTreeMap<String, Vec<String>> {
    p.iter()
        .map(|(m, n)| {
            let mut n = n.clone();
            n.sort();
            (m.clone(), n)
        })
        .collect()
}

/// The newest placement diff in the store (key and bytes).
async fn latest_diff(store: &dyn crate::store::Store, cluster: &str) -> Result<Option<(String, Vec<u8>)>> {
    let prefix = crate::store::keys::weekly_all(cluster);
    let mut keys: Vec<String> =
        store.list(&prefix).await?.into_iter().filter(|k| k.ends_with("/placement-diff.json")).collect();
    // Spans sort by their start (a day starts at its midnight); the newest span last.
    let start = |k: &str| {
        let span = k.split("span=").nth(1).unwrap_or(k);
        match span.split_once('_') {
            Some((from, rest)) if !from.contains('T') => format!("{from}T000000Z_{rest}"),
            _ => span.to_string(),
        }
    };
    keys.sort_by_key(|k| start(k));
    for k in keys.iter().rev() {
        if let Some(b) = store.get(k).await? {
            return Ok(Some((k.clone(), b)));
        }
    }
    Ok(None)
}

pub async fn apply(args: &crate::cli::PlacementApplyArgs, ctx: &Ctx) -> Result<ExitStatus> {
    use crate::exit::UsageError;
    let mut inv = ctx.load_inventory()?;
    let variants = super::deploy::load_variants(&mut inv).await?;
    let store = crate::store::open(&inv).await.context("cannot open the store")?;
    let (source, body) = match &args.file {
        Some(f) => (
            format!("`{}`", f.display()),
            std::fs::read(f).map_err(|e| UsageError(format!("cannot read `{}`: {e}", f.display())))?,
        ),
        None => match latest_diff(store.as_ref(), &inv.cluster.slug).await? {
            Some((k, b)) => (format!("`{k}` in {}", store.describe()), b),
            None => {
                return Err(UsageError(format!(
                    "no placement diff for cluster `{}` in {}: run `garnet placement diff` first",
                    inv.cluster.slug,
                    store.describe()
                ))
                .into());
            }
        },
    };
    let d: DiffFile = serde_json::from_slice(&body)
        .map_err(|e| UsageError(format!("{source} is not a placement diff's JSON: {e}")))?;
    let p = &ctx.printer;
    if d.cluster != inv.cluster.slug {
        return Err(UsageError(format!(
            "{source} is a diff of cluster `{}`, the inventory's is `{}`",
            d.cluster, inv.cluster.slug
        ))
        .into());
    }
    // The placement now (inventory + the latest record).
    let now = sorted(&inv.placement.iter().map(|(m, p)| (m.clone(), p.nodes.clone())).collect());
    if d.moves.is_empty() {
        p.out(format!("{source} proposes no change ({} → {}): nothing to apply.", d.from, d.to));
        return Ok(ExitStatus::Success);
    }
    // Already applied: the placement is what the diff proposed (a diff whose moves change no
    // placement, e.g. a prompt-cache size, is not "applied" by that).
    let proposed = d.proposed.as_ref().map(sorted);
    if proposed.as_ref() == Some(&now) && proposed != Some(sorted(&d.placement)) {
        p.out(format!("The placement is already what {source} proposes: nothing to apply."));
        return Ok(ExitStatus::Success);
    }
    if sorted(&d.placement) != now {
        let changed: Vec<String> = now
            .iter()
            .filter(|(m, n)| sorted(&d.placement).get(*m) != Some(n))
            .map(|(m, n)| format!("`{m}` is on {} now", n.join(", ")))
            .collect();
        return Err(UsageError(format!(
            "the placement changed since the diff of {} → {} ({}): run `garnet placement diff` again",
            d.from,
            d.to,
            changed.join("; ")
        ))
        .into());
    }
    // Every move as a hot-swap, or why apply cannot carry it out (then nothing is done).
    let mut moves: Vec<Planned> = Vec::new();
    let mut cannot = Vec::new();
    for m in &d.moves {
        let why = m.why.clone();
        match &m.change {
            diff::Move::OwnNode { node, evict, to: Some(t), .. } => moves.push(Planned {
                change: Change::Relocate { model: evict.clone(), from: node.clone(), to: t.clone() },
                why,
            }),
            diff::Move::OffHotNode { model, from, to: Some(t) } => moves.push(Planned {
                change: Change::Relocate { model: model.clone(), from: from.clone(), to: t.clone() },
                why,
            }),
            diff::Move::OffHotNode { model, from, to: None } => {
                p.note(format!("`{model}` stays on {from}: the diff found no node to take it (advice only)"))
            }
            diff::Move::OwnNode { node, evict, to: None, .. } => {
                moves.push(Planned { change: Change::Leave { model: evict.clone(), node: node.clone() }, why })
            }
            diff::Move::PromptCache { model, to, .. } => match cache_entry(&inv, &variants, model, *to) {
                Some(entry) => moves.push(Planned { change: Change::Entry { model: model.clone(), entry }, why }),
                None => cannot.push(format!("`{model}`'s prompt-cache size (no free port for its new entry)")),
            },
        }
    }
    if !cannot.is_empty() {
        return Err(UsageError(format!(
            "apply cannot carry out every move of {source}, so it changes nothing; by hand: {}",
            cannot.join("; ")
        ))
        .into());
    }
    let command = format!("placement apply {} → {}", d.from, d.to);
    if ctx.global.dry_run {
        p.out(format!(
            "Plan for `{command}` — dry run, nothing is changed. {} move(s), in order, each a hot-swap (planned against the placement now: each runs after the one before it).\n",
            moves.len()
        ));
        for (i, m) in moves.iter().enumerate() {
            p.out(format!("## Move {}: {}\n\n{}\n", i + 1, m.title(), m.why));
            match prepare_change(m, &inv, &variants, args, ctx).await? {
                Some(pr) => p.out(pr.runbook().trim_end()),
                None => p.out("Nothing to do: it is so already."),
            }
        }
        return Ok(ExitStatus::Success);
    }
    let mut shown = format!("{command}: {} move(s), in order, each a hot-swap with no request lost:\n", moves.len());
    for (i, m) in moves.iter().enumerate() {
        shown.push_str(&format!("  {}. {}\n", i + 1, m.title()));
    }
    if !super::confirm(ctx, &format!("`{command}`"), shown.trim_end(), format!("Apply {} move(s)?", moves.len()))? {
        return Ok(ExitStatus::Failure);
    }
    let held = super::take_lock(ctx, &inv, &command).await?;
    let mut done: Vec<String> = Vec::new();
    let mut result = Ok(());
    for (i, m) in moves.iter().enumerate() {
        p.note(format!("move {}/{}: {}", i + 1, moves.len(), m.title()));
        let model = match &m.change {
            Change::Relocate { model, .. } | Change::Entry { model, .. } | Change::Leave { model, .. } => model,
        };
        let step = async {
            match prepare_change(m, &inv, &variants, args, ctx).await? {
                Some(pr) => {
                    super::hotswap::execute(ctx, model, &pr, held.store.as_ref()).await?;
                    Ok::<_, anyhow::Error>(pr.plans.iter().map(|s| s.swap.on.name.clone()).collect::<Vec<_>>())
                }
                None => Ok(Vec::new()),
            }
        };
        match step.await {
            Ok(nodes) => done.extend(nodes),
            Err(e) => {
                result = Err(e.context(format!(
                    "move {} of {} ({}) failed; the {i} move(s) before it are applied and recorded",
                    i + 1,
                    moves.len(),
                    m.title()
                )));
                break;
            }
        }
    }
    let mut summary = crate::plan::Summary::default();
    let status = match &result {
        Ok(()) => {
            summary.changed = done.len();
            ExitStatus::Success
        }
        Err(_) => {
            summary.changed = done.len();
            summary.failed = 1;
            ExitStatus::Failure
        }
    };
    super::release_lock(ctx, &inv, held, &command, &done, &summary, status).await;
    result?;
    p.out(format!("Applied {} move(s) of {source}.", moves.len()));
    Ok(status)
}
