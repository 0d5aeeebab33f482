/**
 * BackPACK timings measured on another day, shown only where `--compare-backpack` did not time
 * BackPACK in the same run (ratios against them are indicative: the machines are shared and drift).
 *
 * From ../shared/backpack-reference/README.md: our own 2-core AMD EPYC machines (AVX-512), BackPACK
 * master on PyTorch 2.13.0+cpu (MKL + oneDNN) with jemalloc, one thread, N = 128, median ms of 3
 * after 2 warm-ups, 2026-12-01 — what ../shared/anchors.md says to beat.
 */
export const ANCHOR_SOURCE = 'BackPACK master on PyTorch 2.13 CPU, jemalloc, 1 thread, N=128, on a 2-core EPYC machine, 2026-12-01 (shared/backpack-reference/README.md; not this run)';

export const BACKPACK_REF_1T_N128: Record<string, Record<string, number>> = {
  mlp_mnist: {
    grad: 2.2, BatchGrad: 7.4, BatchL2Grad: 2.5, SumGradSquared: 3.2, Variance: 4.6,
    DiagGGNExact: 5.8, DiagGGNMC: 4.0, KFAC: 6.2, KFLR: 13.8, DiagHessian: 6.1,
  },
  '2c2d_fmnist': {
    grad: 101, BatchGrad: 216, BatchL2Grad: 253, SumGradSquared: 190, Variance: 256,
    DiagGGNExact: 808, DiagGGNMC: 234, KFAC: 629, KFLR: 915, DiagHessian: 830,
  },
  '3c3d_cifar10': {
    grad: 143, BatchGrad: 308, BatchL2Grad: 328, SumGradSquared: 340, Variance: 530,
    DiagGGNExact: 1188, DiagGGNMC: 338, KFAC: 529, KFLR: 814, DiagHessian: 1187,
  },
};

/** The reference for one thread (only N = 128 was measured). */
export function anchorFor(problem: string, N: number, quantity: string): number | undefined {
  return N === 128 ? BACKPACK_REF_1T_N128[problem]?.[quantity] : undefined;
}
