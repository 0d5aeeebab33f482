import { concatRows } from '../reduce/merge.ts';
/**
 * Exact accumulation over the batches of a pass. Each batch's partials were computed as a slice of
 * one batch of N samples (ρ from the pass's N, global sample offsets), so adding them gives the
 * partials of that whole batch: sums add in float64 in batch order (never arrival order), moments
 * merge by Chan et al.'s pairwise update (src/reduce/moments.ts) in batch order, rows are
 * kept and concatenated once at the end (pairwise concatenation would copy quadratically).
 */
import { BackpackError, ErrorCode } from '../errors/index.ts';
import { mergeMoments, type MomentsEntry } from '../reduce/moments.ts';
import type { PartialEntry, Partials } from '../core/partials.ts';

type SumEntry = Extract<PartialEntry, { kind: 'sum' }>;
type RowsEntry = Extract<PartialEntry, { kind: 'rows' }>;

export class PartialsAccumulator {
  private readonly sums = new Map<string, SumEntry>();
  private readonly moments = new Map<string, MomentsEntry>();
  private readonly rows = new Map<string, RowsEntry[]>();
  private count = 0;
  private loss = 0;

  /** Adds one batch's merged partials; call in batch order. */
  add(batch: Partials): void {
    this.count += batch.count;
    this.loss += batch.loss;
    for (const [key, e] of Object.entries(batch.entries)) {
      if (e.kind === 'sum') {
        const into = this.sums.get(key);
        if (!into) {
          this.sums.set(key, { kind: 'sum', shape: e.shape, data: new Float64Array(e.data) });
          continue;
        }
        if (into.data.length !== e.data.length) throw new BackpackError(ErrorCode.Internal, `partial '${key}' changed size between batches`, false);
        for (let j = 0; j < e.data.length; j++) into.data[j] += e.data[j];
      } else if (e.kind === 'moments') {
        const into = this.moments.get(key);
        if (into) mergeMoments(key, into, e);
        else this.moments.set(key, { ...e, data: new Float64Array(e.data) });
      } else if (e.kind === 'rows') {
        const list = this.rows.get(key) ?? [];
        list.push({ ...e, index: new Int32Array(e.index), data: new Float32Array(e.data) });
        this.rows.set(key, list);
      } else {
        throw new BackpackError(ErrorCode.Internal, `partial '${key}' was spilled to disk; sweeps hold rows in memory`, false);
      }
    }
  }

  /** The partials of the whole pass, as if it had been one batch. */
  result(): Partials {
    const entries: Record<string, PartialEntry> = { ...Object.fromEntries(this.sums), ...Object.fromEntries(this.moments) };
    for (const [key, parts] of this.rows) entries[key] = concatRows(parts);
    return { count: this.count, loss: this.loss, entries };
  }
}
