#!/usr/bin/env python3
"""PyTorch's figures for the rows of `gpunet bench --device cuda`, on the same GPU in the same run.

The GPU check (bench/gpu-check.sh) runs this right after GpuNet's own benchmark, so each GpuNet
figure has a baseline measured minutes apart on the same card. Every row is timed the way GpuNet
times it: warm-up, then the median of repeated runs, each run a batch of calls closed by one
torch.cuda.synchronize(). Row names match GpuNet's, so the two JSON files join by name.

Usage: python3 torch_baseline.py --data DIR [--json OUT.json] [--epochs 3] [--quick]
DIR holds the Fashion-MNIST IDX files (gzipped or not); without it the training rows are skipped.
"""
import argparse
import gzip
import json
import os
import statistics
import sys
import time
import traceback

import torch
import torch.nn as nn
import torch.nn.functional as F

DEV = "cuda"


def sync():
    torch.cuda.synchronize()


def calibrate(fn, target=0.05):
    fn()
    sync()
    t0 = time.perf_counter()
    fn()
    sync()
    one = max(time.perf_counter() - t0, 1e-7)
    return int(min(max(target / one, 1), 100_000))


def median_time(fn, repeats=7, inner=None, warmup_s=0.3):
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < warmup_s:
        fn()
    sync()
    inner = inner or calibrate(fn)
    samples = []
    for _ in range(repeats):
        t = time.perf_counter()
        for _ in range(inner):
            fn()
        sync()
        samples.append((time.perf_counter() - t) / inner)
    return statistics.median(samples)


ROWS = []


def row(name, value, unit):
    ROWS.append({"name": name, "value": value, "unit": unit})
    print(f"{name:<62} {value:14.2f} {unit}", flush=True)


def section(title, fn):
    try:
        fn()
    except Exception:  # one failing section must not lose the others
        print(f"section {title} FAILED:", file=sys.stderr)
        traceback.print_exc()


def gemm_rows(quick):
    def gemm(m, n, k, dtype, trans_b, tf32, name):
        torch.backends.cuda.matmul.allow_tf32 = tf32
        a = torch.rand(m, k, device=DEV, dtype=dtype)
        b = torch.rand(n, k, device=DEV, dtype=dtype).t() if trans_b else torch.rand(k, n, device=DEV, dtype=dtype)
        t = median_time(lambda: a @ b)
        row(name, 2.0 * m * n * k / t / 1e9, "GFLOP/s")
        torch.backends.cuda.matmul.allow_tf32 = False

    for n in ([1024, 4096] if quick else [1024, 2048, 4096, 8192]):
        gemm(n, n, n, torch.float32, False, False, f"SGEMM {n}³ (float32)")
    for n in ([4096] if quick else [4096, 8192]):
        gemm(n, n, n, torch.float32, False, True, f"SGEMM {n}³ TF32 (float32)")
    gemm(4096, 4096, 4096, torch.float64, False, False, "DGEMM 4096³ (float64)")
    gemm(128, 512, 784, torch.float32, True, False, "x[128,784]·Wᵀ[784,512] (float32)")


def memory_rows():
    n = 64 << 20
    a = torch.rand(n, device=DEV)
    b = torch.rand(n, device=DEV)
    with torch.no_grad():
        row("device copy, 64M floats (read + write)", 2.0 * n * 4 / median_time(lambda: a.clone(), 9) / 1e9, "GB/s")
        row("a*b+1, 64M floats, new output", 3.0 * n * 4 / median_time(lambda: a * b + 1, 9) / 1e9, "GB/s")
        row("a+b, 64M floats, new output", 3.0 * n * 4 / median_time(lambda: a + b, 9) / 1e9, "GB/s")
        row("sum of 64M floats", 1.0 * n * 4 / median_time(lambda: a.sum(), 9) / 1e9, "GB/s")
        m = torch.rand(8192, 8192, device=DEV)
        row("sum over rows of [8192,8192]", 1.0 * m.numel() * 4 / median_time(lambda: m.sum(0), 9) / 1e9, "GB/s")
        mt = m.t()
        row("relu of a transposed [8192,8192]", 2.0 * m.numel() * 4 / median_time(lambda: torch.relu(mt), 9) / 1e9, "GB/s")


def overhead_rows():
    a = torch.rand(1024, device=DEV)
    b = torch.rand(1024, device=DEV)
    row("1024-float add, per op (queued back to back)", median_time(lambda: a + b, 9, calibrate(lambda: a + b, 0.02)) * 1e6, "µs")

    def waited():
        a + b
        sync()
    row("1024-float add + synchronize, per op", median_time(waited, 9, calibrate(waited, 0.02)) * 1e6, "µs")


def mlp(sizes, act=nn.ReLU):
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(act())
    return nn.Sequential(*layers).to(DEV)


def mlp_step_rows(quick):
    def step_row(sizes, batch, adam, name, tf32=False):
        torch.backends.cuda.matmul.allow_tf32 = tf32
        torch.manual_seed(1)
        model = mlp(sizes)
        opt = torch.optim.Adam(model.parameters(), 1e-3) if adam else torch.optim.SGD(model.parameters(), 0.01, momentum=0.9)
        x = torch.randn(batch, sizes[0], device=DEV)
        y = torch.randint(0, sizes[-1], (batch,), device=DEV)

        def step():
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
        t = median_time(step, 7, None, 1.0)
        row(name, t * 1e3, "ms")
        torch.backends.cuda.matmul.allow_tf32 = False

    step_row([784, 256, 256, 10], 128, False, "MLP 784-256-256-10, batch 128, SGD step")
    step_row([784, 512, 256, 10], 128, True, "MLP 784-512-256-10, batch 128, Adam step")
    if not quick:
        step_row([1024, 4096, 4096, 10], 4096, True, "MLP 1024-4096-4096-10, batch 4096, Adam step")
        step_row([1024, 4096, 4096, 10], 4096, True, "MLP 1024-4096-4096-10, batch 4096, Adam step, TF32", tf32=True)


def read_idx(path):
    for p in (path, path + ".gz"):
        if os.path.exists(p):
            opener = gzip.open if p.endswith(".gz") else open
            with opener(p, "rb") as f:
                data = f.read()
            ndim = data[3]
            dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
            t = torch.frombuffer(bytearray(data[4 + 4 * ndim:]), dtype=torch.uint8)
            return t.reshape(dims)
    raise FileNotFoundError(path)


def training_rows(data_dir, epochs):
    """The `gpunet train` recipe: 784-512-256-10 ReLU, Adam lr 1e-3, cosine schedule, batch 128, data resident on the GPU."""
    xtr = read_idx(os.path.join(data_dir, "train-images-idx3-ubyte")).reshape(-1, 784).to(DEV).float() / 255
    ytr = read_idx(os.path.join(data_dir, "train-labels-idx1-ubyte")).to(DEV).long()
    xte = read_idx(os.path.join(data_dir, "t10k-images-idx3-ubyte")).reshape(-1, 784).to(DEV).float() / 255
    yte = read_idx(os.path.join(data_dir, "t10k-labels-idx1-ubyte")).to(DEV).long()
    torch.manual_seed(0)
    model = mlp([784, 512, 256, 10])
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs)
    n, batch = xtr.shape[0], 128
    g = torch.Generator(device=DEV)
    g.manual_seed(0)
    times = []
    for epoch in range(epochs):
        sync()
        t0 = time.perf_counter()
        model.train()
        perm = torch.randperm(n, device=DEV, generator=g)
        total_loss = torch.zeros((), device=DEV)
        for i in range(0, n, batch):
            idx = perm[i:i + batch]
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(xtr[idx]), ytr[idx])
            loss.backward()
            opt.step()
            total_loss += loss.detach() * idx.numel()
        sched.step()
        sync()
        dt = time.perf_counter() - t0
        times.append(dt)
        model.eval()
        with torch.no_grad():
            acc = (model(xte).argmax(1) == yte).float().mean().item()
        print(f"torch epoch {epoch + 1}/{epochs}  loss {total_loss.item() / n:.4f}  test acc {acc:.4f}  {n / dt:,.0f} samples/s  {dt:.2f} s", flush=True)
    best = min(times[1:]) if len(times) > 1 else times[0]
    row(f"Fashion-MNIST epoch ({n} samples), 784-512-256-10, batch 128, Adam", best, "s")
    row(f"  training samples/s ({n} samples, best epoch after the first)", n / best, "samples/s")
    row(f"  test accuracy after {epochs} epochs", acc, "fraction")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data")
    ap.add_argument("--json")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    if not torch.cuda.is_available():
        print("torch: no CUDA device", file=sys.stderr)
        return 2
    print(f"PyTorch {torch.__version__} on {torch.cuda.get_device_name(0)} (CUDA {torch.version.cuda})", flush=True)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    section("gemm", lambda: gemm_rows(args.quick))
    section("memory", memory_rows)
    section("overhead", overhead_rows)
    section("mlp", lambda: mlp_step_rows(args.quick))
    if args.data:
        section("training", lambda: training_rows(args.data, args.epochs))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"torch": torch.__version__, "device": torch.cuda.get_device_name(0), "rows": ROWS}, f, indent=1, ensure_ascii=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
