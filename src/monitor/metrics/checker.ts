/**
 * Finds expired metrics and raises alerts (upstream
 * `monitor/metrics/checker.go`).
 *
 * When the latest metric of a name from a peer has expired, one alert is
 * raised; further checks do not alert again (`MAX_ALERT_THRESHOLD` = 1)
 * until the peer sends a valid metric of that name (`resetAlerts`) or, as
 * upstream, after 300 checks the count is forgotten and the next check
 * alerts again.
 */
import { type Clock, isExpired } from '../../informer/metric.ts'
import { makeMetric } from '../../informer/metric.ts'
import type { Alert, PeerId } from '../../types/index.ts'
import type { MetricsStore } from './store.ts'

/** Alerts per peer and metric before going quiet (upstream `MaxAlertThreshold`). */
export const MAX_ALERT_THRESHOLD = 1
/** Checks after which a silenced failure is forgotten (upstream hard-coded 300). */
export const FAILED_COUNT_RESET = 300

export class Checker {
  private readonly store: MetricsStore
  private readonly clock: Clock
  private readonly emit: (a: Alert) => void
  private readonly failed = new Map<PeerId, Map<string, number>>()

  /** @param emit receives every alert raised */
  constructor(store: MetricsStore, emit: (a: Alert) => void, clock: Clock = Date.now) {
    this.store = store
    this.emit = emit
    this.clock = clock
  }

  /** Alerts for the expired latest metrics of the given peers (upstream `CheckPeers`). */
  checkPeers(peers: readonly PeerId[]): void {
    for (const name of this.store.metricNames()) {
      for (const peer of peers) {
        if (this.store.peerLatest(name, peer) === undefined) continue
        if (this.failedMetric(name, peer)) this.alert(peer, name)
      }
    }
  }

  /** Alerts for every expired latest valid metric (upstream `CheckAll`). */
  checkAll(): void {
    for (const m of this.store.allMetrics()) {
      if (this.failedMetric(m.name, m.peer)) this.alert(m.peer, m.name)
    }
  }

  /** True when the latest metric of `name` from `peer` has expired (or there is none). */
  failedMetric(name: string, peer: PeerId): boolean {
    const m = this.store.peerLatest(name, peer)
    return isExpired(m ?? { expire: 0 }, this.clock)
  }

  /** Forgets past alerts of a peer's metric, so the next expiry alerts again. */
  resetAlerts(peer: PeerId, name: string): void {
    const fm = this.failed.get(peer)
    if (fm === undefined) return
    fm.delete(name)
    if (fm.size === 0) this.failed.delete(peer)
  }

  private alert(peer: PeerId, name: string): void {
    let fm = this.failed.get(peer)
    if (fm === undefined) {
      fm = new Map()
      this.failed.set(peer, fm)
    }
    const count = (fm.get(name) ?? 0) + 1
    fm.set(name, count)
    if (count > MAX_ALERT_THRESHOLD) {
      if (count >= FAILED_COUNT_RESET) this.resetAlerts(peer, name)
      return
    }
    const last = this.store.peerLatest(name, peer) ?? makeMetric({ name, peer })
    this.emit({ ...last, triggeredAt: new Date(this.clock()) })
  }
}
