/** GGNMP (`ggnmp`): products of the exact GGN's parameter block with given vectors, [V, *θ]. */
import { numel } from '../../io/host-tensor.ts';
import { fromSum } from '../../reduce/finalizers.ts';
import { SAVEFIELDS } from '../../vocabulary.ts';
import { blockProduct } from '../shared/curvature-products.ts';
import type { Quantity } from '../types.ts';

const field = SAVEFIELDS.GGNMP;

export const ggnmp: Quantity = {
  name: 'GGNMP',
  savefield: field,
  backprops: ['sqrtExact'],
  rule: (p) => [{ field, kind: 'sum', value: blockProduct(p, p.factors.sqrtExact!, 'GGNMP') }],
  finalize: fromSum(field),
  combines: 'sum',
  outputElements: (theta, s) => s.vectors * numel(theta),
  work: { factor: 'sqrtExact', always: true },
};
