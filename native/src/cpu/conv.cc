// Fused convolutions on the cpu (kernels/conv.h): samples are unfolded one at a time into a
// thread's scratch (it stays in cache) and multiplied there, so neither the unfolded shard nor
// the per-sample weight Jacobians that are only squared and summed are ever materialised.
//
// Sums over samples are accumulated per fixed chunk of samples and the chunks added in order:
// results never depend on the number of threads.
#include <algorithm>
#include <cstring>
#include <vector>

#include "../kernels/conv.h"
#include "cpu_device.h"

namespace bp {
namespace {

struct Dims {
  i64 S, K, P, cg, og, cgK, theta;
};

Dims dimsOf(const ConvParams& p) {
  Dims d;
  d.S = p.w.S;
  d.K = p.w.K;
  d.P = p.w.P;
  d.cg = p.C / p.G;
  d.og = p.O / p.G;
  d.cgK = d.cg * d.K;
  d.theta = p.O * d.cgK;
  return d;
}

/** Unfolds sample `x` ([C, S]) into U [C·K, P]. */
void unfoldSample(const ConvParams& p, const Dims& d, const float* x, float* U) {
  for (i64 c = 0; c < p.C; c++)
    for (i64 k = 0; k < d.K; k++)
      for (i64 q = 0; q < d.P; q++) unfoldSampleElem(p.w, x, p.C, U, c, k, q);
}

/** Sample chunks for sums over samples: sizes fixed by the shapes, partial buffers bounded to ~256 MiB. */
struct Chunks {
  i64 size, count;
};

Chunks chunksFor(i64 n, i64 partialFloats) {
  const i64 maxCount = std::max<i64>(1, (i64(64) << 20) / std::max<i64>(1, partialFloats));
  i64 size = std::max<i64>(8, (n + maxCount - 1) / maxCount);
  return {size, (n + size - 1) / size};
}

/** out[j] = Σ_c partials[c][j], chunks in order. */
void sumChunks(ThreadPool& pool, const std::vector<float>& partials, i64 count, i64 width, float* out) {
  pool.parallelFor(width, kGrain, [&](i64 a, i64 b) {
    for (i64 j = a; j < b; j++) {
      float acc = partials[j];
      for (i64 c = 1; c < count; c++) acc += partials[c * width + j];
      out[j] = acc;
    }
  });
}

}  // namespace

void CpuDevice::convForward(const ConvParams& p) {
  const Dims d = dimsOf(p);
  pool_.run(p.n, [&](i64 n) {
    float* U = threadScratch(0, p.C * d.K * d.P);
    unfoldSample(p, d, p.x + n * p.C * d.S, U);
    float* y = p.y + n * p.O * d.P;
    for (i64 g = 0; g < p.G; g++) {
      blas_->sgemm(false, false, d.og, d.P, d.cgK, 1.0f, p.W + g * d.og * d.cgK, d.cgK, U + g * d.cgK * d.P, d.P, 0.0f,
                   y + g * d.og * d.P, d.P);
    }
    if (p.bias)
      for (i64 o = 0; o < p.O; o++)
        for (i64 q = 0; q < d.P; q++) y[o * d.P + q] += p.bias[o];
  });
}

void CpuDevice::convInputJacT(const ConvParams& p) {
  const Dims d = dimsOf(p);
  pool_.run(p.n, [&](i64 m) {
    float* cols = threadScratch(1, p.C * d.K * d.P);
    const float* V = p.V + m * p.O * d.P;
    for (i64 g = 0; g < p.G; g++) {
      blas_->sgemm(true, false, d.cgK, d.P, d.og, 1.0f, p.W + g * d.og * d.cgK, d.cgK, V + g * d.og * d.P, d.P, 0.0f,
                   cols + g * d.cgK * d.P, d.P);
    }
    float* y = p.y + m * p.C * d.S;
    for (i64 c = 0; c < p.C; c++) foldSampleChannel(p.w, cols, y + c * d.S, c);
  });
}

void CpuDevice::convWeightGrad(const ConvParams& p) {
  const Dims d = dimsOf(p);
  const i64 width = p.v * d.theta;
  const Chunks ch = chunksFor(p.n, width);
  std::vector<float> partials(static_cast<size_t>(ch.count * width), 0.0f);
  pool_.run(ch.count, [&](i64 c) {
    float* acc = partials.data() + c * width;
    float* U = threadScratch(0, p.C * d.K * d.P);
    for (i64 n = c * ch.size; n < std::min(p.n, (c + 1) * ch.size); n++) {
      unfoldSample(p, d, p.x + n * p.C * d.S, U);
      for (i64 v = 0; v < p.v; v++) {
        const float* V = p.V + (v * p.n + n) * p.O * d.P;
        for (i64 g = 0; g < p.G; g++) {
          blas_->sgemm(false, true, d.og, d.cgK, d.P, 1.0f, V + g * d.og * d.P, d.P, U + g * d.cgK * d.P, d.P, 1.0f,
                       acc + v * d.theta + g * d.og * d.cgK, d.cgK);
        }
      }
    }
  });
  sumChunks(pool_, partials, ch.count, width, p.y);
}

void CpuDevice::convWeightJac(const ConvParams& p) {
  const Dims d = dimsOf(p);
  pool_.run(p.n, [&](i64 n) {
    float* U = threadScratch(0, p.C * d.K * d.P);
    unfoldSample(p, d, p.x + n * p.C * d.S, U);
    for (i64 v = 0; v < p.v; v++) {
      const float* V = p.V + (v * p.n + n) * p.O * d.P;
      float* y = p.y + (v * p.n + n) * d.theta;
      for (i64 g = 0; g < p.G; g++) {
        blas_->sgemm(false, true, d.og, d.cgK, d.P, 1.0f, V + g * d.og * d.P, d.P, U + g * d.cgK * d.P, d.P, 0.0f,
                     y + g * d.og * d.cgK, d.cgK);
      }
    }
  });
}

void CpuDevice::convWeightSquares(const ConvParams& p, SquaresMode mode) {
  const Dims d = dimsOf(p);
  // One sample's squares for every v: into `acc` (Sum: the chunk's partial; Rows: the sample's
  // row) or, for Norms, returned as a total.
  auto sample = [&](i64 n, float* acc) -> double {
    float* U = threadScratch(0, p.C * d.K * d.P);
    float* J = threadScratch(1, d.theta);
    unfoldSample(p, d, p.x + n * p.C * d.S, U);
    double total = 0.0;
    for (i64 v = 0; v < p.v; v++) {
      const float* V = p.V + (v * p.n + n) * p.O * d.P;
      for (i64 g = 0; g < p.G; g++) {
        blas_->sgemm(false, true, d.og, d.cgK, d.P, 1.0f, V + g * d.og * d.P, d.P, U + g * d.cgK * d.P, d.P, 0.0f,
                     J + g * d.og * d.cgK, d.cgK);
      }
      for (i64 j = 0; j < d.theta; j++) total += squareAccumulate(acc, J, p.shift, j);
    }
    return total;
  };
  if (mode == SquaresMode::Sum) {
    const Chunks ch = chunksFor(p.n, d.theta);
    std::vector<float> partials(static_cast<size_t>(ch.count * d.theta), 0.0f);
    pool_.run(ch.count, [&](i64 c) {
      for (i64 n = c * ch.size; n < std::min(p.n, (c + 1) * ch.size); n++) sample(n, partials.data() + c * d.theta);
    });
    sumChunks(pool_, partials, ch.count, d.theta, p.y);
  } else if (mode == SquaresMode::Rows) {
    pool_.run(p.n, [&](i64 n) {
      float* row = p.y + n * d.theta;
      std::memset(row, 0, static_cast<size_t>(d.theta) * sizeof(float));
      sample(n, row);
    });
  } else {
    pool_.run(p.n, [&](i64 n) { p.y[n] = static_cast<float>(sample(n, nullptr)); });
  }
}

void CpuDevice::convInputGram(const ConvParams& p) {
  const Dims d = dimsOf(p);
  const i64 CK = p.C * d.K;
  const i64 width = CK * CK;
  const Chunks ch = chunksFor(p.n, width);
  std::vector<float> partials(static_cast<size_t>(ch.count * width), 0.0f);
  pool_.run(ch.count, [&](i64 c) {
    float* U = threadScratch(0, CK * d.P);
    for (i64 n = c * ch.size; n < std::min(p.n, (c + 1) * ch.size); n++) {
      unfoldSample(p, d, p.x + n * p.C * d.S, U);
      blas_->sgemm(false, true, CK, CK, d.P, 1.0f, U, d.P, U, d.P, 1.0f, partials.data() + c * width, CK);
    }
  });
  sumChunks(pool_, partials, ch.count, width, p.y);
}

}  // namespace bp
