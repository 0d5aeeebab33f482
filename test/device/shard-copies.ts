/**
 * Host copies only at the edges of a shard. On the cuda device every host↔device copy goes
 * through upload()/download(), which the device counts (DeviceCounters, read by stats()); this
 * check also records each one from JavaScript (the test hook: the backend's addon methods
 * wrapped for one shard) and requires:
 *   forward   no download; uploads: the shard's inputs and targets, else constants ≤ 1 KiB
 *             (scalars, an identity matrix), never data computed on the device
 *   backward  downloads: exactly the partial results and the loss, one each, byte for byte;
 *             uploads: GGNMP/HMP's vectors, else constants ≤ 1 KiB
 *   counters  the device's own counts equal what JavaScript saw (no hidden copies)
 *   memory    a steady-state shard makes no cudaMalloc/cudaFree, and frees every buffer it made
 * MC quantities (DiagGGNMC, BatchDiagGGNMC, SqrtGGNMC, KFAC) draw their samples on the device from
 * uniforms made on the host (core/random.ts: counter-based, the same on every backend) and
 * uploaded: no extra download. Variance and GradientNoiseScale share one moments partial.
 */
import path from 'node:path';
import { loadCudaAddon } from '../../src/backends/cuda/addon.ts';
import { recordHostCopies, type HostCopyRecord, type HostTransfer } from '../../src/backends/cuda/host-copies.ts';
import { useBackend } from '../../src/backends/select.ts';
import { backwardShard } from '../../src/core/backprop.ts';
import { disposeShardState, forwardShard, type ShardRequest } from '../../src/core/forward.ts';
import { tf } from '../../src/core/tf.ts';
import { numel, type HostTensor } from '../../src/io/host-tensor.ts';
import { readTensorFile, readTensorMap } from '../../src/io/tensor-file.ts';
import { buildNetwork, disposeNetwork, type Network } from '../../src/nn/network.ts';
import { readModelSpec } from '../../src/nn/parse-spec.ts';
import type { PartialEntry, ShardPartials } from '../../src/core/partials.ts';
import { VARIANCE_MOMENTS } from '../../src/extensions/shared/moments.ts';
import { EXTENSION_NAMES, GRAD_FIELD, type ExtensionName } from '../../src/vocabulary.ts';
import { assert, type CheckEnv, type DeviceCheck } from './harness.ts';

const CONSTANT_BYTES = 1024;
const MC: ExtensionName[] = ['DiagGGNMC', 'BatchDiagGGNMC', 'SqrtGGNMC', 'KFAC'];

type Transfer = HostTransfer;
const recordTransfers = <T>(f: () => T) => recordHostCopies(tf.backend(), f);

function checkCounters(r: HostCopyRecord<unknown>, label: string): void {
  const ups = r.transfers.filter((t) => t.dir === 'up');
  const downs = r.transfers.filter((t) => t.dir === 'down');
  const sum = (ts: Transfer[]) => ts.reduce((a, t) => a + t.bytes, 0);
  assert(r.counted.uploads === ups.length && r.counted.uploadBytes === sum(ups),
    `${label}: the device counted ${r.counted.uploads} uploads (${r.counted.uploadBytes} B), JavaScript saw ${ups.length} (${sum(ups)} B)`);
  assert(r.counted.downloads === downs.length && r.counted.downloadBytes === sum(downs),
    `${label}: the device counted ${r.counted.downloads} downloads (${r.counted.downloadBytes} B), JavaScript saw ${downs.length} (${sum(downs)} B)`);
}

/** Removes one transfer of each expected size; returns the sizes not found. */
function take(transfers: Transfer[], bytes: number[]): number[] {
  const missing: number[] = [];
  for (const b of bytes) {
    const i = transfers.findIndex((t) => t.bytes === b);
    if (i < 0) missing.push(b);
    else transfers.splice(i, 1);
  }
  return missing;
}

/**
 * Bytes each partial was downloaded as: float32 sums and rows; moments as [shift; Σ(g − s); Σ(g − s)²].
 * `optional`: the gradients of parameters that also have moments, which the engine may take from
 * the moments (mean × n) instead of downloading them (src/core/backprop.ts).
 */
function resultBytes(p: ShardPartials): { required: number[]; optional: number[] } {
  const bytes = (e: PartialEntry) => (e.kind === 'sum' || e.kind === 'rows' ? e.data.length * 4 : e.kind === 'moments' ? numel(e.shape) * 3 * 4 : 0);
  const withMoments = new Set(Object.keys(p.entries).filter((k) => k.endsWith(`.${VARIANCE_MOMENTS}`)).map((k) => k.slice(0, -`.${VARIANCE_MOMENTS}`.length)));
  const required: number[] = [];
  const optional: number[] = [];
  for (const [key, e] of Object.entries(p.entries)) {
    const b = bytes(e);
    if (b === 0) continue;
    const param = key.slice(0, -`.${GRAD_FIELD}`.length);
    (key.endsWith(`.${GRAD_FIELD}`) && withMoments.has(param) ? optional : required).push(b);
  }
  return { required, optional };
}

interface Job {
  net: Network;
  inputs: HostTensor;
  targets: HostTensor;
  vectors: Map<string, HostTensor>;
}

async function loadJob(dir: string): Promise<Job> {
  const spec = await readModelSpec(path.join(dir, 'model.json'));
  const net = buildNetwork(spec, await readTensorMap(path.join(dir, 'weights.safetensors')));
  const vectors = new Map<string, HostTensor>();
  for (const name of net.paramNames) {
    const shape = [1, ...net.paramShapes[name]];
    vectors.set(name, { dtype: 'float32', shape, data: Float32Array.from({ length: numel(shape) }, (_, i) => Math.sin(i + 1)) });
  }
  return { net, inputs: await readTensorFile(path.join(dir, 'inputs.npy')), targets: await readTensorFile(path.join(dir, 'targets.npy')), vectors };
}

function shardCheck(fixture: string, mc: boolean): DeviceCheck {
  return {
    group: 'host copies',
    name: `${fixture}: ${mc ? 'MC quantities' : 'every other quantity'}, no copy inside the shard`,
    async run(env: CheckEnv) {
      await useBackend('cuda');
      const job = await loadJob(path.join(env.fixtureRoot, fixture));
      const N = job.inputs.shape[0];
      const extensions = mc ? MC : EXTENSION_NAMES.filter((e) => e !== 'KFRA' && !MC.includes(e));
      const request = (shardId: number): ShardRequest => ({ shardId, inputs: job.inputs, targets: job.targets, offset: 0, N, extensions, seed: 3, mcSamples: 1, vectors: job.vectors });
      const addon = loadCudaAddon();
      try {
        const shard = (id: number) => {
          const fwd = recordTransfers(() => forwardShard(job.net, request(id)));
          const state = fwd.result;
          try {
            const bwd = recordTransfers(() => backwardShard(job.net, state));
            return { fwd, bwd, state };
          } finally {
            disposeShardState(state);
          }
        };
        shard(0); // warm-up: index maps, caches
        const buffers0 = addon.stats().buffers;
        const mallocs0 = addon.cudaInfo().rawMallocs;
        const { fwd, bwd, state } = shard(1);
        const label = `${fixture} shard`;
        checkCounters(fwd, `${label} forward`);
        checkCounters(bwd, `${label} backward`);

        assert(fwd.transfers.every((t) => t.dir === 'up'), `${label}: the forward pass downloaded ${fwd.transfers.filter((t) => t.dir === 'down').map((t) => t.bytes).join(', ')} B`);
        const ups = [...fwd.transfers];
        const inputBytes = numel(job.inputs.shape) * 4;
        const missingInputs = take(ups, [inputBytes]);
        assert(missingInputs.length === 0, `${label}: no upload of the inputs (${inputBytes} B) in the forward pass`);
        const targetBytes = state.targets.size * (state.targets.dtype === 'bool' ? 1 : 4);
        take(ups, [targetBytes]);
        const big = ups.filter((t) => t.bytes > CONSTANT_BYTES);
        assert(big.length === 0, `${label}: forward uploads beyond inputs, targets and constants: ${big.map((t) => t.bytes).join(', ')} B`);

        const downs = bwd.transfers.filter((t) => t.dir === 'down');
        const expected = resultBytes(bwd.result);
        const missing = take(downs, [...expected.required, 4]);
        assert(missing.length === 0, `${label}: results never downloaded: ${missing.join(', ')} B`);
        take(downs, expected.optional);
        // MC draws are made on the device too (the uniforms are uploaded, keyed by sample).
        assert(downs.length === 0, `${label}: downloads inside the backward pass that are not results: ${downs.map((t) => t.bytes).join(', ')} B`);
        const bups = bwd.transfers.filter((t) => t.dir === 'up');
        take(bups, [...job.vectors.values()].map((v) => numel(v.shape) * 4));
        const bigB = bups.filter((t) => t.bytes > CONSTANT_BYTES && !mc);
        assert(bigB.length === 0, `${label}: backward uploads beyond vectors and constants: ${bigB.map((t) => t.bytes).join(', ')} B`);

        shard(2);
        const mallocs = addon.cudaInfo().rawMallocs - mallocs0;
        assert(mallocs === 0, `${label}: steady-state shards made ${mallocs} cudaMalloc calls (the caching allocator should serve them all)`);
        assert(addon.stats().buffers === buffers0, `${label}: ${addon.stats().buffers - buffers0} device buffers outlived their shard`);
        env.log(`  ${fixture}: forward ${fwd.transfers.length} uploads (${fwd.counted.uploadBytes} B); backward ${bwd.counted.downloads} downloads = ${bwd.counted.downloads - 1} results + loss (${expected.optional.length} gradients may come from moments instead), ${bwd.counted.uploads} uploads (${bwd.counted.uploadBytes} B)`);
      } finally {
        disposeNetwork(job.net);
      }
    },
  };
}

export function shardCopyChecks(): DeviceCheck[] {
  return [
    shardCheck('cnn_relu_maxpool_ce_sum', false),
    shardCheck('mlp_tanh_sigmoid_ce_mean', false),
    shardCheck('mlp_tanh_sigmoid_ce_mean', true),
    shardCheck('mlp_bce_logits_mean', true),
  ];
}
