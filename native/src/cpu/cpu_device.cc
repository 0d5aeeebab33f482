#include "cpu_device.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <vector>

namespace bp {

namespace {
constexpr size_t kHuge = size_t(2) << 20;
}

void* HostAllocator::allocate(size_t bytes) {
  // NOTE: blocks of 2 MiB and more are huge-page aligned and advised: a fresh 4 KiB page costs
  // ~10 µs on our VMs, a 2 MiB one the same order, so first touches get ~500× cheaper.
  const size_t align = bytes >= kHuge ? kHuge : 64;
  const size_t size = (bytes + align - 1) / align * align;
  void* p = std::aligned_alloc(align, size);
  if (p && bytes >= kHuge) madvise(p, size, MADV_HUGEPAGE);
  return p;
}

void HostAllocator::deallocate(void* p, size_t) { std::free(p); }

CpuDevice::CpuDevice(const Blas* blas, int threads) : blas_(blas), pool_(threads), onednn_(OnednnConv::create()) {
  // Keep up to a quarter of physical memory of freed blocks (callers with a budget set their own):
  // a shard's working set is then reused run after run instead of faulted in again.
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  if (pages > 0 && page > 0) alloc_.setLimit(static_cast<size_t>(pages) * static_cast<size_t>(page) / 4);
}

std::string CpuDevice::description() const {
  return onednn_ && onednnOn_ ? blas_->description + "; convolutions: " + OnednnConv::version() : blas_->description;
}

void CpuDevice::upload(void* dst, const void* src, size_t bytes) {
  counters.uploads++;
  counters.uploadBytes += bytes;
  copy(dst, src, bytes);
}

void CpuDevice::download(void* dst, const void* src, size_t bytes) {
  counters.downloads++;
  counters.downloadBytes += bytes;
  copy(dst, src, bytes);
}

void CpuDevice::copy(void* dst, const void* src, size_t bytes) {
  if (dst == src || bytes == 0) return;
  constexpr i64 kPiece = 1 << 20;
  pool_.parallelFor(static_cast<i64>(bytes), 4 * kPiece, [&](i64 a, i64 b) {
    std::memcpy(static_cast<char*>(dst) + a, static_cast<const char*>(src) + a, static_cast<size_t>(b - a));
  });
}

void CpuDevice::fill(void* dst, DType t, i64 n, double value) {
  if (t == DType::Bool) {
    std::memset(dst, value != 0.0 ? 1 : 0, static_cast<size_t>(n));
    return;
  }
  if (value == 0.0) {
    pool_.parallelFor(n, 4 * kGrain, [&](i64 a, i64 b) { std::memset(static_cast<int32_t*>(dst) + a, 0, static_cast<size_t>(b - a) * 4); });
    return;
  }
  if (t == DType::F32) {
    const float v = static_cast<float>(value);
    float* y = static_cast<float*>(dst);
    pool_.parallelFor(n, 4 * kGrain, [&](i64 a, i64 b) { for (i64 i = a; i < b; i++) y[i] = v; });
  } else {
    // ±Inf saturate, NaN is 0 (a plain cast would be undefined behaviour).
    const int32_t v = value != value ? 0 : value >= 2147483647.0 ? 2147483647 : value <= -2147483648.0 ? (-2147483647 - 1) : static_cast<int32_t>(value);
    int32_t* y = static_cast<int32_t*>(dst);
    pool_.parallelFor(n, 4 * kGrain, [&](i64 a, i64 b) { for (i64 i = a; i < b; i++) y[i] = v; });
  }
}

float* threadScratch(int slot, i64 n) {
  thread_local std::vector<std::vector<float>> buffers;
  if (static_cast<int>(buffers.size()) <= slot) buffers.resize(slot + 1);
  auto& b = buffers[slot];
  if (static_cast<i64>(b.size()) < n) b.resize(static_cast<size_t>(n));
  return b.data();
}

std::unique_ptr<Device> makeCpuDevice(int threads, std::string* error) {
  const Blas* blas = loadBlas(error);
  if (!blas) return nullptr;
  return std::make_unique<CpuDevice>(blas, threads);
}

}  // namespace bp
