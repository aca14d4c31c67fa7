/**
 * The add-wins observed-remove set of go-ds-crdt (set.go, v0.6.8), with its
 * datastore layout under `<ns>/s`:
 * - `<ns>/s/s/<key>/<id>`: element `key` added by block `id` (empty value)
 * - `<ns>/s/t/<key>/<id>`: that element tombstoned
 * - `<ns>/s/k/<key>/v`: the current value of a live key (the "live index")
 * - `<ns>/s/k/<key>/p`: its priority, uvarint(priority + 1)
 * Keys are `/<BASE32(cid bytes)>`, ids `/<BASE32(block multihash)>`.
 * The value with the highest priority wins; ties go to the greatest value
 * bytes. Merging is commutative: deltas may arrive in any order.
 */
import { compare } from 'uint8arrays/compare'
import type { AbortOptions } from '../../interfaces.ts'
import { createdIndexWrites, createdPrefix } from '../../state/created.ts'
import { blockIdToCid, decodeNode } from './dag.ts'
import type { Delta, Element } from './pb/delta.pb.ts'
import { putUvarint, readUvarint, type Txn } from './txn.ts'

/** What a merge did to a key, reported once its transaction commits. */
export type SetChange = { op: 'put'; key: string; value: Uint8Array } | { op: 'delete'; key: string; old: Uint8Array | undefined }

/** Reads a block's bytes (local store first, then the DAG syncer). */
export type BlockGetter = (id: string, options?: AbortOptions) => Promise<Uint8Array>

export class CrdtSet {
  readonly ns: string
  /** `<namespace>/created/`: the local pins-by-creation index (src/state/created.ts), kept in each merge's transaction. */
  readonly createdPrefix: string

  /** @param namespace the crdt namespace, e.g. `/c` (the set lives in `<namespace>/s`). */
  constructor(namespace: string) {
    this.ns = `${namespace}/s`
    this.createdPrefix = createdPrefix(namespace)
  }

  valueKey(key: string): string {
    return `${this.ns}/k${key}/v`
  }

  priorityKey(key: string): string {
    return `${this.ns}/k${key}/p`
  }

  /** Prefix of every live-index entry: `<ns>/s/k/`. */
  get keysPrefix(): string {
    return `${this.ns}/k/`
  }

  private elemsPrefix(key: string): string {
    return `${this.ns}/s${key}/`
  }

  private tombKey(key: string, id: string): string {
    return `${this.ns}/t${key}${id}`
  }

  /** ids of blocks that added `key` (top-level only). */
  private async elemIds(txn: Txn, key: string, options?: AbortOptions): Promise<string[]> {
    return await this.idsUnder(txn, this.elemsPrefix(key), options)
  }

  private async idsUnder(txn: Txn, prefix: string, options?: AbortOptions): Promise<string[]> {
    const out: string[] = []
    for (const k of await txn.keysWithPrefix(prefix, options)) {
      const rest = k.slice(prefix.length)
      if (rest === '' || rest.includes('/')) continue // another key sharing the prefix
      out.push('/' + rest)
    }
    return out
  }

  /**
   * ids of blocks that added `key` and are not tombstoned: two range reads
   * (its elements, its tombstones) instead of one lookup per element. A key
   * pinned and unpinned n times has n of each, so this is what keeps churn
   * on the same CIDs cheap.
   */
  private async liveElemIds(txn: Txn, key: string, options?: AbortOptions): Promise<string[]> {
    const elems = await this.elemIds(txn, key, options)
    if (elems.length === 0) return elems
    const tombs = new Set(await this.idsUnder(txn, `${this.ns}/t${key}/`, options))
    return tombs.size === 0 ? elems : elems.filter((id) => !tombs.has(id))
  }

  async inTombs(txn: Txn, key: string, id: string, options?: AbortOptions): Promise<boolean> {
    return await txn.has(this.tombKey(key, id), options)
  }

  /** The tombstones a removal of `key` needs: every element not yet tombstoned (set.go Rmv). */
  async rmv(txn: Txn, key: string, options?: AbortOptions): Promise<Element[]> {
    return (await this.liveElemIds(txn, key, options)).map((id) => ({ key, id, value: new Uint8Array(0) }))
  }

  private async getPriority(txn: Txn, key: string, options?: AbortOptions): Promise<bigint> {
    const b = await txn.get(this.priorityKey(key), options)
    if (b === undefined) return 0n
    return readUvarint(b) - 1n
  }

  private setPriority(txn: Txn, key: string, prio: bigint): void {
    txn.put(this.priorityKey(key), putUvarint(prio + 1n))
  }

  private async setValue(
    txn: Txn,
    key: string,
    id: string,
    value: Uint8Array,
    prio: bigint,
    fresh: boolean,
    current: Uint8Array | undefined,
    options?: AbortOptions
  ): Promise<void> {
    if (!fresh && (await this.inTombs(txn, key, id, options))) return
    // a key without a value has no priority row either (both are written and
    // deleted together, here and in merge), so its priority is 0: not read
    const cur = current === undefined ? 0n : await this.getPriority(txn, key, options)
    if (prio < cur) return
    const vk = this.valueKey(key)
    if (prio === cur) {
      const curValue = current ?? new Uint8Array(0)
      if (compare(curValue, value) >= 0) return
    }
    txn.put(vk, value)
    this.setPriority(txn, key, prio)
  }

  /** The best value among live elements of `key`, skipping `pending` ids (set.go findBestValue). */
  private async findBestValue(
    txn: Txn,
    key: string,
    pending: string[],
    getBlock: BlockGetter,
    options?: AbortOptions
  ): Promise<{ value: Uint8Array | undefined; prio: bigint }> {
    let best: Uint8Array | undefined
    let bestPrio = 0n
    for (const id of await this.liveElemIds(txn, key, options)) {
      if (pending.includes(id)) continue
      const { delta } = decodeNode(await getBlock(id, options))
      if (delta.priority < bestPrio) continue
      let greatest: Uint8Array | undefined
      for (const e of delta.elements) {
        if (e.key !== key) continue
        if (greatest === undefined || compare(greatest, e.value) < 0) greatest = e.value
      }
      if (greatest === undefined) continue
      if (delta.priority > bestPrio) {
        best = greatest
        bestPrio = delta.priority
        continue
      }
      if (best === undefined || compare(best, greatest) < 0) best = greatest
    }
    return { value: best, prio: bestPrio }
  }

  /**
   * Merges a delta produced by block `id` into the set (tombstones first,
   * then elements), writing into `txn` and recording per-key changes.
   * `fresh`: the block was made by this very call's transaction (a local
   * publish), so no tombstone can name it yet (a tombstone names a block id,
   * the hash of a block nobody else has seen) and that lookup is skipped.
   */
  async merge(
    txn: Txn,
    delta: Delta,
    id: string,
    getBlock: BlockGetter,
    changes: Map<string, SetChange>,
    options?: AbortOptions,
    fresh = false
  ): Promise<void> {
    const before = new Map<string, Uint8Array | undefined>()
    const touch = async (key: string): Promise<void> => {
      if (!before.has(key)) before.set(key, await txn.get(this.valueKey(key), options))
    }
    const deleted = new Map<string, string[]>()
    for (const t of delta.tombstones) {
      const key = t.key
      await touch(key)
      const ids = deleted.get(key) ?? []
      ids.push(t.id)
      deleted.set(key, ids)
      const vk = this.valueKey(key)
      const { value, prio } = await this.findBestValue(txn, key, ids, getBlock, options)
      if (value === undefined) {
        txn.delete(vk)
        txn.delete(this.priorityKey(key))
      } else {
        txn.put(vk, value)
        this.setPriority(txn, key, prio)
      }
      txn.put(this.tombKey(key, t.id), new Uint8Array(0))
    }
    for (const e of delta.elements) {
      const key = e.key
      await touch(key)
      txn.put(this.elemsPrefix(key) + id.slice(1), new Uint8Array(0))
      const vk = this.valueKey(key)
      // the current value: this transaction's write, else what `touch` read
      const current = txn.writes.has(vk) ? (txn.writes.get(vk) ?? undefined) : before.get(key)
      await this.setValue(txn, key, id, e.value, delta.priority, fresh, current, options)
    }
    // report the net effect on each key touched
    for (const [key, old] of before) {
      const now = await txn.get(this.valueKey(key), options)
      if (now === undefined) {
        if (old !== undefined) changes.set(key, { op: 'delete', key, old })
      } else if (old === undefined || compare(old, now) !== 0) {
        changes.set(key, { op: 'put', key, value: now })
      } else continue
      // the index follows the value, in the same transaction (never broadcast: not part of the delta)
      for (const [k, v] of createdIndexWrites(this.createdPrefix, key, old, now)) {
        if (v === null) txn.delete(k)
        else txn.put(k, v)
      }
    }
  }
}

export { blockIdToCid }
