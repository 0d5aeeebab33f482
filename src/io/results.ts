/** Writes a job's results in the CLI contract's layout: results.safetensors + summary.json. */
import { mkdir } from 'node:fs/promises';
import { writeFileAtomic } from './atomic-write.ts';
import path from 'node:path';
import type { ResultTensor } from './result-tensor.ts';
import { writeSafetensorsStreaming } from './safetensors-stream.ts';

/** The results file's name in an output directory. */
export const RESULTS_FILE = 'results.safetensors';

export interface Summary {
  loss: number;
  N: number;
  backend: string;
  extensions: string[];
  shards: number;
  /** Every result key with its shape. */
  shapes: Record<string, number[]>;
  timings: Record<string, number>;
  [extra: string]: unknown;
}

export async function writeResults(outDir: string, results: Map<string, ResultTensor>, summary: Omit<Summary, 'shapes'>): Promise<Summary> {
  await mkdir(outDir, { recursive: true });
  const shapes: Record<string, number[]> = {};
  for (const [key, t] of results) shapes[key] = t.shape;
  writeSafetensorsStreaming(path.join(outDir, RESULTS_FILE), results, { format: 'backpack-ts', loss: String(summary.loss) });
  const full = { ...summary, shapes } as Summary;
  await writeFileAtomic(path.join(outDir, 'summary.json'), `${JSON.stringify(full, null, 2)}\n`);
  return full;
}
