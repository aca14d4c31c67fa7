/**
 * Range scans (`start <= key < end`, in key order) over the datastores the
 * peer uses, starting at `start` instead of at the beginning of a prefix:
 * sqlite (`SqliteDatastore.keysBetween`), leveldb (`classic-level`'s
 * `keys({ gte, lt })`), and any other `Datastore` through a prefix query
 * filtered in memory (O(n): the memory datastore of tests).
 */
import type { Datastore } from 'interface-datastore'
import type { AbortOptions } from '../interfaces.ts'
import { prefixUpperBound } from './sqlite.ts'

interface KeysBetween {
  keysBetween(start: string, end: string, options?: AbortOptions): Iterable<string>
}

interface LevelKeys {
  db: { keys(o: { gte: string; lt: string }): AsyncIterable<string> & { close?: () => Promise<void> } }
}

function hasKeysBetween(ds: unknown): ds is KeysBetween {
  return typeof (ds as Partial<KeysBetween> | null)?.keysBetween === 'function'
}

function isLevel(ds: unknown): ds is LevelKeys {
  const db = (ds as { db?: { keys?: unknown; status?: unknown } } | null)?.db
  return typeof db?.keys === 'function' && typeof db.status === 'string'
}

/**
 * Keys of `ds` from `start` (inclusive) while they start with `prefix`, in
 * key order. `start` must itself start with `prefix`.
 */
export async function* keysFrom(ds: Datastore, prefix: string, start: string, options?: AbortOptions): AsyncGenerator<string> {
  const end = prefixUpperBound(prefix) ?? '\uffff'
  if (hasKeysBetween(ds)) {
    yield* ds.keysBetween(start, end, options)
    return
  }
  if (isLevel(ds)) {
    for await (const k of ds.db.keys({ gte: start, lt: end })) {
      options?.signal?.throwIfAborted()
      yield k
    }
    return
  }
  const keys: string[] = []
  for await (const k of ds.queryKeys({ prefix }, options)) {
    const s = k.toString()
    if (s >= start && s < end) keys.push(s)
  }
  keys.sort()
  yield* keys
}
