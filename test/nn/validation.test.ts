/**
 * What the model spec, the network builder and the loss targets refuse, with typed errors, where
 * the run would otherwise give NaN/Inf with exit 0 or crash: sizes beyond int32 and reals beyond
 * float32, graphs over the node limit (and deep ones built without recursion), cycles, weights,
 * inputs and targets that overflow float32, a negative BatchNorm running_var, soft labels that are
 * not distributions. Shape inference itself allocates nothing (pool matrices are built lazily).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { runBatch } from '../../src/api/run.ts';
import { checkVectors } from '../../src/api/vectors.ts';
import { useBackend } from '../../src/backends/select.ts';
import { checkedInputs } from '../../src/core/inputs.ts';
import { LabelRangeError, ModelSpecError, NonFiniteError, ShapeError, WeightsError } from '../../src/errors/index.ts';
import type { HostTensor } from '../../src/io/host-tensor.ts';
import { LOSSES } from '../../src/nn/losses/index.ts';
import { SOFT_LABEL_TOLERANCE } from '../../src/nn/losses/targets.ts';
import { buildNetwork, disposeNetwork } from '../../src/nn/network.ts';
import { parseModelSpec } from '../../src/nn/parse-spec.ts';
import { inferShapes } from '../../src/nn/shapes.ts';
import { MAX_NODES } from '../../src/nn/spec.ts';
import { tf } from '../../src/core/tf.ts';
import { mulberry32, randomWeights } from '../helpers/oracle.ts';

beforeAll(async () => {
  await useBackend('cpu');
});

const lin = (i: number, o: number) => ({ type: 'Linear', in_features: i, out_features: o });
const seq = (layers: unknown[], input_shape = [4], loss = 'CrossEntropyLoss') => ({ input_shape, layers, loss: { type: loss, reduction: 'mean' } });
const f64 = (shape: number[], values: number[]): HostTensor => ({ dtype: 'float64', shape, data: Float64Array.from(values) });

/** A chain of `n` graph nodes (Identity … Linear) as a graph spec. */
function chain(n: number): unknown {
  const nodes: unknown[] = [];
  let prev = 'input';
  for (let i = 0; i < n - 1; i++) {
    nodes.push({ name: `n${i}`, layer: { type: i % 2 ? 'Tanh' : 'Identity' }, inputs: [prev] });
    prev = `n${i}`;
  }
  nodes.push({ name: 'head', layer: lin(4, 3), inputs: [prev] });
  return { input_shape: [4], graph: { nodes, output: 'head' }, loss: { type: 'CrossEntropyLoss', reduction: 'mean' } };
}

describe('spec limits', () => {
  it.each([
    ['a size beyond int32', seq([lin(4, 2 ** 31)]), /layers\[0\]\.out_features: Too big/],
    ['1e300 as a size (an integer to JSON)', seq([lin(4, 1e300)]), /out_features: Too big/],
    ['a negative size', seq([lin(-4, 3)]), /in_features: Too small/],
    ['a fractional size', seq([lin(4.5, 3)]), /in_features: Invalid input: expected int/],
    ['a slope beyond float32', seq([lin(4, 3), { type: 'LeakyReLU', negative_slope: 1e300 }]), /negative_slope: Too big/],
    ['an ELU alpha of -1e39', seq([lin(4, 3), { type: 'ELU', alpha: -1e39 }]), /alpha: Too small/],
    ['an eps that rounds to 0 in float32', seq([{ type: 'BatchNorm1d', num_features: 4, eps: 1e-46 }, lin(4, 3)]), /eps: Too small/],
    ['Flatten dims beyond any rank', seq([{ type: 'Flatten', start_dim: 1e9 }, lin(4, 3)]), /start_dim: Too big/],
    ['an input of rank 9', { ...seq([lin(1, 3)]), input_shape: [1, 1, 1, 1, 1, 1, 1, 1, 1] }, /input_shape: Too big/],
    ['more layers than the limit', seq(Array.from({ length: MAX_NODES + 1 }, () => ({ type: 'Identity' }))), /layers: Too big: expected array to have <=10000 items/],
    ['more graph nodes than the limit (20,000)', chain(20_000), /graph\.nodes: Too big: expected array to have <=10000 items/],
  ])('%s', (_name, spec, message) => {
    expect(() => parseModelSpec(spec)).toThrow(ModelSpecError);
    expect(() => parseModelSpec(spec)).toThrow(message);
  });

  it(`a chain of ${MAX_NODES} graph nodes is ordered without recursion and builds`, () => {
    const spec = parseModelSpec(chain(MAX_NODES));
    const shapes = inferShapes(spec);
    expect(shapes).toHaveLength(MAX_NODES);
    const net = buildNetwork(spec, randomWeights(spec, mulberry32(1)));
    expect(net.sequential).toBe(true);
    disposeNetwork(net);
  });

  it('graph errors: cycles, self-loops, duplicate names, unknown inputs', () => {
    const g = (nodes: unknown[], output = 'b') => ({ input_shape: [4], graph: { nodes, output }, loss: { type: 'MSELoss', reduction: 'mean' } });
    const id = (name: string, input: string) => ({ name, layer: { type: 'Identity' }, inputs: [input] });
    const build = (spec: unknown) => () => buildNetwork(parseModelSpec(spec), new Map());
    expect(build(g([id('a', 'b'), id('b', 'a')]))).toThrow(/graph: cycle through node '[ab]'/);
    expect(build(g([id('b', 'b')]))).toThrow(/graph: cycle through node 'b'/);
    expect(build(g([id('a', 'input'), id('a', 'input'), id('b', 'a')]))).toThrow(/node names must be unique \('a' appears twice\)/);
    expect(build(g([id('b', 'nope')]))).toThrow(/node 'b' reads unknown input 'nope'/);
    expect(build(g([id('b', 'input'), id('x', 'y'), id('y', 'x')]))).toThrow(/nodes not connected to the output: x, y/);
  });

  it('shape inference allocates nothing: a 1e5 × 1e5 adaptive pool is sized, not built', () => {
    const spec = parseModelSpec(seq([{ type: 'AdaptiveAvgPool2d', output_size: 100000 }, { type: 'Flatten' }], [1, 100000, 3], 'MSELoss'));
    const before = process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers;
    const shapes = inferShapes(spec);
    expect(shapes[1].outShape).toEqual([1e10]);
    expect(process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers - before).toBeLessThan(64 * 2 ** 20);
  });
});

describe('values finite in float64 but not in float32 are refused', () => {
  const spec = parseModelSpec(seq([lin(4, 3)]));
  const weights = (w0: number) => new Map<string, HostTensor>([['0.weight', f64([3, 4], [w0, ...Array(11).fill(0.1)])], ['0.bias', f64([3], [0, 0, 0])]]);

  it('weights of 1e300 (NonFiniteError naming the parameter and the value)', () => {
    expect(() => buildNetwork(spec, weights(1e300))).toThrow(NonFiniteError);
    expect(() => buildNetwork(spec, weights(1e300))).toThrow(/parameter '0\.weight' holds a non-finite value \(1e\+300: finite, but beyond float32's largest magnitude ~3\.4e38\) at flat index 0/);
    expect(() => buildNetwork(spec, weights(3.4e38))).not.toThrow();
  });

  it('inputs, targets and vectors of 1e300', () => {
    expect(() => checkedInputs(f64([2, 4], [0, 0, 0, 0, 0, 1e300, 0, 0]), [4], 'inputs')).toThrow(/inputs: sample 1 holds a non-finite value \(1e\+300: finite, but beyond float32/);
    expect(() => tf.tidy(() => LOSSES.MSELoss.targets(f64([2, 1], [1, -1e300]), [1], 'targets'))).toThrow(/targets: target at flat index 1 is not finite \(-1e\+300/);
    expect(() => checkVectors(new Map([['w', f64([1, 2], [1e39, 0])]]), { w: [2] }, 'v.safetensors')).toThrow(/vectors 'w' hold a non-finite value \(1e\+39/);
  });

  it('a NaN or infinity anywhere is found: in each of the four lanes of the check and in the tail past them', () => {
    for (let at = 0; at < 7; at++) {
      for (const bad of [NaN, Infinity, -Infinity]) {
        const values = new Float32Array(7);
        values[at] = bad;
        expect(() => checkedInputs({ dtype: 'float32', shape: [1, 7], data: values }, [7], 'inputs')).toThrow(new RegExp(`at feature ${at}$`));
      }
    }
  });

  it('a forward pass that overflows anyway gives a non-finite loss, which the CLI refuses (see test/cli)', () => {
    const net = buildNetwork(spec, weights(3e38));
    const r = runBatch(net, f64([1, 4], [1e10, 0, 0, 0]), { dtype: 'int32', shape: [1], data: Int32Array.from([1]) }, { extensions: [] });
    expect(Number.isFinite(r.loss)).toBe(false);
    disposeNetwork(net);
  });
});

describe('BatchNorm running statistics', () => {
  const spec = parseModelSpec(seq([{ type: 'BatchNorm1d', num_features: 4 }, lin(4, 3)]));
  const weights = (variance: number[]) => {
    const w = randomWeights(spec, mulberry32(2));
    w.set('0.running_var', f64([4], variance));
    return w;
  };
  it('a negative running_var is a WeightsError (√(σ² + ε) would be NaN)', () => {
    expect(() => buildNetwork(spec, weights([1, 0.5, -0.25, 2]))).toThrow(WeightsError);
    expect(() => buildNetwork(spec, weights([1, 0.5, -0.25, 2]))).toThrow(/buffer '0\.running_var' holds -0\.25 at flat index 2; it must be at least 0/);
  });
  it('zero variance is fine (ε keeps it positive)', () => {
    disposeNetwork(buildNetwork(spec, weights([0, 0, 0, 0])));
  });
});

describe('CrossEntropyLoss soft labels must be distributions', () => {
  const targets = (rows: number[][]) => () => tf.tidy(() => LOSSES.CrossEntropyLoss.targets(f64([rows.length, 3], rows.flat()), [3], 'targets', 10));
  it('rows summing to 3 are refused: the gradient would scale and the GGN would not', () => {
    expect(targets([[0.2, 0.3, 0.5], [1, 1, 1]])).toThrow(LabelRangeError);
    expect(targets([[0.2, 0.3, 0.5], [1, 1, 1]])).toThrow(/the class probabilities of sample 11 sum to 3, not 1/);
  });
  it('negative entries are refused, even in a row summing to 1', () => {
    expect(targets([[1.5, -0.5, 0]])).toThrow(/soft label -0\.5 of sample 10, class 1 is negative/);
  });
  it(`rows within ${SOFT_LABEL_TOLERANCE} of 1 (float32 rounding) are accepted`, () => {
    expect(targets([[0.1, 0.2, 0.70005], [1 / 3, 1 / 3, 1 / 3]])).not.toThrow();
  });
});

describe('LayerNorm and GroupNorm specs', () => {
  const shapesOf = (spec: unknown) => () => inferShapes(parseModelSpec(spec));
  it.each([
    ['LayerNorm over dims the input does not end in', seq([lin(4, 3), { type: 'LayerNorm', normalized_shape: 4 }]), ShapeError, /LayerNorm\(normalized_shape=\[4\]\) needs an input ending in those dims, got \[N, 3\]/],
    ['LayerNorm over more dims than the input has', seq([{ type: 'LayerNorm', normalized_shape: [1, 4] }, lin(4, 3)]), ShapeError, /needs an input ending in those dims, got \[N, 4\]/],
    ['GroupNorm with the wrong channel count', seq([{ type: 'GroupNorm', num_groups: 1, num_channels: 3 }, lin(4, 3)]), ShapeError, /GroupNorm\(num_channels=3\) expects input \[N, 3, \*\], got \[N, 4\]/],
    ['GroupNorm whose groups do not divide the channels', seq([{ type: 'GroupNorm', num_groups: 3, num_channels: 4 }, lin(4, 3)]), ModelSpecError, /num_groups=3 must divide num_channels=4/],
    ['GroupNorm with zero groups', seq([{ type: 'GroupNorm', num_groups: 0, num_channels: 4 }, lin(4, 3)]), ModelSpecError, /num_groups: Too small/],
    ['LayerNorm with an attribute torch does not have', seq([{ type: 'LayerNorm', normalized_shape: 4, affine: true }, lin(4, 3)]), ModelSpecError, /affine/],
  ])('%s', (_name, spec, Err, message) => {
    expect(shapesOf(spec)).toThrow(Err);
    expect(shapesOf(spec)).toThrow(message);
  });
});
