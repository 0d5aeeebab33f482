// The one spelling of a kernel launch in the cuda device's sources: `BP_LAUNCH(grid, block,
// stream, kernel)(args…)`. Under nvcc it is `kernel<<<grid, block, 0, stream>>>(args…)`; in the
// host emulation build (emulation/cuda_runtime.h, BP_CUDA_EMULATION) it runs the kernel's blocks
// and threads on the host, so the device's logic can be tested where there is no GPU.
#pragma once

#ifdef BP_CUDA_EMULATION
#define BP_LAUNCH(grid, block, stream, ...) ::bp::emu::launcher((grid), (block), __VA_ARGS__)
#else
#define BP_LAUNCH(grid, block, stream, ...) __VA_ARGS__<<<(grid), (block), 0, (stream)>>>
#endif
