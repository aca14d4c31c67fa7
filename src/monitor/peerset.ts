/**
 * The crdt peerset (upstream `consensus/crdt` `Peers`: the peers with a
 * valid, unexpired metric named `peerset_metric`, "ping" by default, plus
 * this peer), as a function the consensus uses for its `peers()`.
 * `exclude` drops peers (e.g. `cluster.isRemovedPeer`). Sorted.
 * Do not also pass it to the monitor as its `peers` component: the monitor
 * would then filter the very metrics this is computed from.
 */
import type { AbortOptions, PeerMonitor } from '../interfaces.ts'
import type { PeerId } from '../types/index.ts'

export function peersetFromMetric(
  monitor: Pick<PeerMonitor, 'latestMetrics'>,
  self: PeerId,
  metric = 'ping',
  exclude?: (peer: PeerId) => boolean
): (options?: AbortOptions) => Promise<PeerId[]> {
  return async (options) => {
    const set = new Set<PeerId>([self])
    const nowNs = Date.now() * 1e6
    for (const m of await monitor.latestMetrics(metric, options)) {
      if (m.valid && (m.expire === 0 || m.expire > nowNs)) set.add(m.peer)
    }
    return [...set].filter((p) => p === self || exclude === undefined || !exclude(p)).sort()
  }
}
