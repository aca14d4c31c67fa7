/**
 * Choosing the peers that pin a CID (upstream `allocate.go`: `allocate`,
 * `filterMetrics`, `obtainAllocations`, `allocationError`).
 *
 * 1. `rplMin` and `rplMax` both negative → `[]` (pin everywhere).
 * 2. The latest valid metric of each `allocator.metrics()` name is taken for
 *    every peer. Peers that are blacklisted, untrusted (with
 *    `pinOnlyOnTrustedPeers`), trusted (with `pinOnlyOnUntrustedPeers`) or
 *    missing any of those metrics are dropped. The rest are split into
 *    current (already allocated), priority (`user_allocations`) and
 *    candidates.
 * 3. `needed = rplMin − current`, `wanted = rplMax − current`:
 *    - `wanted < 0`: the first `rplMax` current peers (trimming);
 *    - `needed ≤ 0`: the current allocations, unchanged;
 *    - fewer priority+candidates than `needed`: `NotEnoughPeersError`;
 *    - otherwise current peers followed by up to `wanted` peers in the
 *      allocator's order.
 */
import type { CID } from 'multiformats/cid'
import { InvalidArgumentError, NotEnoughPeersError } from '../errors.ts'
import type { AbortOptions, PinAllocator } from '../interfaces.ts'
import { getLogger } from '../observability/logging.ts'
import type { Metric, PeerId } from '../types/index.ts'

const log = getLogger('cluster')

export interface AllocateInput {
  cid: CID
  /** allocations of the pin as currently committed ([] for a new pin). */
  currentAllocations: PeerId[]
  /** replication factors; -1/-1 means everywhere, never both 0. */
  rplMin: number
  rplMax: number
  /** peers that must not be allocated (e.g. the peer being vacated). */
  blacklist: PeerId[]
  /** peers to prefer (`user_allocations`). */
  priorityList: PeerId[]
  /** latest valid metrics of a name, at most one per peer (`PeerMonitor.latestMetrics`). */
  metrics: (name: string, options?: AbortOptions) => Metric[] | Promise<Metric[]>
  allocator: PinAllocator
  /** trust check (`Consensus.isTrustedPeer`); without it every peer is trusted. */
  isTrusted?: (peer: PeerId) => boolean
  /** upstream `cluster.pin_only_on_trusted_peers`. */
  pinOnlyOnTrustedPeers?: boolean
  /** upstream `cluster.pin_only_on_untrusted_peers`. */
  pinOnlyOnUntrustedPeers?: boolean
}

/** Metrics split by the role of their peer; only peers having every needed metric. */
export interface ClassifiedMetrics {
  current: Map<PeerId, Metric[]>
  currentPeers: PeerId[]
  candidate: Map<PeerId, Metric[]>
  candidatePeers: PeerId[]
  priority: Map<PeerId, Metric[]>
  priorityPeers: PeerId[]
}

/** Upstream's message for too few peers. */
export function notEnoughPeersMessage(needed: number, wanted: number, available: number): string {
  return (
    'not enough peers to allocate CID. ' +
    `Needed at least: ${needed}. ` +
    `Wanted at most: ${wanted}. ` +
    `Available candidates: ${available}. ` +
    'See logs for more info.'
  )
}

function allocationError(cid: CID, needed: number, wanted: number, candidates: PeerId[]): NotEnoughPeersError {
  log.error(`Not enough candidates to allocate ${cid.toString()}:`)
  log.error(`  Needed: ${needed}`)
  log.error(`  Wanted: ${wanted}`)
  log.error(`  Available candidates: ${candidates.length}:`)
  for (const c of candidates) log.error(`    - ${c}`)
  return new NotEnoughPeersError(notEnoughPeersMessage(needed, wanted, candidates.length))
}

/**
 * Splits metrics (by name) into current/priority/candidate peers, dropping
 * blacklisted and (un)trusted peers as configured and peers that lack one
 * of `names` (upstream `filterMetrics`). Peer order follows `currentAllocations`
 * for current peers and first appearance otherwise.
 */
export function filterMetrics(
  byName: Map<string, Metric[]>,
  names: readonly string[],
  input: Pick<
    AllocateInput,
    'currentAllocations' | 'priorityList' | 'blacklist' | 'isTrusted' | 'pinOnlyOnTrustedPeers' | 'pinOnlyOnUntrustedPeers'
  >
): ClassifiedMetrics {
  const blacklist = new Set(input.blacklist)
  const current = new Set(input.currentAllocations)
  const priority = new Set(input.priorityList)
  const isTrusted = input.isTrusted ?? (() => true)
  const byPeer = new Map<PeerId, Map<string, Metric>>()
  for (const name of names) {
    for (const m of byName.get(name) ?? []) {
      if (m.name !== name) continue
      if (blacklist.has(m.peer)) continue
      if (input.pinOnlyOnTrustedPeers === true && !isTrusted(m.peer)) continue
      if (input.pinOnlyOnUntrustedPeers === true && isTrusted(m.peer)) continue
      let ms = byPeer.get(m.peer)
      if (ms === undefined) {
        ms = new Map()
        byPeer.set(m.peer, ms)
      }
      if (!ms.has(name)) ms.set(name, m)
    }
  }
  const wanted = new Set(names)
  const out: ClassifiedMetrics = {
    current: new Map(),
    currentPeers: [],
    candidate: new Map(),
    candidatePeers: [],
    priority: new Map(),
    priorityPeers: []
  }
  const complete = (p: PeerId): Metric[] | undefined => {
    const ms = byPeer.get(p)
    return ms !== undefined && ms.size === wanted.size ? [...ms.values()] : undefined
  }
  for (const p of input.currentAllocations) {
    const ms = complete(p)
    if (ms === undefined || out.current.has(p)) continue
    out.current.set(p, ms)
    out.currentPeers.push(p)
  }
  for (const p of byPeer.keys()) {
    if (current.has(p)) continue
    const ms = complete(p)
    if (ms === undefined) continue
    if (priority.has(p)) {
      out.priority.set(p, ms)
      out.priorityPeers.push(p)
    } else {
      out.candidate.set(p, ms)
      out.candidatePeers.push(p)
    }
  }
  return out
}

/**
 * Decides new allocations from classified metrics (upstream
 * `obtainAllocations`). Returns `undefined` when the current allocations
 * are enough (`needed ≤ 0`). @throws NotEnoughPeersError
 */
export async function obtainAllocations(
  cid: CID,
  rplMin: number,
  rplMax: number,
  metrics: ClassifiedMetrics,
  allocator: PinAllocator,
  options?: AbortOptions
): Promise<PeerId[] | undefined> {
  const nCurrentValid = metrics.currentPeers.length
  const nAvailableValid = metrics.candidatePeers.length + metrics.priorityPeers.length
  const needed = rplMin - nCurrentValid
  const wanted = rplMax - nCurrentValid
  log.debug(
    `obtainAllocations: current: ${nCurrentValid} available: ${nAvailableValid} candidates: ${metrics.candidatePeers.length} priority: ${metrics.priorityPeers.length} needed: ${needed} wanted: ${wanted}`
  )
  if (wanted < 0) return metrics.currentPeers.slice(0, nCurrentValid + wanted)
  if (needed <= 0) return undefined
  if (nAvailableValid < needed) {
    throw allocationError(cid, needed, wanted, [...metrics.priorityPeers, ...metrics.candidatePeers])
  }
  const finalAllocs = await allocator.allocate(cid, metrics.current, metrics.candidate, metrics.priority, options)
  log.debug(`obtainAllocations: allocate(): ${finalAllocs.join(',')}`)
  if (finalAllocs.length < needed) throw allocationError(cid, needed, wanted, finalAllocs)
  return [...metrics.currentPeers, ...finalAllocs.slice(0, Math.min(wanted, finalAllocs.length))]
}

/**
 * Peers that should pin `input.cid` (upstream `Cluster.allocate`).
 * @returns `[]` for pin-everywhere; otherwise the allocations in order
 * @throws InvalidArgumentError when `rplMin + rplMax == 0`
 * @throws NotEnoughPeersError when fewer than `rplMin` peers qualify
 */
export async function allocate(input: AllocateInput, options?: AbortOptions): Promise<PeerId[]> {
  const { rplMin, rplMax } = input
  if (rplMin + rplMax === 0) throw new InvalidArgumentError(`bad replication factors: ${rplMin}/${rplMax}`)
  if (rplMin < 0 && rplMax < 0) return []
  const names = input.allocator.metrics()
  const byName = new Map<string, Metric[]>()
  for (const name of names) byName.set(name, await input.metrics(name, options))
  options?.signal?.throwIfAborted()
  const classified = filterMetrics(byName, names, input)
  const newAllocs = await obtainAllocations(input.cid, rplMin, rplMax, classified, input.allocator, options)
  return newAllocs ?? [...input.currentAllocations]
}
