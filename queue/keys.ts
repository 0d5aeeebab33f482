/**
 * Redis keys of queue mode, all under the queue's BullMQ namespace `<prefix>:<queue>:bp:`, so
 * obliterating a queue (or a test deleting its random prefix) removes them too. Per job:
 *   <ns>:<id>:desc            the job descriptor (JSON)
 *   <ns>:<id>:meta            hash: totals, progress counters, timestamps
 *   <ns>:<id>:done            set of finished shards "<batch>:<shard>" (progress counted once)
 *   <ns>:<id>:stop            set when the job is cancelled or failed for good: shards stop
 *   <ns>:<id>:t:<name>        an uploaded tensor (header; chunks under <key>:<token>:<i>)
 *   <ns>:<id>:p:<batch>:<s>   a shard's merged partials (header written last, NX: first delivery wins);
 *                             in a products session: pass <batch>'s float64 sums of shard <s>
 *   <ns>:<id>:r:<batch>       a batch's results.safetensors bytes
 *   <ns>:<id>:summary         the job's summary.json
 *   <ns>:<id>:blobs           set of every blob key (header and chunks) written for the job: data is
 *                             deleted key by key from here, never by a pattern (job-data.ts)
 * and <ns>:jobs, a sorted set of job ids by submit time (for `status` without an id).
 * The meta hash's `phase` field (job-state.ts) says who won between cancel and the final reduce.
 *
 * Every method checks its id (job-id.ts): a key is only ever built from a valid id.
 */
import type { ConnectionSettings } from './connection.ts';
import { checkJobId } from './job-id.ts';

export class QueueKeys {
  readonly ns: string;
  constructor(s: Pick<ConnectionSettings, 'prefix' | 'queue'>) {
    this.ns = `${s.prefix}:${s.queue}:bp`;
  }
  jobs(): string {
    return `${this.ns}:jobs`;
  }
  job(id: string): string {
    return `${this.ns}:${checkJobId(id, 'job key')}`;
  }
  desc(id: string): string {
    return `${this.job(id)}:desc`;
  }
  meta(id: string): string {
    return `${this.job(id)}:meta`;
  }
  done(id: string): string {
    return `${this.job(id)}:done`;
  }
  stop(id: string): string {
    return `${this.job(id)}:stop`;
  }
  tensor(id: string, name: string): string {
    return `${this.job(id)}:t:${name}`;
  }
  partial(id: string, batch: number, shard: number): string {
    return `${this.job(id)}:p:${batch}:${shard}`;
  }
  result(id: string, batch: number): string {
    return `${this.job(id)}:r:${batch}`;
  }
  summary(id: string): string {
    return `${this.job(id)}:summary`;
  }
  blobs(id: string): string {
    return `${this.job(id)}:blobs`;
  }
}

/** A literal for SCAN MATCH: glob characters escaped, so a prefix matches only itself. */
export const escapeGlob = (literal: string) => literal.replace(/[*?[\]\\]/g, (c) => `\\${c}`);

/** BullMQ job ids of a job's nodes: the root carries the job id itself. */
export const batchJobId = (id: string, batch: number) => `${id}-b${batch}`;
export const shardJobId = (id: string, batch: number, shard: number) => `${id}-b${batch}-s${shard}`;
/** A products session's shard of one pass; its vectors are the session's tensor `passVectors(pass)`, its sums partial (pass, shard). */
export const productsJobId = (id: string, pass: number, shard: number) => `${id}-p${pass}-s${shard}`;
export const passVectors = (pass: number) => `vectors-${pass}`;
