/** KFAC (`kfac`): Kronecker factors with B from the Monte-Carlo loss-Hessian factor (Martens & Grosse 2015). */
import { kroneckerQuantity } from '../shared/kronecker.ts';

export const kfac = kroneckerQuantity('KFAC', 'sqrtMC');
