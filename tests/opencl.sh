#!/usr/bin/env bash
# The conformance suites (backend ops, tensor ops, autograd, ILGPU kernels) on an OpenCL device alone,
# e.g. PoCL on a machine without a GPU: apt-get install pocl-opencl-icd ocl-icd-libopencl1.
# GPUNET_OPENCL_FORCE=1 lets ILGPU use a device it would skip (PoCL lacks the generic address space);
# GPUNET_TEST_DEVICES=opencl runs each device theory on OpenCL only. Collections run one at a time:
# PoCL already spreads every kernel over all cores.
set -uo pipefail
cd "$(dirname "$0")/.."
dotnet build tests/GpuNet.Tests -c Release -nologo -v quiet > /dev/null || exit 1
export GPUNET_OPENCL_FORCE=1 GPUNET_TEST_DEVICES="${GPUNET_TEST_DEVICES:-opencl}" GPUNET_DEVICE="${GPUNET_DEVICE:-opencl}" GPUNET_ILGPU_TEST_DEVICE="${GPUNET_ILGPU_TEST_DEVICE:-opencl}"
exec dotnet tests/GpuNet.Tests/bin/Release/net10.0/GpuNet.Tests.dll -noColor -parallel none \
  -namespace GpuNet.Tests.Backends -namespace GpuNet.Tests.TensorOps -namespace GpuNet.Tests.AutogradTests -namespace GpuNet.Tests.Ilgpu \
  -class- GpuNet.Tests.Backends.SuiteSelfTests -class- GpuNet.Tests.Backends.ReferenceOpsSelfTests "$@"
