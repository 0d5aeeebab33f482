/** KFAC (`kfac`): Kronecker factors with B from the Monte-Carlo loss-Hessian factor (Martens & Grosse 2015). */
import { kroneckerRule, kroneckerTable } from '../shared/kronecker.ts';

export const kfac = kroneckerTable('KFAC', kroneckerRule('kfac', (p) => p.factors.sqrtMC![0]));
