#!/usr/bin/env bash
# Prepares everything a GPU machine needs to run the cuda device checks and the cuda benchmark in
# one go, where that machine has CUDA, cuBLAS and PyTorch but no Node.js and no network:
#
#   scripts/device-check.sh            # here: fills .devcarry/ (git-ignored; ≤ 64 MiB with the tree)
#
# then, in a session that has the device tool, one call (the command is printed at the end):
#
#   run(command="bash .devcarry/remote.sh", carry=[".devcarry"], timeout_s=420)
#
# .devcarry/ holds: node.xz (this machine's Node, xz-compressed), app.tar.xz (esbuild bundles of the
# device checks, the benchmark, the CLI and its worker process; tfjs's wasm files), the addon
# prebuilt here with nvcc for sm_90 (+ compute_90 PTX) and -march=x86-64-v3, the Node headers (to
# rebuild the addon there with nvcc if the prebuilt one does not load), blas.tar.xz (OpenBLAS for
# the cpu device the checks compare against), the BackPACK fixtures, and remote.sh.
#
# remote.sh (run there from the repository root): unpacks node, loads the prebuilt addon (else
# builds it with nvcc), runs the device checks with --require-gpu and the benchmark
# (`npm run bench -- --backend cuda --n 128,1024` equivalent, time-boxed), writing under $OUT:
# gpu.txt, device-checks.log/.json, bench-cuda.md/.json, build.log (if it rebuilt).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
D=.devcarry
mkdir -p "$D"
EXCLUDE="$(git rev-parse --git-common-dir)/info/exclude"
mkdir -p "$(dirname "$EXCLUDE")"
grep -qxF '/.devcarry/' "$EXCLUDE" 2>/dev/null || echo '/.devcarry/' >>"$EXCLUDE"

NVCC=$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)
[ -x "$NVCC" ] || { echo "device-check: nvcc not found (the addon for the GPU machine is built here)"; exit 1; }

echo "device-check: addon for the GPU machine (sm_90, x86-64-v3)…"
BACKPACK_NATIVE_BUILD_DIR=native/build/device BACKPACK_NATIVE_ARCH=x86-64-v3 BACKPACK_CUDA_ARCH=90 node scripts/build-native.mjs
cp native/build/device/backpack_native.node "$D/backpack_native.node"

echo "device-check: bundles…"
node scripts/device-bundle.mjs
tar -C "$D" -cJf "$D/app.tar.xz" app && rm -rf "$D/app"

NODE_BIN=$(command -v node)
NODE_VERSION=$(node -p process.version)
if [ ! -s "$D/node.xz" ] || [ "$(cat "$D/node.version" 2>/dev/null)" != "$NODE_VERSION" ]; then
  echo "device-check: compressing $NODE_BIN ($NODE_VERSION)…"
  xz -T2 -6 -c "$NODE_BIN" >"$D/node.xz"
  echo "$NODE_VERSION" >"$D/node.version"
fi

NODE_INCLUDE=$(dirname "$(dirname "$NODE_BIN")")/include/node
[ -f "$NODE_INCLUDE/node_api.h" ] || NODE_INCLUDE=/usr/include/node
mkdir -p "$D/node-include"
cp "$NODE_INCLUDE"/node_api.h "$NODE_INCLUDE"/node_api_types.h "$NODE_INCLUDE"/js_native_api.h "$NODE_INCLUDE"/js_native_api_types.h "$D/node-include/"

if [ ! -s "$D/blas.tar.xz" ]; then
  echo "device-check: OpenBLAS for the reference cpu device…"
  tmp=$(mktemp -d)
  for lib in libopenblas.so.0 libgfortran.so.5 libquadmath.so.0; do
    src=$(ldconfig -p | awk -v l="$lib" '$1 == l && /x86-64/ { print $NF; exit }')
    [ -n "$src" ] || { echo "device-check: $lib not found here (apt-get install libopenblas0-pthread)"; exit 1; }
    cp -L "$src" "$tmp/$lib"
  done
  tar -C "$tmp" -cJf "$D/blas.tar.xz" .
  rm -rf "$tmp"
fi

# The project's own copy of BackPACK's fixtures (tracked, but copied: the carry holds ignored paths).
FIXTURES=${BACKPACK_FIXTURES:-$ROOT/test/fixtures/backpack}
rm -rf "$D/fixtures" && mkdir -p "$D/fixtures" && cp -r "$FIXTURES"/. "$D/fixtures/" && chmod -R u+w "$D/fixtures"

cat >"$D/remote.sh" <<'REMOTE'
#!/usr/bin/env bash
# Runs on the GPU machine from the repository root (scripts/device-check.sh wrote this).
set -uo pipefail
D=.devcarry
OUT=${OUT:-/tmp/bp-out}
mkdir -p "$OUT" /tmp/bp/bin /tmp/bp/lib
# xz, or Python's lzma where the xz tools are missing.
unxz_to() { if command -v xz >/dev/null; then xz -dc "$1" >"$2"; else python3 -c 'import lzma,shutil,sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' "$1" "$2"; fi; }
untar_xz() { python3 -c 'import sys,tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' "$1" "$2"; }
unxz_to "$D/node.xz" /tmp/bp/bin/node && chmod +x /tmp/bp/bin/node
untar_xz "$D/blas.tar.xz" /tmp/bp/lib
rm -rf "$D/app" && untar_xz "$D/app.tar.xz" "$D"
export PATH=/tmp/bp/bin:$PATH BACKPACK_BLAS=/tmp/bp/lib/libopenblas.so.0
export LD_LIBRARY_PATH=/tmp/bp/lib:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}
export BACKPACK_FIXTURES=$PWD/$D/fixtures BACKPACK_CLI=$PWD/$D/app/cli.cjs
{ nvidia-smi -L; nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv; node -v; ls /usr/local/cuda/lib64/libcublas.so* 2>&1; } >"$OUT/gpu.txt" 2>&1
mkdir -p native/build && cp "$D/backpack_native.node" native/build/backpack_native.node
# Rebuilt only if it does not load (another glibc, say); no GPU is for the checks to report.
if ! node -e "require('./native/build/backpack_native.node')"; then
  echo "prebuilt addon does not load here: rebuilding with nvcc" | tee "$OUT/build.log"
  NODE_INCLUDE_DIR=$PWD/$D/node-include BACKPACK_CUDA_ARCH=90 node scripts/build-native.mjs --force >>"$OUT/build.log" 2>&1 || { tail -20 "$OUT/build.log"; exit 3; }
fi
node "$D/app/device-checks.cjs" --require-gpu --out "$OUT"
checks=$?
node "$D/app/bench.cjs" --n 128,1024 --budget-s ${BENCH_BUDGET_S:-150} --out "$OUT" 2>&1 | tail -60
exit $checks
REMOTE
chmod +x "$D/remote.sh"

tree_bytes=$(git ls-files -z | xargs -0 du -cb 2>/dev/null | tail -1 | cut -f1)
carry_bytes=$(du -sb "$D" | cut -f1)
total=$((tree_bytes + carry_bytes))
echo "device-check: .devcarry $((carry_bytes >> 20)) MiB + tree $((tree_bytes >> 20)) MiB = $((total >> 20)) MiB (limit 64)"
[ "$total" -lt $((64 << 20)) ] || { echo "device-check: too large to carry"; exit 1; }
echo
echo 'device-check: ready. With the device tool, one call:'
echo '  run(command="bash .devcarry/remote.sh", carry=[".devcarry"], timeout_s=420)'
