/**
 * model.json, validated with zod. Layer `type`s and attribute names are torch.nn's, so a
 * `print(model)` of an nn.Sequential translates one to one. Defaults are torch's defaults.
 */
import { z } from 'zod';
import { LOSS_KINDS, REDUCTIONS } from '../vocabulary.ts';

const posInt = z.number().int().positive();
const nonNegInt = z.number().int().nonnegative();
/** torch accepts `3` or `[3, 3]` for a size; we accept both and expand later. */
const sizeOrTuple = z.union([posInt, z.array(posInt).min(1).max(3)]);
const nonNegOrTuple = z.union([nonNegInt, z.array(nonNegInt).min(1).max(3)]);

const common = { inplace: z.boolean().optional() };

const linear = z.strictObject({
  type: z.literal('Linear'),
  in_features: posInt,
  out_features: posInt,
  bias: z.boolean().default(true),
});

const convFields = {
  in_channels: posInt,
  out_channels: posInt,
  kernel_size: sizeOrTuple,
  stride: sizeOrTuple.default(1),
  dilation: sizeOrTuple.default(1),
  groups: posInt.default(1),
  bias: z.boolean().default(true),
  padding_mode: z.literal('zeros').default('zeros'),
};
const conv = (type: 'Conv1d' | 'Conv2d' | 'Conv3d') =>
  z.strictObject({
    type: z.literal(type),
    ...convFields,
    padding: z.union([nonNegOrTuple, z.literal('same'), z.literal('valid')]).default(0),
  });
const convTranspose = (type: 'ConvTranspose1d' | 'ConvTranspose2d' | 'ConvTranspose3d') =>
  z.strictObject({
    type: z.literal(type),
    ...convFields,
    padding: nonNegOrTuple.default(0),
    output_padding: nonNegOrTuple.default(0),
  });

const maxPool = (type: 'MaxPool1d' | 'MaxPool2d' | 'MaxPool3d') =>
  z.strictObject({
    type: z.literal(type),
    kernel_size: sizeOrTuple,
    stride: sizeOrTuple.nullable().optional(),
    padding: nonNegOrTuple.default(0),
    dilation: sizeOrTuple.default(1),
    ceil_mode: z.literal(false).default(false),
    return_indices: z.literal(false).default(false),
  });
const avgPool = (type: 'AvgPool1d' | 'AvgPool2d' | 'AvgPool3d') =>
  z.strictObject({
    type: z.literal(type),
    kernel_size: sizeOrTuple,
    stride: sizeOrTuple.nullable().optional(),
    padding: nonNegOrTuple.default(0),
    ceil_mode: z.literal(false).default(false),
    count_include_pad: z.boolean().default(true),
    divisor_override: posInt.nullable().optional(),
  });
const adaptiveAvgPool = (type: 'AdaptiveAvgPool1d' | 'AdaptiveAvgPool2d' | 'AdaptiveAvgPool3d') =>
  z.strictObject({
    type: z.literal(type),
    /** `null` entries keep that input size, as in torch. */
    output_size: z.union([posInt, z.array(posInt.nullable()).min(1).max(3)]),
  });

const batchNorm = (type: 'BatchNorm1d' | 'BatchNorm2d' | 'BatchNorm3d') =>
  z.strictObject({
    type: z.literal(type),
    num_features: posInt,
    eps: z.number().positive().default(1e-5),
    momentum: z.number().nullable().optional(),
    affine: z.boolean().default(true),
    track_running_stats: z.boolean().default(true),
    /** Eval mode (running statistics) is the default; train mode is rejected with a reason. */
    train: z.boolean().default(false),
  });

const simple = <T extends string>(type: T) => z.strictObject({ type: z.literal(type), ...common });

export const layerSchema = z.discriminatedUnion('type', [
  linear,
  conv('Conv1d'), conv('Conv2d'), conv('Conv3d'),
  convTranspose('ConvTranspose1d'), convTranspose('ConvTranspose2d'), convTranspose('ConvTranspose3d'),
  maxPool('MaxPool1d'), maxPool('MaxPool2d'), maxPool('MaxPool3d'),
  avgPool('AvgPool1d'), avgPool('AvgPool2d'), avgPool('AvgPool3d'),
  adaptiveAvgPool('AdaptiveAvgPool1d'), adaptiveAvgPool('AdaptiveAvgPool2d'), adaptiveAvgPool('AdaptiveAvgPool3d'),
  z.strictObject({
    type: z.literal('ZeroPad2d'),
    padding: z.union([nonNegInt, z.array(nonNegInt).length(4)]),
  }),
  z.strictObject({ type: z.literal('Flatten'), start_dim: z.number().int().default(1), end_dim: z.number().int().default(-1) }),
  z.strictObject({
    type: z.literal('Dropout'),
    p: z.number().min(0).max(1).default(0.5),
    train: z.boolean().default(false),
    ...common,
  }),
  simple('Identity'), simple('ReLU'), simple('Sigmoid'), simple('Tanh'), simple('SELU'), simple('LogSigmoid'),
  z.strictObject({ type: z.literal('LeakyReLU'), negative_slope: z.number().default(0.01), ...common }),
  z.strictObject({ type: z.literal('ELU'), alpha: z.number().default(1.0), ...common }),
  batchNorm('BatchNorm1d'), batchNorm('BatchNorm2d'), batchNorm('BatchNorm3d'),
]);

export const lossSchema = z.strictObject({
  type: z.enum(LOSS_KINDS),
  reduction: z.enum(REDUCTIONS).default('mean'),
});

export const sequentialSpecSchema = z.strictObject({
  input_shape: z.array(posInt).min(1),
  layers: z.array(layerSchema).min(1),
  loss: lossSchema,
});

/** Node names become parameter prefixes ("block1.conv.weight"), like torch's named modules. */
const nodeName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_.]*$/, 'node names are identifiers (letters, digits, _ and .)').refine((n) => n !== 'input', "'input' names the network input");

/**
 * The graph form: nodes with named inputs ("input" is the network input), for residual and
 * branching models. A node is a layer (any type above) or a merge: Add (same shapes) or Concat
 * along `dim` (counted with the batch axis, as torch.cat).
 */
export const layerNodeSchema = z.strictObject({ name: nodeName, layer: layerSchema, inputs: z.array(z.string()).length(1) });
export const mergeNodeSchema = z.discriminatedUnion('op', [
  z.strictObject({ name: nodeName, op: z.literal('Add'), inputs: z.array(z.string()).min(2) }),
  z.strictObject({ name: nodeName, op: z.literal('Concat'), dim: z.number().int().default(1), inputs: z.array(z.string()).min(2) }),
]);
const graphNodeSchema = z.union([layerNodeSchema, mergeNodeSchema]);

export const graphSpecSchema = z.strictObject({
  input_shape: z.array(posInt).min(1),
  graph: z.strictObject({ nodes: z.array(graphNodeSchema).min(1), output: z.string() }),
  loss: lossSchema,
});

export const modelSpecSchema = z.union([sequentialSpecSchema, graphSpecSchema]);

export type LayerSpec = z.output<typeof layerSchema>;
export type LossSpec = z.output<typeof lossSchema>;
export type SequentialSpec = z.output<typeof sequentialSpecSchema>;
export type GraphSpec = z.output<typeof graphSpecSchema>;
export type GraphNodeSpec = z.output<typeof graphNodeSchema>;
export type ModelSpec = SequentialSpec | GraphSpec;

export const isGraphSpec = (s: ModelSpec): s is GraphSpec => 'graph' in s;
/** The spec of one layer type, e.g. `SpecOf<'Conv2d'>`. */
export type SpecOf<K extends LayerSpec['type']> = Extract<LayerSpec, { type: K }>;
