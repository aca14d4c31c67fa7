/**
 * All-or-nothing writes spanning many async steps (`state import`: wipe the
 * pinset, write a new one of any size): after a crash at any point the
 * datastore holds either everything the operation wrote or nothing of it.
 * Upstream has no equivalent (its `state import` wipes the pinset and then
 * writes the new one in batches; a crash in between leaves a partial pinset).
 *
 * - sqlite: one SQLite transaction around the whole operation
 *   (`SqliteDatastore.atomically`): writes go to the WAL as usual, reads see
 *   them, and only the final COMMIT makes them durable. Memory stays flat.
 * - any other datastore (leveldb, memory): the writes are held in an
 *   in-memory overlay that reads go through, then applied as ONE datastore
 *   batch (LevelDB writes a batch as one log record: atomic). Memory: every
 *   key and value written, held until the end (about 1 KB a pin).
 */
import { BaseDatastore } from 'datastore-core'
import { Key } from 'interface-datastore'
import type { Datastore, KeyQuery, Pair, Query } from 'interface-datastore'
import { NotFoundError } from 'interface-store'
import type { AbortOptions } from '../interfaces.ts'
import { SqliteDatastore } from './sqlite.ts'

/** What an atomic operation writes through. */
export interface AtomicScope {
  /** the datastore to read and write through (the real one under sqlite, an overlay otherwise) */
  datastore: Datastore
  /** Deletes every key starting with `prefix` (e.g. `/crdt/`, the old pinset), as part of the operation. */
  deletePrefix(prefix: string, options?: AbortOptions): Promise<void>
  /**
   * A hint: keys starting with `prefix` are about to be written in bulk,
   * mostly new ones (e.g. right after `deletePrefix(prefix)`). sqlite
   * stages them and inserts them in key order at the end
   * (`SqliteDatastore.bulkLoad`); reads stay exact. Elsewhere a no-op.
   */
  bulkLoad(prefix: string): void
}

/**
 * Runs `fn` so that its writes land all together or not at all (see the
 * module comment). The caller must be the only writer of `ds` meanwhile
 * (a stopped peer, under `cluster.lock`).
 * @returns what `fn` returns, once everything is durable.
 * @throws whatever `fn` throws, nothing written; DiskFullError when the final commit finds the disk full (nothing written).
 */
export async function atomicWrites<T>(ds: Datastore, fn: (scope: AtomicScope) => Promise<T>, options?: AbortOptions): Promise<T> {
  if (ds instanceof SqliteDatastore) {
    return await ds.atomically(() =>
      fn({
        datastore: ds,
        deletePrefix: async (prefix) => ds.deletePrefix(prefix),
        bulkLoad: (prefix) => ds.bulkLoad(prefix)
      })
    )
  }
  const overlay = new OverlayDatastore(ds)
  const out = await fn({ datastore: overlay, deletePrefix: async (prefix) => overlay.deletePrefix(prefix), bulkLoad: () => {} })
  await overlay.commitTo(options)
  return out
}

/**
 * Reads through pending writes and deleted prefixes to a datastore; writes
 * stay in memory until `commitTo`, which applies them in one batch.
 * Queries yield the underlying keys still visible, then the pending ones
 * (not in key order).
 */
export class OverlayDatastore extends BaseDatastore {
  private readonly under: Datastore
  /** key -> value, null = deleted */
  private readonly writes = new Map<string, Uint8Array | null>()
  private readonly deletedPrefixes: string[] = []

  constructor(under: Datastore) {
    super()
    this.under = under
  }

  private masked(key: string): boolean {
    for (const p of this.deletedPrefixes) if (key.startsWith(p)) return true
    return false
  }

  deletePrefix(prefix: string): void {
    for (const k of [...this.writes.keys()]) if (k.startsWith(prefix)) this.writes.delete(k)
    this.deletedPrefixes.push(prefix)
  }

  put(key: Key, val: Uint8Array, options?: AbortOptions): Key {
    options?.signal?.throwIfAborted()
    this.writes.set(key.toString(), val)
    return key
  }

  async get(key: Key, options?: AbortOptions): Promise<Uint8Array> {
    const k = key.toString()
    const w = this.writes.get(k)
    if (w === null || (w === undefined && this.masked(k))) throw new NotFoundError(`key not found: ${k}`)
    if (w !== undefined) return w
    return await this.under.get(key, options)
  }

  async has(key: Key, options?: AbortOptions): Promise<boolean> {
    const k = key.toString()
    const w = this.writes.get(k)
    if (w !== undefined) return w !== null
    if (this.masked(k)) return false
    return await this.under.has(key, options)
  }

  delete(key: Key, options?: AbortOptions): void {
    options?.signal?.throwIfAborted()
    this.writes.set(key.toString(), null)
  }

  async *_all(q: Query, options?: AbortOptions): AsyncGenerator<Pair> {
    const prefix = q.prefix ?? ''
    for await (const pair of this.under.query({ prefix }, options)) {
      const k = pair.key.toString()
      if (this.writes.has(k) || this.masked(k)) continue
      yield pair
    }
    for (const [k, v] of [...this.writes]) {
      if (v !== null && k.startsWith(prefix)) yield { key: new Key(k, false), value: v }
    }
  }

  async *_allKeys(q: KeyQuery, options?: AbortOptions): AsyncGenerator<Key> {
    for await (const pair of this._all({ prefix: q.prefix }, options)) yield pair.key
  }

  /** Applies the deleted prefixes, then every pending write, in ONE batch of the underlying datastore. */
  async commitTo(options?: AbortOptions): Promise<void> {
    const b = this.under.batch()
    for (const p of this.deletedPrefixes) {
      for await (const k of this.under.queryKeys({ prefix: p }, options)) if (!this.writes.has(k.toString())) b.delete(k)
    }
    for (const [k, v] of this.writes) {
      if (v === null) b.delete(new Key(k, false))
      else b.put(new Key(k, false), v)
    }
    await b.commit(options)
    this.writes.clear()
    this.deletedPrefixes.length = 0
  }
}
