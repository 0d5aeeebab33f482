/**
 * Parsing of numeric, size and list options, with errors that name the option. Only plain decimal
 * digits are integers here: Number() would also take '1e300', '0x10', ' 7' or '1.0', and a value
 * that parses must also be in range (a shard size of 1e300, a timer past setTimeout's 2^31−1 ms,
 * a seed beyond the 32 bits the random streams use).
 */
import { UsageError } from '../errors/index.ts';
import { EXTENSION_NAMES } from '../vocabulary.ts';

export const INT32_MAX = 2 ** 31 - 1;
/** setTimeout's largest delay: a longer one fires at once (with only a warning). */
export const MAX_TIMER_MS = INT32_MAX;
/** Seeds are mixed as 32-bit integers (core/random.ts): larger ones would repeat smaller ones. */
export const MAX_SEED = 2 ** 32 - 1;
/** Local workers per command: each one holds a backend and a model replica. */
export const MAX_WORKERS = 128;

/** `--skip-unsupported`, worded once for `run`, `submit` and `sweep`. */
export const SKIP_UNSUPPORTED_HELP = 'compute each quantity for every layer that supports it; list the layers skipped (stderr, summary.json "skipped") instead of refusing the job';

function integer(option: string, value: string, min: number, max: number, kind: string): number {
  if (!/^\d+$/.test(value)) throw new UsageError(`${option} must be ${kind}, got '${value}'`);
  const n = Number(value);
  if (n < min) throw new UsageError(`${option} must be ${kind}, got '${value}'`);
  if (n > max) throw new UsageError(`${option} must be at most ${max}, got '${value}'`);
  return n;
}

export function positiveInt(option: string, max = INT32_MAX) {
  return (value: string): number => integer(option, value, 1, max, 'a positive integer');
}

export function nonNegativeInt(option: string, max = INT32_MAX) {
  return (value: string): number => integer(option, value, 0, max, 'a non-negative integer');
}

/** A non-empty comma-separated list of non-negative integers ("0,5,7"). */
export function intList(option: string, max = INT32_MAX) {
  return (value: string): number[] => {
    const items = value.split(',').map((s) => s.trim());
    if (items.every((s) => s === '')) throw new UsageError(`${option} must list at least one index, got '${value}'`);
    return items.map((s) => integer(option, s, 0, max, 'a comma-separated list of non-negative integers'));
  };
}

const SCALE = { '': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 } as const;

/** A size like "512M", "2G", "1.5GiB" or plain bytes; at least `min` bytes, at most `max`. */
export function memorySize(option: string, max = 2 ** 50, min = 1) {
  return (value: string): number => {
    const m = /^(\d+(?:\.\d+)?)\s*([kKmMgGtT]?)(i?[bB])?$/.exec(value.trim());
    if (!m) throw new UsageError(`${option} must be a size like 512M or 2G, got '${value}'`);
    const bytes = Math.floor(Number(m[1]) * SCALE[m[2].toLowerCase() as keyof typeof SCALE]);
    if (bytes < min) throw new UsageError(`${option} must be at least ${min} byte${min === 1 ? '' : 's'}, got '${value}'`);
    if (bytes > max) throw new UsageError(`${option} must be at most ${max} bytes, got '${value}'`);
    return bytes;
  };
}

/** What --extensions takes, for the error when it is given without a value. */
export const EXTENSIONS_HINT =
  `--extensions needs a comma-separated list of quantity names, e.g. --extensions BatchGrad,Variance (any of ${EXTENSION_NAMES.join(', ')}); leave the option out to compute the gradient alone`;

/**
 * --extensions' value. NOTE: commander hands a required option the next argument even when that is
 * another option (`--extensions --out DIR` would read '--out' as the list and then miss --out).
 */
export function extensionList(value: string): string {
  if (value.startsWith('-')) throw new UsageError(`${EXTENSIONS_HINT} (it was followed by '${value}')`);
  return value;
}
