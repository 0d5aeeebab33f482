/**
 * Puts a job's tensors where the pool's workers can read them without copies: SharedArrayBuffers
 * for threads, files in /dev/shm for processes. Also derives the model key under which workers
 * cache their replica (same spec and weights → same key → no rebuild across jobs).
 */
import { createHash } from 'node:crypto';
import type { HostTensor } from '../io/host-tensor.ts';
import type { ModelSpec } from '../nn/spec.ts';
import type { JobContext, JobSettings } from '../protocol/messages.ts';
import { toShared, type TensorRef } from '../protocol/shared-tensor.ts';
import { SHM_PATTERN, SHM_ROOT, shmDir, writeFileTensor } from '../protocol/shm-transport.ts';
import type { WorkerPool } from './pool.ts';
import { removeStale, temporary } from './temp-files.ts';

export interface JobTensors {
  spec: ModelSpec;
  weights: Map<string, HostTensor>;
  inputs: HostTensor;
  targets: HostTensor;
  vectors?: Map<string, HostTensor>;
}

export function modelKey(spec: ModelSpec, weights: Map<string, HostTensor>): string {
  const h = createHash('sha1').update(JSON.stringify(spec));
  for (const [k, t] of [...weights].sort(([a], [b]) => a.localeCompare(b))) {
    h.update(k).update(JSON.stringify(t.shape)).update(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  }
  return h.digest('hex').slice(0, 16);
}

let jobCounter = 0;
let sweptShm = false;

/** Once per process: shm directories of coordinators and workers that died without cleaning up. */
export function removeStaleShm(): void {
  if (sweptShm) return;
  sweptShm = true;
  removeStale(SHM_ROOT, SHM_PATTERN);
}

/**
 * Returns the context and a cleanup function (removes shm files of a process-pool job; they are
 * also removed if the process is interrupted, and by the next start if it is killed).
 */
export function prepareJob(
  kind: WorkerPool['kind'],
  t: JobTensors,
  s: JobSettings,
  key = modelKey(t.spec, t.weights),
  rows: { N: number; rowOffset: number } = { N: t.inputs.shape[0], rowOffset: 0 },
): { job: JobContext; cleanup: () => void } {
  const jobId = `${process.pid}-${++jobCounter}`;
  let place: (name: string, x: HostTensor) => TensorRef;
  let cleanup = () => {};
  if (kind !== 'processes') {
    place = (_name, x) => toShared(x);
  } else {
    removeStaleShm();
    const dir = shmDir(`job-${jobId}`);
    place = (name, x) => writeFileTensor(dir, name, x);
    cleanup = temporary(dir);
  }
  const mapOf = (m: Map<string, HostTensor>, prefix: string) => Object.fromEntries([...m].map(([k, v]) => [k, place(`${prefix}${k}`, v)]));
  const job: JobContext = {
    jobId,
    backend: s.backend,
    threads: s.threads,
    modelKey: key,
    spec: t.spec,
    weights: mapOf(t.weights, 'w_'),
    inputs: place('inputs', t.inputs),
    targets: place('targets', t.targets),
    N: rows.N,
    rowOffset: rows.rowOffset,
    extensions: s.extensions,
    subsampling: s.subsampling,
    seed: s.seed,
    mcSamples: s.mcSamples,
    vectors: t.vectors ? mapOf(t.vectors, 'v_') : undefined,
    spillDir: s.spillDir,
    skip: s.skip?.length ? s.skip : undefined,
  };
  return { job, cleanup };
}
