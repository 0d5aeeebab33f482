/**
 * Gradients of the window kernels, so tf.grad (the autodiff oracles, on any backend) runs through
 * them: unfold and fold are adjoint linear maps; max pooling's gradient is its Jacobianᵀ, whose
 * own derivative in V is the forward-mode Jacobian (and vice versa), and zero in x almost everywhere.
 */
import type { NamedAttrMap, Tensor } from '@tensorflow/tfjs-core';
import { tf } from '../tf.ts';
import { FOLD, MAX_POOL, MAX_POOL_JAC_T, MAX_POOL_JVP, UNFOLD, type FoldAttrs, type UnfoldAttrs, type WindowAttrs } from './kernel-names.ts';

const { registerGradient } = tf;

const run = (name: string, inputs: Record<string, Tensor>, attrs: object) => tf.engine().runKernel(name, inputs, attrs as NamedAttrMap) as Tensor;

registerGradient({
  kernelName: UNFOLD,
  inputsToSave: ['x'],
  gradFunc: (dy, saved, attrs) => {
    const a = attrs as unknown as UnfoldAttrs;
    const [x] = saved;
    const layout = a.layout;
    if (layout === 'patches') throw new Error('the patches layout of unfold has no registered gradient');
    return { x: () => run(FOLD, { cols: dy as Tensor }, { geom: a.geom, layout, channels: x.shape[1]!, batch: x.shape[0]! } satisfies FoldAttrs) };
  },
});

registerGradient({
  kernelName: FOLD,
  gradFunc: (dy, _saved, attrs) => {
    const a = attrs as unknown as FoldAttrs;
    return { cols: () => run(UNFOLD, { x: dy as Tensor }, { geom: a.geom, layout: a.layout, groups: 1 } satisfies UnfoldAttrs) };
  },
});

registerGradient({
  kernelName: MAX_POOL,
  inputsToSave: ['x'],
  gradFunc: (dy, saved, attrs) => {
    const [x] = saved;
    const { geom } = attrs as unknown as WindowAttrs;
    return { x: () => run(MAX_POOL_JAC_T, { x, V: (dy as Tensor).expandDims(0) }, { geom }).squeeze([0]) };
  },
});

registerGradient({
  kernelName: MAX_POOL_JAC_T,
  inputsToSave: ['x'],
  gradFunc: (dy, saved, attrs) => {
    const [x] = saved;
    const { geom } = attrs as unknown as WindowAttrs;
    const g = dy as Tensor; // [v, B, C, *in]
    const [v, B, C] = g.shape;
    return {
      x: () => tf.zerosLike(x),
      V: () => run(MAX_POOL_JVP, { x: tf.tile(x, [v, 1, ...x.shape.slice(2).map(() => 1)]), V: g.reshape([v * B, C, ...g.shape.slice(3)]) }, { geom }).reshape([v, B, C, ...geom.outSize]),
    };
  },
});

registerGradient({
  kernelName: MAX_POOL_JVP,
  inputsToSave: ['x'],
  gradFunc: (dy, saved, attrs) => {
    const [x] = saved;
    const { geom } = attrs as unknown as WindowAttrs;
    return { x: () => tf.zerosLike(x), V: () => run(MAX_POOL_JAC_T, { x, V: (dy as Tensor).expandDims(0) }, { geom }).squeeze([0]) };
  },
});
