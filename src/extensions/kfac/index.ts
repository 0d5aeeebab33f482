/** KFAC (`kfac`): Kronecker factors with B from the Monte-Carlo loss-Hessian factor (Martens & Grosse 2015). */
import { kroneckerRule } from '../shared/kronecker.ts';

export const kfac = kroneckerRule('KFAC', 'kfac', (p) => p.factors.sqrtMC![0]);
