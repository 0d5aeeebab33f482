/**
 * The shared-memory all-reduce between worker threads (KFRA's per-layer sums).
 * Invariant: control[0] is the round's generation, control[1] how many groups have arrived,
 * control[2 + g] how many shard contributions group g wrote this round.
 * Each group writes its per-shard contributions into its own slot, then arrives; the last to arrive
 * adds every contribution in group order and, within a group, shard order (= global shard order,
 * groups being contiguous), writes the result slot, resets the count and bumps the generation,
 * waking the others. No group can overwrite round r's result before every group has read it,
 * because round r+1 needs every group to arrive.
 */
import type { SharedBarrier } from '../protocol/messages.ts';
import { BackpackError, ErrorCode } from '../errors/index.ts';

export function sharedAllReduce(b: SharedBarrier, group: number): (local: Float64Array[]) => Float64Array {
  const control = new Int32Array(b.control);
  const slots = new Float64Array(b.slots);
  const slotSize = b.capacity * b.shardsPerGroup;
  const result = slots.subarray(b.groups * slotSize, b.groups * slotSize + b.capacity);
  return (local) => {
    const length = local[0].length;
    if (length > b.capacity || local.length > b.shardsPerGroup) {
      throw new BackpackError(ErrorCode.Internal, `all-reduce of ${local.length}×${length} values exceeds the barrier's ${b.shardsPerGroup}×${b.capacity}`, false);
    }
    const generation = Atomics.load(control, 0);
    local.forEach((c, j) => slots.set(c, group * slotSize + j * length));
    Atomics.store(control, 2 + group, local.length);
    if (Atomics.add(control, 1, 1) + 1 === b.groups) {
      result.fill(0, 0, length);
      for (let g = 0; g < b.groups; g++) {
        for (let j = 0; j < Atomics.load(control, 2 + g); j++) {
          const c = slots.subarray(g * slotSize + j * length, g * slotSize + (j + 1) * length);
          for (let k = 0; k < length; k++) result[k] += c[k];
        }
      }
      Atomics.store(control, 1, 0);
      Atomics.add(control, 0, 1);
      Atomics.notify(control, 0);
    } else {
      while (Atomics.load(control, 0) === generation) {
        if (Atomics.wait(control, 0, generation, b.timeoutMs) === 'timed-out') {
          throw new BackpackError(ErrorCode.Internal, `KFRA barrier timed out after ${b.timeoutMs} ms waiting for other workers`, false);
        }
      }
    }
    return Float64Array.from(result.subarray(0, length));
  };
}

export function createSharedBarrier(groups: number, shardsPerGroup: number, capacity: number, timeoutMs: number): SharedBarrier {
  return {
    kind: 'shared-memory',
    groups,
    shardsPerGroup,
    capacity,
    timeoutMs,
    control: new SharedArrayBuffer(4 * (2 + groups)),
    slots: new SharedArrayBuffer((groups * shardsPerGroup + 1) * capacity * 8),
  };
}
