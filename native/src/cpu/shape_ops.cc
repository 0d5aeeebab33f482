// Data-movement kernels on the cpu: strided copies (transpose, slice, pad, concat, tile, reverse
// and broadcasts are all one strided copy), gather, one-hot and softmax.
#include <cmath>
#include <cstring>

#include "../device/space.h"
#include "../kernels/elementwise.h"
#include "cpu_device.h"

namespace bp {
namespace {

template <class T>
void stridedCopy(ThreadPool& pool, Space s, const T* x, T* y) {
  collapse(s, 2);
  const int inner = s.nd - 1;
  const i64 cols = s.shape[inner];
  const i64 rows = numel(s) / cols;
  const i64 sx = s.s0[inner], sy = s.s1[inner];
  pool.parallelFor(rows, (kGrain + cols - 1) / cols, [&](i64 r0, i64 r1) {
    Cursor cur(s, inner, r0);
    for (i64 r = r0; r < r1; r++, cur.next(s)) {
      const T* xr = x + cur.off[0];
      T* yr = y + cur.off[1];
      if (sx == 1 && sy == 1) std::memcpy(yr, xr, static_cast<size_t>(cols) * sizeof(T));
      else if (sx == 0) {
        const T v = xr[0];
        for (i64 j = 0; j < cols; j++) yr[j * sy] = v;
      } else {
        for (i64 j = 0; j < cols; j++) yr[j * sy] = xr[j * sx];
      }
    }
  });
}

}  // namespace

void CpuDevice::copyStrided(const CopyParams& p) {
  if (p.esize == 4) stridedCopy(pool_, p.space, static_cast<const int32_t*>(p.x) + p.xoff, static_cast<int32_t*>(p.y) + p.yoff);
  else stridedCopy(pool_, p.space, static_cast<const uint8_t*>(p.x) + p.xoff, static_cast<uint8_t*>(p.y) + p.yoff);
}

void CpuDevice::gather(const GatherParams& p) {
  const i64 rows = p.batch * p.outer * p.nIdx;
  const size_t chunk = static_cast<size_t>(p.inner) * p.esize;
  const char* x = static_cast<const char*>(p.x);
  char* y = static_cast<char*>(p.y);
  pool_.parallelFor(rows, (kGrain + p.inner - 1) / p.inner, [&](i64 r0, i64 r1) {
    for (i64 r = r0; r < r1; r++) {
      const i64 j = r % p.nIdx;
      const i64 bo = r / p.nIdx;  // batch·outer + outer
      const i64 b = bo / p.outer;
      const i64 idx = p.indices[b * p.nIdx + j];
      // Indices were range-checked by the caller; an out-of-range one reads zeros, as tfjs's cpu backend.
      if (idx < 0 || idx >= p.axisLen) std::memset(y + r * chunk, 0, chunk);
      else std::memcpy(y + r * chunk, x + (bo * p.axisLen + idx) * chunk, chunk);
    }
  });
}

void CpuDevice::oneHot(const OneHotParams& p) {
  pool_.parallelFor(p.n, (kGrain + p.depth - 1) / p.depth, [&](i64 a, i64 b) {
    for (i64 i = a; i < b; i++) {
      const i64 hot = p.indices[i];
      for (i64 j = 0; j < p.depth; j++) {
        const float v = j == hot ? p.on : p.off;
        if (p.t == DType::F32) static_cast<float*>(p.y)[i * p.depth + j] = v;
        else if (p.t == DType::I32) static_cast<int32_t*>(p.y)[i * p.depth + j] = static_cast<int32_t>(v);
        else static_cast<uint8_t*>(p.y)[i * p.depth + j] = v != 0.0f;
      }
    }
  });
}

void CpuDevice::softmax(const SoftmaxParams& p) {
  pool_.parallelFor(p.rows, (kGrain + p.cols - 1) / p.cols, [&](i64 a, i64 b) {
    for (i64 r = a; r < b; r++) {
      const float* x = p.x + r * p.cols;
      float* y = p.y + r * p.cols;
      float mx = -INFINITY;
      for (i64 j = 0; j < p.cols; j++) mx = x[j] > mx ? x[j] : mx;
      double sum = 0.0;
      for (i64 j = 0; j < p.cols; j++) {
        y[j] = std::exp(x[j] - mx);
        sum += y[j];
      }
      const float inv = static_cast<float>(1.0 / sum);
      for (i64 j = 0; j < p.cols; j++) y[j] *= inv;
    }
  });
}

}  // namespace bp
