// Sliding-window kernels (im2col / col2im, max pooling and its Jacobians) as per-element bodies
// over precomputed index maps (WindowParams): no division per element beyond the row's own
// decomposition, deterministic (the adjoints gather through the inverse map instead of scattering,
// so no atomics and a fixed summation order on every device).
#pragma once

#include "params.h"

namespace bp {

/** Unfold, element (row = b·C·K + c·K + k, p): cols ← x at the window's input position or padValue. */
BP_HD void unfoldElem(const UnfoldParams& u, i64 b, i64 c, i64 k, i64 p) {
  const i64 s = u.w.map[k * u.w.P + p];
  const float v = s < 0 ? u.padValue : u.x[(b * u.C + c) * u.w.S + s];
  u.cols[b * u.cb + c * u.cc + k * u.ck + p * u.cp] = v;
}

/** Fold, element (b, c, s): the sum over every (k, p) that reads input position s, in inv's order. */
BP_HD float foldElem(const UnfoldParams& u, i64 b, i64 c, i64 s) {
  const int32_t* entries = u.w.inv + s * u.w.M;
  const float* base = u.cols + b * u.cb + c * u.cc;
  float acc = 0.0f;
  for (i64 m = 0; m < u.w.M; m++) {
    const int32_t e = entries[m];
    if (e < 0) break;
    const i64 k = e / u.w.P;
    acc += base[k * u.ck + (e - k * u.w.P) * u.cp];
  }
  return acc;
}

/** First maximum of window p of plane bc (torch's tie rule); padding never wins. Returns -1 if all padding. */
BP_HD int32_t windowArgmax(const MaxPoolParams& m, i64 bc, i64 p) {
  const float* plane = m.x + bc * m.w.S;
  float best = 0.0f;
  int32_t at = -1;
  for (i64 k = 0; k < m.w.K; k++) {
    const int32_t s = m.w.map[k * m.w.P + p];
    if (s < 0) continue;
    const float v = plane[s];
    // NaN wins and stays (torch propagates NaN through max pooling).
    if (at < 0 || v > best || (v != v && best == best)) {
      best = v;
      at = s;
    }
  }
  return at;
}

/** Jᵀ of max pooling, element (i, bc, s): Σ over windows covering s whose argmax is s. */
BP_HD float maxPoolJacTElem(const MaxPoolRouteParams& r, i64 i, i64 bc, i64 s) {
  const int32_t* entries = r.w.inv + s * r.w.M;
  const int32_t* arg = r.arg + bc * r.w.P;
  const float* V = r.V + (i * r.BC + bc) * r.w.P;
  float acc = 0.0f;
  for (i64 m = 0; m < r.w.M; m++) {
    const int32_t e = entries[m];
    if (e < 0) break;
    const i64 p = e % r.w.P;
    if (arg[p] == s) acc += V[p];
  }
  return acc;
}

/** J of max pooling (forward mode), element (bc, p): V read at the window's argmax. */
BP_HD float maxPoolJvpElem(const MaxPoolRouteParams& r, i64 bc, i64 p) {
  const int32_t a = r.arg[bc * r.w.P + p];
  return a < 0 ? 0.0f : r.V[bc * r.w.S + a];
}

}  // namespace bp
