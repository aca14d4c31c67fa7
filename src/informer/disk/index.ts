/**
 * The disk informer: `freespace` or `reposize` of the local IPFS repo
 * (upstream `informer/disk/disk.go`).
 *
 * - `freespace`: value = `storageMax − repoSize` in bytes (decimal string),
 *   weight = the same number; when the repo is full the metric is invalid
 *   with value `"0"` and weight 0 (upstream stops advertising space).
 * - `reposize`: value = `repoSize` in bytes, weight = `−repoSize` (smaller
 *   repos are preferred).
 * - When kubo cannot be reached the error is logged and the metric is
 *   invalid with an empty value. After `stop()` metrics are invalid.
 *
 * Metrics are not partitionable; `expire` = now + `metricTtlMs` (ns). The
 * weight is recorded in the `ipfscluster_informer_disk` gauge, as upstream.
 */
import type { AbortOptions, Informer } from '../../interfaces.ts'
import { getLogger } from '../../observability/logging.ts'
import { clusterMetrics } from '../../observability/metrics.ts'
import type { Metric, PeerId } from '../../types/index.ts'
import { type Clock, expireIn, makeMetric } from '../metric.ts'
import { errorMessage } from '../../errors.ts'

const log = getLogger('diskinfo')

export type DiskMetricType = 'freespace' | 'reposize'

export interface DiskInformerInit {
  /** metric time-to-live, milliseconds (upstream `metric_ttl`, default 30s). */
  metricTtlMs: number
  /** upstream `metric_type`, default `freespace`. */
  metricType: DiskMetricType
}

export interface DiskInformerComponents {
  /** The local IPFS daemon; sizes in bytes. */
  ipfs: { repoStat(options?: AbortOptions): Promise<{ repoSize: number; storageMax: number }> }
  peerId: PeerId
  clock?: Clock
}

export class DiskInformer implements Informer {
  private readonly init: DiskInformerInit
  private readonly components: DiskInformerComponents
  private stopped = false

  constructor(init: DiskInformerInit, components: DiskInformerComponents) {
    if (init.metricType !== 'freespace' && init.metricType !== 'reposize') {
      throw new Error(`disk.metric_type is invalid: ${String(init.metricType)}`)
    }
    if (!(init.metricTtlMs > 0)) throw new Error('disk.metric_ttl is invalid')
    this.init = init
    this.components = components
  }

  async start(): Promise<void> {
    this.stopped = false
  }

  async stop(): Promise<void> {
    this.stopped = true
  }

  /** `freespace` or `reposize`. */
  name(): string {
    return this.init.metricType
  }

  /** Always one metric, valid or not. Never throws (except on abort). */
  async getMetrics(options?: AbortOptions): Promise<Metric[]> {
    const base = { name: this.name(), peer: this.components.peerId }
    if (this.stopped) return [makeMetric(base)]
    let valid = true
    let value = ''
    let weight = 0
    try {
      const stat = await this.components.ipfs.repoStat(options)
      if (this.init.metricType === 'freespace') {
        if (stat.repoSize < stat.storageMax) {
          weight = stat.storageMax - stat.repoSize
        } else {
          weight = 0
          valid = false
          log.warn('reported freespace is 0')
        }
        value = String(weight)
      } else {
        weight = stat.repoSize === 0 ? 0 : -stat.repoSize
        value = String(stat.repoSize)
      }
    } catch (err) {
      if (options?.signal?.aborted === true) throw err
      log.error(errorMessage(err))
      valid = false
    }
    const m = makeMetric({
      ...base,
      value,
      valid,
      weight,
      partitionable: false,
      expire: expireIn(this.init.metricTtlMs, this.components.clock)
    })
    clusterMetrics.informerDisk.set(m.weight)
    return [m]
  }
}

/** Creates the disk informer (upstream `disk.NewInformer`). @throws Error on an invalid config. */
export function createDiskInformer(init: DiskInformerInit, components: DiskInformerComponents): DiskInformer {
  return new DiskInformer(init, components)
}
