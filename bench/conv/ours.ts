/**
 * Single-thread time of the native backend's plain convolution kernels (forward, input Jacobianᵀ =
 * backward data, weight gradient) on the benchmark problems' convolutions, the same shapes as
 * onednn-conv.cc, for the conv decisions in docs/decisions.md: each shape on the device's own
 * im2col + GEMM kernels and, where the addon runs them on oneDNN, on oneDNN, alternately.
 *   node --import tsx bench/conv/ours.ts
 */
import { useBackend } from '../../src/backends/select.ts';
import { tf } from '../../src/core/tf.ts';
import { runKernel } from '../../src/core/ops/fused.ts';
import { CONV_FORWARD, CONV_INPUT_JAC_T, CONV_WEIGHT_GRAD, type ConvAttrs } from '../../src/core/ops/kernel-names.ts';
import { windowGeometry } from '../../src/nn/geometry.ts';

const SHAPES: [string, number, number, number, number, number, number][] = [
  // name, N, C, H (= W), O, K, padding
  ['2c2d conv1', 128, 1, 28, 32, 5, 2],
  ['2c2d conv2', 128, 32, 14, 64, 5, 2],
  ['3c3d conv1', 128, 3, 32, 64, 5, 0],
  ['3c3d conv2', 128, 64, 14, 96, 3, 0],
  ['3c3d conv3', 128, 96, 6, 128, 3, 1],
];

function msPerCall(f: () => tf.Tensor): number {
  f().dispose();
  let reps = 0;
  // CPU time of the process: the machines are shared; the kernels run on this one thread.
  const cpuMs = () => {
    const c = process.cpuUsage();
    return (c.user + c.system) / 1000;
  };
  const t0 = cpuMs();
  let spent = 0;
  do {
    f().dispose();
    reps++;
    spent = cpuMs() - t0;
  } while (spent < 1000 && reps < 200);
  return spent / reps;
}

await useBackend('native', { threads: 1 });
const addon = (tf.engine().findBackend('native') as unknown as { addon: { useConvLibrary(on: boolean): boolean } }).addon;
const paths: [string, boolean][] = addon.useConvLibrary(true) ? [['im2col', false], ['oneDNN', true]] : [['im2col', false]];
console.log(`${'conv'.padEnd(12)} ${'kernels'.padEnd(8)} ${'forward'.padStart(10)} ${'bwd data'.padStart(10)} ${'bwd weights'.padStart(11)}   (CPU ms per call; native backend)`);
for (const [name, N, C, H, O, K, pad] of SHAPES) {
  const geom = windowGeometry([H, H], [K, K], [1, 1], [1, 1], [pad, pad], [pad, pad], name);
  const attrs: ConvAttrs = { geom, groups: 1 };
  const x = tf.randomNormal([N, C, H, H]);
  const W = tf.randomNormal([O, C, K, K]);
  const bias = tf.randomNormal([O]);
  const V = tf.randomNormal([N, O, ...geom.outSize]);
  const V1 = V.reshape([1, N, O, ...geom.outSize]);
  for (const [label, on] of paths) {
    addon.useConvLibrary(on);
    const fwd = msPerCall(() => runKernel(CONV_FORWARD, { x, W, bias }, attrs));
    const bwdData = msPerCall(() => runKernel(CONV_INPUT_JAC_T, { V, W }, attrs));
    const bwdWeights = msPerCall(() => runKernel(CONV_WEIGHT_GRAD, { x, V: V1 }, attrs));
    console.log(`${name.padEnd(12)} ${label.padEnd(8)} ${fwd.toFixed(2).padStart(10)} ${bwdData.toFixed(2).padStart(10)} ${bwdWeights.toFixed(2).padStart(11)}`);
  }
  addon.useConvLibrary(true);
  tf.dispose([x, W, bias, V, V1]);
}
