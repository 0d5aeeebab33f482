/**
 * The first thing a worker does with a BullMQ job: check the record itself. Its payload against
 * the schema (queueJobDataSchema), its BullMQ id against the id its payload implies (a shard of job
 * J in batch b, shard s is `J-b<b>-s<s>`, nothing else), and — once the job's descriptor is
 * loaded — its place in the job's plan (an existing batch and shard, with the plan's offset and
 * count). A record that fails any of these is refused alone (RecordRejected in failure.ts).
 */
import type { Job } from 'bullmq';
import { QueueRecordError } from '../src/errors/queue-errors.ts';
import type { JobDescriptor } from './descriptor.ts';
import { queueJobDataSchema, type QueueJobData } from './job-schema.ts';
import { batchJobId, productsJobId, shardJobId } from './keys.ts';
import { parseRecord } from './record.ts';

const expectedId = (d: QueueJobData): string => {
  if (d.kind === 'shard') return shardJobId(d.jobId, d.batch, d.shard);
  if (d.kind === 'products') return productsJobId(d.jobId, d.pass, d.shard);
  if (d.kind === 'reduce' && !d.root) return batchJobId(d.jobId, d.batch);
  return d.jobId;
};

/** The payload, checked, and the BullMQ id it implies. */
export function checkJobRecord(job: Job): QueueJobData {
  const what = `queue job ${String(job.id).slice(0, 80)}`;
  const d = parseRecord(queueJobDataSchema, job.data, `${what}: data`);
  if (job.name !== d.kind) throw new QueueRecordError(`${what}: named '${String(job.name).slice(0, 40)}' but its data is a ${d.kind}`);
  if (job.id !== expectedId(d)) throw new QueueRecordError(`${what}: a ${d.kind} of job ${d.jobId} has the id ${expectedId(d)}`);
  return d;
}

/** The record has a place in the job's plan (an existing batch and shard, the same samples). */
export function checkInPlan(desc: JobDescriptor, d: QueueJobData): void {
  const what = `queue job ${expectedId(d)}`;
  if ((d.kind === 'products') !== Boolean(desc.products)) {
    throw new QueueRecordError(`${what}: a ${d.kind} record for ${desc.products ? 'a products session' : 'a job of quantities'}`);
  }
  if (d.kind === 'products') {
    const s = desc.batches[0].shards[d.shard];
    if (!s) throw new QueueRecordError(`${what}: shard ${d.shard} is not in the session's ${desc.batches[0].shards.length} shards`);
    if (s.offset !== d.offset || s.count !== d.count) throw new QueueRecordError(`${what}: samples ${d.offset}+${d.count}, the plan has ${s.offset}+${s.count}`);
    return;
  }
  const several = desc.batches.length > 1;
  if (d.kind === 'collect') {
    if (!several) throw new QueueRecordError(`${what}: a collect job for a job of one batch`);
    return;
  }
  const b = desc.batches[d.batch];
  if (!b) throw new QueueRecordError(`${what}: batch ${d.batch} is not in the job's plan of ${desc.batches.length} batches`);
  if (d.kind === 'reduce') {
    if (d.root === several) throw new QueueRecordError(`${what}: root=${d.root}, but the job has ${desc.batches.length} batches`);
    return;
  }
  const s = b.shards[d.shard];
  if (!s) throw new QueueRecordError(`${what}: shard ${d.shard} is not in batch ${d.batch}'s ${b.shards.length} shards`);
  if (s.offset !== d.offset || s.count !== d.count) {
    throw new QueueRecordError(`${what}: samples ${d.offset}+${d.count}, the plan has ${s.offset}+${s.count}`);
  }
}
