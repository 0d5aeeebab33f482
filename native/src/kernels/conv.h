// Parameters and per-element bodies of the fused convolution kernels. A convolution with G groups
// is y[n, g, o, p] = Σ_{c,k} W[g, o, c·K + k] · U_n[g, c·K + k, p] + b[g·og + o], U_n the sample's
// unfolded input. The devices stream it sample by sample (cpu: one unfolded sample in a thread's
// scratch, then a GEMM; cuda: chunks of samples and batched GEMMs), so the unfolded input of the
// whole shard ([N, C·K, P]) and per-sample weight Jacobians ([V, N, θ]) that are only squared and
// summed are never materialised.
#pragma once

#include "params.h"

namespace bp {

struct ConvParams {
  WindowParams w;
  /** Samples n of x; v stacked vectors of V [v, n, O, P] (weight kernels) or rows m = v·n (input Jᵀ). */
  i64 n, v;
  i64 C, O, G;
  const float* x;     // [n, C, S]
  const float* W;     // [O, C/G, K] = [G, og, cg·K]
  const float* bias;  // [O] or nullptr
  const float* V;     // [v, n, O, P] (weight kernels), [m, O, P] (input Jᵀ)
  const float* shift; // [θ] subtracted before squaring, or nullptr
  float* y;
};

/** The sizes every device's convolution kernels derive from ConvParams (host code). */
struct ConvDims {
  i64 S, K, P;  // input positions, kernel positions, output positions
  i64 cg, og;   // channels per group: input, output
  i64 cgK, CK;  // unfolded rows: per group, all
  i64 theta;    // weight elements O·cg·K
};

inline ConvDims convDims(const ConvParams& p) {
  ConvDims d;
  d.S = p.w.S;
  d.K = p.w.K;
  d.P = p.w.P;
  d.cg = p.C / p.G;
  d.og = p.O / p.G;
  d.cgK = d.cg * d.K;
  d.CK = p.C * d.K;
  d.theta = p.O * d.cgK;
  return d;
}

/** What ConvWeightSquares returns. */
enum class SquaresMode : int32_t {
  Sum = 0,    // [θ]:     Σ_{v,n} (J_n,v − shift)²
  Rows = 1,   // [n, θ]:  Σ_v (J_n,v − shift)²
  Norms = 2,  // [n]:     Σ_{v,θ} (J_n,v − shift)²
  Centred = 3,  // [2, θ]: Σ_{v,n} (J_n,v − shift) and Σ_{v,n} (J_n,v − shift)², accumulated in double
  Moments = 4,  // [3, θ]: [s; Σ (J − s); Σ (J − s)²] as Centred, about s = the mean of J over (v, n) in float
};

/** The unfold of one sample into ckp layout [C·K, P] (a thread's scratch), element (c, k, p). */
BP_HD void unfoldSampleElem(const WindowParams& w, const float* x, i64 C, float* U, i64 c, i64 k, i64 p) {
  const i64 s = w.map[k * w.P + p];
  U[(c * w.K + k) * w.P + p] = s < 0 ? 0.0f : x[c * w.S + s];
}

/** The fold of one sample's columns [C·K, P] back onto image channel c ([S]), in a fixed order. */
BP_HD void foldSampleChannel(const WindowParams& w, const float* cols, float* out, i64 c) {
  for (i64 s = 0; s < w.S; s++) out[s] = 0.0f;
  const float* base = cols + c * w.K * w.P;
  for (i64 e = 0; e < w.K * w.P; e++) {
    const int32_t s = w.map[e];  // e = k·P + p indexes channel c's [K, P] directly
    if (s >= 0) out[s] += base[e];
  }
}

/** acc[j] += (J[j] − shift[j])², one weight-Jacobian element; returns the square. */
BP_HD float squareAccumulate(float* acc, const float* J, const float* shift, i64 j) {
  const float d = shift ? J[j] - shift[j] : J[j];
  const float sq = d * d;
  if (acc) acc[j] += sq;
  return sq;
}

/** Centred mode, element j: the shifted sum and sum of squares, in double (moments of a variance). */
BP_HD void centredAccumulate(double* s1, double* s2, const float* J, const float* shift, i64 j) {
  const double d = static_cast<double>(J[j]) - (shift ? static_cast<double>(shift[j]) : 0.0);
  s1[j] += d;
  s2[j] += d * d;
}

/** Moments mode, element j: the shift, (Σ_v grad[v, j]) / m rounded to float, from the weight gradient per vector [v, θ]. */
BP_HD float momentsShift(const float* grad, i64 v, i64 theta, i64 m, i64 j) {
  if (m == 0) return 0.0f;
  double total = 0.0;
  for (i64 k = 0; k < v; k++) total += grad[k * theta + j];
  return static_cast<float>(total / static_cast<double>(m));
}

}  // namespace bp
