/**
 * An `interface-datastore` Datastore on SQLite (the default backend).
 *
 * One table `kv(key TEXT PRIMARY KEY, value BLOB)`, WAL journal, `synchronous=FULL` by default so that an acknowledged write
 * (a resolved `put`/`delete`/`batch().commit()`) survives a crash or a
 * power loss. A batch is one transaction. Prefix queries use a key range
 * (`key >= prefix AND key < next(prefix)`), ordered by key, read in pages
 * so a query over millions of keys never sits in memory.
 *
 * A write on a full disk throws `DiskFullError` (src/errors.ts) and changes
 * nothing: the transaction rolls back, reads go on, writes work again once
 * space is freed.
 *
 * Mirrors the role of upstream's `datastore/pebble` (the default there).
 */
import { BaseDatastore } from 'datastore-core'
import { Key } from 'interface-datastore'
import type { Batch, KeyQuery, Pair, Query } from 'interface-datastore'
import { NotFoundError } from 'interface-store'
import { open as openFile, type FileHandle } from 'node:fs/promises'
import type { AbortOptions } from '../interfaces.ts'
import { DiskFullError, errorMessage } from '../errors.ts'
import { openSqlite, type SqliteDatabase, type SqliteStatement } from '../runtime/sqlite.ts'
import { HashedKeySet } from './keyset.ts'
import type { RawKeyValue } from './raw.ts'

/**
 * A write error as thrown to callers: SQLite's "database or disk is full"
 * (`SQLITE_FULL`) and the OS's ENOSPC become `DiskFullError`; others pass as they are.
 */
export function writeError(err: unknown): unknown {
  const code = (err as { code?: unknown } | null)?.code
  const msg = errorMessage(err)
  if (code === 'SQLITE_FULL' || code === 'ENOSPC' || /database or disk is full|no space left on device|ENOSPC/i.test(msg)) {
    return new DiskFullError(`datastore: the disk is full, nothing was written (${msg}); free some space and retry`, { cause: err })
  }
  return err
}

/** Runs one write, turning a full disk into `DiskFullError`. */
function writing<T>(fn: () => T): T {
  try {
    return fn()
  } catch (err) {
    throw writeError(err)
  }
}

export interface SqliteDatastoreInit {
  /** database file path, or `:memory:`. */
  path: string
  /** `full` (default): fsync on every commit; `normal`: crash-safe but may lose the last commits on power loss. */
  synchronous?: 'full' | 'normal'
  /** rows read per page when streaming a query (default 1000). */
  pageSize?: number
}

/** The smallest string greater than every string starting with `prefix` (undefined: no bound). */
export function prefixUpperBound(prefix: string): string | undefined {
  for (let i = prefix.length - 1; i >= 0; i--) {
    const c = prefix.charCodeAt(i)
    if (c < 0xffff) return prefix.slice(0, i) + String.fromCharCode(c + 1)
  }
  return undefined
}

function toBytes(v: unknown): Uint8Array {
  if (v instanceof Uint8Array) return v.constructor === Uint8Array ? v : new Uint8Array(v.buffer, v.byteOffset, v.byteLength)
  if (v === null || v === undefined) return new Uint8Array(0)
  if (typeof v === 'string') return new TextEncoder().encode(v)
  throw new Error('unexpected sqlite value type')
}

export class SqliteDatastore extends BaseDatastore implements RawKeyValue {
  private readonly init: SqliteDatastoreInit
  private db: SqliteDatabase | undefined
  /** inside `atomically`: a write failed, so the transaction is lost and every later write is refused */
  private atomicFailed: Error | undefined
  private st:
    | {
        put: SqliteStatement
        get: SqliteStatement
        has: SqliteStatement
        del: SqliteStatement
        pageAll: SqliteStatement
        pageFrom: SqliteStatement
        pageRange: SqliteStatement
        pageRangeFrom: SqliteStatement
        suffixRange: SqliteStatement
        suffixRangeFrom: SqliteStatement
        keysAll: SqliteStatement
        keysFrom: SqliteStatement
        keysRange: SqliteStatement
        keysRangeFrom: SqliteStatement
      }
    | undefined
  /** the WAL file's path when the database is a file in WAL mode with synchronous=FULL (else writeRawApplied flushes inline) */
  private walPath: string | undefined
  private walHandle: FileHandle | undefined
  /** writeRawApplied transactions waiting for the next flush of the WAL */
  private syncWaiters: Array<{ resolve: () => void; reject: (err: unknown) => void }> = []
  private syncing: Promise<void> | undefined
  /** inside `atomically`, after `bulkLoad`: the key range whose writes are staged (see `bulkLoad`) */
  private stage: Stage | undefined

  constructor(init: SqliteDatastoreInit) {
    super()
    this.init = init
  }

  /** Opens the database (idempotent). */
  async open(): Promise<void> {
    if (this.db !== undefined) return
    const db = await openSqlite(this.init.path)
    const mode = db.prepare('PRAGMA journal_mode=WAL').get()?.journal_mode
    db.exec(`PRAGMA synchronous=${this.init.synchronous === 'normal' ? 'NORMAL' : 'FULL'}`)
    this.walPath = mode === 'wal' && this.init.synchronous !== 'normal' && this.init.path !== ':memory:' ? `${this.init.path}-wal` : undefined
    db.exec('PRAGMA busy_timeout=5000')
    // A rowid table: its key index holds only the keys, the values live in
    // the rows. (Databases made before were WITHOUT ROWID: the same SQL
    // works on both; they are left as they are.) In a WITHOUT ROWID table
    // the key and value form one B-tree cell, and SQLite reads the whole
    // cell, overflow pages included, to compare a key with it: every lookup
    // whose search passes a 1 MiB crdt block read that MiB (509 µs instead
    // of 2 µs a miss), which made a joining peer's merge and `state import`
    // slow down as blocks accumulated.
    db.exec('CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY NOT NULL, value BLOB NOT NULL)')
    const n = this.init.pageSize ?? 1000
    this.st = {
      put: db.prepare('INSERT OR REPLACE INTO kv (key, value) VALUES (?, ?)'),
      get: db.prepare('SELECT value FROM kv WHERE key = ?'),
      has: db.prepare('SELECT 1 AS x FROM kv WHERE key = ?'),
      del: db.prepare('DELETE FROM kv WHERE key = ?'),
      pageAll: db.prepare(`SELECT key, value FROM kv WHERE key >= ? ORDER BY key LIMIT ${n}`),
      pageFrom: db.prepare(`SELECT key, value FROM kv WHERE key > ? ORDER BY key LIMIT ${n}`),
      pageRange: db.prepare(`SELECT key, value FROM kv WHERE key >= ? AND key < ? ORDER BY key LIMIT ${n}`),
      pageRangeFrom: db.prepare(`SELECT key, value FROM kv WHERE key > ? AND key < ? ORDER BY key LIMIT ${n}`),
      suffixRange: db.prepare('SELECT key, value FROM kv WHERE key >= ?1 AND key < ?2 AND substr(key, -length(?3)) = ?3 ORDER BY key LIMIT ?4'),
      suffixRangeFrom: db.prepare('SELECT key, value FROM kv WHERE key > ?1 AND key < ?2 AND substr(key, -length(?3)) = ?3 ORDER BY key LIMIT ?4'),
      keysAll: db.prepare(`SELECT key FROM kv WHERE key >= ? ORDER BY key LIMIT ${n}`),
      keysFrom: db.prepare(`SELECT key FROM kv WHERE key > ? ORDER BY key LIMIT ${n}`),
      keysRange: db.prepare(`SELECT key FROM kv WHERE key >= ? AND key < ? ORDER BY key LIMIT ${n}`),
      keysRangeFrom: db.prepare(`SELECT key FROM kv WHERE key > ? AND key < ? ORDER BY key LIMIT ${n}`)
    }
    this.db = db
  }

  /** Closes the database (idempotent), after the flushes in flight. */
  async close(): Promise<void> {
    await this.syncing?.catch(() => {})
    await this.walHandle?.close().catch(() => {})
    this.walHandle = undefined
    const db = this.db
    this.db = undefined
    this.st = undefined
    db?.close()
  }

  private s(): NonNullable<SqliteDatastore['st']> {
    if (this.st === undefined) throw new Error('sqlite datastore is not open')
    return this.st
  }

  put(key: Key, val: Uint8Array, options?: AbortOptions): Key {
    options?.signal?.throwIfAborted()
    const k = key.toString()
    this.write(() => this.putRow(this.s(), k, val))
    return key
  }

  get(key: Key, options?: AbortOptions): Uint8Array {
    options?.signal?.throwIfAborted()
    const v = this.getRaw(key.toString())
    if (v === undefined) throw new NotFoundError(`key not found: ${key.toString()}`)
    return v
  }

  has(key: Key, options?: AbortOptions): boolean {
    options?.signal?.throwIfAborted()
    return this.hasRaw(key.toString())
  }

  delete(key: Key, options?: AbortOptions): void {
    options?.signal?.throwIfAborted()
    const k = key.toString()
    this.write(() => this.putRow(this.s(), k, null))
  }

  /** One row written (null: deleted), or staged when `key` is in the `bulkLoad` range. */
  private putRow(st: NonNullable<SqliteDatastore['st']>, key: string, value: Uint8Array | null): void {
    const stage = this.stage
    if (stage !== undefined && key.startsWith(stage.prefix)) {
      stage.insert.run(key, value)
      if (!stage.keys.add(key) || value === null) stage.simple = false
      stage.rows++
      return
    }
    if (value === null) st.del.run(key)
    else st.put.run(key, value)
  }

  /** Before a point read of `key`: false when the read can be answered "absent" without the table. */
  private pointRead(key: string): boolean {
    const stage = this.stage
    if (stage === undefined || !key.startsWith(stage.prefix)) return true
    if (stage.keys.mayHave(key)) this.flushStage() // written in this load (or a hash twin): into the table, then read it there
    return stage.tableHas
  }

  /** Before a range read of keys in [start, end) (end undefined: no bound): staged rows in it go to the table first. */
  private rangeRead(start: string, end: string | undefined): void {
    const stage = this.stage
    if (stage === undefined || stage.rows === 0) return
    const overlaps = (end === undefined || stage.prefix < end) && (stage.upper === undefined || start < stage.upper)
    if (overlaps) this.flushStage()
  }

  /**
   * Moves every staged row into the table in key order (the last write of
   * each key wins; a staged delete removes the row), then empties the stage.
   */
  private flushStage(): void {
    const stage = this.stage
    if (stage === undefined || stage.rows === 0) return
    const db = this.db!
    // the row with max(rowid) of each key: SQLite takes a bare column of an
    // aggregate query with one max() from the row holding that maximum
    const last = 'SELECT key, value, max(rowid) FROM temp.kv_stage GROUP BY key'
    // the ORDER BY sorts every staged row: let SQLite's sorter use a second
    // thread (measured at 1M pins: 13.4 s -> 10.0 s for 4M rows on 2 cores)
    db.exec('PRAGMA threads=2')
    try {
      this.write(() => {
        if (stage.simple) {
          // each key staged once, no delete: no last-write selection to make
          db.exec('INSERT OR REPLACE INTO kv (key, value) SELECT key, value FROM temp.kv_stage ORDER BY key')
        } else {
          if (stage.tableHas) db.exec(`DELETE FROM kv WHERE key IN (SELECT key FROM (${last}) WHERE value IS NULL)`)
          db.exec(`INSERT OR REPLACE INTO kv (key, value) SELECT key, value FROM (${last}) WHERE value IS NOT NULL ORDER BY key`)
        }
        db.exec('DELETE FROM temp.kv_stage')
      })
    } finally {
      db.exec('PRAGMA threads=0')
    }
    stage.keys.clear()
    stage.rows = 0
    stage.simple = true
    stage.tableHas = true
  }

  /**
   * Inside `atomically` only: declares that the keys starting with `prefix`
   * are about to be written in bulk, mostly new ones in no useful order
   * (`state import` after deleting the old pinset). Until the operation
   * ends, writes under `prefix` are appended to a staging table (a SQLite
   * TEMP table: a temporary file, never in the WAL) and moved into `kv` in
   * key order at the end, so the key B-tree is filled left to right instead
   * of at a random leaf per row (a random insert into the index of a 4M-row
   * table cost 5–10 µs and grew with the table; appends stay flat). Reads
   * stay exact: the staged keys are remembered as 53-bit hashes
   * (`HashedKeySet`, 16–32 bytes a key); a point read of a key that may be
   * staged, or a range read over the prefix, first moves the staged rows
   * into `kv` (so a read costs what it did; a load that re-reads what it
   * wrote loses the gain, never correctness); a key never staged reads
   * `kv`, or nothing when `prefix` held no keys when the load began.
   * All or nothing as the rest of `atomically`: the staged rows are part
   * of its transaction. Temporary space: about the size of the rows staged,
   * in SQLite's temporary directory (SQLITE_TMPDIR, else TMPDIR, else /var/tmp, /tmp).
   * @throws Error outside `atomically`, or when a load is already declared.
   */
  bulkLoad(prefix: string): void {
    const db = this.db
    if (db === undefined) throw new Error('sqlite datastore is not open')
    if (!this.inAtomic) throw new Error('datastore: bulkLoad outside an all-or-nothing operation')
    if (this.stage !== undefined) throw new Error('datastore: a bulk load is already declared')
    const upper = prefixUpperBound(prefix)
    const st = this.s()
    const any = upper === undefined ? st.keysAll.all(prefix) : st.keysRange.all(prefix, upper)
    this.write(() => db.exec('CREATE TEMP TABLE kv_stage (key TEXT NOT NULL, value BLOB)'))
    this.stage = {
      prefix,
      upper,
      keys: new HashedKeySet(),
      rows: 0,
      simple: true,
      tableHas: any.length > 0,
      insert: db.prepare('INSERT INTO temp.kv_stage (key, value) VALUES (?, ?)')
    }
  }

  async *putMany(source: Iterable<Pair> | AsyncIterable<Pair>, options?: AbortOptions): AsyncGenerator<Key> {
    for await (const { key, value } of source) {
      yield this.put(key, value, options)
    }
  }

  async *deleteMany(source: Iterable<Key> | AsyncIterable<Key>, options?: AbortOptions): AsyncGenerator<Key> {
    for await (const key of source) {
      this.delete(key, options)
      yield key
    }
  }

  /** RawKeyValue: the value at `key`, or undefined (no Key object, no throw). */
  getRaw(key: string): Uint8Array | undefined {
    if (!this.pointRead(key)) return undefined
    const row = this.s().get.get(key)
    return row === undefined ? undefined : toBytes(row.value)
  }

  hasRaw(key: string): boolean {
    if (!this.pointRead(key)) return false
    return this.s().has.get(key) !== undefined
  }

  /** RawKeyValue: every write in one transaction (null = delete). @throws DiskFullError on a full disk (nothing written). */
  writeRaw(writes: Iterable<readonly [string, Uint8Array | null]>): void {
    const st = this.s()
    this.write(() =>
      this.db!.transaction(() => {
        for (const [k, v] of writes) this.putRow(st, k, v)
      })
    )
  }

  /**
   * RawKeyValue: as `writeRaw` (one transaction, applied before it returns),
   * but the transaction commits with `synchronous=NORMAL` (written to the
   * WAL, no fsync on the JS thread) and `durable` resolves after an
   * `fdatasync` of the WAL file run by the runtime's I/O threads. A WAL
   * commit is on disk once its frames are (sqlite's own FULL mode syncs
   * exactly that file at commit; checkpoints sync the WAL before copying it,
   * in either mode), so `durable` means what `writeRaw`'s return means: the
   * writes survive kill -9 and power loss. Every transaction committed while
   * a flush runs shares the next one. The thread stays free during the
   * flush (about 2–8 ms here), which a blocking commit spent idle.
   * Without a WAL file (`:memory:`, or `synchronous: 'normal'` configured)
   * the writes are as durable as `writeRaw`'s at once; inside `atomically`
   * they join its transaction (SQLite refuses a change of safety level
   * there) and are durable when it commits.
   * @throws DiskFullError on a full disk (nothing written); `durable`
   * rejects when the flush fails (the writes are then applied but maybe not on disk).
   */
  writeRawApplied(writes: Iterable<readonly [string, Uint8Array | null]>): { durable: Promise<void> } {
    if (this.walPath === undefined || this.inAtomic) {
      // inside `atomically` the writes join its one transaction, made durable by its commit
      this.writeRaw(writes)
      return { durable: Promise.resolve() }
    }
    const db = this.db!
    db.exec('PRAGMA synchronous=NORMAL')
    try {
      this.writeRaw(writes)
    } finally {
      db.exec('PRAGMA synchronous=FULL')
    }
    const durable = new Promise<void>((resolve, reject) => {
      this.syncWaiters.push({ resolve, reject })
    })
    if (this.syncing === undefined) this.syncing = this.flushWal()
    return { durable }
  }

  /** fdatasync of the WAL until no writeRawApplied transaction waits; one flush per round covers every waiter so far. */
  private async flushWal(): Promise<void> {
    for (let round = 0; round < Number.MAX_SAFE_INTEGER && this.syncWaiters.length > 0; round++) {
      const waiting = this.syncWaiters.splice(0)
      try {
        if (this.walHandle === undefined) this.walHandle = await openFile(this.walPath!, 'r')
        await this.walHandle.datasync()
        for (const w of waiting) w.resolve()
      } catch (err) {
        for (const w of waiting) w.reject(writeError(err))
      }
    }
    // cleared in the same tick as the last empty check: a later write starts a new flush loop
    this.syncing = undefined
  }

  /** RawKeyValue: pairs under `prefix` in key order, paged, as plain strings (no Key objects). */
  *entriesRaw(prefix: string, options?: AbortOptions): Generator<{ key: string; value: Uint8Array }> {
    for (const r of this.pages(prefix, true, options)) yield { key: r.key, value: r.value! }
  }

  /**
   * Keys `k` with `start <= k < end`, in key order, read in pages (a range
   * scan from `start`: O(log n) to reach it, whatever the table's size).
   */
  *keysBetween(start: string, end: string, options?: AbortOptions): Generator<string> {
    let last: string | undefined
    const n = this.init.pageSize ?? 1000
    this.rangeRead(start, end)
    for (;;) {
      options?.signal?.throwIfAborted()
      const st = this.s()
      const rows = last === undefined ? st.keysRange.all(start, end) : st.keysRangeFrom.all(last, end)
      for (const r of rows) yield r.key as string
      if (rows.length < n) return
      last = rows[rows.length - 1]!.key as string
    }
  }

  /** A batch applied in one SQLite transaction on `commit()` (in call order). */
  batch(): Batch {
    const ops: Array<{ key: string; value: Uint8Array | null }> = []
    return {
      put: (key, value) => {
        ops.push({ key: key.toString(), value })
      },
      delete: (key) => {
        ops.push({ key: key.toString(), value: null })
      },
      commit: (options?: AbortOptions) => {
        options?.signal?.throwIfAborted()
        const st = this.s()
        const db = this.db!
        this.write(() =>
          db.transaction(() => {
            for (const op of ops) this.putRow(st, op.key, op.value)
          })
        )
        ops.length = 0
      }
    }
  }

  /** Runs `fn` with every write in one transaction (used by callers needing atomic multi-key writes). */
  transaction<T>(fn: () => T): T {
    this.s()
    return this.write(() => this.db!.transaction(fn))
  }

  /** Runs one write; inside `atomically`, a failure dooms the whole transaction. */
  private write<T>(fn: () => T): T {
    if (this.atomicFailed !== undefined) {
      throw new Error(`datastore: an earlier write of this all-or-nothing operation failed (${this.atomicFailed.message}); nothing was written`)
    }
    try {
      return writing(fn)
    } catch (err) {
      if (this.inAtomic) this.atomicFailed = err instanceof Error ? err : new Error(String(err))
      throw err
    }
  }

  private inAtomic = false

  /**
   * Runs `fn` (async, many writes) as ONE SQLite transaction: once it
   * resolves every write it made is committed (one fsync); if it throws, or
   * the process dies first, none is (SQLite discards an uncommitted
   * transaction when the database next opens). Reads inside `fn` see its
   * writes. The caller must be the only writer meanwhile (an offline peer:
   * `state import`). Used by `atomicWrites` (./atomic.ts).
   * @throws whatever `fn` throws (after the rollback); DiskFullError when the commit finds the disk full.
   */
  async atomically<T>(fn: () => Promise<T>): Promise<T> {
    const db = this.db
    if (db === undefined) throw new Error('sqlite datastore is not open')
    db.beginOuter()
    this.inAtomic = true
    this.atomicFailed = undefined
    try {
      const out = await fn()
      if (this.atomicFailed !== undefined) throw this.atomicFailed
      if (this.stage !== undefined) {
        this.flushStage()
        if (this.atomicFailed !== undefined) throw this.atomicFailed
        this.stage = undefined
        writing(() => db.exec('DROP TABLE temp.kv_stage'))
      }
      writing(() => db.endOuter(true))
      return out
    } catch (err) {
      db.endOuter(false)
      throw err
    } finally {
      if (this.stage !== undefined) {
        this.stage = undefined
        try {
          db.exec('DROP TABLE IF EXISTS temp.kv_stage') // normally gone with the rollback
        } catch {
          // the connection may be unusable after a failed commit; the table is temporary anyway
        }
      }
      this.inAtomic = false
      this.atomicFailed = undefined
    }
  }

  /** Deletes every key starting with `prefix` (one statement; inside `atomically`, part of its transaction). */
  deletePrefix(prefix: string): void {
    const db = this.db
    if (db === undefined) throw new Error('sqlite datastore is not open')
    const upper = prefixUpperBound(prefix)
    this.rangeRead(prefix, upper)
    this.write(() => {
      if (upper === undefined) db.prepare('DELETE FROM kv WHERE key >= ?').run(prefix)
      else db.prepare('DELETE FROM kv WHERE key >= ? AND key < ?').run(prefix, upper)
    })
  }

  private *pages(prefix: string | undefined, withValues: boolean, options?: AbortOptions): Generator<{ key: string; value?: Uint8Array }> {
    for (const rows of this.rowPages(prefix, withValues, options)) {
      for (const r of rows) {
        const key = r.key as string
        yield withValues ? { key, value: toBytes(r.value) } : { key }
      }
    }
  }

  /**
   * RawKeyValue: the pairs of `entriesRaw`, one array per page read;
   * `suffix`: only keys ending so (chosen by sqlite), in pages of `rows`
   * (default `pageSize`).
   */
  *entryPagesRaw(prefix: string, options?: AbortOptions & { suffix?: string; rows?: number }): Generator<Array<{ key: string; value: Uint8Array }>> {
    const suffix = options?.suffix === '' ? undefined : options?.suffix
    for (const rows of this.rowPages(prefix, true, options, suffix === undefined ? undefined : { suffix, rows: options?.rows })) {
      // the page's values copied into one ArrayBuffer, each value a view of
      // it: a view of a row's own small array makes JavaScriptCore give
      // that array an ArrayBuffer first (the decoders' views into the value,
      // CID.decode's checks: a third of a listing), once per page this way
      let total = 0
      const values = new Array<Uint8Array>(rows.length)
      for (let i = 0; i < rows.length; i++) {
        const v = toBytes(rows[i]!.value)
        values[i] = v
        total += v.length
      }
      const arena = new Uint8Array(new ArrayBuffer(total))
      const page = new Array<{ key: string; value: Uint8Array }>(rows.length)
      let off = 0
      for (let i = 0; i < rows.length; i++) {
        const v = values[i]!
        arena.set(v, off)
        page[i] = { key: rows[i]!.key as string, value: arena.subarray(off, off + v.length) }
        off += v.length
      }
      yield page
    }
  }

  /** The rows under `prefix` in key order, one array per page (`pageSize` rows, the last one shorter). */
  private *rowPages(
    prefix: string | undefined,
    withValues: boolean,
    options?: AbortOptions,
    only?: { suffix: string; rows?: number }
  ): Generator<Array<Record<string, unknown>>> {
    const p = prefix ?? ''
    const limit = only?.rows !== undefined && only.rows > 0 ? Math.floor(only.rows) : (this.init.pageSize ?? 1000)
    const upper = p === '' ? undefined : prefixUpperBound(p)
    this.rangeRead(p, upper)
    let last: string | undefined
    for (;;) {
      options?.signal?.throwIfAborted()
      const st = this.s()
      let rows: Array<Record<string, unknown>>
      if (only !== undefined && upper !== undefined && withValues) {
        rows = last === undefined ? st.suffixRange.all(p, upper, only.suffix, limit) : st.suffixRangeFrom.all(last, upper, only.suffix, limit)
      } else if (upper === undefined) {
        rows = last === undefined ? (withValues ? st.pageAll : st.keysAll).all(p) : (withValues ? st.pageFrom : st.keysFrom).all(last)
      } else {
        rows =
          last === undefined
            ? (withValues ? st.pageRange : st.keysRange).all(p, upper)
            : (withValues ? st.pageRangeFrom : st.keysRangeFrom).all(last, upper)
      }
      if (rows.length === 0) return
      yield rows
      const lastRow = rows[rows.length - 1]!
      last = lastRow.key as string
      if (rows.length < (only !== undefined && upper !== undefined && withValues ? limit : (this.init.pageSize ?? 1000))) return
    }
  }

  /** Streams pairs in key order; `prefix` is a string prefix of the key as in interface-datastore. */
  *_all(q: Query, options?: AbortOptions): Generator<Pair> {
    for (const r of this.pages(q.prefix, true, options)) yield { key: new Key(r.key, false), value: r.value! }
  }

  *_allKeys(q: KeyQuery, options?: AbortOptions): Generator<Key> {
    for (const r of this.pages(q.prefix, false, options)) yield new Key(r.key, false)
  }

  /** As BaseDatastore.query; a plain prefix query streams straight from the key range. */
  query(q: Query, options?: AbortOptions): Generator<Pair> | AsyncGenerator<Pair> {
    if (plain(q)) return this._all(q, options)
    return super.query(q, options)
  }

  queryKeys(q: KeyQuery, options?: AbortOptions): Generator<Key> | AsyncGenerator<Key> {
    if (plain(q)) return this._allKeys(q, options)
    return super.queryKeys(q, options)
  }
}

function plain(q: Query | KeyQuery): boolean {
  return (q.filters === undefined || q.filters.length === 0) && (q.orders === undefined || q.orders.length === 0) && q.offset == null && q.limit == null
}

/** A `bulkLoad` in progress. */
interface Stage {
  prefix: string
  /** `prefixUpperBound(prefix)` */
  upper: string | undefined
  /** every key staged since the last flush, as hashes */
  keys: HashedKeySet
  /** rows staged since the last flush */
  rows: number
  /** every row staged since the last flush has a key of its own (by hash) and a value: the flush needs no last-write selection */
  simple: boolean
  /** whether `kv` may hold keys under `prefix` (it did when the load began, or a flush wrote some) */
  tableHas: boolean
  insert: SqliteStatement
}
