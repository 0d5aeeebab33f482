/**
 * The module contract: the engine learns everything about a module from its record, and a record
 * that does not state a capability some quantity needs makes that quantity fail with a typed
 * UnsupportedModuleError naming the quantity, the module and the missing field — never a silent
 * default (a GroupNorm added without its second derivative once returned wrong DiagHessian values).
 * Each case removes one field from a real record for the duration of the test; the same network
 * with the full record computes the quantity (so the error comes from the missing field alone).
 * runBatch refuses before computing (extensions/support.ts); curvatureProducts, which has no such
 * check, shows the engine itself asking the record (core/capabilities.ts).
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { mulberry32, randomBatch, randomNetwork } from '../helpers/oracle.ts';
import { randomVectors } from '../helpers/second-order-oracle.ts';
import { curvatureProducts } from '../../src/api/curvature.ts';
import { runBatch } from '../../src/api/run.ts';
import { useBackend } from '../../src/backends/select.ts';
import type { Capability } from '../../src/core/capabilities.ts';
import { DERIVATIVES } from '../../src/core/derivatives/index.ts';
import { UnsupportedModuleError } from '../../src/errors/index.ts';
import { disposeNetwork, type Network } from '../../src/nn/network.ts';
import type { ExtensionName, ModuleKind } from '../../src/vocabulary.ts';

const lin = (i: number, o: number) => ({ type: 'Linear', in_features: i, out_features: o });

beforeAll(async () => {
  await useBackend('cpu');
});

const records = DERIVATIVES as unknown as Record<ModuleKind, Record<string, unknown>>;
let restore: (() => void) | null = null;
afterEach(() => {
  restore?.();
  restore = null;
});

/** The record of `kind` without `field` until the test ends. */
function strip(kind: ModuleKind, field: Capability): void {
  const original = records[kind];
  const { [field]: _dropped, ...rest } = original;
  records[kind] = rest;
  restore = () => (records[kind] = original);
}

function withNet(spec: unknown, fn: (net: Network, run: (q: ExtensionName) => unknown) => void): void {
  const rng = mulberry32(3);
  const net = randomNetwork(spec, rng);
  try {
    const { inputs, targets } = randomBatch(net, 3, rng);
    const vectors = randomVectors(net, 1, rng);
    fn(net, (q) => runBatch(net, inputs, targets, { extensions: [q], vectors }));
  } finally {
    disposeNetwork(net);
  }
}

function expectRefusal(fn: () => unknown, quantity: string, module: string, field: string): void {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(UnsupportedModuleError);
  const message = (err as Error).message;
  expect(message.startsWith(`${quantity} is not supported for `), message).toBe(true);
  // The layer whose record lacks the field (it may be named as the layer a parametric one's backprop crosses).
  expect(message).toContain(`${module}: the ${module.split(' ')[0]} record does not state`);
  expect(message).toContain(`(${field})`);
}

const mlp = { input_shape: [3], layers: [lin(3, 4), { type: 'Tanh' }, lin(4, 3)], loss: { type: 'CrossEntropyLoss' } };
/** The example: a GroupNorm whose record lacked its second derivative gave wrong DiagHessian values silently. */
const withGroupNorm = { input_shape: [3], layers: [lin(3, 4), { type: 'GroupNorm', num_groups: 1, num_channels: 4 }, lin(4, 3)], loss: { type: 'CrossEntropyLoss' } };

describe('a record lacking a capability is refused with a typed error', () => {
  it.each(['DiagHessian', 'BatchDiagHessian', 'HMP'] as const)('%s through a GroupNorm record without its second derivative', (q) => {
    withNet(withGroupNorm, (_net, run) => {
      const go = () => run(q);
      expect(go).not.toThrow();
      strip('GroupNorm', 'inputHessian');
      expectRefusal(go, q, "GroupNorm (layer '1')", 'inputHessian');
    });
  });

  it('DiagHessian through a Tanh record without its second derivative', () => {
    withNet(mlp, (_net, run) => {
      strip('Tanh', 'inputHessian');
      expectRefusal(() => run('DiagHessian'), 'DiagHessian', "Tanh (layer '1')", 'inputHessian');
    });
  });

  it('the quantities that do not need it still run (DiagGGNExact through the same record)', () => {
    withNet(mlp, (_net, run) => {
      strip('Tanh', 'inputHessian');
      expect(() => run('DiagGGNExact')).not.toThrow();
    });
  });

  it('KFRA through a Tanh record without its Jacobian structure', () => {
    withNet(mlp, (_net, run) => {
      strip('Tanh', 'jacobianStructure');
      expectRefusal(() => run('KFRA'), 'KFRA', "Tanh (layer '1')", 'jacobianStructure');
    });
  });

  it.each(['KFAC', 'KFLR', 'KFRA'] as const)('%s at a Linear record without Kronecker factors', (q) => {
    withNet(mlp, (_net, run) => {
      strip('Linear', 'kronecker');
      expectRefusal(() => run(q), q, "Linear (layer '0')", 'kronecker');
    });
  });

  it.each([
    ['jvp', 'GGN-vector product', 'ggn'],
    ['mixed', 'Hessian-vector product', 'hessian'],
    ['inputHessian', 'Hessian-vector product', 'hessian'],
  ] as const)('curvature products: a record without %s (%s)', (field, quantity, curvature) => {
    withNet(mlp, (net) => {
      const { inputs, targets } = randomBatch(net, 2, mulberry32(6));
      const v = randomVectors(net, 1, mulberry32(7));
      const go = () => curvatureProducts(net, inputs, targets, v, { curvature });
      expect(go).not.toThrow();
      const kind = field === 'inputHessian' ? 'Tanh' : 'Linear';
      strip(kind, field);
      expectRefusal(go, quantity, kind === 'Tanh' ? "Tanh (layer '1')" : "Linear (layer '2')", field);
    });
  });
});
