// Sliding-window kernels (im2col / col2im, max pooling and its Jacobians) as bodies over a
// precomputed index map (WindowParams.map [K, P]: the flat input position each kernel position k
// reads at output position p, or -1 for padding). The adjoints are written per image plane
// (one (b, c) plane, or one (v, b·c) plane): a row scatters into its own plane only, in a fixed
// order, so rows run in parallel on any device with no atomics and deterministic sums.
#pragma once

#include "params.h"

namespace bp {

/** Unfold, element (b, c, k, p): cols ← x at the window's input position, or padValue. */
BP_HD void unfoldElem(const UnfoldParams& u, i64 b, i64 c, i64 k, i64 p) {
  const i64 s = u.w.map[k * u.w.P + p];
  const float v = s < 0 ? u.padValue : u.x[(b * u.C + c) * u.w.S + s];
  u.cols[b * u.cb + c * u.cc + k * u.ck + p * u.cp] = v;
}

/** Fold, plane (b, c): the image plane [S] ← Σ over every (k, p) of cols at the position it read. */
BP_HD void foldPlane(const UnfoldParams& u, float* out, i64 b, i64 c) {
  const i64 S = u.w.S, K = u.w.K, P = u.w.P;
  for (i64 s = 0; s < S; s++) out[s] = 0.0f;
  const float* base = u.cols + b * u.cb + c * u.cc;
  for (i64 k = 0; k < K; k++) {
    const int32_t* m = u.w.map + k * P;
    const float* row = base + k * u.ck;
    for (i64 p = 0; p < P; p++) {
      const int32_t s = m[p];
      if (s >= 0) out[s] += row[p * u.cp];
    }
  }
}

/**
 * First maximum of window p of a plane (torch's tie rule: strictly greater replaces; NaN wins and
 * stays, as torch propagates it); padding never wins. -1 if the window is all padding.
 * Written without branches on the data: random maxima would mispredict half the time.
 */
BP_HD int32_t windowArgmax(const int32_t* map, i64 K, i64 P, const float* plane, i64 p) {
  float best = 0.0f;
  int32_t at = -1;
  for (i64 k = 0; k < K; k++) {
    const int32_t s = map[k * P + p];
    const float v = plane[s < 0 ? 0 : s];
    const bool take = (s >= 0) & ((at < 0) | (v > best) | ((v != v) & (best == best)));
    best = take ? v : best;
    at = take ? s : at;
  }
  return at;
}

/**
 * The same for every window of one plane at once (y [P], arg [P]): kernel positions outermost,
 * so the inner loop runs over contiguous map entries and outputs and vectorises (gathers).
 */
BP_HD void maxPoolPlane(const int32_t* map, i64 K, i64 P, const float* plane, float* best, int32_t* at) {
  for (i64 p = 0; p < P; p++) {
    best[p] = 0.0f;
    at[p] = -1;
  }
  for (i64 k = 0; k < K; k++) {
    const int32_t* m = map + k * P;
    for (i64 p = 0; p < P; p++) {
      const int32_t s = m[p];
      const float v = plane[s < 0 ? 0 : s];
      const float b = best[p];
      const int32_t a = at[p];
      const bool take = (s >= 0) & ((a < 0) | (v > b) | ((v != v) & (b == b)));
      best[p] = take ? v : b;
      at[p] = take ? s : a;
    }
  }
}

/** Jᵀ of max pooling, plane (i, bc): out [S] ← each window's value V[p] added at its argmax. */
BP_HD void maxPoolJacTPlane(const MaxPoolRouteParams& r, float* out, i64 i, i64 bc) {
  const i64 S = r.w.S, P = r.w.P;
  for (i64 s = 0; s < S; s++) out[s] = 0.0f;
  const int32_t* arg = r.arg + bc * P;
  const float* V = r.V + (i * r.BC + bc) * P;
  for (i64 p = 0; p < P; p++) {
    const int32_t a = arg[p];
    if (a >= 0) out[a] += V[p];
  }
}

/** J of max pooling (forward mode), element (bc, p): V read at the window's argmax. */
BP_HD float maxPoolJvpElem(const MaxPoolRouteParams& r, i64 bc, i64 p) {
  const int32_t a = r.arg[bc * r.w.P + p];
  return a < 0 ? 0.0f : r.V[bc * r.w.S + a];
}

}  // namespace bp
