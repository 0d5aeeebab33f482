/**
 * One vocabulary for the whole project: module kinds, quantity (extension) names and their
 * savefields. The CLI, worker messages, queue payloads and output keys all use these strings.
 */

/** Layer types, spelled as torch.nn spells them. */
export const MODULE_KINDS = [
  'Linear',
  'Conv1d', 'Conv2d', 'Conv3d',
  'ConvTranspose1d', 'ConvTranspose2d', 'ConvTranspose3d',
  'MaxPool1d', 'MaxPool2d', 'MaxPool3d',
  'AvgPool1d', 'AvgPool2d', 'AvgPool3d',
  'AdaptiveAvgPool1d', 'AdaptiveAvgPool2d', 'AdaptiveAvgPool3d',
  'ZeroPad2d', 'Flatten', 'Dropout', 'Identity',
  'ReLU', 'Sigmoid', 'Tanh', 'LeakyReLU', 'ELU', 'SELU', 'LogSigmoid',
  'BatchNorm1d', 'BatchNorm2d', 'BatchNorm3d',
  'LayerNorm', 'GroupNorm',
] as const;
export type ModuleKind = (typeof MODULE_KINDS)[number];

export const LOSS_KINDS = ['CrossEntropyLoss', 'MSELoss', 'BCEWithLogitsLoss'] as const;
export type LossKind = (typeof LOSS_KINDS)[number];

export const REDUCTIONS = ['mean', 'sum'] as const;
export type Reduction = (typeof REDUCTIONS)[number];

export const PARAM_NAMES = ['weight', 'bias'] as const;
export type ParamName = (typeof PARAM_NAMES)[number];

/** Quantity names (BackPACK's extension class names) → savefield (the output key suffix). */
export const SAVEFIELDS = {
  BatchGrad: 'grad_batch',
  BatchL2Grad: 'batch_l2',
  SumGradSquared: 'sum_grad_squared',
  Variance: 'variance',
  DiagGGNExact: 'diag_ggn_exact',
  DiagGGNMC: 'diag_ggn_mc',
  BatchDiagGGNExact: 'diag_ggn_exact_batch',
  BatchDiagGGNMC: 'diag_ggn_mc_batch',
  SqrtGGNExact: 'sqrt_ggn_exact',
  SqrtGGNMC: 'sqrt_ggn_mc',
  DiagHessian: 'diag_h',
  BatchDiagHessian: 'diag_h_batch',
  KFAC: 'kfac',
  KFLR: 'kflr',
  KFRA: 'kfra',
  GGNMP: 'ggnmp',
  HMP: 'hmp',
  GradientNoiseScale: 'gradient_noise_scale',
} as const;
export type ExtensionName = keyof typeof SAVEFIELDS;
export const EXTENSION_NAMES = Object.keys(SAVEFIELDS) as ExtensionName[];

/** First-order quantities: they need only the gradient w.r.t. each layer output. */
export const FIRST_ORDER = ['BatchGrad', 'BatchL2Grad', 'SumGradSquared', 'Variance'] as const satisfies readonly ExtensionName[];

/**
 * What a quantity backpropagates besides the gradient: the exact or Monte-Carlo square-root GGN
 * factors, the signed factors of the exact Hessian, or KFRA's batch-averaged GGN (a collective).
 */
export type Backprop = 'sqrtExact' | 'sqrtMC' | 'hessian' | 'kfra';

/** The plain gradient's savefield; always computed. */
export const GRAD_FIELD = 'grad';
/** The field under which a 'products' task returns each parameter's full-network C·v sums. */
export const PRODUCTS_FIELD = 'products';

/** What --backend takes: a backend, or `auto` (cuda → native → wasm, the first that works here). */
export const BACKEND_CHOICES = ['auto', 'native', 'cuda', 'wasm', 'cpu', 'tensorflow'] as const;
export type BackendChoice = (typeof BACKEND_CHOICES)[number];
/** The backends themselves (what `auto` resolves to, and what workers run). */
export const BACKEND_NAMES = ['native', 'cuda', 'wasm', 'cpu', 'tensorflow'] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];
