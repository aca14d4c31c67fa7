/**
 * The add-wins observed-remove set of go-ds-crdt (set.go, v0.6.8), with its
 * datastore layout under `<ns>/s`:
 * - `<ns>/s/s/<key>/<id>`: element `key` added by block `id` (empty value).
 *   go-ds-crdt keeps an element once it is tombstoned; ours deletes it in
 *   the tombstone's transaction, so these keys are the live elements: what
 *   a removal must tombstone and among which a value is chosen are read
 *   without going through the key's whole history (a CID pinned and
 *   unpinned n times had n elements and n tombstones, read at every
 *   operation). Tombstoned elements left by go-ds-crdt's rules (a store of
 *   an earlier version of ours) are deleted the first time their key is
 *   read. A build that keeps them computes the same live set from this
 *   layout (elements not tombstoned).
 * - `<ns>/s/t/<key>/<id>`: that element tombstoned; go-ds-crdt stores an
 *   empty value, ours stores who tombstoned it and what it removed
 *   (`encodeTombValue`: a local record, never broadcast; go-ds-crdt reads
 *   only the key)
 * - `<ns>/s/k/<key>/v`: the current value of a live key (the "live index")
 * - `<ns>/s/k/<key>/p`: its priority, uvarint(priority + 1)
 * - `<namespace>/r<key>` (ours): a key to check for a stale re-allocation
 *   (see `CrdtStore` and `reallocationCheckKey`); its value is the id of the
 *   block whose merge asked for the check
 * Keys are `/<BASE32(cid bytes)>`, ids `/<BASE32(block multihash)>`.
 * The value with the highest priority wins; ties go to the greatest value
 * bytes. Merging is commutative: deltas may arrive in any order.
 */
import { compare } from 'uint8arrays/compare'
import { equals } from 'uint8arrays/equals'
import { errorMessage } from '../../errors.ts'
import type { AbortOptions } from '../../interfaces.ts'
import { getLogger } from '../../observability/logging.ts'
import { timeSlicer } from '../../runtime/slicer.ts'
import { createdIndexWrites, createdPrefix } from '../../state/created.ts'
import { blockIdToCid, decodeNode } from './dag.ts'
import type { Delta, Element } from './pb/delta.pb.ts'
import { putUvarint, readUvarint, type Txn } from './txn.ts'

const log = getLogger('crdt')

/** What a merge did to a key, reported once its transaction commits. */
export type SetChange = { op: 'put'; key: string; value: Uint8Array } | { op: 'delete'; key: string; old: Uint8Array | undefined }

/** What a tombstone records (ours): the block that tombstoned the element, its priority, the key's value it removed. */
export interface TombRecord {
  deleter: string
  deleterPriority: bigint
  /** the key's value before the deleting delta was merged here (empty when the key was not live) */
  removed: Uint8Array
}

const TOMB_RECORD_VERSION = 1

/**
 * The `value` of the tombstones by which a peer removes a stale
 * re-allocation (go-ds-crdt tombstones have an empty value, and every
 * go-ds-crdt version ignores it: the delta stays theirs). Such a removal is
 * no unpin, so it is never taken as one: what it removed is not recorded.
 */
export const STALE_REALLOCATION_TOMBSTONE: Uint8Array = new TextEncoder().encode('stale re-allocation')

/** Encodes a tombstone's value: `0x01, uvarint(len(deleter)), deleter (ASCII), uvarint(priority), removed`. */
export function encodeTombValue(rec: TombRecord): Uint8Array {
  const id = new TextEncoder().encode(rec.deleter)
  const idLen = putUvarint(id.length)
  const prio = putUvarint(rec.deleterPriority)
  const out = new Uint8Array(1 + idLen.length + id.length + prio.length + rec.removed.length)
  let o = 0
  out[o++] = TOMB_RECORD_VERSION
  out.set(idLen, o)
  o += idLen.length
  out.set(id, o)
  o += id.length
  out.set(prio, o)
  o += prio.length
  out.set(rec.removed, o)
  return out
}

/** Decodes a tombstone's value; undefined for go-ds-crdt's empty value or anything else not ours. */
export function decodeTombValue(b: Uint8Array): TombRecord | undefined {
  if (b.length < 3 || b[0] !== TOMB_RECORD_VERSION) return undefined
  try {
    let o = 1
    const [idLen, n1] = uvarintAt(b, o)
    o += n1
    if (o + idLen > b.length) return undefined
    const deleter = new TextDecoder().decode(b.subarray(o, o + idLen))
    o += idLen
    const [prio, n2] = uvarintAt(b, o)
    o += n2
    return { deleter, deleterPriority: BigInt(prio), removed: b.subarray(o) }
  } catch {
    return undefined
  }
}

/** A uvarint at `o` (at most 8 bytes, below 2^53): [value, bytes read]. @throws RangeError when truncated or too long. */
function uvarintAt(b: Uint8Array, o: number): [number, number] {
  let v = 0
  let mul = 1
  for (let i = 0; i < 8; i++) {
    const c = b[o + i]
    if (c === undefined) throw new RangeError('truncated uvarint')
    v += (c & 0x7f) * mul
    if (c < 0x80) return [v, i + 1]
    mul *= 128
  }
  throw new RangeError('uvarint too long')
}

/** Reads a block's bytes (local store first, then the DAG syncer unless `localOnly`). @throws when it cannot. */
export type BlockGetter = (id: string, options?: AbortOptions & { localOnly?: boolean }) => Promise<Uint8Array>

export class CrdtSet {
  readonly ns: string
  /** `<namespace>/created/`: the local pins-by-creation index (src/state/created.ts), kept in each merge's transaction. */
  readonly createdPrefix: string

  /** @param namespace the crdt namespace, e.g. `/c` (the set lives in `<namespace>/s`). */
  /** `<namespace>/r`: keys to check for a stale re-allocation (written by merges when `checkReallocations`). */
  readonly checkPrefix: string
  /** remote merges mark the keys a stale re-allocation could hide in (`CrdtStore` checks them) */
  checkReallocations = false

  /** @param namespace the crdt namespace, e.g. `/c` (the set lives in `<namespace>/s`). */
  constructor(namespace: string) {
    this.ns = `${namespace}/s`
    this.createdPrefix = createdPrefix(namespace)
    this.checkPrefix = `${namespace}/r`
  }

  /** `<namespace>/r<key>`: `key` is to be checked for a stale re-allocation. */
  reallocationCheckKey(key: string): string {
    return this.checkPrefix + key
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

  /** `<ns>/s/s<key>/<id>`: the element block `id` added to `key`. */
  private elemKey(key: string, id: string): string {
    return this.elemsPrefix(key) + id.slice(1)
  }

  /** `<ns>/s/t<key>/`: the tombstones of `key`. */
  private tombsPrefix(key: string): string {
    return `${this.ns}/t${key}/`
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
    for (const k of await txn.childKeys(prefix, options)) {
      const rest = k.slice(prefix.length)
      if (rest === '') continue
      out.push('/' + rest)
    }
    return out
  }

  /** The elements of `key` tombstoned so far (their block ids), with what each tombstone recorded (undefined: go-ds-crdt's empty value). */
  async tombRecords(txn: Txn, key: string, options?: AbortOptions): Promise<Array<{ id: string; record: TombRecord | undefined }>> {
    const out: Array<{ id: string; record: TombRecord | undefined }> = []
    for (const id of await this.idsUnder(txn, this.tombsPrefix(key), options)) {
      const v = await txn.get(this.tombKey(key, id), options)
      out.push({ id, record: v === undefined ? undefined : decodeTombValue(v) })
    }
    return out
  }

  /**
   * ids of blocks that added `key` and are not tombstoned: its stored
   * elements, each checked against its tombstone (a point read). A
   * tombstoned element found (left by go-ds-crdt's rules, see the layout
   * above) is deleted in `txn`.
   */
  async liveElemIds(txn: Txn, key: string, options?: AbortOptions): Promise<string[]> {
    const out: string[] = []
    for (const id of await this.elemIds(txn, key, options)) {
      if (await this.inTombs(txn, key, id, options)) txn.delete(this.elemKey(key, id))
      else out.push(id)
    }
    return out
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

  /** Makes `value` the key's value when its priority wins (an untombstoned element: the caller checked). */
  private async setValue(txn: Txn, key: string, value: Uint8Array, prio: bigint, current: Uint8Array | undefined, options?: AbortOptions): Promise<void> {
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

  /**
   * The value block `id` gave `key` (the greatest, if several), or undefined
   * when the block cannot be read or has no such element; `cache` holds the
   * deltas decoded so far (null: unreadable).
   */
  async elementValue(id: string, key: string, getBlock: BlockGetter, cache: Map<string, Delta | null>, options?: AbortOptions): Promise<Uint8Array | undefined> {
    let delta = cache.get(id)
    if (delta === undefined) {
      try {
        delta = decodeNode(await getBlock(id, { signal: options?.signal, localOnly: true })).delta
      } catch (err) {
        options?.signal?.throwIfAborted()
        log.debug(`reading block ${id} for the value it gave ${key}: ${errorMessage(err)}`)
        delta = null
      }
      cache.set(id, delta)
    }
    if (delta === null) return undefined
    let greatest: Uint8Array | undefined
    for (const e of delta.elements) {
      if (e.key !== key) continue
      if (greatest === undefined || compare(greatest, e.value) < 0) greatest = e.value
    }
    return greatest
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
   * Returns whether it marked keys for a re-allocation check
   * (`checkReallocations`, remote blocks only: a local delta descends from
   * every delete merged here before it).
   */
  async merge(
    txn: Txn,
    delta: Delta,
    id: string,
    getBlock: BlockGetter,
    changes: Map<string, SetChange>,
    options?: AbortOptions,
    fresh = false
  ): Promise<boolean> {
    const marking = this.checkReallocations && !fresh
    // a remote delta holds up to ~10k pins, each read and written synchronously
    // (sqlite): without turns a joining peer's event loop was deaf for seconds
    // per delta (see src/runtime/slicer.ts). The txn is this call's own and the
    // store's lock is held, so nothing else writes meanwhile.
    const turn = timeSlicer()
    const toCheck = new Set<string>()
    const decoded = new Map<string, Delta | null>()
    const before = new Map<string, Uint8Array | undefined>()
    const touch = async (key: string): Promise<void> => {
      if (!before.has(key)) before.set(key, await txn.get(this.valueKey(key), options))
    }
    const deleted = new Map<string, string[]>()
    for (const t of delta.tombstones) {
      await turn()
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
      const removed = equals(t.value, STALE_REALLOCATION_TOMBSTONE)
        ? new Uint8Array(0)
        : ((await this.elementValue(t.id, key, getBlock, decoded, options)) ?? new Uint8Array(0))
      txn.put(this.tombKey(key, t.id), encodeTombValue({ deleter: id, deleterPriority: delta.priority, removed }))
      // the element is no longer live: only its tombstone stays (see the layout above)
      txn.delete(this.elemKey(key, t.id))
      if (marking) toCheck.add(key)
    }
    for (const e of delta.elements) {
      await turn()
      const key = e.key
      await touch(key)
      // an element tombstoned before it arrived is not stored (see the layout above)
      if (!fresh && (await this.inTombs(txn, key, id, options))) continue
      txn.put(this.elemKey(key, id), new Uint8Array(0))
      const vk = this.valueKey(key)
      // the current value: this transaction's write, else what `touch` read
      const current = txn.writes.has(vk) ? (txn.writes.get(vk) ?? undefined) : before.get(key)
      // a key that was ever removed may hide a stale re-allocation
      if (marking && (await txn.hasChildKey(this.tombsPrefix(key), options))) toCheck.add(key)
      await this.setValue(txn, key, e.value, delta.priority, current, options)
    }
    // report the net effect on each key touched
    for (const [key, old] of before) {
      await turn()
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
    let marked = false
    for (const key of toCheck) {
      if ((await txn.get(this.valueKey(key), options)) === undefined) continue // not live: nothing to undo
      txn.put(this.reallocationCheckKey(key), new TextEncoder().encode(id))
      marked = true
    }
    return marked
  }
}

export { blockIdToCid }
