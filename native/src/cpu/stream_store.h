// Rows of a product written once and not read again in the run (BatchGrad's per-sample outer
// products): above kStreamBytes in all they go to memory by non-temporal stores.
//
// A plain store first reads the line it overwrites (2c2d's [128,1024,1]·[128,1,3136]: 57–59 ms
// plain, 42 ms streamed, one thread), and its lines push the weights, inputs and activations the
// next kernels read out of the caches: with the mlp's 16 MB [128,128,1]·[128,1,256] streamed as
// well (4 MB here rather than 64), its whole BatchGrad run took 7.07 and 6.76 ms against 7.75 and
// 7.25 (medians of 300 runs, tmp A/B, alternating, one thread). Smaller products stay in cache
// for the next kernel.
#pragma once

#include <cmath>
#include <cstdint>

#include "../common/hd.h"

#if defined(__AVX512F__) || (defined(__AVX__) && defined(__FMA__))
#include <immintrin.h>
#define BP_STREAM_VECTORS 1
#endif

namespace bp {

constexpr i64 kStreamBytes = i64(4) << 20;

/**
 * yr[j] = av·xr[j], by streaming stores if `stream`; and where acc is set, acc[j] = fma(av, xr[j],
 * acc[j]) as well (outer.h's sum). The same values as the scalar loop, vectorised or not.
 */
inline void scaledRow(float* yr, float* acc, float av, const float* xr, i64 cols, bool stream) {
  i64 j = 0;
  const auto one = [&](i64 e) {
    yr[e] = av * xr[e];
    if (acc) acc[e] = std::fma(av, xr[e], acc[e]);
  };
#if defined(BP_STREAM_VECTORS)
#if defined(__AVX512F__)
  constexpr i64 kLanes = 16;
  const __m512 va = _mm512_set1_ps(av);
  const auto step = [&](i64 e) {
    const __m512 vx = _mm512_loadu_ps(xr + e);
    const __m512 y = _mm512_mul_ps(va, vx);
    if (stream) _mm512_stream_ps(yr + e, y);
    else _mm512_storeu_ps(yr + e, y);
    if (acc) _mm512_storeu_ps(acc + e, _mm512_fmadd_ps(va, vx, _mm512_loadu_ps(acc + e)));
  };
#else
  constexpr i64 kLanes = 8;
  const __m256 va = _mm256_set1_ps(av);
  const auto step = [&](i64 e) {
    const __m256 vx = _mm256_loadu_ps(xr + e);
    const __m256 y = _mm256_mul_ps(va, vx);
    if (stream) _mm256_stream_ps(yr + e, y);
    else _mm256_storeu_ps(yr + e, y);
    if (acc) _mm256_storeu_ps(acc + e, _mm256_fmadd_ps(va, vx, _mm256_loadu_ps(acc + e)));
  };
#endif
  // Streaming stores need aligned addresses: the row's head up to the first aligned one is scalar.
  if (stream)
    for (; j < cols && (reinterpret_cast<uintptr_t>(yr + j) % (kLanes * sizeof(float))) != 0; j++) one(j);
  for (; j + kLanes <= cols; j += kLanes) step(j);
#endif
  for (; j < cols; j++) one(j);
}

/** Makes streamed stores visible before the pool's join publishes the result. */
inline void streamFence() {
#if defined(BP_STREAM_VECTORS)
  _mm_sfence();
#endif
}

}  // namespace bp
