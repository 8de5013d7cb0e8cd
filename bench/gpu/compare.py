#!/usr/bin/env python3
"""Prints GpuNet's bench rows beside PyTorch's rows of the same name (bench/gpu-check.sh's summary).

Usage: compare.py bench.json [torch.json]
The ratio is always "above 1 is better for GpuNet": GpuNet / PyTorch for rates, PyTorch / GpuNet for times.
"""
import json
import os
import sys

TIME_UNITS = {"ms", "µs", "s"}


def load(path):
    if not path or not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def main():
    ours = load(sys.argv[1] if len(sys.argv) > 1 else None)
    theirs = load(sys.argv[2] if len(sys.argv) > 2 else None)
    if ours is None:
        print("no GpuNet bench results")
        return 1
    torch_rows = {r["name"]: r for r in (theirs or {}).get("rows", [])}
    label = f"PyTorch {theirs['torch']}" if theirs else "PyTorch (not run)"
    print(f"GpuNet bench on {ours.get('device')} beside {label}; ratio > 1 favours GpuNet")
    print(f"    {'workload':<58} {'GpuNet':>14} {'PyTorch':>14}  {'ratio':>6}")
    for r in ours["rows"]:
        t = torch_rows.get(r["name"])
        value = f"{r['value']:.2f} {r['unit']}"
        base = f"{t['value']:.2f}" if t else ""
        ratio = ""
        if t and r["value"] and t["value"]:
            ratio = f"{(t['value'] / r['value']) if r['unit'] in TIME_UNITS else (r['value'] / t['value']):.2f}"
        elif r.get("ratio") is not None:
            ratio = f"{r['ratio']:.2f}*"
        print(f"    {r['name']:<58} {value:>14} {base:>14}  {ratio:>6}")
    for name, t in torch_rows.items():
        if not any(r["name"] == name for r in ours["rows"]):
            print(f"    {name:<58} {'':>14} {t['value']:>10.2f} {t['unit']}")
    print("    (* ratio to GpuNet's own in-run baseline, e.g. the device copy)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
