// N-API functions of the cuda device (built where nvcc is): facts about this instance's cuda
// device for tests and summaries, the TF32 switch, a stream sync for timings, and whether cuBLAS
// loads here at all (answerable on machines without a GPU).
//
//   cudaInfo()        → { name, computeCapability, tf32, cublasPath, cublasVersion, rawMallocs, rawFrees, memFree, memTotal }
//   cudaSetTf32(on)   → TF32 tensor-core GEMMs on/off (default: off, or BACKPACK_TF32=1 at init)
//   cudaSynchronize() → waits for queued work
//   cudaSetConvChunkFloats(n) → the fused convolutions' workspace per chunk (tests force many chunks)
//   cublasProbe()     → { ok, path, error }
#include <node_api.h>

#include <string>

#include "../cuda/cuda_api.h"
#include "instance.h"

namespace bp {
namespace {

napi_value str(napi_env env, const std::string& s) {
  napi_value v;
  napi_create_string_utf8(env, s.c_str(), s.size(), &v);
  return v;
}

napi_value num(napi_env env, double d) {
  napi_value v;
  napi_create_double(env, d, &v);
  return v;
}

napi_value boolean(napi_env env, bool b) {
  napi_value v;
  napi_get_boolean(env, b, &v);
  return v;
}

/** This instance's device, or nullptr after throwing a JavaScript error. */
Device* deviceOf(napi_env env) {
  void* data = nullptr;
  napi_get_instance_data(env, &data);
  auto* inst = static_cast<Instance*>(data);
  if (!inst || !inst->core->device) {
    napi_throw_error(env, "E_NATIVE", "the native device is not initialised: call init('cuda') first");
    return nullptr;
  }
  return inst->core->device.get();
}

template <class F>
napi_value guarded(napi_env env, F body) {
  try {
    return body();
  } catch (const std::exception& e) {
    napi_throw_error(env, "E_NATIVE", e.what());
  }
  return nullptr;
}

napi_value Info(napi_env env, napi_callback_info) {
  return guarded(env, [&]() -> napi_value {
    Device* d = deviceOf(env);
    if (!d) return nullptr;
    CudaInfo info;
    if (!cudaInfoOf(*d, &info)) {
      napi_throw_error(env, "E_NATIVE", "cudaInfo() needs this instance's device to be cuda");
      return nullptr;
    }
    napi_value out;
    napi_create_object(env, &out);
    napi_set_named_property(env, out, "name", str(env, info.name));
    napi_set_named_property(env, out, "computeCapability", num(env, info.computeCapability));
    napi_set_named_property(env, out, "tf32", boolean(env, info.tf32));
    napi_set_named_property(env, out, "cublasPath", str(env, info.cublasPath));
    napi_set_named_property(env, out, "cublasVersion", num(env, info.cublasVersion));
    napi_set_named_property(env, out, "rawMallocs", num(env, double(info.rawMallocs)));
    napi_set_named_property(env, out, "rawFrees", num(env, double(info.rawFrees)));
    napi_set_named_property(env, out, "memFree", num(env, double(info.memFree)));
    napi_set_named_property(env, out, "memTotal", num(env, double(info.memTotal)));
    return out;
  });
}

napi_value SetTf32(napi_env env, napi_callback_info cb) {
  return guarded(env, [&]() -> napi_value {
    size_t argc = 1;
    napi_value argv[1];
    napi_get_cb_info(env, cb, &argc, argv, nullptr, nullptr);
    bool on = false;
    if (argc > 0) napi_get_value_bool(env, argv[0], &on);
    Device* d = deviceOf(env);
    if (!d) return nullptr;
    if (!cudaSetTf32(*d, on)) {
      napi_throw_error(env, "E_NATIVE", "cudaSetTf32() needs this instance's device to be cuda");
      return nullptr;
    }
    return boolean(env, on);
  });
}

napi_value Synchronize(napi_env env, napi_callback_info) {
  return guarded(env, [&]() -> napi_value {
    Device* d = deviceOf(env);
    if (!d) return nullptr;
    d->synchronize();
    napi_value u;
    napi_get_undefined(env, &u);
    return u;
  });
}

napi_value SetConvChunk(napi_env env, napi_callback_info cb) {
  return guarded(env, [&]() -> napi_value {
    size_t argc = 1;
    napi_value argv[1];
    napi_get_cb_info(env, cb, &argc, argv, nullptr, nullptr);
    double floats = 0;
    if (argc > 0) napi_get_value_double(env, argv[0], &floats);
    Device* d = deviceOf(env);
    if (!d) return nullptr;
    if (!cudaSetConvChunkFloats(*d, static_cast<int64_t>(floats))) {
      napi_throw_error(env, "E_NATIVE", "cudaSetConvChunkFloats() needs this instance's device to be cuda");
      return nullptr;
    }
    napi_value u;
    napi_get_undefined(env, &u);
    return u;
  });
}

napi_value CublasProbe(napi_env env, napi_callback_info) {
  return guarded(env, [&]() -> napi_value {
    std::string error;
    const std::string path = cublasProbe(&error);
    napi_value out;
    napi_create_object(env, &out);
    napi_set_named_property(env, out, "ok", boolean(env, !path.empty()));
    napi_set_named_property(env, out, "path", str(env, path));
    napi_set_named_property(env, out, "error", str(env, error));
    return out;
  });
}

void define(napi_env env, napi_value exports, const char* name, napi_callback f) {
  napi_value fn;
  napi_create_function(env, name, NAPI_AUTO_LENGTH, f, nullptr, &fn);
  napi_set_named_property(env, exports, name, fn);
}

}  // namespace

void registerCudaHooks(napi_env env, napi_value exports) {
  define(env, exports, "cudaInfo", Info);
  define(env, exports, "cudaSetTf32", SetTf32);
  define(env, exports, "cudaSynchronize", Synchronize);
  define(env, exports, "cudaSetConvChunkFloats", SetConvChunk);
  define(env, exports, "cublasProbe", CublasProbe);
}

}  // namespace bp
