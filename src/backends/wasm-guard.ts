/**
 * NOTE: tfjs-backend-wasm 4.22 does not check its mallocs: past the 4 GiB wasm32 heap, malloc
 * returns 0 and the tensor is written at address 0, silently corrupting other tensors (measured in
 * the bench: a 4th 1 GiB tensor overwrote the 1st). This wrapper turns a failed allocation into a
 * typed error that says how to get under the limit.
 */
import { BackpackError, ErrorCode } from '../errors/index.ts';

interface EmscriptenModule {
  _malloc: (n: number) => number;
  _free: (p: number) => void;
  HEAPU8: Uint8Array;
}

const guarded = new WeakSet<object>();

export function guardWasmMalloc(backend: unknown): void {
  const wasm = (backend as { wasm?: EmscriptenModule }).wasm;
  if (!wasm || guarded.has(wasm)) return;
  // Emscripten's first call replaces Module._malloc with the raw export: let that happen first.
  wasm._free(wasm._malloc(8));
  const malloc = wasm._malloc;
  wasm._malloc = (n: number) => {
    const p = malloc(n);
    if (p === 0 && n > 0) {
      throw new BackpackError(
        ErrorCode.Internal,
        `wasm heap exhausted: allocating ${(n / 2 ** 20).toFixed(0)} MiB failed with the heap at ${(wasm.HEAPU8.length / 2 ** 30).toFixed(2)} GiB (wasm32 limit 4 GiB); use smaller shards (--shard-size or --max-memory)`,
        true,
      );
    }
    return p;
  };
  guarded.add(wasm);
}
