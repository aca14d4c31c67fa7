/**
 * A write overlay over a datastore: reads see the pending writes, and
 * `commit()` applies every write in one datastore batch (one SQLite
 * transaction), so a delta's block, set entries, processed mark and heads
 * land together or not at all.
 */
import { errorName } from '../../errors.ts'
import { Key } from 'interface-datastore'
import type { Datastore } from 'interface-datastore'
import type { AbortOptions } from '../../interfaces.ts'
import { hasRawKeyValue, type RawKeyValue } from '../../datastore/raw.ts'

export class Txn {
  readonly ds: Datastore
  /** key -> value (null = deleted) */
  readonly writes = new Map<string, Uint8Array | null>()
  /**
   * parent (a key up to and with its last `/`) -> the keys written under
   * it: `childKeys` without a scan of every write. Built on the first
   * `childKeys` call and kept up to date from then on (a delta that never
   * asks, e.g. an import's, does not pay a Set per key).
   */
  private byParent: Map<string, Set<string>> | undefined

  /** the datastore's string-keyed access when it has one (sqlite): no Key objects, no NotFound throws */
  private readonly raw: RawKeyValue | undefined

  constructor(ds: Datastore) {
    this.ds = ds
    this.raw = hasRawKeyValue(ds) ? ds : undefined
  }

  put(key: string, value: Uint8Array): void {
    if (this.byParent !== undefined && !this.writes.has(key)) noteParent(this.byParent, key)
    this.writes.set(key, value)
  }

  delete(key: string): void {
    if (this.byParent !== undefined && !this.writes.has(key)) noteParent(this.byParent, key)
    this.writes.set(key, null)
  }

  private parents(): Map<string, Set<string>> {
    if (this.byParent === undefined) {
      this.byParent = new Map()
      for (const k of this.writes.keys()) noteParent(this.byParent, k)
    }
    return this.byParent
  }

  private clearWrites(): void {
    this.writes.clear()
    this.byParent = undefined
  }

  /**
   * Keys directly under `parent` (which ends with `/`: `<parent><name>`,
   * no further `/`), as stored plus pending writes (unordered). Unlike
   * `keysWithPrefix` its cost does not grow with the number of pending
   * writes, so a merge of a delta of 10,000 elements can ask it per element.
   */
  async childKeys(parent: string, options?: AbortOptions): Promise<string[]> {
    const out = new Set<string>()
    if (this.raw !== undefined) {
      for (const { key } of this.raw.entriesRaw(parent, options)) if (isChildOf(parent, key)) out.add(key)
    } else {
      for await (const k of this.ds.queryKeys({ prefix: parent }, options)) {
        const s = k.toString()
        if (isChildOf(parent, s)) out.add(s)
      }
    }
    for (const k of this.parents().get(parent) ?? []) {
      if (this.writes.get(k) === null) out.delete(k)
      else out.add(k)
    }
    return [...out]
  }

  /** Whether any key lies directly under `parent` (stored or pending, not deleted): stops at the first one found. */
  async hasChildKey(parent: string, options?: AbortOptions): Promise<boolean> {
    for (const k of this.parents().get(parent) ?? []) if (this.writes.get(k) !== null) return true
    for await (const k of this.ds.queryKeys({ prefix: parent }, options)) {
      const s = k.toString()
      if (isChildOf(parent, s) && this.writes.get(s) !== null) return true
    }
    return false
  }

  async get(key: string, options?: AbortOptions): Promise<Uint8Array | undefined> {
    const w = this.writes.get(key)
    if (w !== undefined) return w === null ? undefined : w
    if (this.raw !== undefined) {
      options?.signal?.throwIfAborted()
      return this.raw.getRaw(key)
    }
    try {
      return await this.ds.get(new Key(key, false), options)
    } catch (err) {
      if (errorName(err) === 'NotFoundError') return undefined
      throw err
    }
  }

  async has(key: string, options?: AbortOptions): Promise<boolean> {
    const w = this.writes.get(key)
    if (w !== undefined) return w !== null
    if (this.raw !== undefined) {
      options?.signal?.throwIfAborted()
      return this.raw.hasRaw(key)
    }
    return await this.ds.has(new Key(key, false), options)
  }

  /** Keys starting with `prefix`, as stored plus pending writes (unordered). */
  async keysWithPrefix(prefix: string, options?: AbortOptions): Promise<string[]> {
    const out = new Set<string>()
    if (this.raw !== undefined) {
      for (const { key } of this.raw.entriesRaw(prefix, options)) out.add(key)
    } else {
      for await (const k of this.ds.queryKeys({ prefix }, options)) {
        const s = k.toString()
        if (s.startsWith(prefix)) out.add(s)
      }
    }
    for (const [k, v] of this.writes) {
      if (!k.startsWith(prefix)) continue
      if (v === null) out.delete(k)
      else out.add(k)
    }
    return [...out]
  }

  /** Applies every pending write in one batch; the overlay is then empty. */
  async commit(options?: AbortOptions): Promise<void> {
    if (this.writes.size === 0) return
    if (this.raw !== undefined) {
      options?.signal?.throwIfAborted()
      // in key order: each key appears once (a Map), so order changes nothing
      // but where the B-tree is touched; sorted, a delta of 10,000 pins walks
      // the table's pages once instead of hopping to random ones per row
      // (the native default sort: code-unit order, which is sqlite's for these ASCII keys)
      const keys = [...this.writes.keys()].sort()
      this.raw.writeRaw(keys.map((k) => [k, this.writes.get(k) ?? null] as const))
      this.clearWrites()
      return
    }
    const b = this.ds.batch()
    for (const [k, v] of this.writes) {
      if (v === null) b.delete(new Key(k, false))
      else b.put(new Key(k, false), v)
    }
    await b.commit(options)
    this.clearWrites()
  }

  /**
   * As `commit()`, but returns once the writes are applied (visible to
   * reads), with `durable` resolving once they are on disk, when the
   * datastore can flush off the JS thread (`RawKeyValue.writeRawApplied`);
   * otherwise `durable` is already resolved after a plain `commit()`.
   */
  async commitApplied(options?: AbortOptions): Promise<{ durable: Promise<void> }> {
    if (this.raw?.writeRawApplied === undefined || this.writes.size === 0) {
      await this.commit(options)
      return { durable: Promise.resolve() }
    }
    options?.signal?.throwIfAborted()
    const keys = [...this.writes.keys()].sort() // key order, as commit()
    const out = this.raw.writeRawApplied(keys.map((k) => [k, this.writes.get(k) ?? null] as const))
    this.clearWrites()
    return out
  }
}

function noteParent(byParent: Map<string, Set<string>>, key: string): void {
  const parent = key.slice(0, key.lastIndexOf('/') + 1)
  let keys = byParent.get(parent)
  if (keys === undefined) {
    keys = new Set()
    byParent.set(parent, keys)
  }
  keys.add(key)
}

/** Unsigned LEB128 varint (go `binary.PutUvarint`). */
export function putUvarint(n: bigint | number): Uint8Array {
  let v = BigInt(n)
  const out: number[] = []
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80)
    v >>= 7n
  }
  out.push(Number(v))
  return new Uint8Array(out)
}

/** go `binary.Uvarint`. @throws Error on malformed input. */
export function readUvarint(b: Uint8Array): bigint {
  let v = 0n
  let shift = 0n
  for (let i = 0; i < b.length && i < 10; i++) {
    const byte = b[i]!
    v |= BigInt(byte & 0x7f) << shift
    if ((byte & 0x80) === 0) return v
    shift += 7n
  }
  throw new Error('error decoding uvarint')
}

/** Whether `key` lies directly under `parent` (which ends with `/`): `<parent><name>`, no further `/`. */
function isChildOf(parent: string, key: string): boolean {
  return key.startsWith(parent) && key.indexOf('/', parent.length) === -1
}
