/** Progress events of the spectrum methods (the CLI draws them; library callers may log them). */
export interface SpectrumProgress {
  method: 'lanczos' | 'slq' | 'hutchinson' | 'hutchpp' | 'exact-trace';
  /** Steps (Lanczos), probe batches (traces) done so far, and the most there will be. */
  step: number;
  maxSteps: number;
  /** Matrix-vector products computed so far by this method. */
  products: number;
  /** Lanczos: the largest relative Ritz residual of the wanted eigenvalues (∞ before there are k). */
  residual?: number;
}

export type OnSpectrumProgress = (p: SpectrumProgress) => void;
