#include "thread_pool.h"

#include <algorithm>
#include <chrono>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define BP_CPU_RELAX() _mm_pause()
#else
#define BP_CPU_RELAX() std::this_thread::yield()
#endif

namespace bp {

namespace {
// How long an idle thread spins before it sleeps: longer than the gaps between an MLP's kernels
// (tens to hundreds of microseconds of JS), far shorter than anything a user would see as a busy
// core. 200 µs left the worker asleep at many of mlp_mnist's GEMMs: 2 threads ran its grad,
// DiagGGNMC and KFAC 0–6 % faster than 1; with 1 ms 5–14 %, with 3 ms no better (docs/decisions.md).
constexpr std::chrono::microseconds kSpin{1000};
}  // namespace

template <class Pred>
bool ThreadPool::spinUntil(Pred pred) {
  const auto until = std::chrono::steady_clock::now() + kSpin;
  for (int i = 1;; i++) {
    if (pred()) return true;
    BP_CPU_RELAX();
    if ((i & 63) == 0 && std::chrono::steady_clock::now() >= until) return pred();
  }
}

ThreadPool::ThreadPool(int threads) { resize(threads); }

ThreadPool::~ThreadPool() { resize(1); }

void ThreadPool::resize(int threads) {
  threads = std::max(1, threads);
  if (threads == size()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  for (auto& t : workers_) t.join();
  workers_.clear();
  stop_.store(false);
  for (int i = 1; i < threads; i++) workers_.emplace_back([this] { workerLoop(); });
}

void ThreadPool::drain(const std::function<void(int64_t)>& fn, int64_t chunks) {
  for (int64_t c = next_.fetch_add(1); c < chunks; c = next_.fetch_add(1)) {
    fn(c);
    finished_.fetch_add(1);
  }
}

void ThreadPool::workerLoop() {
  uint64_t seen = 0;
  for (;;) {
    const std::function<void(int64_t)>* fn = nullptr;
    int64_t chunks = 0;
    spinUntil([&] { return stop_.load(std::memory_order_acquire) || generation_.load(std::memory_order_acquire) != seen; });
    {
      std::unique_lock<std::mutex> lock(mu_);
      wake_.wait(lock, [&] { return stop_.load() || generation_.load() != seen; });
      if (stop_) return;
      seen = generation_;
      // The caller may already have finished the job alone and cleared it (under this lock).
      if (!job_) continue;
      fn = job_;
      chunks = chunks_;
      busy_++;
    }
    drain(*fn, chunks);
    {
      std::lock_guard<std::mutex> lock(mu_);
      busy_--;
    }
    done_.notify_all();
  }
}

void ThreadPool::run(int64_t chunks, const std::function<void(int64_t)>& fn) {
  if (chunks <= 0) return;
  if (workers_.empty() || chunks == 1) {
    for (int64_t c = 0; c < chunks; c++) fn(c);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    job_ = &fn;
    chunks_ = chunks;
    next_.store(0);
    finished_.store(0);
    generation_++;
  }
  wake_.notify_all();
  drain(fn, chunks);
  // Every chunk finished and no worker still inside drain() (it would read job_ / chunks_).
  const auto allDone = [&] { return finished_.load() == chunks && busy_.load() == 0; };
  spinUntil(allDone);
  std::unique_lock<std::mutex> lock(mu_);
  done_.wait(lock, allDone);
  job_ = nullptr;
}

void ThreadPool::parallelFor(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  grain = std::max<int64_t>(1, grain);
  const int64_t pieces = (n + grain - 1) / grain;
  if (pieces <= 1 || workers_.empty()) {
    fn(0, n);
    return;
  }
  run(pieces, [&](int64_t c) { fn(c * grain, std::min(n, (c + 1) * grain)); });
}

}  // namespace bp
