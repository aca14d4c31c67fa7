/**
 * The balanced allocator (upstream `allocator/balanced/balanced.go`):
 * orders candidate peers by nested partitions of the `allocate_by` metrics.
 *
 * With `allocate_by: ["tag:region", "pinqueue", "freespace"]` peers are
 * grouped by region (tags are partitionable), each region by pinqueue
 * weight bucket, each of those one partition per peer by freespace (not
 * partitionable). Partitions are sorted by weight descending and picked
 * round-robin, so consecutive picks spread across regions.
 *
 * `allocate()` returns the priority peers (user allocations) first, then
 * the other candidates; peers missing a metric named in `allocate_by` are
 * expected to be filtered out before (see `../allocate.ts`).
 */
import type { CID } from 'multiformats/cid'
import type { AbortOptions, PinAllocator } from '../../interfaces.ts'
import { LogLevels } from 'consola'
import { getLogger } from '../../observability/logging.ts'
import type { Metric, PeerId } from '../../types/index.ts'
import { type MetricsSet, partitionMetrics, printPartition, sortedPeers } from './partition.ts'

export type { MetricsSet } from './partition.ts'
export { partitionMetrics, sortedPeers } from './partition.ts'

const log = getLogger('allocator')

export interface BalancedAllocatorInit {
  /** metric names, most significant first (upstream `allocate_by`, default `["tag:group","freespace"]`). */
  allocateBy: string[]
}

/** Converts per-peer metric lists to a per-name set (upstream `api.MetricsSet`). */
export function toMetricsSet(byPeer: Map<PeerId, Metric[]>): MetricsSet {
  const set: MetricsSet = new Map()
  for (const metrics of byPeer.values()) {
    for (const m of metrics) {
      let list = set.get(m.name)
      if (list === undefined) {
        list = []
        set.set(m.name, list)
      }
      list.push(m)
    }
  }
  return set
}

export class BalancedAllocator implements PinAllocator {
  private readonly allocateBy: string[]

  constructor(init: BalancedAllocatorInit) {
    if (init.allocateBy.length === 0) throw new Error('metricalloc.allocate_by is invalid')
    this.allocateBy = [...init.allocateBy]
  }

  async start(): Promise<void> {}

  async stop(): Promise<void> {}

  metrics(): string[] {
    return [...this.allocateBy]
  }

  /**
   * @param _current metrics of currently allocated peers (unused, as upstream)
   * @param candidates metrics of peers that may be allocated, by peer
   * @param priority metrics of preferred peers (`user_allocations`), by peer
   * @returns priority peers then candidates, each in balanced order
   */
  async allocate(
    cid: CID,
    _current: Map<PeerId, Metric[]>,
    candidates: Map<PeerId, Metric[]>,
    priority: Map<PeerId, Metric[]>,
    _options?: AbortOptions
  ): Promise<PeerId[]> {
    const candidatePartition = partitionMetrics(toMetricsSet(candidates), this.allocateBy)
    const priorityPartition = partitionMetrics(toMetricsSet(priority), this.allocateBy)
    if (log.level >= LogLevels.debug) log.debug(`Balanced allocator partitions for ${cid.toString()}:\n${printPartition(candidatePartition)}`)
    const first = sortedPeers(priorityPartition)
    const last = sortedPeers(candidatePartition)
    return [...first, ...last]
  }
}

/** Creates the balanced allocator (upstream `balanced.New`). @throws Error when `allocateBy` is empty. */
export function createBalancedAllocator(init: BalancedAllocatorInit): BalancedAllocator {
  return new BalancedAllocator(init)
}
