// A Linear layer's per-sample weight gradients and their sum (kernels/outer.h) on the cpu: a few
// output rows o at a time, every sample's rows of that block written together (contiguous in
// memory, so streamed lines are whole) while the block's sums stay in a thread's scratch in L1.
#include <algorithm>

#include "../kernels/outer.h"
#include "cpu_device.h"
#include "stream_store.h"

namespace bp {

void CpuDevice::outerProducts(const OuterParams& p) {
  // Rows o per block: 4 rows of sums (12.5 KB at I = 784) and a row of x fit in L1 together.
  constexpr i64 kBlock = 4;
  const i64 blocksPerV = (p.O + kBlock - 1) / kBlock;
  const bool stream = p.v * p.n * p.O * p.I * i64(sizeof(float)) >= kStreamBytes;
  const i64 blockWork = std::max<i64>(1, p.n * kBlock * p.I);
  pool_.parallelFor(p.v * blocksPerV, std::max<i64>(1, kGrain / blockWork), [&](i64 b0, i64 b1) {
    float* acc = p.sum ? threadScratch(0, kBlock * p.I) : nullptr;
    for (i64 b = b0; b < b1; b++) {
      const i64 v = b / blocksPerV, o0 = (b % blocksPerV) * kBlock, o1 = std::min(p.O, o0 + kBlock);
      if (acc) std::fill(acc, acc + (o1 - o0) * p.I, 0.0f);
      for (i64 k = 0; k < p.n; k++) {
        const float* xr = p.x + k * p.I;
        const float* g = p.V + (v * p.n + k) * p.O;
        float* rows = p.rows + ((v * p.n + k) * p.O) * p.I;
        for (i64 o = o0; o < o1; o++) scaledRow(rows + o * p.I, acc ? acc + (o - o0) * p.I : nullptr, g[o], xr, p.I, stream);
      }
      if (acc) std::copy_n(acc, (o1 - o0) * p.I, p.sum + (v * p.O + o0) * p.I);
    }
    if (stream) streamFence();
  });
}

}  // namespace bp
