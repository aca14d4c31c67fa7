/**
 * Nested partitions of peers by metric value, and the round-robin pick
 * across them (upstream `allocator/balanced/balanced.go`:
 * `partitionMetrics`, `partitionValues`, `sortedPeers`, `chooseNext`).
 *
 * Within a bottom partition peers are picked in the order their metrics
 * were given (upstream iterates a Go map, i.e. in random order); ties
 * between partitions of equal weight, aggregated weight and value keep
 * their input order (upstream: unspecified).
 */
import type { Metric, PeerId } from '../../types/index.ts'

/** Metrics by metric name (upstream `api.MetricsSet`). */
export type MetricsSet = Map<string, Metric[]>

interface Partition {
  value: string
  weight: number
  aggregatedWeight: number
  /** peer → already picked. */
  peers: Map<PeerId, boolean>
  sub?: PartitionedMetric
}

export interface PartitionedMetric {
  metricName: string
  curChoosingIndex: number
  noMore: boolean
  partitions: Partition[]
}

function comparePartitions(a: Partition, b: Partition): number {
  if (a.weight !== b.weight) return b.weight - a.weight // descending
  if (a.aggregatedWeight !== b.aggregatedWeight) return b.aggregatedWeight - a.aggregatedWeight
  return a.value < b.value ? -1 : a.value > b.value ? 1 : 0
}

/** Groups metrics by value: partitionable metrics with the same value share a partition; others get one each. */
export function partitionValues(metrics: readonly Metric[]): Partition[] {
  const partitions: Partition[] = []
  const byValue = new Map<string, Partition>()
  for (const m of metrics) {
    if (!m.partitionable) {
      partitions.push({
        value: m.value,
        weight: m.weight,
        aggregatedWeight: m.weight,
        peers: new Map([[m.peer, false]])
      })
      continue
    }
    const p = byValue.get(m.value)
    if (p !== undefined) {
      p.peers.set(m.peer, false)
      p.weight += m.weight
      p.aggregatedWeight += m.weight
    } else {
      byValue.set(m.value, {
        value: m.value,
        weight: m.weight,
        aggregatedWeight: m.weight,
        peers: new Map([[m.peer, false]])
      })
    }
  }
  partitions.push(...byValue.values())
  return partitions
}

/**
 * Partitions `set` by the first metric of `by`, each partition
 * sub-partitioned by the rest, sorted by weight descending, then by
 * aggregated weight (own + sub-partitions') descending, then by value.
 * @param by a non-empty list of metric names
 */
export function partitionMetrics(set: MetricsSet, by: readonly string[]): PartitionedMetric {
  const rootMetric = by[0]
  if (rootMetric === undefined) throw new Error('partitionMetrics: empty allocate_by')
  const pm: PartitionedMetric = {
    metricName: rootMetric,
    curChoosingIndex: 0,
    noMore: false,
    partitions: partitionValues(set.get(rootMetric) ?? [])
  }
  if (by.length > 1) {
    const rest = by.slice(1)
    for (const partition of pm.partitions) {
      const filtered: MetricsSet = new Map()
      for (const [name, metrics] of set) {
        if (name === rootMetric) continue
        for (const m of metrics) {
          if (!partition.peers.has(m.peer)) continue
          let list = filtered.get(name)
          if (list === undefined) {
            list = []
            filtered.set(name, list)
          }
          list.push(m)
        }
      }
      partition.sub = partitionMetrics(filtered, rest)
      for (const sp of partition.sub.partitions) partition.aggregatedWeight += sp.aggregatedWeight
    }
  }
  pm.partitions.sort(comparePartitions)
  return pm
}

/** Next peer, never choosing twice in a row from the same partition while another has peers; undefined when exhausted. */
export function chooseNext(pm: PartitionedMetric): PeerId | undefined {
  const lenp = pm.partitions.length
  if (lenp === 0 || pm.noMore) return undefined
  let peer: PeerId | undefined
  let done = 0
  for (;;) {
    const cur = pm.partitions[pm.curChoosingIndex]!
    if (cur.sub !== undefined) {
      peer = chooseNext(cur.sub)
    } else {
      for (const [pid, used] of cur.peers) {
        if (!used) {
          peer = pid
          cur.peers.set(pid, true)
          break
        }
      }
    }
    pm.curChoosingIndex = (pm.curChoosingIndex + 1) % lenp
    done++
    if (peer !== undefined) break
    if (done === lenp) {
      pm.noMore = true
      break
    }
  }
  return peer
}

/** Every peer of the partitioned set, in pick order. */
export function sortedPeers(pm: PartitionedMetric): PeerId[] {
  const out: PeerId[] = []
  // each call either returns a new peer (each peer once) or ends the loop
  for (let p = chooseNext(pm); p !== undefined; p = chooseNext(pm)) out.push(p)
  return out
}

/** A human-readable dump of the partitions (logged at debug level, upstream `printPartition`). */
export function printPartition(pm: PartitionedMetric, ind = 0): string {
  let s = ''
  for (const p of pm.partitions) {
    const peers = [...p.peers].map(([id, used]) => `${id}|${used}, `).join('')
    s += `${' '.repeat(ind + 2)} | ${pm.metricName}:${p.value} - ${p.weight} - [${peers}]\n`
    if (p.sub !== undefined) s += printPartition(p.sub, ind + 2)
  }
  return s
}
