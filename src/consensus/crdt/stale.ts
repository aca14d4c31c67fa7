/**
 * Finding re-allocations that undo a concurrent unpin (ours; go-ds-crdt and
 * upstream have the race and keep the pin).
 *
 * The race: peer X re-allocates pin P away from a peer it thinks dead (a
 * put of P with new allocations, block A), while peer Y, which has not seen
 * A yet, unpins P (block D tombstones the element Y knew, E). In the
 * add-wins set A survives D, so the acknowledged unpin is undone on every
 * peer. A is stale when
 * - A's value is E's value apart from the allocations (our re-allocations
 *   keep the pin's timestamp, a user's new pin has a new one: see
 *   src/state/reallocation.ts), and
 * - D is not an ancestor of A (A was made without knowing of the unpin).
 * A user's pin made after the unpin descends from D and is kept.
 */
import * as dagPB from '@ipld/dag-pb'
import type { CID } from 'multiformats/cid'
import type { AbortOptions } from '../../interfaces.ts'
import { blockId } from './dag.ts'
import type { BlockGetter, CrdtSet } from './set.ts'
import type { Txn } from './txn.ts'

/** How many DAG nodes an ancestry walk may visit before it gives up (undecided: the pin is kept). */
export const ANCESTRY_WALK_LIMIT = 10_000

/**
 * A delta node's links and priority, without decoding its elements: the
 * DAG-PB links, and field 3 of the `Delta` in its Data.
 * @throws Error when not a DAG-PB node or the Delta is malformed.
 */
export function nodeHeader(bytes: Uint8Array): { links: CID[]; priority: bigint } {
  const node = dagPB.decode(bytes)
  const data = node.Data ?? new Uint8Array(0)
  let i = 0
  let priority = 0n
  const varint = (): bigint => {
    let v = 0n
    let shift = 0n
    for (let n = 0; n < 10; n++) {
      const b = data[i++]
      if (b === undefined) throw new Error('truncated varint in delta')
      v |= BigInt(b & 0x7f) << shift
      if (b < 0x80) return v
      shift += 7n
    }
    throw new Error('varint too long in delta')
  }
  while (i < data.length) {
    const tag = varint()
    const wire = Number(tag & 7n)
    if (wire === 0) {
      const v = varint()
      if (tag >> 3n === 3n) priority = v
    } else if (wire === 2) {
      const len = Number(varint()) // read before i moves past it
      i += len
    }    else if (wire === 1) i += 8
    else if (wire === 5) i += 4
    else throw new Error(`bad wire type ${wire} in delta`)
    if (i > data.length) throw new Error('truncated field in delta')
  }
  return { links: node.Links.map((l) => l.Hash), priority }
}

/**
 * Whether block `ancestor` (priority `ancestorPriority`) is an ancestor of
 * block `of` (priority `ofPriority`): a walk down the links of `of` that
 * stops at nodes of priority ≤ `ancestorPriority` (priorities fall along
 * links, so nothing below them can be the ancestor). Undefined when it
 * cannot tell: a block is not local, or more than `limit` nodes.
 */
export async function isAncestor(
  ancestor: string,
  ancestorPriority: bigint,
  of: string,
  ofPriority: bigint,
  getBlock: BlockGetter,
  options?: AbortOptions,
  limit = ANCESTRY_WALK_LIMIT
): Promise<boolean | undefined> {
  if (of === ancestor) return true
  if (ofPriority <= ancestorPriority) return false
  const seen = new Set<string>([of])
  const queue = [of]
  while (queue.length > 0) {
    options?.signal?.throwIfAborted()
    const id = queue.pop()!
    let header: { links: CID[]; priority: bigint }
    try {
      header = nodeHeader(await getBlock(id, { signal: options?.signal, localOnly: true }))
    } catch {
      return undefined
    }
    if (header.priority <= ancestorPriority) continue
    for (const link of header.links) {
      const l = blockId(link)
      if (l === ancestor) return true
      if (seen.has(l)) continue
      if (seen.size >= limit) return undefined
      seen.add(l)
      queue.push(l)
    }
  }
  return false
}

/**
 * The ids of `key`'s live elements that are stale re-allocations (see the
 * file's comment). `isReallocation(live, removed)` compares two values.
 */
export async function staleReallocations(
  set: CrdtSet,
  txn: Txn,
  key: string,
  getBlock: BlockGetter,
  isReallocation: (live: Uint8Array, removed: Uint8Array) => boolean,
  options?: AbortOptions
): Promise<string[]> {
  const live = await set.liveElemIds(txn, key, options)
  if (live.length === 0) return []
  const removals = (await set.tombRecords(txn, key, options)).flatMap((t) => (t.record === undefined || t.record.removed.length === 0 ? [] : [t.record]))
  if (removals.length === 0) return []
  const stale: string[] = []
  const cache = new Map()
  for (const a of live) {
    const value = await set.elementValue(a, key, getBlock, cache, options)
    if (value === undefined) continue
    let priority: bigint
    try {
      priority = nodeHeader(await getBlock(a, { signal: options?.signal, localOnly: true })).priority
    } catch {
      continue
    }
    for (const r of removals) {
      if (!isReallocation(value, r.removed)) continue
      if ((await isAncestor(r.deleter, r.deleterPriority, a, priority, getBlock, options)) === false) {
        stale.push(a)
        break
      }
    }
  }
  return stale
}
