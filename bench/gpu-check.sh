#!/usr/bin/env bash
# bench/gpu-check.sh — the one prepared check for a GPU machine that has no .NET and no network.
# Build the bundle first on a development machine (bench/gpu-bundle.sh), copy it over with the
# source tree, then run this one command there. It unpacks the bundle and runs, each step with its
# own time limit so one hang cannot eat the others (about 7 minutes in all on an H200):
#
#   1. env       nvidia-smi, driver, CUDA libraries, the bundle's manifest and runtime    → env.txt
#   2. tests     the backend, tensor-op and autograd conformance suites on the device alone,
#                and the ILGPU kernel tests forced onto it (every GEMM kernel with its GPU
#                config, cuBLAS, fused ops)                                               → tests.log
#   3. gemm      cuBLAS (FP32 and TF32) against GpuNet's ILGPU GEMM kernels, 1024/2048/4096 → bench.txt, gemm.json
#   4. bench     gpunet bench --device $DEV --json (GEMM, memory-bound ops against a device
#                copy, launch overhead, MLP steps with launches/syncs/copies per step)    → bench.txt, bench.json
#   5. train     gpunet train on Fashion-MNIST (bundled slice), FP32                     → train.txt
#   6. torch     PyTorch on the same rows and the same training recipe (same-run baseline) → torch.txt
#   5b. train    the same run with --tf32                                                → train.txt
#   7. summary   one line per step, the test totals and the headline rows side by side  → summary.txt
#
# At most 8 files, all in OUT_DIR: $1, else $OUT (set by the device runner), else
# bench/results/<UTC date>-<gpu>/. Exit status 0 when every step passed.
#
# Dry run on a development machine (no GPU, and no SDK needed):
#   GPU_CHECK_DEVICE=ilgpu-cpu bench/gpu-check.sh /tmp/gpu-check
# which runs the same steps on ILGPU's CPU accelerator with small sizes (bench/gpu-bundle.sh --check
# does it with the SDK hidden). Knobs: GPUNET_BUNDLE (the .tar.xz), GPU_CHECK_EPOCHS (default 3),
# SKIP_TESTS=1, SKIP_BENCH=1, SKIP_TRAIN=1, SKIP_TORCH=1.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEV="${GPU_CHECK_DEVICE:-cuda}"
BUNDLE="${GPUNET_BUNDLE:-$ROOT/artifacts/gpu-bundle/gpunet-bundle.tar.xz}"
EPOCHS="${GPU_CHECK_EPOCHS:-3}"
STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
GPU_NAME="$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1 | tr -c 'A-Za-z0-9\n' '-' | sed 's/-\+/-/g; s/-$//')"
OUT_DIR="${1:-${OUT:-$ROOT/bench/results/$STAMP-${GPU_NAME:-nogpu}}}"
mkdir -p "$OUT_DIR"
OUT_DIR="$(cd "$OUT_DIR" && pwd)"
SUMMARY="$OUT_DIR/summary.txt"
: > "$SUMMARY"
FAILED=0
T_START=$SECONDS

note() { echo "$*" | tee -a "$SUMMARY"; }

# step NAME LIMIT LOG COMMAND...: runs COMMAND with a time limit, appending its output to LOG.
step() {
  local name="$1" limit="$2" log="$3"; shift 3
  local t0=$SECONDS
  echo "== $name (limit ${limit}s) → $(basename "$log")"
  echo "==== $name: $*" >> "$log"
  timeout --kill-after=10 "$limit" "$@" >> "$log" 2>&1
  local rc=$?
  local dt=$((SECONDS - t0))
  if [ $rc -eq 0 ]; then note "ok       $name (${dt}s)"
  elif [ $rc -eq 124 ] || [ $rc -eq 137 ]; then note "FAILED   $name: timed out after ${limit}s (see $(basename "$log"))"; FAILED=1
  else note "FAILED   $name: exit $rc (${dt}s, see $(basename "$log"))"; tail -n 12 "$log" | sed 's/^/    /'; FAILED=1
  fi
  return $rc
}

# ---- unpack --------------------------------------------------------------------------------------
if [ ! -f "$BUNDLE" ]; then
  note "FAILED   no bundle at $BUNDLE: run bench/gpu-bundle.sh on a machine with the .NET SDK first"
  exit 1
fi
WORK="$(mktemp -d "${TMPDIR:-/tmp}/gpunet-check.XXXXXX")"
if command -v xz > /dev/null; then
  xz -dc "$BUNDLE" | tar -C "$WORK" -xf -
else
  python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' "$BUNDLE" "$WORK"
fi || { note "FAILED   could not unpack $BUNDLE"; exit 1; }
export DOTNET_ROOT="$WORK/dotnet"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
# The GPU machine may lack ICU; GpuNet needs no culture data.
export DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1
DOTNET="$WORK/dotnet/dotnet"
GPUNET=("$DOTNET" "$WORK/cli/gpunet.dll")
TESTS=("$DOTNET" "$WORK/tests/GpuNet.Tests.dll")

# cuBLAS comes with the CUDA toolkit or with PyTorch's wheels; put whichever is there on the loader's
# path (GpuNet itself also finds the driver as libcuda.so.1, so no development symlinks are needed).
for dir in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib \
           $(python3 -c 'import nvidia, os; print(" ".join(os.path.join(p, sub, "lib") for p in nvidia.__path__ for sub in ("cu13", "cublas", "cuda_runtime")))' 2>/dev/null); do
  if [ -d "$dir" ] && ls "$dir"/libcublas.so* > /dev/null 2>&1; then export LD_LIBRARY_PATH="$dir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"; break; fi
done

# On the CPU accelerator (a dry run) everything runs at simulator speed: small sizes only.
if [ "$DEV" = "ilgpu-cpu" ]; then DRY=1; else DRY=0; fi

# ---- 1. environment ------------------------------------------------------------------------------
{
  echo "date:    $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
  echo "host:    $(uname -a)"
  echo "source:  $(git -C "$ROOT" rev-parse HEAD 2>/dev/null || echo 'no git') $(git -C "$ROOT" status --porcelain 2>/dev/null | grep -q . && echo '(dirty)')"
  echo "device:  $DEV"
  echo "gpu:     $(nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,power.limit --format=csv,noheader 2>/dev/null || echo 'nvidia-smi not found')"
  echo "LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}"
  echo; echo "--- bundle"; cat "$WORK/MANIFEST"
  echo; echo "--- runtime"; "$DOTNET" --list-runtimes 2>&1
  echo; echo "--- nvidia-smi"; nvidia-smi 2>&1 || true
  echo; nvidia-smi -q -d CLOCK,PERFORMANCE 2>&1 | head -60 || true
  echo; echo "--- CUDA libraries"; (ldconfig -p 2>/dev/null | grep -E 'libcuda\.|libcublas\.') || echo "  (none in the ld cache)"
  echo; echo "--- gpunet devices"; timeout 60 "${GPUNET[@]}" devices 2>&1
} > "$OUT_DIR/env.txt" 2>&1
note "gpu-check $STAMP on ${GPU_NAME:-no NVIDIA GPU}, device $DEV; bundle $(head -1 "$WORK/MANIFEST" | sed 's/commit: *//')"
grep -A3 -- "--- gpunet devices" "$OUT_DIR/env.txt" | tail -n +2 | sed 's/^/    /' | tee -a "$SUMMARY"

# ---- 2. tests on the device ----------------------------------------------------------------------
if [ "${SKIP_TESTS:-0}" != "1" ]; then
  # GPUNET_TEST_DEVICES=<dev>: the conformance rows run on the device alone (the CPU rows ran in CI).
  step "tests on $DEV (Backends, TensorOps, AutogradTests, Ilgpu)" 150 "$OUT_DIR/tests.log" \
    env GPUNET_DEVICE="$DEV" GPUNET_TEST_DEVICES="$DEV" GPUNET_ILGPU_TEST_DEVICE="$DEV" "${TESTS[@]}" -noColor -noLogo \
      -namespace GpuNet.Tests.Backends -namespace GpuNet.Tests.TensorOps -namespace GpuNet.Tests.AutogradTests -namespace GpuNet.Tests.Ilgpu \
      -class- GpuNet.Tests.Backends.SuiteSelfTests -class- GpuNet.Tests.Backends.ReferenceOpsSelfTests
  grep -E "Total: [0-9]+" "$OUT_DIR/tests.log" | tail -1 | sed 's/^ */    /' | tee -a "$SUMMARY"
  grep -E "\[FAIL\]" "$OUT_DIR/tests.log" | head -25 | sed 's/^ */    /' | tee -a "$SUMMARY"
fi

# ---- 3./4. GEMM comparison and the headline benchmark ----------------------------------------------
if [ "${SKIP_BENCH:-0}" != "1" ]; then
  if [ $DRY = 1 ]; then SIZES=(--sizes 16 32); QUICK=(--quick --only gemm overhead); else SIZES=(); QUICK=(); fi
  step "gemm compare: cuBLAS vs ILGPU kernels" 75 "$OUT_DIR/bench.txt" \
    "${GPUNET[@]}" bench --device "$DEV" --gemm-compare "${SIZES[@]}" --json "$OUT_DIR/gemm.json"
  step "gpunet bench --device $DEV" 150 "$OUT_DIR/bench.txt" \
    "${GPUNET[@]}" bench --device "$DEV" "${QUICK[@]}" --json "$OUT_DIR/bench.json"
fi

# ---- 5. training ---------------------------------------------------------------------------------
if [ "${SKIP_TRAIN:-0}" != "1" ]; then
  DATA="$WORK/data"
  [ -f "$DATA/train-images-idx3-ubyte.gz" ] || DATA=spirals
  if [ $DRY = 1 ]; then TRAIN=(--epochs 1 --limit 256 --hidden 32); else TRAIN=(--epochs "$EPOCHS"); fi
  step "gpunet train --device $DEV (float32)" 75 "$OUT_DIR/train.txt" "${GPUNET[@]}" train --device "$DEV" --data "$DATA" "${TRAIN[@]}"
fi

# ---- 6. PyTorch on the same rows -----------------------------------------------------------------
if [ "${SKIP_TORCH:-0}" != "1" ]; then
  if python3 -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2> /dev/null; then
    step "PyTorch baseline" 100 "$OUT_DIR/torch.txt" env PYTHONUNBUFFERED=1 python3 "$ROOT/bench/gpu/torch_baseline.py" \
      --data "$WORK/data" --epochs "$EPOCHS" --json "$OUT_DIR/torch.json"
  else
    note "skipped  PyTorch baseline: no python3 with CUDA-enabled torch"
  fi
fi

# ---- 5b. training with TF32 (last: the least needed if time runs short) ------------------------------
if [ "${SKIP_TRAIN:-0}" != "1" ] && [ $DRY = 0 ]; then
  step "gpunet train --device $DEV --tf32" 75 "$OUT_DIR/train.txt" "${GPUNET[@]}" train --device "$DEV" --data "$DATA" "${TRAIN[@]}" --tf32
fi

# ---- 7. summary: GpuNet and PyTorch side by side -------------------------------------------------
{
  echo
  if [ -f "$OUT_DIR/gemm.json" ]; then
    echo "GEMM float32 (gemm.json):"
    grep -E "^\s+n +kernel|^\s*[0-9]+ +[A-Za-z0-9]+ +[0-9.]+ " "$OUT_DIR/bench.txt" | sed 's/^/    /'
  fi
  python3 "$ROOT/bench/gpu/compare.py" "$OUT_DIR/bench.json" "$OUT_DIR/torch.json" 2>&1 || true
  echo
  echo "training:"
  grep -E "^(epoch|test accuracy|device work|model|Fashion)" "$OUT_DIR/train.txt" 2>/dev/null | sed 's/^/    /'
  grep -E "^torch epoch" "$OUT_DIR/torch.txt" 2>/dev/null | sed 's/^/    /'
} >> "$SUMMARY"
# torch.json travels inside torch.txt to stay within 8 files.
if [ -f "$OUT_DIR/torch.json" ]; then { echo "==== torch.json"; cat "$OUT_DIR/torch.json"; } >> "$OUT_DIR/torch.txt"; rm -f "$OUT_DIR/torch.json"; fi
rm -rf "$WORK"
echo
cat "$SUMMARY"
[ $FAILED -eq 0 ] && note "gpu-check: all steps passed in $((SECONDS - T_START)) s" || note "gpu-check: some steps FAILED ($((SECONDS - T_START)) s)"
exit $FAILED
