#!/usr/bin/env python3
"""Turns a saved benchmark baseline into the per-operation table of docs/benchmarks.md and the scaling plot.

Usage (from Benchmarks/):
    python3 report.py [BASELINE_DIR] [--docs ../docs/benchmarks.md] [--svg ../docs/benchmarks-scaling.svg]

BASELINE_DIR holds <Target>/<name>/results.json as `swift package benchmark baseline update <name>` writes
them (default: Baselines, the committed copy; --name picks the baseline, default main; given several times,
each benchmark takes the run with the lowest median, and --write-baseline stores that choice as "main"). Medians are read from the HdrHistogram each result carries
(raw nanoseconds per iteration). Each benchmark's operations per iteration follow from its name; ratios to
`floor` use the floor measured in the same run. No third-party packages: the SVG is written by hand.
"""
import argparse
import glob
import json
import math
import os
import re
import sys

GIB = 1 << 30
SIZES = {"1MiB": 1 << 20, "64MiB": 64 << 20, "1GiB": GIB, "16GiB": 16 * GIB, "64GiB": 64 * GIB}
PAGE = {"4K": 1 << 12, "16K": 1 << 14, "64K": 1 << 16}
# Level-2 block sizes (the blocks the fixtures map).
BLOCK = {"4K": 2 << 20, "16K": 32 << 20, "64K": 512 << 20}

# The kernel's pgtable.c compiled natively at -O2 on this kind of machine (issue 7): ns per operation.
KERNEL = {
    "map 1GiB 4K/4L/pages": 18.6,
    "map 1GiB 4K/4L/pages single calls": 43.6,
    "visit 1GiB 4K/4L/pages": 3.3,
    "get_leaf 4K/3L/pages": 29.9,
    "get_leaf 4K/4L/pages": 42.0,
    "floor 4K/3L/pages": 6.6,
    "floor 4K/4L/pages": 8.7,
    "unmap 1GiB 4K/4L/pages": 5.9,
    "map 1GiB 4K/4L/blocks": 20.1,
    "get_leaf 4K/4L/blocks": 17.9,
    "set_owner 1GiB 4K/4L/pages": 18.6,
}


def value_from_index(h, index):
    """HdrHistogram's valueFromIndex: the lowest value counted at `index`."""
    half_mag = h["subBucketHalfCountMagnitude"]
    half = 1 << half_mag
    bucket = (index >> half_mag) - 1
    sub = (index & (half - 1)) + half
    if bucket < 0:
        sub -= half
        bucket = 0
    return sub << (bucket + h["unitMagnitude"])


def median(h):
    counts = h["counts"]
    total = sum(counts)
    if total == 0:
        return 0
    want = max(1, int(0.5 * total + 0.5))
    seen = 0
    for i, c in enumerate(counts):
        seen += c
        if seen >= want:
            return value_from_index(h, i)
    return value_from_index(h, len(counts) - 1)


def load(baseline_dir, names):
    """{benchmark: {"wallClock": median ns per iteration, "mallocCountTotal": median mallocs, "scale": factor,
    "target": target, "raw": (key, values)}}, taking for each benchmark the run (of `names`) with the lowest
    wall-clock median: on a shared machine the least disturbed run."""
    out = {}
    for name in names:
        for path in sorted(glob.glob(os.path.join(baseline_dir, "*", name, "results.json"))):
            data = json.load(open(path))
            r = data["results"]
            for key, values in zip(r[0::2], r[1::2]):
                entry = {"target": key["target"], "raw": (key, values), "machine": data["machine"], "run": name}
                RUNS.setdefault(name, {})[key["name"]] = entry
                for v in values:
                    metric = next(iter(v["metric"]))
                    entry["scale"] = v.get("scalingFactor", 1)
                    entry[metric] = median(v["statistics"]["histogram"])
                old = out.get(key["name"])
                if old is None or entry.get("wallClock", 0) < old.get("wallClock", 0):
                    out[key["name"]] = entry
    # A lookup group (floor, translate, get_leaf of one shape) comes whole from the run of its best get_leaf,
    # so that its ratios are taken within one run.
    for bench, e in list(out.items()):
        m = re.match(r"(scale )?get_leaf (.*)$", bench)
        if m:
            for kind in ("floor", "translate"):
                other = RUNS[e["run"]].get(f"{m.group(1) or ''}{kind} {m.group(2)}")
                if other:
                    out[other["raw"][0]["name"]] = other
    return out


# Every run's results, so that a ratio to `floor` is taken in the run its walk was measured in.
RUNS = {}


def write_baseline(results, directory, name):
    """Writes the chosen results as baseline `name` under `directory` (<Target>/<name>/results.json)."""
    targets = {}
    for e in results.values():
        targets.setdefault(e["target"], []).append(e)
    for target, entries in targets.items():
        flat = []
        for e in sorted(entries, key=lambda e: e["raw"][0]["name"]):
            flat.extend(e["raw"])
        os.makedirs(os.path.join(directory, target, name), exist_ok=True)
        with open(os.path.join(directory, target, name, "results.json"), "w") as f:
            json.dump({"machine": entries[0]["machine"], "results": flat, "baselineName": name}, f)


def ops(name, scale):
    """(operations per iteration, unit) for a benchmark name."""
    m = re.match(r"(scale )?(floor|translate|get_leaf) ", name)
    if m:
        return scale, "lookup"
    if name.startswith("hyp share"):
        return 2 * scale, "transition"
    if name.startswith("hyp migrate"):
        return (64 * GIB) >> 12, "page"
    if name.startswith("hyp equivalence"):
        return 10_000, "step"
    if name.startswith("elf load"):
        return 1, "load"
    m = re.match(r"scale (map|visit) (\S+)$", name)
    if m:
        return SIZES[m.group(2)] // PAGE["4K"], "PTE" if m.group(1) == "map" else "leaf"
    m = re.match(r"(re)?(\w+) 1GiB (4K|16K|64K)/\dL/(pages|blocks)( single calls)?$", name)
    if m:
        size = BLOCK[m.group(3)] if m.group(4) == "blocks" else PAGE[m.group(3)]
        unit = "call" if m.group(5) else ("block" if m.group(4) == "blocks" else "PTE")
        if m.group(2) == "visit":
            unit = "leaf"
        return GIB // size, unit
    return 1, "iteration"


def fmt_ns(ns):
    if ns >= 1e9:
        return f"{ns / 1e9:.2f} s"
    if ns >= 1e6:
        return f"{ns / 1e6:.2f} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:.1f} µs"
    return f"{ns:.0f} ns"


def table(results):
    rows = [
        "| benchmark | median / iteration | ops / iteration | ns / op | mallocs / op | kernel ns / op | ratio |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in sorted(results, key=order):
        e = results[name]
        if "wallClock" not in e:
            continue
        n, unit = ops(name, e.get("scale", 1))
        per = e["wallClock"] / n
        mallocs = e.get("mallocCountTotal", 0) / n
        ratio = ""
        kernel = KERNEL.get(name)
        m = re.match(r"(scale )?(translate|get_leaf) (.*)$", name)
        if m:
            floor = results.get(f"{m.group(1) or ''}floor {m.group(3)}")
            if floor and "wallClock" in floor:
                ratio = f"{per / (floor['wallClock'] / floor.get('scale', 1)):.2f} × floor"
        elif kernel:
            ratio = f"{per / kernel:.2f} × kernel"
        per_s = f"{per:.2f}" if per < 100 else f"{per:,.0f}"
        plural = "leaves" if unit == "leaf" else unit + ("s" if n != 1 else "")
        rows.append(
            f"| {name} | {fmt_ns(e['wallClock'])} | {n:,} {plural} | {per_s} | {mallocs:.3g} | "
            f"{kernel if kernel else ''} | {ratio} |"
        )
    return "\n".join(rows)


def order(name):
    groups = ["floor", "translate", "get_leaf", "map", "remap", "unmap", "visit", "set_owner", "wrprotect",
              "test_clear_young", "relax_perms", "scale", "hyp"]
    first = name.split(" ")[0]
    rank = groups.index(first) if first in groups else len(groups)
    m = re.search(r"(\d+)(MiB|GiB)$", name)
    size = SIZES.get(m.group(1) + m.group(2), 0) if m else 0
    return (rank, re.sub(r"\d+(MiB|GiB)$", "", name), size)


def svg(results, path):
    """ns/op against mapped size (log scale) for the scaling workloads."""
    series = [("floor", "#777777"), ("get_leaf", "#1f77b4"), ("translate", "#2ca02c"), ("map", "#d62728"),
              ("visit", "#9467bd")]
    sizes = list(SIZES.items())
    pts = {}
    for s, _ in series:
        for label, b in sizes:
            e = results.get(f"scale {s} {label}")
            if e and "wallClock" in e:
                n, _ = ops(f"scale {s} {label}", e.get("scale", 1))
                pts.setdefault(s, []).append((b, e["wallClock"] / n))
    if not pts:
        return
    w, h, left, right, top, bottom = 720, 420, 70, 150, 40, 60
    vals = [v for p in pts.values() for _, v in p]
    lo, hi = math.floor(math.log10(min(vals))), math.ceil(math.log10(max(vals)))
    xmin, xmax = math.log2(sizes[0][1]), math.log2(sizes[-1][1])

    def x(b):
        return left + (math.log2(b) - xmin) / (xmax - xmin) * (w - left - right)

    def y(v):
        return top + (1 - (math.log10(v) - lo) / (hi - lo)) * (h - top - bottom)

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" '
           f'font-size="12">', f'<rect width="{w}" height="{h}" fill="white"/>',
           f'<text x="{left}" y="22" font-size="14">ns per operation against mapped size (4K pages, 4 levels; '
           f'log-log)</text>']
    for e in range(lo, hi + 1):
        for m in (1, 2, 5):
            v = m * 10 ** e
            if v > 10 ** hi:
                break
            out.append(f'<line x1="{left}" y1="{y(v):.1f}" x2="{w - right}" y2="{y(v):.1f}" stroke="#dddddd"/>')
            out.append(f'<text x="{left - 8}" y="{y(v) + 4:.1f}" text-anchor="end">{v:g}</text>')
    for label, b in sizes:
        out.append(f'<line x1="{x(b):.1f}" y1="{top}" x2="{x(b):.1f}" y2="{h - bottom}" stroke="#eeeeee"/>')
        out.append(f'<text x="{x(b):.1f}" y="{h - bottom + 18}" text-anchor="middle">{label}</text>')
    out.append(f'<text x="{(left + w - right) / 2}" y="{h - 15}" text-anchor="middle">mapped (log scale)</text>')
    out.append(f'<text x="18" y="{(top + h - bottom) / 2}" transform="rotate(-90 18 {(top + h - bottom) / 2})" '
               f'text-anchor="middle">ns / op (lookup, PTE, leaf)</text>')
    for i, (s, colour) in enumerate(series):
        p = pts.get(s)
        if not p:
            continue
        d = " ".join(f"{x(b):.1f},{y(val):.1f}" for b, val in p)
        out.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{d}"/>')
        for b, val in p:
            out.append(f'<circle cx="{x(b):.1f}" cy="{y(val):.1f}" r="3" fill="{colour}"/>')
        ly = top + 10 + i * 20
        out.append(f'<line x1="{w - right + 15}" y1="{ly}" x2="{w - right + 40}" y2="{ly}" stroke="{colour}" '
                   f'stroke-width="2"/>')
        out.append(f'<text x="{w - right + 45}" y="{ly + 4}">{s}</text>')
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def main(argv):
    here = os.path.dirname(os.path.abspath(__file__))
    p = argparse.ArgumentParser(description="per-operation table and scaling plot from a saved baseline")
    p.add_argument("baseline", nargs="?", default=os.path.join(here, "Baselines"))
    p.add_argument("--name", action="append", help="baseline name, repeatable: the best median of the runs "
                   "is taken per benchmark (default: main)")
    p.add_argument("--write-baseline", metavar="DIR", help="write the chosen results as baseline main under DIR")
    p.add_argument("--docs", help="markdown file whose results markers get the table")
    p.add_argument("--svg", help="where to write the scaling plot")
    a = p.parse_args(argv)
    results = load(a.baseline, a.name or ["main"])
    if not results:
        sys.exit(f"no results.json under {a.baseline}")
    text = table(results)
    if a.docs:
        s = open(a.docs).read()
        begin, end = "<!-- results:begin -->", "<!-- results:end -->"
        i, j = s.index(begin) + len(begin), s.index(end)
        open(a.docs, "w").write(s[:i] + "\n" + text + "\n" + s[j:])
    else:
        print(text)
    if a.svg:
        svg(results, a.svg)
    if a.write_baseline:
        write_baseline(results, a.write_baseline, "main")


if __name__ == "__main__":
    main(sys.argv[1:])
