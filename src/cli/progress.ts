/**
 * The CLI's progress bar on stderr: shards done, samples/s, and what is happening: the time left
 * while shards run, then the merge and write that follow the last shard (which can take a while
 * for large outputs, and would otherwise look like a bar stuck at its end) (cli-progress).
 */
import cliProgress from 'cli-progress';
import type { Progress } from '../coordinator/run-job.ts';

export interface ProgressBar {
  update(p: Progress): void;
  stop(): void;
}

/** What the bar says after its counts: an estimate of the time left, or the phase after the last shard. */
export function progressStatus(p: Progress): string {
  if (p.shardsTotal > 0 && p.shardsDone >= p.shardsTotal) return 'all shards done: merging, writing results';
  if (p.samplesDone <= 0 || p.elapsedMs <= 0) return 'ETA -';
  const leftS = ((p.N - p.samplesDone) * p.elapsedMs) / p.samplesDone / 1000;
  return `ETA ${leftS < 90 ? `${Math.ceil(leftS)}s` : leftS < 5400 ? `${Math.round(leftS / 60)}min` : `${(leftS / 3600).toFixed(1)}h`}`;
}

export function progressBar(enabled: boolean, label = 'shards'): ProgressBar {
  if (!enabled || !process.stderr.isTTY) return { update: () => {}, stop: () => {} };
  const bar = new cliProgress.SingleBar(
    { format: `${label} [{bar}] {value}/{total} | {rate} samples/s | {status}`, stream: process.stderr, hideCursor: true },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(p) {
      if (!started) {
        bar.start(p.shardsTotal, 0, { rate: '-', status: 'ETA -' });
        started = true;
      }
      bar.update(p.shardsDone, { rate: (p.samplesDone / (p.elapsedMs / 1000)).toFixed(1), status: progressStatus(p) });
    },
    stop() {
      if (started) bar.stop();
    },
  };
}
