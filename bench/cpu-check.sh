#!/usr/bin/env bash
# bench/cpu-check.sh — the CPU figures of the README's benchmark table, written to one folder.
#   bench-run1.txt/.json, bench-run2.txt/.json   gpunet bench (all groups), twice: the machine is shared
#   bench-gemm-skylakex.txt                       gpunet bench --only gemm against OpenBLAS's AVX-512 kernel
#   bench-mlp-alone.txt                           gpunet bench --only mlp in a process of its own (its peak RSS is the MLP's alone)
#   train-default.txt                             gpunet train (the README's first command) under /usr/bin/time -v
#   torch-run1.txt/.json, torch-run2.txt/.json   with --torch (or GPUNET_BENCH_TORCH=1) only: the TorchSharp-cpu
#                                                 baseline (bench/torch-baseline.sh), run after each gpunet bench run
# Each file starts with the UTC time, the commit and the load average.
# Usage: bench/cpu-check.sh [--torch] [OUT_DIR]   (default bench/results/<UTC date>-cpu-<host>/); about 3 minutes
# on 2 cores, about 9 with --torch. bench/torch-compare.py OUT_DIR prints the two side by side.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
TORCH="${GPUNET_BENCH_TORCH:-0}"
if [[ "${1:-}" == "--torch" ]]; then TORCH=1; shift; fi
OUT="${1:-bench/results/$(date -u +%F)-cpu-$(hostname -s)}"
mkdir -p "$OUT"
# A fresh machine lacks the baselines' inputs: say so rather than leave blank rows to be noticed later.
ldconfig -p 2>/dev/null | grep -q 'libopenblas.so.0 ' \
  || echo "cpu-check: OpenBLAS not found, the GEMM rows will have no baseline (apt-get install libopenblas0-pthread)" >&2
[ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] || [ -n "${GPUNET_DATA:-}" ] \
  || echo "cpu-check: Fashion-MNIST not found, gpunet train will use spirals and TorchSharp skips its epochs (apt-get install dataset-fashion-mnist)" >&2
dotnet build -c Release -v q -nologo > "$OUT/build.log" 2>&1
if [[ "$TORCH" == 1 ]]; then
  dotnet build bench/torchsharp/TorchBaseline.csproj -c Release -v q -nologo > "$OUT/torch-build.log" 2>&1 || { cat "$OUT/torch-build.log"; exit 1; }
fi
G=(dotnet src/Cli/bin/Release/net10.0/gpunet.dll)
stamp() { echo "# $(date -u +%FT%TZ) commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src || echo '+dirty') load: $(cat /proc/loadavg)"; }
for r in 1 2; do
  { stamp; "${G[@]}" bench --json "$OUT/bench-run$r.json"; } > "$OUT/bench-run$r.txt" 2>&1
  # Alternated with gpunet's runs, so both see the same moments of a shared machine.
  if [[ "$TORCH" == 1 ]]; then TORCH_SKIP_BUILD=1 TORCH_RUN_NAME="torch-run$r" bench/torch-baseline.sh "$OUT" > /dev/null; fi
done
{ stamp; OPENBLAS_CORETYPE=SkylakeX "${G[@]}" bench --only gemm; } > "$OUT/bench-gemm-skylakex.txt" 2>&1
{ stamp; "${G[@]}" bench --only mlp; } > "$OUT/bench-mlp-alone.txt" 2>&1
TIME=(); command -v /usr/bin/time > /dev/null && TIME=(/usr/bin/time -v)
{ stamp; "${TIME[@]}" "${G[@]}" train; } > "$OUT/train-default.txt" 2>&1
echo "wrote $OUT"
