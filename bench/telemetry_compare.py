#!/usr/bin/env python3
"""bench/telemetry.sh's check: garnet's month summary against DuckDB's (bench/telemetry_month.py)
on the same files — every compared number equal — and the medians of the rounds, with the ratio.

usage: telemetry_compare.py GARNET.json DUCKDB.json "G_SECS…" "D_SECS…" "G_MIB…" "D_MIB…" SKETCHES
"""
import json
import statistics
import sys

g, d = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
gs, ds = [float(x) for x in sys.argv[3].split()], [float(x) for x in sys.argv[4].split()]
gm, dm = [float(x) for x in sys.argv[5].split()], [float(x) for x in sys.argv[6].split()]
sketches = sys.argv[7].split(",")
bad = []
for m in g["models"]:
    o = d["models"][m["model"]]
    for k in ["requests", "prompt_tokens", "completion_tokens", "cached_tokens"]:
        if m[k] != o[k]:
            bad.append(f"{m['model']} {k}: garnet {m[k]}, DuckDB {o[k]}")
    for s in sketches:
        mine, theirs = m[f"{s}_p95_ms"], o[f"{s}_p95_ms"]
        if mine is None or theirs is None or abs(mine - theirs) > 0.11:
            bad.append(f"{m['model']} {s} p95: garnet {mine}, DuckDB {theirs}")
worst = 0.0
for n in g["nodes"]:
    o = d["nodes"].get(n["node"], {"samples": 0, "throttled_samples": 0, "uptime": 0.0})
    if (n["samples"], n["throttled_samples"]) != (o["samples"], o["throttled_samples"]):
        bad.append(f"{n['node']}: garnet {n['samples']}/{n['throttled_samples']}, "
                   f"DuckDB {o['samples']}/{o['throttled_samples']}")
    worst = max(worst, abs(n["uptime"] - o["uptime"]))
if worst > 2e-5:
    bad.append(f"uptime differs by up to {worst}")
backend_rows = sum(m["backend_samples"] for m in g["models"])
print(f"   {g['samples']:,} samples, {backend_rows:,} backend rows, {len(g['models'])} models, "
      f"{len(g['nodes'])} nodes; missing days: {g['missing_days'] or 'none'}")
for m in g["models"]:
    lat = ", ".join(f"{s} p95 {m[s + '_p95_ms']} ms" for s in sketches)
    print(f"   {m['model']:<22} {m['requests']:>11,} requests {m['prompt_tokens'] + m['completion_tokens']:>15,} tokens; {lat}")
print(f"   cluster uptime {g['cluster_uptime'] * 100:.3f}%, throttled share {g['throttled_share'] * 100:.2f}%; "
      f"uptime per node equal to DuckDB's within {worst:.1e}")
mg, md = statistics.median(gs), statistics.median(ds)
print(f"   garnet median {mg:.2f} s (peak {max(gm):.0f} MiB), DuckDB median {md:.2f} s "
      f"(peak {max(dm):.0f} MiB): garnet/DuckDB = {mg / md:.2f}")
if bad:
    print("MISMATCH:\n  " + "\n  ".join(bad))
    sys.exit(1)
print("   every compared number equal")
