// Device probe and a smoke-test kernel of the `cuda` backend's native addon.
// cudart is linked statically, so loading the addon never fails on a machine without CUDA: the
// probe reports "insufficient driver" / "no device" instead (../shared/STACK.md).
#include <cuda_runtime.h>
#include <dlfcn.h>
#include <string>
#include <vector>

#include "kernel_launch.h"
#include "probe.h"

namespace bp {

ProbeResult probe() {
  ProbeResult r;
  cudaRuntimeGetVersion(&r.runtimeVersion);
  cudaDriverGetVersion(&r.driverVersion);
  int count = 0;
  cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    r.error = std::string(cudaGetErrorName(err)) + ": " + cudaGetErrorString(err);
    return r;
  }
  r.devices = count;
  for (int i = 0; i < count; i++) {
    cudaDeviceProp prop;
    if (cudaGetDeviceProperties(&prop, i) == cudaSuccess) {
      r.names.push_back(prop.name);
      r.computeCapability.push_back(prop.major * 10 + prop.minor);
    }
  }
  r.ok = count > 0;
  if (!r.ok) r.error = "no CUDA device";
  return r;
}

// NOTE: cuBLAS is opened at run time so the addon builds where only nvcc + cudart exist.
std::string cublasLibrary() {
  for (const char* name : {"libcublas.so.13", "libcublas.so.12"}) {
    void* handle = dlopen(name, RTLD_LAZY | RTLD_LOCAL);
    if (handle) {
      dlclose(handle);
      return name;
    }
  }
  return "";
}

__global__ void addKernel(const float* a, const float* b, float* out, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) out[i] = a[i] + b[i];
}

std::string deviceAdd(const float* a, const float* b, float* out, int n) {
  float *da = nullptr, *db = nullptr, *dout = nullptr;
  size_t bytes = static_cast<size_t>(n) * sizeof(float);
  cudaError_t err = cudaMalloc(&da, bytes);
  if (err == cudaSuccess) err = cudaMalloc(&db, bytes);
  if (err == cudaSuccess) err = cudaMalloc(&dout, bytes);
  if (err == cudaSuccess) err = cudaMemcpy(da, a, bytes, cudaMemcpyHostToDevice);
  if (err == cudaSuccess) err = cudaMemcpy(db, b, bytes, cudaMemcpyHostToDevice);
  if (err == cudaSuccess) {
    BP_LAUNCH((n + 255) / 256, 256, 0, addKernel)(da, db, dout, n);
    err = cudaGetLastError();
  }
  if (err == cudaSuccess) err = cudaMemcpy(out, dout, bytes, cudaMemcpyDeviceToHost);
  cudaFree(da);
  cudaFree(db);
  cudaFree(dout);
  return err == cudaSuccess ? "" : std::string(cudaGetErrorName(err)) + ": " + cudaGetErrorString(err);
}

}  // namespace bp
