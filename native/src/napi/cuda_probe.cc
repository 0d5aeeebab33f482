// N-API functions of the cuda probe (built with nvcc only): probe() and cudaSmokeAdd(a, b), a
// device smoke test. cudart is static, so they work (and report why) on machines without CUDA.
#include <node_api.h>

#include <string>

#include "../cuda/probe.h"

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

napi_value Probe(napi_env env, napi_callback_info) {
  ProbeResult r = probe();
  napi_value out, names, caps, ok;
  napi_create_object(env, &out);
  napi_get_boolean(env, r.ok, &ok);
  napi_set_named_property(env, out, "ok", ok);
  napi_set_named_property(env, out, "devices", num(env, r.devices));
  napi_set_named_property(env, out, "runtimeVersion", num(env, r.runtimeVersion));
  napi_set_named_property(env, out, "driverVersion", num(env, r.driverVersion));
  napi_set_named_property(env, out, "error", str(env, r.error));
  napi_set_named_property(env, out, "cublas", str(env, cublasLibrary()));
  napi_create_array_with_length(env, r.names.size(), &names);
  napi_create_array_with_length(env, r.computeCapability.size(), &caps);
  for (size_t i = 0; i < r.names.size(); i++) napi_set_element(env, names, i, str(env, r.names[i]));
  for (size_t i = 0; i < r.computeCapability.size(); i++) napi_set_element(env, caps, i, num(env, r.computeCapability[i]));
  napi_set_named_property(env, out, "names", names);
  napi_set_named_property(env, out, "computeCapability", caps);
  return out;
}

// add(a: Float32Array, b: Float32Array): Float32Array — throws with the CUDA error string.
napi_value SmokeAdd(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value args[2];
  napi_get_cb_info(env, info, &argc, args, nullptr, nullptr);
  void *a = nullptr, *b = nullptr;
  size_t na = 0, nb = 0;
  napi_typedarray_type ta, tb;
  napi_value abuf, bbuf;
  size_t aoff, boff;
  if (argc < 2 || napi_get_typedarray_info(env, args[0], &ta, &na, &a, &abuf, &aoff) != napi_ok ||
      napi_get_typedarray_info(env, args[1], &tb, &nb, &b, &bbuf, &boff) != napi_ok || ta != napi_float32_array ||
      tb != napi_float32_array || na != nb) {
    napi_throw_type_error(env, nullptr, "add(a, b) takes two Float32Arrays of equal length");
    return nullptr;
  }
  void* outData = nullptr;
  napi_value outBuf, out;
  napi_create_arraybuffer(env, na * sizeof(float), &outData, &outBuf);
  std::string err = deviceAdd(static_cast<float*>(a), static_cast<float*>(b), static_cast<float*>(outData), static_cast<int>(na));
  if (!err.empty()) {
    napi_throw_error(env, "E_CUDA", err.c_str());
    return nullptr;
  }
  napi_create_typedarray(env, napi_float32_array, na, outBuf, 0, &out);
  return out;
}

}  // namespace

void registerCudaHooks(napi_env env, napi_value exports);

void registerCudaProbe(napi_env env, napi_value exports) {
  registerCudaHooks(env, exports);
  napi_value fn;
  napi_create_function(env, "probe", NAPI_AUTO_LENGTH, Probe, nullptr, &fn);
  napi_set_named_property(env, exports, "probe", fn);
  napi_create_function(env, "cudaSmokeAdd", NAPI_AUTO_LENGTH, SmokeAdd, nullptr, &fn);
  napi_set_named_property(env, exports, "cudaSmokeAdd", fn);
}

}  // namespace bp
