/**
 * --extensions as a user meets it: a misspelt quantity gets a "did you mean" (the closest valid name
 * by edit distance, letter case ignored), a name far from every quantity gets none; the option given
 * without a value (at the end, or followed by another option) says what to pass, and --help shows no
 * `default: ""`.
 */
import { describe, expect, it } from 'vitest';
import { closestName } from '../../src/errors/closest-name.ts';
import { EXTENSION_NAMES } from '../../src/vocabulary.ts';
import { runCli } from '../helpers/cli.ts';

const BASE = ['run', '--model', 'm.json', '--weights', 'w.safetensors', '--inputs', 'x.npy', '--targets', 'y.npy', '--workers', '0'];

describe('closestName', () => {
  it.each([
    ['Varience', 'Variance'], // substitution
    ['Variane', 'Variance'], // deletion
    ['KFC', 'KFAC'], // insertion, short name
    ['batchgrad', 'BatchGrad'], // case only
    ['BatchLG2rad', 'BatchL2Grad'], // adjacent swap
    ['DiagGNNExact', 'DiagGGNExact'],
    ['SumGradSqaured', 'SumGradSquared'],
  ])('%s → %s', (typed, expected) => {
    expect(closestName(typed, EXTENSION_NAMES)).toBe(expected);
  });

  it.each(['Foo', 'Hessian', 'gradient', 'X'])('%s → no guess (too far from every quantity)', (typed) => {
    expect(closestName(typed, EXTENSION_NAMES)).toBeUndefined();
  });
});

describe('run --extensions', () => {
  it('a misspelt name: exit 2, UnknownExtensionError with the guess and the valid names', async () => {
    const r = await runCli([...BASE, '--extensions', 'BatchGrad,Varience', '--out', '/tmp/unused-bp-ext']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error \[E_UNKNOWN_EXTENSION\] UnknownExtensionError: unknown extension 'Varience' \(did you mean 'Variance'\?\); valid extensions: BatchGrad, /);
  });

  it('a name without a close quantity: no guess', async () => {
    const r = await runCli([...BASE, '--extensions', 'Foo', '--out', '/tmp/unused-bp-ext']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown extension 'Foo'; valid extensions:");
    expect(r.stderr).not.toContain('did you mean');
  });

  it('given last, without a value: says what to pass', async () => {
    const r = await runCli([...BASE, '--out', '/tmp/unused-bp-ext', '--extensions']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error \[E_USAGE\] UsageError: --extensions needs a comma-separated list of quantity names, e.g. --extensions BatchGrad,Variance \(any of BatchGrad, .*\); leave the option out to compute the gradient alone\n$/);
  });

  it('followed by another option: the option is not swallowed as the list', async () => {
    const r = await runCli([...BASE, '--extensions', '--out', '/tmp/unused-bp-ext']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--extensions needs a comma-separated list of quantity names");
    expect(r.stderr).toContain("(it was followed by '--out')");
    expect(r.stderr).not.toContain('--out <dir>');
  });

  it('--help describes the default instead of showing default: ""', async () => {
    const r = await runCli(['run', '--help']);
    const line = r.stdout.split('\n').findIndex((l) => l.includes('--extensions <list>'));
    expect(line).toBeGreaterThanOrEqual(0);
    const text = r.stdout.split('\n').slice(line, line + 4).join(' ').replace(/\s+/g, ' ');
    expect(text).toContain('without it: the gradient alone');
    expect(text).not.toContain('default: ""');
  });
});
