/**
 * Full-network curvature-vector products, exact, in two passes over a shard (Pearlmutter 1994's
 * R-operator): a forward-mode pass R{a} = J_x R{a_in} + J_θ v, then the backward pass of the
 * gradient together with its directional derivative R{g}.
 *   GGN:     R{g_in} = J_xᵀ R{g_out}, R{∇θ} = J_θᵀ R{g_out}, starting from ρ∇²ℓ·R{f}   (= Jᵀ H_ℓ J v)
 *   Hessian: the same plus the terms where the Jacobians themselves move with (x, θ):
 *            R{J_x}ᵀ g_out (the input Hessian applied to R{x}, plus J_xᵀ's change along v) and
 *            R{J_θ}ᵀ g_out (J_θᵀ's change along R{x}).
 * Every ingredient is asked of the module's record (jvp, paramJvp, inputHessian, mixed); a record
 * that does not state one is refused with a typed error (core/capabilities.ts).
 * Shapes: v_θ [*θ] per parameter; activations [n, *].
 */
import { tf } from './tf.ts';
import { inputHessianOf, jvpOf, mixedOf, paramJvpOf } from './capabilities.ts';
import { mathOf } from './derivatives/index.ts';
import { mergeForward, mergeJacT } from './derivatives/merge.ts';
import type { ForwardContext, Layer } from './derivatives/types.ts';
import type { ShardState } from './forward.ts';
import { UnsupportedModuleError } from '../errors/index.ts';
import type { Network } from '../nn/network.ts';
import type { ParamName } from '../vocabulary.ts';

export type Curvature = 'ggn' | 'hessian';

const hasParams = (layer: Layer) => Object.keys(layer.params).length > 0;

/** What the records are asked for: the quantity named in a missing capability's error. */
const QUANTITY: Record<Curvature, string> = { ggn: 'GGN-vector product', hessian: 'Hessian-vector product' };

/** The direction v restricted to one layer's parameters. */
function directions(layer: Layer, v: Map<string, tf.Tensor>): Layer['params'] {
  const out: Layer['params'] = {};
  for (const p of Object.keys(layer.params) as ParamName[]) out[p] = v.get(`${layer.name}.${p}`);
  return out;
}

/** The forward R-pass: R{a_j} for every activation (R{input} = 0). */
function forwardR(net: Network, state: ShardState, v: Map<string, tf.Tensor>, ctx: ForwardContext, quantity: string): (tf.Tensor | null)[] {
  const R: (tf.Tensor | null)[] = [null];
  net.nodes.forEach((node, j) => {
    const ins = node.inputs.map((i) => R[i + 1]);
    if (node.kind === 'merge') {
      const present = ins.map((t, k) => t ?? tf.zerosLike(state.acts[node.inputs[k] + 1]));
      R.push(ins.every((t) => t === null) ? null : mergeForward(node.merge, present));
      return;
    }
    const { layer } = node;
    const x = state.acts[node.inputs[0] + 1];
    const y = state.acts[j + 1];
    let r: tf.Tensor | null = ins[0] ? jvpOf(layer, quantity)(layer, x, y, ins[0], ctx) : null;
    if (hasParams(layer)) {
      const byParams = paramJvpOf(layer, quantity)(layer, x, directions(layer, v), ctx);
      r = r ? r.add(byParams) : byParams;
    }
    R.push(r);
  });
  return R;
}

/**
 * Σ over the shard's samples of C·v for every parameter (C = GGN or Hessian of the ρ-scaled loss).
 * Runs inside the caller's tidy scope; returns [*θ] tensors keyed by parameter name.
 */
export function curvatureVectorProduct(net: Network, state: ShardState, v: Map<string, tf.Tensor>, curvature: Curvature): Map<string, tf.Tensor> {
  const ctx: ForwardContext = { seed: state.req.seed, sampleIndex: Int32Array.from({ length: state.n }, (_, i) => state.req.offset + i) };
  const quantity = QUANTITY[curvature];
  const R = forwardR(net, state, v, ctx, quantity);
  const f = state.acts[state.acts.length - 1];
  const last = net.nodes.length - 1;
  const Rf = R[last + 1] ?? tf.zerosLike(f);
  const g: (tf.Tensor | null)[] = Array(net.nodes.length).fill(null);
  const Rg: (tf.Tensor | null)[] = Array(net.nodes.length).fill(null);
  const add = (arr: (tf.Tensor | null)[], i: number, t: tf.Tensor) => (arr[i] = arr[i] ? arr[i]!.add(t) : t);
  g[last] = state.loss.gradient(f, state.targets).mul(state.rho);
  Rg[last] = state.loss.hessianMatProd(f, Rf.expandDims(0)).squeeze([0]).mul(state.rho);
  const out = new Map<string, tf.Tensor>();
  for (let j = last; j >= 0; j--) {
    const node = net.nodes[j];
    const gOut = g[j];
    const RgOut = Rg[j];
    if (!gOut || !RgOut) continue;
    if (node.kind === 'merge') {
      const gs = mergeJacT(node.merge, node.inShapes, gOut.expandDims(0));
      const Rgs = mergeJacT(node.merge, node.inShapes, RgOut.expandDims(0));
      node.inputs.forEach((i, k) => {
        if (i < 0) return;
        add(g, i, gs[k].squeeze([0]));
        add(Rg, i, Rgs[k].squeeze([0]));
      });
      continue;
    }
    const { layer } = node;
    const input = node.inputs[0];
    const x = state.acts[input + 1];
    const y = state.acts[j + 1];
    const Rx = input >= 0 ? R[input + 1] : null;
    const math = mathOf(layer.kind);
    for (const p of Object.keys(layer.params) as ParamName[]) {
      let r = math.paramJacT![p]!(layer, x, RgOut.expandDims(0), true).squeeze([0]);
      if (curvature === 'hessian' && Rx) {
        // R{J_θ}ᵀ g: J_θᵀ's change along R{x}, the mixed second derivative.
        const along = mixedOf(layer, quantity).paramJacTAlongInput[p];
        if (!along) throw new UnsupportedModuleError(quantity, `${layer.kind} (layer '${layer.name}')`, `its record states no mixed second derivative for '${p}'`);
        r = r.add(along(layer, x, Rx, gOut.expandDims(0)).squeeze([0]));
      }
      out.set(`${layer.name}.${p}`, r);
    }
    if (input < 0) continue;
    add(g, input, math.jacTMatProd(layer, x, y, gOut.expandDims(0)).squeeze([0]));
    let RgIn = math.jacTMatProd(layer, x, y, RgOut.expandDims(0)).squeeze([0]);
    if (curvature === 'hessian') {
      // R{J_x}ᵀ g along R{x}: the input Hessian (the residual of Hessian backprop) applied to R{x}.
      const h = inputHessianOf(layer, quantity);
      if (h.kind === 'diagonal' && Rx) RgIn = RgIn.add(h.d2f(layer, x, y).mul(Rx).mul(gOut));
      if (h.kind === 'dense' && Rx) RgIn = RgIn.add(h.matProd(layer, x, y, gOut, Rx.expandDims(0)).squeeze([0]));
      // … and along the parameter direction: the mixed second derivative.
      if (hasParams(layer)) RgIn = RgIn.add(mixedOf(layer, quantity).inputJacTAlongParams(layer, x, y, gOut.expandDims(0), directions(layer, v)).squeeze([0]));
    }
    add(Rg, input, RgIn);
  }
  return out;
}
