/**
 * String-keyed access to a datastore, without `interface-datastore` `Key`
 * objects (each one encodes its string to bytes and back) and without a
 * thrown NotFoundError per absent key. The sqlite datastore implements it;
 * hot paths (the crdt's merge overlay) use it when the datastore has it and
 * fall back to the Datastore interface otherwise. Same keys, same rows: it is
 * only a cheaper way to the same table.
 */
export interface RawKeyValue {
  /** The value at `key`, or undefined when absent. */
  getRaw(key: string): Uint8Array | undefined
  hasRaw(key: string): boolean
  /** Applies every write (null = delete) in one transaction, in order: all or nothing. */
  writeRaw(writes: Iterable<readonly [string, Uint8Array | null]>): void
  /**
   * Optional. As `writeRaw` (applied, visible to reads and all or nothing
   * before it returns), but the disk flush is not waited for on the calling
   * thread: the returned `durable` resolves once the writes are on disk (as
   * durable as `writeRaw`'s), and rejects if the flush fails. Callers answer
   * their clients only after `durable`. Absent: use `writeRaw`.
   */
  writeRawApplied?(writes: Iterable<readonly [string, Uint8Array | null]>): { durable: Promise<void> }
  /** Every pair whose key starts with `prefix`, in key order, read in pages (never the whole range in memory). */
  entriesRaw(prefix: string, options?: { signal?: AbortSignal }): Iterable<{ key: string; value: Uint8Array }>
  /**
   * Optional. The pairs of `entriesRaw`, in the same order, one array per
   * page read from the table (for listings that handle a page at a time);
   * with `suffix`, only the keys that end with it (the others are skipped
   * by the datastore, not handed over), `rows` per page (a hint). The
   * values may share one buffer.
   */
  entryPagesRaw?(prefix: string, options?: { signal?: AbortSignal; suffix?: string; rows?: number }): Iterable<Array<{ key: string; value: Uint8Array }>>
}

/** Whether `ds` offers `RawKeyValue`. */
export function hasRawKeyValue(ds: unknown): ds is RawKeyValue {
  const d = ds as Partial<RawKeyValue> | null
  return typeof d?.getRaw === 'function' && typeof d.hasRaw === 'function' && typeof d.writeRaw === 'function' && typeof d.entriesRaw === 'function'
}

/**
 * Applies `writes` in one transaction and resolves once they are on disk:
 * through `writeRawApplied` when the datastore has it (the flush runs off
 * the JS thread, so requests keep being read meanwhile), else `writeRaw`.
 * @throws what `writeRaw` throws (DiskFullError…), or the flush's error.
 */
export async function writeRawDurably(ds: RawKeyValue, writes: Iterable<readonly [string, Uint8Array | null]>): Promise<void> {
  if (ds.writeRawApplied === undefined) ds.writeRaw(writes)
  else await ds.writeRawApplied(writes).durable
}
