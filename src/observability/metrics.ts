/**
 * Prometheus metrics, mirroring upstream `observations/metrics.go` (views
 * exported with namespace `ipfscluster`, `/` turned into `_`) and the
 * `/metrics` endpoint of `observations/setup.go`.
 *
 * Components record into `clusterMetrics` whether or not stats are
 * enabled (cheap); the endpoint is served only when `enable_stats` is true.
 * `ipfscluster_alerts` and `ipfscluster_metrics_logged` are additions of
 * this implementation (counts of monitor alerts and logged peer metrics).
 */
import { multiaddr } from '@multiformats/multiaddr'
import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client'
import { METRICS } from '../config/sections.ts'
import { fieldDefaults } from '../config/typed.ts'
import type { Startable } from '../interfaces.ts'
import { type MetricsHttpListener, serveMetricsHttp } from '../runtime/metrics-http.ts'
import type { TrackerStatus } from '../types/index.ts'
import { getLogger } from './logging.ts'

const log = getLogger('observations')

/** The registry served on `/metrics` (upstream `PromRegistry`). */
export const registry = new Registry()

const gauge = (name: string, help: string) => new Gauge({ name, help, registers: [registry] })
const counter = (name: string, help: string, labelNames: string[] = []) =>
  new Counter({ name, help, labelNames, registers: [registry] })

/** Upstream's measures (`observations.Pins`, `PinsQueued`, …), by their exported names. */
export const clusterMetrics = {
  /** managed by the state: number of pins in the pinset. */
  pins: gauge('ipfscluster_pins', 'Total number of cluster pins'),
  /** managed by the pin tracker. */
  pinsQueued: gauge('ipfscluster_pins_pin_queued', 'Current number of pins queued for pinning'),
  pinsPinning: gauge('ipfscluster_pins_pinning', 'Current number of pins currently pinning'),
  pinsPinError: gauge('ipfscluster_pins_pin_error', 'Current number of pins in pin_error state'),
  /** managed by the IPFS connector. */
  pinsIpfsPins: gauge('ipfscluster_pins_ipfs_pins', 'Current number of items pinned on IPFS'),
  pinsPinAdd: counter('ipfscluster_pins_pin_add', 'Total number of IPFS pin requests'),
  pinsPinAddErrors: counter('ipfscluster_pins_pin_add_errors', 'Total number of failed pin requests'),
  blocksPut: counter('ipfscluster_blocks_put', 'Total number of blocks/put requests'),
  /** bytes. */
  blocksAddedSize: counter('ipfscluster_blocks_added_size', 'Total size of blocks added in bytes'),
  blocksAdded: counter('ipfscluster_blocks_added', 'Total number of blocks added'),
  blocksPutErrors: counter('ipfscluster_blocks_put_errors', 'Total number of block/put errors'),
  /** the weight of the last disk informer metric. */
  informerDisk: gauge('ipfscluster_informer_disk', 'The metric value weight issued by disk informer'),
  /** label `name`: the metric that expired. */
  alerts: counter('ipfscluster_alerts', 'Total number of alerts raised by the peer monitor', ['name']),
  /** label `name`: the metric name. */
  metricsLogged: counter('ipfscluster_metrics_logged', 'Total number of peer metrics logged by the peer monitor', [
    'name'
  ])
}

/** Sets the tracker gauges from counts of pins per status (missing statuses count 0). */
export function updatePinStatusMetrics(counts: Partial<Record<TrackerStatus, number>>): void {
  clusterMetrics.pinsQueued.set(counts.pin_queued ?? 0)
  clusterMetrics.pinsPinning.set(counts.pinning ?? 0)
  clusterMetrics.pinsPinError.set(counts.pin_error ?? 0)
}

/** The text exposition of every registered metric. */
export async function metricsText(): Promise<string> {
  return registry.metrics()
}

let defaultsRegistered = false
function registerDefaultMetrics(): void {
  if (defaultsRegistered) return
  defaultsRegistered = true
  try {
    collectDefaultMetrics({ register: registry })
  } catch (err) {
    log.debug(`process metrics unavailable: ${String(err)}`)
  }
}

/** Host and TCP port of a listen multiaddr (`/ip4|ip6|dns|dns4|dns6/<host>/tcp/<port>`). @throws Error otherwise */
export function hostPortOf(addr: string): { hostname: string; port: number } {
  const comps = multiaddr(addr).getComponents()
  const [h, t] = comps
  if (h === undefined || t === undefined || t.name !== 'tcp' || h.value === undefined || t.value === undefined) {
    throw new Error(`prometheus_endpoint must be a TCP multiaddress: ${addr}`)
  }
  if (!['ip4', 'ip6', 'dns', 'dns4', 'dns6'].includes(h.name)) {
    throw new Error(`prometheus_endpoint must be a TCP multiaddress: ${addr}`)
  }
  return { hostname: h.value, port: Number(t.value) }
}

export interface MetricsServerInit {
  /** upstream `observations.metrics.enable_stats`; false = start() does nothing. */
  enableStats: boolean
  /** where to listen, default `DEFAULT_PROMETHEUS_ENDPOINT`. */
  listenMultiaddress?: string
  /** upstream's name for it (`prometheus_endpoint`), so a `MetricsConfig` can be passed as is. */
  prometheusEndpoint?: string
}

/** Upstream's default `prometheus_endpoint` (the `observations.metrics` declaration). */
export const DEFAULT_PROMETHEUS_ENDPOINT = fieldDefaults(METRICS).prometheusEndpoint

export interface MetricsServer extends Startable {
  /** The bound address while running (port 0 resolved), else undefined. */
  address(): { hostname: string; port: number } | undefined
}

/**
 * Serves `GET /metrics` (Prometheus text format) when stats are enabled.
 * @throws Error from start() on a non-TCP multiaddr or an address in use
 */
export function createMetricsServer(init: MetricsServerInit): MetricsServer {
  let listener: MetricsHttpListener | undefined
  let starting: Promise<void> | undefined
  const fetch = async (req: Request): Promise<Response> => {
    const url = new URL(req.url)
    if (url.pathname !== '/metrics') return new Response('404 page not found\n', { status: 404 })
    if (req.method !== 'GET' && req.method !== 'HEAD') return new Response('', { status: 405 })
    return new Response(await registry.metrics(), { headers: { 'content-type': registry.contentType } })
  }
  return {
    async start() {
      if (!init.enableStats || listener !== undefined) return
      if (starting !== undefined) return starting
      const endpoint = init.listenMultiaddress ?? init.prometheusEndpoint ?? DEFAULT_PROMETHEUS_ENDPOINT
      const { hostname, port } = hostPortOf(endpoint)
      starting = (async () => {
        registerDefaultMetrics()
        listener = await serveMetricsHttp(hostname, port, fetch)
        log.info(`stats collection enabled on ${endpoint}`)
      })().finally(() => {
        starting = undefined
      })
      return starting
    },
    async stop() {
      if (starting !== undefined) await starting.catch(() => undefined)
      const l = listener
      listener = undefined
      await l?.close()
    },
    address() {
      return listener === undefined ? undefined : { hostname: listener.hostname, port: listener.port }
    }
  }
}
