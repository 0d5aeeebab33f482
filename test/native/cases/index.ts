/** Every case table of the native conformance suite. */
import { CONV_CASES } from './conv.ts';
import { BINARY_CASES, UNARY_CASES } from './elementwise.ts';
import { MATMUL_CASES } from './matmul.ts';
import { MISC_CASES } from './misc.ts';
import { OUTER_CASES } from './outer.ts';
import { ARG_CASES, REDUCE_CASES } from './reduce.ts';
import { MOVEMENT_CASES, TRANSPOSE_CASES } from './shape.ts';
import { WINDOW_CASES } from './windows.ts';

export const ALL_CASES = [
  ...UNARY_CASES, ...BINARY_CASES, ...REDUCE_CASES, ...ARG_CASES, ...MATMUL_CASES, ...TRANSPOSE_CASES, ...MOVEMENT_CASES, ...MISC_CASES,
  ...WINDOW_CASES, ...CONV_CASES, ...OUTER_CASES,
];
