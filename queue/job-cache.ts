/**
 * A worker's view of the jobs it serves: each job's checked descriptor, model spec and weights,
 * loaded once per job (not per shard) and kept for the few most recent jobs. Loading runs the
 * checks `submit` ran — descriptor (descriptor.ts), the worker's path policy, the weights against
 * the model, the per-sample tensors' shapes against the model and the descriptor's N — because a
 * record in Redis may never have been through `submit`. Per-sample tensors are read per shard:
 * from Redis only the chunks that hold the shard's rows; from a path, the file once per job.
 */
import { checkVectors } from '../src/api/vectors.ts';
import { sliceRows } from '../src/core/inputs.ts';
import type { HostTensor } from '../src/io/host-tensor.ts';
import type { Unsupported } from '../src/extensions/support.ts';
import { QueueRecordError } from '../src/errors/queue-errors.ts';
import { checkNoExtraWeights } from '../src/nn/extra-weights.ts';
import { buildNetwork, disposeNetwork } from '../src/nn/network.ts';
import type { ModelSpec } from '../src/nn/spec.ts';
import type { ExtensionName } from '../src/vocabulary.ts';
import type { QueueContext } from './context.ts';
import { readDataTensor, readDataTensorMap } from './data-files.ts';
import { readDescriptor, TENSOR_NAMES, type CheckedDescriptor, type JobDescriptor, type TensorLocation } from './descriptor.ts';
import { checkSampleShapes } from './job-checks.ts';
import type { PathPolicy } from './path-policy.ts';
import { getTensorRows, getTensors, tensorInfo } from './tensor-store.ts';

export interface LoadedJob {
  desc: JobDescriptor;
  spec: ModelSpec;
  extensions: ExtensionName[];
  /** --skip-unsupported: the (layer, quantity) pairs left out, checked against the records (descriptor.ts). */
  skipped?: Unsupported[];
  weights: Map<string, HostTensor>;
  vectors?: Map<string, HostTensor>;
  /** Rows [start, start + count) of the dataset's inputs or targets. */
  rows(name: 'inputs' | 'targets', start: number, count: number): Promise<HostTensor>;
}

type PerSample = { shape: number[] } & ({ kind: 'redis'; key: string } | { kind: 'file'; tensor: HostTensor });

/** Least-recently-used map of promises; a rejected load is not kept (the next shard loads again). */
class Recent<T> {
  private items = new Map<string, Promise<T>>();
  constructor(private capacity: number) {}
  get(id: string, load: () => Promise<T>): Promise<T> {
    let p = this.items.get(id);
    if (p) this.items.delete(id);
    else {
      p = load();
      p.catch(() => this.items.delete(id));
    }
    this.items.set(id, p);
    while (this.items.size > this.capacity) this.items.delete(this.items.keys().next().value as string);
    return p;
  }
  delete(id: string): void {
    this.items.delete(id);
  }
}

export class JobCache {
  private descs: Recent<CheckedDescriptor>;
  private jobs: Recent<LoadedJob>;
  constructor(private ctx: QueueContext, private policy: PathPolicy, capacity = 4) {
    this.descs = new Recent(capacity);
    this.jobs = new Recent(capacity);
  }

  /** The job's descriptor, checked, including this worker's path policy for its paths and output.dir. */
  descriptor(jobId: string): Promise<CheckedDescriptor> {
    return this.descs.get(jobId, async () => {
      const checked = await readDescriptor(this.ctx, jobId);
      const { desc } = checked;
      for (const name of TENSOR_NAMES) {
        const loc = desc.tensors[name];
        if (loc?.kind === 'path') this.policy.checkData(loc.path, `job ${jobId}: tensors.${name}`);
      }
      if (desc.output.dir) this.policy.checkOutput(desc.output.dir, `job ${jobId}: output.dir`);
      return checked;
    });
  }

  get(jobId: string): Promise<LoadedJob> {
    return this.jobs.get(jobId, () => this.load(jobId));
  }

  forget(jobId: string): void {
    this.jobs.delete(jobId);
    this.descs.delete(jobId);
  }

  private async load(jobId: string): Promise<LoadedJob> {
    const { desc, spec, extensions, skipped } = await this.descriptor(jobId);
    const label = `job ${jobId}`;
    const map = (loc: TensorLocation, name: string) =>
      loc.kind === 'path' ? readDataTensorMap(this.policy, loc.path, `${label}: tensors.${name}`) : getTensors(this.ctx.redis, loc.key);
    const perSample = async (name: 'inputs' | 'targets'): Promise<PerSample> => {
      const loc = desc.tensors[name];
      if (loc.kind === 'redis') return { kind: 'redis', key: loc.key, shape: (await tensorInfo(this.ctx.redis, loc.key)).shape };
      const tensor = await readDataTensor(this.policy, loc.path, `${label}: tensors.${name}`);
      return { kind: 'file', tensor, shape: tensor.shape };
    };
    const weights = await map(desc.tensors.weights, 'weights');
    const inputs = await perSample('inputs');
    const targets = await perSample('targets');
    const where = (name: 'inputs' | 'targets' | 'vectors') => {
      const loc = desc.tensors[name];
      return loc?.kind === 'path' ? loc.path : `${label}: uploaded ${name}`;
    };
    // The checks submit ran: the weights fit the model, the samples fit the model and the plan.
    if (desc.tensors.weights.kind === 'path') checkNoExtraWeights(spec, weights.keys(), desc.tensors.weights.path, desc.allowExtraWeights, 'options.allowExtraWeights');
    const net = buildNetwork(spec, weights);
    let vectors: Map<string, HostTensor> | undefined;
    try {
      const N = checkSampleShapes(net.inputShape, inputs, targets, { inputs: where('inputs'), targets: where('targets') });
      if (N !== desc.N) throw new QueueRecordError(`${label}: the descriptor says N=${desc.N}, its inputs hold ${N} samples`);
      if (desc.tensors.vectors) vectors = checkVectors(await map(desc.tensors.vectors, 'vectors'), net.paramShapes, where('vectors'));
    } finally {
      disposeNetwork(net);
    }
    const rows = async (name: 'inputs' | 'targets', start: number, count: number): Promise<HostTensor> => {
      const t = name === 'inputs' ? inputs : targets;
      if (start < 0 || count < 1 || start + count > desc.N) throw new QueueRecordError(`${label}: rows [${start}, ${start + count}) of ${name} are outside its ${desc.N} samples`);
      return t.kind === 'redis' ? getTensorRows(this.ctx.redis, t.key, start, count) : sliceRows(t.tensor, start, count);
    };
    return { desc, spec, extensions, skipped, weights, vectors, rows };
  }
}
