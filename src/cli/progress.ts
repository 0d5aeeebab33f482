/** The CLI's progress bar on stderr: shards done, samples/s and ETA (cli-progress). */
import cliProgress from 'cli-progress';
import type { Progress } from '../coordinator/run-job.ts';

export interface ProgressBar {
  update(p: Progress): void;
  stop(): void;
}

export function progressBar(enabled: boolean, label = 'shards'): ProgressBar {
  if (!enabled || !process.stderr.isTTY) return { update: () => {}, stop: () => {} };
  const bar = new cliProgress.SingleBar(
    { format: `${label} [{bar}] {value}/{total} | {rate} samples/s | ETA {eta_formatted}`, stream: process.stderr, hideCursor: true },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(p) {
      if (!started) {
        bar.start(p.shardsTotal, 0, { rate: '-' });
        started = true;
      }
      bar.update(p.shardsDone, { rate: (p.samplesDone / (p.elapsedMs / 1000)).toFixed(1) });
    },
    stop() {
      if (started) bar.stop();
    },
  };
}
