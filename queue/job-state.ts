/**
 * Who wins between `cancel` and the job's final reduce. The meta hash's `phase` field moves
 * forward only, each step in one Lua script (atomic in Redis):
 *
 *   (none: queued or running) ─ cancel ─▶ cancelled        (stop record written in the same script)
 *   (none)       ─ final reduce starts ─▶ reducing ─▶ completed   (summary written in the same script)
 *   (none) | reducing ─ a final failure ─▶ failed           (stop record, first reason wins)
 *
 * Cancel succeeds only from (none): once the final reduce has marked `reducing`, cancel reports
 * that it is too late and deletes nothing, so the reduce never meets missing partials; once cancel
 * has won, the reduce refuses to start, so a cancelled job never has a result.
 */
import type { QueueContext } from './context.ts';

export type Phase = 'reducing' | 'completed' | 'cancelled' | 'failed';

/** The stop record lives as long as the job's meta (a day when the meta has no TTL). */
const TTL = `local ttl = redis.call('TTL', KEYS[1])
if ttl <= 0 then ttl = 86400 end`;

/** KEYS: meta, stop. ARGV: stop record, now (ms). */
const CANCEL = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 'missing' end
local phase = redis.call('HGET', KEYS[1], 'phase')
if phase then return phase end
if redis.call('EXISTS', KEYS[2]) == 1 then return 'failed' end
${TTL}
redis.call('HSET', KEYS[1], 'phase', 'cancelled', 'finishedAt', ARGV[2])
redis.call('SET', KEYS[2], ARGV[1], 'EX', ttl)
return 'cancelled'`;

/** KEYS: meta, stop. Returns 'reducing' when the caller may reduce (again, after a retry). */
const BEGIN_REDUCE = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 'missing' end
local phase = redis.call('HGET', KEYS[1], 'phase')
if phase and phase ~= 'reducing' then return phase end
if redis.call('EXISTS', KEYS[2]) == 1 then return 'failed' end
redis.call('HSET', KEYS[1], 'phase', 'reducing')
return 'reducing'`;

/** KEYS: meta, summary. ARGV: summary json, ttl (s), now (ms). */
const COMPLETE = `
if redis.call('HGET', KEYS[1], 'phase') ~= 'reducing' then return redis.call('HGET', KEYS[1], 'phase') or 'missing' end
redis.call('SET', KEYS[2], ARGV[1], 'EX', ARGV[2])
redis.call('HSET', KEYS[1], 'phase', 'completed', 'finishedAt', ARGV[3])
return 'completed'`;

/** KEYS: meta, stop. ARGV: stop record, now (ms). A job that completed or was cancelled stays so. */
const FAIL = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 'missing' end
local phase = redis.call('HGET', KEYS[1], 'phase')
if phase == 'completed' or phase == 'cancelled' or phase == 'failed' then return phase end
${TTL}
redis.call('HSET', KEYS[1], 'phase', 'failed', 'finishedAt', ARGV[2])
redis.call('SET', KEYS[2], ARGV[1], 'EX', ttl, 'NX')
return 'failed'`;

type Outcome<T extends string> = T | Phase | 'missing';

/** 'cancelled' when cancel won; otherwise the phase that won (or 'missing' when the job is gone). */
export async function markCancelled(ctx: QueueContext, jobId: string, stopRecord: string): Promise<Outcome<'cancelled'>> {
  return (await ctx.redis.eval(CANCEL, 2, ctx.keys.meta(jobId), ctx.keys.stop(jobId), stopRecord, Date.now())) as Outcome<'cancelled'>;
}

/** 'reducing' when the final reduce may run; otherwise the phase that won. */
export async function beginFinalReduce(ctx: QueueContext, jobId: string): Promise<Outcome<'reducing'>> {
  return (await ctx.redis.eval(BEGIN_REDUCE, 2, ctx.keys.meta(jobId), ctx.keys.stop(jobId))) as Outcome<'reducing'>;
}

/** Stores the summary and marks the job completed, only if it is still reducing. */
export async function markCompleted(ctx: QueueContext, jobId: string, summaryJson: string, ttlSeconds: number): Promise<Outcome<'completed'>> {
  return (await ctx.redis.eval(COMPLETE, 2, ctx.keys.meta(jobId), ctx.keys.summary(jobId), summaryJson, ttlSeconds, Date.now())) as Outcome<'completed'>;
}

/** Marks a job failed for good with its stop record (first reason wins), unless it completed or was cancelled. */
export async function markFailed(ctx: QueueContext, jobId: string, stopRecord: string): Promise<Outcome<'failed'>> {
  return (await ctx.redis.eval(FAIL, 2, ctx.keys.meta(jobId), ctx.keys.stop(jobId), stopRecord, Date.now())) as Outcome<'failed'>;
}

/** The phase as stored (undefined while queued or running; anything unknown counts as undefined). */
export function phaseOf(value: string | undefined): Phase | undefined {
  return value === 'reducing' || value === 'completed' || value === 'cancelled' || value === 'failed' ? value : undefined;
}
