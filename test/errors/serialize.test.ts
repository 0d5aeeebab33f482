/** Errors cross thread/process/queue boundaries as plain data and come back as the same class. */
import { describe, expect, it } from 'vitest';
import {
  BackpackError, deserializeError, LabelRangeError, ModelSpecError, serializeError, TensorFileError, UnknownExtensionError, UnsupportedModuleError,
} from '../../src/errors/index.ts';

describe('error round trip', () => {
  it.each([
    new ModelSpecError('bad spec'),
    new LabelRangeError('label 9'),
    new TensorFileError('x.npy: truncated'),
    new UnsupportedModuleError('KFAC', 'BatchNorm2d', 'no Kronecker factorisation'),
    new UnknownExtensionError('Foo', ['BatchGrad']),
  ])('%s', (original) => {
    const back = deserializeError(JSON.parse(JSON.stringify(serializeError(original))));
    expect(back).toBeInstanceOf(original.constructor);
    expect(back).toBeInstanceOf(BackpackError);
    expect(back.name).toBe(original.name);
    expect(back.code).toBe(original.code);
    expect(back.message).toBe(original.message);
    expect(back.deterministic).toBe(original.deterministic);
    expect(back.exitCode).toBe(original.exitCode);
  });

  it('an unknown error becomes a non-deterministic internal error', () => {
    const s = serializeError(new TypeError('boom'));
    expect(s).toEqual({ name: 'Error', code: 'E_INTERNAL', message: 'boom', deterministic: false });
  });
});
