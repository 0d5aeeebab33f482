/**
 * A Linear layer's per-sample weight gradients and their sum in one pass (src/core/ops/kernel-names.ts,
 * OUTER_PRODUCTS; native/src/kernels/outer.h).
 */
import type { KernelConfig } from '@tensorflow/tfjs-core';
import { OUTER_PRODUCTS } from '../../../core/ops/kernel-names.ts';
import { params } from '../params.ts';
import { kernel, sizeOf } from './util.ts';

export const outerKernels: KernelConfig[] = [
  kernel(OUTER_PRODUCTS, ({ inputs, backend }) => {
    const { V, x } = inputs;
    const [v, n, O] = V.shape;
    const I = x.shape[1];
    if (V.shape.length !== 3 || x.shape.length !== 2 || x.shape[0] !== n) {
      throw new Error(`${OUTER_PRODUCTS}: V [v, n, O] and x [n, I] expected, got [${V.shape.join(', ')}] and [${x.shape.join(', ')}]`);
    }
    const rows = backend.makeOutput([v, n, O, I], 'float32');
    const sum = backend.makeOutput([v, O, I], 'float32');
    if (sizeOf(rows.shape) > 0 || sizeOf(sum.shape) > 0) {
      backend.addon.outerProducts(params.begin().push(v, n, O, I, backend.handle(V), backend.handle(x), backend.handle(rows), backend.handle(sum)).block);
    }
    return [rows, sum];
  }),
];
