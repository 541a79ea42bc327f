// A small fork-join pool: run(tasks, f) calls f(0..tasks-1) on the caller and the pool's threads
// and returns when all are done. BLAS runs single-threaded inside the tasks, so one pool owns all
// the cores the user gave us. A training step hands the pool ~40 products and passes a layer, back
// to back, and waking a sleeping thread takes tens of microseconds (more in a VM): a thread that is
// done waits up to kSpin for the next hand-off before it sleeps, yielding the core meanwhile, so
// on a busy machine the other programs' threads run instead (a spin on `pause` would take their time).
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>
#ifdef __linux__
#include <pthread.h>
#endif

class Pool {
 public:
  ~Pool() { resize(1); }

  int size() const { return count_.load(); }

  void resize(int threads) {
    std::lock_guard<std::mutex> busy(dispatch_);
    if (threads < 1) threads = 1;
    if (int(workers_.size()) + 1 == threads) return;
    {
      std::lock_guard<std::mutex> lock(m_);
      stop_ = true;
      ++generation_;
    }
    wake_.notify_all();
    for (auto& w : workers_) w.join();
    workers_.clear();
    stop_ = false;
    const long start = generation_;
    // The threads are started here, by the thread that owns the pool: Linux gives them its nice value.
    for (int i = 1; i < threads; i++) {
      workers_.emplace_back([this, start] { loop(start); });
#ifdef __linux__
      // Named here, not by the thread itself, so it has its name when resize returns.
      pthread_setname_np(workers_.back().native_handle(), "corpus-lab-pool");  // 15 characters, Linux's limit
#endif
    }
    count_.store(threads);
  }

  void run(int tasks, const std::function<void(int)>& f) {
    // Each JS thread has its own pool (kernels.cc); a call from inside a task would run inline.
    std::unique_lock<std::mutex> busy(dispatch_, std::try_to_lock);
    if (!busy.owns_lock() || workers_.empty() || tasks <= 1) {
      for (int i = 0; i < tasks; i++) f(i);
      return;
    }
    {
      std::lock_guard<std::mutex> lock(m_);
      job_ = &f;
      tasks_ = tasks;
      next_.store(0);
      pending_ = int(workers_.size());
      ++generation_;
    }
    wake_.notify_all();
    work();
    yieldUntil([this] { return pending_.load(std::memory_order_acquire) == 0; });
    std::unique_lock<std::mutex> lock(m_);
    done_.wait(lock, [this] { return pending_ == 0; });
    job_ = nullptr;
  }

 private:
  static constexpr std::chrono::microseconds kSpin{100};

  void work() {
    for (int i; (i = next_.fetch_add(1)) < tasks_;) (*job_)(i);
  }

  /** Yields the core until done() or kSpin has passed. */
  template <typename Done>
  static void yieldUntil(const Done& done) {
    const auto until = std::chrono::steady_clock::now() + kSpin;
    while (!done() && std::chrono::steady_clock::now() < until) std::this_thread::yield();
  }

  void loop(long seen) {
    for (;;) {
      yieldUntil([&] { return generation_.load(std::memory_order_acquire) != seen; });
      {
        std::unique_lock<std::mutex> lock(m_);
        wake_.wait(lock, [&] { return generation_ != seen; });
        seen = generation_;
        if (stop_) return;
      }
      work();
      std::lock_guard<std::mutex> lock(m_);
      if (--pending_ == 0) done_.notify_one();
    }
  }

  std::mutex dispatch_, m_;
  std::condition_variable wake_, done_;
  std::vector<std::thread> workers_;
  const std::function<void(int)>* job_ = nullptr;
  std::atomic<int> next_{0}, count_{1}, pending_{0};
  std::atomic<long> generation_{0};
  int tasks_ = 0;
  bool stop_ = false;
};
