/**
 * The library API of backpack-ts (`import { runBatch } from 'backpack-ts'`): the functions the
 * command line is built from (docs/library.md has a worked example).
 *
 * Backends are process-global tfjs state: call `useBackend` once before building a network.
 */
export { useBackend, type BackendOptions } from './backends/select.ts';
export { parseModelSpec, parseModelSpecText, readModelSpec } from './nn/parse-spec.ts';
export type { ModelSpec } from './nn/spec.ts';
export { buildNetwork, disposeNetwork, describeParameters, type Network } from './nn/network.ts';
export { runBatch, releaseResults, type RunOptions, type RunResult } from './api/run.ts';
export { curvatureProducts, type CurvatureProductOptions } from './api/curvature.ts';
export { createPool } from './coordinator/create-pool.ts';
export type { WorkerPool } from './coordinator/pool.ts';
export { runJobOnPool, runJobToFile, type PoolJobOptions, type Progress } from './coordinator/run-job.ts';
export { readTensorFile, readTensorMap, readTensorInfo, writeNpyFile, writeSafetensorsFile, type TensorInfo } from './io/tensor-file.ts';
export { writeResults, RESULTS_FILE, type Summary } from './io/results.ts';
export type { HostTensor, HostDType, HostData } from './io/host-tensor.ts';
export { importTfjsLayersModel, type ImportedModel } from './nn/import/tfjs-layers.ts';
export * from './errors/index.ts';
export { EXTENSION_NAMES, BACKEND_CHOICES, type ExtensionName, type BackendName } from './vocabulary.ts';
export * as sweep from './sweep/index.ts';
export * as report from './report/index.ts';
