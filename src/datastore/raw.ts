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
  /** Every pair whose key starts with `prefix`, in key order, read in pages (never the whole range in memory). */
  entriesRaw(prefix: string, options?: { signal?: AbortSignal }): Iterable<{ key: string; value: Uint8Array }>
}

/** Whether `ds` offers `RawKeyValue`. */
export function hasRawKeyValue(ds: unknown): ds is RawKeyValue {
  const d = ds as Partial<RawKeyValue> | null
  return typeof d?.getRaw === 'function' && typeof d.hasRaw === 'function' && typeof d.writeRaw === 'function' && typeof d.entriesRaw === 'function'
}
