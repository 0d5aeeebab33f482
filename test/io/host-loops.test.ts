/**
 * The addon's host loops (src/io/host-loops.ts) give what V8's own conversions and the JS loops
 * give, bit for bit: rounding to nearest even, NaN, ±Infinity, float64 values beyond float32's
 * range, subnormals, scales that overflow, lengths on both sides of the threshold where the addon
 * takes over; its moments from shifted sums equal the JS loop's; and its finiteness check finds a
 * NaN or infinity anywhere.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { loadNativeAddon } from '../../src/backends/native/addon.ts';
import { allFinite, narrowInto, registerNativeHostLoops, shiftedMomentsInto, widenInto } from '../../src/io/host-loops.ts';
import { nativeOk } from '../helpers/backends.ts';

function awkwardFloat64(n: number, seed: number): Float64Array {
  const out = new Float64Array(n);
  let s = seed >>> 0;
  const next = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const special = [NaN, Infinity, -Infinity, 1e300, -1e300, 3.4028235677973366e38, 1e-45, 7e-46, -0, 0, 1 + 2 ** -24, 1 + 3 * 2 ** -24];
  for (let i = 0; i < n; i++) out[i] = i % 97 < special.length ? special[i % 97] : (next() - 0.5) * 10 ** Math.floor(next() * 20 - 10);
  return out;
}

/** What JS gives without the addon: Float32Array rounding of the float64 product. */
function jsNarrow(src: Float64Array, scale: number): Float32Array {
  const out = new Float32Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = src[i] * scale;
  return out;
}

const bits = (a: Float32Array | Float64Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

describe.skipIf(!nativeOk)('host loops through the native addon', () => {
  loadNativeAddon(); // registers its loop
  afterAll(() => registerNativeHostLoops(loadNativeAddon()));

  for (const n of [0, 5, 2047, 2048, 10_001]) {
    it(`narrows and widens ${n} values bit for bit as JS does`, () => {
      const src = awkwardFloat64(n, n + 1);
      for (const scale of [1, 1 / 128, 3, 1e30, -0.5]) {
        const out = new Float32Array(n);
        narrowInto(out, src, scale);
        expect(bits(out)).toEqual(bits(jsNarrow(src, scale)));
      }
      const f32 = jsNarrow(src, 1);
      const wide = new Float64Array(n);
      widenInto(wide, f32);
      expect(bits(wide)).toEqual(bits(Float64Array.from(f32)));
    });
  }

  it('works on views at an offset and refuses mismatched arrays with a clear error', () => {
    const backing = new Float64Array(5000).map((_, i) => i / 3);
    const src = backing.subarray(7, 4007);
    const out = new Float32Array(4000);
    narrowInto(out, src, 2);
    expect(bits(out)).toEqual(bits(jsNarrow(src, 2)));
    const convert = loadNativeAddon().convert;
    expect(() => convert(new Float32Array(3), new Float64Array(4), 1)).toThrow(/equal lengths/);
    expect(() => convert(new Int32Array(3) as never, new Float64Array(3), 1)).toThrow(/Float32Array\/Float64Array/);
  });

  it('gives the moments of shifted sums bit for bit as the JS loop does', () => {
    for (const width of [3, 2047, 2048, 5001]) {
      const values = jsNarrow(awkwardFloat64(3 * width, width), 1);
      for (const n of [1, 7, 128]) {
        const viaAddon = new Float64Array(2 * width);
        shiftedMomentsInto(viaAddon, values, n);
        const inJs = new Float64Array(2 * width);
        for (let j = 0; j < width; j++) {
          const s1 = values[width + j];
          inJs[j] = values[j] + s1 / n;
          inJs[width + j] = values[2 * width + j] - (s1 * s1) / n;
        }
        expect(bits(viaAddon)).toEqual(bits(inJs));
      }
    }
    expect(() => loadNativeAddon().shiftedMoments(new Float32Array(4), 2, new Float64Array(2))).toThrow(/3·w/);
  });

  it('finds a NaN or infinity at any position, and passes extreme finite values', () => {
    const n = 5000;
    const finite = Float32Array.from({ length: n }, (_, i) => [3.4028234663852886e38, -3.4028234663852886e38, 1e-45, -0, 0, i][i % 6]);
    expect(allFinite(finite)).toBe(true);
    expect(loadNativeAddon().allFinite(finite)).toBe(true);
    for (const at of [0, 1, 15, 16, 17, 2047, 2048, 4095, n - 1]) {
      for (const bad of [NaN, Infinity, -Infinity]) {
        const v = finite.slice();
        v[at] = bad;
        expect(allFinite(v), `${bad} at ${at}`).toBe(false);
      }
    }
    expect(() => loadNativeAddon().allFinite(new Float64Array(3) as never)).toThrow(/Float32Array/);
  });

  it('falls back to the JS loops when no addon is registered, with the same results', () => {
    const src = awkwardFloat64(4096, 9);
    const withAddon = new Float32Array(4096);
    narrowInto(withAddon, src, 1 / 7);
    registerNativeHostLoops(null);
    const withoutAddon = new Float32Array(4096);
    narrowInto(withoutAddon, src, 1 / 7);
    expect(bits(withoutAddon)).toEqual(bits(withAddon));
    expect(allFinite(withoutAddon)).toBe(false); // src holds NaN and infinities
    expect(allFinite(new Float32Array(4096).fill(2))).toBe(true);
  });
});
