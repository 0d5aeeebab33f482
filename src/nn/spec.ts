/**
 * model.json, validated with zod. Layer `type`s and attribute names are torch.nn's, so a
 * `print(model)` of an nn.Sequential translates one to one. Defaults are torch's defaults.
 */
import { z } from 'zod';
import { LOSS_KINDS, REDUCTIONS } from '../vocabulary.ts';

/**
 * Limits that keep a spec describing something computable, so that a hostile or mistyped number
 * fails here, with its JSON path, instead of deep inside tfjs: sizes are int32 (tfjs's shape
 * type), real attributes are finite in float32 (the compute dtype), and a model has at most
 * MAX_NODES layers or graph nodes. Whether the sizes fit in memory is size-estimate.ts's question.
 */
export const MAX_DIM = 2 ** 31 - 1;
export const MAX_NODES = 10_000;
const FLOAT32_MAX = 3.4028234663852886e38;

const posInt = z.number().int().positive().max(MAX_DIM);
const nonNegInt = z.number().int().nonnegative().max(MAX_DIM);
/** A real attribute (slope, alpha): finite once rounded to float32. */
const real32 = z.number().min(-FLOAT32_MAX).max(FLOAT32_MAX);
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
    ceil_mode: z.boolean().default(false),
    return_indices: z.literal(false).default(false),
  });
const avgPool = (type: 'AvgPool1d' | 'AvgPool2d' | 'AvgPool3d') =>
  z.strictObject({
    type: z.literal(type),
    kernel_size: sizeOrTuple,
    stride: sizeOrTuple.nullable().optional(),
    padding: nonNegOrTuple.default(0),
    ceil_mode: z.boolean().default(false),
    count_include_pad: z.boolean().default(true),
    divisor_override: posInt.nullable().optional(),
  });
const adaptiveAvgPool = (type: 'AdaptiveAvgPool1d' | 'AdaptiveAvgPool2d' | 'AdaptiveAvgPool3d') =>
  z.strictObject({
    type: z.literal(type),
    /** `null` entries keep that input size, as in torch. */
    output_size: z.union([posInt, z.array(posInt.nullable()).min(1).max(3)]),
  });

// eps below float32's smallest normal would round to 0 (or a denormal) in √(σ² + ε).
const normEps = z.number().min(1.1754943508222875e-38).max(FLOAT32_MAX).default(1e-5);

const batchNorm = (type: 'BatchNorm1d' | 'BatchNorm2d' | 'BatchNorm3d') =>
  z.strictObject({
    type: z.literal(type),
    num_features: posInt,
    eps: normEps,
    momentum: real32.nullable().optional(),
    affine: z.boolean().default(true),
    track_running_stats: z.boolean().default(true),
    /** Eval mode (running statistics) is the default; train mode is rejected with a reason. */
    train: z.boolean().default(false),
  });

/** Normalises each sample over its trailing `normalized_shape` dims (torch ≥ 2.1 has `bias`). */
const layerNorm = z.strictObject({
  type: z.literal('LayerNorm'),
  normalized_shape: z.union([posInt, z.array(posInt).min(1).max(7)]),
  eps: normEps,
  elementwise_affine: z.boolean().default(true),
  bias: z.boolean().default(true),
});

/** Normalises each sample over groups of num_channels/num_groups channels and all their positions. */
const groupNorm = z.strictObject({
  type: z.literal('GroupNorm'),
  num_groups: posInt,
  num_channels: posInt,
  eps: normEps,
  affine: z.boolean().default(true),
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
  z.strictObject({ type: z.literal('Flatten'), start_dim: z.number().int().min(-64).max(64).default(1), end_dim: z.number().int().min(-64).max(64).default(-1) }),
  z.strictObject({
    type: z.literal('Dropout'),
    p: z.number().min(0).max(1).default(0.5),
    train: z.boolean().default(false),
    ...common,
  }),
  simple('Identity'), simple('ReLU'), simple('Sigmoid'), simple('Tanh'), simple('SELU'), simple('LogSigmoid'),
  z.strictObject({ type: z.literal('LeakyReLU'), negative_slope: real32.default(0.01), ...common }),
  z.strictObject({ type: z.literal('ELU'), alpha: real32.default(1.0), ...common }),
  batchNorm('BatchNorm1d'), batchNorm('BatchNorm2d'), batchNorm('BatchNorm3d'),
  layerNorm, groupNorm,
]);

export const lossSchema = z.strictObject({
  type: z.enum(LOSS_KINDS),
  reduction: z.enum(REDUCTIONS).default('mean'),
});

/** Input dims without the batch axis; ConvNd/pools use at most 4 (channels + 3 spatial). */
const inputShape = z.array(posInt).min(1).max(8);

export const sequentialSpecSchema = z.strictObject({
  input_shape: inputShape,
  layers: z.array(layerSchema).min(1).max(MAX_NODES),
  loss: lossSchema,
});

/** Node names become parameter prefixes ("block1.conv.weight"), like torch's named modules. */
const nodeName = z.string().max(200).regex(/^[A-Za-z_][A-Za-z0-9_.]*$/, 'node names are identifiers (letters, digits, _ and .)').refine((n) => n !== 'input', "'input' names the network input");

/**
 * The graph form: nodes with named inputs ("input" is the network input), for residual and
 * branching models. A node is a layer (any type above) or a merge: Add (same shapes) or Concat
 * along `dim` (counted with the batch axis, as torch.cat).
 */
export const layerNodeSchema = z.strictObject({ name: nodeName, layer: layerSchema, inputs: z.array(z.string()).length(1) });
const mergeInputs = z.array(z.string()).min(2).max(MAX_NODES);
export const mergeNodeSchema = z.discriminatedUnion('op', [
  z.strictObject({ name: nodeName, op: z.literal('Add'), inputs: mergeInputs }),
  z.strictObject({ name: nodeName, op: z.literal('Concat'), dim: z.number().int().min(-64).max(64).default(1), inputs: mergeInputs }),
]);
const graphNodeSchema = z.union([layerNodeSchema, mergeNodeSchema]);

export const graphSpecSchema = z.strictObject({
  input_shape: inputShape,
  graph: z.strictObject({ nodes: z.array(graphNodeSchema).min(1).max(MAX_NODES), output: z.string() }),
  loss: lossSchema,
});

export const modelSpecSchema = z.union([sequentialSpecSchema, graphSpecSchema]);

export type LayerSpec = z.output<typeof layerSchema>;
export type LossSpec = z.output<typeof lossSchema>;
export type SequentialSpec = z.output<typeof sequentialSpecSchema>;
export type GraphSpec = z.output<typeof graphSpecSchema>;
export type GraphNodeSpec = z.output<typeof graphNodeSchema>;
export type ModelSpec = SequentialSpec | GraphSpec;

/** The spec of one layer type, e.g. `SpecOf<'Conv2d'>`. */
export type SpecOf<K extends LayerSpec['type']> = Extract<LayerSpec, { type: K }>;
