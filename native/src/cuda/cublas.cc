#include "cublas.h"

#include <dlfcn.h>
#include <link.h>

#include <cstdlib>
#include <mutex>
#include <vector>

namespace bp {
namespace {

std::string resolvedPath(void* handle, const std::string& fallback) {
  link_map* map = nullptr;
  if (dlinfo(handle, RTLD_DI_LINKMAP, &map) == 0 && map && map->l_name && *map->l_name) return map->l_name;
  return fallback;
}

template <class F>
bool bind(void* h, const char* name, F& out, std::string* missing) {
  out = reinterpret_cast<F>(dlsym(h, name));
  if (!out) *missing += std::string(missing->empty() ? "" : ", ") + name;
  return out != nullptr;
}

Cublas* tryLoad(const std::string& name, std::string* tried) {
  // A library given by path needs its cublasLt beside it loaded first: libcublas names it by
  // soname only, and that folder need not be on the loader's path.
  const auto slash = name.rfind('/');
  if (slash != std::string::npos) {
    const auto so = name.find(".so", slash);
    if (so != std::string::npos) {
      const std::string lt = name.substr(0, slash + 1) + "libcublasLt" + name.substr(so);
      dlopen(lt.c_str(), RTLD_NOW | RTLD_GLOBAL);
    }
  }
  void* h = dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    const char* d = dlerror();
    std::string e = d ? d : "";
    if (e.rfind(name + ": ", 0) == 0) e = e.substr(name.size() + 2);
    *tried += "\n  " + name + ": " + (e.empty() ? "not found" : e);
    return nullptr;
  }
  auto* c = new Cublas();
  std::string missing;
  bind(h, "cublasCreate_v2", c->create, &missing);
  bind(h, "cublasDestroy_v2", c->destroy, &missing);
  bind(h, "cublasSetStream_v2", c->setStream, &missing);
  bind(h, "cublasSetMathMode", c->setMathMode, &missing);
  bind(h, "cublasGetVersion_v2", c->getVersion, &missing);
  bind(h, "cublasSgemm_v2", c->sgemm, &missing);
  bind(h, "cublasSgemmStridedBatched", c->sgemmStridedBatched, &missing);
  c->statusString = reinterpret_cast<const char* (*)(int)>(dlsym(h, "cublasGetStatusString"));
  if (!missing.empty()) {
    *tried += "\n  " + name + ": lacks " + missing;
    delete c;
    dlclose(h);
    return nullptr;
  }
  c->path = resolvedPath(h, name);
  return c;
}

}  // namespace

std::string Cublas::describe(int status) const {
  if (statusString) {
    if (const char* s = statusString(status)) return s;
  }
  return "CUBLAS_STATUS " + std::to_string(status);
}

const Cublas* loadCublas(std::string* error) {
  static std::once_flag once;
  static Cublas* cublas = nullptr;
  static std::string failure;
  std::call_once(once, [] {
    std::vector<std::string> candidates;
    const char* env = std::getenv("BACKPACK_CUBLAS");
    if (env && *env) {
      candidates = {env};
    } else {
      candidates = {"libcublas.so.13", "libcublas.so.12"};
      std::vector<std::string> dirs;
      for (const char* var : {"CUDA_HOME", "CUDA_PATH"}) {
        if (const char* d = std::getenv(var); d && *d) dirs.push_back(std::string(d) + "/lib64");
      }
      dirs.push_back("/usr/local/cuda/lib64");
      dirs.push_back("/usr/local/cuda/targets/x86_64-linux/lib");
      for (const auto& d : dirs)
        for (const char* so : {"libcublas.so.13", "libcublas.so.12"}) candidates.push_back(d + "/" + so);
    }
    std::string tried;
    for (const auto& name : candidates) {
      if ((cublas = tryLoad(name, &tried))) return;
    }
    failure = env && *env ? "BACKPACK_CUBLAS could not be loaded as cuBLAS:" + tried
                          : "cuBLAS not found (libcublas.so.13 or libcublas.so.12: install the CUDA toolkit's cuBLAS, "
                            "add its lib64 folder to LD_LIBRARY_PATH, or set BACKPACK_CUBLAS=/path/libcublas.so.N); tried:" +
                                tried;
  });
  if (!cublas && error) *error = failure;
  return cublas;
}

}  // namespace bp
