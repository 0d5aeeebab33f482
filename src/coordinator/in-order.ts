/**
 * Backpressure for the coordinator: tasks 0…count−1 are started in order, but never more than
 * `window` ahead of the oldest one not yet accepted, and results are accepted strictly in index
 * order (shard order, never arrival order). So at most `window` results are ever held, however
 * many shards a job has and however slow the consumer (a spill to disk) is. The first failure
 * rejects at once; results arriving after it are dropped.
 */
export function runInOrder<T>(count: number, window: number, start: (i: number) => Promise<T>, accept: (i: number, value: T) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const arrived = new Map<number, T>();
    let next = 0;
    let launched = 0;
    let failed = false;
    const fail = (e: unknown) => {
      if (failed) return;
      failed = true;
      reject(e);
    };
    const onResult = (i: number, value: T) => {
      if (failed) return;
      arrived.set(i, value);
      try {
        while (arrived.has(next)) {
          const v = arrived.get(next) as T;
          arrived.delete(next);
          accept(next, v);
          next++;
        }
      } catch (e) {
        fail(e);
        return;
      }
      if (next === count) resolve();
      else launch();
    };
    const launch = () => {
      while (!failed && launched < count && launched < next + window) {
        const i = launched++;
        start(i).then((v) => onResult(i, v), fail);
      }
    };
    if (count === 0) resolve();
    else launch();
  });
}
