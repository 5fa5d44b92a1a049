#!/usr/bin/env python3
"""A span's aggregate computed by another engine on garnet's compacted Parquet, with no garnet
code: tokens per model, p95 per model from the merged sketches, samples / uptime / throttled
samples per node. What `bench/telemetry.sh` times against `garnet telemetry summary`, and what
the tests compare garnet's numbers with.

usage: telemetry_month.py --store DIR --cluster C --since YYYY-MM-DD --until YYYY-MM-DD
                          [--engine duckdb|chdb] [--sketches e2e,ttft,queue_wait]
Prints one JSON object: {"engine", "secs", "peak_rss_mb", "models": {...}, "nodes": {...}}.
"""
import argparse
import json
import resource
import time

GAMMA = 1.01 / 0.99  # the sketches' bucket growth (alpha = 1%)
SKETCHES = ["e2e", "ttft", "queue_wait"]  # what `garnet telemetry summary` merges (--sketches)


def duckdb_queries(con, samples, backends, lo, hi):
    span = f"\"at\" >= TIMESTAMPTZ '{lo}' AND \"at\" <= TIMESTAMPTZ '{hi}'"
    heads = ", ".join(f"sum({s}_count), sum({s}_zero), min({s}_min), max({s}_max)" for s in SKETCHES)
    models = con.execute(f"""
        SELECT model, sum(requests), sum(prompt_tokens), sum(completion_tokens), sum(cached_tokens), {heads}
        FROM read_parquet('{backends}') WHERE {span} GROUP BY model""").fetchall()
    bins = {s: con.execute(f"""
        WITH b AS (SELECT model, unnest({s}_bins_index) AS i, unnest({s}_bins_count) AS n
                   FROM read_parquet('{backends}') WHERE {span} AND {s}_count IS NOT NULL)
        SELECT model, i, sum(n) FROM b GROUP BY model, i ORDER BY model, i""").fetchall() for s in SKETCHES}
    nodes = con.execute(f"""
        SELECT node, count(*),
               sum(CASE WHEN cpu_speed_limit < 100 OR coalesce(thermal_pressure, 'nominal') <> 'nominal' THEN 1 ELSE 0 END),
               sum(epoch(least("at", TIMESTAMPTZ '{hi}')) - epoch(greatest("at" - to_seconds(window_secs), TIMESTAMPTZ '{lo}')))
        FROM read_parquet('{samples}') WHERE {span} GROUP BY node""").fetchall()
    return models, bins, nodes


def chdb_queries(samples, backends, lo, hi):
    import chdb

    def q(sql):
        out = chdb.query(sql, "JSONCompact").bytes().decode()
        return json.loads(out)["data"] if out.strip() else []

    span = f"at >= toDateTime64('{lo[:19]}', 6, 'UTC') AND at <= toDateTime64('{hi[:26]}', 6, 'UTC')"
    heads = ", ".join(f"sum({s}_count), sum({s}_zero), min({s}_min), max({s}_max)" for s in SKETCHES)
    models = q(f"""
        SELECT model, sum(requests), sum(prompt_tokens), sum(completion_tokens), sum(cached_tokens), {heads}
        FROM file('{backends}', Parquet) WHERE {span} GROUP BY model""")
    bins = {s: q(f"""
        SELECT model, p.1 AS i, sum(p.2) FROM file('{backends}', Parquet)
        ARRAY JOIN arrayZip({s}_bins_index, {s}_bins_count) AS p
        WHERE {span} AND {s}_count IS NOT NULL GROUP BY model, i ORDER BY model, i""") for s in SKETCHES}
    nodes = q(f"""
        SELECT node, count(),
               sum(if(cpu_speed_limit < 100 OR ifNull(thermal_pressure, 'nominal') != 'nominal', 1, 0)),
               sum(toUnixTimestamp64Micro(least(at, toDateTime64('{hi[:26]}', 6, 'UTC')))
                   - toUnixTimestamp64Micro(greatest(at - toIntervalSecond(window_secs), toDateTime64('{lo[:19]}', 6, 'UTC')))) / 1e6
        FROM file('{samples}', Parquet) WHERE {span} GROUP BY node""")
    return models, bins, nodes


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--store", required=True)
    ap.add_argument("--cluster", required=True)
    ap.add_argument("--since", required=True)
    ap.add_argument("--until", required=True)
    ap.add_argument("--engine", default="duckdb", choices=["duckdb", "chdb"])
    ap.add_argument("--sketches", default=",".join(SKETCHES))
    a = ap.parse_args()
    SKETCHES[:] = a.sketches.split(",")
    lo = f"{a.since}T00:00:00+00:00"
    hi = f"{a.until}T23:59:59.999999+00:00"
    root = f"{a.store}/telemetry-parquet/cluster={a.cluster}"
    samples, backends = f"{root}/date=*/samples.parquet", f"{root}/date=*/backends.parquet"
    t0 = time.perf_counter()
    if a.engine == "duckdb":
        import duckdb

        con = duckdb.connect()
        models, bins, nodes = duckdb_queries(con, samples, backends, lo, hi)
    else:
        models, bins, nodes = chdb_queries(samples, backends, lo, hi)
    # p95 from the merged buckets: the first bucket whose running count (after the zero bucket)
    # passes the rank, as DDSketch defines it.
    def p95(count, zero, mn, mx, model_bins):
        count, zero = int(count or 0), int(zero or 0)
        if not count:
            return None
        rank = int(0.95 * (count - 1))
        seen = zero
        if rank < seen:
            return round(min(float(mn), 1e-6) * 1000, 1)
        for i, n in model_bins:
            seen += n
            if rank < seen:
                return round(min(max(2 * GAMMA**i / (GAMMA + 1), float(mn)), float(mx)) * 1000, 1)
        return round(float(mx) * 1000, 1)

    by = {s: {} for s in SKETCHES}
    for s in SKETCHES:
        for model, i, n in bins[s]:
            by[s].setdefault(model, []).append((int(i), int(n)))
    out_models = {}
    for row in models:
        model, req, pt, ct, cached = row[:5]
        o = {"requests": int(req), "prompt_tokens": int(pt), "completion_tokens": int(ct), "cached_tokens": int(cached)}
        for k, s in enumerate(SKETCHES):
            count, zero, mn, mx = row[5 + 4 * k: 9 + 4 * k]
            o[f"{s}_count"] = int(count or 0)
            o[f"{s}_p95_ms"] = p95(count, zero, mn, mx, by[s].get(model, []))
        out_models[model] = o
    span = (time.mktime(time.strptime(a.until, "%Y-%m-%d")) + 86400) - time.mktime(time.strptime(a.since, "%Y-%m-%d"))
    out_nodes = {
        node: {"samples": int(c), "throttled_samples": int(t), "uptime": round(float(cov) / span, 5)}
        for node, c, t, cov in nodes
    }
    secs = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"engine": a.engine, "secs": secs, "peak_rss_mb": round(peak, 1),
                      "models": out_models, "nodes": out_nodes}))


if __name__ == "__main__":
    main()
