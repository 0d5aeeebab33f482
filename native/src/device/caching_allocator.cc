#include "caching_allocator.h"

#include <algorithm>

namespace bp {

CachingAllocator::~CachingAllocator() {
  trim(0);
  // Blocks still in use at teardown (a worker thread exiting with live tensors) go back to the device.
  for (auto& [p, size] : sizes_) raw_->deallocate(p, size);
}

size_t CachingAllocator::roundSize(size_t bytes) {
  if (bytes == 0) bytes = 1;
  if (bytes <= 4096) return (bytes + 255) & ~size_t(255);
  size_t pow = 4096;
  while (pow * 2 < bytes) pow *= 2;
  const size_t quarter = pow / 4;
  return ((bytes + quarter - 1) / quarter) * quarter;
}

void* CachingAllocator::allocate(size_t bytes) {
  const size_t size = roundSize(bytes);
  auto it = free_.find(size);
  if (it != free_.end() && !it->second.empty()) {
    void* p = it->second.back();
    it->second.pop_back();
    stats_.cached -= size;
    stats_.inUse += size;
    stats_.hits++;
    return p;
  }
  void* p = raw_->allocate(size);
  if (!p) {
    trim(0);
    p = raw_->allocate(size);
    if (!p) return nullptr;
  }
  stats_.rawAllocs++;
  sizes_[p] = size;
  stats_.inUse += size;
  stats_.peak = std::max(stats_.peak, stats_.inUse + stats_.cached);
  return p;
}

void CachingAllocator::release(void* p) {
  if (!p) return;
  auto it = sizes_.find(p);
  if (it == sizes_.end()) return;
  const size_t size = it->second;
  stats_.inUse -= size;
  free_[size].push_back(p);
  stats_.cached += size;
  if (stats_.cached > limit_) trim(limit_);
}

void CachingAllocator::trim(size_t keep) {
  // Largest classes first: one large block frees as much as many small ones, and small blocks
  // are the ones reused most often.
  for (auto it = free_.rbegin(); it != free_.rend() && stats_.cached > keep; ++it) {
    auto& list = it->second;
    while (!list.empty() && stats_.cached > keep) {
      void* p = list.back();
      list.pop_back();
      if (beforeRawFree_) beforeRawFree_(p);
      raw_->deallocate(p, it->first);
      sizes_.erase(p);
      stats_.cached -= it->first;
    }
  }
}

void CachingAllocator::setLimit(size_t bytes) {
  limit_ = bytes;
  if (stats_.cached > limit_) trim(limit_);
}

size_t CachingAllocator::blockSize(void* p) const {
  auto it = sizes_.find(p);
  return it == sizes_.end() ? 0 : it->second;
}

}  // namespace bp
