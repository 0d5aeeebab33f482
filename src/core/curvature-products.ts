/**
 * Full-network curvature-vector products, exact, in two passes over a shard (Pearlmutter 1994's
 * R-operator): a forward-mode pass R{a} = J_x R{a_in} + J_θ v, then the backward pass of the
 * gradient together with its directional derivative R{g}.
 *   GGN:     R{g_in} = J_xᵀ R{g_out}, R{∇θ} = J_θᵀ R{g_out}, starting from ρ∇²ℓ·R{f}   (= Jᵀ H_ℓ J v)
 *   Hessian: the same plus the terms where the Jacobians themselves move with (x, θ):
 *            R{J_x}ᵀ g_out (f''(x)·R{x}·g for activations; v-weight Jᵀ for Linear/Conv/BatchNorm) and
 *            R{J_θ}ᵀ g_out (J_θᵀ with the input replaced by R{x}).
 * Every supported layer is affine in its input and in its parameters separately (or elementwise, or
 * piecewise linear), which is what makes these four ingredients sufficient and exact.
 * Shapes: v_θ [*θ] per parameter; activations [n, *].
 */
import { tf } from './tf.ts';
import { mathOf } from './derivatives/index.ts';
import { ACTIVATIONS, type ActivationKind } from './derivatives/elementwise.ts';
import type { PoolCfg } from './derivatives/max-pool.ts';
import { mergeForward, mergeJacT } from './derivatives/merge.ts';
import type { ForwardContext, Layer } from './derivatives/types.ts';
import { UNCACHED } from './derivatives/derived.ts';
import type { ShardState } from './forward.ts';
import { maxPoolJvp } from './ops/windows.ts';
import type { Network } from '../nn/network.ts';
import type { ParamName } from '../vocabulary.ts';

export type Curvature = 'ggn' | 'hessian';

const hasParams = (layer: Layer) => Object.keys(layer.params).length > 0;

/** Layer with its parameters replaced (a missing entry means "zero"). */
const withParams = (layer: Layer, params: Layer['params']): Layer => ({ ...layer, params, derived: UNCACHED });

/** J_x·V for one layer: V [n, *in] → [n, *out]. Affine layers: forward(V) − forward(0). */
function jvpInput(layer: Layer, x: tf.Tensor, y: tf.Tensor, V: tf.Tensor, ctx: ForwardContext): tf.Tensor {
  if (layer.kind in ACTIVATIONS) return ACTIVATIONS[layer.kind as ActivationKind].df(x, y, layer.cfg as never).mul(V);
  if (layer.kind.startsWith('MaxPool')) return maxPoolJvp(x, (layer.cfg as PoolCfg).geom, V);
  const math = mathOf(layer.kind);
  return math.forward(layer, V, ctx).sub(math.forward(layer, tf.zerosLike(V), ctx));
}

/** J_θ·v for one layer: every parametric layer is linear in (weight, bias) once x is fixed. */
function jvpParams(layer: Layer, x: tf.Tensor, v: Layer['params'], ctx: ForwardContext): tf.Tensor {
  // BatchNorm: x̂·v_w + v_b — its forward with (v_w, v_b) as affine parameters is exactly that.
  return mathOf(layer.kind).forward(withParams(layer, v), x, ctx);
}

/** The forward R-pass: R{a_j} for every activation (R{input} = 0). */
function forwardR(net: Network, state: ShardState, v: Map<string, tf.Tensor>, ctx: ForwardContext): (tf.Tensor | null)[] {
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
    let r: tf.Tensor | null = ins[0] ? jvpInput(layer, x, y, ins[0], ctx) : null;
    if (hasParams(layer)) {
      const vp: Layer['params'] = {};
      for (const p of Object.keys(layer.params) as ParamName[]) vp[p] = v.get(`${layer.name}.${p}`);
      const byParams = jvpParams(layer, x, vp, ctx);
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
  const R = forwardR(net, state, v, ctx);
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
      const jac = math.paramJacT![p]!;
      let r = jac(layer, x, RgOut.expandDims(0), true).squeeze([0]);
      if (curvature === 'hessian' && Rx) {
        // R{J_θ}ᵀ g: J_θᵀ is affine in the input, so its change along R{x} is J_θᵀ(R{x}) − J_θᵀ(0).
        const moved = jac(layer, Rx, gOut.expandDims(0), true).sub(jac(layer, tf.zerosLike(Rx), gOut.expandDims(0), true));
        r = r.add(moved.squeeze([0]));
      }
      out.set(`${layer.name}.${p}`, r);
    }
    if (input < 0) continue;
    add(g, input, math.jacTMatProd(layer, x, y, gOut.expandDims(0)).squeeze([0]));
    let RgIn = math.jacTMatProd(layer, x, y, RgOut.expandDims(0)).squeeze([0]);
    if (curvature === 'hessian') {
      if (layer.kind in ACTIVATIONS && Rx) {
        RgIn = RgIn.add(ACTIVATIONS[layer.kind as ActivationKind].d2f(x, y, layer.cfg as never).mul(Rx).mul(gOut));
      }
      if (hasParams(layer) && layer.params.weight) {
        // R{J_x}ᵀ g: J_xᵀ is linear in the weight (scale for BatchNorm), so it is Jᵀ with v_w as weight.
        const vw = v.get(`${layer.name}.weight`)!;
        RgIn = RgIn.add(mathOf(layer.kind).jacTMatProd(withParams(layer, { weight: vw }), x, y, gOut.expandDims(0)).squeeze([0]));
      }
    }
    add(Rg, input, RgIn);
  }
  return out;
}
