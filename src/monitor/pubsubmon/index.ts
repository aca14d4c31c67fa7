/**
 * The pubsub peer monitor (upstream `monitor/pubsubmon/pubsubmon.go`):
 * stores the metrics of every peer, broadcasts this peer's metrics on the
 * `monitor.metrics` topic (msgpack `api.Metric`, see `codec.ts`), and every
 * `checkIntervalMs` raises an `Alert` for each peer metric that expired
 * without renewal (once per expiry, see `../metrics/checker.ts`).
 *
 * Alerts are kept for `/health/alerts` as upstream's Cluster does (up to
 * 1000; the list is emptied when it overflows) and delivered to `onAlert`
 * handlers as they fire.
 *
 * Without a `pubsub` component (single peer) metrics are only logged
 * locally. Messages this peer published and gets back are ignored, since
 * `publishMetric` already logged them.
 */
import type { AbortOptions, PeerMonitor } from '../../interfaces.ts'
import { type Clock, isDiscarded } from '../../informer/metric.ts'
import { getLogger } from '../../observability/logging.ts'
import { clusterMetrics } from '../../observability/metrics.ts'
import type { Alert, Metric, PeerId } from '../../types/index.ts'
import { Checker } from '../metrics/checker.ts'
import { MetricsStore } from '../metrics/store.ts'
import { decodeMetric, encodeMetric } from './codec.ts'

export { decodeMetric, encodeMetric } from './codec.ts'

const log = getLogger('monitor')

/** The topic metrics travel on (upstream `PubsubTopic`). */
export const PUBSUB_TOPIC = 'monitor.metrics'
/** Alerts kept for `alerts()` (upstream cluster.go `maxAlerts`). */
export const MAX_ALERTS = 1000

/** The part of a pubsub (gossipsub) the monitor uses. */
export interface MonitorPubsub {
  publish(topic: string, data: Uint8Array): Promise<void>
  /** @returns the unsubscribe function */
  subscribe(topic: string, handler: (data: Uint8Array, from: string) => void): () => void
}

export interface PubsubMonitorInit {
  /** how often expired metrics are checked, milliseconds (upstream `check_interval`, default 15s). */
  checkIntervalMs: number
  /** this peer. */
  peerId: PeerId
  /** metrics kept per peer and name (default 25). */
  windowCap?: number
}

export interface PubsubMonitorComponents {
  pubsub?: MonitorPubsub
  /**
   * The current peerset (upstream `PeersFunc`, e.g. `Consensus.peers`).
   * When given, `latestMetrics` only returns metrics of these peers and
   * only these peers are checked; otherwise every known peer is. Upstream
   * (`daemon.go`) passes it only with raft; leave it unset with crdt, whose
   * peerset is itself derived from the monitor's `ping` metrics.
   */
  peers?: (options?: AbortOptions) => Promise<PeerId[]>
  clock?: Clock
}

export class PubsubMonitor implements PeerMonitor {
  private readonly init: PubsubMonitorInit
  private readonly components: PubsubMonitorComponents
  private readonly store: MetricsStore
  private readonly checker: Checker
  private readonly clock: Clock
  private readonly handlers = new Set<(a: Alert) => void>()
  private alertList: Alert[] = []
  private running: AbortController | undefined
  private timer: ReturnType<typeof setTimeout> | undefined
  private unsubscribe: (() => void) | undefined

  constructor(init: PubsubMonitorInit, components: PubsubMonitorComponents = {}) {
    if (!(init.checkIntervalMs > 0)) throw new Error('pubsubmon.check_interval is invalid')
    this.init = init
    this.components = components
    this.clock = components.clock ?? Date.now
    this.store = new MetricsStore({ clock: this.clock, windowCap: init.windowCap })
    this.checker = new Checker(this.store, (a) => this.recordAlert(a), this.clock)
  }

  /** Subscribes to the metrics topic and starts the periodic check. Idempotent. */
  async start(): Promise<void> {
    if (this.running !== undefined) return
    const ac = new AbortController()
    this.running = ac
    if (this.components.pubsub !== undefined) {
      this.unsubscribe = this.components.pubsub.subscribe(PUBSUB_TOPIC, (data, from) => this.onMessage(data, from))
    }
    const tick = (): void => {
      this.timer = undefined
      this.check(ac.signal)
        .catch((err: unknown) => log.error(`checking metrics: ${String(err)}`))
        .finally(() => {
          if (!ac.signal.aborted) this.timer = setTimeout(tick, this.init.checkIntervalMs)
        })
    }
    this.timer = setTimeout(tick, this.init.checkIntervalMs)
  }

  /** Unsubscribes and stops checking; no alert fires afterwards. Idempotent. */
  async stop(): Promise<void> {
    const ac = this.running
    if (ac === undefined) return
    log.info('stopping Monitor')
    this.running = undefined
    ac.abort()
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
    this.unsubscribe?.()
    this.unsubscribe = undefined
  }

  /** One check round (upstream `Checker.Watch` body); exposed for tests. */
  async check(signal?: AbortSignal): Promise<void> {
    if (this.components.peers !== undefined) {
      let peers: PeerId[]
      try {
        peers = await this.components.peers({ signal })
      } catch (err) {
        log.debug(`obtaining peers for metric check: ${String(err)}`)
        return
      }
      if (signal?.aborted === true) return
      this.checker.checkPeers(peers)
    } else {
      this.checker.checkAll()
    }
  }

  private onMessage(data: Uint8Array, from: string): void {
    if (from === this.init.peerId) return
    let m: Metric
    try {
      m = decodeMetric(data)
    } catch (err) {
      log.error(`decoding metric from ${from}: ${String(err)}`)
      return
    }
    this.debug('received', m)
    this.logMetricSync(m)
  }

  private logMetricSync(m: Metric): void {
    this.store.add(m)
    clusterMetrics.metricsLogged.inc({ name: m.name })
    this.debug('logged', m)
    if (!isDiscarded(m, this.clock)) this.checker.resetAlerts(m.peer, m.name)
  }

  private recordAlert(a: Alert): void {
    if (this.running === undefined) return
    if (this.alertList.length > MAX_ALERTS) this.alertList = []
    this.alertList.push(a)
    clusterMetrics.alerts.inc({ name: a.name })
    log.warn(`metric alert for ${a.name}: Peer: ${a.peer}.`)
    for (const h of this.handlers) {
      try {
        h(a)
      } catch (err) {
        log.error(`alert handler: ${String(err)}`)
      }
    }
  }

  private debug(event: string, m: Metric): void {
    log.debug(`${event} metric: '${m.peer}' - '${m.name}' - '${m.value}' - '${new Date(m.expire / 1e6).toISOString()}'`)
  }

  /** Stores a metric (from any peer); `receivedAt` is set to now. */
  async logMetric(m: Metric, _options?: AbortOptions): Promise<void> {
    this.logMetricSync(m)
  }

  /**
   * Logs this peer's metric and broadcasts it. Invalid or expired metrics
   * are dropped with a warning, as upstream.
   * @throws the pubsub's error when publishing fails
   */
  async publishMetric(m: Metric, options?: AbortOptions): Promise<void> {
    if (isDiscarded(m, this.clock)) {
      log.warn(`discarding invalid metric: ${m.name} from ${m.peer} (valid: ${m.valid})`)
      return
    }
    this.logMetricSync(m)
    const pubsub = this.components.pubsub
    if (pubsub === undefined) return
    options?.signal?.throwIfAborted()
    this.debug('publish', m)
    try {
      await pubsub.publish(PUBSUB_TOPIC, encodeMetric(m))
    } catch (err) {
      log.error(`publishing metric ${m.name}: ${String(err)}`)
      throw err
    }
  }

  /** The latest valid, unexpired metric of `name` of each peer (in the peerset when known), sorted by peer. */
  async latestMetrics(name: string, options?: AbortOptions): Promise<Metric[]> {
    const latest = this.store.latestValid(name)
    if (this.components.peers === undefined) return latest
    let peers: PeerId[]
    try {
      peers = await this.components.peers(options)
    } catch {
      return []
    }
    const set = new Set(peers)
    return latest.filter((m) => set.has(m.peer))
  }

  /** The latest metric of `name` from `peer`, possibly expired or invalid. */
  latestForPeer(name: string, peer: PeerId): Metric | undefined {
    return this.store.peerLatest(name, peer)
  }

  metricNames(): string[] {
    return this.store.metricNames()
  }

  /** Recorded alerts, newest first. */
  alerts(): Alert[] {
    return [...this.alertList].reverse()
  }

  onAlert(handler: (a: Alert) => void): () => void {
    this.handlers.add(handler)
    return () => {
      this.handlers.delete(handler)
    }
  }

  /** Forgets every metric of a peer (e.g. after it is removed). */
  removePeer(peer: PeerId): void {
    this.store.removePeer(peer)
  }
}

/** Creates the pubsub monitor (upstream `pubsubmon.New`). @throws Error on an invalid config. */
export function createPubsubMonitor(init: PubsubMonitorInit, components: PubsubMonitorComponents = {}): PubsubMonitor {
  return new PubsubMonitor(init, components)
}
