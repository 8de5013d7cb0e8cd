#!/usr/bin/env bash
# bench/torch-baseline.sh — the same-run TorchSharp-cpu baseline of gpunet bench's CPU rows (bench/torchsharp).
#   torch-run.txt/.json   every group: gemm, memory, overhead, mlp, and 3 Fashion-MNIST epochs (when the data is found)
# The file starts with the UTC time, the commit and the load average, as bench/cpu-check.sh's do.
# Usage: bench/torch-baseline.sh [OUT_DIR] [-- TorchBaseline args, e.g. --only mlp epoch]
#   (default OUT_DIR bench/results/<UTC date>-cpu-<host>/; about 2 minutes on 2 cores.)
# The first build restores TorchSharp-cpu 0.107.0 with libtorch 2.10 (about 1.2 GB in the NuGet cache); the
# project is not part of GpuNet.sln, so the root build, the tests and CI never download it.
# TORCH_RUN_NAME (default torch-run) names the output files; bench/cpu-check.sh --torch sets it per run.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
OUT="bench/results/$(date -u +%F)-cpu-$(hostname -s)"
if [[ $# -gt 0 && "$1" != "--" ]]; then OUT="$1"; shift; fi
[[ "${1:-}" == "--" ]] && shift
NAME="${TORCH_RUN_NAME:-torch-run}"
mkdir -p "$OUT"
# TORCH_SKIP_BUILD=1: already built (cpu-check.sh builds once, so no build runs between its timed runs).
if [[ "${TORCH_SKIP_BUILD:-0}" != 1 ]]; then
  dotnet build bench/torchsharp/TorchBaseline.csproj -c Release -v q -nologo > "$OUT/torch-build.log" 2>&1 || { cat "$OUT/torch-build.log"; exit 1; }
fi
stamp() { echo "# $(date -u +%FT%TZ) commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src bench/torchsharp || echo '+dirty') load: $(cat /proc/loadavg)"; }
{ stamp; dotnet bench/torchsharp/bin/Release/net10.0/TorchBaseline.dll --json "$OUT/$NAME.json" "$@"; } > "$OUT/$NAME.txt" 2>&1
echo "wrote $OUT/$NAME.txt"
