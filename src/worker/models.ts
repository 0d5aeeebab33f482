/**
 * Each worker builds a model replica once and reuses it across shards and jobs (keyed by the
 * coordinator's model key: a hash of spec and weights). A few replicas are kept, least recently
 * used evicted, so long-lived workers serving many jobs stay bounded in memory.
 */
import { buildNetwork, disposeNetwork, type Network } from '../nn/network.ts';
import type { JobContext } from '../protocol/messages.ts';
import { resolveMap } from './resolve.ts';

const MAX_REPLICAS = 4;
const replicas = new Map<string, Network>();

export function modelFor(job: JobContext): Network {
  const hit = replicas.get(job.modelKey);
  if (hit) {
    replicas.delete(job.modelKey);
    replicas.set(job.modelKey, hit);
    return hit;
  }
  const net = buildNetwork(job.spec, resolveMap(job.weights));
  replicas.set(job.modelKey, net);
  if (replicas.size > MAX_REPLICAS) {
    const [oldest, old] = replicas.entries().next().value as [string, Network];
    replicas.delete(oldest);
    disposeNetwork(old);
  }
  return net;
}
