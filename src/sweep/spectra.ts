/**
 * A sweep's "spectrum" section: for each checkpoint, the GGN or Hessian spectrum (top eigenvalues by
 * Lanczos, density by SLQ) over one dataset's rows in file order, as `backpack-ts spectrum` computes
 * it, written to OUT/spectra/<checkpoint>/spectrum.json for `report`. A checkpoint whose file exists
 * is skipped (written atomically, so an existing file is whole): resuming costs nothing. The
 * spectra run on the sweep's local pool, or in this process when it has none (workers 0, queue).
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { log } from '../cli/log.ts';
import { createInProcessPool } from '../coordinator/in-process-pool.ts';
import type { WorkerPool } from '../coordinator/pool.ts';
import type { Dataset } from '../data/dataset.ts';
import type { HostTensor } from '../io/host-tensor.ts';
import type { Network } from '../nn/network.ts';
import { curvatureOperator } from '../spectrum/curvature-operator.ts';
import { datasetData, DEFAULT_BATCH_SIZE } from '../spectrum/data.ts';
import { SPECTRA_DIR, SPECTRUM_FILE, writeSpectrum } from '../spectrum/output.ts';
import { runSpectrum } from '../spectrum/run-spectrum.ts';
import type { BackendName } from '../vocabulary.ts';
import type { Checkpoint, SweepSpec } from './spec.ts';

export interface SpectraEnv {
  out: string;
  datasets: Dataset[];
  pool: WorkerPool | null;
  backend: BackendName;
  /** The checkpoint's weights and network (the sweep's cache). */
  load(c: Checkpoint): Promise<{ weights: Map<string, HostTensor>; net: Network }>;
}

export const spectrumFileOf = (out: string, checkpoint: string) => path.join(out, SPECTRA_DIR, checkpoint, SPECTRUM_FILE);

/** Computes the spectra still missing; returns how many it computed. */
export async function computeSpectra(spec: SweepSpec, env: SpectraEnv): Promise<number> {
  const s = spec.spectrum;
  if (!s) return 0;
  const ds = env.datasets[s.dataset];
  const pool = env.pool ?? createInProcessPool();
  let computed = 0;
  for (const c of spec.checkpoints) {
    if (existsSync(spectrumFileOf(env.out, c.name))) continue;
    const t0 = performance.now();
    const { weights, net } = await env.load(c);
    // Batches of whole shards: the plan is planShards(N, shardSize), as for `backpack-ts spectrum`.
    const batchSize = Math.ceil(DEFAULT_BATCH_SIZE / s.shardSize) * s.shardSize;
    const data = datasetData(ds, batchSize, s.maxSamples);
    const op = curvatureOperator(pool, net, weights, data, { curvature: s.curvature, shardSize: s.shardSize, backend: env.backend, seed: spec.options.seed });
    const r = await runSpectrum(op, {
      eigen: s.topK > 0 ? { top: s.topK } : undefined,
      density: s.probes > 0 ? { probes: s.probes, steps: s.steps } : undefined,
      seed: spec.options.seed,
    });
    const dir = path.dirname(spectrumFileOf(env.out, c.name));
    await mkdir(dir, { recursive: true });
    await writeSpectrum(dir, net, r, { checkpoint: c.name, weights: c.path, data: ds.name, N: data.N, curvature: s.curvature, loss: op.loss, shardSize: s.shardSize, batchSize, backend: env.backend });
    computed++;
    log.info(`spectrum of checkpoint ${c.name}: ${r.products} products, ${(performance.now() - t0).toFixed(0)} ms${r.eigen ? `; top eigenvalue ${r.eigen.top[0]?.value.toPrecision(6)}` : ''}`);
  }
  return computed;
}
