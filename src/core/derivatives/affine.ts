/**
 * Record fields shared by modules that are affine in their input and in their parameters
 * separately (Linear, ConvNd, ConvTransposeNd, BatchNorm in eval mode, pools, padding…): for
 * them the forward pass itself gives the forward-mode Jacobians, and the mixed second derivative
 * follows from the first-order Jacobians. A module that is not affine must not use these.
 * Shapes: x [n, *in], V [v, n, *out], directions as the tensors they move.
 */
import { tf } from '../tf.ts';
import { UNCACHED } from './derived.ts';
import type { ForwardContext, Layer, MixedSecondDerivative, ModuleMath, ParamJacT } from './types.ts';
import type { ModuleKind, ParamName } from '../../vocabulary.ts';

/** Layer with its parameters replaced (a missing entry means "zero"); nothing derived is cached for it. */
export const withParams = <C>(layer: Layer<C>, params: Layer<C>['params']): Layer<C> => ({ ...layer, params, derived: UNCACHED });

type Forward<C> = ModuleMath<ModuleKind, C>['forward'];

/** J_x·V = forward(V) − forward(0) for a module affine in x. */
export const affineJvp = <C>(forward: Forward<C>) => (layer: Layer<C>, _x: tf.Tensor, _y: tf.Tensor, V: tf.Tensor, ctx: ForwardContext): tf.Tensor =>
  forward(layer, V, ctx).sub(forward(layer, tf.zerosLike(V), ctx));

/** J_θ·v = forward with v as the parameters, for a module linear in (weight, bias) at fixed x. */
export const linearInParamsJvp = <C>(forward: Forward<C>) => (layer: Layer<C>, x: tf.Tensor, v: Layer<C>['params'], ctx: ForwardContext): tf.Tensor =>
  forward(withParams(layer, v), x, ctx);

/**
 * The mixed second derivative of a module affine in x whose input Jacobian is linear in its weight
 * (and free of its bias): J_θᵀ moves along dx as J_θᵀ(dx) − J_θᵀ(0), and J_xᵀ along v is J_xᵀ with
 * v's weight as the weight.
 */
export function affineMixed<C>(jacTMatProd: ModuleMath<ModuleKind, C>['jacTMatProd'], paramJacT: Partial<Record<ParamName, ParamJacT<C>>>): MixedSecondDerivative<C> {
  const along: MixedSecondDerivative<C>['paramJacTAlongInput'] = {};
  for (const [p, jac] of Object.entries(paramJacT) as [ParamName, ParamJacT<C>][]) {
    along[p] = (layer, _x, dx, V) => jac(layer, dx, V, true).sub(jac(layer, tf.zerosLike(dx), V, true));
  }
  return {
    paramJacTAlongInput: along,
    inputJacTAlongParams: (layer, x, y, V, v) => {
      if (!v.weight) return tf.zerosLike(jacTMatProd(layer, x, y, V));
      return jacTMatProd(withParams(layer, { weight: v.weight }), x, y, V);
    },
  };
}

/**
 * A record for a module affine in its input (and, if parametric, linear in its parameters with an
 * input Jacobian linear in the weight), completed with what that implies: the forward-mode
 * Jacobians from the forward pass, a zero input Hessian and the mixed second derivative.
 */
export function affineModule<K extends ModuleKind, C>(base: ModuleMath<K, C>): ModuleMath<K, C> {
  const forward = base.forward;
  return {
    ...base,
    jvp: affineJvp(forward),
    inputHessian: { kind: 'zero' },
    ...(base.paramJacT ? { paramJvp: linearInParamsJvp(forward), mixed: affineMixed(base.jacTMatProd, base.paramJacT) } : {}),
  };
}
