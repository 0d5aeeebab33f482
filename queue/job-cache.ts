/**
 * A worker's view of the jobs it serves: each job's descriptor, model spec and weights, loaded once
 * per job (not per shard) and kept for the few most recent jobs. Per-sample tensors are read per
 * shard: from Redis only the chunks that hold the shard's rows; from a path, the file once per job.
 */
import { sliceRows } from '../src/core/inputs.ts';
import type { HostTensor } from '../src/io/host-tensor.ts';
import { readTensorFile, readTensorMap } from '../src/io/tensor-file.ts';
import { parseModelSpec } from '../src/nn/parse-spec.ts';
import type { ModelSpec } from '../src/nn/spec.ts';
import { QueueDataError } from '../src/errors/queue-errors.ts';
import { parseExtensionList } from '../src/extensions/index.ts';
import type { ExtensionName } from '../src/vocabulary.ts';
import type { QueueContext } from './context.ts';
import type { JobDescriptor, TensorLocation } from './job-schema.ts';
import { getTensorRows, getTensors } from './tensor-store.ts';

export interface LoadedJob {
  desc: JobDescriptor;
  spec: ModelSpec;
  extensions: ExtensionName[];
  weights: Map<string, HostTensor>;
  vectors?: Map<string, HostTensor>;
  /** Rows [start, start + count) of the dataset's inputs or targets. */
  rows(name: 'inputs' | 'targets', start: number, count: number): Promise<HostTensor>;
}

export async function readDescriptor(ctx: QueueContext, jobId: string): Promise<JobDescriptor> {
  const json = await ctx.redis.get(ctx.keys.desc(jobId));
  if (json === null) throw new QueueDataError(`job ${jobId}: its descriptor is gone from Redis (expired TTL, or the job was removed)`);
  return JSON.parse(json) as JobDescriptor;
}

export class JobCache {
  private jobs = new Map<string, Promise<LoadedJob>>();
  constructor(private ctx: QueueContext, private capacity = 4) {}

  get(jobId: string): Promise<LoadedJob> {
    let p = this.jobs.get(jobId);
    if (!p) {
      p = this.load(jobId);
      // A failed load is not cached: the next shard (or retry) loads again.
      p.catch(() => this.jobs.delete(jobId));
      this.jobs.set(jobId, p);
      while (this.jobs.size > this.capacity) this.jobs.delete(this.jobs.keys().next().value as string);
    } else {
      // Most recently used last.
      this.jobs.delete(jobId);
      this.jobs.set(jobId, p);
    }
    return p;
  }

  forget(jobId: string): void {
    this.jobs.delete(jobId);
  }

  private async load(jobId: string): Promise<LoadedJob> {
    const desc = await readDescriptor(this.ctx, jobId);
    const spec = parseModelSpec(desc.spec, `job ${jobId}: model`);
    const map = async (loc: TensorLocation) => (loc.kind === 'path' ? readTensorMap(loc.path) : getTensors(this.ctx.redis, loc.key));
    const weights = await map(desc.tensors.weights);
    const vectors = desc.tensors.vectors ? await map(desc.tensors.vectors) : undefined;
    const files = new Map<string, Promise<HostTensor>>();
    const rows = async (name: 'inputs' | 'targets', start: number, count: number): Promise<HostTensor> => {
      const loc = desc.tensors[name];
      if (loc.kind === 'redis') return getTensorRows(this.ctx.redis, loc.key, start, count);
      let file = files.get(name);
      if (!file) {
        file = readTensorFile(loc.path);
        files.set(name, file);
      }
      return sliceRows(await file, start, count);
    };
    return { desc, spec, extensions: parseExtensionList(desc.extensions), weights, vectors, rows };
  }
}
