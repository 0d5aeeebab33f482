// Per-sample outer products and, in the same pass, their sum: a Linear layer's per-sample weight
// gradients (BatchGrad) rows[v, n, O, I] = V[v, n, O] · x[n, I]ᵀ and its gradient
// sum[v, O, I] = Σ_n rows. The rows are memory-bound (the mlp's first layer writes 103 MB), so the
// sum's multiply-adds cost nothing where the products are made, and the gradient's GEMM is saved.
#pragma once

#include <cmath>

#include "../common/hd.h"

namespace bp {

struct OuterParams {
  i64 v, n, O, I;
  const float* V;  // [v, n, O]
  const float* x;  // [n, I]
  float* rows;     // [v, n, O, I]
  float* sum;      // [v, O, I], or nullptr: rows only
};

/**
 * Element (v, o, j) of every sample's product, and its sum over samples. The sum is accumulated in
 * sample order by fused multiply-adds from 0, the inner loop of a GEMM's micro-kernel: with BLIS
 * (K = n ≤ its block) it equals the GEMM's result bit for bit.
 */
BP_HD void outerProductsElement(const OuterParams& p, i64 v, i64 o, i64 j) {
  float acc = 0.0f;
  for (i64 k = 0; k < p.n; k++) {
    const float g = p.V[(v * p.n + k) * p.O + o];
    const float xv = p.x[k * p.I + j];
    p.rows[((v * p.n + k) * p.O + o) * p.I + j] = g * xv;
    acc = fmaf(g, xv, acc);
  }
  if (p.sum) p.sum[(v * p.O + o) * p.I + j] = acc;
}

}  // namespace bp
