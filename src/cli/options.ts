/** Parsing of numeric and list options, with errors that name the option. */
import { UsageError } from '../errors/index.ts';

export function positiveInt(option: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1) throw new UsageError(`${option} must be a positive integer, got '${value}'`);
    return n;
  };
}

export function nonNegativeInt(option: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 0) throw new UsageError(`${option} must be a non-negative integer, got '${value}'`);
    return n;
  };
}

export function intList(option: string) {
  return (value: string): number[] =>
    value.split(',').filter((s) => s.trim() !== '').map((s) => nonNegativeInt(option)(s.trim()));
}
