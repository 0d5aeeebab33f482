// The cuda device's raw allocator, written against a small driver interface so that its logic
// (and the caching allocator above it) can be unit-tested on a fake device without a GPU
// (native/test/stream_allocator_test.cc).
//
// Stream order makes reuse safe: every kernel and copy of a device instance runs on its one
// stream, so a block the host hands back to the cache while queued work still reads it is only
// handed out again to work queued *after* that work. The one place where the host itself gives
// memory back to the driver (a cache trim, or teardown) waits for the stream first: cudaFree must
// never free a block that queued work still uses.
#pragma once

#include <cstddef>

#include "../device/caching_allocator.h"

namespace bp {

/** What the raw allocator needs from a device: the CUDA calls, or a fake in tests. */
class StreamDriver {
 public:
  virtual ~StreamDriver() = default;
  /** cudaMalloc; nullptr when the device is out of memory. */
  virtual void* malloc(size_t bytes) = 0;
  /** cudaFree (only after synchronize). */
  virtual void free(void* p) = 0;
  /** cudaStreamSynchronize on the device's stream. */
  virtual void synchronize() = 0;
};

class StreamOrderedRawAllocator : public RawAllocator {
 public:
  explicit StreamOrderedRawAllocator(StreamDriver* driver) : driver_(driver) {}
  void* allocate(size_t bytes) override {
    mallocs_++;
    return driver_->malloc(bytes);
  }
  void deallocate(void* p, size_t) override {
    driver_->synchronize();
    driver_->free(p);
    frees_++;
  }
  /** Driver allocations and frees so far (a steady state makes neither). */
  size_t mallocs() const { return mallocs_; }
  size_t frees() const { return frees_; }

 private:
  StreamDriver* driver_;
  size_t mallocs_ = 0, frees_ = 0;
};

}  // namespace bp
