/**
 * Metrics by name and peer, each a `Window` of the latest ones (upstream
 * `monitor/metrics/store.go`).
 */
import { type Clock, isDiscarded } from '../../informer/metric.ts'
import type { Metric, PeerId } from '../../types/index.ts'
import { DEFAULT_WINDOW_CAP, Window } from './window.ts'

/** Upstream `api.MetricSlice` order: by peer, then by expiry. */
export function compareMetrics(a: Metric, b: Metric): number {
  if (a.peer === b.peer) return a.expire - b.expire
  return a.peer < b.peer ? -1 : 1
}

export class MetricsStore {
  private readonly byName = new Map<string, Map<PeerId, Window>>()
  private readonly clock: Clock
  private readonly windowCap: number

  constructor(opts: { clock?: Clock; windowCap?: number } = {}) {
    this.clock = opts.clock ?? Date.now
    this.windowCap = opts.windowCap ?? DEFAULT_WINDOW_CAP
  }

  /** Logs a metric (stamping `receivedAt`). */
  add(m: Metric): void {
    let byPeer = this.byName.get(m.name)
    if (byPeer === undefined) {
      byPeer = new Map()
      this.byName.set(m.name, byPeer)
    }
    let w = byPeer.get(m.peer)
    if (w === undefined) {
      w = new Window(this.windowCap, this.clock)
      byPeer.set(m.peer, w)
    }
    w.add(m)
  }

  /** Forgets every metric of a peer. */
  removePeer(peer: PeerId): void {
    for (const byPeer of this.byName.values()) byPeer.delete(peer)
  }

  /** Forgets the metrics of one name of a peer. */
  removePeerMetrics(peer: PeerId, name: string): void {
    this.byName.get(name)?.delete(peer)
  }

  /** The latest metric of `name` of every peer, when valid and not expired; sorted by peer. */
  latestValid(name: string): Metric[] {
    const byPeer = this.byName.get(name)
    if (byPeer === undefined) return []
    const out: Metric[] = []
    for (const w of byPeer.values()) {
      const m = w.latest()
      if (m === undefined || isDiscarded(m, this.clock)) continue
      out.push(m)
    }
    return out.sort(compareMetrics)
  }

  /** Alias of `latestValid`. */
  latest(name: string): Metric[] {
    return this.latestValid(name)
  }

  /** The latest valid metric of every name and peer, expired or not. */
  allMetrics(): Metric[] {
    const out: Metric[] = []
    for (const byPeer of this.byName.values()) {
      for (const w of byPeer.values()) {
        const m = w.latest()
        if (m?.valid) out.push(m)
      }
    }
    return out
  }

  /** The latest valid metric of every name of one peer, expired or not. */
  peerMetrics(peer: PeerId): Metric[] {
    const out: Metric[] = []
    for (const byPeer of this.byName.values()) {
      const m = byPeer.get(peer)?.latest()
      if (m?.valid) out.push(m)
    }
    return out
  }

  /** Every stored metric of a name for a peer, newest first. */
  peerMetricAll(name: string, peer: PeerId): Metric[] {
    return this.byName.get(name)?.get(peer)?.all() ?? []
  }

  /** The latest metric of a name for a peer, possibly expired or invalid. */
  peerLatest(name: string, peer: PeerId): Metric | undefined {
    return this.byName.get(name)?.get(peer)?.latest()
  }

  /** Every metric name seen. */
  metricNames(): string[] {
    return [...this.byName.keys()]
  }
}
