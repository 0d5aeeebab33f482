// Fused convolutions on the cuda device (kernels/conv.h) as im2col + GEMM over chunks of samples:
// a chunk is unfolded into a workspace, multiplied by batched cuBLAS GEMMs, and folded, squared
// or accumulated by kernels over the shared bodies. Chunks have a size fixed by the shapes alone
// (a workspace budget, never the free memory), and sums over samples run chunk after chunk in
// stream order: the same bits on every run.
//
//   forward      U_n [C·K, P] per sample; y_n,g = W_g · U_n,g           (batched over n)
//   input Jᵀ     cols_m,g = W_gᵀ · V_m,g (batched over m); fold per (m, channel)
//   weight grad  U as [C·K, n·P] and V as [v, O, n·P] (one strided copy): each chunk adds
//                V_v,g · U_gᵀ with K = n·P, so the sum over samples is inside one GEMM
//   weight Jac   J_v,n,g = V_v,n,g · U_n,gᵀ written straight into y     (batched over n)
//   squares      J as above into a workspace, then squared and summed per element, row or sample
//   input Gram   U as [C·K, n·P]: each chunk adds U·Uᵀ
#include <algorithm>

#include "../device/space.h"
#include "launch.cuh"

namespace bp {
namespace {

/** Samples per chunk: as many as the workspace budget holds (fixed by the shapes, never by free memory), at least one. */
i64 chunkOf(const CudaDevice& d, i64 n, i64 perSample) {
  return std::max<i64>(1, std::min<i64>(n, d.convChunkFloats() / std::max<i64>(1, perSample)));
}

/** U [count, C·K, P] of samples [n0, n0 + count). */
void unfoldChunk(CudaDevice& d, const ConvParams& p, const ConvDims& dm, i64 n0, i64 count, float* U) {
  gpu::launch(d.stream(), count * dm.CK * dm.P, gpu::UnfoldSamples{p.w, p.x + n0 * p.C * dm.S, U, p.C});
}

/** U as [C·K, count·P] (element (c, k, n, p)) of samples [n0, n0 + count): windows.h's unfold with these strides. */
void unfoldConcat(CudaDevice& d, const ConvParams& p, const ConvDims& dm, i64 n0, i64 count, float* U) {
  UnfoldParams u;
  u.w = p.w;
  u.B = count;
  u.C = p.C;
  u.cp = 1;
  u.cb = dm.P;
  u.ck = count * dm.P;
  u.cc = dm.K * count * dm.P;
  u.x = p.x + n0 * p.C * dm.S;
  u.cols = U;
  u.padValue = 0.0f;
  d.unfold(u);
}

}  // namespace

void CudaDevice::convForward(const ConvParams& p) {
  const ConvDims d = convDims(p);
  const i64 chunk = chunkOf(*this, p.n, d.CK * d.P);
  Scratch U(*this, chunk * d.CK * d.P);
  for (i64 n0 = 0; n0 < p.n; n0 += chunk) {
    const i64 count = std::min(chunk, p.n - n0);
    unfoldChunk(*this, p, d, n0, count, U.get());
    for (i64 g = 0; g < p.G; g++) {
      gemmStrided(false, false, d.og, d.P, d.cgK, 1.0f, p.W + g * d.og * d.cgK, d.cgK, 0, U.get() + g * d.cgK * d.P, d.P,
                  d.CK * d.P, 0.0f, p.y + n0 * p.O * d.P + g * d.og * d.P, d.P, p.O * d.P, count);
    }
  }
  if (p.bias) gpu::launch(stream(), p.n * p.O * d.P, gpu::BiasAdd{p.y, p.bias, p.O, d.P});
}

void CudaDevice::convInputJacT(const ConvParams& p) {
  const ConvDims d = convDims(p);
  const i64 chunk = chunkOf(*this, p.n, d.CK * d.P);
  Scratch cols(*this, chunk * d.CK * d.P);
  for (i64 m0 = 0; m0 < p.n; m0 += chunk) {
    const i64 count = std::min(chunk, p.n - m0);
    for (i64 g = 0; g < p.G; g++) {
      gemmStrided(true, false, d.cgK, d.P, d.og, 1.0f, p.W + g * d.og * d.cgK, d.cgK, 0, p.V + m0 * p.O * d.P + g * d.og * d.P,
                  d.P, p.O * d.P, 0.0f, cols.get() + g * d.cgK * d.P, d.P, d.CK * d.P, count);
    }
    gpu::launch(stream(), count * p.C, gpu::FoldSampleChannels{p.w, cols.get(), p.y + m0 * p.C * d.S, p.C});
  }
}

void CudaDevice::convWeightGrad(const ConvParams& p) {
  const ConvDims d = convDims(p);
  if (p.n == 0) {
    fill(p.y, DType::F32, p.v * d.theta, 0.0);
    return;
  }
  const i64 chunk = chunkOf(*this, p.n, d.CK * d.P + p.v * p.O * d.P);
  Scratch U(*this, chunk * d.CK * d.P);
  Scratch Vt(*this, chunk * p.v * p.O * d.P);
  for (i64 n0 = 0; n0 < p.n; n0 += chunk) {
    const i64 count = std::min(chunk, p.n - n0);
    unfoldConcat(*this, p, d, n0, count, U.get());
    // Vt [v, O, count, P] ← V [v, n, O, P] rows n0…n0+count.
    CopyParams c;
    c.esize = 4;
    c.x = p.V;
    c.xoff = n0 * p.O * d.P;
    c.y = Vt.get();
    c.yoff = 0;
    c.space.nd = 4;
    const i64 shape[4] = {p.v, p.O, count, d.P};
    const i64 xs[4] = {p.n * p.O * d.P, d.P, p.O * d.P, 1};
    const i64 ys[4] = {p.O * count * d.P, count * d.P, d.P, 1};
    for (int k = 0; k < 4; k++) {
      c.space.shape[k] = shape[k];
      c.space.s0[k] = xs[k];
      c.space.s1[k] = ys[k];
    }
    copyStrided(c);
    const float beta = n0 == 0 ? 0.0f : 1.0f;
    const i64 kk = count * d.P;
    for (i64 g = 0; g < p.G; g++) {
      gemmStrided(false, true, d.og, d.cgK, kk, 1.0f, Vt.get() + g * d.og * kk, kk, p.O * kk, U.get() + g * d.cgK * kk, kk, 0,
                  beta, p.y + g * d.og * d.cgK, d.cgK, d.theta, p.v);
    }
  }
}

void CudaDevice::convWeightJac(const ConvParams& p) {
  const ConvDims d = convDims(p);
  const i64 chunk = chunkOf(*this, p.n, d.CK * d.P);
  Scratch U(*this, chunk * d.CK * d.P);
  for (i64 n0 = 0; n0 < p.n; n0 += chunk) {
    const i64 count = std::min(chunk, p.n - n0);
    unfoldChunk(*this, p, d, n0, count, U.get());
    for (i64 v = 0; v < p.v; v++) {
      for (i64 g = 0; g < p.G; g++) {
        gemmStrided(false, true, d.og, d.cgK, d.P, 1.0f, p.V + ((v * p.n + n0) * p.O + g * d.og) * d.P, d.P, p.O * d.P,
                    U.get() + g * d.cgK * d.P, d.P, d.CK * d.P, 0.0f, p.y + (v * p.n + n0) * d.theta + g * d.og * d.cgK, d.cgK,
                    d.theta, count);
      }
    }
  }
}

void CudaDevice::convWeightSquares(const ConvParams& p, SquaresMode mode) {
  const ConvDims d = convDims(p);
  if (mode == SquaresMode::Moments) {
    // By parts: the mean of J (its sum from the weight gradient) into y's first row, then the
    // squares centred on it into the other two.
    Scratch grad(*this, p.v * d.theta);
    ConvParams g = p;
    g.y = grad.get();
    convWeightGrad(g);
    gpu::launch(stream(), d.theta, gpu::MomentsShift{grad.get(), p.y, p.v, d.theta, p.v * p.n});
    ConvParams centred = p;
    centred.shift = p.y;
    centred.y = p.y + d.theta;
    convWeightSquares(centred, SquaresMode::Centred);
    return;
  }
  if (mode == SquaresMode::Sum) fill(p.y, DType::F32, d.theta, 0.0);
  // Centred: double accumulators [2θ] (4θ floats of scratch), zeroed, converted at the end.
  Scratch acc(*this, mode == SquaresMode::Centred ? 4 * d.theta : 1);
  double* sums = reinterpret_cast<double*>(acc.get());
  if (mode == SquaresMode::Centred) fill(acc.get(), DType::F32, 4 * d.theta, 0.0);
  if (p.n == 0) {
    if (mode == SquaresMode::Centred) fill(p.y, DType::F32, 2 * d.theta, 0.0);
    return;
  }
  const i64 chunk = chunkOf(*this, p.n, d.CK * d.P + p.v * d.theta);
  Scratch U(*this, chunk * d.CK * d.P);
  Scratch J(*this, chunk * p.v * d.theta);
  for (i64 n0 = 0; n0 < p.n; n0 += chunk) {
    const i64 count = std::min(chunk, p.n - n0);
    unfoldChunk(*this, p, d, n0, count, U.get());
    // J [v, count, θ]
    for (i64 v = 0; v < p.v; v++) {
      for (i64 g = 0; g < p.G; g++) {
        gemmStrided(false, true, d.og, d.cgK, d.P, 1.0f, p.V + ((v * p.n + n0) * p.O + g * d.og) * d.P, d.P, p.O * d.P,
                    U.get() + g * d.cgK * d.P, d.P, d.CK * d.P, 0.0f, J.get() + v * count * d.theta + g * d.og * d.cgK, d.cgK,
                    d.theta, count);
      }
    }
    if (mode == SquaresMode::Centred) {
      gpu::launch(stream(), d.theta, gpu::SquaresCentred{J.get(), p.shift, sums, sums + d.theta, p.v, count, d.theta});
    } else if (mode == SquaresMode::Sum) {
      gpu::launch(stream(), d.theta, gpu::SquaresSum{J.get(), p.shift, p.y, p.v, count, d.theta});
    } else if (mode == SquaresMode::Rows) {
      gpu::launch(stream(), count * d.theta, gpu::SquaresRows{J.get(), p.shift, p.y + n0 * d.theta, p.v, count, d.theta});
    } else {
      BP_LAUNCH(gpu::blocksFor(count * gpu::kThreads), gpu::kThreads, stream(), gpu::squaresNorms<float>)(J.get(), p.shift, p.y + n0, p.v, count, d.theta);
      cudaCheck(cudaGetLastError(), "squares launch");
    }
  }
  if (mode == SquaresMode::Centred) gpu::launch(stream(), 2 * d.theta, gpu::DoubleToFloat{sums, p.y});
}

void CudaDevice::convInputGram(const ConvParams& p) {
  const ConvDims d = convDims(p);
  if (p.n == 0) {
    fill(p.y, DType::F32, d.CK * d.CK, 0.0);
    return;
  }
  const i64 chunk = chunkOf(*this, p.n, d.CK * d.P);
  Scratch U(*this, chunk * d.CK * d.P);
  for (i64 n0 = 0; n0 < p.n; n0 += chunk) {
    const i64 count = std::min(chunk, p.n - n0);
    unfoldConcat(*this, p, d, n0, count, U.get());
    const i64 kk = count * d.P;
    gemmStrided(false, true, d.CK, d.CK, kk, 1.0f, U.get(), kk, 0, U.get(), kk, 0, n0 == 0 ? 0.0f : 1.0f, p.y, d.CK, 0, 1);
  }
}

}  // namespace bp
