// A caching allocator over any device's raw allocator (host memory, cudaMalloc, or a fake device
// in tests). Freed blocks are kept by size class and handed out again, so steady-state shards touch
// no fresh pages (a new page costs ~10 µs on our VMs) and make no cudaMalloc/cudaFree calls.
//
// Size classes: up to 4 KiB in 256-byte steps, above that quarter powers of two (≤ 25% slack).
// The cache is bounded (`setLimit`): blocks beyond the limit are released, largest first, and a
// raw allocation that fails releases every cached block and tries once more.
//
// NOTE (cuda): the device runs every kernel on one stream, so a block freed by the host is only
// reused by work queued after the work that last used it: stream order makes reuse safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <unordered_map>
#include <vector>

namespace bp {

class RawAllocator {
 public:
  virtual ~RawAllocator() = default;
  /** Returns nullptr when the device is out of memory. */
  virtual void* allocate(size_t bytes) = 0;
  virtual void deallocate(void* p, size_t bytes) = 0;
};

struct AllocatorStats {
  size_t inUse = 0;       // bytes handed out (by size class)
  size_t cached = 0;      // bytes held in free lists
  size_t peak = 0;        // peak of inUse + cached
  uint64_t rawAllocs = 0; // calls to the raw allocator
  uint64_t hits = 0;      // allocations served from the cache
};

class CachingAllocator {
 public:
  explicit CachingAllocator(RawAllocator* raw) : raw_(raw) {}
  ~CachingAllocator();
  CachingAllocator(const CachingAllocator&) = delete;
  CachingAllocator& operator=(const CachingAllocator&) = delete;

  static size_t roundSize(size_t bytes);

  /** A block of at least `bytes`, or nullptr if the device is out of memory even after emptying the cache. */
  void* allocate(size_t bytes);
  /** Returns a block from `allocate` to the cache. */
  void release(void* p);
  /** Releases cached blocks until at most `keep` bytes stay cached. */
  void trim(size_t keep);
  /** Largest number of bytes the cache keeps (default 1 GiB). */
  void setLimit(size_t bytes);
  size_t blockSize(void* p) const;
  const AllocatorStats& stats() const { return stats_; }
  /**
   * Called with each cached block just before it goes back to the device (trim, or a failed
   * allocation emptying the cache): the addon detaches JavaScript arrays still pointing into it.
   */
  void setBeforeRawFree(std::function<void(void*)> fn) { beforeRawFree_ = std::move(fn); }

 private:
  RawAllocator* raw_;
  std::map<size_t, std::vector<void*>> free_;  // size class → cached blocks (ordered: trim takes the largest)
  std::unordered_map<void*, size_t> sizes_;    // every live or cached block → its size class
  size_t limit_ = size_t(1) << 30;
  AllocatorStats stats_;
  std::function<void(void*)> beforeRawFree_;
};

}  // namespace bp
