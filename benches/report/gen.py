#!/usr/bin/env python3
"""Writes BENCHMARKS.md and benches/throughput.svg from the benches' JSON-lines results.

Usage: gen.py RESULTS_DIR REPO_ROOT [OUT_DIR]

Writes OUT_DIR/BENCHMARKS.md and OUT_DIR/benches/throughput.svg (OUT_DIR defaults to REPO_ROOT).

RESULTS_DIR holds throughput.jsonl, purge.jsonl, memory.jsonl, snapshot.jsonl, capabilities.jsonl
(written by the bench binaries with BENCH_OUT set), machine.txt (key: value lines) and,
optionally, callgrind-{get,set,incr}.txt (callgrind_annotate output). Only the standard library is used.
"""

import json
import math
import os
import re
import shutil
import sys
from collections import OrderedDict, defaultdict

OURS = "scriptling-kv"
# The same store with `record_stats(true)`: not a peer (its cost has its own section).
OURS_STATS = "scriptling-kv +record_stats"
LIMIT = "AtomicI64 (limit)"
# The store's own table (flurry 0.5.2) with a deadline beside each value: the peer that isolates
# what the store adds on top of its table (`benches/common/flurry_ttl.rs`). Not counted as a
# "best peer" (the moonshot rows compare with the other designs).
FLURRY = "flurry+TTL"
COLORS = {
    "scriptling-kv": "#d62728",
    FLURRY: "#ff7f0e",
    "dashmap": "#1f77b4",
    "papaya": "#2ca02c",
    "scc": "#9467bd",
    "moka": "#8c564b",
    "Mutex<HashMap>": "#7f7f7f",
    "RwLock<HashMap>": "#bcbd22",
    LIMIT: "#17becf",
}
PLOT_WORKLOADS = ["read-heavy", "mixed", "incr-spread-zipf"]


def load(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def esc(s):
    """Markdown table cell: escape the characters that break tables or render as HTML."""
    return s.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def fmt(x, digits=2):
    if x is None:
        return "n/a"
    if x >= 100:
        return f"{x:.0f}"
    if x >= 10:
        return f"{x:.1f}"
    return f"{x:.{digits}f}"


def ratio(a, b):
    if a is None or b is None or b == 0:
        return "n/a"
    return f"{a / b:.2f}×"


def table(header, rows, align=None):
    align = align or ["---"] + ["---:"] * (len(header) - 1)
    out = ["| " + " | ".join(header) + " |", "| " + " | ".join(align) + " |"]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


# ---------------------------------------------------------------------------------------------
# Throughput


def is_ours(c):
    """Ours or one of its variants (never a "best peer")."""
    return c == OURS or c.startswith(OURS + " ")


def throughput_data(recs, group=None):
    """workload -> contender -> threads -> (median, reps); plus descriptions and orders. Only
    the records of `group` (capabilities.jsonl tags its sections; throughput.jsonl has none)."""
    data = OrderedDict()
    desc = {}
    for r in recs:
        if r.get("group") != group:
            continue
        if r["kind"] == "workload":
            desc[r["workload"]] = r["describe"]
            data.setdefault(r["workload"], OrderedDict())
        elif r["kind"] == "throughput":
            w = data.setdefault(r["workload"], OrderedDict())
            w.setdefault(r["contender"], {})[r["threads"]] = (r["median"], r["mops"])
    return data, desc


def is_flurry(c):
    """flurry+TTL or one of its variants (`flurry+TTL (compute_if_present)` in the sessions)."""
    return c == FLURRY or c.startswith(FLURRY + " ")


def best_peer(per, t):
    """The fastest of the other designs (dashmap, papaya, scc, moka, the std maps): flurry+TTL
    is the store's own table, compared in its own column."""
    peers = [
        (c, v[t][0])
        for c, v in per.items()
        if not is_ours(c) and not is_flurry(c) and c != LIMIT and t in v
    ]
    return max(peers, key=lambda x: x[1]) if peers else (None, None)


def paired_ratio(per, t, a=OURS, b=FLURRY):
    """Median, min and max of the per-repetition ratios a[i] / b[i] at `t` threads (the
    repetitions interleave the contenders, so each ratio pairs two windows run close together);
    None if either is missing."""
    if a not in per or b not in per or t not in per[a] or t not in per[b]:
        return None
    rs = paired(per[b][t][1], per[a][t][1])  # paired(x, y) = y[i] / x[i]
    if not rs:
        return None
    return median(rs), min(rs), max(rs)


def fmt_paired(r):
    if r is None:
        return "n/a"
    m, lo, hi = r
    return f"{m:.2f}× ({lo:.2f}–{hi:.2f})"


def throughput_section(data, desc):
    lines = []
    threads = sorted({t for per in data.values() for v in per.values() for t in v})
    for w, per in data.items():
        lines.append(f"### {w}\n\n{desc.get(w, '')}.\n")
        header = ["contender"] + [f"{t} thr Mops/s" for t in threads] + [
            f"ours/x @{t}" for t in threads
        ]
        rows = []
        ours = per.get(OURS, {})
        for c, v in per.items():
            row = [esc(c)]
            row += [fmt(v[t][0]) if t in v else "n/a" for t in threads]
            row += [
                ("—" if c == OURS else ratio(ours.get(t, (None,))[0], v[t][0])) if t in v else "n/a"
                for t in threads
            ]
            rows.append(row)
        lines.append(table(header, rows))
        spread = []
        for c, v in per.items():
            for t in threads:
                if t in v and len(v[t][1]) > 1:
                    m = v[t][0]
                    lo, hi = min(v[t][1]), max(v[t][1])
                    if m > 0:
                        spread.append((hi - lo) / m)
        if spread:
            spread.sort()
            lines.append(
                f"\nRepetition spread (max − min) / median: typical "
                f"{spread[len(spread) // 2] * 100:.0f}%, worst {spread[-1] * 100:.0f}%.\n"
            )
        else:
            lines.append("")
    return "\n".join(lines)


def summary_section(data):
    rows = []
    for w, per in data.items():
        ours = per.get(OURS, {}).get(2, (None,))[0]
        peer, pv = best_peer(per, 2)
        fl = per.get(FLURRY, {}).get(2, (None,))[0]
        lim = per.get(LIMIT, {}).get(2, (None,))[0]
        rows.append(
            [
                w,
                fmt(ours),
                f"{esc(peer)} ({fmt(pv)})" if peer else "n/a",
                ratio(ours, pv),
                fmt(fl),
                fmt_paired(paired_ratio(per, 2)),
                ratio(fl, pv),
                ratio(ours, lim) if lim else "—",
            ]
        )
    return table(
        ["workload (2 threads)", "ours Mops/s", "best peer (Mops/s)", "ours / best peer",
         "flurry+TTL Mops/s", "ours / flurry+TTL (range)", "flurry+TTL / best peer",
         "ours / AtomicI64"],
        rows,
    ) + (
        "\n\n`best peer` is the fastest of dashmap, papaya, scc, moka and the std maps (the "
        "designs a user compares). `flurry+TTL` is the store's own table (flurry 0.5.2, ahash) "
        "holding `(Value, Option<Instant>)` with the deadline checked on read: `ours / "
        "flurry+TTL` is the cost of everything the store adds on top of its table (entries, "
        "slots, the wheel, the liveness rule, stats, the bounds), the median of the "
        "per-repetition ratios with their range; `flurry+TTL / best peer` is the table's share "
        "of the gap (ours / best peer = ours / flurry+TTL × flurry+TTL / best peer).\n"
    )


def svg_plot(data, workloads):
    """Small multiples: throughput vs threads, one panel per workload, log-free linear axes."""
    workloads = [w for w in workloads if w in data]
    pw, ph = 330, 250  # panel size
    ml, mr, mt, mb = 55, 15, 40, 45  # panel margins
    legend_h = 60
    width = pw * len(workloads) + 20
    height = ph + legend_h + 30
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" '
        f'font-size="11">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{width / 2}" y="18" text-anchor="middle" font-size="14" font-weight="bold">'
        f"Throughput vs threads (Mops/s, median; 2-core machine)</text>",
    ]
    contenders = []
    for i, w in enumerate(workloads):
        per = data[w]
        threads = sorted({t for v in per.values() for t in v})
        # The AtomicI64 limit is an order of magnitude above every map: printed, not plotted.
        ymax = max(v[t][0] for c, v in per.items() if c not in (LIMIT, OURS_STATS) for t in v)
        ymax = 4 * nice_step(ymax / 4)
        x0 = 10 + i * pw + ml
        y0 = 20 + mt
        iw, ih = pw - ml - mr, ph - mt - mb
        out.append(
            f'<text x="{x0 + iw / 2}" y="{y0 - 10}" text-anchor="middle" font-size="12" '
            f'font-weight="bold">{w}</text>'
        )
        out.append(
            f'<rect x="{x0}" y="{y0}" width="{iw}" height="{ih}" fill="none" stroke="#444"/>'
        )
        for k in range(5):
            yv = ymax * k / 4
            yy = y0 + ih - ih * k / 4
            out.append(
                f'<line x1="{x0}" y1="{yy:.1f}" x2="{x0 + iw}" y2="{yy:.1f}" stroke="#ddd"/>'
            )
            out.append(
                f'<text x="{x0 - 5}" y="{yy + 4:.1f}" text-anchor="end">{yv:g}</text>'
            )

        def xpos(t):
            if len(threads) == 1:
                return x0 + iw / 2
            return x0 + 15 + (iw - 30) * threads.index(t) / (len(threads) - 1)

        for t in threads:
            out.append(
                f'<text x="{xpos(t):.1f}" y="{y0 + ih + 15}" text-anchor="middle">{t}</text>'
            )
        out.append(
            f'<text x="{x0 + iw / 2}" y="{y0 + ih + 32}" text-anchor="middle">threads</text>'
        )
        for c, v in per.items():
            if c == OURS_STATS:
                continue
            if c not in contenders:
                contenders.append(c)
            color = COLORS.get(c, "#000")
            if c == LIMIT:
                label = ", ".join(f"{fmt(v[t][0], 0)} @{t}" for t in threads if t in v)
                out.append(
                    f'<text x="{x0 + iw - 5}" y="{y0 + 14}" text-anchor="end" fill="{color}">'
                    f"AtomicI64 limit, off scale:</text>"
                    f'<text x="{x0 + iw - 5}" y="{y0 + 27}" text-anchor="end" fill="{color}">'
                    f"{label} Mops/s</text>"
                )
                continue
            pts = [(xpos(t), y0 + ih - ih * v[t][0] / ymax) for t in threads if t in v]
            width_ = 3 if c == OURS else 1.6
            dash = ' stroke-dasharray="5,3"' if c == LIMIT else ""
            out.append(
                f'<polyline fill="none" stroke="{color}" stroke-width="{width_}"{dash} points="'
                + " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)
                + '"/>'
            )
            for x, y in pts:
                out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{color}"/>')
    # Legend
    ly = 20 + ph + 10
    per_row = 4
    for j, c in enumerate(contenders):
        lx = 20 + (j % per_row) * ((width - 40) / per_row)
        yy = ly + (j // per_row) * 20
        color = COLORS.get(c, "#000")
        out.append(
            f'<line x1="{lx:.1f}" y1="{yy}" x2="{lx + 22:.1f}" y2="{yy}" stroke="{color}" '
            f'stroke-width="{3 if c == OURS else 2}"/>'
        )
        name = c.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        out.append(f'<text x="{lx + 28:.1f}" y="{yy + 4}">{name}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def nice_step(x):
    """The smallest of 1, 2, 2.5, 5 times a power of ten that is >= x."""
    if x <= 0:
        return 0.25
    e = 10 ** math.floor(math.log10(x))
    for m in (1, 2, 2.5, 5, 10):
        if round(m * e, 12) >= x:
            return round(m * e, 12)
    return 10 * e


# ---------------------------------------------------------------------------------------------
# Other sections


def keys_section(recs):
    by = defaultdict(dict)
    sizes = set()
    for r in recs:
        if r["kind"] == "keys":
            by[r["contender"]][r["keys"]] = r
            sizes.add(r["keys"])
    if not by:
        return "_(no keys results)_"
    sizes = sorted(sizes)
    ours = by.get(OURS, {})
    header = ["contender"]
    for n in sizes:
        header += [f"{n:,} keys: ms/call", "ours/x"]
    rows = []
    for c, v in by.items():
        row = [esc(c)]
        for n in sizes:
            m = v.get(n, {}).get("median")
            # for a time, ours/x = their time / our time (>1: we are faster)
            o = ours.get(n, {}).get("median")
            row += [fmt(m, 3), "—" if c == OURS else ratio(m, o)]
        rows.append(row)
    matched = next(iter(by.values()))
    note = ", ".join(f"{n:,} keys: {matched[n]['matched']:,} matched" for n in sizes if n in matched)
    return table(header, rows) + f"\n\nPattern `g07:*` ({note}); half the keys have a TTL.\n"


def purge_section(recs):
    rows = []
    meta = None
    for r in recs:
        if r["kind"] == "purge":
            meta = r
            rows.append(
                [esc(r["contender"]), fmt(r["alone"], 3), fmt(r["beside"], 3),
                 f"{r['ratio']:.1f}×"]
            )
    if not rows:
        return "_(no purge results)_"
    head = [
        "contender",
        f"{meta['expired']:,} expired alone: ms",
        f"{meta['expired']:,} expired beside {meta['live']:,} live: ms",
        "beside / alone",
    ]
    return table(head, rows)


def stall_section(recs):
    rows = []
    meta = None
    for r in recs:
        if r["kind"] == "stall":
            meta = r
            rows.append(
                [
                    esc(r["contender"]),
                    fmt(r["purge_median"], 1),
                    fmt(r["max_median"], 1),
                    fmt(r["p999_median"], 2),
                    f"{r['ops_median']:,.0f}",
                    fmt(r["idle_max_median"], 1),
                ]
            )
    if not rows:
        return "_(no stall results)_"
    head = [
        "contender",
        f"purge of {meta['expired']:,} expired: ms",
        "worst reader op during purge: µs",
        "reader p99.9: µs",
        "reader ops during purge",
        "worst op, no purge (noise floor): µs",
    ]
    return table(head, rows)


def memory_section(recs):
    rows = []
    ours = None
    mem = [r for r in recs if r["kind"] == "memory"]
    for r in mem:
        if r["contender"] == OURS:
            ours = r["bytes_per_entry"]
    fl = next((r["bytes_per_entry"] for r in mem if r["contender"] == FLURRY), None)
    n = mem[0]["entries"] if mem else 0
    for r in mem:
        rows.append(
            [
                esc(r["contender"]),
                fmt(r["bytes_per_entry"], 1),
                fmt(r["overhead_per_entry"], 1),
                fmt(r["peak_per_entry"], 1),
                "—" if r["contender"] == OURS else ratio(ours, r["bytes_per_entry"]),
                "n/a" if fl is None else f"{r['bytes_per_entry'] - fl:+.1f}",
            ]
        )
    if not rows:
        return "_(no memory results)_"
    pay = mem[0]["payload_per_entry"]
    return (
        table(
            ["contender", "heap B/entry", "over payload", "peak B/entry while filling",
             "our bytes / theirs", "B/entry − flurry+TTL's"],
            rows,
        )
        + f"\n\n{n:,} entries, key `key:NNNNNNN`, value `Value::Str(\"vNNNNNNN\")`, TTL 1 h; "
        f"payload (key + value bytes) = {pay:.0f} B/entry. Heap only (counting global "
        f"allocator, requested sizes), after one purge call.\n"
    )


def snapshot_section(recs):
    """Save/load throughput, the reader stall during a save, and the change-tracking cost."""
    if not recs:
        return "_(no snapshot results)_\n"
    out = []
    rows = []
    for r in recs:
        if r["kind"] == "save_load":
            rows.append(
                [
                    f"{r['keys']:,}",
                    fmt(r["save_median"], 1),
                    f"{r['save_keys_per_s'] / 1e6:.2f}M",
                    fmt(r["save_mb_per_s"], 1),
                    fmt(r["load_median"], 1),
                    f"{r['load_keys_per_s'] / 1e6:.2f}M",
                    fmt(r["load_mb_per_s"], 1),
                    fmt(r["bytes_per_key"], 1),
                ]
            )
    if rows:
        out.append(
            table(
                ["keys", "save ms", "save keys/s", "save MB/s", "load ms", "load keys/s",
                 "load MB/s", "file bytes/key"],
                rows,
            )
        )
    for r in recs:
        if r["kind"] == "stall":
            out.append(
                f"\nWhile a save of {r['keys']:,} keys ran ({fmt(r['save_median'], 1)} ms), a "
                f"reader/writer thread (90% `get` / 10% `set`) did {r['ops_median']:,.0f} "
                f"operations; its worst one took {fmt(r['max_median'], 1)} µs (p99.9 "
                f"{fmt(r['p999_median'], 2)} µs). Controls: its worst op over 50 ms with no save "
                f"running: {fmt(r['idle_max_median'], 1)} µs; over as long as the save took, "
                f"with the other core busy with work that does not touch the store: "
                f"{fmt(r.get('busy_max_median'), 1)} µs.\n"
            )
    rows = [
        [esc(r["op"]), fmt(r["plain_ns"], 1), fmt(r["tracked_ns"], 1),
         f"{r['overhead_pct']:+.1f}%"]
        for r in recs
        if r["kind"] == "tracking"
    ]
    if rows:
        out.append(
            "\nWhat periodic persistence's change tracking adds to a write (one thread, 10k "
            "keys, fastest of 40 alternating rounds each):\n\n"
            + table(["operation", "plain ns/op", "with persist ns/op", "difference"], rows)
        )
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------------------------
# Goals on ours / flurry+TTL (issue 25, item 2)

# (goal, group of the records (None: throughput.jsonl), workloads (None: every workload of the
# group), target ratio at 2 threads)
GOALS = [
    ("read-heavy and mixed ≥ 0.9×", None, ["read-heavy", "mixed"], 0.9),
    ("session churn ≥ 0.8×", None, ["session-churn"], 0.8),
    ("incr ≥ 1.5×", None, ["incr-hot", "incr-spread-uniform", "incr-spread-zipf"], 1.5),
    ("conditional writes ≥ 1.5×", "conditional", None, 1.5),
    ("sliding sessions ≥ 1.5×", "session", None, 1.5),
]
MEMORY_GOAL = 60.0


def goals_section(tp, caps, mem):
    """One row per workload a goal names: ours / flurry+TTL at 2 threads (median of the
    per-repetition ratios, range), the target, met or not; and the memory goal."""
    rows = []
    for goal, group, workloads, target in GOALS:
        data, _ = throughput_data(caps if group else tp, group)
        for w in workloads or list(data):
            per = data.get(w)
            r = paired_ratio(per, 2) if per else None
            if r is None:
                rows.append([goal, w, "n/a", f"≥ {target}×", "not measured"])
                continue
            m, lo, hi = r
            verdict = "**met**" if m >= target else "not met"
            if (m >= target) != (lo >= target) or (m >= target) != (hi >= target):
                verdict += " (the range straddles the goal)"
            extra = ""
            alt = paired_ratio(per, 2, b=FLURRY + " (compute_if_present)")
            if alt:
                extra = f"; vs flurry+TTL (compute_if_present): {fmt_paired(alt)}"
            rows.append([goal, w, fmt_paired(r) + extra, f"≥ {target}×", verdict])
    recs = {r["contender"]: r for r in mem if r["kind"] == "memory"}
    if OURS in recs and FLURRY in recs:
        o, f = recs[OURS]["bytes_per_entry"], recs[FLURRY]["bytes_per_entry"]
        rows.append([
            f"memory ≤ flurry+TTL + {MEMORY_GOAL:.0f} B/entry", f"{recs[OURS]['entries']:,} entries",
            f"{o:.1f} − {f:.1f} = {o - f:+.1f} B/entry", f"≤ +{MEMORY_GOAL:.0f} B",
            "**met**" if o - f <= MEMORY_GOAL else "not met",
        ])
    else:
        rows.append([f"memory ≤ flurry+TTL + {MEMORY_GOAL:.0f} B/entry", "", "n/a",
                     f"≤ +{MEMORY_GOAL:.0f} B", "not measured"])
    return table(["goal", "workload (2 threads)", "ours / flurry+TTL: median (range)", "target",
                  "verdict"], rows, ["---", "---", "---:", "---:", "---"]) + (
        "\n\nRatios are medians of the per-repetition ratios (ours and flurry+TTL run one "
        "after the other in every repetition); the range is the lowest and highest of them. "
        "A verdict is the median's; where the range straddles the goal, the run cannot tell "
        "(noise on a shared two-core machine). Memory is one deterministic count (heap bytes, "
        "counting allocator), no spread.\n"
    )


def closing_note(data):
    """Which part of each moonshot gap is the table's and which is ours."""
    lines = []
    for w, per in data.items():
        ours = per.get(OURS, {}).get(2, (None,))[0]
        peer, pv = best_peer(per, 2)
        fl = per.get(FLURRY, {}).get(2, (None,))[0]
        if None in (ours, pv, fl) or not pv or not fl:
            continue
        lines.append(
            f"- {w}: ours / {esc(peer)} = {ours / pv:.2f}× = ours / flurry+TTL "
            f"{ours / fl:.2f}× (ours) × flurry+TTL / {esc(peer)} {fl / pv:.2f}× (the table)"
        )
    if not lines:
        return ""
    return (
        "Each moonshot gap at 2 threads (ratios of medians), split into the part that is the "
        "table's (flurry+TTL / best peer: what flurry costs against the best other design, "
        "with the same TTL semantics) and the part that is ours (ours / flurry+TTL):\n\n"
        + "\n".join(lines) + "\n"
    )


# ---------------------------------------------------------------------------------------------
# Capabilities (benches/capabilities.rs) and the record_stats cost


def ratio_summary(data):
    """One row per workload: for each thread count, ours, the best peer, ours / best peer and
    ours / flurry+TTL (paired, with the range)."""
    threads = sorted({t for per in data.values() for v in per.values() for t in v})
    header = ["workload"]
    for t in threads:
        header += [f"ours @{t} Mops/s", f"best peer @{t} (Mops/s)", f"ours / best @{t}",
                   f"ours / flurry+TTL @{t} (range)"]
    rows = []
    for w, per in data.items():
        row = [w]
        for t in threads:
            ours = per.get(OURS, {}).get(t, (None,))[0]
            peer, pv = best_peer(per, t)
            row += [fmt(ours), f"{esc(peer)} ({fmt(pv)})" if peer else "n/a", ratio(ours, pv),
                    fmt_paired(paired_ratio(per, t))]
        rows.append(row)
    return table(header, rows)


def paired(a, b):
    """Per-repetition ratios b[i] / a[i] (the repetitions interleave the contenders)."""
    return [y / x for x, y in zip(a, b) if x > 0]


def stats_cost_section(tp, caps, results):
    """record_stats(true) / record_stats(false), per throughput workload and thread count, the
    paired A/B of capabilities.rs, and the instruction counts of a `get` with and without."""
    data, _ = throughput_data(tp)
    threads = sorted({t for per in data.values() for v in per.values() for t in v})
    rows = []
    for w, per in data.items():
        if OURS not in per or OURS_STATS not in per:
            continue
        row = [w]
        for t in threads:
            a, b = per[OURS].get(t), per[OURS_STATS].get(t)
            if not a or not b:
                row.append("n/a")
                continue
            rs = paired(a[1], b[1])
            med = sorted(rs)[len(rs) // 2] if len(rs) % 2 else (
                sorted(rs)[len(rs) // 2 - 1] + sorted(rs)[len(rs) // 2]) / 2
            row.append(f"{med:.2f} ({min(rs):.2f}–{max(rs):.2f})")
        rows.append(row)
    parts = []
    if rows:
        parts.append(table(["workload"] + [f"with / without @{t} thr" for t in threads], rows))
        parts.append(
            "\nMedian of the per-repetition ratios (range in parentheses): in every repetition "
            "the two run one after the other, so a ratio pairs two windows a few hundred "
            "milliseconds apart. Only reads count (`get`, `get_with`, the loads): the `incr` "
            "workloads do not touch the counters and show the noise floor of this measurement.\n"
        )
    ab = [r for r in caps if r["kind"] == "stats-ab"]
    desc = next((r["describe"] for r in caps if r["kind"] == "stats-ab-workload"), "")
    if ab:
        rows = []
        for r in ab:
            rows.append([
                r["threads"], fmt(median(r["without"])), fmt(median(r["with"])),
                f"{r['median']:.3f}", f"{min(r['ratios']):.2f}–{max(r['ratios']):.2f}",
            ])
        parts.append(
            "A focused A/B (" + desc + "):\n\n"
            + table(["threads", "without: Mops/s", "with: Mops/s", "with / without (median)",
                     "range"], rows)
        )
    ir = {}
    for op in ("get", "get-stats"):
        path = os.path.join(results, f"callgrind-{op}.txt")
        if os.path.exists(path):
            total, ops, _ = parse_callgrind(path)
            if total and ops:
                ir[op] = total / ops
    if len(ir) == 2:
        parts.append(
            f"\nInstructions (callgrind, one thread, a `get` that hits, 10k keys): "
            f"{ir['get']:,.0f} Ir without, {ir['get-stats']:,.0f} Ir with "
            f"(+{ir['get-stats'] - ir['get']:,.0f} Ir, "
            f"+{100 * (ir['get-stats'] / ir['get'] - 1):.1f}%): exact, but instructions are not time "
            "(among the added ones is a locked add, dearer than an ordinary instruction).\n"
        )
    return "\n".join(parts) if parts else "_(no record_stats results)_"


def median(xs):
    v = sorted(xs)
    n = len(v)
    if n == 0:
        return None
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


def stampede_section(caps):
    recs = [r for r in caps if r["kind"] == "stampede"]
    if not recs:
        return "_(no stampede results)_"
    parts = []
    labels = {
        "sleep": "`init` = `thread::sleep(1 ms)` (an I/O-bound load)",
        "spin": "`init` = 1 ms of spinning (a CPU-bound load)",
        "async-sleep": "async: N tokio tasks on 2 worker threads, `init` = "
                       "`tokio::time::sleep(1 ms)`",
    }
    for init in OrderedDict((r["init"], None) for r in recs):
        sub = [r for r in recs if r["init"] == init]
        ns = sorted({r["threads"] for r in sub})
        by = OrderedDict()
        for r in sub:
            by.setdefault(r["contender"], {})[r["threads"]] = r
        ours = by.get(OURS, {})
        header = ["contender"]
        for n in ns:
            header += [f"N={n}: inits", f"N={n}: ms to all", f"N={n}: x / ours"]
        rows = []
        for c, v in by.items():
            row = [esc(c)]
            for n in ns:
                r = v.get(n)
                if not r:
                    row += ["n/a"] * 3
                    continue
                inits = fmt(r["inits_median"], 1).rstrip("0").rstrip(".")
                if r["inits_max"] != r["inits_median"]:
                    inits += f" (max {r['inits_max']:.0f})"
                o = ours.get(n, {}).get("ms_median")
                row += [inits, fmt(r["ms_median"], 2),
                        "—" if c == OURS else ratio(r["ms_median"], o)]
            rows.append(row)
        reps = len(sub[0]["ms"])
        parts.append(f"**{labels.get(init, init)}**, median of {reps} stampedes:\n\n"
                     + table(header, rows) + "\n")
    return "\n".join(parts)


def flood_section(caps, kind="flood"):
    recs = [r for r in caps if r["kind"] == kind]
    if not recs:
        return f"_(no {kind} results)_"
    desc = next((r["describe"] for r in caps if r["kind"] == f"{kind}-workload"), "")
    rows = []
    ours_by_t = {r["threads"]: r for r in recs if is_ours(r["contender"])}
    for r in recs:
        o = ours_by_t.get(r["threads"])
        rows.append([
            esc(r["contender"]), r["threads"], fmt(r["median"], 3),
            "—" if is_ours(r["contender"]) else ratio(o["median"] if o else None, r["median"]),
            f"{r['max_len']:,}", f"{r['final_len']:,}",
            fmt(r.get("rss_mb_median"), 1),
        ])
    return (desc + ".\n\n" + table(
        ["contender", "threads", "Mops/s (median)", "ours / x", "largest size seen",
         "size after", "peak RSS growth: MB"], rows))


def capabilities_sections(caps):
    md = []
    cond, cond_desc = throughput_data(caps, "conditional")
    sess, sess_desc = throughput_data(caps, "session")
    if cond:
        md.append("## Conditional writes\n")
        md.append(
            "The store's conditional writes against each peer's closest equivalent "
            "(`benches/capabilities.rs`, the `Conditional` trait in `benches/common/mod.rs`): "
            "every contender keeps the store's semantics (a value plus an optional deadline, "
            "expired = absent), each peer through its own idiom (named under each table). "
            "Windows, repetitions and medians as in the throughput tables; `ours / best` above 1 "
            "means we are faster than every peer.\n"
        )
        md.append(ratio_summary(cond) + "\n")
        md.append(throughput_section(cond, cond_desc))
    md.append("## Stampede: single-flight loads\n")
    md.append(
        "N threads miss the same key at the same moment (released by one barrier) and call "
        "`get_or_insert_with(key, ttl, init)`; `init` takes ~1 ms and counts its calls. "
        "\"inits\" is how many times `init` ran per stampede (the backend calls a stampede "
        "costs), \"ms to all\" the time from the first caller's start to the last caller "
        "having the value; every caller must get the same value (asserted). Ours: "
        "`Store::get_or_insert_with` (the others wait for one `init`; asserted exactly 1). "
        "moka: `get_with` (coalesces). dashmap and scc: `entry()` + insert, `init` running "
        "under the shard or bucket lock; the std maps: `init` under the map's lock (all four "
        "exactly 1 by construction, asserted). papaya: `get_or_insert_with`, and flurry+TTL: "
        "`try_insert` of what `init` returned, no coalescing "
        "(every caller that missed runs `init`, the first insert wins).\n"
    )
    md.append(stampede_section(caps))
    if sess:
        md.append("## Sliding sessions\n")
        md.append(ratio_summary(sess) + "\n")
        md.append(throughput_section(sess, sess_desc))
    md.append("## Flood into a bounded store\n")
    md.append(flood_section(caps) + "\n")
    md.append("### The same flood under a byte cap\n")
    md.append(flood_section(caps, "flood-bytes") + "\n")
    return "\n".join(md)


# ---------------------------------------------------------------------------------------------
# The issue-20 features' cost (benches/lru_get.rs, scripts/ab.sh)


def features_section(results):
    """The A/B against the binary before the features, and the in-binary comparisons."""
    parts = []
    ab = load(os.path.join(results, "ab.jsonl"))
    meta = next((r for r in ab if r["kind"] == "ab-meta"), None)
    end = next((r for r in ab if r["kind"] == "ab-meta-end"), {})
    runs = [r for r in ab if r["kind"] == "ab"]
    if meta and runs:
        rows = []
        for case in dict.fromkeys(r["case"] for r in runs):
            old = {r["rep"]: r["mops"] for r in runs if r["case"] == case and r["side"] == "old"}
            new = {r["rep"]: r["mops"] for r in runs if r["case"] == case and r["side"] == "new"}
            rs = [new[k] / old[k] for k in old if k in new and old[k] > 0]
            rows.append([case, fmt(median(list(old.values()))), fmt(median(list(new.values()))),
                         f"{median(rs):.3f}", f"{min(rs):.2f}–{max(rs):.2f}"])
        parts.append(
            f"The default store (`VolatileTtl`, unbounded) before and after the features: "
            f"`scripts/ab.sh` builds one source (`benches/ab/ab.rs`: the read-heavy, mixed and "
            f"hot-key `incr` cases of the throughput bench, 2 threads, 300 ms windows) against "
            f"`{meta['old'][:9]}` (main before the merge of issue 20) and against "
            f"`{meta['new'][:9]}`, and runs the two binaries alternately, {meta['runs']} rounds "
            f"(load average {meta.get('load', '?')} at the start, {end.get('load', '?')} at the "
            f"end). new / old: the median of the per-round ratios and their range (1.00 = no "
            f"cost).\n\n"
            + table(["case (2 threads)", "old Mops/s (median)", "new Mops/s (median)",
                     "new / old (median)", "range"], rows)
        )
    fc = [r for r in load(os.path.join(results, "lru_get.jsonl")) if r["kind"] == "feature-cost"]
    if fc:
        rows = []
        for r in fc:
            rows.append([
                f"{r['section']}: {r['case']}", esc(r["config"]), fmt(r["median"], 1),
                f"{min(r['ns']):.1f}–{max(r['ns']):.1f}",
                "—" if r["config"] == r["base"] else
                f"{r['ratio_median']:.3f} ({r['ratio_min']:.2f}–{r['ratio_max']:.2f})",
            ])
        n = len(fc[0]["ns"])
        parts.append(
            f"\nIn one binary (`benches/lru_get.rs`, {n} rounds, the configurations of a row "
            f"group alternating in every round): `Eviction::Lru` against `VolatileTtl` and an "
            f"unbounded store on `get` (goal: Lru at most 10% slower than VolatileTtl), the byte "
            f"counter on writes (`max_bytes` against `max_keys` and unbounded, no eviction), and "
            f"`SharedKv` (a boxed future per call) against `Store` as `AsyncKv`. Ratio: ns per "
            f"call / the first row of its group's, median of the per-round ratios (range); "
            f"above 1 costs more.\n\n"
            + table(["case", "configuration", "ns/call (median)", "range", "× the first row"],
                    rows)
        )
        lru = {(r["case"], r["config"]): r for r in fc if r["section"] == "get"}
        lines = []
        for case in dict.fromkeys(r["case"] for r in fc if r["section"] == "get"):
            a, b = lru.get((case, "Lru")), lru.get((case, "VolatileTtl"))
            if a and b:
                rs = [x / y for x, y in zip(a["ns"], b["ns"]) if y > 0]
                m = median(rs)
                lines.append(
                    f"- Lru / VolatileTtl, {case}: {m:.3f} ({min(rs):.2f}–{max(rs):.2f}): "
                    + ("**met** (≤ 1.10)" if m <= 1.10 else "not met (> 1.10)")
                )
        if lines:
            parts.append("\nGoal, `Lru` get at most 10% slower than `VolatileTtl`:\n\n"
                         + "\n".join(lines) + "\n")
    return "\n".join(parts) + "\n" if parts else ""


ALLOC = "allocation (malloc/free)"
RECLAIM = "reclamation: pins, guards, protected loads, retire (seize, crossbeam-epoch)"
TABLE = "table walk (flurry bins, key compare)"
HASH = "hashing (ahash)"
CLOCK = "clock reads (Instant::now / elapsed)"
VALUE = "value copy / drop (String clone, memcpy, Value drop)"
STORE = "store logic (store.rs, entry.rs, expiry.rs, table.rs)"
PEER = "flurry+TTL's own logic (benches/common/flurry_ttl.rs, maps.rs)"
LOOP = "bench loop"
OTHER = "other"
CATEGORIES = [ALLOC, RECLAIM, TABLE, HASH, CLOCK, VALUE, STORE, PEER, LOOP, OTHER]


def by_function(fn):
    """The category of code attributed to function `fn` (used for inlined std/core code)."""
    if re.search(r"malloc|free|__rust_alloc|__rust_dealloc|__rdl_|realloc", fn):
        return ALLOC
    if re.search(r"flurry::reclaim|seize::|crossbeam_epoch|Table::pin", fn):
        return RECLAIM
    if "flurry::" in fn or "memcmp" in fn:
        return TABLE
    if "hash_one" in fn or "ahash" in fn:
        return HASH
    if re.search(r"Instant|Timespec|clock_gettime", fn):
        return CLOCK
    if re.search(r"String as core::clone::Clone|drop_in_place<scriptling_kv::value::Value>"
                 r"|memmove|memcpy|Value as core::clone", fn):
        return VALUE
    if re.search(r"throughput::common::(flurry_ttl|maps)::", fn):
        return PEER
    if "scriptling_kv::" in fn:
        return STORE
    if fn.startswith("throughput::"):
        return LOOP
    return OTHER


def categorize(file_, fn):
    """Category of self cost at (source file, function): by the file whose code ran, except
    for the standard library's generic glue (ptr, atomics, Option), which goes with the
    function it was inlined into."""
    base = file_.rsplit("/", 1)[-1]
    if "malloc" in file_ or "/alloc/" in file_ or base in ("alloc.rs", "boxed.rs"):
        return ALLOC
    if ("seize-" in file_ or "crossbeam-epoch" in file_ or "crossbeam-utils" in file_
            or ("flurry-" in file_ and base == "reclaim.rs")):
        return RECLAIM
    if "flurry-" in file_ or "memcmp" in file_:
        return TABLE
    if "ahash-" in file_:
        return HASH
    if "/time" in file_ or "clock_gettime" in file_ or base == "clock.rs":
        return CLOCK
    if base in ("value.rs", "string.rs") or "memmove" in file_ or "memcpy" in file_:
        return VALUE
    if base in ("store.rs", "entry.rs", "expiry.rs", "table.rs", "wheel.rs", "glob.rs") \
            and "registry" not in file_:
        return STORE
    if "benches/common/" in file_ and base in ("flurry_ttl.rs", "maps.rs"):
        return PEER
    if "benches/" in file_:
        return LOOP
    return by_function(fn)


def parse_callgrind(path):
    """(total Ir, ops, [(cost, file, function)]) from `callgrind_annotate --threshold=100`."""
    with open(path) as f:
        text = f.read()
    total = None
    m = re.search(r"^([\d,]+) \(100\.0%\)\s+PROGRAM TOTALS", text, re.M)
    if m:
        total = int(m.group(1).replace(",", ""))
    mo = re.search(r"^# ops: (\d+)", text, re.M)
    ops = int(mo.group(1)) if mo else None
    rows = []
    in_table = False
    for line in text.splitlines():
        if "file:function" in line:
            in_table = True
            continue
        if not in_table:
            continue
        if line.startswith("-- Auto-annotated") or line.startswith("-- User-annotated"):
            break
        mm = re.match(r"^\s*([\d,]+) \(\s*[\d.]+%\)\s+(.*)$", line)
        if not mm:
            continue
        cost = int(mm.group(1).replace(",", ""))
        rest = re.sub(r" \[[^\]]*\]$", "", mm.group(2))
        # "file:function": the function may contain "::", the file never contains ":" here.
        fm = re.match(r"^([^:]*):(.*)$", rest)
        file_, fn = (fm.group(1), fm.group(2)) if fm else ("???", rest)
        rows.append((cost, file_, fn))
    return total, ops, rows


def callgrind_section(results):
    ops_names = [("get", "get (hit)"), ("flurry-get", "flurry+TTL get (hit)"),
                 ("get-stats", "get (hit), record_stats(true)"),
                 ("set", "set_with_ttl (existing key)"),
                 ("flurry-set", "flurry+TTL set_with_ttl (existing key)"),
                 ("incr", "incr (existing key)"),
                 ("flurry-incr", "flurry+TTL incr (existing key)"),
                 ("purge", "purge_expired, per key removed"),
                 ("keys", "keys(prefix*), per key stored")]
    parsed = {}
    for op, _ in ops_names:
        path = os.path.join(results, f"callgrind-{op}.txt")
        if os.path.exists(path):
            parsed[op] = parse_callgrind(path)
    if not parsed:
        return ""
    cats = CATEGORIES
    per = {op: defaultdict(int) for op in parsed}
    for op, (_, _, rows) in parsed.items():
        for cost, file_, fn in rows:
            per[op][categorize(file_, fn)] += cost
    header = ["where (self cost, by source file)"] + [
        f"{label}: Ir/op" for op, label in ops_names if op in parsed
    ]
    trows = []
    for c in cats:
        row = [c]
        for op, _ in ops_names:
            if op not in parsed:
                continue
            total, ops, _ = parsed[op]
            v = per[op].get(c, 0)
            row.append(f"{v / ops:,.0f} ({100 * v / total:.0f}%)" if ops and total else "n/a")
        trows.append(row)
    row = ["**total**"]
    for op, _ in ops_names:
        if op in parsed:
            total, ops, _ = parsed[op]
            row.append(f"**{total / ops:,.0f}**" if ops else "n/a")
    trows.append(row)
    parts = [table(header, trows)]
    for op, label in ops_names:
        if op not in parsed:
            continue
        total, ops, rows = parsed[op]
        merged = defaultdict(int)
        for cost, _, fn in rows:
            merged[shorten(fn)] += cost
        top = sorted(merged.items(), key=lambda kv: -kv[1])[:8]
        parts.append(
            f"Top self costs, `{label}` (inlined code counted in the function it was inlined "
            "into):\n\n"
            + table(["function", "Ir/op", "share"],
                    [[f"`{fn}`", f"{c / ops:,.0f}" if ops else "n/a",
                      f"{100 * c / total:.1f}%"] for fn, c in top])
        )
    return "\n\n".join(parts)


def shorten(fn):
    """A readable function name: no hash suffix, at most 90 characters."""
    fn = re.sub(r"::h[0-9a-f]{16}$", "", fn)
    if len(fn) > 90:
        fn = fn[:87] + "..."
    return fn.replace("|", "\\|").replace("`", "'")


# ---------------------------------------------------------------------------------------------
# Going distributed: Redis


def distributed_section(results):
    """The raw operations through `AsyncKv` on `Store` and on Redis (`redis/benches/ops.rs`), and
    the HTTP main job on each (`scripts/load.sh`); empty if neither ran."""
    ops_path = os.path.join(results, "redis-ops.txt")
    load_path = os.path.join(results, "load.txt")
    out = []
    if os.path.exists(ops_path):
        rows = {}
        header = ""
        for line in open(ops_path):
            if line.startswith("| Store ") or line.startswith("| Redis "):
                cells = [c.strip() for c in line.strip().strip("|").split("|")]
                backend, op, tasks, ops, p50, p99 = cells[:6]
                rows[(backend, op, int(tasks))] = (float(ops), p50, p99)
            elif "run(s) of" in line:
                header = line.strip()
        keys = sorted({(op, t) for (_, op, t) in rows}, key=lambda k: (k[1], k[0]))
        table_rows = []
        for op, t in keys:
            st, rd = rows.get(("Store", op, t)), rows.get(("Redis", op, t))
            table_rows.append(
                [
                    f"`{op}`",
                    t,
                    f"{st[0]:,.0f}" if st else "n/a",
                    st[1] if st else "n/a",
                    st[2] if st else "n/a",
                    f"{rd[0]:,.0f}" if rd else "n/a",
                    rd[1] if rd else "n/a",
                    rd[2] if rd else "n/a",
                    ratio(st[0], rd[0]) if st and rd else "n/a",
                ]
            )
        out.append(
            "### The operations through `AsyncKv`\n\n"
            "`redis/benches/ops.rs` under `scripts/with-redis.sh`: the same `AsyncKv` calls on the "
            "in-process `Store` and on a local Redis 7 (one server on loopback, `RedisStore` on one "
            "multiplexed connection), from 1 task and from 32 tasks on a 2-worker Tokio runtime; "
            "`get` on 1,000 keys of 16-byte strings, `set` on the same keys, `incr` one counter per "
            "task, `set_if_absent` a fresh key per call (a Lua script on Redis). Every call timed; "
            + (header.rstrip(".") + ".\n\n" if header else "\n\n")
            + table(
                [
                    "op",
                    "tasks",
                    "Store ops/s",
                    "Store p50",
                    "Store p99",
                    "Redis ops/s",
                    "Redis p50",
                    "Redis p99",
                    "Store / Redis",
                ],
                table_rows,
                ["---"] + ["---:"] * 8,
            )
            + "\n"
        )
    if os.path.exists(load_path):
        med = {}
        head = ""
        for line in open(load_path):
            if line.startswith("wrk "):
                head = line.strip()
            m = re.match(
                r"(memory|baseline|redis): (.*?)\s+median:\s+([\d.]+) req/s\s+p50 ([\d.]+) us\s+p99 ([\d.]+) us",
                line,
            )
            if m:
                med[(m.group(1), m.group(2))] = (float(m.group(3)), float(m.group(4)), float(m.group(5)))
        names = []
        for (_, n) in med:
            if n not in names:
                names.append(n)
        table_rows = []
        for n in names:
            a, base, b = med.get(("memory", n)), med.get(("baseline", n)), med.get(("redis", n))
            cell = lambda x: (f"{x[0]:,.0f}", f"{x[1]:,.0f} µs", f"{x[2]:,.0f} µs") if x else ("n/a",) * 3
            table_rows.append(
                [
                    esc(n),
                    *cell(a),
                    f"{base[0]:,.0f}" if base else "n/a",
                    ratio(a[0], base[0]) if a and base else "n/a",
                    *cell(b),
                    ratio(a[0], b[0]) if a and b else "n/a",
                ]
            )
        out.append(
            "### The HTTP main job on each\n\n"
            "`scripts/load.sh` under `scripts/with-redis.sh`: the release build of the main job "
            "(`-p scriptling-kv-service`, binary `http_service`) on loopback, driven by wrk on the "
            "same 2 cores ("
            + esc(head)
            + "): first on the in-process store, then on `--baseline-store` (the same routes on the "
            "original library's design: one `RwLock<HashMap>` of `(value, deadline)`, no single "
            "flight; what the store buys the service), then started with `--redis`; medians of "
            "the runs (wrk's latency percentiles). The scenarios run one after the other, not "
            "interleaved: compare within a row, and expect the noise of a shared machine.\n\n"
            + table(
                [
                    "scenario",
                    "in-process req/s",
                    "p50",
                    "p99",
                    "baseline req/s",
                    "in-process / baseline",
                    "on Redis req/s",
                    "p50",
                    "p99",
                    "in-process / Redis",
                ],
                table_rows,
                ["---"] + ["---:"] * 9,
            )
            + "\n"
        )
    if not out:
        return ""
    return (
        "## Going distributed: the same service on Redis\n\n"
        "What sharing the state between processes costs (the `scriptling-kv-redis` package): a "
        "network round trip per call instead of a few hundred nanoseconds.\n\n" + "\n".join(out)
    )


def main():
    results, root = sys.argv[1], sys.argv[2]
    out_dir = sys.argv[3] if len(sys.argv) > 3 else root
    tp = load(os.path.join(results, "throughput.jsonl"))
    pg = load(os.path.join(results, "purge.jsonl"))
    mem = load(os.path.join(results, "memory.jsonl"))
    snap = load(os.path.join(results, "snapshot.jsonl"))
    caps = load(os.path.join(results, "capabilities.jsonl"))
    machine = OrderedDict()
    mpath = os.path.join(results, "machine.txt")
    if os.path.exists(mpath):
        with open(mpath) as f:
            for line in f:
                if ":" in line:
                    k, v = line.split(":", 1)
                    machine[k.strip()] = v.strip()
    data, desc = throughput_data(tp)
    svg = svg_plot(data, PLOT_WORKLOADS)
    os.makedirs(os.path.join(out_dir, "benches"), exist_ok=True)
    with open(os.path.join(out_dir, "benches", "throughput.svg"), "w") as f:
        f.write(svg)

    hand = os.path.join(root, "benches", "report", "where-the-time-goes.md")
    hand_text = open(hand).read().strip() if os.path.exists(hand) else "_(to be written)_"
    cg = callgrind_section(results)
    png = shutil.which("rsvg-convert") is not None

    md = []
    md.append("# Benchmarks\n")
    md.append(
        "Generated by `scripts/bench-report.sh` (all numbers below come from one run of it; "
        "regenerate with that one command). The harness is in `benches/`: `throughput.rs`, "
        "`purge.rs`, `memory.rs`, `snapshot.rs`, `capabilities.rs`, sharing the `Contender` and "
        "`Conditional` traits in `benches/common/mod.rs`.\n"
    )
    md.append("## Machine\n")
    md.append(table(["", ""], [[k, esc(v)] for k, v in machine.items()], ["---", "---"]))
    md.append(
        "\n**Two cores.** The 4-thread columns run twice as many threads as cores: they show "
        "behaviour under oversubscription (a preempted lock holder, a preempted CAS loop), not "
        "scaling. The machine is shared with other jobs (see the load average above), so two "
        "threads do not always get two cores and absolute numbers are noisy: every table gives "
        "ratios measured in the same process, with the contenders interleaved in every "
        "repetition, and prints the spread of the repetitions under it. Treat differences "
        "smaller than that spread as noise. On this VM a random access over 100k keys costs "
        "about 1 µs for every map (memory latency), which compresses the ratios of the "
        "100k-key workloads towards 1.\n"
    )
    md.append("## How the comparison is set up\n")
    md.append(
        "- Every contender is given the store's semantics through one trait (`Contender`: "
        "get / set / set_with_ttl / delete / incr / keys / purge), so every workload runs the "
        "same code for all of them. Values are `scriptling_kv::Value` (small strings, ~14 bytes: "
        "every `get` clones one, every write moves one in). Hasher: `ahash` everywhere a map "
        "takes one.\n"
        "- Map peers (dashmap, papaya, scc, flurry+TTL, `Mutex<HashMap>`, `RwLock<HashMap>`) store "
        "`(Value, Option<Instant>)` and check the deadline on read (reading the clock only when "
        "there is one, as the store does); `incr` is atomic per contender (dashmap `get_mut`/"
        "`entry`, scc `update`/`entry`, papaya `compute`, flurry `compute_if_present` then "
        "`try_insert`, the std maps under their lock); their "
        "purge walks the whole map (`retain`). moka is a `sync::Cache` with a per-entry "
        "`Expiry` (its own timer wheel; purge = `run_pending_tasks` until it makes no progress).\n"
        "- `AtomicI64 (limit)`: for counters only, a bare atomic per key (indexed, no hashing, "
        "no map), incremented by a CAS loop with a checked add: the physical limit.\n"
        "- Throughput: each thread cycles a pre-generated tape of 65,536 operations (fixed "
        "seeds) for a 300 ms window; score = all threads' operations / window, in Mops/s; the "
        "median of 5 repetitions. The store runs with `background_cleanup(false)` (no contender "
        "has a thread working behind the measured ones). `ours/x` = our median / theirs: above "
        "1 we are faster.\n"
    )
    md.append("## Summary at 2 threads\n")
    md.append(summary_section(data))
    md.append("")
    md.append("### Goals: ours / flurry+TTL\n")
    md.append(goals_section(tp, caps, mem))
    note = closing_note(data)
    if note:
        md.append("### Whose gap: the table's or ours\n")
        md.append(note)
    md.append("![throughput vs threads](benches/throughput.svg)\n")
    if png:
        md.append("(PNG rendering: [benches/throughput.png](benches/throughput.png).)\n")
    md.append("## Throughput per workload\n")
    md.append(throughput_section(data, desc))
    md.append("## Cost of `record_stats(true)`\n")
    md.append(
        "Every throughput workload above also runs on a second instance of the store built "
        "with `record_stats(true)` (the row `scriptling-kv +record_stats`), interleaved with "
        "the others. With / without (below 1: counting costs throughput):\n"
    )
    md.append(stats_cost_section(tp, caps, results) + "\n")
    if caps:
        md.append(capabilities_sections(caps))
    md.append("## `keys(pattern)`\n")
    md.append(
        "One call on one thread (median of 15 calls at 100k keys, 5 at 1M). `ours/x` here is "
        "their time / ours (above 1 we are faster). The peers only implement `prefix*` "
        "patterns (a `starts_with` filter), the cheapest case; the store compiles a real glob "
        "(and uses its literal prefix as a filter).\n"
    )
    md.append(keys_section(pg))
    md.append("## Purge cost: what expired vs what is stored\n")
    md.append(
        "Remove 10k expired keys from a store holding only them, and from a store that also "
        "holds 1M live keys (TTL 1 h). Before the keys are due every contender gets one purge "
        "call (the store moves the new schedule records into its wheel; moka runs its "
        "housekeeping), so the measured call is the steady-state one. Median of 3.\n"
    )
    md.append(purge_section(pg))
    md.append(
        "\nA ratio near 1 means the purge costs what expired; a ratio near 100 means it costs "
        "what is stored (the walk visits 1,010,000 entries instead of 10,000).\n"
    )
    md.append("## Reader stalls during a purge of 1M expired keys\n")
    md.append(
        "One reader thread does 90% `get` / 10% `set` on 10k live keys, timing every "
        "operation, while the main thread purges 1M expired keys (the two cores are both "
        "busy). The idle column is the same reader for 50 ms with no purge: the scheduler's "
        "noise floor on this shared machine. Median of 3.\n"
    )
    md.append(stall_section(pg))
    md.append(
        "\nmoka's idle column is not noise: moka does its expiry work (its housekeeping) inline "
        "in the calls of whichever thread reaches a threshold, so the reader's own `set`s "
        "removed most of the expired entries before the purge was called, and the purge found "
        "little left.\n"
    )
    feats = features_section(results)
    if feats:
        md.append("## What the bounds and the weak handle cost (issue 20's features)\n")
        md.append(feats)
    md.append("\n## Memory per entry\n")
    md.append(memory_section(mem))
    md.append("## Snapshots\n")
    md.append(
        "`benches/snapshot.rs`: `Store::save` and `Store::load` of stores of small string values "
        "(half with a TTL), to a file in the temporary directory, `fsync` included; median of 3.\n"
    )
    md.append(snapshot_section(snap))
    dist = distributed_section(results)
    if dist:
        md.append(dist)
    main_job = os.path.join(root, "benches", "report", "main-job.md")
    if os.path.exists(main_job):
        md.append("## The main job: its layers and its build\n")
        md.append(open(main_job).read().strip() + "\n")
    md.append("## Where the time goes\n")
    md.append(hand_text + "\n")
    if cg:
        md.append(
            "### Raw profile (regenerated with the report)\n\n"
            "`valgrind --tool=callgrind` on the single-thread loops of `benches/throughput.rs` "
            "(`BENCH_PROFILE=op`), one run per operation with collection toggled on that loop only "
            "(get/set/incr: 10k keys, half with a TTL, 1k counters; purge: 100k keys written with "
            "a 1 ms TTL and never purged before, so the purge also drains their schedule records; "
            "keys: `keys(\"g07:*\")` over 100k keys, 1% matching). Instruction counts (Ir) per operation, self "
            "cost, grouped by the source file whose code ran (so flurry code inlined into "
            "`Store::get` counts as flurry); instructions are not time (a cache miss or a "
            "contended CAS costs far more than its one instruction), but they show what each "
            "call does.\n"
        )
        md.append(cg + "\n")
    with open(os.path.join(out_dir, "BENCHMARKS.md"), "w") as f:
        f.write("\n".join(md).rstrip() + "\n")


if __name__ == "__main__":
    main()
