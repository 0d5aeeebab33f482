/**
 * Malformed model specs, from tables: every attribute of every layer of the base model set to
 * values of the wrong type, sign or size; unknown layers and attributes; bad losses and input
 * shapes; incompatible shapes; graphs with cycles, unknown or duplicate names, over the node
 * limit; huge sizes that only the size estimate can refuse; and model files that are not JSON,
 * not UTF-8, too large, or not regular files.
 */
import { execFileSync } from 'node:child_process';
import { symlinkSync } from 'node:fs';
import { BASE_MODEL, type FuzzCase, type FuzzFiles } from '../harness.ts';

type Spec = Record<string, unknown>;
const clone = (): Spec => JSON.parse(JSON.stringify(BASE_MODEL)) as Spec;
const layers = (s: Spec) => s.layers as Record<string, unknown>[];

const withSpec = (name: string, make: () => unknown, error?: RegExp, code?: number): FuzzCase => ({
  name: `model: ${name}`,
  args: (f: FuzzFiles) => {
    const spec = make();
    return f.run({ '--model': f.write(f.fresh('.json'), typeof spec === 'string' ? spec : JSON.stringify(spec)) });
  },
  error,
  code,
});

/** A spec of the base input and loss with other layers (shapes consistent, sizes not). */
const sized = (ls: unknown[]) => ({ ...clone(), layers: ls });

/** Wrong type, sign, size and kind for a size attribute (never a valid value). */
const BAD_SIZES: unknown[] = ['3', -1, 2.5, 1e300, true];
const BAD_BOOLS: unknown[] = ['yes', 1, null];

/** [layer index, attribute, bad values] of the base model (Conv2d, BatchNorm2d, ReLU, MaxPool2d, Flatten, Linear). */
const ATTRIBUTES: [number, string, unknown[]][] = [
  [0, 'in_channels', BAD_SIZES], [0, 'out_channels', BAD_SIZES], [0, 'kernel_size', [...BAD_SIZES, [], [3, 3, 3, 3]]],
  [0, 'stride', BAD_SIZES], [0, 'padding', ['full', -1, 2.5, 1e300]], [0, 'dilation', BAD_SIZES], [0, 'groups', BAD_SIZES],
  [0, 'bias', BAD_BOOLS], [0, 'padding_mode', ['reflect', 0]],
  [1, 'num_features', BAD_SIZES], [1, 'eps', ['x', -1, 0, 1e300, 1e-50]], [1, 'momentum', ['x', 1e300]],
  [1, 'affine', BAD_BOOLS], [1, 'track_running_stats', [...BAD_BOOLS, false]], [1, 'train', [...BAD_BOOLS, true]],
  [2, 'inplace', ['x', 0]],
  [3, 'kernel_size', BAD_SIZES], [3, 'stride', BAD_SIZES], [3, 'padding', ['x', -1, 2, 1e300]], [3, 'dilation', BAD_SIZES],
  [3, 'ceil_mode', BAD_BOOLS], [3, 'return_indices', [true, 1]],
  [4, 'start_dim', ['x', 1e9, 0, 2.5]], [4, 'end_dim', ['x', -1e9, 0, 2.5]],
  [5, 'in_features', BAD_SIZES], [5, 'out_features', BAD_SIZES], [5, 'bias', BAD_BOOLS],
];

const attributeCases: FuzzCase[] = ATTRIBUTES.flatMap(([i, attr, values]) =>
  values.map((value) => withSpec(`layers[${i}].${attr} = ${JSON.stringify(value)}`, () => {
    const s = clone();
    layers(s)[i][attr] = value;
    return s;
  })),
);

const edit = (name: string, change: (s: Spec) => void, error?: RegExp, code?: number) => withSpec(name, () => {
  const s = clone();
  change(s);
  return s;
}, error, code);

const structureCases: FuzzCase[] = [
  ...['Swish', 'conv2d', 'Conv4d', 'GELU', 'Softmax', '', '__proto__', 'constructor'].map((type) =>
    edit(`an unknown layer type ${JSON.stringify(type)}`, (s) => { layers(s)[2].type = type; }, /unknown layer type .*supported: Linear, Conv1d/, 3)),
  edit('a layer without a type', (s) => { delete layers(s)[2].type; }, undefined, 3),
  edit('a misspelt attribute', (s) => { layers(s)[0].kernal_size = 3; }, /kernal_size/, 3),
  edit('an attribute named __proto__', (s) => { layers(s)[5] = JSON.parse('{"type": "Linear", "in_features": 27, "out_features": 4, "__proto__": {"bias": false}}'); }, /__proto__/, 3),
  edit('a layer that is a string', (s) => { layers(s)[2] = 'ReLU' as never; }, undefined, 3),
  edit('layers that are an object', (s) => { s.layers = { 0: layers(s)[0] }; }, undefined, 3),
  edit('no layers', (s) => { s.layers = []; }, /layers: Too small/, 3),
  edit('10,001 layers', (s) => { s.layers = Array.from({ length: 10_001 }, () => ({ type: 'Identity' })); }, /layers: Too big: expected array to have <=10000 items/, 3),
  edit('an unknown top-level key', (s) => { s.optimizer = 'sgd'; }, /optimizer/, 3),
  edit('no loss', (s) => { delete s.loss; }, /loss/, 3),
  edit('an unknown loss', (s) => { s.loss = { type: 'NLLLoss', reduction: 'mean' }; }, /loss\.type/, 3),
  edit('reduction none', (s) => { s.loss = { type: 'CrossEntropyLoss', reduction: 'none' }; }, /loss\.reduction/, 3),
  edit('a loss with weights', (s) => { s.loss = { type: 'CrossEntropyLoss', reduction: 'mean', weight: [1, 2, 3, 4] }; }, /weight/, 3),
  edit('MSELoss on class-index targets', (s) => { s.loss = { type: 'MSELoss', reduction: 'mean' }; }, /ShapeError: targets: MSELoss needs targets of shape \[6, 4\]/, 3),
  ...[[], [0, 6, 6], [-2, 6, 6], [2, 6, '6'], [2, 6, 1e300], 'x', [2, 6, 6, 1, 1, 1, 1, 1, 1], null].map((shape) =>
    edit(`input_shape ${JSON.stringify(shape)}`, (s) => { s.input_shape = shape; }, /input_shape/, 3)),
  edit('no input_shape', (s) => { delete s.input_shape; }, /input_shape/, 3),
  edit('input_shape the data does not have', (s) => { s.input_shape = [2, 7, 6]; }, /does not match the model's input_shape \[2, 7, 6\]/, 3),
  edit('in_features that do not follow from the convolution', (s) => { layers(s)[5].in_features = 28; }, /Linear expects in_features=28 on the last axis, got input \[N, 27\]/, 3),
  edit('in_channels that do not match the input', (s) => { layers(s)[0].in_channels = 3; }, /expects in_channels=3/, 3),
  edit('groups that do not divide the channels', (s) => { layers(s)[0].groups = 2; }, /groups=2 must divide/, 3),
  edit('a kernel larger than the input', (s) => { layers(s)[0].kernel_size = 9; layers(s)[0].padding = 0; }, /too small for kernel/, 3),
  edit('padding=same with stride 2', (s) => { layers(s)[0].padding = 'same'; layers(s)[0].stride = 2; }, /padding='same' requires stride 1/, 3),
  edit('a pool padding over half its kernel', (s) => { layers(s)[3].padding = 2; }, /padding 2 must be at most half the kernel size/, 3),
  edit('BatchNorm over the wrong channels', (s) => { layers(s)[1].num_features = 4; }, /BatchNorm2d\(num_features=4\) cannot take input/, 3),
  edit('BatchNorm in train mode', (s) => { layers(s)[1].train = true; }, /TrainModeError: .*couples the samples/, 4),
  withSpec('a ZeroPad2d of 1e9 (sized before anything is allocated)', () => sized([
    { type: 'ZeroPad2d', padding: 1e9 }, { type: 'MaxPool2d', kernel_size: 2000000006 }, { type: 'Flatten' }, { type: 'Linear', in_features: 2, out_features: 4 },
    // The pool's windows over the padded image dominate: either layer may be the one named.
  ]), /MemoryBudgetError: .*layers\[[01]\] \((ZeroPad2d|MaxPool2d)\) with output/, 2),
  withSpec('an AdaptiveAvgPool2d to 1e5 × 1e5', () => sized([
    { type: 'AdaptiveAvgPool2d', output_size: 100000 }, { type: 'AdaptiveAvgPool2d', output_size: 1 }, { type: 'Flatten' }, { type: 'Linear', in_features: 2, out_features: 4 },
  ]), /MemoryBudgetError: .*layers\[0\] \(AdaptiveAvgPool2d\) with output \[2, 100000, 100000\]/, 2),
  withSpec('a Linear of 2^31 − 1 outputs', () => sized([
    { type: 'Flatten' }, { type: 'Linear', in_features: 72, out_features: 2 ** 31 - 1 }, { type: 'Linear', in_features: 2 ** 31 - 1, out_features: 4 },
  ]), /MemoryBudgetError/, 2),
  withSpec('a ConvTranspose2d to a huge image', () => sized([
    { type: 'ConvTranspose2d', in_channels: 2, out_channels: 3, kernel_size: 3, stride: 100000, padding: 1 }, { type: 'AdaptiveAvgPool2d', output_size: 1 },
    { type: 'Flatten' }, { type: 'Linear', in_features: 3, out_features: 4 },
  ]), /MemoryBudgetError: .*layers\[0\] \(ConvTranspose2d\)/, 2),
  {
    name: 'model: a Tanh of 10^6 features under DiagHessian (its residual factor is 10^6 × 10^6 per sample)',
    args: (f) => f.run({
      '--model': f.write(f.fresh('.json'), JSON.stringify(sized([
        { type: 'Flatten' }, { type: 'Linear', in_features: 72, out_features: 1000000 }, { type: 'Tanh' }, { type: 'Linear', in_features: 1000000, out_features: 4 },
      ]))),
      '--extensions': 'DiagHessian',
    }),
    error: /MemoryBudgetError: .*one sample needs for DiagHessian/, code: 2,
  },
];

/** A graph spec around the base model's layers. */
const graph = (nodes: unknown[], output = 'head') => ({ input_shape: [2, 6, 6], graph: { nodes, output }, loss: { type: 'CrossEntropyLoss', reduction: 'mean' } });
const node = (name: string, input: string, layer: unknown = { type: 'Identity' }) => ({ name, layer, inputs: [input] });
const head = (input: string) => node('head', input, { type: 'Linear', in_features: 72, out_features: 4 });
const flat = (input: string) => node('flat', input, { type: 'Flatten' });

function chain(n: number): unknown {
  const nodes: unknown[] = [];
  let prev = 'input';
  for (let i = 0; i < n - 2; i++) {
    nodes.push(node(`n${i}`, prev));
    prev = `n${i}`;
  }
  return graph([...nodes, flat(prev), head('flat')]);
}

const graphCases: FuzzCase[] = [
  withSpec('graph: a cycle', () => graph([node('a', 'b'), node('b', 'a'), flat('b'), head('flat')]), /cycle through node/, 3),
  withSpec('graph: a node reading itself', () => graph([node('a', 'a'), flat('a'), head('flat')]), /cycle through node 'a'/, 3),
  withSpec('graph: an unknown input', () => graph([node('a', 'nope'), flat('a'), head('flat')]), /reads unknown input 'nope'/, 3),
  withSpec('graph: a duplicate name', () => graph([node('a', 'input'), node('a', 'input'), flat('a'), head('flat')]), /node names must be unique/, 3),
  withSpec('graph: an unknown output', () => graph([flat('input'), head('flat')], 'nowhere'), /graph\.output 'nowhere' is not a node/, 3),
  withSpec('graph: a node not connected to the output', () => graph([node('dead', 'input'), flat('input'), head('flat')]), /not connected to the output: dead/, 3),
  withSpec('graph: a node named input', () => graph([node('input', 'input'), flat('input'), head('flat')]), /'input' names the network input/, 3),
  ...['', '1abc', 'a b', 'a/b', '../x', 'x'.repeat(201), '__proto__:x'].map((name) =>
    withSpec(`graph: the node name ${JSON.stringify(name.length > 20 ? `${name.slice(0, 8)}…(${name.length})` : name)}`, () => graph([node(name, 'input'), flat(name), head('flat')]), /graph\.nodes\[0\]\.name|names must be unique/, 3)),
  withSpec('graph: Add of different shapes', () => graph([flat('input'), { name: 'sum', op: 'Add', inputs: ['flat', 'input'] }, head('sum')]), undefined, 3),
  withSpec('graph: Concat along the batch axis', () => graph([{ name: 'cat', op: 'Concat', dim: 0, inputs: ['input', 'input'] }, flat('cat'), head('flat')]), undefined, 3),
  withSpec('graph: Concat along dim 99', () => graph([{ name: 'cat', op: 'Concat', dim: 99, inputs: ['input', 'input'] }, flat('cat'), head('flat')]), undefined, 3),
  withSpec('graph: a merge with one input', () => graph([{ name: 'sum', op: 'Add', inputs: ['input'] }, flat('sum'), head('flat')]), /inputs: Too small/, 3),
  withSpec('graph: an unknown op', () => graph([{ name: 'm', op: 'Mul', inputs: ['input', 'input'] }, flat('m'), head('flat')]), undefined, 3),
  withSpec('graph: a layer node with two inputs', () => graph([{ name: 'a', layer: { type: 'ReLU' }, inputs: ['input', 'input'] }, flat('a'), head('flat')]), /inputs: Too big/, 3),
  withSpec('graph: 20,000 nodes', () => chain(20_000), /graph\.nodes: Too big: expected array to have <=10000 items/, 3),
  withSpec('graph: nodes that are not a list', () => ({ input_shape: [2, 6, 6], graph: { nodes: {}, output: 'head' }, loss: { type: 'MSELoss', reduction: 'mean' } }), /graph\.nodes/, 3),
  withSpec('graph: both layers and graph', () => ({ ...graph([flat('input'), head('flat')]), layers: [] }), /layers/, 3),
];

const fileCases: FuzzCase[] = [
  withSpec('not JSON', () => '{"input_shape": [2, 6, 6], "layers": [', /not valid JSON/, 3),
  withSpec('an empty file', () => '', /not valid JSON/, 3),
  withSpec('a JSON array', () => '[1, 2, 3]', undefined, 3),
  withSpec('JSON null', () => 'null', undefined, 3),
  withSpec('a number', () => '3', undefined, 3),
  withSpec('nesting a million deep', () => `{"input_shape": ${'['.repeat(1e6)}${']'.repeat(1e6)}}`, /input_shape/, 3),
  {
    name: 'model: not UTF-8',
    args: (f) => f.run({ '--model': f.write(f.fresh('.json'), Uint8Array.from([0x7b, 0xff, 0xfe, 0x7d])) }),
    error: /not valid UTF-8 text/, code: 3,
  },
  {
    name: 'model: a 17 MiB file',
    args: (f) => f.run({ '--model': f.write(f.fresh('.json'), `${JSON.stringify(BASE_MODEL)}${' '.repeat(17 * 2 ** 20)}`) }),
    error: /more than the 16777216 this file may have/, code: 3,
  },
  {
    name: 'model: a link to /dev/zero',
    args: (f) => {
      const name = f.fresh('.json');
      symlinkSync('/dev/zero', f.path(name));
      return f.run({ '--model': f.path(name) });
    },
    error: /ModelSpecError: .*a character device, not a regular file/, code: 3,
  },
  {
    name: 'model: a FIFO',
    args: (f) => {
      const name = f.fresh('.json');
      execFileSync('mkfifo', [f.path(name)]);
      return f.run({ '--model': f.path(name) });
    },
    error: /a FIFO, not a regular file/, code: 3,
  },
  { name: 'model: a directory', args: (f) => f.run({ '--model': f.dir }), error: /is a directory|a directory, not a regular file/, code: 3 },
  { name: 'model: missing', args: (f) => f.run({ '--model': f.path('nope.json') }), error: /nope\.json: file not found/, code: 3 },
];

export const SPEC_CASES: FuzzCase[] = [...attributeCases, ...structureCases, ...graphCases, ...fileCases];
