#!/usr/bin/env bash
# bench/gpu-check.sh — the one prepared check for a machine with an NVIDIA GPU and the .NET SDK.
# Runs start to finish in a few minutes (each step has a time limit):
#   1. env:    date, GPU name, nvidia-smi, driver, dotnet --info, git commit          → env.txt
#   2. build:  dotnet build -c Release (solution)                                      → build.log
#   3. tests:  GPUNET_DEVICE=cuda            (the conformance suite adds its cuda rows)
#              GPUNET_ILGPU_TEST_DEVICE=cuda (the ILGPU backend tests run on the GPU:
#              every GEMM kernel forced with its 16×16-thread config, cuBLAS, fused ops)
#              dotnet test --filter "Backends|TensorOps|Ilgpu"                         → tests-cuda.log, tests-cuda.trx
#   4. bench:  gpunet bench --device cuda --json bench-cuda.json                      → bench-cuda.txt
#   5. gemm:   gpunet bench --device cuda --gemm-compare --json gemm-compare.json     → gemm-compare.txt
#              cuBLAS vs the ILGPU register-tiled kernels at 1024/2048/4096 (target: Reg8 ≥ 50%
#              of cuBLAS at 4096). If this gpunet has no --gemm-compare, a throwaway console
#              project in $OUT calls GpuNet.Kernels.Ilgpu.GpuGemmComparison.Run directly.
#   6. summary.txt: one line per step (ok / FAILED / skipped) and the GEMM table.
#
# Usage: bench/gpu-check.sh [OUT_DIR]
#   OUT_DIR defaults to $OUT when set (the device runner provides one), else
#   bench/results/<UTC date>-<gpu>/. Environment knobs: SKIP_BUILD=1, SKIP_TESTS=1, SKIP_BENCH=1,
#   DOTNET=/path/to/dotnet, NO_RESTORE=1 (offline machine with a pre-filled NUGET_PACKAGES cache),
#   GEMM_SIZES="1024 2048 4096" (the fallback path only), GPU_CHECK_DEVICE=cuda (a dry run elsewhere:
#   GPU_CHECK_DEVICE=ilgpu-cpu GEMM_SIZES="32 64" SKIP_TESTS=1 bench/gpu-check.sh /tmp/gpu-check).
# Exit status: 0 when every step that ran passed, 1 otherwise. See bench/results/README.md.

set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
DOTNET="${DOTNET:-dotnet}"
DEV="${GPU_CHECK_DEVICE:-cuda}"
STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
GPU_NAME="$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1 | tr -c 'A-Za-z0-9\n' '-' | sed 's/-\+/-/g; s/-$//')"
OUT_DIR="${1:-${OUT:-$ROOT/bench/results/$STAMP-${GPU_NAME:-nogpu}}}"
mkdir -p "$OUT_DIR"
OUT_DIR="$(cd "$OUT_DIR" && pwd)"
SUMMARY="$OUT_DIR/summary.txt"
: > "$SUMMARY"
FAILED=0
RESTORE_FLAG=""
[ "${NO_RESTORE:-0}" = "1" ] && RESTORE_FLAG="--no-restore"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

note() { echo "$*" | tee -a "$SUMMARY"; }

# step NAME LIMIT_SECONDS LOGFILE COMMAND...: runs COMMAND with a time limit, output to LOGFILE.
step() {
  local name="$1" limit="$2" log="$3"; shift 3
  local t0=$SECONDS
  echo "== $name (limit ${limit}s) → $log"
  timeout --kill-after=10 "$limit" "$@" > "$OUT_DIR/$log" 2>&1
  local rc=$?
  local dt=$((SECONDS - t0))
  if [ $rc -eq 0 ]; then note "ok       $name (${dt}s)"
  elif [ $rc -eq 124 ] || [ $rc -eq 137 ]; then note "FAILED   $name: timed out after ${limit}s (see $log)"; FAILED=1
  else note "FAILED   $name: exit $rc (${dt}s, see $log)"; tail -n 15 "$OUT_DIR/$log" | sed 's/^/    /'; FAILED=1
  fi
  return $rc
}

# ---- 1. environment ------------------------------------------------------------------------------
{
  echo "date:   $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
  echo "host:   $(uname -a)"
  echo "commit: $(git -C "$ROOT" rev-parse HEAD 2>/dev/null || echo unknown) $(git -C "$ROOT" status --porcelain 2>/dev/null | grep -q . && echo '(dirty)')"
  echo "gpu:    $(nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,power.limit --format=csv,noheader 2>/dev/null || echo 'nvidia-smi not found')"
  echo
  nvidia-smi 2>&1 || true
  echo
  nvidia-smi -q -d CLOCK,POWER,PERFORMANCE 2>&1 | head -80 || true
  echo
  echo "cuBLAS libraries:"; (ldconfig -p 2>/dev/null | grep -i cublas) || echo "  (none in the ld cache)"
  echo
  "$DOTNET" --info 2>&1 | head -30
} > "$OUT_DIR/env.txt" 2>&1
note "gpu-check $STAMP on ${GPU_NAME:-no NVIDIA GPU found}; results in $OUT_DIR"
if ! command -v nvidia-smi > /dev/null; then note "warning  nvidia-smi not found: the cuda rows will fail to find a device"; fi
if ! command -v "$DOTNET" > /dev/null; then note "FAILED   no .NET SDK ($DOTNET)"; exit 1; fi

# ---- 2. build ------------------------------------------------------------------------------------
if [ "${SKIP_BUILD:-0}" != "1" ]; then
  step "build (Release)" 600 build.log "$DOTNET" build "$ROOT/GpuNet.sln" -c Release $RESTORE_FLAG -nologo || { note "stopping: nothing to test without a build"; exit 1; }
  # The solution may not list every project: make sure the CLI and the tests are built.
  step "build tests + cli" 600 build-extra.log bash -c "'$DOTNET' build '$ROOT/tests/GpuNet.Tests' -c Release $RESTORE_FLAG -nologo && '$DOTNET' build '$ROOT/src/Cli' -c Release $RESTORE_FLAG -nologo"
fi

# ---- 3. tests on the GPU ---------------------------------------------------------------------------
if [ "${SKIP_TESTS:-0}" != "1" ]; then
  step "tests on $DEV (Backends|TensorOps|Ilgpu)" 900 tests-cuda.log \
    env GPUNET_DEVICE="$DEV" GPUNET_ILGPU_TEST_DEVICE="$DEV" "$DOTNET" test "$ROOT/tests/GpuNet.Tests" -c Release --no-build \
      --filter "FullyQualifiedName~Backends|FullyQualifiedName~TensorOps|FullyQualifiedName~Ilgpu" \
      --logger "trx;LogFileName=$OUT_DIR/tests-cuda.trx"
  grep -E "^(Passed|Failed)!|Total tests|Passed:|Failed:" "$OUT_DIR/tests-cuda.log" | tail -3 | sed 's/^/    /' | tee -a "$SUMMARY"
  grep -E "^\s+Failed " "$OUT_DIR/tests-cuda.log" | head -20 | sed 's/^/    /' | tee -a "$SUMMARY"
fi

# ---- 4./5. benchmarks ------------------------------------------------------------------------------
GPUNET=("$DOTNET" run --project "$ROOT/src/Cli" -c Release --no-build --)
if [ "${SKIP_BENCH:-0}" != "1" ]; then
  step "gpunet bench --device $DEV" 600 bench-cuda.txt "${GPUNET[@]}" bench --device "$DEV" --json "$OUT_DIR/bench-cuda.json"

  if "${GPUNET[@]}" bench --help 2>&1 | grep -q -- "--gemm-compare"; then
    step "gemm compare (gpunet bench --gemm-compare)" 600 gemm-compare.txt "${GPUNET[@]}" bench --device "$DEV" --gemm-compare --json "$OUT_DIR/gemm-compare.json"
  else
    # Fallback: a throwaway console outside the solution that calls the public entry point.
    APP="$OUT_DIR/gemm-compare-app"
    mkdir -p "$APP"
    cat > "$APP/gemm-compare-app.csproj" <<EOF
<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup>
    <OutputType>Exe</OutputType>
    <TargetFramework>net10.0</TargetFramework>
    <ImplicitUsings>enable</ImplicitUsings>
    <Nullable>enable</Nullable>
    <ManagePackageVersionsCentrally>false</ManagePackageVersionsCentrally>
    <TreatWarningsAsErrors>false</TreatWarningsAsErrors>
    <GenerateDocumentationFile>false</GenerateDocumentationFile>
  </PropertyGroup>
  <ItemGroup><ProjectReference Include="$ROOT/src/Kernels/Kernels.csproj" /></ItemGroup>
</Project>
EOF
    cat > "$APP/Program.cs" <<'EOF'
using GpuNet;
using GpuNet.Kernels.Ilgpu;
var sizes = (Environment.GetEnvironmentVariable("GEMM_SIZES") ?? "1024 2048 4096").Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).ToArray();
var result = GpuGemmComparison.Run(Device.Get(Environment.GetEnvironmentVariable("GPU_CHECK_DEVICE") ?? "cuda"), sizes, progress: Console.Out);
Console.WriteLine(result.ToTable());
File.WriteAllText(args[0], result.ToJson());
return result.AllAgree ? 0 : 3;
EOF
    # Keep the repository's Directory.*.props out of the throwaway project when $OUT is inside the repository.
    printf '<Project></Project>\n' > "$APP/Directory.Build.props"
    printf '<Project><PropertyGroup><ManagePackageVersionsCentrally>false</ManagePackageVersionsCentrally></PropertyGroup></Project>\n' > "$APP/Directory.Packages.props"
    step "gemm compare (fallback console)" 600 gemm-compare.txt env GPU_CHECK_DEVICE="$DEV" "$DOTNET" run --project "$APP" -c Release $RESTORE_FLAG -- "$OUT_DIR/gemm-compare.json"
  fi
  if [ -f "$OUT_DIR/gemm-compare.txt" ]; then
    echo "GEMM (float32):" >> "$SUMMARY"
    grep -E "^\s+n +kernel|^\s*[0-9]+ +(CuBlas|Reg8|Reg4|Tile)|agree|DISAGREEMENT" "$OUT_DIR/gemm-compare.txt" | sed 's/^/    /' >> "$SUMMARY"
  fi
fi

echo
cat "$SUMMARY"
[ $FAILED -eq 0 ] && note "gpu-check: all steps passed" || note "gpu-check: some steps FAILED"
exit $FAILED
