/** Vectors for curvature-matrix products: one [V, *θ] tensor per parameter, the same V for all. */
import { ShapeError, WeightsError } from '../errors/index.ts';
import { finiteFloat32 } from '../io/float32.ts';
import type { HostTensor } from '../io/host-tensor.ts';

export function checkVectors(vectors: Map<string, HostTensor>, paramShapes: Record<string, number[]>, label: string): Map<string, HostTensor> {
  const out = new Map<string, HostTensor>();
  let V: number | null = null;
  for (const [name, shape] of Object.entries(paramShapes)) {
    const t = vectors.get(name);
    if (!t) throw new WeightsError(`${label}: no vectors for parameter '${name}' (expected a tensor [V, ${shape.join(', ')}])`);
    const ok = t.shape.length === shape.length + 1 && shape.every((d, i) => t.shape[i + 1] === d);
    if (!ok) throw new ShapeError(`${label}: vectors '${name}' have shape [${t.shape.join(', ')}], expected [V, ${shape.join(', ')}]`);
    if (V !== null && t.shape[0] !== V) throw new ShapeError(`${label}: vectors '${name}' stack ${t.shape[0]} vectors, others ${V}`);
    V = t.shape[0];
    const data = finiteFloat32(t, (j, value) => `${label}: vectors '${name}' hold a non-finite value (${value}) at flat index ${j}`);
    out.set(name, { dtype: 'float32', shape: t.shape, data });
  }
  return out;
}
