// The cuda device's memory logic on a fake device (no GPU): the caching allocator over the
// stream-ordered raw allocator (native/src/cuda/stream_allocator.h), driven by shards of random
// "kernels" that run later, in stream order, as on a GPU. Built and run by
// test/backends/cuda-allocator.test.ts:
//   g++ -std=c++17 -I native/src native/test/cuda_allocator_test.cc native/src/device/caching_allocator.cc
//
// Checked: steady-state shards make no driver allocations or frees (no cudaMalloc/cudaFree per
// op); a block handed back while queued work still reads it is only reused by later work, which
// stream order runs after (every queued read sees the value its producer wrote); the driver never
// frees a block with work still queued (the raw allocator waits for the stream first); out of
// memory empties the cache and retries once, then reports nullptr; the cache limit trims; every
// block goes back to the driver at teardown.
#include <cstdio>
#include <cstdlib>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "cuda/stream_allocator.h"

namespace {

int failures = 0, passes = 0;

#define EXPECT(cond, ...)                                          \
  do {                                                             \
    if (!(cond)) {                                                 \
      failures++;                                                  \
      std::printf("FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);  \
      std::printf(__VA_ARGS__);                                    \
      std::printf("\n");                                           \
    }                                                              \
  } while (0)

/** A device with one in-order stream: kernels run only when the host synchronizes. */
class FakeDevice : public bp::StreamDriver {
 public:
  explicit FakeDevice(size_t capacity) : capacity_(capacity) {}

  void* malloc(size_t bytes) override {
    if (used_ + bytes > capacity_) return nullptr;
    mallocs++;
    void* p = std::malloc(bytes);
    live_[p] = bytes;
    used_ += bytes;
    return p;
  }
  void free(void* p) override {
    frees++;
    if (!queue_.empty()) hazards.push_back("free with queued work");
    for (const auto& op : queue_)
      for (const auto& r : op.reads)
        if (r.block == p) hazards.push_back("free of a block queued work reads");
    auto it = live_.find(p);
    if (it == live_.end()) {
      hazards.push_back("free of an unknown block");
      return;
    }
    used_ -= it->second;
    live_.erase(it);
    std::free(p);
  }
  void synchronize() override {
    syncs++;
    for (const auto& op : queue_) run(op);
    queue_.clear();
  }

  struct Read {
    void* block;
    int expected;  // the id of the kernel that produced the tensor the host meant
  };
  struct Kernel {
    int id;
    std::vector<Read> reads;
    void* writes;
  };
  /** Queues a kernel that reads tensors and writes one block (its id into the block's first int). */
  void launch(const Kernel& k) { queue_.push_back(k); }

  size_t mallocs = 0, frees = 0, syncs = 0;
  std::vector<std::string> hazards;
  size_t liveBlocks() const { return live_.size(); }

 private:
  void run(const Kernel& k) {
    for (const auto& r : k.reads) {
      if (!live_.count(r.block)) hazards.push_back("kernel reads a freed block");
      else if (*static_cast<int*>(r.block) != r.expected) hazards.push_back("kernel reads another tensor's data (block reused too early)");
    }
    if (!live_.count(k.writes)) hazards.push_back("kernel writes a freed block");
    else *static_cast<int*>(k.writes) = k.id;
  }

  size_t capacity_, used_ = 0;
  std::map<void*, size_t> live_;
  std::vector<Kernel> queue_;
};

struct Tensor {
  void* block;
  int producer;
};

/**
 * One shard: a forward chain of kernels over tensors of fixed sizes, each input released by the
 * host right after its consumers are queued (as tfjs disposes intermediates), then a sync (the
 * download of the results). Returns the tensors it leaves alive (none).
 */
void shard(FakeDevice& dev, bp::CachingAllocator& alloc, int& nextId, const std::vector<size_t>& sizes) {
  // Every shard of a job runs the same kernels on the same shapes: the same pattern each time.
  std::mt19937 rng(7);
  std::vector<Tensor> live;
  for (size_t s : sizes) {
    void* out = alloc.allocate(s);
    EXPECT(out != nullptr, "allocation of %zu bytes failed", s);
    if (!out) return;
    FakeDevice::Kernel k{nextId++, {}, out};
    // Reads up to two live tensors.
    for (int r = 0; r < 2 && !live.empty(); r++) {
      const Tensor& t = live[rng() % live.size()];
      k.reads.push_back({t.block, t.producer});
    }
    dev.launch(k);
    live.push_back({out, k.id});
    // The host releases a random tensor while work that reads it may still be queued.
    if (live.size() > 3) {
      const size_t i = rng() % live.size();
      alloc.release(live[i].block);
      live.erase(live.begin() + static_cast<long>(i));
    }
  }
  for (const Tensor& t : live) alloc.release(t.block);
  dev.synchronize();
}

void steadyStateAndStreamOrder() {
  FakeDevice dev(size_t(1) << 30);
  bp::StreamOrderedRawAllocator raw(&dev);
  std::mt19937 rng(1);
  int id = 1;
  std::vector<size_t> sizes;
  for (int i = 0; i < 200; i++) sizes.push_back((size_t(1) << (8 + rng() % 14)) + rng() % 1000);
  {
    bp::CachingAllocator alloc(&raw);
    shard(dev, alloc, id, sizes);
    const size_t warm = dev.mallocs;
    EXPECT(warm > 0, "the first shard allocates");
    for (int s = 0; s < 20; s++) shard(dev, alloc, id, sizes);
    EXPECT(dev.mallocs == warm, "steady-state shards made %zu driver allocations", dev.mallocs - warm);
    EXPECT(dev.frees == 0, "steady-state shards made %zu driver frees", dev.frees);
    EXPECT(raw.mallocs() == dev.mallocs, "raw allocator counts %zu, driver %zu", raw.mallocs(), dev.mallocs);
    EXPECT(alloc.stats().hits > 0, "no cache hits");
  }
  EXPECT(dev.liveBlocks() == 0, "%zu blocks leaked at teardown", dev.liveBlocks());
  EXPECT(dev.hazards.empty(), "%zu hazards, first: %s", dev.hazards.size(), dev.hazards.empty() ? "" : dev.hazards[0].c_str());
  passes++;
}

void outOfMemoryTrimsAndRetries() {
  FakeDevice dev(size_t(1) << 20);  // 1 MiB device
  bp::StreamOrderedRawAllocator raw(&dev);
  bp::CachingAllocator alloc(&raw);
  void* a = alloc.allocate(600 << 10);
  EXPECT(a != nullptr, "first block");
  // Work reading `a` is queued when the host releases it: the cache keeps it.
  dev.launch({1, {}, a});
  alloc.release(a);
  EXPECT(dev.frees == 0, "release must not free");
  // A different size class does not fit beside the cached block: the cache is emptied (after the
  // stream drains) and the allocation retried.
  void* b = alloc.allocate(800 << 10);
  EXPECT(b != nullptr, "allocation after trimming the cache");
  EXPECT(dev.frees == 1, "the cached block went back to the driver (%zu frees)", dev.frees);
  EXPECT(dev.syncs >= 1, "the driver free waited for the stream");
  // Too large even for an empty device: nullptr, not a crash.
  void* c = alloc.allocate(4 << 20);
  EXPECT(c == nullptr, "an impossible allocation returns nullptr");
  alloc.release(b);
  EXPECT(dev.hazards.empty(), "%zu hazards, first: %s", dev.hazards.size(), dev.hazards.empty() ? "" : dev.hazards[0].c_str());
  passes++;
}

void cacheLimitTrims() {
  FakeDevice dev(size_t(1) << 30);
  bp::StreamOrderedRawAllocator raw(&dev);
  bp::CachingAllocator alloc(&raw);
  std::vector<void*> blocks;
  for (int i = 0; i < 16; i++) blocks.push_back(alloc.allocate(size_t(1) << 20));
  int id = 1;
  for (void* p : blocks) {
    dev.launch({id++, {}, p});
    alloc.release(p);
  }
  EXPECT(alloc.stats().cached >= (size_t(16) << 20), "released blocks are cached");
  alloc.setLimit(size_t(4) << 20);
  EXPECT(alloc.stats().cached <= (size_t(4) << 20), "cache trimmed to the limit (%zu bytes cached)", alloc.stats().cached);
  EXPECT(dev.frees >= 12, "trimmed blocks freed (%zu)", dev.frees);
  EXPECT(dev.hazards.empty(), "%zu hazards, first: %s", dev.hazards.size(), dev.hazards.empty() ? "" : dev.hazards[0].c_str());
  passes++;
}

void sizeClasses() {
  using bp::CachingAllocator;
  bool ok = true;
  size_t prev = 0;
  for (size_t b = 1; b < (size_t(1) << 26); b = b * 3 / 2 + 1) {
    const size_t r = CachingAllocator::roundSize(b);
    ok = ok && r >= b && r >= prev && (b <= 4096 ? r - b < 256 : (r - b) * 4 <= b + 4096) && r % 256 == 0;
    prev = r;
  }
  EXPECT(ok, "size classes: at least the request, 256-byte aligned, ≤ 25%% slack, monotone");
  passes++;
}

}  // namespace

int main() {
  steadyStateAndStreamOrder();
  outOfMemoryTrimsAndRetries();
  cacheLimitTrims();
  sizeClasses();
  std::printf("%d checks passed, %d failed\n", passes, failures);
  return failures == 0 ? 0 : 1;
}
