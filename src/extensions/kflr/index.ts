/** KFLR (`kflr`): Kronecker factors with B from the exact loss-Hessian factor (Botev et al. 2017). */
import { kroneckerQuantity } from '../shared/kronecker.ts';

export const kflr = kroneckerQuantity('KFLR', 'sqrtExact');
