// Per-addon-instance state. The addon is context-aware: every Node thread that loads it (the main
// thread, each piscina worker, each child process) gets its own Instance with its own device,
// allocator cache and buffer table, so worker threads never share or lock anything.
//
// Buffers are named by small integer handles. A buffer lives while its tensor holds it or a
// zero-copy view (an external ArrayBuffer over host memory) is still reachable from JavaScript:
// `refs` counts both, and the block returns to the allocator's cache when it drops to zero.
#pragma once

#include <node_api.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "../device/device.h"

namespace bp {

struct Buffer {
  void* ptr = nullptr;
  size_t bytes = 0;
  int refs = 0;
};

struct Core;

/** What a zero-copy view's finaliser needs: its buffer, and whether release() already returned it. */
struct ViewHint {
  std::weak_ptr<Core> core;
  int32_t handle;
  int64_t bytes;
  bool released = false;
};

/** A released view's ArrayBuffer, kept (strongly referenced) for the next view of the same memory. */
struct ParkedView {
  napi_ref buffer;
  ViewHint* hint;
};

struct Core {
  std::unique_ptr<Device> device;
  /** Zero-copy views still reachable from JavaScript (for release()). */
  std::unordered_set<ViewHint*> views;
  /** Released views by block address (module.cc, Release): reused by view(), detached before the block is freed. */
  std::unordered_map<void*, ParkedView> parked;
  std::vector<Buffer> buffers;
  std::vector<int32_t> freeHandles;
  size_t liveBuffers = 0;

  int32_t add(void* ptr, size_t bytes);
  Buffer& get(double handle);
  void unref(int32_t handle);
};

struct Instance {
  std::shared_ptr<Core> core = std::make_shared<Core>();
};

/** A JavaScript exception with this message (thrown from bindings, caught at the N-API edge). */
struct JsError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace bp
