/**
 * Merge nodes of graph models: Add (residual connections) and Concat (branches). They are linear,
 * so Jᵀ is exact and their second derivatives vanish.
 * Shapes: inputs x_k [n, *in_k], output y [n, *out]; V [v, n, *out] → one [v, n, *in_k] per input.
 */
import { tf } from '../tf.ts';
import { ShapeError } from '../../errors/index.ts';

export interface MergeSpec {
  op: 'Add' | 'Concat';
  /** Concat axis counted with the batch axis (torch.cat's dim); negative counts from the end. */
  dim: number;
}

const same = (a: number[], b: number[]) => a.length === b.length && a.every((d, i) => d === b[i]);

/** Per-sample axis of a Concat (0-based, without the batch axis). */
export function concatAxis(m: MergeSpec, rank: number, where: string): number {
  const full = rank + 1;
  const d = m.dim < 0 ? full + m.dim : m.dim;
  if (d < 1 || d >= full) throw new ShapeError(`${where}: Concat dim ${m.dim} is invalid for inputs of rank ${full} (concatenating along the batch axis is not supported)`);
  return d - 1;
}

export function mergeOutShape(m: MergeSpec, inShapes: number[][], where: string): number[] {
  const first = inShapes[0];
  if (m.op === 'Add') {
    const bad = inShapes.find((s) => !same(s, first));
    if (bad) throw new ShapeError(`${where}: Add needs inputs of one shape, got [N, ${first.join(', ')}] and [N, ${bad.join(', ')}]`);
    return first;
  }
  const axis = concatAxis(m, first.length, where);
  for (const s of inShapes) {
    if (s.length !== first.length || s.some((d, i) => i !== axis && d !== first[i])) {
      throw new ShapeError(`${where}: Concat along dim ${m.dim} needs inputs equal elsewhere, got [N, ${first.join(', ')}] and [N, ${s.join(', ')}]`);
    }
  }
  return first.map((d, i) => (i === axis ? inShapes.reduce((a, s) => a + s[axis], 0) : d));
}

export function mergeForward(m: MergeSpec, xs: tf.Tensor[]): tf.Tensor {
  if (m.op === 'Add') return xs.reduce((a, b) => a.add(b));
  return tf.concat(xs, concatAxis(m, xs[0].rank - 1, 'Concat') + 1);
}

/** Jᵀ to every input: Add copies V; Concat slices it. */
export function mergeJacT(m: MergeSpec, inShapes: number[][], V: tf.Tensor): tf.Tensor[] {
  if (m.op === 'Add') return inShapes.map(() => V);
  const axis = concatAxis(m, inShapes[0].length, 'Concat');
  return tf.split(V, inShapes.map((s) => s[axis]), axis + 2);
}
