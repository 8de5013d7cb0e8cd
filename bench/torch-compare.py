#!/usr/bin/env python3
"""Prints gpunet bench's CPU rows next to the same-run TorchSharp-cpu baseline, as a markdown table.

Usage: bench/torch-compare.py OUT_DIR   (a folder written by bench/cpu-check.sh --torch or bench/torch-baseline.sh)

Reads OUT_DIR/bench-run*.json (gpunet bench --json), OUT_DIR/torch-run*.json (bench/torchsharp) and, for the
Fashion-MNIST epochs, OUT_DIR/train*.txt (gpunet train's per-epoch samples/s). Each value column is the range
over the runs. ratio > 1 means GpuNet is better: TorchSharp/GpuNet for times and memory, GpuNet/TorchSharp for
throughputs. With as many runs on both sides, the ratio is the range of the paired runs' ratios (run1 with run1:
cpu-check.sh alternates them); otherwise the ratio of the medians. GEMM rows are matched without their
"NN% of FMA peak" (each side's own peak); the FMA peak and memcpy rows are the same C# loop in both processes
and only tell how busy the machine was during each.
"""
import glob
import json
import os
import re
import statistics
import sys

LOWER_IS_BETTER = {"ms", "µs", "s", "MB"}
PEAK = re.compile(r", \d+% of FMA peak\)")
EPOCH = re.compile(r"^epoch\s+(\d+)/\d+\s.*?([\d,]+) samples/s")
MODEL = re.compile(r"^model (\S+) relu; (\w+) lr [\d.]+.*; batch (\d+)")


def key(name):
    return PEAK.sub(")", name)


def load_json(paths):
    """{key: (display name, unit, [value per run])}, in first-seen order."""
    rows = {}
    for i, path in enumerate(paths):
        with open(path, encoding="utf-8") as f:
            for r in json.load(f)["rows"]:
                k = key(r["name"])
                entry = rows.setdefault(k, (k, r["unit"], [None] * len(paths)))
                entry[2][i] = r["value"]
    return rows


def load_train(paths):
    """gpunet train's epochs, named as bench/torchsharp names its epoch rows (only for the same model and batch)."""
    rows = {}
    for i, path in enumerate(paths):
        model = None
        with open(path, encoding="utf-8") as f:
            for line in f:
                m = MODEL.match(line)
                if m:
                    model = m.groups()
                m = EPOCH.match(line)
                if m and model == ("784-512-256-10", "adam", "128"):
                    name = f"Fashion-MNIST epoch {m.group(1)}, 784-512-256-10, batch 128, Adam"
                    rows.setdefault(name, (name, "samples/s", [None] * len(paths)))[2][i] = float(m.group(2).replace(",", ""))
    return rows


def fmt(v):
    return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.2f}"


def span(values):
    vs = [v for v in values if v is not None]
    if not vs:
        return "—"
    lo, hi = min(vs), max(vs)
    return fmt(lo) if fmt(lo) == fmt(hi) else f"{fmt(lo)}–{fmt(hi)}"


def ratio(unit, ours, theirs):
    return theirs / ours if unit in LOWER_IS_BETTER else ours / theirs


def ratios(unit, ours, theirs):
    if len(ours) == len(theirs) and all(v is not None for v in ours + theirs):
        rs = [ratio(unit, o, t) for o, t in zip(ours, theirs)]
    else:
        o = [v for v in ours if v is not None]
        t = [v for v in theirs if v is not None]
        if not o or not t:
            return "—"
        rs = [ratio(unit, statistics.median(o), statistics.median(t))]
    lo, hi = min(rs), max(rs)
    return f"{lo:.2f}" if f"{lo:.2f}" == f"{hi:.2f}" else f"{lo:.2f}–{hi:.2f}"


def main():
    if len(sys.argv) != 2 or not os.path.isdir(sys.argv[1]):
        sys.exit(__doc__)
    out = sys.argv[1]
    bench = sorted(glob.glob(os.path.join(out, "bench-run*.json")))
    torch = sorted(glob.glob(os.path.join(out, "torch-run*.json")))
    train = sorted(glob.glob(os.path.join(out, "train*.txt")))
    if not torch:
        sys.exit(f"{out}: no torch-run*.json (run bench/torch-baseline.sh {out} or bench/cpu-check.sh --torch {out})")
    ours = load_json(bench)
    theirs = load_json(torch)
    # gpunet train runs 10 epochs by default; only those the TorchSharp run also has are compared.
    ours.update({k: v for k, v in load_train(train).items() if k in theirs})
    print(f"GpuNet: {len(bench)} gpunet bench run(s){f', {len(train)} gpunet train run(s)' if train else ''}; "
          f"TorchSharp: {len(torch)} run(s). Ratio > 1: GpuNet is better.\n")
    print("| row | unit | GpuNet | TorchSharp | ratio |")
    print("| --- | --- | ---: | ---: | ---: |")
    for k in list(ours) + [k for k in theirs if k not in ours]:
        name, unit, a = ours.get(k, (k, theirs.get(k, (k, "", []))[1], []))
        b = theirs.get(k, (k, unit, []))[2]
        same_loop = k.startswith("FMA peak") or k.startswith("memcpy")
        r = "(same loop)" if same_loop else ratios(unit, a, b) if a and b else "—"
        print(f"| {name.strip()} | {unit} | {span(a)} | {span(b)} | {r} |")


if __name__ == "__main__":
    main()
