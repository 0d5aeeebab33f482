#include "blas.h"

#include <cpuid.h>
#include <dlfcn.h>
#include <link.h>

#include <cstring>

#include <cctype>
#include <cstdlib>
#include <initializer_list>
#include <mutex>
#include <vector>

namespace bp {
namespace {

// CBLAS enums (cblas.h), declared here so no BLAS headers are needed to build.
constexpr int kRowMajor = 101, kNoTrans = 111, kTrans = 112, kUpper = 121;
using CblasSgemm = void (*)(int, int, int, int, int, int, float, const float*, int, const float*, int, float, float*, int);
using CblasDgemm = void (*)(int, int, int, int, int, int, double, const double*, int, const double*, int, double, double*,
                            int);
using CblasSsyrk = void (*)(int, int, int, int, int, float, const float*, int, float, float*, int);
using DnnlSgemm = int (*)(char, char, int64_t, int64_t, int64_t, float, const float*, int64_t, const float*, int64_t, float,
                          float*, int64_t);
using SetThreads = void (*)(int);
struct DnnlVersion {
  int major, minor, patch;
  const char* hash;
  unsigned cpuRuntime, gpuRuntime;
};

class CblasLibrary : public Blas {
 public:
  CblasLibrary(CblasSgemm f, CblasSsyrk syrk, CblasDgemm d) : f_(f), syrk_(syrk), d_(d) {}
  bool dgemm(bool ta, bool tb, i64 m, i64 n, i64 k, double alpha, const double* A, i64 lda, const double* B, i64 ldb,
             double beta, double* C, i64 ldc) const override {
    if (!d_) return false;
    d_(kRowMajor, ta ? kTrans : kNoTrans, tb ? kTrans : kNoTrans, int(m), int(n), int(k), alpha, A, int(lda), B, int(ldb),
       beta, C, int(ldc));
    return true;
  }
  bool hasDgemm() const override { return d_ != nullptr; }
  void ssyrkUpper(bool trans, i64 n, i64 k, float alpha, const float* A, i64 lda, float beta, float* C, i64 ldc) const override {
    if (!syrk_) return Blas::ssyrkUpper(trans, n, k, alpha, A, lda, beta, C, ldc);
    syrk_(kRowMajor, kUpper, trans ? kTrans : kNoTrans, int(n), int(k), alpha, A, int(lda), beta, C, int(ldc));
  }
  void sgemm(bool ta, bool tb, i64 m, i64 n, i64 k, float alpha, const float* A, i64 lda, const float* B, i64 ldb,
             float beta, float* C, i64 ldc) const override {
    f_(kRowMajor, ta ? kTrans : kNoTrans, tb ? kTrans : kNoTrans, int(m), int(n), int(k), alpha, A, int(lda), B, int(ldb),
       beta, C, int(ldc));
  }

 private:
  CblasSgemm f_;
  CblasSsyrk syrk_;
  CblasDgemm d_;
};

// NOTE: oneDNN parallelises with OpenMP, whose thread count is a per-thread setting: each thread
// that calls it pins its own count to 1 on first use.
class DnnlLibrary : public Blas {
 public:
  DnnlLibrary(DnnlSgemm f, SetThreads ompSet) : f_(f), ompSet_(ompSet) {}
  void sgemm(bool ta, bool tb, i64 m, i64 n, i64 k, float alpha, const float* A, i64 lda, const float* B, i64 ldb,
             float beta, float* C, i64 ldc) const override {
    thread_local bool pinned = false;
    if (!pinned && ompSet_) {
      ompSet_(1);
      pinned = true;
    }
    f_(ta ? 'T' : 'N', tb ? 'T' : 'N', m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
  }

 private:
  DnnlSgemm f_;
  SetThreads ompSet_;
};

/**
 * BLIS picks its kernels by CPU family and falls back to slow generic code on families it does not
 * know: BLIS 0.9 (Debian 12) on AMD's family 0x1A (Zen 5) runs its generic kernels at 33 GFLOP/s
 * where its Skylake-X kernels reach 160 (docs/decisions.md). For exactly that case — an 0.x BLIS,
 * an AMD family newer than 0x19, and no BLIS_ARCH_TYPE chosen by the user — name the kernel set the
 * CPU's instruction set supports, before BLIS reads the variable at its first call.
 */
void hintBlisArch(void* h) {
#if defined(__x86_64__)
  if (std::getenv("BLIS_ARCH_TYPE")) return;
  auto version = reinterpret_cast<const char* (*)()>(dlsym(h, "bli_info_get_version_str"));
  if (!version || std::strncmp(version(), "0.", 2) != 0) return;
  unsigned eax, ebx, ecx, edx;
  if (!__get_cpuid(0, &eax, &ebx, &ecx, &edx) || ebx != 0x68747541 /* "Auth"enticAMD */) return;
  __get_cpuid(1, &eax, &ebx, &ecx, &edx);
  const unsigned family = ((eax >> 8) & 0xf) + ((eax >> 20) & 0xff);
  if (family <= 0x19) return;
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl")) {
    setenv("BLIS_ARCH_TYPE", "skx", 0);
  } else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    setenv("BLIS_ARCH_TYPE", "haswell", 0);
  }
#else
  (void)h;
#endif
}

/** 2 for an AVX-512 kernel set, 1 for AVX2/FMA, 0 for generic code; names compared case-blind. */
int kernelTier(std::string name, std::initializer_list<const char*> avx512, std::initializer_list<const char*> avx2) {
  for (auto& c : name) c = char(std::tolower(static_cast<unsigned char>(c)));
  for (const char* n : avx512) if (name == n) return 2;
  for (const char* n : avx2) if (name == n) return 1;
  return 0;
}

std::string resolvedPath(void* handle, const std::string& fallback) {
  link_map* map = nullptr;
  if (dlinfo(handle, RTLD_DI_LINKMAP, &map) == 0 && map && map->l_name && *map->l_name) return map->l_name;
  return fallback;
}

Blas* tryLoad(const std::string& name, std::string* tried) {
  void* h = dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    *tried += "\n  " + name + ": " + dlerror();
    return nullptr;
  }
  Blas* blas = nullptr;
  if (auto dnnl = reinterpret_cast<DnnlSgemm>(dlsym(h, "dnnl_sgemm"))) {
    auto omp = reinterpret_cast<SetThreads>(dlsym(h, "omp_set_num_threads"));
    blas = new DnnlLibrary(dnnl, omp);
    auto version = reinterpret_cast<const DnnlVersion* (*)()>(dlsym(h, "dnnl_version"));
    blas->description = version ? "oneDNN " + std::to_string(version()->major) + "." + std::to_string(version()->minor) + "." +
                                      std::to_string(version()->patch) + " sgemm"
                                : "oneDNN sgemm";
  } else if (auto cblas = reinterpret_cast<CblasSgemm>(dlsym(h, "cblas_sgemm"))) {
    blas = new CblasLibrary(cblas, reinterpret_cast<CblasSsyrk>(dlsym(h, "cblas_ssyrk")),
                            reinterpret_cast<CblasDgemm>(dlsym(h, "cblas_dgemm")));
    if (auto set = reinterpret_cast<SetThreads>(dlsym(h, "openblas_set_num_threads"))) {
      set(1);
      auto core = reinterpret_cast<const char* (*)()>(dlsym(h, "openblas_get_corename"));
      auto config = reinterpret_cast<const char* (*)()>(dlsym(h, "openblas_get_config"));
      // "OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH …": the name and version, then the kernel family in use.
      std::string name = config ? config() : "OpenBLAS";
      const size_t second = name.find(' ', name.find(' ') + 1);
      if (second != std::string::npos) name = name.substr(0, second);
      blas->description = name + (core ? std::string(" (") + core() + ")" : "");
      blas->tier = kernelTier(core ? core() : "", {"skylakex", "cooperlake", "sapphirerapids"}, {"haswell", "zen"});
    } else if (auto set = reinterpret_cast<SetThreads>(dlsym(h, "MKL_Set_Num_Threads"))) {
      set(1);
      blas->description = "Intel MKL";
      blas->tier = 3;  // MKL picks its kernels for every x86 CPU itself.
    } else if (auto set = reinterpret_cast<void (*)(long)>(dlsym(h, "bli_thread_set_num_threads"))) {
      hintBlisArch(h);
      set(1);
      auto info = reinterpret_cast<const char* (*)()>(dlsym(h, "bli_info_get_version_str"));
      auto archId = reinterpret_cast<int (*)()>(dlsym(h, "bli_arch_query_id"));
      auto archName = reinterpret_cast<const char* (*)(int)>(dlsym(h, "bli_arch_string"));
      const std::string arch = archId && archName ? archName(archId()) : "";
      blas->description = std::string("BLIS ") + (info ? info() : "") + (arch.empty() ? "" : " (" + arch + ")");
      blas->tier = kernelTier(arch, {"skx", "knl", "zen4", "zen5"}, {"haswell", "zen", "zen2", "zen3"});
    } else {
      blas->description = "CBLAS";
    }
  } else {
    *tried += "\n  " + name + ": has neither cblas_sgemm nor dnnl_sgemm";
    dlclose(h);
    return nullptr;
  }
  blas->path = resolvedPath(h, name);
  return blas;
}

}  // namespace

const Blas* loadBlas(std::string* error) {
  static std::once_flag once;
  static Blas* blas = nullptr;
  static std::string failure;
  std::call_once(once, [] {
    std::vector<std::string> candidates;
    if (const char* env = std::getenv("BACKPACK_BLAS"); env && *env) {
      candidates = {env};
    } else {
      // NOTE: oneDNN's dnnl_sgemm is fast too (AVX-512 JIT) but Debian's oneDNN 2.6 corrupts the
      // heap when a signal (e.g. the profiler's SIGPROF) interrupts it (docs/decisions.md): it is
      // used only when BACKPACK_BLAS names it.
      candidates = {"libmkl_rt.so.2", "libmkl_rt.so"};
    }
    std::string tried;
    for (const auto& name : candidates) {
      if ((blas = tryLoad(name, &tried))) return;
    }
    if (!std::getenv("BACKPACK_BLAS") || !*std::getenv("BACKPACK_BLAS")) {
      // OpenBLAS and BLIS: whichever runs the wider kernel set on this CPU, OpenBLAS on a tie. Each
      // misses some CPUs (BLIS 0.9 runs generic code on Zen 5, an OpenBLAS environment may pin
      // OPENBLAS_CORETYPE=Haswell on an AVX-512 machine): measured in docs/decisions.md.
      Blas* blis = nullptr;
      for (const char* name : {"libblis.so.4", "libblis.so"}) if (!blis) blis = tryLoad(name, &tried);
      Blas* openblas = nullptr;
      for (const char* name : {"libopenblas.so.0", "libopenblas.so"}) if (!openblas) openblas = tryLoad(name, &tried);
      blas = openblas && (!blis || openblas->tier >= blis->tier) ? openblas : blis;
      if (blas) return;
    }
    failure = std::getenv("BACKPACK_BLAS") ? "BACKPACK_BLAS could not be loaded:" + tried
                                           : "no BLAS library found (install one: apt-get install libopenblas0-pthread)";
  });
  if (!blas && error) *error = failure;
  return blas;
}

}  // namespace bp
