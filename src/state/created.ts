/**
 * The pins-by-creation index: a local key range, next to the state, that
 * lists the pinset newest first so the Pinning Service API can page
 * (`GET /pins?before=…&limit=…`) in O(limit + log n) instead of reading
 * every pin per page. Upstream stores no such index (it sorts nothing); the
 * stored pins keep upstream's format and the index is never broadcast: it
 * is derived from the state on each peer.
 *
 * `created` is the pin's stored timestamp (whole seconds, upstream's
 * protobuf) plus a fraction of a second derived from its CID (whole
 * milliseconds 0..999, FNV-1a of the CID bytes): see `createdOf`.
 *
 * Layout, under a namespace `<ns>` (the crdt's, or the raft state's):
 * - `<ns>/created/<order>/<BASE32(cid bytes)>` → empty, where `<order>` is
 *   12 hex digits of the inverted second then 3 decimal digits of the
 *   inverted millisecond, so ascending key order is newest first; pins of
 *   the same `created` follow in state-key order;
 * - `<ns>/created_version` → `1` once the index covers the whole state. A
 *   store without it (written by a version without the index) has it
 *   rebuilt (`rebuildCreatedIndex`) before it is used.
 */
import { Key } from 'interface-datastore'
import type { Datastore } from 'interface-datastore'
import { base32upper } from 'multiformats/bases/base32'
import type { CID } from 'multiformats/cid'
import { keysFrom } from '../datastore/range.ts'
import type { AbortOptions } from '../interfaces.ts'

/** A `created` time: nanoseconds since the Unix epoch (negative for upstream's zero time, year 1). */
export type Created = bigint

const NS = 1_000_000_000n
/** upstream's zero time (`time.Time{}`, 0001-01-01) in seconds since the epoch: what an unset stored timestamp means. */
const ZERO_SECONDS = -62_135_596_800n
/** seconds are offset by 2^44 and inverted within 2^48: 12 hex digits cover year 1 to far beyond any real clock. */
const OFFSET = 1n << 44n
const SPAN = (1n << 48n) - 1n

/** The index key range of a namespace (`''` for the root). */
export function createdPrefix(ns: string): string {
  return `${ns}/created/`
}

/** The marker key: present once the index covers the whole state. */
export function createdMarkerKey(ns: string): string {
  return `${ns}/created_version`
}

export const CREATED_MARKER_VALUE: Uint8Array = new Uint8Array([0x31])

/** FNV-1a (32 bits) of the CID's bytes, folded to whole milliseconds (0..999). */
export function createdFractionMs(cidBytes: Uint8Array): number {
  let h = 0x811c9dc5
  // an index loop: for…of over a typed array view ran 10× slower
  for (let i = 0; i < cidBytes.length; i++) {
    h ^= cidBytes[i]!
    h = Math.imul(h, 0x01000193) >>> 0
  }
  return h % 1000
}

/** The `created` of a pin stored with `seconds` (0 = unset: upstream's zero time). */
export function createdOfSeconds(cidBytes: Uint8Array, seconds: bigint): Created {
  const s = seconds === 0n ? ZERO_SECONDS : seconds
  return s * NS + BigInt(createdFractionMs(cidBytes)) * 1_000_000n
}

/** The `created` of a pin committed at `timestamp` (a `Pin.timestamp`; upstream's zero date gives the oldest). */
export function createdOf(cid: CID, timestamp: Date): Created {
  const ms = timestamp.getTime()
  const seconds = Number.isFinite(ms) && ms > 0 ? BigInt(Math.floor(ms / 1000)) : 0n
  return createdOfSeconds(cid.bytes, seconds)
}

/** The `<order>` part of an index key for `created` (floored to the millisecond). */
export function createdOrder(c: Created): string {
  let s = c / NS
  let rem = c % NS
  if (rem < 0n) {
    s -= 1n
    rem += NS
  }
  let shifted = s + OFFSET
  if (shifted < 0n) shifted = 0n
  if (shifted > SPAN) shifted = SPAN
  const ms = Number(rem / 1_000_000n)
  return (SPAN - shifted).toString(16).padStart(12, '0') + String(999 - ms).padStart(3, '0')
}

/** The index key of a pin: `<prefix><order>/<state key body>`; `stateKey` is `/<BASE32(cid bytes)>`. */
export function createdIndexKey(prefix: string, created: Created, stateKey: string): string {
  return `${prefix}${createdOrder(created)}${stateKey}`
}

/** The state key (`/<BASE32>`) an index key points to. */
export function stateKeyOfIndexKey(indexKey: string): string {
  return indexKey.slice(indexKey.lastIndexOf('/'))
}

/**
 * The `Cid` (field 1) and `Timestamp` (field 7) of a protobuf Pin, read
 * without decoding the rest. Returns undefined for bytes that are not a
 * well-formed message.
 */
export function scanPinCreated(value: Uint8Array): { cid: Uint8Array | undefined; seconds: bigint } | undefined {
  let cid: Uint8Array | undefined
  let seconds = 0n
  const n = value.length
  let i = 0
  while (i < n) {
    const tagStart = i
    i = readVarint(value, i)
    if (i < 0) return undefined
    let field: number
    let wire: number
    if (varintWide) {
      const big = bigVarint(value, tagStart)
      field = Number(big >> 3n)
      wire = Number(big & 7n)
    } else {
      field = Math.floor(varintValue / 8)
      wire = varintValue % 8
    }
    if (wire === 0 || wire === 2) {
      const start = i
      i = readVarint(value, i)
      if (i < 0) return undefined
      if (wire === 0) {
        if (field === 7) seconds = varintWide ? bigVarint(value, start) : BigInt(varintValue)
      } else {
        // a length of 8 bytes or more cannot fit in the message
        if (varintWide || i + varintValue > n) return undefined
        if (field === 1) cid = value.subarray(i, i + varintValue)
        i += varintValue
      }
    } else if (wire === 1) i += 8
    else if (wire === 5) i += 4
    else return undefined
  }
  if (i > n) return undefined
  return { cid, seconds }
}

/** `readVarint`'s results: the value (its first 7 bytes, in Number arithmetic) and whether it had more */
let varintValue = 0
let varintWide = false

/**
 * Reads the varint at `value[start]` (at most 10 bytes) into `varintValue`
 * and `varintWide` (true past 7 bytes, 2^49: then read it again with
 * `bigVarint`); returns the index after it, or -1 when it is cut short or
 * too long. Number arithmetic: a BigInt per byte was most of the scan.
 */
function readVarint(value: Uint8Array, start: number): number {
  let v = 0
  let mul = 1
  let i = start
  for (let k = 0; ; k++) {
    if (k === 10 || i >= value.length) return -1
    const b = value[i++]!
    if (k < 7) v += (b & 0x7f) * mul
    if ((b & 0x80) === 0) {
      varintValue = v
      varintWide = k >= 7
      return i
    }
    mul *= 128
  }
}

/** The varint at `value[start]` as a BigInt (up to 10 bytes; its end was checked by `readVarint`). */
function bigVarint(value: Uint8Array, start: number): bigint {
  let v = 0n
  let shift = 0n
  for (let i = start; i < start + 10; i++) {
    const b = value[i]!
    v |= BigInt(b & 0x7f) << shift
    if ((b & 0x80) === 0) break
    shift += 7n
  }
  return v
}

/**
 * The index key of a stored pin (`stateKey` → protobuf `value`), or
 * undefined when the value cannot be read (such a pin is not indexed; the
 * state logs it when read).
 */
export function createdIndexKeyOf(prefix: string, stateKey: string, value: Uint8Array): string | undefined {
  const scanned = scanPinCreated(value)
  if (scanned === undefined) return undefined
  let cid = scanned.cid
  if (cid === undefined || cid.length === 0) {
    try {
      cid = base32upper.baseDecode(stateKey.slice(stateKey.lastIndexOf('/') + 1))
    } catch {
      return undefined
    }
  }
  const sec = scanned.seconds
  // the same key as createdIndexKey(createdOfSeconds(…)) without BigInt
  // arithmetic, for the stored seconds a clock gives (positive, below 2^44)
  if (sec > 0n && sec < OFFSET) {
    const order = (Number(SPAN) - (Number(sec) + Number(OFFSET))).toString(16).padStart(12, '0')
    return `${prefix}${order}${String(999 - createdFractionMs(cid)).padStart(3, '0')}${stateKey}`
  }
  return createdIndexKey(prefix, createdOfSeconds(cid, sec), stateKey)
}

/**
 * The index writes for one state key changing from `old` to `now`
 * (undefined = absent): the old entry deleted, the new one put.
 */
export function createdIndexWrites(
  prefix: string,
  stateKey: string,
  old: Uint8Array | undefined,
  now: Uint8Array | undefined
): Array<readonly [string, Uint8Array | null]> {
  const out: Array<readonly [string, Uint8Array | null]> = []
  const oldKey = old === undefined ? undefined : createdIndexKeyOf(prefix, stateKey, old)
  const newKey = now === undefined ? undefined : createdIndexKeyOf(prefix, stateKey, now)
  if (oldKey !== undefined && oldKey !== newKey) out.push([oldKey, null])
  if (newKey !== undefined) out.push([newKey, EMPTY])
  return out
}

const EMPTY = new Uint8Array(0)

/** Bounds of an index walk, both strict (`before`/`after` of `GET /pins`). */
export interface CreatedRange {
  before?: Created
  after?: Created
}

/** The first index key a walk over `range` reads (entries created at `floor(before)` may still be newer than `before`: filter them). */
export function createdStartKey(prefix: string, range: CreatedRange): string {
  return range.before === undefined ? prefix : prefix + createdOrder(range.before)
}

/** The `created` an index key was made from (its fraction is whole milliseconds). */
export function createdOfIndexKey(prefix: string, indexKey: string): Created {
  const order = indexKey.slice(prefix.length, prefix.length + 15)
  const s = SPAN - BigInt(`0x${order.slice(0, 12)}`) - OFFSET
  const ms = 999 - Number(order.slice(12, 15))
  return s * NS + BigInt(ms) * 1_000_000n
}

/** Whether the index of namespace `ns` covers the whole state (its marker is present). */
export async function createdIndexReady(ds: Datastore, ns: string, options?: AbortOptions): Promise<boolean> {
  return await ds.has(new Key(createdMarkerKey(ns), false), options)
}

const REBUILD_BATCH = 10_000

/**
 * Rebuilds the index of namespace `ns` from the state's `entries` (state
 * key → protobuf Pin): deletes the key range, writes one entry per pin in
 * batches, then the marker. Interrupted, it leaves no marker and runs again
 * at the next start. Returns the number of pins indexed.
 */
export async function rebuildCreatedIndex(
  ds: Datastore,
  ns: string,
  entries: AsyncIterable<{ key: string; value: Uint8Array }>,
  options?: AbortOptions
): Promise<number> {
  const prefix = createdPrefix(ns)
  await ds.delete(new Key(createdMarkerKey(ns), false), options)
  let batch = ds.batch()
  let n = 0
  for await (const k of ds.queryKeys({ prefix }, options)) {
    batch.delete(k)
    if (++n % REBUILD_BATCH === 0) {
      await batch.commit(options)
      batch = ds.batch()
    }
  }
  await batch.commit(options)
  batch = ds.batch()
  let indexed = 0
  for await (const { key, value } of entries) {
    const k = createdIndexKeyOf(prefix, key, value)
    if (k === undefined) continue
    batch.put(new Key(k, false), EMPTY)
    if (++indexed % REBUILD_BATCH === 0) {
      await batch.commit(options)
      batch = ds.batch()
    }
  }
  batch.put(new Key(createdMarkerKey(ns), false), CREATED_MARKER_VALUE)
  await batch.commit(options)
  return indexed
}

/**
 * Walks the index of namespace `ns` newest first within `range` (strict
 * bounds): the state key and `created` of each pin. Reaching the first
 * entry costs one range seek (O(log n)); each further entry is the next
 * key. The caller reads the pins it keeps.
 */
export async function* walkCreated(
  ds: Datastore,
  ns: string,
  range: CreatedRange,
  options?: AbortOptions
): AsyncGenerator<{ stateKey: string; created: Created }> {
  const prefix = createdPrefix(ns)
  for await (const k of keysFrom(ds, prefix, createdStartKey(prefix, range), options)) {
    const created = createdOfIndexKey(prefix, k)
    if (range.before !== undefined && created >= range.before) continue
    if (range.after !== undefined && created <= range.after) return
    yield { stateKey: stateKeyOfIndexKey(k), created }
  }
}
