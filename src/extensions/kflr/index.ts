/** KFLR (`kflr`): Kronecker factors with B from the exact loss-Hessian factor (Botev et al. 2017). */
import { kroneckerRule } from '../shared/kronecker.ts';

export const kflr = kroneckerRule('KFLR', 'kflr', (p) => p.factors.sqrtExact![0]);
