#pragma once
#include <string>
#include <vector>

namespace bp {

struct ProbeResult {
  bool ok = false;
  int devices = 0;
  int runtimeVersion = 0;
  int driverVersion = 0;
  std::string error;
  std::vector<std::string> names;
  std::vector<int> computeCapability;
};

ProbeResult probe();
std::string cublasLibrary();
/** out = a + b on device 0; returns "" or the CUDA error. */
std::string deviceAdd(const float* a, const float* b, float* out, int n);

}  // namespace bp
