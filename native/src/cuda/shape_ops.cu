// Data movement on the cuda device: strided copies (transpose, slice, pad, concat, tile, reverse
// and broadcasts are all one strided copy), gather and one-hot. Contiguous copies go to the copy
// engine (cudaMemcpyAsync device to device).
#include "../device/space.h"
#include "launch.cuh"

namespace bp {
namespace {

template <class T>
void stridedCopy(CudaDevice& d, Space s, const T* x, T* y) {
  const i64 n = numel(s);
  if (n == 0) return;
  collapse(s, 2);
  if (s.nd == 1 && s.s0[0] == 1 && s.s1[0] == 1) {
    d.copy(y, x, static_cast<size_t>(n) * sizeof(T));
    return;
  }
  gpu::launch(d.stream(), n, gpu::CopyBody<T>{x, y, s});
}

}  // namespace

void CudaDevice::copyStrided(const CopyParams& p) {
  if (p.esize == 4) stridedCopy(*this, p.space, static_cast<const int32_t*>(p.x) + p.xoff, static_cast<int32_t*>(p.y) + p.yoff);
  else stridedCopy(*this, p.space, static_cast<const uint8_t*>(p.x) + p.xoff, static_cast<uint8_t*>(p.y) + p.yoff);
}

void CudaDevice::gather(const GatherParams& p) {
  const i64 n = p.batch * p.outer * p.nIdx * p.inner;
  if (n == 0) return;
  if (p.esize == 4) {
    gpu::launch(stream(), n, gpu::GatherBody<int32_t>{static_cast<const int32_t*>(p.x), p.indices, static_cast<int32_t*>(p.y), p.outer, p.axisLen, p.nIdx, p.inner});
  } else {
    gpu::launch(stream(), n, gpu::GatherBody<uint8_t>{static_cast<const uint8_t*>(p.x), p.indices, static_cast<uint8_t*>(p.y), p.outer, p.axisLen, p.nIdx, p.inner});
  }
}

void CudaDevice::oneHot(const OneHotParams& p) {
  gpu::launch(stream(), p.n * p.depth, gpu::OneHotBody{p.t, p.indices, p.y, p.depth, p.on, p.off});
}

}  // namespace bp
