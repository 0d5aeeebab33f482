/**
 * The parameter block of a kernel call: one Float64Array reused for every call on this thread
 * (kernels run synchronously), written in the order the addon reads (see addon.ts).
 */
const block = new Float64Array(4096);
let at = 0;

interface Params {
  begin(): Params;
  push(...values: number[]): Params;
  space(shape: readonly number[], ...strides: readonly (readonly number[])[]): Params;
  readonly block: Float64Array;
}

export const params: Params = {
  /** Starts a new parameter list. */
  begin() {
    at = 0;
    return params;
  },
  push(...values: number[]) {
    for (const v of values) block[at++] = v;
    return params;
  },
  /** nd, then the shape, then each operand's strides. */
  space(shape, ...strides) {
    block[at++] = shape.length;
    for (const d of shape) block[at++] = d;
    for (const s of strides) for (const d of s) block[at++] = d;
    return params;
  },
  get block() {
    return block;
  },
};
