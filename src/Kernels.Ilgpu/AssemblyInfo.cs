using System.Runtime.CompilerServices;

// ILGPU emits its kernel launchers into a dynamic assembly named "ILGPURuntime". Our kernel
// parameter structs and op structs are internal, and without this the CPU accelerator fails at
// launch with "Access is denied: 'GpuNet.Kernels.Ilgpu.Dims8'" (the PTX/OpenCL compilers alone do not notice).
[assembly: InternalsVisibleTo("ILGPURuntime")]
