#include "onednn_conv.h"

#ifdef BP_WITH_DNNL

#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>

#include <oneapi/dnnl/dnnl.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <vector>

namespace bp {
namespace {

// The C API, every entry point by dlsym: the addon never links oneDNN, so it loads where it is absent.
#define BP_DNNL_FUNCTIONS(X)                                                                                                 \
  X(dnnl_version) X(dnnl_engine_create) X(dnnl_engine_destroy) X(dnnl_stream_create) X(dnnl_stream_destroy)                \
  X(dnnl_stream_wait) X(dnnl_memory_desc_init_by_tag) X(dnnl_memory_desc_equal) X(dnnl_memory_desc_get_size)               \
  X(dnnl_memory_create) X(dnnl_memory_destroy) X(dnnl_primitive_attr_create) X(dnnl_primitive_attr_destroy)                 \
  X(dnnl_primitive_attr_set_scratchpad_mode) X(dnnl_primitive_desc_create) X(dnnl_primitive_desc_destroy)                   \
  X(dnnl_primitive_desc_query_md) X(dnnl_primitive_create) X(dnnl_primitive_destroy) X(dnnl_primitive_execute)              \
  X(dnnl_reorder_primitive_desc_create) X(dnnl_dilated_convolution_forward_desc_init)                                       \
  X(dnnl_dilated_convolution_backward_data_desc_init) X(dnnl_dilated_convolution_backward_weights_desc_init)

struct Api {
#define BP_DNNL_POINTER(name) decltype(&::name) name = nullptr;
  BP_DNNL_FUNCTIONS(BP_DNNL_POINTER)
#undef BP_DNNL_POINTER
  void (*ompSetNumThreads)(int) = nullptr;
  std::string version;
};

/** The process's oneDNN 2.x, loaded once, or nullptr. */
const Api* api() {
  static std::once_flag once;
  static const Api* loaded = nullptr;
  std::call_once(once, [] {
    if (const char* env = std::getenv("BACKPACK_CONV"); env && std::strcmp(env, "im2col") == 0) return;
    void* h = dlopen("libdnnl.so.2", RTLD_NOW | RTLD_LOCAL);
    if (!h) return;
    auto* a = new Api();
    bool complete = true;
#define BP_DNNL_LOAD(name)                                             \
  a->name = reinterpret_cast<decltype(&::name)>(dlsym(h, #name)); \
  complete = complete && a->name != nullptr;
    BP_DNNL_FUNCTIONS(BP_DNNL_LOAD)
#undef BP_DNNL_LOAD
    a->ompSetNumThreads = reinterpret_cast<void (*)(int)>(dlsym(h, "omp_set_num_threads"));
    // The structs we pass by pointer are those of the 2.x headers we were built with.
    if (!complete || !a->ompSetNumThreads || a->dnnl_version()->major != DNNL_VERSION_MAJOR) {
      delete a;
      dlclose(h);
      return;
    }
    const dnnl_version_t* v = a->dnnl_version();
    a->version = "oneDNN " + std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch);
    loaded = a;
  });
  return loaded;
}

/**
 * Holds this thread's asynchronous signals for a scope, delivered when it ends. Debian's oneDNN
 * 2.6 corrupts the heap when a signal interrupts its sgemm (bench/blas/dnnl-signal.c), and not
 * with signals held; its convolutions survived a 100 µs profiling timer and `node --cpu-prof`
 * here (test/native/onednn-conv.test.ts), but they are the same library: two system calls per
 * product buy the certainty. OpenMP threads made inside inherit the mask.
 */
class SignalsHeld {
 public:
  SignalsHeld() {
    sigset_t held;
    sigfillset(&held);
    for (int s : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGABRT, SIGSYS}) sigdelset(&held, s);
    pthread_sigmask(SIG_BLOCK, &held, &previous_);
  }
  ~SignalsHeld() { pthread_sigmask(SIG_SETMASK, &previous_, nullptr); }
  SignalsHeld(const SignalsHeld&) = delete;
  SignalsHeld& operator=(const SignalsHeld&) = delete;

 private:
  sigset_t previous_;
};

enum class Direction : i64 { Forward, InputJacT, WeightGrad };

/** One tensor of a convolution: the engine's plain layout and the one the primitive chose. */
struct Operand {
  int arg = 0;  // DNNL_ARG_* of the convolution
  bool output = false;
  dnnl_memory_desc_t user{}, inner{};
  dnnl_primitive_t reorder = nullptr;  // user → inner for inputs, inner → user for outputs; null where equal
};

/** A convolution's primitive and reorders for one shape; ok false: left to conv.cc. */
struct Plan {
  bool ok = false;
  dnnl_primitive_t conv = nullptr;
  std::vector<Operand> operands;
  dnnl_memory_desc_t bias{};  // forward with a bias: plain [O], no reorder
  bool hasBias = false;
  dnnl_memory_desc_t scratchpad{};
};

bool success(dnnl_status_t s) { return s == dnnl_success; }

/** The plain (row-major) layout tag for `ndims` dimensions. */
dnnl_format_tag_t plainTag(int ndims) {
  switch (ndims) {
    case 1: return dnnl_a;
    case 3: return dnnl_abc;
    case 4: return dnnl_abcd;
    case 5: return dnnl_abcde;
    default: return dnnl_abcdef;
  }
}

/**
 * Samples per oneDNN call: the batch is cut into at most 16 chunks of at least 8 samples, fixed
 * by n alone. Each runs single-threaded on one thread of the device's pool, and the weight
 * gradient's chunk partials are added in chunk order, so results never depend on the thread count
 * (one primitive over the batch on 2 OpenMP threads gave a weight gradient differing from 1 thread
 * in most elements) and oneDNN's OpenMP threads never compete with the pool.
 */
struct Chunks {
  i64 size, count;
};

Chunks chunksOf(i64 n) {
  const i64 size = std::min(n, std::max<i64>(8, (n + 15) / 16));
  return {size, (n + size - 1) / size};
}

/** What one chunk task needs of its own: a stream and reused buffers (a fresh page costs ~10 µs here). */
struct Slot {
  dnnl_stream_t stream = nullptr;
  void* buffers[4] = {nullptr, nullptr, nullptr, nullptr};  // reordered operands 0–2, scratchpad 3
  size_t capacity[4] = {0, 0, 0, 0};

  void* buffer(int i, size_t bytes) {
    if (bytes == 0) return nullptr;
    if (capacity[i] < bytes) {
      std::free(buffers[i]);
      const size_t size = (bytes + 63) / 64 * 64;
      buffers[i] = std::aligned_alloc(64, size);
      capacity[i] = buffers[i] ? size : 0;
    }
    return buffers[i];
  }
};

}  // namespace

struct OnednnConv::Impl {
  const Api& dnnl;
  dnnl_engine_t engine = nullptr;
  dnnl_primitive_attr_t attr = nullptr;
  std::map<std::vector<i64>, Plan> plans;
  std::vector<Slot> slots;
  std::vector<float> partials;  // the weight gradient's, [chunks, v, θ]

  explicit Impl(const Api& a) : dnnl(a) {}
  ~Impl() {
    for (auto& [key, plan] : plans) {
      if (plan.conv) dnnl.dnnl_primitive_destroy(plan.conv);
      for (auto& op : plan.operands)
        if (op.reorder) dnnl.dnnl_primitive_destroy(op.reorder);
    }
    for (Slot& slot : slots) {
      if (slot.stream) dnnl.dnnl_stream_destroy(slot.stream);
      for (void* b : slot.buffers) std::free(b);
    }
    if (attr) dnnl.dnnl_primitive_attr_destroy(attr);
    if (engine) dnnl.dnnl_engine_destroy(engine);
  }

  /** Streams for `count` chunk tasks (made on the calling thread). */
  bool reserveSlots(i64 count) {
    while (static_cast<i64>(slots.size()) < count) {
      slots.emplace_back();
      if (!success(dnnl.dnnl_stream_create(&slots.back().stream, engine, dnnl_stream_default_flags))) {
        slots.pop_back();
        return false;
      }
    }
    return true;
  }

  /** The single-threaded plan of `dir` for the shapes of p with n samples (made on first use). */
  const Plan& plan(Direction dir, const ConvParams& p, i64 n) {
    std::vector<i64> key = {static_cast<i64>(dir), n, p.C, p.O, p.G, p.w.nd, p.bias != nullptr};
    for (int i = 0; i < p.w.nd; i++)
      key.insert(key.end(), {p.w.in[i], p.w.kernel[i], p.w.stride[i], p.w.dilation[i], p.w.padLo[i], p.w.out[i]});
    auto found = plans.find(key);
    if (found != plans.end()) return found->second;
    // NOTE: a primitive fixes its work split for OpenMP's thread count when it is made (one made
    // while 2 were allowed ran on 2 with 1 asked for later): make it for one.
    dnnl.ompSetNumThreads(1);
    Plan& made = plans[key];
    made.ok = build(dir, p, n, made);
    return made;
  }

  /** The primitive and reorders of `dir` for the shapes of p with n samples; false where oneDNN refuses them. */
  bool build(Direction dir, const ConvParams& p, i64 n, Plan& plan) {
    const int nd = p.w.nd, grouped = p.G > 1;
    dnnl_dims_t src{}, wei{}, dst{}, strides{}, dilates{}, padL{}, padR{};
    src[0] = dst[0] = n;
    src[1] = p.C;
    dst[1] = p.O;
    if (grouped) wei[0] = p.G;
    wei[grouped] = p.O / p.G;
    wei[grouped + 1] = p.C / p.G;
    for (int i = 0; i < nd; i++) {
      src[2 + i] = p.w.in[i];
      dst[2 + i] = p.w.out[i];
      wei[grouped + 2 + i] = p.w.kernel[i];
      strides[i] = p.w.stride[i];
      dilates[i] = p.w.dilation[i] - 1;  // oneDNN counts the gaps
      padL[i] = p.w.padLo[i];
      // The high padding that makes oneDNN's output size exactly ours (PyTorch's floor division).
      padR[i] = (p.w.out[i] - 1) * p.w.stride[i] + (p.w.kernel[i] - 1) * p.w.dilation[i] + 1 - p.w.in[i] - p.w.padLo[i];
    }
    const dnnl_dims_t biasDims{p.O};
    dnnl_memory_desc_t srcUser, weiUser, dstUser, srcAny, weiAny, dstAny;
    auto init = [&](dnnl_memory_desc_t* md, int ndims, const dnnl_dims_t dims, dnnl_format_tag_t tag) {
      return success(dnnl.dnnl_memory_desc_init_by_tag(md, ndims, dims, dnnl_f32, tag));
    };
    if (!init(&srcUser, nd + 2, src, plainTag(nd + 2)) || !init(&weiUser, nd + 2 + grouped, wei, plainTag(nd + 2 + grouped)) ||
        !init(&dstUser, nd + 2, dst, plainTag(nd + 2)) || !init(&srcAny, nd + 2, src, dnnl_format_tag_any) ||
        !init(&weiAny, nd + 2 + grouped, wei, dnnl_format_tag_any) || !init(&dstAny, nd + 2, dst, dnnl_format_tag_any) ||
        !init(&plan.bias, 1, biasDims, dnnl_a))
      return false;
    plan.hasBias = dir == Direction::Forward && p.bias != nullptr;

    // The forward primitive: the one used, or the hint the backward ones are made from.
    dnnl_convolution_desc_t fwdDesc;
    dnnl_primitive_desc_t fwdPd = nullptr, pd = nullptr;
    if (!success(dnnl.dnnl_dilated_convolution_forward_desc_init(&fwdDesc, dnnl_forward_training, dnnl_convolution_direct, &srcAny, &weiAny,
                                                                 plan.hasBias ? &plan.bias : nullptr, &dstAny, strides, dilates, padL, padR)) ||
        !success(dnnl.dnnl_primitive_desc_create(&fwdPd, &fwdDesc, attr, engine, nullptr)))
      return false;
    struct Role {
      dnnl_query_t query;
      int arg;
      bool output;
      const dnnl_memory_desc_t* user;
    };
    std::vector<Role> roles;
    if (dir == Direction::Forward) {
      pd = fwdPd;
      fwdPd = nullptr;
      roles = {{dnnl_query_src_md, DNNL_ARG_SRC, false, &srcUser},
               {dnnl_query_weights_md, DNNL_ARG_WEIGHTS, false, &weiUser},
               {dnnl_query_dst_md, DNNL_ARG_DST, true, &dstUser}};
    } else {
      dnnl_convolution_desc_t desc;
      const bool described =
          dir == Direction::InputJacT
              ? success(dnnl.dnnl_dilated_convolution_backward_data_desc_init(&desc, dnnl_convolution_direct, &srcAny, &weiAny, &dstAny, strides,
                                                                             dilates, padL, padR))
              : success(dnnl.dnnl_dilated_convolution_backward_weights_desc_init(&desc, dnnl_convolution_direct, &srcAny, &weiAny, nullptr,
                                                                                &dstAny, strides, dilates, padL, padR));
      const bool created = described && success(dnnl.dnnl_primitive_desc_create(&pd, &desc, attr, engine, fwdPd));
      dnnl.dnnl_primitive_desc_destroy(fwdPd);
      if (!created) return false;
      if (dir == Direction::InputJacT) {
        roles = {{dnnl_query_diff_dst_md, DNNL_ARG_DIFF_DST, false, &dstUser},
                 {dnnl_query_weights_md, DNNL_ARG_WEIGHTS, false, &weiUser},
                 {dnnl_query_diff_src_md, DNNL_ARG_DIFF_SRC, true, &srcUser}};
      } else {
        roles = {{dnnl_query_src_md, DNNL_ARG_SRC, false, &srcUser},
                 {dnnl_query_diff_dst_md, DNNL_ARG_DIFF_DST, false, &dstUser},
                 {dnnl_query_diff_weights_md, DNNL_ARG_DIFF_WEIGHTS, true, &weiUser}};
      }
    }
    bool ok = true;
    for (const Role& role : roles) {
      Operand op;
      op.arg = role.arg;
      op.output = role.output;
      op.user = *role.user;
      op.inner = *dnnl.dnnl_primitive_desc_query_md(pd, role.query, 0);
      if (!dnnl.dnnl_memory_desc_equal(&op.user, &op.inner)) {
        dnnl_primitive_desc_t reorderPd = nullptr;
        const dnnl_memory_desc_t* from = op.output ? &op.inner : &op.user;
        const dnnl_memory_desc_t* to = op.output ? &op.user : &op.inner;
        ok = ok && success(dnnl.dnnl_reorder_primitive_desc_create(&reorderPd, from, engine, to, engine, nullptr)) &&
             success(dnnl.dnnl_primitive_create(&op.reorder, reorderPd));
        if (reorderPd) dnnl.dnnl_primitive_desc_destroy(reorderPd);
      }
      plan.operands.push_back(op);
    }
    plan.scratchpad = *dnnl.dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    ok = ok && success(dnnl.dnnl_primitive_create(&plan.conv, pd));
    dnnl.dnnl_primitive_desc_destroy(pd);
    return ok;
  }

  /**
   * Runs a plan on one thread with a slot's stream and buffers, on the given tensors (operands in
   * plan order, bias or nullptr). False: nothing reliable was written.
   */
  bool run(const Plan& plan, Slot& slot, const std::vector<void*>& tensors, const float* bias) {
    SignalsHeld held;
    dnnl.ompSetNumThreads(1);  // for the reorders, which size their OpenMP team when they run
    std::vector<dnnl_memory_t> made;
    auto memory = [&](const dnnl_memory_desc_t& md, void* handle) -> dnnl_memory_t {
      dnnl_memory_t m = nullptr;
      if (!success(dnnl.dnnl_memory_create(&m, &md, engine, handle))) return nullptr;
      made.push_back(m);
      return m;
    };
    bool ok = true;
    std::vector<dnnl_exec_arg_t> args;
    struct Reordered {
      dnnl_primitive_t reorder;
      dnnl_memory_t inner, user;
    };
    std::vector<Reordered> outputs;  // moved to the user's layout after the convolution
    for (size_t i = 0; ok && i < plan.operands.size(); i++) {
      const Operand& op = plan.operands[i];
      dnnl_memory_t user = memory(op.user, tensors[i]);
      dnnl_memory_t inner = op.reorder ? memory(op.inner, slot.buffer(static_cast<int>(i), dnnl.dnnl_memory_desc_get_size(&op.inner))) : user;
      ok = user && inner;
      if (ok && op.reorder && !op.output) {
        const dnnl_exec_arg_t move[2] = {{DNNL_ARG_FROM, user}, {DNNL_ARG_TO, inner}};
        ok = success(dnnl.dnnl_primitive_execute(op.reorder, slot.stream, 2, move));
      }
      if (ok && op.reorder && op.output) outputs.push_back({op.reorder, inner, user});
      args.push_back({op.arg, inner});
    }
    if (ok && plan.hasBias) {
      dnnl_memory_t b = memory(plan.bias, const_cast<float*>(bias));
      ok = b != nullptr;
      args.push_back({DNNL_ARG_BIAS, b});
    }
    if (ok) {
      dnnl_memory_t s = memory(plan.scratchpad, slot.buffer(3, dnnl.dnnl_memory_desc_get_size(&plan.scratchpad)));
      ok = s != nullptr;
      args.push_back({DNNL_ARG_SCRATCHPAD, s});
    }
    ok = ok && success(dnnl.dnnl_primitive_execute(plan.conv, slot.stream, static_cast<int>(args.size()), args.data()));
    for (const Reordered& out : outputs) {
      const dnnl_exec_arg_t move[2] = {{DNNL_ARG_FROM, out.inner}, {DNNL_ARG_TO, out.user}};
      ok = ok && success(dnnl.dnnl_primitive_execute(out.reorder, slot.stream, 2, move));
    }
    ok = ok && success(dnnl.dnnl_stream_wait(slot.stream));
    for (dnnl_memory_t m : made) dnnl.dnnl_memory_destroy(m);
    return ok;
  }

  /**
   * fn(chunk, n0, plan, slot) for every chunk of the batch, on the pool; false (having run none)
   * where a chunk's plan cannot be made, or where a chunk failed.
   */
  template <class Fn>
  bool forChunks(ThreadPool& pool, Direction dir, const ConvParams& p, Fn fn) {
    const Chunks ch = chunksOf(p.n);
    const Plan *full, *last;  // std::map: references stay valid as plans are added
    {
      SignalsHeld held;  // while oneDNN makes the plans (run() holds them while it executes)
      full = &plan(dir, p, ch.size);
      last = &plan(dir, p, p.n - (ch.count - 1) * ch.size);
      if (!full->ok || !last->ok || !reserveSlots(ch.count)) return false;
    }
    std::atomic<bool> ok{true};
    pool.run(ch.count, [&](i64 c) {
      if (!fn(c, c * ch.size, c == ch.count - 1 ? *last : *full, slots[c])) ok = false;
    });
    return ok;
  }
};

std::unique_ptr<OnednnConv> OnednnConv::create() {
  const Api* a = api();
  if (!a) return nullptr;
  SignalsHeld held;
  auto impl = std::make_unique<Impl>(*a);
  // The scratchpad is ours (Slot::buffer, reused), not memory oneDNN allocates per primitive.
  if (!success(a->dnnl_engine_create(&impl->engine, dnnl_cpu, 0)) || !success(a->dnnl_primitive_attr_create(&impl->attr)) ||
      !success(a->dnnl_primitive_attr_set_scratchpad_mode(impl->attr, dnnl_scratchpad_mode_user)))
    return nullptr;
  return std::unique_ptr<OnednnConv>(new OnednnConv(std::move(impl)));
}

std::string OnednnConv::version() {
  const Api* a = api();
  return a ? a->version : "";
}

OnednnConv::OnednnConv(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
OnednnConv::~OnednnConv() = default;

namespace {
bool empty(const ConvParams& p) { return p.n == 0 || p.v == 0 || p.C == 0 || p.O == 0 || p.w.P == 0 || p.w.S == 0; }
float* mut(const float* p) { return const_cast<float*>(p); }
}  // namespace

bool OnednnConv::forward(const ConvParams& p, ThreadPool& pool) {
  if (empty(p)) return false;
  const i64 in = p.C * p.w.S, out = p.O * p.w.P;
  return impl_->forChunks(pool, Direction::Forward, p, [&](i64, i64 n0, const Plan& plan, Slot& slot) {
    return impl_->run(plan, slot, {mut(p.x + n0 * in), mut(p.W), p.y + n0 * out}, p.bias);
  });
}

bool OnednnConv::inputJacT(const ConvParams& p, ThreadPool& pool) {
  // NOTE: with few input channels per group oneDNN's input gradient is 3–5× slower than ours
  // (1 and 3 channels: docs/decisions.md); it blocks channels by 16.
  if (empty(p) || p.C / p.G < 16) return false;
  const i64 in = p.C * p.w.S, out = p.O * p.w.P;
  return impl_->forChunks(pool, Direction::InputJacT, p, [&](i64, i64 m0, const Plan& plan, Slot& slot) {
    return impl_->run(plan, slot, {mut(p.V + m0 * out), mut(p.W), p.y + m0 * in}, nullptr);
  });
}

bool OnednnConv::weightGrad(const ConvParams& p, ThreadPool& pool) {
  if (empty(p)) return false;
  const i64 theta = p.O * (p.C / p.G) * p.w.K, in = p.C * p.w.S, out = p.O * p.w.P, width = p.v * theta;
  const i64 count = chunksOf(p.n).count;
  impl_->partials.resize(static_cast<size_t>(count * width));
  float* partials = impl_->partials.data();
  const bool ran = impl_->forChunks(pool, Direction::WeightGrad, p, [&](i64 c, i64 n0, const Plan& plan, Slot& slot) {
    for (i64 v = 0; v < p.v; v++) {
      if (!impl_->run(plan, slot, {mut(p.x + n0 * in), mut(p.V + (v * p.n + n0) * out), partials + c * width + v * theta}, nullptr)) return false;
    }
    return true;
  });
  if (!ran) return false;
  // The chunks' partials added in chunk order.
  pool.parallelFor(width, 1 << 15, [&](i64 a, i64 b) {
    for (i64 j = a; j < b; j++) {
      float acc = partials[j];
      for (i64 c = 1; c < count; c++) acc += partials[c * width + j];
      p.y[j] = acc;
    }
  });
  return true;
}

}  // namespace bp

#else  // built without oneDNN's headers: conv.cc runs every convolution

namespace bp {
struct OnednnConv::Impl {};
std::unique_ptr<OnednnConv> OnednnConv::create() { return nullptr; }
std::string OnednnConv::version() { return ""; }
OnednnConv::OnednnConv(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
OnednnConv::~OnednnConv() = default;
bool OnednnConv::forward(const ConvParams&, ThreadPool&) { return false; }
bool OnednnConv::inputJacT(const ConvParams&, ThreadPool&) { return false; }
bool OnednnConv::weightGrad(const ConvParams&, ThreadPool&) { return false; }
}  // namespace bp

#endif
