// Built instead of the cuda device where nvcc was not found: the addon then has the cpu device only.
#include "../device/device.h"

namespace bp {

std::unique_ptr<Device> makeCudaDevice(std::string* error) {
  if (error) *error = "this build of the native addon has no cuda device (nvcc was not found when it was built; run `npm run build:native` where the CUDA toolkit is installed)";
  return nullptr;
}

}  // namespace bp
