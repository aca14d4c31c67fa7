/**
 * The Raft log store and stable store (hashicorp `LogStore` + `StableStore`)
 * and the latest snapshot, in the peer's datastore under one prefix:
 * - `<prefix>/hs`: msgpack `{t: term, v: votedFor | null}`;
 * - `<prefix>/log/<index, 16 digits>`: one entry each (./codec.ts);
 * - `<prefix>/snap`: the latest snapshot (meta and the pinset dump);
 * - `<prefix>/cluster`: the cluster ID (UTF-8), see `RaftConsensus`.
 * `save()` writes one datastore batch per `Ready`: with the SQLite
 * datastore (`synchronous=FULL`) it is on disk when the promise resolves,
 * before anything of that `Ready` is sent or applied.
 */
import { decode, encode } from '@msgpack/msgpack'
import { type Datastore, Key } from 'interface-datastore'
import type { AbortOptions } from '../../interfaces.ts'
import { decodeEntry, encodeEntry, RaftCodecError, snapshotFromWire, snapshotToWire } from './codec.ts'
import type { HardState, PersistedState, Ready } from './types.ts'

const pad = (i: number) => String(i).padStart(16, '0')

export class RaftStorage {
  readonly #ds: Datastore
  readonly #prefix: string
  /** stored entry range (first > last when empty) */
  #first = 1
  #last = 0

  /** `prefix`: e.g. `/raft` (no trailing slash). */
  constructor(ds: Datastore, prefix: string) {
    this.#ds = ds
    this.#prefix = prefix.replace(/\/+$/, '')
  }

  #key(...parts: string[]): Key {
    return new Key(`${this.#prefix}/${parts.join('/')}`)
  }

  /** True when nothing was ever stored (a new server). */
  async isEmpty(options?: AbortOptions): Promise<boolean> {
    for await (const _ of this.#ds.queryKeys({ prefix: `${this.#prefix}/` }, options)) return false
    return true
  }

  /**
   * Reads everything back. @throws RaftCodecError when a stored record does
   * not decode or the log has a gap (the store is then damaged).
   */
  async load(options?: AbortOptions): Promise<PersistedState> {
    let hardState: HardState = { term: 0, votedFor: null }
    if (await this.#ds.has(this.#key('hs'), options)) {
      const o = decode(await this.#ds.get(this.#key('hs'), options)) as { t?: unknown; v?: unknown }
      if (typeof o?.t !== 'number' || !(o.v === null || typeof o.v === 'string')) throw new RaftCodecError('raft store: bad hard state')
      hardState = { term: o.t, votedFor: o.v }
    }
    const state: PersistedState = { hardState, entries: [] }
    if (await this.#ds.has(this.#key('snap'), options)) state.snapshot = snapshotFromWire(decode(await this.#ds.get(this.#key('snap'), options)))
    const entries = []
    for await (const { value } of this.#ds.query({ prefix: `${this.#prefix}/log/` }, options)) entries.push(decodeEntry(value))
    entries.sort((a, b) => a.index - b.index)
    for (let i = 1; i < entries.length; i++) {
      if (entries[i]!.index !== entries[i - 1]!.index + 1) throw new RaftCodecError(`raft store: log gap after ${entries[i - 1]!.index}`)
    }
    state.entries = entries
    this.#first = entries[0]?.index ?? 1
    this.#last = entries.at(-1)?.index ?? 0
    if (entries.length === 0 && state.snapshot) {
      this.#first = state.snapshot.meta.index + 1
      this.#last = state.snapshot.meta.index
    }
    return state
  }

  /** Persists the storage part of a `Ready` in one batch (durable on return). */
  async save(r: Ready, options?: AbortOptions): Promise<void> {
    if (r.hardState === undefined && r.snapshot === undefined && r.truncateFrom === undefined && r.entries.length === 0 && r.compactTo === undefined) return
    const b = this.#ds.batch()
    if (r.hardState) b.put(this.#key('hs'), encode({ t: r.hardState.term, v: r.hardState.votedFor }))
    if (r.snapshot) b.put(this.#key('snap'), encode(snapshotToWire(r.snapshot)))
    if (r.truncateFrom !== undefined) {
      for (let i = Math.max(r.truncateFrom, this.#first); i <= this.#last; i++) b.delete(this.#key('log', pad(i)))
      this.#last = Math.min(this.#last, r.truncateFrom - 1)
    }
    for (const e of r.entries) {
      b.put(this.#key('log', pad(e.index)), encodeEntry(e))
      if (this.#last < this.#first) this.#first = e.index
      this.#last = e.index
    }
    if (r.compactTo !== undefined) {
      for (let i = this.#first; i <= Math.min(r.compactTo, this.#last); i++) b.delete(this.#key('log', pad(i)))
      this.#first = Math.max(this.#first, r.compactTo + 1)
      if (this.#last < this.#first) this.#last = this.#first - 1
    }
    await b.commit(options)
  }

  /** The stored cluster ID, or undefined. */
  async clusterId(options?: AbortOptions): Promise<string | undefined> {
    if (!(await this.#ds.has(this.#key('cluster'), options))) return undefined
    return new TextDecoder().decode(await this.#ds.get(this.#key('cluster'), options))
  }

  async setClusterId(id: string, options?: AbortOptions): Promise<void> {
    await this.#ds.put(this.#key('cluster'), new TextEncoder().encode(id), options)
  }

  /** Deletes everything this store holds. */
  async clean(options?: AbortOptions): Promise<void> {
    const b = this.#ds.batch()
    for await (const k of this.#ds.queryKeys({ prefix: `${this.#prefix}/` }, options)) b.delete(k)
    await b.commit(options)
    this.#first = 1
    this.#last = 0
  }
}
