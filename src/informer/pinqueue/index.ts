/**
 * The pinqueue informer: the number of items queued for pinning
 * (upstream `informer/pinqueue/pinqueue.go`). Value = the queue length
 * (decimal string), weight = `−queue / weight_bucket_size` with integer
 * division truncating toward zero, as Go does (so peers whose queues fall in
 * the same bucket weigh the same). Not partitionable. Invalid when the
 * tracker throws or after `stop()`.
 */
import type { AbortOptions, Informer } from '../../interfaces.ts'
import type { Metric, PeerId } from '../../types/index.ts'
import { type Clock, expireIn, makeMetric } from '../metric.ts'

/** The metric's name (upstream `pinqueue.MetricName`). */
export const PINQUEUE_METRIC_NAME = 'pinqueue'

export interface PinQueueInformerInit {
  /** metric time-to-live, milliseconds (upstream `metric_ttl`, default 30s). */
  metricTtlMs: number
  /** upstream `weight_bucket_size`, default 100000; ≤ 0 means no bucketing. */
  weightBucketSize: number
}

export interface PinQueueInformerComponents {
  tracker: { pinQueueSize(): number }
  peerId: PeerId
  clock?: Clock
}

/** Go's int64 division of `-queued` by `bucket` (truncation, no negative zero). */
export function pinQueueWeight(queued: number, bucket: number): number {
  const w = bucket > 0 ? Math.trunc(-queued / bucket) : -queued
  return w === 0 ? 0 : w
}

export class PinQueueInformer implements Informer {
  private readonly init: PinQueueInformerInit
  private readonly components: PinQueueInformerComponents
  private stopped = false

  constructor(init: PinQueueInformerInit, components: PinQueueInformerComponents) {
    if (!(init.metricTtlMs > 0)) throw new Error('pinqueue.metric_ttl is invalid')
    this.init = init
    this.components = components
  }

  async start(): Promise<void> {
    this.stopped = false
  }

  async stop(): Promise<void> {
    this.stopped = true
  }

  name(): string {
    return PINQUEUE_METRIC_NAME
  }

  async getMetrics(_options?: AbortOptions): Promise<Metric[]> {
    const peer = this.components.peerId
    if (this.stopped) return [makeMetric({ name: PINQUEUE_METRIC_NAME, peer })]
    let queued = 0
    let valid = true
    try {
      queued = this.components.tracker.pinQueueSize()
    } catch {
      valid = false
    }
    return [
      makeMetric({
        name: PINQUEUE_METRIC_NAME,
        peer,
        value: String(queued),
        valid,
        partitionable: false,
        weight: pinQueueWeight(queued, this.init.weightBucketSize),
        expire: expireIn(this.init.metricTtlMs, this.components.clock)
      })
    ]
  }
}

/** Creates the pinqueue informer (upstream `pinqueue.New`). @throws Error on an invalid config. */
export function createPinQueueInformer(
  init: PinQueueInformerInit,
  components: PinQueueInformerComponents
): PinQueueInformer {
  return new PinQueueInformer(init, components)
}
