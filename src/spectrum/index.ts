/** Curvature spectra and traces over a data set (docs/spectrum.md): the library's exports. */
export { curvatureOperator, parameterLayout, DEFAULT_SHARD_SIZE, type CurvatureOperator, type CurvatureOperatorOptions } from './curvature-operator.ts';
export { datasetData, tensorData, type SpectrumData } from './data.ts';
export { densityMoment, spectralDensity, type DensityOptions, type DensityResult } from './density.ts';
export { extremeEigenvalues, type EigenOptions, type EigenResult, type RitzPair } from './eigenvalues.ts';
export { CountingOperator, denseOperator, type SymmetricOperator } from './operator.ts';
export type { SpectrumProgress } from './progress.ts';
export { runSpectrum, TRACE_METHODS, type SpectrumPlan, type SpectrumResults, type TraceMethod } from './run-spectrum.ts';
export { exactTrace, hutchinson, hutchpp, type TraceEstimate, type TraceOptions } from './trace.ts';
