// Single-thread time of oneDNN's convolution primitives (forward, backward data, backward
// weights) on the convolutions of the benchmark problems, for the conv decision in
// docs/decisions.md; bench/conv/ours.ts times our kernels on the same shapes.
//   g++ -O2 -std=c++17 bench/conv/onednn-conv.cc -o /tmp/onednn-conv -ldnnl && OMP_NUM_THREADS=1 /tmp/onednn-conv
#include <ctime>
#include <cstdio>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

using namespace dnnl;
using tag = memory::format_tag;
using dt = memory::data_type;

struct Shape {
  const char* name;
  int N, C, H, W, O, K, pad;
};

double cpuMs() {
  timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return t.tv_sec * 1e3 + t.tv_nsec * 1e-6;
}

template <class F>
double msPerCall(F f) {
  f();
  int reps = 0;
  // CPU time of this process: the machines are shared, and oneDNN runs on this one thread.
  const double t0 = cpuMs();
  double spent = 0;
  do {
    f();
    reps++;
    spent = cpuMs() - t0;
  } while (spent < 1000 && reps < 200);
  return spent / reps;
}

int main() {
  const Shape shapes[] = {
      {"2c2d conv1", 128, 1, 28, 28, 32, 5, 2},  {"2c2d conv2", 128, 32, 14, 14, 64, 5, 2},
      {"3c3d conv1", 128, 3, 32, 32, 64, 5, 0},  {"3c3d conv2", 128, 64, 14, 14, 96, 3, 0},
      {"3c3d conv3", 128, 96, 6, 6, 128, 3, 1},
  };
  engine eng(engine::kind::cpu, 0);
  stream s(eng);
  std::printf("%-12s %10s %10s %10s   (CPU ms per call, NCHW tensors; oneDNN %d.%d.%d)\n", "conv", "forward", "bwd data", "bwd weights",
              dnnl_version()->major, dnnl_version()->minor, dnnl_version()->patch);
  for (const Shape& c : shapes) {
    const int OH = c.H + 2 * c.pad - c.K + 1, OW = c.W + 2 * c.pad - c.K + 1;
    const memory::dims src{c.N, c.C, c.H, c.W}, wei{c.O, c.C, c.K, c.K}, bia{c.O}, dst{c.N, c.O, OH, OW};
    const memory::dims strides{1, 1}, pads{c.pad, c.pad};
    // The user's tensors are NCHW / OIHW as in the engine; the primitives choose their layouts
    // ("any") and the reorders in and out are counted, as a backend would have to pay them.
    auto user = [&](const memory::dims& d, tag t) { return memory({d, dt::f32, t}, eng); };
    memory uSrc = user(src, tag::nchw), uWei = user(wei, tag::oihw), uBia = user(bia, tag::x), uDst = user(dst, tag::nchw);
    for (auto* m : {&uSrc, &uWei, &uBia, &uDst}) {
      float* p = static_cast<float*>(m->get_data_handle());
      for (size_t i = 0; i < m->get_desc().get_size() / 4; i++) p[i] = float((i * 7919) % 13) * 0.1f - 0.6f;
    }
    auto any = [&](const memory::dims& d) { return memory::desc(d, dt::f32, tag::any); };
    auto fwdPd = convolution_forward::primitive_desc(
        convolution_forward::desc(prop_kind::forward_training, algorithm::convolution_direct, any(src), any(wei), memory::desc(bia, dt::f32, tag::x),
                                  any(dst), strides, pads, pads),
        eng);
    auto bwdDataPd = convolution_backward_data::primitive_desc(
        convolution_backward_data::desc(algorithm::convolution_direct, any(src), any(wei), any(dst), strides, pads, pads), eng, fwdPd);
    auto bwdWeiPd = convolution_backward_weights::primitive_desc(
        convolution_backward_weights::desc(algorithm::convolution_direct, any(src), any(wei), memory::desc(bia, dt::f32, tag::x), any(dst), strides,
                                           pads, pads),
        eng, fwdPd);
    const double fwd = msPerCall([&] {
      memory pSrc(fwdPd.src_desc(), eng), pWei(fwdPd.weights_desc(), eng), pDst(fwdPd.dst_desc(), eng);
      reorder(uSrc, pSrc).execute(s, uSrc, pSrc);
      reorder(uWei, pWei).execute(s, uWei, pWei);
      convolution_forward(fwdPd).execute(s, {{DNNL_ARG_SRC, pSrc}, {DNNL_ARG_WEIGHTS, pWei}, {DNNL_ARG_BIAS, uBia}, {DNNL_ARG_DST, pDst}});
      reorder(pDst, uDst).execute(s, pDst, uDst);
      s.wait();
    });
    const double bwdData = msPerCall([&] {
      memory pDiffDst(bwdDataPd.diff_dst_desc(), eng), pWei(bwdDataPd.weights_desc(), eng), pDiffSrc(bwdDataPd.diff_src_desc(), eng);
      reorder(uDst, pDiffDst).execute(s, uDst, pDiffDst);
      reorder(uWei, pWei).execute(s, uWei, pWei);
      convolution_backward_data(bwdDataPd).execute(s, {{DNNL_ARG_DIFF_DST, pDiffDst}, {DNNL_ARG_WEIGHTS, pWei}, {DNNL_ARG_DIFF_SRC, pDiffSrc}});
      reorder(pDiffSrc, uSrc).execute(s, pDiffSrc, uSrc);
      s.wait();
    });
    const double bwdWei = msPerCall([&] {
      memory pSrc(bwdWeiPd.src_desc(), eng), pDiffDst(bwdWeiPd.diff_dst_desc(), eng), pDiffWei(bwdWeiPd.diff_weights_desc(), eng);
      reorder(uSrc, pSrc).execute(s, uSrc, pSrc);
      reorder(uDst, pDiffDst).execute(s, uDst, pDiffDst);
      convolution_backward_weights(bwdWeiPd).execute(s, {{DNNL_ARG_SRC, pSrc}, {DNNL_ARG_DIFF_DST, pDiffDst}, {DNNL_ARG_DIFF_WEIGHTS, pDiffWei}, {DNNL_ARG_DIFF_BIAS, uBia}});
      reorder(pDiffWei, uWei).execute(s, pDiffWei, uWei);
      s.wait();
    });
    std::printf("%-12s %10.2f %10.2f %10.2f\n", c.name, fwd, bwdData, bwdWei);
  }
}
