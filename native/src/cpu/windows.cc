// Sliding-window kernels on the cpu: rows and planes of the shared bodies in kernels/windows.h.
#include <cmath>

#include "../kernels/windows.h"
#include "cpu_device.h"
#include "max_pool_2d.h"
#include "max_pool_rows_avx512.h"

namespace bp {

void CpuDevice::unfold(const UnfoldParams& u) {
  const i64 C = u.C, K = u.w.K, P = u.w.P;
  if (u.cp == 1) {
    // Rows (b, c, k): each writes P contiguous columns.
    pool_.parallelFor(u.B * C * K, (kGrain + P - 1) / P, [&](i64 r0, i64 r1) {
      for (i64 r = r0; r < r1; r++) {
        const i64 k = r % K, c = (r / K) % C, b = r / (C * K);
        for (i64 p = 0; p < P; p++) unfoldElem(u, b, c, k, p);
      }
    });
  } else {
    // Patches layout: rows (b, p), each writing its C·K entries.
    pool_.parallelFor(u.B * P, (kGrain + C * K - 1) / (C * K), [&](i64 r0, i64 r1) {
      for (i64 r = r0; r < r1; r++) {
        const i64 p = r % P, b = r / P;
        for (i64 c = 0; c < C; c++)
          for (i64 k = 0; k < K; k++) unfoldElem(u, b, c, k, p);
      }
    });
  }
}

void CpuDevice::fold(const UnfoldParams& u) {
  const i64 S = u.w.S;
  float* out = const_cast<float*>(u.x);
  pool_.parallelFor(u.B * u.C, (kGrain + u.w.K * u.w.P - 1) / (u.w.K * u.w.P), [&](i64 r0, i64 r1) {
    for (i64 r = r0; r < r1; r++) foldPlane(u, out + r * S, r / u.C, r % u.C);
  });
}

void CpuDevice::maxPool(const MaxPoolParams& m) {
  const i64 P = m.w.P, S = m.w.S, K = m.w.K;
#if defined(__AVX512F__)
  if (m.w.nd == 2) {
    pool_.parallelFor(m.BC, (kGrain + P * K - 1) / (P * K), [&](i64 r0, i64 r1) {
      for (i64 bc = r0; bc < r1; bc++) maxPool2dPlaneRows(m.w, m.x + bc * S, m.y ? m.y + bc * P : nullptr, m.arg ? m.arg + bc * P : nullptr);
    });
    return;
  }
#endif
  if (m.w.nd == 2) {
    const i64 scratch = MaxPool2dLayout(m.w).scratch(m.w);
    pool_.parallelFor(m.BC, (kGrain + P * K - 1) / (P * K), [&](i64 r0, i64 r1) {
      float* sf = threadScratch(0, scratch + P);
      int32_t* si = reinterpret_cast<int32_t*>(threadScratch(1, scratch + P));
      float* y = sf + scratch;
      int32_t* arg = si + scratch;
      for (i64 bc = r0; bc < r1; bc++)
        maxPool2dPlane(m.w, m.x + bc * S, sf, si, m.y ? m.y + bc * P : y, m.arg ? m.arg + bc * P : arg);
    });
    return;
  }
  pool_.parallelFor(m.BC, (kGrain + P * K - 1) / (P * K), [&](i64 r0, i64 r1) {
    float* best = threadScratch(0, P);
    int32_t* at = reinterpret_cast<int32_t*>(threadScratch(1, P));
    for (i64 bc = r0; bc < r1; bc++) {
      const float* plane = m.x + bc * S;
      maxPoolPlane(m.w.map, K, P, plane, best, at);
      if (m.arg) for (i64 p = 0; p < P; p++) m.arg[bc * P + p] = at[p];
      if (m.y) for (i64 p = 0; p < P; p++) m.y[bc * P + p] = at[p] < 0 ? -INFINITY : best[p];
    }
  });
}

void CpuDevice::maxPoolJacT(const MaxPoolRouteParams& r) {
  const i64 S = r.w.S;
  pool_.parallelFor(r.v * r.BC, (kGrain + S - 1) / S, [&](i64 r0, i64 r1) {
    for (i64 row = r0; row < r1; row++) maxPoolJacTPlane(r, r.y + row * S, row / r.BC, row % r.BC);
  });
}

void CpuDevice::maxPoolJvp(const MaxPoolRouteParams& r) {
  const i64 P = r.w.P;
  pool_.parallelFor(r.BC, (kGrain + P - 1) / P, [&](i64 r0, i64 r1) {
    for (i64 bc = r0; bc < r1; bc++)
      for (i64 p = 0; p < P; p++) r.y[bc * P + p] = maxPoolJvpElem(r, bc, p);
  });
}

}  // namespace bp
