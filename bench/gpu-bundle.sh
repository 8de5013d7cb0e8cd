#!/usr/bin/env bash
# bench/gpu-bundle.sh — builds, on a development machine with the .NET SDK, everything the GPU check
# (bench/gpu-check.sh) needs on a GPU machine that has no .NET and no network, into one git-ignored
# folder that travels with the source tree:
#
#   artifacts/gpu-bundle/gpunet-bundle.tar.xz   (~50 MB)
#     dotnet/   the .NET host and the Microsoft.NETCore.App runtime, copied from this SDK install
#     cli/      `gpunet` (framework-dependent publish, linux-x64), without ScottPlot's native
#               libraries (the check draws no plots)
#     tests/    the xunit v3 test executable (runs with `dotnet GpuNet.Tests.dll`, no SDK)
#     data/     Fashion-MNIST: the 10k test files and the first $TRAIN_SAMPLES training samples
#     MANIFEST  commit, date, sizes
#
# Usage: bench/gpu-bundle.sh [--check]
#   --check  then prove the bundle needs no SDK: unpack it and run the GPU check's dry run on
#            ilgpu-cpu under `env -i PATH=/usr/bin:/bin` (no dotnet on the path).
# Environment: TRAIN_SAMPLES (default 30000), FASHION_MNIST (default /usr/share/datasets/fashion-mnist).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
OUT="$ROOT/artifacts/gpu-bundle"
STAGE="$(mktemp -d)"
trap 'rm -rf "$STAGE"' EXIT
TRAIN_SAMPLES="${TRAIN_SAMPLES:-30000}"
FASHION="${FASHION_MNIST:-/usr/share/datasets/fashion-mnist}"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

DOTNET_HOME="$(dirname "$(readlink -f "$(command -v dotnet)")")"
RUNTIME_VERSION="$(dotnet --list-runtimes | awk '$1 == "Microsoft.NETCore.App" { v = $2 } END { print v }')"
[ -n "$RUNTIME_VERSION" ] || { echo "gpu-bundle: no Microsoft.NETCore.App runtime found" >&2; exit 1; }

echo "== publish gpunet and the tests (Release, linux-x64, framework-dependent)"
dotnet publish src/Cli -c Release -r linux-x64 --self-contained false -o "$STAGE/cli" -nologo -v quiet
dotnet publish tests/GpuNet.Tests -c Release -r linux-x64 --self-contained false -o "$STAGE/tests" -nologo -v quiet
# ScottPlot's natives (SkiaSharp, HarfBuzz) are most of the CLI's size; the check draws nothing.
rm -f "$STAGE"/cli/libSkiaSharp.so "$STAGE"/cli/libHarfBuzzSharp.so
rm -rf "$STAGE"/cli/*.pdb "$STAGE"/tests/*.pdb "$STAGE"/cli/*.xml "$STAGE"/tests/*.xml
# The VSTest adapter's code-coverage and dump tools (other platforms) are for `dotnet test`, not the executable.
rm -rf "$STAGE"/tests/{CodeCoverage,alpine,ubuntu,macos,x86,x64,arm64,InstrumentationEngine} "$STAGE"/tests/[a-z][a-z] "$STAGE"/tests/[a-z][a-z]-[A-Za-z][A-Za-z]*

echo "== runtime $RUNTIME_VERSION from $DOTNET_HOME"
mkdir -p "$STAGE/dotnet/host/fxr" "$STAGE/dotnet/shared/Microsoft.NETCore.App"
cp "$DOTNET_HOME/dotnet" "$STAGE/dotnet/"
cp -r "$DOTNET_HOME/host/fxr/$RUNTIME_VERSION" "$STAGE/dotnet/host/fxr/"
cp -r "$DOTNET_HOME/shared/Microsoft.NETCore.App/$RUNTIME_VERSION" "$STAGE/dotnet/shared/Microsoft.NETCore.App/"

echo "== data: Fashion-MNIST test set + first $TRAIN_SAMPLES training samples"
mkdir -p "$STAGE/data"
if [ -f "$FASHION/t10k-images-idx3-ubyte.gz" ]; then
  cp "$FASHION"/t10k-*.gz "$STAGE/data/"
  python3 - "$FASHION" "$STAGE/data" "$TRAIN_SAMPLES" <<'EOF'
import gzip, sys
src, dst, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
for name, item in (("train-images-idx3-ubyte", 784), ("train-labels-idx1-ubyte", 1)):
    with gzip.open(f"{src}/{name}.gz", "rb") as f:
        data = f.read()
    ndim = data[3]
    header = bytearray(data[:4 + 4 * ndim])
    count = min(n, int.from_bytes(header[4:8], "big"))
    header[4:8] = count.to_bytes(4, "big")  # an IDX file whose first dimension is the slice's length
    with gzip.open(f"{dst}/{name}.gz", "wb", compresslevel=9) as f:
        f.write(bytes(header) + data[4 + 4 * ndim: 4 + 4 * ndim + count * item])
EOF
else
  echo "gpu-bundle: no Fashion-MNIST in $FASHION (apt-get install dataset-fashion-mnist); the check will train on spirals" >&2
fi

{
  echo "commit:  $(git rev-parse HEAD)$(git status --porcelain | grep -q . && echo ' (dirty)')"
  echo "built:   $(date -u '+%Y-%m-%d %H:%M:%S UTC') on $(uname -m)"
  echo "runtime: Microsoft.NETCore.App $RUNTIME_VERSION"
  echo "train:   $TRAIN_SAMPLES Fashion-MNIST training samples"
  du -sh "$STAGE"/* | sed 's|'"$STAGE"'/||'
} > "$STAGE/MANIFEST"

echo "== pack"
mkdir -p "$OUT"
rm -f "$OUT/gpunet-bundle.tar.xz"
tar -C "$STAGE" -cf - . | xz -T0 -6 > "$OUT/gpunet-bundle.tar.xz"
cat "$STAGE/MANIFEST"
echo "bundle: $OUT/gpunet-bundle.tar.xz ($(du -h "$OUT/gpunet-bundle.tar.xz" | cut -f1)); source tree $(git ls-files -z | xargs -0 du -cb | tail -1 | cut -f1) bytes"

if [ "${1:-}" = "--check" ]; then
  # Out of reach for real: in a private mount namespace the SDK's folder is covered by an empty one,
  # and the environment is emptied; only the bundle's own runtime can run anything.
  DRY="$(mktemp -d)"
  mkdir -p "$DRY/empty"
  SDK_DIR="$DOTNET_HOME"
  echo "== dry run without the SDK ($SDK_DIR hidden, env -i PATH=/usr/bin:/bin): GPU_CHECK_DEVICE=ilgpu-cpu bench/gpu-check.sh"
  if unshare -m true 2>/dev/null; then
    unshare -m bash -c "mount --bind '$DRY/empty' '$SDK_DIR' || exit 1
      if dotnet --version >/dev/null 2>&1; then echo 'dotnet is still reachable' >&2; exit 1; fi
      exec env -i PATH=/usr/bin:/bin HOME='$DRY' GPU_CHECK_DEVICE=ilgpu-cpu bash '$ROOT/bench/gpu-check.sh' '$DRY/out'"
  else
    echo "(no mount namespaces here: dotnet is shadowed on the PATH instead)"
    mkdir -p "$DRY/bin"
    printf '#!/bin/sh\necho "dotnet is out of reach in this dry run" >&2\nexit 127\n' > "$DRY/bin/dotnet"
    chmod +x "$DRY/bin/dotnet"
    env -i PATH="$DRY/bin:/usr/bin:/bin" HOME="$DRY" GPU_CHECK_DEVICE=ilgpu-cpu bash "$ROOT/bench/gpu-check.sh" "$DRY/out"
  fi
  echo "dry-run results in $DRY/out"
fi
