/**
 * The Merkle-CRDT key-value store (go-ds-crdt crdt.go/heads.go, v0.6.8):
 * local writes become deltas in DAG nodes linked to the current heads
 * (priority = max head height + 1), are merged into the set and broadcast;
 * remote heads are walked down to known nodes, their deltas merged, and the
 * heads updated. Datastore layout under `<namespace>`:
 * `/s/…` the set (set.ts), `/h/<BASE32(mh)>` heads (uvarint height),
 * `/b/<BASE32(mh)>` processed blocks, `/b/blocks/<BASE32(mh)>` blocks,
 * `/crdt_version`.
 *
 * Differences from go-ds-crdt, on purpose:
 * - every local delta (block, set entries, processed mark, heads) is written
 *   in ONE datastore batch, so an acknowledged write is complete on disk;
 * - remote branches are fetched first, then applied oldest-first, one node
 *   per batch, and the heads move only once the branch's root is applied: a
 *   crash mid-branch leaves nothing half-processed to repair (the next
 *   broadcast of that head resumes the walk).
 * - a branch of several nodes marks the store dirty and records its head
 *   (`<namespace>/p/<BASE32(mh)>`) in its first batch, and clears both with
 *   its root: after a crash mid-branch, `repair()` (run at start when dirty)
 *   applies the rest of the branch from the stored blocks.
 * - received heads are processed concurrently (bounded, one walk per head
 *   at a time); a walk reaching a head another walk is applying waits for
 *   it rather than applying its nodes twice; at the root, every current
 *   head the walk went through gives way to the new one.
 */
import type { Datastore } from 'interface-datastore'
import { Key } from 'interface-datastore'
import type { CID } from 'multiformats/cid'
import { CID as CIDClass } from 'multiformats/cid'
import type { AbortOptions } from '../../interfaces.ts'
import { getLogger } from '../../observability/logging.ts'
import { keyStringToBinary } from '../../state/keys.ts'
import { PAGE_SIZE } from '../../types/pages.ts'
import { hasRawKeyValue } from '../../datastore/raw.ts'
import { blockId, blockIdToCid, type CrdtBlockstore, decodeNode, makeNode, sortCids } from './dag.ts'
import { CRDTBroadcast, type Delta, type Element } from './pb/delta.pb.ts'
import { type BlockGetter, CrdtSet, type SetChange, STALE_REALLOCATION_TOMBSTONE } from './set.ts'
import { staleReallocations } from './stale.ts'
import { putUvarint, readUvarint, Txn } from './txn.ts'
import * as Digest from 'multiformats/hashes/digest'
import * as dagPB from '@ipld/dag-pb'
import { errorMessage, errorName, NotFoundError } from '../../errors.ts'

const log = getLogger('crdt')

/** `p`, or a rejection with the signal's reason once `signal` aborts first. */
function abortable(p: Promise<void>, signal: AbortSignal | undefined): Promise<void> {
  if (signal === undefined) return p
  signal.throwIfAborted()
  return new Promise<void>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason)
    signal.addEventListener('abort', onAbort, { once: true })
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort))
  })
}

/** Local deltas committed within this many ms share one head broadcast (default). */
const BROADCAST_COALESCE_MS = 20
/** Most local deltas kept for the next heads broadcast (older ones are fetched by the peers as before). */
const UNSENT_DELTAS_MAX = 64

/** The CRDT format version go-ds-crdt writes (`crdt_version`, stored +1). */
const CRDT_VERSION = 1n
/** pairs per page of `entryPages` (a page's JSON lines become one chunk of a listing) */
const ENTRY_PAGE = PAGE_SIZE

/** Fetches blocks from other peers (bitswap in a cluster; local only for one peer). */
export interface DagSyncer {
  /** @throws NotFoundError (or AbortError) when the block cannot be fetched. */
  getBlock(cid: CID, options?: AbortOptions): Promise<Uint8Array>
  /**
   * Called after a block is durably stored: a new local one, or one fetched
   * from a peer (announce it, e.g. bitswap `notify`, so that peers whose
   * wants for it are pending get it).
   */
  putBlock(cid: CID, bytes: Uint8Array, options?: AbortOptions): Promise<void>
}

/** A delta's DAG node: its CID and encoded bytes. */
export interface DeltaBlock {
  cid: CID
  bytes: Uint8Array
}

/** Sends and receives head broadcasts (gossipsub topic in a cluster). */
export interface Broadcaster {
  /**
   * Sends an encoded `CRDTBroadcast`. `ancestors` (optional) are the blocks
   * of the local deltas the heads descend from that no broadcast carried
   * yet, newest first, each one linked from a head or from a block before
   * it: a broadcaster may send them along (inline blocks) or ignore them.
   */
  broadcast(data: Uint8Array, options?: AbortOptions, ancestors?: DeltaBlock[]): Promise<void>
  /** Resolves with the next received message; rejects when `signal` aborts. */
  next(signal: AbortSignal): Promise<Uint8Array>
}

/** A write operation for `CrdtStore.publish`: put (value) or delete (null). */
export interface CrdtOp {
  key: string
  value: Uint8Array | null
}

export interface CrdtStoreComponents {
  datastore: Datastore
  blockstore: CrdtBlockstore
  dagSyncer?: DagSyncer
  broadcaster?: Broadcaster
  /** Called after each committed batch with the keys it changed. */
  /** may return a promise: the next remote delta is merged once it settles (backpressure). */
  onChanges?: (changes: SetChange[]) => void | Promise<void>
  /**
   * Whether value `live` is value `removed` re-allocated (the same pin with
   * other allocations: src/state/reallocation.ts). When given, remote deltas
   * that could hide a stale re-allocation mark their keys, and the store
   * removes re-allocations made concurrently with an unpin (src/consensus/crdt/stale.ts).
   */
  isReallocation?: (live: Uint8Array, removed: Uint8Array) => boolean
}

/** A re-allocation check runs this long after the merge that asks for it, plus up to `REALLOCATION_CHECK_JITTER_MS` (so that the peers that all see the same stale pin do not all remove it). */
const REALLOCATION_CHECK_DELAY_MS = 200
const REALLOCATION_CHECK_JITTER_MS = 1_300

/** Encodes a head broadcast (`pb.CRDTBroadcast`). */
export function encodeBroadcast(heads: CID[]): Uint8Array {
  return CRDTBroadcast.encode({ Heads: heads.map((h) => ({ Cid: h.bytes as Uint8Array<ArrayBuffer> })) })
}

/** Decodes a head broadcast. @throws Error on malformed data. */
export function decodeBroadcast(data: Uint8Array): CID[] {
  return CRDTBroadcast.decode(data).Heads.map((h) => CIDClass.decode(h.Cid))
}

export class CrdtStore {
  readonly namespace: string
  readonly set: CrdtSet
  private readonly ds: Datastore
  private readonly blocks: CrdtBlockstore
  private readonly dagSyncer: DagSyncer | undefined
  private readonly broadcaster: Broadcaster | undefined
  private readonly onChanges: ((changes: SetChange[]) => void | Promise<void>) | undefined
  /** head id (blockId) -> { cid, height } */
  private readonly heads = new Map<string, { cid: CID; height: bigint }>()
  private chain: Promise<unknown> = Promise.resolve()
  private loaded = false
  /** heads being processed (blockId -> promise): a head is processed once at a time */
  private readonly processing = new Map<string, Promise<void>>()
  /** remote heads processed concurrently by `receiveLoop` */
  private readonly maxConcurrentHeads: number
  /** heads whose branch is being applied (more than one node): the store is dirty until each root is applied */
  private readonly applying = new Set<string>()
  /** a branch failed half-applied this run: the dirty bit stays until a repair */
  private halfApplied = false
  /** armed by a local delta: the heads broadcast that delta will go out with */
  private broadcastTimer: ReturnType<typeof setTimeout> | undefined
  /** the local deltas made since the last heads broadcast (blocks, oldest first; at most UNSENT_DELTAS_MAX) */
  private unsentDeltas: DeltaBlock[] = []

  /** ms during which local deltas share one head broadcast */
  private readonly broadcastCoalesceMs: number
  private readonly isReallocation: ((live: Uint8Array, removed: Uint8Array) => boolean) | undefined
  /** armed when keys are marked for a re-allocation check */
  private checkTimer: ReturnType<typeof setTimeout> | undefined
  private checksStopped = false
  /** re-allocations removed because an unpin was concurrent with them (since start) */
  staleReallocationsRemoved = 0

  constructor(init: { namespace: string; maxConcurrentHeads?: number; broadcastCoalesceMs?: number }, components: CrdtStoreComponents) {
    this.namespace = init.namespace
    this.broadcastCoalesceMs = init.broadcastCoalesceMs ?? BROADCAST_COALESCE_MS
    this.maxConcurrentHeads = Math.max(1, init.maxConcurrentHeads ?? 16)
    this.set = new CrdtSet(init.namespace)
    this.ds = components.datastore
    this.blocks = components.blockstore
    this.dagSyncer = components.dagSyncer
    this.broadcaster = components.broadcaster
    this.onChanges = components.onChanges
    this.isReallocation = components.isReallocation
    this.set.checkReallocations = this.isReallocation !== undefined
  }

  private get headsPrefix(): string {
    return `${this.namespace}/h/`
  }

  private headKey(cid: CID): string {
    return `${this.namespace}/h` + blockId(cid)
  }

  private processedKey(cid: CID): string {
    return `${this.namespace}/b` + blockId(cid)
  }

  /** `<namespace>/p/<BASE32(mh)>`: a head whose branch was being applied (ours; go-ds-crdt has none). */
  private pendingKey(cid: CID): string {
    return `${this.namespace}/p` + blockId(cid)
  }

  /** Serializes every state-changing operation. */
  private lock<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.chain.then(fn, fn)
    this.chain = p.catch(() => {})
    return p
  }

  /** Loads the heads and writes the format version (idempotent). */
  async load(options?: AbortOptions): Promise<void> {
    if (this.loaded) return
    this.heads.clear()
    for await (const { key, value } of this.ds.query({ prefix: this.headsPrefix }, options)) {
      const k = key.toString()
      try {
        const cid = CIDClass.createV1(dagPB.code, Digest.decode(keyStringToBinary(k)))
        this.heads.set(blockId(cid), { cid, height: readUvarint(value) })
      } catch (err) {
        log.warn(`ignoring bad head key ${k}: ${errorMessage(err)}`)
      }
    }
    const vk = new Key(`${this.namespace}/crdt_version`, false)
    if (!(await this.ds.has(vk, options))) await this.ds.put(vk, putUvarint(CRDT_VERSION + 1n), options)
    this.loaded = true
    // marks left by a crash before their check ran
    if (this.isReallocation !== undefined) {
      for await (const _ of this.ds.queryKeys({ prefix: this.set.checkPrefix, limit: 1 }, options)) this.scheduleReallocationCheck()
    }
    const { height } = this.headList()
    log.info(`crdt datastore loaded. Number of heads: ${this.heads.size}. Current max-height: ${height}`)
  }

  /** Current heads sorted by CID bytes, and the max height. */
  headList(): { heads: CID[]; height: bigint } {
    let height = 0n
    for (const h of this.heads.values()) if (h.height > height) height = h.height
    return { heads: sortCids([...this.heads.values()].map((h) => h.cid)), height }
  }

  async isProcessed(cid: CID, options?: AbortOptions): Promise<boolean> {
    return await this.ds.has(new Key(this.processedKey(cid), false), options)
  }

  /** The value of a live key, or undefined. */
  async get(key: string, options?: AbortOptions): Promise<Uint8Array | undefined> {
    try {
      return await this.ds.get(new Key(this.set.valueKey(key), false), options)
    } catch (err) {
      if (errorName(err) === 'NotFoundError') return undefined
      throw err
    }
  }

  async has(key: string, options?: AbortOptions): Promise<boolean> {
    return await this.ds.has(new Key(this.set.valueKey(key), false), options)
  }

  /** Streams live `[key, value]` pairs (reads the live index, never the tombstones). */
  async *entries(options?: AbortOptions): AsyncGenerator<{ key: string; value: Uint8Array }> {
    const prefix = this.set.keysPrefix
    if (hasRawKeyValue(this.ds)) {
      // string keys straight from the table: no Key object per row
      for (const { key: k, value } of this.ds.entriesRaw(prefix, options)) {
        if (!k.endsWith('/v')) continue
        yield { key: k.slice(prefix.length - 1, -2), value }
      }
      return
    }
    for await (const { key, value } of this.ds.query({ prefix }, options)) {
      const k = key.toString()
      if (!k.endsWith('/v')) continue
      yield { key: k.slice(prefix.length - 1, -2), value }
    }
  }

  /**
   * The pairs of `entries`, in the same order, one array per page read from
   * the datastore (batches of {@link ENTRY_PAGE} without a paged datastore).
   */
  async *entryPages(options?: AbortOptions): AsyncGenerator<Array<{ key: string; value: Uint8Array }>> {
    const prefix = this.set.keysPrefix
    const ds = this.ds
    if (hasRawKeyValue(ds) && ds.entryPagesRaw !== undefined) {
      const from = prefix.length - 1
      // the value rows only (a key's priority row sits next to it)
      for (const rows of ds.entryPagesRaw(prefix, { signal: options?.signal, suffix: '/v', rows: ENTRY_PAGE })) {
        const page: Array<{ key: string; value: Uint8Array }> = []
        for (const r of rows) {
          const k = r.key
          if (k.endsWith('/v')) page.push({ key: k.slice(from, -2), value: r.value })
        }
        yield page
      }
      return
    }
    let page: Array<{ key: string; value: Uint8Array }> = []
    for await (const e of this.entries(options)) {
      page.push(e)
      if (page.length >= ENTRY_PAGE) {
        yield page
        page = []
      }
    }
    if (page.length > 0) yield page
  }

  private blockGetter(txn: Txn): BlockGetter {
    return async (id, options) => {
      const cid = blockIdToCid(id)
      const local = await txn.get(this.blocks.keyOf(cid), options)
      if (local !== undefined) return local
      if (options?.localOnly === true) throw new NotFoundError(`block not found: ${cid.toString()}`)
      return await this.fetchBlock(cid, options)
    }
  }

  private async fetchBlock(cid: CID, options?: AbortOptions): Promise<Uint8Array> {
    try {
      return await this.blocks.get(cid, options)
    } catch (err) {
      if (errorName(err) !== 'NotFoundError' || this.dagSyncer === undefined) throw err
    }
    const bytes = await this.dagSyncer.getBlock(cid, options)
    await this.blocks.put(cid, bytes, options)
    await this.announce(cid, bytes, options)
    return bytes
  }

  /**
   * Tells the DAG syncer a block is stored, so that peers already waiting
   * for it get it (bitswap serves a want it could not answer only when told,
   * as boxo's bitswap does for the blocks it receives). Never throws.
   */
  private async announce(cid: CID, bytes: Uint8Array, options?: AbortOptions): Promise<void> {
    try {
      await this.dagSyncer?.putBlock(cid, bytes, options)
    } catch (err) {
      log.warn(`announcing block ${cid.toString()}: ${errorMessage(err)}`)
    }
  }

  /**
   * Commits `ops` as one delta (in order; a delete drops earlier puts of the
   * same key, as go-ds-crdt's batch) plus `extra` raw writes in the same
   * datastore batch. Resolves once durable (the delta is applied, and its
   * change hooks run, before; other deltas may be merged while it is being
   * flushed); returns the new head, or
   * undefined when there was nothing to do (e.g. deleting absent keys).
   */
  async publish(ops: CrdtOp[], extra?: Map<string, Uint8Array | null>, options?: AbortOptions): Promise<CID | undefined> {
    const res = await this.lock(async () => {
      options?.signal?.throwIfAborted()
      const txn = new Txn(this.ds)
      // key -> its element; a Map keeps insertion order, and delete + set
      // moves a re-written key to the end (O(1) per op, not a scan of the delta)
      const byKey = new Map<string, Element>()
      const tombstones: Element[] = []
      for (const op of ops) {
        // a later write of the same key in one delta replaces the earlier one
        byKey.delete(op.key)
        if (op.value !== null) byKey.set(op.key, { key: op.key, id: '', value: op.value as Uint8Array<ArrayBuffer> })
        else tombstones.push(...(await this.set.rmv(txn, op.key, options)))
      }
      for (const [k, v] of extra ?? []) {
        if (v === null) txn.delete(k)
        else txn.put(k, v)
      }
      return await this.commitLocalDelta(txn, [...byKey.values()], tombstones, options)
    })
    return await this.finishLocalDelta(res, options)
  }

  /**
   * Inside the lock: makes the delta of `elements` and `tombstones` on the
   * current heads, merges it and commits it with whatever `txn` already
   * holds (only `txn` when both are empty).
   */
  private async commitLocalDelta(
    txn: Txn,
    elements: Element[],
    tombstones: Element[],
    options?: AbortOptions
  ): Promise<{ cid: CID; bytes: Uint8Array; durable: Promise<void> } | undefined> {
    if (elements.length === 0 && tombstones.length === 0) {
      await txn.commit(options)
      return undefined
    }
    const { heads, height } = this.headList()
    const priority = height + 1n
    const delta: Delta = { elements, tombstones, priority }
    const { cid, bytes } = await makeNode(delta, heads)
    txn.put(this.blocks.keyOf(cid), bytes)
    const changes = new Map<string, SetChange>()
    await this.set.merge(txn, delta, blockId(cid), this.blockGetter(txn), changes, options, true)
    txn.put(this.processedKey(cid), new Uint8Array(0))
    for (const h of heads) txn.delete(this.headKey(h))
    txn.put(this.headKey(cid), putUvarint(priority))
    // applied now, flushed to disk off the thread: the next delta (local
    // or from a peer) can be merged while this one's fsync runs
    const { durable } = await txn.commitApplied(options)
    durable.catch(() => {}) // awaited by finishLocalDelta; never an unhandled rejection meanwhile
    this.heads.clear()
    this.heads.set(blockId(cid), { cid, height: priority })
    // a local change: nobody to hold back
    void this.emit(changes)
    return { cid, bytes, durable }
  }

  /** After the lock: resolves (and announces / broadcasts the new head) only once the delta is on disk. */
  private async finishLocalDelta(
    res: { cid: CID; bytes: Uint8Array; durable: Promise<void> } | undefined,
    options?: AbortOptions
  ): Promise<CID | undefined> {
    if (res === undefined) return undefined
    await res.durable
    await this.announce(res.cid, res.bytes, options)
    this.unsentDeltas.push({ cid: res.cid, bytes: res.bytes })
    if (this.unsentDeltas.length > UNSENT_DELTAS_MAX) this.unsentDeltas.shift()
    this.scheduleHeadsBroadcast()
    return res.cid
  }

  /**
   * New local heads go out at most once per BROADCAST_COALESCE_MS: the first
   * delta arms a timer and the broadcast then carries the heads of that
   * moment, so deltas committed meanwhile share it (go-ds-crdt sends one
   * message per delta; under pin/unpin churn that was hundreds of gossipsub
   * messages a second, each signed and kept in the seen-messages cache for
   * `seen_messages_ttl`). The newest head descends from the ones it
   * replaces, so a peer receiving it walks to all of them. The wire message
   * is go-ds-crdt's `CRDTBroadcast`, unchanged; the blocks of the deltas it
   * stands for go to the broadcaster as `ancestors`, so that they can travel
   * inline and a live peer need not fetch them one by one.
   */
  private scheduleHeadsBroadcast(): void {
    if (this.broadcaster === undefined || this.broadcastTimer !== undefined) return
    this.broadcastTimer = setTimeout(() => {
      this.broadcastTimer = undefined
      this.broadcast(this.headList().heads, undefined, this.takeUnsentDeltas()).catch((err: unknown) =>
        log.warn(`broadcast failed: ${errorMessage(err)}`)
      )
    }, this.broadcastCoalesceMs)
  }

  /** Hands changes to the hook; returns what it asks to wait for (see `CrdtStoreComponents.onChanges`). */
  private emit(changes: Map<string, SetChange>): Promise<void> | undefined {
    if (changes.size === 0 || this.onChanges === undefined) return undefined
    try {
      return this.onChanges([...changes.values()]) ?? undefined
    } catch (err) {
      log.error(`change hook: ${errorMessage(err)}`)
      return undefined
    }
  }

  /** Arms the re-allocation check (once; marks written meanwhile are checked by the same run). */
  private scheduleReallocationCheck(): void {
    if (this.isReallocation === undefined || this.checkTimer !== undefined || this.checksStopped) return
    const delay = REALLOCATION_CHECK_DELAY_MS + Math.floor(Math.random() * REALLOCATION_CHECK_JITTER_MS)
    this.checkTimer = setTimeout(() => {
      this.checkTimer = undefined
      this.checkReallocations().catch((err: unknown) => {
        log.warn(`checking re-allocations: ${errorMessage(err)}`)
        this.scheduleReallocationCheck() // the marks stay: try again
      })
    }, delay)
  }

  /**
   * Checks every marked key (`<namespace>/r<key>`) and removes the stale
   * re-allocations found (src/consensus/crdt/stale.ts): one local delta
   * per key, tombstoning only those elements. Returns how many were removed.
   */
  async checkReallocations(options?: AbortOptions): Promise<number> {
    const isReallocation = this.isReallocation
    if (isReallocation === undefined) return 0
    const prefix = this.set.checkPrefix
    let removed = 0
    for (const markKey of await new Txn(this.ds).keysWithPrefix(prefix, options)) {
      if (this.checksStopped) break
      const key = markKey.slice(prefix.length)
      const res = await this.lock(async () => {
        const txn = new Txn(this.ds)
        if (!(await txn.has(markKey, options))) return undefined
        const stale = await staleReallocations(this.set, txn, key, this.blockGetter(txn), isReallocation, options)
        txn.delete(markKey)
        if (stale.length > 0) {
          log.info(`${key}: removing ${stale.length} re-allocation(s) made concurrently with its unpin, so that the unpin holds`)
          removed += stale.length
        }
        return await this.commitLocalDelta(
          txn,
          [],
          stale.map((id) => ({ key, id, value: STALE_REALLOCATION_TOMBSTONE as Uint8Array<ArrayBuffer> })),
          options
        )
      })
      await this.finishLocalDelta(res, options)
    }
    this.staleReallocationsRemoved += removed
    return removed
  }

  /** The blocks of the local deltas not yet broadcast, newest first; forgets them. */
  private takeUnsentDeltas(): DeltaBlock[] {
    const out = this.unsentDeltas.reverse()
    this.unsentDeltas = []
    return out
  }

  /**
   * Broadcasts heads (no-op without a broadcaster or with no heads);
   * `ancestors` as in `Broadcaster.broadcast`.
   */
  async broadcast(heads: CID[], options?: AbortOptions, ancestors?: DeltaBlock[]): Promise<void> {
    if (this.broadcaster === undefined || heads.length === 0) return
    try {
      await this.broadcaster.broadcast(encodeBroadcast(heads), options, ancestors)
    } catch (err) {
      log.warn(`broadcast failed: ${errorMessage(err)}`)
    }
  }

  /**
   * Processes a head received from another peer: fetches the unknown part
   * of its DAG (down to processed nodes), merges those deltas oldest-first
   * and makes it a head, replacing the heads it descends from.
   * @throws when a block cannot be fetched or decoded (nothing is half-applied).
   */
  async handleHead(head: CID, options?: AbortOptions): Promise<void> {
    const id = blockId(head)
    const running = this.processing.get(id)
    if (running !== undefined) return await running
    const p = this.processHead(head, options)
    this.processing.set(id, p)
    try {
      await p
    } finally {
      if (this.processing.get(id) === p) this.processing.delete(id)
    }
  }

  private async processHead(head: CID, options?: AbortOptions): Promise<void> {
    // a branch reaching a head another call is processing waits for it, then walks again (to the processed node)
    for (let attempt = 0; attempt < 3; attempt++) {
      const deps = await this.processBranch(head, attempt < 2, options)
      if (deps.length === 0) return
      const signal = options?.signal
      if (signal === undefined) await Promise.allSettled(deps)
      else {
        let onAbort: (() => void) | undefined
        const aborted = new Promise<void>((resolve) => {
          onAbort = resolve
          signal.addEventListener('abort', onAbort, { once: true })
        })
        await Promise.race([Promise.allSettled(deps), aborted])
        if (onAbort !== undefined) signal.removeEventListener('abort', onAbort)
        signal.throwIfAborted()
      }
    }
  }

  /** Walks and applies the branch of `head`; returns the promises of other heads in progress it reached instead (nothing applied then). */
  private async processBranch(head: CID, waitForOthers: boolean, options?: AbortOptions): Promise<Array<Promise<void>>> {
    if (await this.isProcessed(head, options)) return []
    const deps: Array<Promise<void>> = []
    // 1. walk down through unprocessed nodes, fetching blocks (no state change yet)
    const order: CID[] = [] // post-order: children before parents
    const visited = new Set<string>([blockId(head)])
    const stack: Array<{ cid: CID; links: CID[] | undefined; next: number }> = [{ cid: head, links: undefined, next: 0 }]
    let rootPrio = 0n
    while (stack.length > 0) {
      options?.signal?.throwIfAborted()
      const top = stack[stack.length - 1]!
      if (top.links === undefined) {
        const { delta, links } = decodeNode(await this.fetchBlock(top.cid, options))
        if (top.cid.equals(head)) rootPrio = delta.priority
        top.links = links
      }
      if (top.next < top.links.length) {
        const child = top.links[top.next++]!
        const id = blockId(child)
        if (visited.has(id)) continue
        visited.add(id)
        if (await this.isProcessed(child, options)) continue
        const other = waitForOthers ? this.processing.get(id) : undefined
        if (other !== undefined) {
          deps.push(other)
          continue
        }
        stack.push({ cid: child, links: undefined, next: 0 })
        continue
      }
      stack.pop()
      order.push(top.cid)
    }
    if (deps.length > 0) return deps
    // 2. apply oldest first, one node per batch; heads move with the root.
    // A branch of several nodes marks the store dirty (and records its head) in its
    // first batch and clears both in its root's: a crash in between leaves the
    // dirty bit, and the next start's repair resumes the branch.
    const headId = blockId(head)
    const multi = order.length > 1
    try {
      await this.applyBranch(head, order, visited, rootPrio, multi, options)
    } catch (err) {
      if (multi && this.applying.has(headId)) this.halfApplied = true
      throw err
    } finally {
      this.applying.delete(headId)
    }
    log.debug(`merged branch ${head.toString()} (${order.length} nodes, priority ${rootPrio})`)
    return []
  }

  private async applyBranch(head: CID, order: CID[], visited: Set<string>, rootPrio: bigint, multi: boolean, options?: AbortOptions): Promise<void> {
    const headId = blockId(head)
    for (const cid of order) {
      options?.signal?.throwIfAborted()
      // the change hook's backpressure, waited for outside the lock (local pins go on meanwhile)
      let wait: Promise<void> | undefined
      await this.lock(async () => {
        if (await this.isProcessed(cid, options)) return
        const bytes = await this.blocks.get(cid, options)
        const { delta } = decodeNode(bytes)
        const txn = new Txn(this.ds)
        const isRoot = cid.equals(head)
        if (multi && !isRoot && !this.applying.has(headId)) {
          txn.put(this.dirtyKey.toString(), new Uint8Array(0))
          txn.put(this.pendingKey(head), new Uint8Array(0))
          this.applying.add(headId)
        }
        if (isRoot && this.applying.delete(headId)) {
          txn.delete(this.pendingKey(head))
          if (this.applying.size === 0 && !this.halfApplied) txn.delete(this.dirtyKey.toString())
        }
        const changes = new Map<string, SetChange>()
        const marked = await this.set.merge(txn, delta, blockId(cid), this.blockGetter(txn), changes, options)
        txn.put(this.processedKey(cid), new Uint8Array(0))
        // heads below the root (also those other branches made heads meanwhile) give way to it
        const replaced = isRoot ? [...this.heads.keys()].filter((id) => visited.has(id)) : []
        if (isRoot) {
          for (const id of replaced) {
            const h = this.heads.get(id)
            if (h !== undefined) txn.delete(this.headKey(h.cid))
          }
          txn.put(this.headKey(head), putUvarint(rootPrio))
        }
        await txn.commit(options)
        if (isRoot) {
          for (const id of replaced) this.heads.delete(id)
          this.heads.set(blockId(head), { cid: head, height: rootPrio })
        }
        wait = this.emit(changes)
        if (marked) this.scheduleReallocationCheck()
      })
      if (wait !== undefined) await abortable(wait, options?.signal)
    }
  }

  /**
   * Receives broadcasts until `signal` aborts. Heads are processed
   * concurrently (at most `maxConcurrentHeads`, default 16, at once; a head
   * already in progress is not started again), so a slow fetch does not
   * hold back the heads behind it; deltas are still applied one at a time.
   */
  async receiveLoop(signal: AbortSignal): Promise<void> {
    if (this.broadcaster === undefined) return
    const running = new Set<Promise<void>>()
    try {
      await this.receiveInto(running, signal)
    } finally {
      await Promise.allSettled([...running])
    }
  }

  private async receiveInto(running: Set<Promise<void>>, signal: AbortSignal): Promise<void> {
    const broadcaster = this.broadcaster
    if (broadcaster === undefined) return
    for (;;) {
      if (signal.aborted) return
      let data: Uint8Array
      try {
        data = await broadcaster.next(signal)
      } catch (err) {
        if (signal.aborted) return
        log.error(`receiving broadcast: ${errorMessage(err)}`)
        continue
      }
      let heads: CID[]
      try {
        heads = decodeBroadcast(data)
      } catch (err) {
        log.error(`decoding broadcast: ${errorMessage(err)}`)
        continue
      }
      for (const h of heads) {
        if (this.processing.has(blockId(h))) continue
        for (let i = 0; running.size >= this.maxConcurrentHeads && i < 1_000_000; i++) await Promise.race(running)
        if (signal.aborted) return
        const p: Promise<void> = this.handleHead(h, { signal })
          .catch((err: Error) => {
            if (!signal.aborted) log.error(`error processing new head ${h.toString()}: ${err.message}`)
          })
          .finally(() => running.delete(p))
        running.add(p)
      }
    }
  }

  private get dirtyKey(): Key {
    return new Key(`${this.namespace}/d`, false)
  }

  /** go-ds-crdt's dirty bit (`<namespace>/d`): set when a branch could not be fully processed. */
  async isDirty(options?: AbortOptions): Promise<boolean> {
    return await this.ds.has(this.dirtyKey, options)
  }

  async markDirty(options?: AbortOptions): Promise<void> {
    log.warn('marking datastore as dirty')
    await this.ds.put(this.dirtyKey, new Uint8Array(0), options)
  }

  async markClean(options?: AbortOptions): Promise<void> {
    log.info('marking datastore as clean')
    await this.ds.delete(this.dirtyKey, options)
  }

  /**
   * Walks the whole DAG from the heads (go-ds-crdt `repairDAG`) and merges
   * every node not marked processed; marks the store clean when done.
   * Memory: one entry per DAG node visited.
   * @throws when a block cannot be fetched.
   */
  async repair(options?: AbortOptions): Promise<number> {
    const started = Date.now()
    // branches a crash interrupted: apply the rest of each (blocks are local, or fetched)
    const pending: CID[] = []
    for await (const k of this.ds.queryKeys({ prefix: `${this.namespace}/p/` }, options)) {
      try {
        pending.push(CIDClass.createV1(dagPB.code, Digest.decode(keyStringToBinary(k.toString()))))
      } catch (err) {
        log.warn(`ignoring bad pending-branch key ${k.toString()}: ${errorMessage(err)}`)
      }
    }
    for (const head of pending) {
      await this.handleHead(head, options)
      await this.ds.delete(new Key(this.pendingKey(head), false), options)
      log.info(`DAG repair: resumed the half-applied branch of head ${head.toString()}`)
    }
    this.halfApplied = false
    const queue = [...this.headList().heads]
    const seen = new Set<string>(queue.map((c) => blockId(c)))
    let reprocessed = 0
    for (let i = 0; i < queue.length; i++) {
      options?.signal?.throwIfAborted()
      const cid = queue[i]!
      const bytes = await this.fetchBlock(cid, options)
      const { delta, links } = decodeNode(bytes)
      if (!(await this.isProcessed(cid, options))) {
        let wait: Promise<void> | undefined
        await this.lock(async () => {
          if (await this.isProcessed(cid, options)) return
          const txn = new Txn(this.ds)
          const changes = new Map<string, SetChange>()
          const marked = await this.set.merge(txn, delta, blockId(cid), this.blockGetter(txn), changes, options)
          txn.put(this.processedKey(cid), new Uint8Array(0))
          await txn.commit(options)
          wait = this.emit(changes)
          if (marked) this.scheduleReallocationCheck()
        })
        if (wait !== undefined) await abortable(wait, options?.signal)
        reprocessed++
      }
      for (const l of links) {
        const id = blockId(l)
        if (seen.has(id)) continue
        seen.add(id)
        queue.push(l)
      }
      queue[i] = undefined as unknown as CID // let visited nodes be collected
    }
    if (this.applying.size === 0) await this.markClean(options)
    log.info(
      `DAG repair finished: ${pending.length} interrupted branches resumed, ${seen.size} nodes visited, ${reprocessed} reprocessed, ${Date.now() - started}ms`
    )
    return reprocessed
  }

  /** Deletes every key under the namespace, in batches. */
  async clean(options?: AbortOptions): Promise<void> {
    await this.lock(async () => {
      for (let round = 0; round < 1_000_000; round++) {
        const keys: Key[] = []
        for await (const k of this.ds.queryKeys({ prefix: `${this.namespace}/` }, options)) {
          keys.push(k)
          if (keys.length >= 1000) break
        }
        if (keys.length === 0) break
        const b = this.ds.batch()
        for (const k of keys) b.delete(k)
        await b.commit(options)
      }
      this.heads.clear()
      this.loaded = false
    })
  }

  /** Waits for in-flight operations to finish; a head broadcast still waiting for its timer is sent now. */
  async drain(): Promise<void> {
    this.checksStopped = true
    if (this.checkTimer !== undefined) clearTimeout(this.checkTimer)
    this.checkTimer = undefined
    await this.lock(async () => {})
    if (this.broadcastTimer !== undefined) {
      clearTimeout(this.broadcastTimer)
      this.broadcastTimer = undefined
      await this.broadcast(this.headList().heads, undefined, this.takeUnsentDeltas())
    }
  }
}
