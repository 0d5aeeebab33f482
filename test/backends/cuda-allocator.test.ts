/**
 * The cuda device's memory logic without a GPU: native/test/cuda_allocator_test.cc drives the
 * caching allocator over the stream-ordered raw allocator on a fake device whose kernels run in
 * stream order (no cudaMalloc/cudaFree per op in steady state, no block reused or freed while
 * queued work still needs it, out-of-memory trims and retries). Built here with the C++ compiler.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const cxx = (() => {
  for (const c of [process.env.CXX, 'c++', 'g++', 'clang++']) {
    if (!c) continue;
    try {
      execFileSync(c, ['--version'], { stdio: 'ignore' });
      return c;
    } catch {
      // next
    }
  }
  return null;
})();

describe('cuda device memory on a fake device', () => {
  it.runIf(cxx)('caching allocator over the stream-ordered raw allocator', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'bp-alloc-'));
    try {
      const exe = path.join(dir, 'allocator_test');
      execFileSync(cxx!, ['-std=c++17', '-O1', '-Wall', '-I', path.join(ROOT, 'native/src'), path.join(ROOT, 'native/test/cuda_allocator_test.cc'),
        path.join(ROOT, 'native/src/device/caching_allocator.cc'), '-o', exe]);
      let out = '';
      try {
        out = execFileSync(exe, { encoding: 'utf8' });
      } catch (e) {
        out = String((e as { stdout?: string }).stdout ?? e);
      }
      expect(out).toMatch(/^4 checks passed, 0 failed$/m);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
