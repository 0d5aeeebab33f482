/**
 * Average pools (AvgPoolNd, AdaptiveAvgPoolNd) are linear and separable: y = x ×_1 A_1 ×_2 A_2 …,
 * one [out_d, in_d] averaging matrix per spatial dim. Forward and Jacobianᵀ are then a few 2-D
 * matMuls (wasm's fast path) instead of window gathers.
 * Shapes: x [n, c, *in], y [n, c, *out], A_d [out_d, in_d].
 */
import { tf } from '../tf.ts';
import { ModelSpecError, ShapeError } from '../../errors/index.ts';
import type { SpecOf } from '../../nn/spec.ts';
import { poolGeometry } from './max-pool.ts';
import { affineModule } from './affine.ts';
import type { ModuleMath } from './types.ts';

/** One spatial dim's [out_d, in_d] averaging matrix, described rather than built. */
export interface PoolAxis {
  out: number;
  in: number;
  /** Identifies the matrix (the tensor cache's key) without building it. */
  key: string;
  /** The row-major matrix. NOTE: built on first use, not in setup: setup only infers shapes, and
   * must not allocate out_d·in_d floats for a spec that the size estimate is about to refuse. */
  build(): Float32Array;
}

export interface SeparablePoolCfg {
  mats: PoolAxis[];
}

const matCache = new Map<string, tf.Tensor2D>();

/** The matrix (or its transpose) as a tensor kept for the life of the backend. */
function matTensor(m: PoolAxis, transposed: boolean): tf.Tensor2D {
  const key = `${tf.getBackend()}|${transposed}|${m.key}`;
  let t = matCache.get(key);
  if (!t || t.isDisposed) {
    const base = tf.tensor2d(m.build(), [m.out, m.in]);
    t = tf.keep(transposed ? base.transpose() : base) as tf.Tensor2D;
    if (transposed) base.dispose();
    matCache.set(key, t);
  }
  return t;
}

/** Contracts spatial axis `axis` of x with M [in, out] (or its transpose for the backward pass). */
function applyAlong(x: tf.Tensor, axis: number, m: tf.Tensor2D): tf.Tensor {
  const rank = x.rank;
  const perm = [...Array(rank).keys()].filter((a) => a !== axis).concat(axis);
  const moved = axis === rank - 1 ? x : x.transpose(perm);
  const shape = moved.shape;
  const y = tf.matMul(moved.reshape([-1, shape[rank - 1]]), m).reshape([...shape.slice(0, -1), m.shape[1]]);
  if (axis === rank - 1) return y;
  const inverse = perm.map((_, i) => perm.indexOf(i));
  return y.transpose(inverse);
}

/** Applies every dim's matrix: forward uses A_dᵀ as [in, out]; backward A_d as [out, in]. */
function applyAll(cfg: SeparablePoolCfg, x: tf.Tensor, backward: boolean): tf.Tensor {
  const first = x.rank - cfg.mats.length;
  let y = x;
  cfg.mats.forEach((m, d) => {
    y = applyAlong(y, first + d, matTensor(m, !backward));
  });
  return y;
}

function math<K extends keyof SpecByKind>(resolve: (spec: SpecByKind[K], inShape: number[], where: string) => SeparablePoolCfg): ModuleMath<K, SeparablePoolCfg> {
  return affineModule({
    setup(spec, inShape, where) {
      const cfg = resolve(spec as SpecByKind[K], inShape, where);
      return { outShape: [inShape[0], ...cfg.mats.map((m) => m.out)], cfg, params: {} };
    },
    forward: (layer, x) => applyAll(layer.cfg, x, false),
    jacTMatProd(layer, _x, _y, V) {
      const [v, n] = V.shape;
      const flat = V.reshape([v * n, ...V.shape.slice(2)]);
      return applyAll(layer.cfg, flat, true).reshape([v, n, ...layer.inShape]);
    },
    jacobianStructure: () => ({ kind: 'shared' }),
  });
}

type SpecByKind = {
  AvgPool1d: SpecOf<'AvgPool1d'>; AvgPool2d: SpecOf<'AvgPool2d'>; AvgPool3d: SpecOf<'AvgPool3d'>;
  AdaptiveAvgPool1d: SpecOf<'AdaptiveAvgPool1d'>; AdaptiveAvgPool2d: SpecOf<'AdaptiveAvgPool2d'>; AdaptiveAvgPool3d: SpecOf<'AdaptiveAvgPool3d'>;
};

/** torch's AvgPool: count_include_pad divides by the full window, else by the in-bounds count. */
function avgPoolMats(spec: SpecOf<'AvgPool1d' | 'AvgPool2d' | 'AvgPool3d'>, inShape: number[], where: string, dims: number): SeparablePoolCfg {
  const g = poolGeometry(spec, inShape, where, dims);
  const override = spec.divisor_override ?? null;
  const mats = g.inSize.map((inD, d): PoolAxis => {
    const out = g.outSize[d];
    // torch pads pools symmetrically; ceil_mode's extra windows (a larger padHi) are not counted as padding.
    const [k, s, lo0, hi0] = [g.kernel[d], g.stride[d], g.padLo[d], g.padLo[d]];
    const build = () => {
      const data = new Float32Array(out * inD);
      for (let o = 0; o < out; o++) {
        const start = o * s - lo0;
        const lo = Math.max(0, start);
        const hi = Math.min(inD, start + k);
        // count_include_pad counts padded positions, but never beyond the padded extent.
        const padded = Math.min(start + k, inD + hi0) - start;
        const divisor = spec.count_include_pad ? padded : hi - lo;
        // divisor_override replaces Π_d divisor_d by one number: dim 0 divides once, the others not at all.
        const w = override === null ? 1 / divisor : d === 0 ? 1 / override : 1;
        for (let i = lo; i < hi; i++) data[o * inD + i] = w;
      }
      return data;
    };
    return { out, in: inD, key: `avg|${out}|${inD}|${k}|${s}|${lo0}|${hi0}|${spec.count_include_pad}|${override}|${d === 0}`, build };
  });
  return { mats };
}

/** torch's adaptive windows: [floor(o·in/out), ceil((o+1)·in/out)). */
function adaptiveMats(spec: SpecOf<'AdaptiveAvgPool1d' | 'AdaptiveAvgPool2d' | 'AdaptiveAvgPool3d'>, inShape: number[], where: string, dims: number): SeparablePoolCfg {
  if (inShape.length !== dims + 1) throw new ShapeError(`${where}: expects input [N, C, ${Array(dims).fill('*').join(', ')}], got [N, ${inShape.join(', ')}]`);
  const sizes = typeof spec.output_size === 'number' ? Array(dims).fill(spec.output_size) : spec.output_size;
  if (sizes.length !== dims) throw new ModelSpecError(`${where}.output_size has ${sizes.length} entries, expected ${dims}`);
  const mats = inShape.slice(1).map((inD, d): PoolAxis => {
    const out = sizes[d] ?? inD;
    const build = () => {
      const data = new Float32Array(out * inD);
      for (let o = 0; o < out; o++) {
        const lo = Math.floor((o * inD) / out);
        const hi = Math.ceil(((o + 1) * inD) / out);
        for (let i = lo; i < hi; i++) data[o * inD + i] = 1 / (hi - lo);
      }
      return data;
    };
    return { out, in: inD, key: `adaptive|${out}|${inD}`, build };
  });
  return { mats };
}

export const avgPool = <K extends 'AvgPool1d' | 'AvgPool2d' | 'AvgPool3d'>(dims: number) => math<K>((s, i, w) => avgPoolMats(s, i, w, dims));
export const adaptiveAvgPool = <K extends 'AdaptiveAvgPool1d' | 'AdaptiveAvgPool2d' | 'AdaptiveAvgPool3d'>(dims: number) =>
  math<K>((s, i, w) => adaptiveMats(s, i, w, dims));
