/**
 * Job ids. An id becomes part of Redis keys (`<ns>:<id>:desc`) and of BullMQ job ids
 * (`<id>-b0-s3`), so it is checked wherever it enters — submit, every record a worker takes, the
 * status / result / cancel commands — against one fixed alphabet and length: lowercase letters and
 * digits after a leading `j`. No glob characters (`*?[]\`), no `:` (key separator), no `-` (BullMQ
 * child ids), so an id can never widen a key pattern or alias another job's keys.
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { JobIdError } from '../src/errors/queue-errors.ts';

export const JOB_ID_PATTERN = /^j[0-9a-z]{8,40}$/;
export const JOB_ID_RULE = "'j' then 8 to 40 lowercase letters or digits";

/** A new id: the submit time in base 36 (ids sort by age), then 40 random bits. */
export const newJobId = (): string => `j${Date.now().toString(36)}${randomBytes(5).toString('hex')}`;

export const isJobId = (id: unknown): id is string => typeof id === 'string' && JOB_ID_PATTERN.test(id);

/** Throws JobIdError (naming where the id came from, quoting at most 60 characters of it). */
export function checkJobId(id: unknown, where: string): string {
  if (isJobId(id)) return id;
  const shown = typeof id === 'string' ? JSON.stringify(id.slice(0, 60)) : typeof id;
  throw new JobIdError(`${where}: ${shown} is not a job id (${JOB_ID_RULE})`);
}

/** The zod form, for record schemas. */
export const jobIdSchema = z.string().regex(JOB_ID_PATTERN, `not a job id (${JOB_ID_RULE})`);
