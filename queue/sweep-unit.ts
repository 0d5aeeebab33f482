/**
 * Sweep units on the queue (`backpack-ts sweep SWEEP.json --queue`): a unit's pass — the same
 * batches, in the same order, as the local sweep reads — is held in memory, written to the output
 * directory's .queue-data/<unit>/ and submitted as queue jobs for `backpack-ts worker`s: a per-batch
 * job (modes batches/both: one result per mini-batch) and an accumulating job (accumulate/both: one
 * queue shard per batch, ρ from the pass's N). The results come back from Redis and become the
 * unit's rows and tensors exactly as computeUnit makes them (src/sweep/compute.ts: unitOutput).
 *
 * Resuming: each submitted job id is recorded in OUT/queue-jobs.json before anything waits on it. A
 * sweep started again with the same OUT finds the units already committed (progress.jsonl) and,
 * for the unit in flight, its job in Redis: still running → waits for it; completed → takes its
 * results; failed, cancelled or gone → submits it again.
 *
 * Bytes: with options.shardSize set and queue workers of one local worker each (`worker
 * --workers 1`), every queue shard is one shard of the local sweep's plan and partials merge in
 * shard order on both sides, so rows and tensors are byte-identical to the local sweep with
 * `--workers 1`. (More local workers per queue worker split each queue shard further.)
 */
import { mkdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { log } from '../src/cli/log.ts';
import type { Dataset } from '../src/data/dataset.ts';
import { writeFileAtomic } from '../src/io/atomic-write.ts';
import type { HostTensor } from '../src/io/host-tensor.ts';
import { parseSafetensors } from '../src/io/safetensors.ts';
import { writeNpyFile } from '../src/io/tensor-file.ts';
import { holdAll } from '../src/spectrum/data.ts';
import { checkRowBytes, unitOutput, unitPass, type UnitEnv, type UnitOutput, type UnitResults } from '../src/sweep/compute.ts';
import type { SweepUnit } from '../src/sweep/plan.ts';
import type { UnitRunner } from '../src/sweep/run-sweep.ts';
import type { SweepSpec } from '../src/sweep/spec.ts';
import { JobNotFoundError } from '../src/errors/queue-errors.ts';
import type { QueueContext } from './context.ts';
import { deleteWholeJob } from './job-data.ts';
import { isJobId } from './job-id.ts';
import { parseJobFile } from './job-schema.ts';
import { readJobResults } from './result.ts';
import { jobStatus, waitForJob } from './status.ts';
import { DEFAULT_SHARD_SIZE, submitJob } from './submit.ts';

export const QUEUE_JOBS_FILE = 'queue-jobs.json';
const DATA_DIR = '.queue-data';
type Kind = 'batches' | 'accumulate';
type JobIds = Record<string, Partial<Record<Kind, string>>>;

async function readJobIds(out: string): Promise<JobIds> {
  let text: string;
  try {
    text = await readFile(path.join(out, QUEUE_JOBS_FILE), 'utf8');
  } catch {
    return {};
  }
  try {
    const raw = JSON.parse(text) as unknown;
    // Only well-formed ids are kept: anything else is resubmitted rather than trusted.
    const out: JobIds = {};
    if (raw && typeof raw === 'object') {
      for (const [unit, ids] of Object.entries(raw as Record<string, Record<string, unknown>>)) {
        out[unit] = {};
        for (const kind of ['batches', 'accumulate'] as const) if (isJobId(ids?.[kind])) out[unit][kind] = ids[kind] as string;
      }
    }
    return out;
  } catch {
    log.warn(`${QUEUE_JOBS_FILE} in ${out} is not valid JSON; its jobs are submitted again`);
    return {};
  }
}

/** The pass's samples in memory, read exactly as computeUnit reads them. */
async function readPass(unit: SweepUnit, ds: Dataset, env: UnitEnv, batches: number, N: number): Promise<{ inputs: HostTensor; targets: HostTensor }> {
  const o = env.options;
  const parts = { N, batchSize: unit.batchSize, async *batches() {
    let k = 0;
    for await (const b of ds.batches({ batchSize: unit.batchSize, shuffle: o.shuffle, seed: o.seed, dropLast: o.dropLast })) {
      if (k >= batches) break;
      yield { inputs: b.inputs, targets: b.targets, offset: k * unit.batchSize };
      k++;
    }
  } };
  return holdAll(parts);
}

export function queueUnitRunner(ctx: QueueContext, spec: SweepSpec, out: string): UnitRunner {
  const ttlSeconds = spec.queue?.ttlSeconds ?? 7 * 24 * 3600;
  return {
    plan: `queue shards of ${DEFAULT_SHARD_SIZE}`,
    async compute(unit: SweepUnit, ds: Dataset, env: UnitEnv): Promise<UnitOutput> {
      const o = env.options;
      const { batches, N } = unitPass(unit, ds, o);
      if (o.mode !== 'batches') checkRowBytes(env, N, unit.id);
      const kinds: Kind[] = o.mode === 'batches' ? ['batches'] : o.mode === 'accumulate' ? ['accumulate'] : ['batches', 'accumulate'];
      const dataDir = path.join(out, DATA_DIR, unit.id);
      const files = { inputs: path.join(dataDir, 'inputs.npy'), targets: path.join(dataDir, 'targets.npy') };
      let written = false;
      const submit = async (kind: Kind): Promise<string> => {
        if (!written) {
          const pass = await readPass(unit, ds, env, batches, N);
          await mkdir(dataDir, { recursive: true });
          await writeNpyFile(files.inputs, pass.inputs);
          await writeNpyFile(files.targets, pass.targets);
          written = true;
        }
        const job = parseJobFile({
          name: `sweep ${unit.id} (${kind})`, model: env.net.spec as unknown as Record<string, unknown>, weights: unit.checkpoint.path, ...files,
          extensions: env.quantities,
          options: {
            backend: env.backend, seed: o.seed, mcSamples: o.mcSamples, batchSize: unit.batchSize, accumulate: kind === 'accumulate',
            skipUnsupported: o.skipUnsupported,
            // Accumulating: one queue shard per batch, as the local accumulation merges per batch first.
            shardSize: kind === 'accumulate' ? unit.batchSize : o.shardSize,
          },
          tensors: 'upload', output: { redis: true }, ttlSeconds,
        }, `sweep unit ${unit.id}`, out);
        const s = await submitJob(ctx, job, { warnSkipped: false });
        const ids = await readJobIds(out);
        ids[unit.id] = { ...ids[unit.id], [kind]: s.jobId };
        await writeFileAtomic(path.join(out, QUEUE_JOBS_FILE), `${JSON.stringify(ids, null, 2)}\n`);
        log.info(`${unit.id}: submitted ${kind} job ${s.jobId} (${s.shards} shards)`);
        return s.jobId;
      };
      /** The recorded job if Redis still has it alive or done; otherwise a new one. */
      const jobFor = async (kind: Kind): Promise<string> => {
        const recorded = (await readJobIds(out))[unit.id]?.[kind];
        if (recorded) {
          try {
            const s = await jobStatus(ctx, recorded);
            if (s.state !== 'failed' && s.state !== 'cancelled' && s.state !== 'unknown') {
              log.info(`${unit.id}: resuming ${kind} job ${recorded} (${s.state})`);
              return recorded;
            }
            log.info(`${unit.id}: ${kind} job ${recorded} is ${s.state}; submitting it again`);
          } catch (e) {
            if (!(e instanceof JobNotFoundError)) throw e;
            log.info(`${unit.id}: ${kind} job ${recorded} is gone from Redis; submitting it again`);
          }
        }
        return submit(kind);
      };
      const ids = new Map<Kind, string>();
      for (const kind of kinds) ids.set(kind, await jobFor(kind));
      const r: UnitResults = { perBatch: [], accumulated: null };
      for (const kind of kinds) {
        const jobId = ids.get(kind)!;
        await waitForJob(ctx, jobId);
        const res = await readJobResults(ctx, jobId);
        const tensorsOf = (bytes: Uint8Array) => parseSafetensors(bytes, `job ${jobId} results`).tensors;
        if (kind === 'accumulate') {
          r.accumulated = { loss: res.batches[0].summary.loss ?? NaN, results: tensorsOf(res.batches[0].bytes) };
        } else {
          for (const [k, b] of res.batches.entries()) r.perBatch.push({ k, start: k * unit.batchSize, result: { N: b.summary.N, loss: b.summary.loss ?? NaN, results: tensorsOf(b.bytes) } });
        }
      }
      // The results are in memory: the unit's jobs and data files have done their work.
      for (const jobId of ids.values()) await deleteWholeJob(ctx, jobId);
      await rm(dataDir, { recursive: true, force: true });
      return unitOutput(unit, env, r, batches, N);
    },
  };
}
