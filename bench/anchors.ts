/**
 * BackPACK's timings from ../shared/anchors.md (release 1.7.1+, PyTorch 2.11, float32; median ms of
 * one forward + backward with the extension active; 3 runs on CPU). Only the rows we compare
 * against on our CPU machines: "CPU, 1 thread", N = 128.
 */
export const ANCHOR_SOURCE = 'BackPACK 1.7.1+ on PyTorch 2.11, CPU 1 thread, N=128 (shared/anchors.md, 16-core H100 host)';

export const BACKPACK_CPU1_N128: Record<string, Record<string, number>> = {
  mlp_mnist: {
    grad: 2.9, BatchGrad: 87.1, BatchL2Grad: 4.1, SumGradSquared: 4.7, Variance: 7.2,
    DiagGGNExact: 22.6, DiagGGNMC: 9.1, KFAC: 10.3, KFLR: 14.3, DiagHessian: 6.4,
  },
  '2c2d_fmnist': {
    grad: 194, BatchGrad: 1596, BatchL2Grad: 354, SumGradSquared: 432, Variance: 594,
    DiagGGNExact: 1529, DiagGGNMC: 437, KFAC: 859, KFLR: 1351, DiagHessian: 1387,
  },
  '3c3d_cifar10': {
    grad: 231, BatchGrad: 1121, BatchL2Grad: 350, SumGradSquared: 1112, Variance: 1942,
    DiagGGNExact: 2640, DiagGGNMC: 575, KFAC: 736, KFLR: 1589, DiagHessian: 2478,
  },
};

export function anchorFor(problem: string, N: number, quantity: string): number | undefined {
  return N === 128 ? BACKPACK_CPU1_N128[problem]?.[quantity] : undefined;
}
