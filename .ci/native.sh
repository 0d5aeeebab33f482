# Sourced by .ci/run: the native backend's build and run-time needs, so CI runs the native suite.
# A C++ compiler and Node's headers build the addon during `npm ci`; OpenBLAS and BLIS are the BLAS
# libraries it may open at run time (it picks one; test/native/blas-libraries.test.ts checks both);
# oneDNN 2.x (libdnnl-dev: headers to build, the library to run) runs its plain convolutions, and
# BACKPACK_EXPECT_ONEDNN=1 makes test/native/onednn-conv.test.ts fail, not skip, where it does not.
ensure_native_deps() {
  export BACKPACK_EXPECT_ONEDNN=1
  local missing=()
  command -v g++ >/dev/null 2>&1 || missing+=(g++)
  [ -e /usr/lib/x86_64-linux-gnu/libopenblas.so.0 ] || [ -e /usr/lib/aarch64-linux-gnu/libopenblas.so.0 ] || missing+=(libopenblas0-pthread)
  [ -e /usr/lib/x86_64-linux-gnu/libblis.so.4 ] || [ -e /usr/lib/aarch64-linux-gnu/libblis.so.4 ] || missing+=(libblis4-pthread)
  [ -e /usr/include/oneapi/dnnl/dnnl.h ] || missing+=(libdnnl-dev)
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "warning: cannot install ${missing[*]} (not root or no apt-get); the native backend may be unavailable"
    return 0
  fi
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null) \
    || echo "warning: could not install ${missing[*]}; the native backend may be unavailable"
}
