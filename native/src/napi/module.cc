// The N-API surface: buffer management and one function per kernel family. Kernel functions take
// a single Float64Array of parameters (handles, sizes, strides, attributes; layouts documented in
// src/backends/native/addon.ts, which writes them), so a call costs one typed-array lookup.
#include <node_api.h>

#include <array>
#include <cstring>
#include <string>

#include "instance.h"

namespace bp {
namespace {

// ---- instance and buffer table ----------------------------------------------------------------

Instance* instanceOf(napi_env env) {
  void* data = nullptr;
  napi_get_instance_data(env, &data);
  return static_cast<Instance*>(data);
}

Core& core(napi_env env) {
  Core& c = *instanceOf(env)->core;
  if (!c.device) throw JsError("the native device is not initialised: call init() first");
  return c;
}

// ---- argument parsing ---------------------------------------------------------------------------

struct Args {
  const double* a = nullptr;
  size_t n = 0;
  size_t i = 0;
  Core* c = nullptr;

  double num() {
    if (i >= n) throw JsError("kernel parameter list too short");
    return a[i++];
  }
  i64 integer() { return static_cast<i64>(num()); }
  int small() { return static_cast<int>(num()); }
  /** A buffer's data pointer from its handle (-1: nullptr). */
  void* ptr() {
    const double h = num();
    if (h < 0) return nullptr;
    return c->get(h).ptr;
  }
  float* f32() { return static_cast<float*>(ptr()); }
  Space space(int operands) {
    Space s;
    s.nd = small();
    if (s.nd < 0 || s.nd > kMaxDims) throw JsError("rank " + std::to_string(s.nd) + " exceeds the native backend's " + std::to_string(kMaxDims));
    for (int d = 0; d < s.nd; d++) s.shape[d] = integer();
    i64* st[3] = {s.s0, s.s1, s.s2};
    for (int o = 0; o < operands; o++)
      for (int d = 0; d < s.nd; d++) st[o][d] = integer();
    return s;
  }
  WindowParams window() {
    WindowParams w;
    w.map = static_cast<const int32_t*>(ptr());
    w.S = integer();
    w.K = integer();
    w.P = integer();
    w.nd = small();
    if (w.nd < 1 || w.nd > 3) throw JsError("windows have 1 to 3 spatial dims");
    i64* fields[6] = {w.in, w.kernel, w.stride, w.dilation, w.padLo, w.out};
    for (i64* f : fields)
      for (int d = 0; d < 3; d++) f[d] = d < w.nd ? integer() : 1;
    return w;
  }
};

Args argsOf(napi_env env, napi_callback_info info, napi_value* rest = nullptr, size_t restCount = 0) {
  size_t argc = 1 + restCount;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  if (argc < 1) throw JsError("missing kernel parameters");
  napi_typedarray_type type;
  size_t length;
  void* data;
  napi_value buf;
  size_t off;
  if (napi_get_typedarray_info(env, argv[0], &type, &length, &data, &buf, &off) != napi_ok || type != napi_float64_array) {
    throw JsError("kernel parameters must be a Float64Array");
  }
  for (size_t k = 0; k < restCount; k++) rest[k] = argv[1 + k];
  Args a;
  a.a = static_cast<const double*>(data);
  a.n = length;
  a.c = &core(env);
  return a;
}

napi_value undefined(napi_env env) {
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}

napi_value number(napi_env env, double v) {
  napi_value out;
  napi_create_double(env, v, &out);
  return out;
}

napi_value string(napi_env env, const std::string& s) {
  napi_value out;
  napi_create_string_utf8(env, s.c_str(), s.size(), &out);
  return out;
}

/** Runs a binding body, turning C++ exceptions into JavaScript errors. */
template <class F>
napi_value guarded(napi_env env, F body) {
  try {
    return body();
  } catch (const std::exception& e) {
    napi_throw_error(env, "E_NATIVE", e.what());
  } catch (...) {
    napi_throw_error(env, "E_NATIVE", "unknown native error");
  }
  return nullptr;
}

#define BINDING(name) napi_value name(napi_env env, napi_callback_info info)

// ---- device and memory --------------------------------------------------------------------------

void unpark(napi_env env, Core& c, void* block);

BINDING(Init) {
  return guarded(env, [&] {
    size_t argc = 2;
    napi_value argv[2];
    napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
    char kind[16] = {0};
    size_t len = 0;
    napi_get_value_string_utf8(env, argv[0], kind, sizeof kind, &len);
    double threads = 1;
    if (argc > 1) napi_get_value_double(env, argv[1], &threads);
    Core& c = *instanceOf(env)->core;
    if (!c.device) {
      std::string error;
      c.device = std::string(kind) == "cuda" ? makeCudaDevice(&error) : makeCpuDevice(static_cast<int>(threads), &error);
      if (!c.device) throw JsError(error);
      Core* cp = &c;
      c.device->allocator().setBeforeRawFree([env, cp](void* block) { unpark(env, *cp, block); });
    }
    c.device->setThreads(static_cast<int>(threads));
    napi_value out;
    napi_create_object(env, &out);
    napi_set_named_property(env, out, "kind", string(env, c.device->kind()));
    napi_set_named_property(env, out, "description", string(env, c.device->description()));
    napi_set_named_property(env, out, "threads", number(env, c.device->threads()));
    return out;
  });
}

BINDING(SetThreads) {
  return guarded(env, [&] {
    size_t argc = 1;
    napi_value argv[1];
    napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
    double threads = 1;
    napi_get_value_double(env, argv[0], &threads);
    core(env).device->setThreads(static_cast<int>(threads));
    return undefined(env);
  });
}

/** useConvLibrary(on): whether plain convolutions may run on oneDNN; returns whether it is in use. */
BINDING(UseConvLibrary) {
  return guarded(env, [&] {
    size_t argc = 1;
    napi_value argv[1];
    napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
    bool on = true;
    napi_get_value_bool(env, argv[0], &on);
    napi_value out;
    napi_get_boolean(env, core(env).device->useConvLibrary(on), &out);
    return out;
  });
}

BINDING(Alloc) {
  return guarded(env, [&] {
    size_t argc = 1;
    napi_value argv[1];
    napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
    double bytes = 0;
    napi_get_value_double(env, argv[0], &bytes);
    Core& c = core(env);
    void* p = c.device->allocate(static_cast<size_t>(bytes));
    if (!p) {
      throw JsError("out of " + std::string(c.device->kind()) + " memory allocating " + std::to_string(static_cast<size_t>(bytes) >> 20) +
                    " MiB (in use " + std::to_string(c.device->allocator().stats().inUse >> 20) + " MiB)");
    }
    return number(env, c.add(p, static_cast<size_t>(bytes)));
  });
}

BINDING(Free) {
  return guarded(env, [&] {
    size_t argc = 1;
    napi_value argv[1];
    napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
    double h = 0;
    napi_get_value_double(env, argv[0], &h);
    Core& c = core(env);
    c.get(h);
    c.unref(static_cast<int32_t>(h));
    return undefined(env);
  });
}

/** upload(handle, typedArray, byteOffset) / download(handle, typedArray, byteOffset). */
template <bool Up>
napi_value transfer(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    size_t argc = 3;
    napi_value argv[3];
    napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
    double h = 0, offset = 0;
    napi_get_value_double(env, argv[0], &h);
    if (argc > 2) napi_get_value_double(env, argv[2], &offset);
    napi_typedarray_type type;
    size_t length;
    void* data;
    napi_value ab;
    size_t byteOffset;
    if (napi_get_typedarray_info(env, argv[1], &type, &length, &data, &ab, &byteOffset) != napi_ok) throw JsError("expected a typed array");
    size_t esize = 1;
    switch (type) {
      case napi_float32_array: case napi_int32_array: case napi_uint32_array: esize = 4; break;
      case napi_float64_array: case napi_bigint64_array: case napi_biguint64_array: esize = 8; break;
      case napi_int16_array: case napi_uint16_array: esize = 2; break;
      default: esize = 1;
    }
    Core& c = core(env);
    Buffer& b = c.get(h);
    const size_t bytes = length * esize;
    if (static_cast<size_t>(offset) + bytes > b.bytes) throw JsError("transfer of " + std::to_string(bytes) + " bytes exceeds the buffer's " + std::to_string(b.bytes));
    char* dev = static_cast<char*>(b.ptr) + static_cast<size_t>(offset);
    if (Up) c.device->upload(dev, data, bytes);
    else c.device->download(data, dev, bytes);
    return undefined(env);
  });
}

BINDING(Upload) { return transfer<true>(env, info); }
BINDING(Download) { return transfer<false>(env, info); }

/**
 * Detaches and forgets the parked ArrayBuffer over `block`, if any: before the block goes back to
 * the device, so no JavaScript array can reach freed memory.
 */
void unpark(napi_env env, Core& c, void* block) {
  auto it = c.parked.find(block);
  if (it == c.parked.end()) return;
  napi_value ab = nullptr;
  if (napi_get_reference_value(env, it->second.buffer, &ab) == napi_ok && ab) napi_detach_arraybuffer(env, ab);
  napi_delete_reference(env, it->second.buffer);
  c.parked.erase(it);
}

// NOTE: an unreleased view's buffer goes back to the cache only when V8 has collected the view and
// Node has run this finaliser (after a GC, at the next turn of the event loop). Telling V8 how much
// memory a view holds makes it collect unreachable ones promptly, so each new ArrayBuffer adds its
// bytes to V8's external memory until it is collected. A parked one (release()) keeps its count
// while it is reused run after run: the count changes only when new ArrayBuffers are made, which is
// what starts V8's collections.
void finalizeView(napi_env env, void*, void* hint) {
  auto* h = static_cast<ViewHint*>(hint);
  int64_t ignored;
  napi_adjust_external_memory(env, -h->bytes, &ignored);
  if (!h->released) {
    if (auto c = h->core.lock()) {
      c->unref(h->handle);
      c->views.erase(h);
    }
  }
  delete h;
}

/** view(handle, dtype, length): a typed array over the buffer itself (host-addressable devices only). */
BINDING(View) {
  return guarded(env, [&] {
    size_t argc = 3;
    napi_value argv[3];
    napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
    double h = 0, dtype = 0, length = 0;
    napi_get_value_double(env, argv[0], &h);
    napi_get_value_double(env, argv[1], &dtype);
    napi_get_value_double(env, argv[2], &length);
    Instance* inst = instanceOf(env);
    Core& c = core(env);
    if (!c.device->hostAddressable()) throw JsError("view() needs host-addressable memory; use download()");
    Buffer& b = c.get(h);
    const DType t = static_cast<DType>(static_cast<int>(dtype));
    const size_t bytes = static_cast<size_t>(length) * dtypeSize(t);
    if (bytes > b.bytes) throw JsError("view exceeds its buffer");
    const napi_typedarray_type type = t == DType::F32 ? napi_float32_array : t == DType::I32 ? napi_int32_array : napi_uint8_array;
    napi_value ab, out;
    int64_t ignored;
    // A released view's ArrayBuffer over this very block: a new array over it, no new ArrayBuffer.
    if (auto pk = c.parked.find(b.ptr); pk != c.parked.end()) {
      void* base = nullptr;
      size_t abBytes = 0;
      ab = nullptr;
      if (napi_get_reference_value(env, pk->second.buffer, &ab) == napi_ok && ab) napi_get_arraybuffer_info(env, ab, &base, &abBytes);
      if (ab && base == b.ptr && abBytes >= bytes) {
        ViewHint* hint = pk->second.hint;
        napi_delete_reference(env, pk->second.buffer);
        c.parked.erase(pk);
        // hint->bytes stays the ArrayBuffer's length: release() matches on it.
        hint->released = false;
        hint->handle = static_cast<int32_t>(h);
        b.refs++;
        c.views.insert(hint);
        napi_create_typedarray(env, type, static_cast<size_t>(length), ab, 0, &out);
        return out;
      }
      unpark(env, c, b.ptr);
    }
    b.refs++;
    auto* hint = new ViewHint{inst->core, static_cast<int32_t>(h), static_cast<int64_t>(bytes)};
    c.views.insert(hint);
    // NOTE: a zero-length external buffer at a valid pointer is fine; V8 never reads it.
    if (napi_create_external_arraybuffer(env, b.ptr, bytes, finalizeView, hint, &ab) != napi_ok) {
      c.unref(static_cast<int32_t>(h));
      delete hint;
      throw JsError("could not create an external ArrayBuffer (is this runtime sandboxed?)");
    }
    napi_adjust_external_memory(env, static_cast<int64_t>(bytes), &ignored);
    napi_create_typedarray(env, type, static_cast<size_t>(length), ab, 0, &out);
    return out;
  });
}

/** A typed-array argument (ok: false when the value is not one). */
struct TypedArg {
  bool ok = false;
  napi_typedarray_type type = napi_int8_array;
  size_t length = 0;
  void* data = nullptr;  // the first element (the byte offset applied)
  napi_value buffer = nullptr;
};

TypedArg typedArg(napi_env env, napi_value value) {
  TypedArg t;
  size_t offset = 0;
  t.ok = napi_get_typedarray_info(env, value, &t.type, &t.length, &t.data, &t.buffer, &offset) == napi_ok;
  return t;
}

/** The call's first `N` arguments (undefined where fewer were passed). */
template <size_t N>
std::array<napi_value, N> callArgs(napi_env env, napi_callback_info info) {
  std::array<napi_value, N> argv{};
  size_t argc = N;
  napi_get_cb_info(env, info, &argc, argv.data(), nullptr, nullptr);
  for (size_t i = argc; i < N; i++) napi_get_undefined(env, &argv[i]);
  return argv;
}

/** The live view whose ArrayBuffer is `t`'s (nullptr if none); `base` gets the buffer's start. */
ViewHint* liveViewOf(napi_env env, Core& c, const TypedArg& t, void** base) {
  *base = nullptr;
  if (!t.ok) return nullptr;
  size_t bytes = 0;
  napi_get_arraybuffer_info(env, t.buffer, base, &bytes);
  for (ViewHint* v : c.views) {
    if (!v->released && c.buffers[static_cast<size_t>(v->handle)].ptr == *base && static_cast<size_t>(v->bytes) == bytes) return v;
  }
  return nullptr;
}

/**
 * release(typedArray): a consumer that is done with a view (its rows written to disk or copied)
 * hands it back at once instead of waiting for GC: the buffer returns to the cache, and the
 * ArrayBuffer is parked (kept, strongly referenced) for the next view of the same block, which
 * then needs no new ArrayBuffer. Fresh external ArrayBuffers are what made V8 collect: each counts
 * as new external memory until a GC sweeps it, detached or not, and a loop that made and released
 * 120 MB of per-sample rows a run started a scavenge or a full GC nearly every run (perf, mlp
 * BatchGrad: 65 % of the CPU time in V8's marker and sweeper, 20 % in the kernels). A released
 * array therefore reads whatever the memory holds next, as a pooled host array does (host-buffers):
 * never freed memory, since a parked ArrayBuffer is detached before its block goes back to the
 * device (unpark, called by the allocator). Arrays that are not views of this addon are left
 * alone. Returns whether it released one.
 */
BINDING(Release) {
  return guarded(env, [&] {
    const TypedArg t = typedArg(env, callArgs<1>(env, info)[0]);
    Core& c = core(env);
    void* base = nullptr;
    ViewHint* found = liveViewOf(env, c, t, &base);
    napi_ref ref = nullptr;
    if (found && napi_create_reference(env, t.buffer, 1, &ref) == napi_ok) {
      found->released = true;
      c.views.erase(found);
      unpark(env, c, base);
      c.parked[base] = ParkedView{ref, found};
      // Last: returning the block may trim the cache, which unparks (detaches) what it frees.
      c.unref(found->handle);
    }
    napi_value result;
    napi_get_boolean(env, ref != nullptr, &result);
    return result;
  });
}

/** isView(typedArray): whether it is one of this instance's live views. */
BINDING(IsView) {
  return guarded(env, [&] {
    void* base = nullptr;
    napi_value result;
    napi_get_boolean(env, liveViewOf(env, core(env), typedArg(env, callArgs<1>(env, info)[0]), &base) != nullptr, &result);
    return result;
  });
}

/**
 * convert(src, dst, scale): dst[i] = src[i]·scale between host arrays (Float32Array or
 * Float64Array, equal lengths), the product in double and rounded once on store: what the JS loop
 * `dst[i] = src[i] * scale` gives, bit for bit. V8 converts between typed arrays element by element
 * (~1.5 ns each); a gradient's partial sums make this round trip every run. Needs no device.
 */
template <class S, class D>
void convertLoop(const S* src, D* dst, size_t n, double scale) {
  if (scale == 1.0) {
    for (size_t i = 0; i < n; i++) dst[i] = static_cast<D>(src[i]);
  } else {
    for (size_t i = 0; i < n; i++) dst[i] = static_cast<D>(static_cast<double>(src[i]) * scale);
  }
}

BINDING(Convert) {
  return guarded(env, [&] {
    const auto argv = callArgs<3>(env, info);
    const TypedArg src = typedArg(env, argv[0]), dst = typedArg(env, argv[1]);
    if (!src.ok || !dst.ok) throw JsError("convert(src, dst, scale) takes two typed arrays and a number");
    const auto isFloat = [](napi_typedarray_type t) { return t == napi_float32_array || t == napi_float64_array; };
    if (!isFloat(src.type) || !isFloat(dst.type) || src.length != dst.length) throw JsError("convert() needs Float32Array/Float64Array of equal lengths");
    double scale = 1.0;
    napi_get_value_double(env, argv[2], &scale);
    const size_t n = src.length;
    const bool from32 = src.type == napi_float32_array, to32 = dst.type == napi_float32_array;
    if (from32 && !to32) convertLoop(static_cast<const float*>(src.data), static_cast<double*>(dst.data), n, scale);
    else if (!from32 && to32) convertLoop(static_cast<const double*>(src.data), static_cast<float*>(dst.data), n, scale);
    else if (from32) convertLoop(static_cast<const float*>(src.data), static_cast<float*>(dst.data), n, scale);
    else convertLoop(static_cast<const double*>(src.data), static_cast<double*>(dst.data), n, scale);
    return undefined(env);
  });
}

/**
 * allFinite(Float32Array): whether no element is NaN or ±Infinity (a batch's inputs, checked every
 * run). The exponent bits of each value, or-reduced as integers so the loop vectorises.
 */
BINDING(AllFinite) {
  return guarded(env, [&] {
    const TypedArg t = typedArg(env, callArgs<1>(env, info)[0]);
    if (!t.ok || t.type != napi_float32_array) throw JsError("allFinite() takes a Float32Array");
    const uint32_t* bits = static_cast<const uint32_t*>(t.data);
    uint32_t bad = 0;
    for (size_t i = 0; i < t.length; i++) bad |= static_cast<uint32_t>((bits[i] & 0x7f800000u) == 0x7f800000u);
    napi_value result;
    napi_get_boolean(env, bad == 0, &result);
    return result;
  });
}

/**
 * shiftedMoments(values, n, out): values [s; S1; S2] (Float32Array, 3·w), out [mean; M2]
 * (Float64Array, 2·w) with mean = s + S1/n and M2 = S2 − S1²/n in double, the operations of
 * src/core/shard-moments.ts's loop in its order (no contraction under -std=c++17): bit for bit.
 */
BINDING(ShiftedMoments) {
  return guarded(env, [&] {
    const auto argv = callArgs<3>(env, info);
    const TypedArg values = typedArg(env, argv[0]), out = typedArg(env, argv[2]);
    double n = 0;
    napi_get_value_double(env, argv[1], &n);
    if (!values.ok || values.type != napi_float32_array || !out.ok || out.type != napi_float64_array || values.length % 3 != 0 ||
        out.length != values.length / 3 * 2)
      throw JsError("shiftedMoments(values, n, out) takes a Float32Array of 3·w values and a Float64Array of 2·w");
    const size_t w = values.length / 3;
    const float* v = static_cast<const float*>(values.data);
    double* o = static_cast<double*>(out.data);
    for (size_t j = 0; j < w; j++) {
      const double s1 = v[w + j];
      o[j] = static_cast<double>(v[j]) + s1 / n;
      o[w + j] = static_cast<double>(v[2 * w + j]) - (s1 * s1) / n;
    }
    return undefined(env);
  });
}

BINDING(Stats) {
  return guarded(env, [&] {
    Core& c = core(env);
    const AllocatorStats& s = c.device->allocator().stats();
    napi_value out;
    napi_create_object(env, &out);
    napi_set_named_property(env, out, "inUse", number(env, double(s.inUse)));
    napi_set_named_property(env, out, "cached", number(env, double(s.cached)));
    napi_set_named_property(env, out, "peak", number(env, double(s.peak)));
    napi_set_named_property(env, out, "rawAllocs", number(env, double(s.rawAllocs)));
    napi_set_named_property(env, out, "hits", number(env, double(s.hits)));
    napi_set_named_property(env, out, "buffers", number(env, double(c.liveBuffers)));
    napi_set_named_property(env, out, "uploads", number(env, double(c.device->counters.uploads)));
    napi_set_named_property(env, out, "downloads", number(env, double(c.device->counters.downloads)));
    napi_set_named_property(env, out, "uploadBytes", number(env, double(c.device->counters.uploadBytes)));
    napi_set_named_property(env, out, "downloadBytes", number(env, double(c.device->counters.downloadBytes)));
    napi_set_named_property(env, out, "libraryConvolutions", number(env, double(c.device->counters.libraryConvolutions)));
    return out;
  });
}

/** setCacheLimit(bytes): the most the allocator keeps cached (trims at once). */
BINDING(SetCacheLimit) {
  return guarded(env, [&] {
    size_t argc = 1;
    napi_value argv[1];
    napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
    double bytes = 0;
    napi_get_value_double(env, argv[0], &bytes);
    core(env).device->allocator().setLimit(static_cast<size_t>(bytes));
    return undefined(env);
  });
}

// ---- kernels ------------------------------------------------------------------------------------

BINDING(Fill) {
  return guarded(env, [&] {
    Args a = argsOf(env, info);
    void* y = a.ptr();
    const DType t = static_cast<DType>(a.small());
    const i64 n = a.integer();
    a.c->device->fill(y, t, n, a.num());
    return undefined(env);
  });
}

BINDING(Unary) {
  return guarded(env, [&] {
    Args a = argsOf(env, info);
    UnaryParams p;
    p.op = static_cast<UnaryOp>(a.small());
    p.tin = static_cast<DType>(a.small());
    p.tout = static_cast<DType>(a.small());
    p.x = a.ptr();
    p.y = a.ptr();
    p.n = a.integer();
    p.a = static_cast<float>(a.num());
    p.b = static_cast<float>(a.num());
    a.c->device->unary(p);
    return undefined(env);
  });
}

BINDING(Binary) {
  return guarded(env, [&] {
    Args a = argsOf(env, info);
    BinaryParams p;
    p.op = static_cast<BinaryOp>(a.small());
    p.tin = static_cast<DType>(a.small());
    p.tout = static_cast<DType>(a.small());
    p.a = a.ptr();
    p.b = a.ptr();
    p.y = a.ptr();
    p.space = a.space(2);
    a.c->device->binary(p);
    return undefined(env);
  });
}

BINDING(Select) {
  return guarded(env, [&] {
    Args a = argsOf(env, info);
    SelectParams p;
    p.t = static_cast<DType>(a.small());
    p.cond = static_cast<const uint8_t*>(a.ptr());
    p.a = a.ptr();
    p.b = a.ptr();
    p.y = a.ptr();
    p.space = a.space(3);
    a.c->device->select(p);
    return undefined(env);
  });
}

BINDING(Cast) {
  return guarded(env, [&] {
    Args a = argsOf(env, info);
    CastParams p;
    p.tin = static_cast<DType>(a.small());
    p.tout = static_cast<DType>(a.small());
    p.x = a.ptr();
    p.y = a.ptr();
    p.n = a.integer();
    a.c->device->cast(p);
    return undefined(env);
  });
}

BINDING(Copy) {
  return guarded(env, [&] {
    Args a = argsOf(env, info);
    CopyParams p;
    p.esize = a.small();
    p.x = a.ptr();
    p.xoff = a.integer();
    p.y = a.ptr();
    p.yoff = a.integer();
    p.space = a.space(2);
    a.c->device->copyStrided(p);
    return undefined(env);
  });
}

BINDING(Reduce) {
  return guarded(env, [&] {
    Args a = argsOf(env, info);
    ReduceParams p;
    p.op = static_cast<ReduceOp>(a.small());
    p.t = static_cast<DType>(a.small());
    p.x = a.ptr();
    p.y = a.ptr();
    p.out = a.space(1);
    p.red = a.space(1);
    a.c->device->reduce(p);
    return undefined(env);
  });
}

BINDING(ArgReduce) {
  return guarded(env, [&] {
    Args a = argsOf(env, info);
    ArgReduceParams p;
    p.isMax = a.num() != 0;
    p.t = static_cast<DType>(a.small());
    p.x = a.ptr();
    p.y = static_cast<int32_t*>(a.ptr());
    p.outer = a.integer();
    p.axis = a.integer();
    p.inner = a.integer();
    a.c->device->argReduce(p);
    return undefined(env);
  });
}

BINDING(Gather) {
  return guarded(env, [&] {
    Args a = argsOf(env, info);
    GatherParams p;
    p.esize = a.small();
    p.x = a.ptr();
    p.indices = static_cast<const int32_t*>(a.ptr());
    p.y = a.ptr();
    p.batch = a.integer();
    p.outer = a.integer();
    p.axisLen = a.integer();
    p.nIdx = a.integer();
    p.inner = a.integer();
    a.c->device->gather(p);
    return undefined(env);
  });
}

BINDING(OneHot) {
  return guarded(env, [&] {
    Args a = argsOf(env, info);
    OneHotParams p;
    p.t = static_cast<DType>(a.small());
    p.indices = static_cast<const int32_t*>(a.ptr());
    p.y = a.ptr();
    p.n = a.integer();
    p.depth = a.integer();
    p.on = static_cast<float>(a.num());
    p.off = static_cast<float>(a.num());
    a.c->device->oneHot(p);
    return undefined(env);
  });
}

BINDING(Softmax) {
  return guarded(env, [&] {
    Args a = argsOf(env, info);
    SoftmaxParams p;
    p.x = a.f32();
    p.y = a.f32();
    p.rows = a.integer();
    p.cols = a.integer();
    a.c->device->softmax(p);
    return undefined(env);
  });
}

BINDING(OuterProducts) {
  return guarded(env, [&] {
    Args a = argsOf(env, info);
    OuterParams p;
    p.v = a.integer();
    p.n = a.integer();
    p.O = a.integer();
    p.I = a.integer();
    p.V = a.f32();
    p.x = a.f32();
    p.rows = a.f32();
    p.sum = a.f32();
    a.c->device->outerProducts(p);
    return undefined(env);
  });
}

UnfoldParams unfoldParams(Args& a) {
  UnfoldParams u;
  u.w = a.window();
  u.B = a.integer();
  u.C = a.integer();
  u.cb = a.integer();
  u.cc = a.integer();
  u.ck = a.integer();
  u.cp = a.integer();
  u.x = a.f32();
  u.cols = a.f32();
  u.padValue = static_cast<float>(a.num());
  return u;
}

BINDING(Unfold) {
  return guarded(env, [&] {
    Args a = argsOf(env, info);
    a.c->device->unfold(unfoldParams(a));
    return undefined(env);
  });
}

BINDING(Fold) {
  return guarded(env, [&] {
    Args a = argsOf(env, info);
    a.c->device->fold(unfoldParams(a));
    return undefined(env);
  });
}

BINDING(MaxPool) {
  return guarded(env, [&] {
    Args a = argsOf(env, info);
    MaxPoolParams m;
    m.w = a.window();
    m.BC = a.integer();
    m.x = a.f32();
    m.y = a.f32();
    m.arg = static_cast<int32_t*>(a.ptr());
    a.c->device->maxPool(m);
    return undefined(env);
  });
}

MaxPoolRouteParams routeParams(Args& a) {
  MaxPoolRouteParams r;
  r.w = a.window();
  r.v = a.integer();
  r.BC = a.integer();
  r.arg = static_cast<const int32_t*>(a.ptr());
  r.V = a.f32();
  r.y = a.f32();
  return r;
}

BINDING(MaxPoolJacT) {
  return guarded(env, [&] {
    Args a = argsOf(env, info);
    a.c->device->maxPoolJacT(routeParams(a));
    return undefined(env);
  });
}

BINDING(MaxPoolJvp) {
  return guarded(env, [&] {
    Args a = argsOf(env, info);
    a.c->device->maxPoolJvp(routeParams(a));
    return undefined(env);
  });
}

BINDING(Gemm) {
  return guarded(env, [&] {
    Args a = argsOf(env, info);
    GemmParams g;
    g.transA = a.num() != 0;
    g.transB = a.num() != 0;
    g.M = a.integer();
    g.N = a.integer();
    g.K = a.integer();
    g.alpha = static_cast<float>(a.num());
    g.beta = static_cast<float>(a.num());
    g.A = a.f32();
    g.A += a.integer();
    g.lda = a.integer();
    g.B = a.f32();
    g.B += a.integer();
    g.ldb = a.integer();
    g.C = a.f32();
    g.C += a.integer();
    g.ldc = a.integer();
    g.batch = a.space(3);
    a.c->device->gemm(g);
    return undefined(env);
  });
}

/** conv(kind, params): kind 0 forward, 1 input Jᵀ, 2 weight gradient, 3 weight Jacobians, 4 squares, 5 input Gram. */
BINDING(Conv) {
  return guarded(env, [&] {
    Args a = argsOf(env, info);
    const int kind = a.small();
    ConvParams p;
    p.w = a.window();
    p.n = a.integer();
    p.v = a.integer();
    p.C = a.integer();
    p.O = a.integer();
    p.G = a.integer();
    p.x = a.f32();
    p.W = a.f32();
    p.bias = a.f32();
    p.V = a.f32();
    p.shift = a.f32();
    p.y = a.f32();
    const int mode = a.small();
    Device& d = *a.c->device;
    switch (kind) {
      case 0: d.convForward(p); break;
      case 1: d.convInputJacT(p); break;
      case 2: d.convWeightGrad(p); break;
      case 3: d.convWeightJac(p); break;
      case 4: d.convWeightSquares(p, static_cast<SquaresMode>(mode)); break;
      case 5: d.convInputGram(p); break;
      default: throw JsError("unknown conv kernel " + std::to_string(kind));
    }
    return undefined(env);
  });
}

void deleteInstance(napi_env, void* data, void*) {
  auto* inst = static_cast<Instance*>(data);
  // The environment is going away: no JavaScript can read a parked array, and N-API calls are no
  // longer safe, so the allocator frees its blocks without unparking.
  if (inst->core->device) inst->core->device->allocator().setBeforeRawFree(nullptr);
  inst->core->parked.clear();
  delete inst;
}

}  // namespace

// ---- Core ---------------------------------------------------------------------------------------

int32_t Core::add(void* ptr, size_t bytes) {
  int32_t h;
  if (!freeHandles.empty()) {
    h = freeHandles.back();
    freeHandles.pop_back();
  } else {
    h = static_cast<int32_t>(buffers.size());
    buffers.emplace_back();
  }
  buffers[h] = Buffer{ptr, bytes, 1};
  liveBuffers++;
  return h;
}

Buffer& Core::get(double handle) {
  const auto h = static_cast<size_t>(handle);
  if (handle < 0 || h >= buffers.size() || buffers[h].refs <= 0) throw JsError("invalid native buffer handle " + std::to_string(handle));
  return buffers[h];
}

void Core::unref(int32_t h) {
  Buffer& b = buffers[static_cast<size_t>(h)];
  if (--b.refs > 0) return;
  device->release(b.ptr);
  b = Buffer{};
  freeHandles.push_back(h);
  liveBuffers--;
}

}  // namespace bp

#ifdef BP_WITH_CUDA
namespace bp {
void registerCudaProbe(napi_env env, napi_value exports);
}
#endif

NAPI_MODULE_INIT() {
  using namespace bp;
  napi_set_instance_data(env, new Instance(), deleteInstance, nullptr);
  const napi_property_descriptor props[] = {
      {"init", nullptr, Init, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"setThreads", nullptr, SetThreads, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"useConvLibrary", nullptr, UseConvLibrary, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"alloc", nullptr, Alloc, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"free", nullptr, Free, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"upload", nullptr, Upload, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"download", nullptr, Download, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"view", nullptr, View, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"stats", nullptr, Stats, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"release", nullptr, Release, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"shiftedMoments", nullptr, ShiftedMoments, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"allFinite", nullptr, AllFinite, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"convert", nullptr, Convert, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"isView", nullptr, IsView, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"setCacheLimit", nullptr, SetCacheLimit, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"fill", nullptr, Fill, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"unary", nullptr, Unary, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"binary", nullptr, Binary, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"select", nullptr, Select, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"cast", nullptr, Cast, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"copy", nullptr, Copy, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"reduce", nullptr, Reduce, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"argReduce", nullptr, ArgReduce, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"gather", nullptr, Gather, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"oneHot", nullptr, OneHot, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"softmax", nullptr, Softmax, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"outerProducts", nullptr, OuterProducts, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"unfold", nullptr, Unfold, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"fold", nullptr, Fold, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"maxPool", nullptr, MaxPool, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"maxPoolJacT", nullptr, MaxPoolJacT, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"maxPoolJvp", nullptr, MaxPoolJvp, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"gemm", nullptr, Gemm, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"conv", nullptr, Conv, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
#ifdef BP_WITH_CUDA
  registerCudaProbe(env, exports);
#endif
  return exports;
}
