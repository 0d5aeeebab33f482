// A small fork-join pool for the cpu device: `threads - 1` workers plus the calling thread.
// Each worker thread of the coordinator (piscina thread or process) owns one pool through its
// addon instance, sized by --threads-per-worker, so workers × threads never exceeds the cores.
//
// NOTE: work is handed out as numbered chunks from an atomic counter. Callers make every chunk's
// result independent of which thread runs it, so results never depend on the thread count.
// Workers and the caller spin briefly (kSpin) before sleeping on the condition variables: the engine
// issues kernels microseconds apart, and a futex sleep and wake-up costs tens of microseconds on
// our VMs, more than an MLP's small kernels take (docs/decisions.md). Workers × threads never
// exceeds the cores, so a spinning thread holds a core that is its own.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace bp {

class ThreadPool {
 public:
  explicit ThreadPool(int threads = 1);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return static_cast<int>(workers_.size()) + 1; }
  /** Stops the workers and starts `threads - 1` new ones (never while a job runs). */
  void resize(int threads);

  /** Runs fn(chunk) for every chunk in [0, chunks) and returns when all are done. */
  void run(int64_t chunks, const std::function<void(int64_t)>& fn);

  /**
   * fn(begin, end) over [0, n) in pieces of at least `grain` items; inline when one piece would do.
   * Piece boundaries depend on n and grain only.
   */
  void parallelFor(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

 private:
  void workerLoop();
  void drain(const std::function<void(int64_t)>& fn, int64_t chunks);
  /** Spins until pred() or kSpin has passed; whether pred() held. */
  template <class Pred>
  static bool spinUntil(Pred pred);

  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::condition_variable done_;
  const std::function<void(int64_t)>* job_ = nullptr;
  int64_t chunks_ = 0;
  std::atomic<int64_t> next_{0};
  std::atomic<int64_t> finished_{0};
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> busy_{0};
  std::atomic<bool> stop_{false};
};

}  // namespace bp
