// The host emulation of the CUDA runtime (cuda_runtime.h beside this file).
#include <ucontext.h>

#include <cmath>
#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "cuda_runtime.h"

namespace {

thread_local cudaError_t lastError = cudaSuccess;

cudaError_t fail(cudaError_t e) {
  lastError = e;
  return e;
}

}  // namespace

const char* cudaGetErrorName(cudaError_t e) {
  switch (e) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
    case cudaErrorInsufficientDriver: return "cudaErrorInsufficientDriver";
    case cudaErrorNoDevice: return "cudaErrorNoDevice";
    default: return "cudaErrorUnknown";
  }
}

const char* cudaGetErrorString(cudaError_t e) { return e == cudaSuccess ? "no error" : "emulated CUDA error"; }

cudaError_t cudaGetLastError() {
  const cudaError_t e = lastError;
  lastError = cudaSuccess;
  return e;
}

cudaError_t cudaGetDeviceCount(int* count) {
  *count = 1;
  return cudaSuccess;
}

cudaError_t cudaGetDeviceProperties(cudaDeviceProp* prop, int device) {
  if (device != 0) return fail(cudaErrorInvalidValue);
  std::memset(prop, 0, sizeof *prop);
  std::strcpy(prop->name, "Emulated GPU (host)");
  prop->major = 9;
  prop->minor = 0;
  prop->multiProcessorCount = 1;
  prop->totalGlobalMem = size_t(1) << 34;
  return cudaSuccess;
}

cudaError_t cudaSetDevice(int device) { return device == 0 ? cudaSuccess : fail(cudaErrorInvalidValue); }
cudaError_t cudaRuntimeGetVersion(int* v) {
  *v = 13000;
  return cudaSuccess;
}
cudaError_t cudaDriverGetVersion(int* v) {
  *v = 13000;
  return cudaSuccess;
}

cudaError_t cudaStreamCreateWithFlags(cudaStream_t* s, unsigned) {
  *s = reinterpret_cast<cudaStream_t>(new int(0));
  return cudaSuccess;
}
cudaError_t cudaStreamDestroy(cudaStream_t s) {
  delete reinterpret_cast<int*>(s);
  return cudaSuccess;
}
cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }

cudaError_t cudaMalloc(void** p, size_t bytes) {
  // BACKPACK_EMU_MEMORY caps the emulated device (bytes) to exercise out-of-memory paths.
  static const size_t cap = [] {
    const char* e = std::getenv("BACKPACK_EMU_MEMORY");
    return e ? static_cast<size_t>(std::strtoull(e, nullptr, 10)) : size_t(0);
  }();
  static thread_local size_t used = 0;
  if (cap && used + bytes > cap) return fail(cudaErrorMemoryAllocation);
  const size_t size = (bytes + 255) / 256 * 256 + 256;
  void* q = std::aligned_alloc(256, size);
  if (!q) return fail(cudaErrorMemoryAllocation);
  // Header: the block's size (for the cap); NaN bytes everywhere else, so unwritten outputs show.
  *static_cast<size_t*>(q) = size;
  std::memset(static_cast<char*>(q) + 256, 0xFF, size - 256);
  used += size;
  *p = static_cast<char*>(q) + 256;
  return cudaSuccess;
}

cudaError_t cudaFree(void* p) {
  if (!p) return cudaSuccess;
  std::free(static_cast<char*>(p) - 256);
  return cudaSuccess;
}

cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind) {
  std::memmove(dst, src, bytes);
  return cudaSuccess;
}
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, cudaStream_t) {
  return cudaMemcpy(dst, src, bytes, kind);
}
cudaError_t cudaMemsetAsync(void* dst, int value, size_t bytes, cudaStream_t) {
  std::memset(dst, value, bytes);
  return cudaSuccess;
}
cudaError_t cudaMemGetInfo(size_t* free, size_t* total) {
  *free = size_t(1) << 33;
  *total = size_t(1) << 34;
  return cudaSuccess;
}

namespace bp {
namespace emu {
namespace {

constexpr size_t kStack = 128 << 10;

struct Fiber {
  ucontext_t ctx;
  std::unique_ptr<char[]> stack;
  bool done = false;
  unsigned shuffles = 0;
};

struct Scheduler {
  ucontext_t main;
  std::vector<Fiber> fibers;
  size_t current = 0;
  const std::function<void()>* fn = nullptr;
  std::vector<double> slots[2];
  Coords coords;
  bool inGrid = false;
};

thread_local Scheduler sched;

void entry() {
  Scheduler& s = sched;
  (*s.fn)();
  s.fibers[s.current].done = true;
  // uc_link returns to the scheduler.
}

}  // namespace

Coords& coords() { return sched.coords; }

unsigned& shuffleCount() { return sched.fibers[sched.current].shuffles; }

double* shuffleSlot(unsigned tid, unsigned k) {
  auto& v = sched.slots[k % 2];
  if (tid >= v.size()) throw std::logic_error("emulated shuffle outside the block");
  return &v[tid];
}

void syncPoint() {
  Scheduler& s = sched;
  if (!s.inGrid) throw std::logic_error("emulated __syncthreads outside a kernel");
  swapcontext(&s.fibers[s.current].ctx, &s.main);
}

void runGrid(dim3 grid, dim3 block, const std::function<void()>& fn) {
  Scheduler& s = sched;
  if (s.inGrid) throw std::logic_error("emulated kernel launched from a kernel");
  const unsigned threads = block.x * block.y * block.z;
  if (threads == 0 || threads > 1024 || grid.x == 0) {
    fail(cudaErrorInvalidValue);
    return;
  }
  if (s.fibers.size() < threads) s.fibers.resize(threads);
  for (auto& v : s.slots) v.assign(threads, std::nan(""));
  s.fn = &fn;
  s.inGrid = true;
  s.coords.gridSize = grid;
  s.coords.blockSize = block;
  for (unsigned b = 0; b < grid.x * grid.y * grid.z; b++) {
    s.coords.block = dim3(b % grid.x, (b / grid.x) % grid.y, b / (grid.x * grid.y));
    for (unsigned t = 0; t < threads; t++) {
      Fiber& f = s.fibers[t];
      if (!f.stack) f.stack.reset(new char[kStack]);
      getcontext(&f.ctx);
      f.ctx.uc_stack.ss_sp = f.stack.get();
      f.ctx.uc_stack.ss_size = kStack;
      f.ctx.uc_link = &s.main;
      makecontext(&f.ctx, entry, 0);
      f.done = false;
      f.shuffles = 0;
    }
    // Lockstep rounds: each live thread runs to its next sync point (or its end) once per round.
    for (bool live = true; live;) {
      live = false;
      for (unsigned t = 0; t < threads; t++) {
        Fiber& f = s.fibers[t];
        if (f.done) continue;
        s.current = t;
        s.coords.thread = dim3(t % block.x, (t / block.x) % block.y, t / (block.x * block.y));
        swapcontext(&s.main, &f.ctx);
        live = live || !f.done;
      }
    }
  }
  s.inGrid = false;
}

}  // namespace emu
}  // namespace bp
