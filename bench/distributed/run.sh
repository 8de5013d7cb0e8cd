#!/usr/bin/env bash
# The README's all-reduce figures: GpuNet's binding (a float32 CPU tensor, in place) against a C program calling
# Open MPI directly, same sizes and timing, 2 processes on this machine. Needs openmpi-bin and libopenmpi-dev.
set -euo pipefail
cd "$(dirname "$0")/../.."
dotnet build tests/GpuNet.MpiWorker -c Release -nologo -v q >/dev/null
out=$(mktemp -d)
mpicc -O2 -o "$out/allreduce_bw" bench/distributed/allreduce_bw.c
flags=(--oversubscribe --allow-run-as-root -np "${NP:-2}")
mpirun "${flags[@]}" "$out/allreduce_bw"
mpirun "${flags[@]}" dotnet tests/GpuNet.MpiWorker/bin/Release/net10.0/GpuNet.MpiWorker.dll bandwidth
rm -rf "$out"
