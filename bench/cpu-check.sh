#!/usr/bin/env bash
# bench/cpu-check.sh — the CPU figures of the README's benchmark table, written to one folder.
#   bench-run1.txt/.json, bench-run2.txt/.json   gpunet bench (all groups), twice: the machine is shared
#   bench-gemm-skylakex.txt                       gpunet bench --only gemm against OpenBLAS's AVX-512 kernel
#   bench-mlp-alone.txt                           gpunet bench --only mlp in a process of its own (its peak RSS is the MLP's alone)
#   train-default.txt                             gpunet train (the README's first command) under /usr/bin/time -v
# Each file starts with the UTC time, the commit and the load average.
# Usage: bench/cpu-check.sh [OUT_DIR]   (default bench/results/<UTC date>-cpu-<host>/); about 3 minutes on 2 cores.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
OUT="${1:-bench/results/$(date -u +%F)-cpu-$(hostname -s)}"
mkdir -p "$OUT"
dotnet build -c Release -v q -nologo > "$OUT/build.log" 2>&1
G=(dotnet src/Cli/bin/Release/net10.0/gpunet.dll)
stamp() { echo "# $(date -u +%FT%TZ) commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src || echo '+dirty') load: $(cat /proc/loadavg)"; }
for r in 1 2; do { stamp; "${G[@]}" bench --json "$OUT/bench-run$r.json"; } > "$OUT/bench-run$r.txt" 2>&1; done
{ stamp; OPENBLAS_CORETYPE=SkylakeX "${G[@]}" bench --only gemm; } > "$OUT/bench-gemm-skylakex.txt" 2>&1
{ stamp; "${G[@]}" bench --only mlp; } > "$OUT/bench-mlp-alone.txt" 2>&1
TIME=(); command -v /usr/bin/time > /dev/null && TIME=(/usr/bin/time -v)
{ stamp; "${TIME[@]}" "${G[@]}" train; } > "$OUT/train-default.txt" 2>&1
echo "wrote $OUT"
