/**
 * --max-memory bounds resident memory in every pool mode. A BatchGrad job on a 1,068,810-parameter
 * MLP with N = 300 has 1.28 GB of per-sample output, 2.5 times the 2 × 256 MiB its workers may use.
 * Run by the CLI with --stream in each mode, the peak resident memory of its whole process tree
 * (the sum of each process's kernel high-water mark, an upper bound) stays under docs/cli.md's
 * bound W·(B + 256 MiB) + 256 MiB; the results file is right (rows spot-checked against an
 * unsharded in-process run, sums close to it), and no temporary file is left.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBatch } from '../../src/api/run.ts';
import { useBackend } from '../../src/backends/select.ts';
import { residentBound } from '../../src/coordinator/memory-plan.ts';
import type { HostTensor } from '../../src/io/host-tensor.ts';
import { readTensorFile, readTensorMap } from '../../src/io/tensor-file.ts';
import { buildNetwork, disposeNetwork, type Network } from '../../src/nn/network.ts';
import { readModelSpec } from '../../src/nn/parse-spec.ts';
import { SHM_ROOT } from '../../src/protocol/shm-transport.ts';
import { readSafetensorsRows, readSafetensorsTensor, spawnCli, watchMemory, writeMlpJob } from '../helpers/cli-process.ts';
import { expectClose } from '../helpers/expect-close.ts';

const N = 300;
const BUDGET = 256 * 2 ** 20;
const CHECKED = [0, 181, N - 1];
const MiB = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;

let dir: string;
let files: ReturnType<typeof writeMlpJob>;
let net: Network;
let reference: Map<string, HostTensor>;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'bp-memory-'));
  files = writeMlpJob(dir, N);
  await useBackend('wasm');
  net = buildNetwork(await readModelSpec(files.model), await readTensorMap(files.weights));
  // Unsharded, in this process: the gradient and the per-sample rows of a few samples.
  const r = runBatch(net, await readTensorFile(files.inputs), await readTensorFile(files.targets), { extensions: ['BatchGrad'], subsampling: CHECKED });
  reference = r.results;
});

afterAll(() => {
  disposeNetwork(net);
  rmSync(dir, { recursive: true, force: true });
});

describe.each([
  ['threads', 2, ['--workers', '2']],
  ['processes', 2, ['--workers', '2', '--pool', 'processes']],
  ['in-process', 0, ['--workers', '0']],
] as const)('BatchGrad with 1.28 GB of output, --max-memory 256M --stream, %s', (mode, workers, poolArgs) => {
  it('peak resident memory of the process tree stays under the stated bound; results right; no temp files left', async () => {
    const out = path.join(dir, `out-${mode}`);
    const cli = spawnCli(['run', '--model', files.model, '--weights', files.weights, '--inputs', files.inputs, '--targets', files.targets,
      '--extensions', 'BatchGrad', '--out', out, '--max-memory', '256M', '--stream', '--quiet', ...poolArgs]);
    const watch = watchMemory(cli.child.pid!);
    const t0 = performance.now();
    const { code, stderr } = await cli.done;
    const mem = watch.stop();
    const seconds = (performance.now() - t0) / 1000;
    expect(code, stderr).toBe(0);
    const bound = residentBound(workers, BUDGET);
    // Visible in the test log: what was measured, against what.
    process.stdout.write(`memory-bound ${mode}: peak ${MiB(mem.hwmSumBytes)} (Σ VmHWM over ${mem.processes} processes; polled ${MiB(mem.polledPeakBytes)}), bound ${MiB(bound)}, ${seconds.toFixed(1)} s\n`);
    expect(mem.hwmSumBytes, `peak ${MiB(mem.hwmSumBytes)} over the bound ${MiB(bound)}`).toBeLessThan(bound);

    const summary = JSON.parse(readFileSync(path.join(out, 'summary.json'), 'utf8'));
    expect(summary.streamed).toBe(true);
    expect(summary.shards).toBeGreaterThanOrEqual(10); // cut to fit the budget: ~31 samples a shard
    const results = path.join(out, 'results.safetensors');
    for (const p of net.paramNames) {
      const rows = readSafetensorsRows(results, `${p}.grad_batch`, CHECKED);
      const expected = reference.get(`${p}.grad_batch`)!.data as Float32Array;
      const width = expected.length / CHECKED.length;
      rows.forEach((row, i) => expectClose(row, expected.subarray(i * width, (i + 1) * width), { rtol: 1e-6, label: `${mode} ${p}.grad_batch[${CHECKED[i]}]` }));
      // The gradient: summed over shards in another order than the unsharded run.
      expectClose(readSafetensorsTensor(results, `${p}.grad`), reference.get(`${p}.grad`)!.data as Float32Array, { rtol: 1e-5, label: `${mode} ${p}.grad` });
    }

    expect(readdirSync(out).sort()).toEqual(['results.safetensors', 'summary.json']);
    expect(readdirSync(SHM_ROOT).filter((n) => n.startsWith(`backpack-job-${cli.child.pid}-`))).toEqual([]);
    rmSync(out, { recursive: true, force: true });
    expect(existsSync(out)).toBe(false);
  }, 240_000);
});
