/**
 * Which (problem, quantity) cells cannot run, and why — decided before running, from sizes alone,
 * so that the table says why instead of a number (and the bench does not spend minutes finding out).
 *
 * Two hard limits:
 * - the wasm backend's heap is a wasm32 memory: at most 4 GiB (tfjs-backend-wasm 4.22's
 *   getHeapMax() = 65535 pages). A tensor, or the tensors one step keeps alive together, must fit in
 *   it. (tfjs-backend-wasm does not check malloc's result: past the limit it silently writes at
 *   address 0 — the bench child turns that into an error, see guardWasmMalloc.)
 * - the host: per-sample outputs ([N, *θ] or [C, N, *θ]) live on the host in the shard's copy,
 *   the merged rows and the finalised result; the bench's RSS watchdog (--max-rss-gb) kills a
 *   child above its limit.
 *
 * The estimates are lower bounds of what the implementation (src/extensions/shared/*) allocates,
 * so a "cannot run" here is certain; cells that pass may still fail at run time (reported as such).
 */
import { numel } from '../src/io/host-tensor.ts';
import { kfraCapacity } from '../src/core/kfra.ts';
import type { Network } from '../src/nn/network.ts';

/** tfjs-backend-wasm 4.22: getHeapMax() (wasm32, 65535 × 64 KiB pages). */
export const WASM_HEAP_MAX = 4294901760;
/** Host bytes per byte of per-sample output, measured: 2c2d BatchGrad N=128 (1.68 GB of rows) peaked at 6.7 GB RSS. */
const HOST_COPIES_PER_ROW_BYTE = 4;

export interface Verdict {
  /** Why the cell cannot run at all (shown in the table instead of a number). */
  reason?: string;
  /** It runs, but only in shards of at most this many samples (one shard of N does not fit the wasm heap). */
  shardSize?: number;
  shardWhy?: string;
}

const GB = (b: number) => `${(b / 1e9).toFixed(b >= 1e10 ? 0 : 1)} GB`;
const SUP = '⁰¹²³⁴⁵⁶⁷⁸⁹';
const sci = (x: number) => {
  if (x < 1e6) return x.toLocaleString('en-US');
  const e = Math.floor(Math.log10(x));
  return `${(x / 10 ** e).toFixed(2)}·10${[...String(e)].map((d) => SUP[Number(d)]).join('')}`;
};

/** Quantities that materialise J_θᵀS [V, n, *θ] (paramSqrt) per parameter, and how many such tensors coexist. */
const PARAM_SQRT: Record<string, { copies: number; fastLinearWeight: boolean; factor: 'exact' | 'mc' }> = {
  // diagonals.ts: paramSqrt(f).square() → 2 tensors; plain Linear weights take the (g²)(x²)ᵀ path.
  DiagGGNExact: { copies: 2, fastLinearWeight: true, factor: 'exact' },
  DiagGGNMC: { copies: 2, fastLinearWeight: true, factor: 'mc' },
  DiagHessian: { copies: 2, fastLinearWeight: true, factor: 'exact' },
  BatchDiagGGNExact: { copies: 2, fastLinearWeight: true, factor: 'exact' },
  BatchDiagGGNMC: { copies: 2, fastLinearWeight: true, factor: 'mc' },
  BatchDiagHessian: { copies: 2, fastLinearWeight: true, factor: 'exact' },
  // sqrt-ggn.ts: paramSqrt, then its [n, v, *θ] transpose for the rows.
  SqrtGGNExact: { copies: 2, fastLinearWeight: false, factor: 'exact' },
  SqrtGGNMC: { copies: 2, fastLinearWeight: false, factor: 'mc' },
  // curvature-products.ts: Q = paramSqrt [v·n, P], then two small matMuls.
  GGNMP: { copies: 1, fastLinearWeight: false, factor: 'exact' },
  HMP: { copies: 1, fastLinearWeight: false, factor: 'exact' },
};

/** Per-sample outputs ([N, *θ] per parameter, times V for the square-root factors). */
const ROW_OUTPUTS: Record<string, 'exact' | 'mc' | 1> = {
  BatchGrad: 1, BatchDiagGGNExact: 1, BatchDiagGGNMC: 1, BatchDiagHessian: 1, SqrtGGNExact: 'exact', SqrtGGNMC: 'mc',
};

export function verdict(net: Network, quantity: string, N: number, backend: string, maxRssBytes: number, mcSamples = 1): Verdict {
  const heap = backend === 'wasm' ? WASM_HEAP_MAX : maxRssBytes;
  const heapName = backend === 'wasm' ? '4 GiB wasm32 heap' : `--max-rss-gb ${(maxRssBytes / 2 ** 30).toFixed(0)} GiB`;
  const C = numel(net.outputShape);
  const params = Object.values(net.paramShapes).reduce((s, sh) => s + numel(sh), 0);

  if (quantity === 'KFRA') {
    if (!net.sequential) return { reason: 'KFRA needs a plain chain (graph model)' };
    const D = Math.round(Math.sqrt(kfraCapacity(net.layers)));
    const where = net.layers.find((l, i) => i > 0 && numel(l.inShape) === D);
    const floats = D * D;
    const need = 2 * floats * 4;
    if (need > heap) {
      return {
        reason:
          `all-reduced matrix is D×D, D = ${D.toLocaleString('en-US')}` +
          (where ? ` (input of layer ${where.index} ${where.kind} [${where.inShape.join(',')}])` : '') +
          ` → D² = ${sci(floats)} floats = ${GB(floats * 4)} float32 (${GB(floats * 8)} as the float64 all-reduce sum); ` +
          `G and ΣₙJₙᵀGJₙ must coexist: 2 × ${GB(floats * 4)} > ${heapName}`,
      };
    }
    return {};
  }

  const rows = ROW_OUTPUTS[quantity];
  if (rows !== undefined) {
    const V = rows === 'exact' ? C : rows === 'mc' ? mcSamples : 1;
    const bytes = V * N * params * 4;
    if (bytes * HOST_COPIES_PER_ROW_BYTE > maxRssBytes) {
      return {
        reason:
          `output is [${V > 1 ? `${V}, ` : ''}N, θ] = ${V > 1 ? `${V}·` : ''}${N}·${params.toLocaleString('en-US')} floats = ${GB(bytes)} float32; ` +
          `~${HOST_COPIES_PER_ROW_BYTE}× that on the host (shard copy, merged rows, result) > --max-rss-gb ${(maxRssBytes / 2 ** 30).toFixed(0)} GiB`,
      };
    }
  }

  const ps = PARAM_SQRT[quantity];
  if (ps) {
    const V = ps.factor === 'exact' ? C : mcSamples;
    let worst = { bytes: 0, name: '', shape: [] as number[] };
    for (const layer of net.layers) {
      for (const [param, t] of Object.entries(layer.params)) {
        const fast = ps.fastLinearWeight && layer.kind === 'Linear' && param === 'weight' && (layer.cfg as { lead?: number }).lead === 1;
        if (fast || !t) continue;
        const bytes = ps.copies * V * N * numel(t.shape) * 4;
        if (bytes > worst.bytes) worst = { bytes, name: `${layer.name}.${param}`, shape: t.shape };
      }
    }
    // Two budgets, both measured: one tensor at most ¼ of the heap (tensors past 2 GiB trap in
    // some kernels — 2c2d GGNMP in shards of 16, a 2.05 GB factor: "memory access out of bounds" —,
    // and a 2.9 GiB malloc failed with the heap at 2.0 GiB: 3c3d GGNMP in one shard), and the
    // tensors alive together at most ½ of it (the rest: activations, factors, allocator fragments).
    const single = worst.bytes / ps.copies;
    const perSample = single / N;
    const fits = Math.min(Math.floor(heap / 4 / perSample), Math.floor(heap / 2 / (ps.copies * perSample)));
    if (fits < N) {
      const what = `J_θᵀS for ${worst.name} is [${V}, ${N}, ${worst.shape.join(', ')}] = ${GB(single)} float32${ps.copies > 1 ? ` (×${ps.copies} alive at once)` : ''}: more than ${backend === 'wasm' ? 'a 4 GiB wasm32 heap' : `the --max-rss-gb ${(maxRssBytes / 2 ** 30).toFixed(0)} GiB budget`} holds safely in one shard of ${N} (one tensor ≤ ¼ of it, all ≤ ½)`;
      if (fits >= 1) return { shardSize: fits, shardWhy: `${what}; shards of ≤ ${fits}` };
      return { reason: `${what}, and even one sample does not fit` };
    }
  }
  return {};
}
