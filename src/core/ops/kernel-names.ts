/**
 * backpack-ts's own kernels (tfjs custom kernels, registered per backend like tfjs's own): the
 * sliding-window ops every backend has (native: device kernels; wasm and cpu: host loops,
 * src/core/ops/host/), and the fused convolution kernels only the native backend has (the
 * others compose tfjs ops, src/core/derivatives/conv.ts). Inputs and attributes of each:
 */
import type { WindowGeometry } from '../../nn/geometry.ts';

/** x [B, C, *in] → 'columns' [C·K, B·P] | 'samples' [B, C·K, P] | 'patches' [B, G, P, Cg·K]. */
export const UNFOLD = 'BpUnfold';
/** The adjoint: cols ('columns' or 'samples' layout) → [B, C, *in], overlapping windows summed. */
export const FOLD = 'BpFold';
/** x [B, C, *in] → [B, C, *out], windows padded with −∞ (torch's max pooling). */
export const MAX_POOL = 'BpMaxPool';
/** {x, V [v, B, C, *out]} → [v, B, C, *in]: V routed to each window's first maximum. */
export const MAX_POOL_JAC_T = 'BpMaxPoolJacT';
/** {x, V [B, C, *in]} → [B, C, *out]: V read at each window's first maximum. */
export const MAX_POOL_JVP = 'BpMaxPoolJvp';

export type UnfoldLayout = 'columns' | 'samples' | 'patches';

export interface WindowAttrs {
  geom: WindowGeometry;
  [key: string]: unknown;
}
export interface UnfoldAttrs extends WindowAttrs {
  layout: UnfoldLayout;
  groups: number;
}
export interface FoldAttrs extends WindowAttrs {
  layout: Exclude<UnfoldLayout, 'patches'>;
  channels: number;
  batch: number;
}

/** Fused convolutions (native only). W is [O, C/G, *k]; V [v, n, O, *out]; K = Π k, P = Π out. */
export const CONV_FORWARD = 'BpConvForward'; // {x, W, bias?} → [n, O, *out]
export const CONV_INPUT_JAC_T = 'BpConvInputJacT'; // {V [m, O, *out], W} → [m, C, *in]
export const CONV_WEIGHT_GRAD = 'BpConvWeightGrad'; // {x, V} → [v, O, C/G, *k], summed over n
export const CONV_WEIGHT_JAC = 'BpConvWeightJac'; // {x, V} → [v, n, O, C/G, *k]
export const CONV_WEIGHT_SQUARES = 'BpConvWeightSquares'; // {x, V, shift?} → mode 'sum' [θ] | 'rows' [n, θ] | 'norms' [n] | 'centred' [2, θ] | 'moments' [3, θ]
export const CONV_INPUT_GRAM = 'BpConvInputGram'; // {x} → [C·K, C·K] = Σ_n U_n U_nᵀ (groups = 1)

/**
 * A Linear layer's per-sample weight gradients and their sum, in one pass (native only): {V [v, n, O],
 * x [n, I]} → [rows [v, n, O, I] = V_vn x_nᵀ, sum [v, O, I] = Σ_n V_vn x_nᵀ by fused multiply-adds in sample order].
 */
export const OUTER_PRODUCTS = 'BpOuterProducts';

/**
 * A ReLU's Jacobian products in one pass (native only): {V [..., *s], x [*s]} → V ⊙ step(x), x
 * broadcast as numpy does (NaN where x is NaN, as V.mul(tf.step(x))).
 */
export const MUL_STEP = 'BpMulStep';

/**
 * 'centred': [Σ (J − shift), Σ (J − shift)²] over v and n, accumulated in double (a variance's moments);
 * 'moments': [s; Σ (J − s); Σ (J − s)²] the same about s = the mean of J over v and n, rounded to float
 * (no shift input: the kernel finds the mean on its way).
 */
export type SquaresMode = 'sum' | 'rows' | 'norms' | 'centred' | 'moments';

export interface ConvAttrs extends WindowAttrs {
  groups: number;
  mode?: SquaresMode;
}
