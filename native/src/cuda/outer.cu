// A Linear layer's per-sample weight gradients and their sum (kernels/outer.h) on the cuda device:
// one thread per element (v, o, j) of the sum, walking the samples in order — the cpu's body,
// reads of x and writes of the rows coalesced along j.
#include "launch.cuh"

namespace bp {
namespace gpu {

struct OuterProductsBody {
  OuterParams p;
  __device__ void operator()(i64 i) const {
    const i64 j = i % p.I, r = i / p.I;
    outerProductsElement(p, r / p.O, r % p.O, j);
  }
};

}  // namespace gpu

void CudaDevice::outerProducts(const OuterParams& p) {
  gpu::launch(stream(), p.v * p.O * p.I, gpu::OuterProductsBody{p});
}

}  // namespace bp
