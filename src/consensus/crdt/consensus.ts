/**
 * The crdt consensus (upstream `consensus/crdt/consensus.go`, v1.1.6): the
 * shared pinset is a Merkle-CRDT set (crdt.ts) whose keys are the state
 * keys of the pins (`/<BASE32(cid bytes)>`) and whose values are protobuf
 * Pins. `logPin` puts, `logUnpin` deletes (tombstones).
 *
 * Batching (`max_batch_size` > 0 and `max_batch_age` > 0): operations are
 * appended to a persisted queue (`<namespace>/q/<seq>`) before `logPin`
 * resolves and committed as one delta when the batch is full or old
 * enough; the delta and the removal of its queue entries are one datastore
 * batch. Queued operations found at start are committed (upstream loses
 * them). Without batching each operation is one delta, durable on return.
 */
import { timeSlicer } from '../../runtime/slicer.ts'
import { Key } from 'interface-datastore'
import type { Datastore } from 'interface-datastore'
import type { CID } from 'multiformats/cid'
import { concat } from 'uint8arrays/concat'
import { errorMessage, errorName, NotFoundError, QueueFullError } from '../../errors.ts'
import type { AbortOptions, BatchingState, Consensus, ReadOnlyState, StateChangeHandler } from '../../interfaces.ts'
import { getLogger } from '../../observability/logging.ts'
import { pinFromProtobuf, pinToProtobuf } from '../../state/codec.ts'
import { isReallocationOf } from '../../state/reallocation.ts'
import { createdIndexReady, rebuildCreatedIndex, walkCreated } from '../../state/created.ts'
import { cidToKeyString, keyStringToCid } from '../../state/keys.ts'
import type { PeerId, Pin } from '../../types/index.ts'
import { defaultPinOptions, pinWithOpts } from '../../types/index.ts'
import { type Broadcaster, type CrdtOp, CrdtStore, type DagSyncer } from './crdt.ts'
import { CrdtBlockstore } from './dag.ts'
import { CRDT_DEFAULTS } from './defaults.ts'
import { hasRawKeyValue, writeRawDurably } from '../../datastore/raw.ts'
import type { SetChange } from './set.ts'

const log = getLogger('crdt')

/** A listed state entry's pin, or undefined (logged) when it does not decode. */
function decodeListed(key: string, value: Uint8Array): Pin | undefined {
  try {
    // the value carries the CID (cheaper than decoding the base32 key); the key is the fallback
    try {
      return pinFromProtobuf(value)
    } catch {
      return pinFromProtobuf(value, keyStringToCid(key))
    }
  } catch (err) {
    log.error(`error decoding pin ${key}: ${errorMessage(err)}`)
    return undefined
  }
}

export interface CrdtBatchingConfig {
  /** operations per delta; 0 disables batching. */
  maxBatchSize: number
  /** ms before a non-full batch is committed; 0 disables batching. */
  maxBatchAgeMs: number
  /** max operations waiting in the queue (QueueFullError beyond). */
  maxQueueSize: number
}

/** `consensus.crdt` config, already parsed (durations in ms). */
export interface CrdtInit {
  /** this peer's ID. */
  peerId: PeerId
  /** `cluster_name`: the broadcast topic derives from it. */
  clusterName: string
  /** `trusted_peers`; `*` trusts every peer. */
  trustedPeers: string[]
  batching: CrdtBatchingConfig
  /** ms between rebroadcasts of the current heads (upstream default 1 min); 0 disables. */
  rebroadcastIntervalMs: number
  /** ms between DAG repairs (upstream default 1 h); the first runs at start. A repair runs only when the store is marked dirty (a branch left half-applied by a crash or an error). */
  repairIntervalMs: number
  /** `datastore_namespace`, default `CRDT_DEFAULTS.namespace`. */
  namespace?: string
  /**
   * Whether merged changes are logged ("new pin added: …") and handed to
   * `onChange` (default true). An offline consensus passes false, as
   * upstream's `crdt.OfflineState` builds its go-ds-crdt store without the
   * put/delete hooks: a `state import` of 1M pins logs nothing per pin.
   */
  changeHooks?: boolean
  /** ms during which local deltas share one head broadcast (default 20). */
  broadcastCoalesceMs?: number
}

export interface CrdtComponents {
  datastore: Datastore
  onChange?: StateChangeHandler
  /** head broadcasts; omitted = single peer (nothing sent or received). */
  broadcaster?: Broadcaster
  /** remote block fetching; omitted = local blocks only. */
  dagSyncer?: DagSyncer
  /**
   * The peerset (upstream: peers with a valid `peerset_metric` metric, plus
   * this peer; see `peersetFromMetric` in src/monitor/peerset.ts);
   * omitted = this peer only (an offline consensus).
   */
  peerset?: (options?: AbortOptions) => Promise<PeerId[]>
}

const QUEUE_PIN = 1
const QUEUE_UNPIN = 0
/** go-ds-crdt MaxBatchDeltaSize: a batch delta is split beyond this many value bytes. */
const MAX_DELTA_BYTES = 1024 * 1024

export class CrdtConsensus implements Consensus {
  private readonly init: Required<Omit<CrdtInit, 'broadcastCoalesceMs'>> & Pick<CrdtInit, 'broadcastCoalesceMs'>
  private readonly ds: Datastore
  private readonly store: CrdtStore
  readonly blockstore: CrdtBlockstore
  private onChange: StateChangeHandler | undefined
  private readonly trusted = new Set<string>()
  private trustAll = false
  private controller: AbortController | undefined
  private started = false
  private readyPromise: { promise: Promise<void>; resolve: () => void }
  private receiving: Promise<void> | undefined
  private rebroadcastTimer: ReturnType<typeof setTimeout> | undefined
  private batchTimer: ReturnType<typeof setTimeout> | undefined
  private repairTimer: ReturnType<typeof setTimeout> | undefined
  private queueSize = 0
  /** next queue sequence number to assign; `headSeq` is the oldest not yet committed. */
  private nextSeq = 0
  private headSeq = 0
  private readonly inflight = new Set<number>()
  private flushing: Promise<void> | undefined
  private flushChain: Promise<void> = Promise.resolve()
  private pendingWrites: Array<{ key: string; value: Uint8Array; resolve: () => void; reject: (err: unknown) => void }> = []
  private writer: Promise<void> | undefined
  /** group commit (no batching): operations waiting for the next delta */
  private groupQueue: Array<{ op: CrdtOp; resolve: () => void; reject: (err: unknown) => void }> = []
  private groupDraining = false
  private readonly stateView: ReadOnlyState
  private readonly peerset: ((options?: AbortOptions) => Promise<PeerId[]>) | undefined

  constructor(init: CrdtInit, components: CrdtComponents) {
    this.peerset = components.peerset
    this.init = { changeHooks: true, ...init, namespace: (init.namespace ?? CRDT_DEFAULTS.namespace).replace(/\/+$/, '') || CRDT_DEFAULTS.namespace }
    this.ds = components.datastore
    this.onChange = components.onChange
    this.blockstore = new CrdtBlockstore(this.ds, this.init.namespace)
    this.store = new CrdtStore(
      { namespace: this.init.namespace, broadcastCoalesceMs: init.broadcastCoalesceMs },
      {
        datastore: this.ds,
        blockstore: this.blockstore,
        dagSyncer: components.dagSyncer,
        broadcaster: components.broadcaster,
        onChanges: this.init.changeHooks ? (c) => this.handleChanges(c) : undefined,
        // an unpin concurrent with one of our re-allocations holds (src/consensus/crdt/stale.ts)
        isReallocation: isReallocationOf
      }
    )
    for (const p of init.trustedPeers) {
      if (p === '*') this.trustAll = true
      else this.trusted.add(p)
    }
    let resolve!: () => void
    const promise = new Promise<void>((r) => {
      resolve = r
    })
    this.readyPromise = { promise, resolve }
    const store = this.store
    this.stateView = {
      // the store reads its pages synchronously: a listing gives the event loop turns (see slicer.ts)
      async *list(options?: AbortOptions): AsyncGenerator<Pin> {
        const turn = timeSlicer()
        for await (const { key, value } of store.entries(options)) {
          const pin = decodeListed(key, value)
          if (pin !== undefined) yield pin
          const t = turn()
          if (t !== undefined) await t
        }
      },
      async *listPages(options?: AbortOptions): AsyncGenerator<Pin[]> {
        const turn = timeSlicer()
        for await (const entries of store.entryPages(options)) {
          const page: Pin[] = []
          for (const { key, value } of entries) {
            const pin = decodeListed(key, value)
            if (pin !== undefined) page.push(pin)
          }
          yield page
          const t = turn()
          if (t !== undefined) await t
        }
      },
      async has(cid: CID, options?: AbortOptions): Promise<boolean> {
        return await store.has(cidToKeyString(cid), options)
      },
      async get(cid: CID, options?: AbortOptions): Promise<Pin> {
        const v = await store.get(cidToKeyString(cid), options)
        if (v === undefined) throw new NotFoundError(`${cid.toString()} is not pinned`)
        return pinFromProtobuf(v, cid)
      },
      newestFirst: async (range, options) => {
        if (!(await createdIndexReady(this.ds, this.init.namespace, options))) return null
        const ds = this.ds
        const ns = this.init.namespace
        return (async function* () {
          for await (const { stateKey } of walkCreated(ds, ns, range, options)) {
            const v = await store.get(stateKey, options)
            if (v === undefined) continue // unpinned since the walk read its page
            try {
              yield pinFromProtobuf(v, keyStringToCid(stateKey))
            } catch (err) {
              log.error(`error decoding pin ${stateKey}: ${errorMessage(err)}`)
            }
          }
        })()
      }
    }
  }

  /** Sets the state change handler (the Cluster wires its pin tracker here). */
  setOnChange(handler: StateChangeHandler | undefined): void {
    this.onChange = handler
  }

  private get batching(): boolean {
    return this.init.batching.maxBatchSize > 0 && this.init.batching.maxBatchAgeMs > 0
  }

  private get queuePrefix(): string {
    return `${this.init.namespace}/q/`
  }

  private queueKey(seq: number): string {
    return this.queuePrefix + String(seq).padStart(16, '0')
  }

  /** Hands the changes on; resolves when the handler asks to wait (see `StateChangeHandler`). */
  private handleChanges(changes: SetChange[]): Promise<void> | undefined {
    const h = this.onChange
    let wait: Promise<void> | undefined
    for (const c of changes) {
      let cid: CID
      try {
        cid = keyStringToCid(c.key)
      } catch {
        continue
      }
      if (c.op === 'put') {
        log.info(`new pin added: ${cid.toString()}`)
        if (h === undefined) continue
        try {
          wait = h({ op: 'pin', pin: pinFromProtobuf(c.value, cid) }) ?? wait
        } catch (err) {
          log.error(`onChange (pin ${cid.toString()}): ${errorMessage(err)}`)
        }
      } else {
        log.info(`pin removed: ${cid.toString()}`)
        if (h === undefined) continue
        let pin: Pin
        try {
          pin = c.old !== undefined ? pinFromProtobuf(c.old, cid) : pinWithOpts(cid, defaultPinOptions())
        } catch {
          pin = pinWithOpts(cid, defaultPinOptions())
        }
        try {
          wait = h({ op: 'unpin', pin }) ?? wait
        } catch (err) {
          log.error(`onChange (unpin ${cid.toString()}): ${errorMessage(err)}`)
        }
      }
    }
    return wait
  }

  async start(): Promise<void> {
    if (this.started) return
    this.started = true
    const controller = new AbortController()
    this.controller = controller
    await this.store.load({ signal: controller.signal })
    await this.ensureCreatedIndex(controller.signal)
    if (this.trustAll) log.info("'trust all' mode enabled. Any peer in the cluster can modify the pinset.")
    // recover the persisted batching queue (also when batching was disabled since)
    let maxSeq = -1
    let minSeq = Number.POSITIVE_INFINITY
    let count = 0
    for await (const k of this.ds.queryKeys({ prefix: this.queuePrefix })) {
      const seq = Number.parseInt(k.toString().slice(this.queuePrefix.length), 10)
      if (!Number.isFinite(seq)) continue
      if (seq > maxSeq) maxSeq = seq
      if (seq < minSeq) minSeq = seq
      count++
    }
    this.nextSeq = maxSeq + 1
    this.headSeq = count > 0 ? minSeq : this.nextSeq
    this.queueSize = count
    if (count > 0) {
      log.info(`committing ${count} operations left in the batching queue`)
      await this.flushAll()
    }
    if (this.batching) {
      log.info(`'crdt batching' enabled: ${this.init.batching.maxBatchSize} items / ${this.init.batching.maxBatchAgeMs}ms`)
    }
    this.receiving = this.store.receiveLoop(controller.signal).catch((err: Error) => log.error(`receive loop: ${err.message}`))
    this.scheduleRebroadcast()
    this.scheduleRepair(0)
    this.readyPromise.resolve()
  }

  /** Builds the local pins-by-creation index (src/state/created.ts) when the store has none: a store written by a version without it. */
  private async ensureCreatedIndex(signal: AbortSignal | undefined): Promise<void> {
    const ns = this.init.namespace
    if (await createdIndexReady(this.ds, ns, { signal })) return
    const t0 = Date.now()
    const n = await rebuildCreatedIndex(this.ds, ns, this.store.entries({ signal }), { signal })
    log.info(`built the pins-by-creation index: ${n} pins in ${Date.now() - t0} ms`)
  }

  async stop(): Promise<void> {
    if (!this.started) return
    this.started = false
    if (this.batchTimer !== undefined) clearTimeout(this.batchTimer)
    this.batchTimer = undefined
    if (this.rebroadcastTimer !== undefined) clearTimeout(this.rebroadcastTimer)
    this.rebroadcastTimer = undefined
    if (this.repairTimer !== undefined) clearTimeout(this.repairTimer)
    this.repairTimer = undefined
    // commit what is queued (it is persisted anyway)
    try {
      await this.flushAll()
    } catch (err) {
      log.error(`error committing batch during shutdown: ${errorMessage(err)}`)
    }
    this.controller?.abort()
    this.controller = undefined
    await this.receiving
    this.receiving = undefined
    await this.store.drain()
    let resolve!: () => void
    const promise = new Promise<void>((r) => {
      resolve = r
    })
    this.readyPromise = { promise, resolve }
  }

  async ready(options?: AbortOptions): Promise<void> {
    if (options?.signal === undefined) return await this.readyPromise.promise
    const signal = options.signal
    signal.throwIfAborted()
    await new Promise<void>((resolve, reject) => {
      const onAbort = (): void => reject(signal.reason)
      signal.addEventListener('abort', onAbort, { once: true })
      this.readyPromise.promise.then(
        () => {
          signal.removeEventListener('abort', onAbort)
          resolve()
        },
        (err: unknown) => reject(err)
      )
    })
  }

  private scheduleRebroadcast(): void {
    const ms = this.init.rebroadcastIntervalMs
    if (ms <= 0 || !this.started) return
    const jitter = ms * 0.3 * (Math.random() * 2 - 1)
    this.rebroadcastTimer = setTimeout(() => {
      this.rebroadcastTimer = undefined
      const { heads } = this.store.headList()
      this.store
        .broadcast(heads, { signal: this.controller?.signal })
        .catch((err: Error) => log.warn(`rebroadcast: ${err.message}`))
        .finally(() => this.scheduleRebroadcast())
    }, ms + jitter)
  }

  /** Repairs the DAG when the store is marked dirty: now (delay 0) and then every `repairIntervalMs`. */
  private scheduleRepair(delayMs: number): void {
    const every = this.init.repairIntervalMs
    if (every <= 0 || !this.started) return
    this.repairTimer = setTimeout(() => {
      this.repairTimer = undefined
      const signal = this.controller?.signal
      this.store
        .isDirty({ signal })
        .then(async (dirty) => {
          if (!dirty) {
            log.info('store is marked clean. No need to repair')
            return
          }
          log.warn('store is marked dirty. Starting DAG repair operation')
          await this.store.repair({ signal })
        })
        .catch((err: Error) => {
          if (signal?.aborted !== true) log.error(`DAG repair: ${err.message}`)
        })
        .finally(() => this.scheduleRepair(every))
    }, delayMs)
  }

  /** `state crdt mark-dirty|mark-clean`, and the dirty bit itself. */
  async isDirty(options?: AbortOptions): Promise<boolean> {
    return await this.store.isDirty(options)
  }

  async markDirty(options?: AbortOptions): Promise<void> {
    await this.store.markDirty(options)
  }

  async markClean(options?: AbortOptions): Promise<void> {
    await this.store.markClean(options)
  }

  /** Re-walks the whole DAG processing any unprocessed node; returns how many were. */
  async repair(options?: AbortOptions): Promise<number> {
    return await this.store.repair(options)
  }

  /**
   * A BatchingState writing to the CRDT without starting the consensus
   * (upstream `crdt.OfflineState`, used by `state import` / `state export`):
   * `add`/`rm` accumulate operations, `commit()` publishes them as deltas
   * (split beyond 1 MiB of values). Reads see committed data only.
   */
  async offlineState(options?: AbortOptions): Promise<BatchingState> {
    await this.store.load(options)
    // an empty store gets its index marker now (a `state import` into it needs no rebuild at the next start)
    await this.ensureCreatedIndex(options?.signal)
    const store = this.store
    const view = this.stateView
    let ops: CrdtOp[] = []
    let bytes = 0
    const publish = async (o?: AbortOptions): Promise<void> => {
      const batch = ops
      ops = []
      bytes = 0
      if (batch.length > 0) await store.publish(batch, undefined, o)
    }
    return {
      list: (o) => view.list(o),
      has: (cid, o) => view.has(cid, o),
      get: (cid, o) => view.get(cid, o),
      async add(pin: Pin, o?: AbortOptions): Promise<void> {
        const value = pinToProtobuf(pin)
        ops.push({ key: cidToKeyString(pin.cid), value })
        bytes += value.length
        if (bytes >= MAX_DELTA_BYTES) await publish(o)
      },
      async rm(cid: CID, o?: AbortOptions): Promise<void> {
        ops.push({ key: cidToKeyString(cid), value: null })
        bytes += 64
        if (bytes >= MAX_DELTA_BYTES) await publish(o)
      },
      commit: publish
    }
  }

  /** Re-sends the current heads now (tests, and after joining). */
  async rebroadcast(options?: AbortOptions): Promise<void> {
    await this.store.broadcast(this.store.headList().heads, options)
  }

  private requireStarted(): void {
    if (!this.started) throw new Error('crdt consensus is not started')
  }

  async logPin(pin: Pin, options?: AbortOptions): Promise<void> {
    this.requireStarted()
    const value = pinToProtobuf(pin)
    if (this.batching) {
      await this.enqueue(QUEUE_PIN, value, options)
      return
    }
    await this.groupPublish({ key: cidToKeyString(pin.cid), value }, options)
  }

  async logUnpin(pin: Pin, options?: AbortOptions): Promise<void> {
    this.requireStarted()
    if (this.batching) {
      await this.enqueue(QUEUE_UNPIN, pinToProtobuf(pin), options)
      return
    }
    await this.groupPublish({ key: cidToKeyString(pin.cid), value: null }, options)
  }

  /**
   * Group commit, without batching: an operation that arrives while a delta
   * is being committed waits for it and then goes, with every other
   * operation that arrived meanwhile, into the next delta (at most
   * MAX_DELTA_BYTES of values). Each caller still resolves only once its
   * own delta is durably committed, and an operation alone is committed
   * after one event-loop turn (what arrived meanwhile joins it), so this
   * adds no measurable latency; under concurrent load it turns one fsync,
   * one DAG node and one broadcast per pin into one per group.
   */
  private groupPublish(op: CrdtOp, options?: AbortOptions): Promise<void> {
    options?.signal?.throwIfAborted()
    return new Promise<void>((resolve, reject) => {
      this.groupQueue.push({ op, resolve, reject })
      if (!this.groupDraining) {
        this.groupDraining = true
        this.drainGroups().catch((err: unknown) => {
          this.groupDraining = false
          log.error(`group commit: ${errorMessage(err)}`)
        })
      }
    })
  }

  private async drainGroups(): Promise<void> {
    while (this.groupQueue.length > 0) {
      // one turn of the event loop first: requests already received (parsed
      // in I/O callbacks, which microtasks never let run) join this delta.
      // A datastore commit blocks the thread, so without this each delta
      // held the one operation that started it (measured: ~1 commit per pin
      // under 16 concurrent clients, 28% of the CPU in commits).
      await new Promise<void>((r) => setImmediate(r))
      const take: typeof this.groupQueue = []
      let bytes = 0
      while (this.groupQueue.length > 0) {
        const next = this.groupQueue[0]!
        const size = next.op.value?.length ?? 64
        if (take.length > 0 && bytes + size > MAX_DELTA_BYTES) break
        take.push(this.groupQueue.shift()!)
        bytes += size
      }
      try {
        await this.store.publish(take.map((t) => t.op))
        for (const t of take) t.resolve()
      } catch (err) {
        for (const t of take) t.reject(err)
      }
    }
    // cleared in the same tick as the last empty-queue check: an operation
    // queued after this point starts a new drain
    this.groupDraining = false
  }

  private async enqueue(op: number, pinBytes: Uint8Array, options?: AbortOptions): Promise<void> {
    options?.signal?.throwIfAborted()
    if (this.queueSize >= this.init.batching.maxQueueSize) {
      throw new QueueFullError(
        'batching max_queue_size reached. Too many operations are waiting to be batched. Try increasing the max_queue_size or adjusting the batching options'
      )
    }
    const seq = this.nextSeq++
    this.queueSize++
    this.inflight.add(seq)
    const entry = concat([Uint8Array.of(op), pinBytes])
    try {
      await this.writeQueued(this.queueKey(seq), entry)
    } catch (err) {
      this.queueSize--
      throw err
    } finally {
      this.inflight.delete(seq)
    }
    if (this.queueSize >= this.init.batching.maxBatchSize) {
      this.triggerFlush()
    } else if (this.batchTimer === undefined && this.started) {
      this.batchTimer = setTimeout(() => {
        this.batchTimer = undefined
        this.triggerFlush()
      }, this.init.batching.maxBatchAgeMs)
    }
  }

  /**
   * Group commit: queue entries written by concurrent callers in the same
   * tick go to the datastore in one batch (one fsync); each caller resolves
   * once its entry is durable.
   */
  private writeQueued(key: string, value: Uint8Array): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.pendingWrites.push({ key, value, resolve, reject })
      if (this.writer === undefined) {
        this.writer = this.drainWrites().finally(() => {
          this.writer = undefined
        })
      }
    })
  }

  private async drainWrites(): Promise<void> {
    for (let round = 0; round < 1_000_000 && this.pendingWrites.length > 0; round++) {
      await new Promise<void>((r) => setImmediate(r)) // let concurrent callers join this batch
      const items = this.pendingWrites.splice(0)
      try {
        if (hasRawKeyValue(this.ds)) await writeRawDurably(this.ds, items.map((it) => [it.key, it.value] as const))
        else {
          const b = this.ds.batch()
          for (const it of items) b.put(new Key(it.key, false), it.value)
          await b.commit()
        }
        for (const it of items) it.resolve()
      } catch (err) {
        for (const it of items) it.reject(err)
      }
    }
  }

  private triggerFlush(): void {
    if (this.flushing !== undefined) return
    if (this.batchTimer !== undefined) clearTimeout(this.batchTimer)
    this.batchTimer = undefined
    this.flushing = this.flushAll()
      .catch((err: Error) => log.error(`error committing batch: ${err.message}`))
      .finally(() => {
        this.flushing = undefined
        // operations that arrived meanwhile
        if (this.started && this.queueSize > 0 && this.batchTimer === undefined) {
          if (this.queueSize >= this.init.batching.maxBatchSize) this.triggerFlush()
          else
            this.batchTimer = setTimeout(() => {
              this.batchTimer = undefined
              this.triggerFlush()
            }, this.init.batching.maxBatchAgeMs)
        }
      })
  }

  /** Commits the queued operations in order, `max_batch_size` per delta; serialized. */
  private flushAll(): Promise<void> {
    const p = this.flushChain.then(() => this.flushQueue())
    this.flushChain = p.catch(() => {})
    return p
  }

  private async flushQueue(): Promise<void> {
    const max = this.init.batching.maxBatchSize > 0 ? this.init.batching.maxBatchSize : 1000
    for (let round = 0; round < 1_000_000; round++) {
      // never pass an operation whose write is still in flight
      let limit = this.nextSeq
      for (const s of this.inflight) if (s < limit) limit = s
      if (this.headSeq >= limit) return
      let end = Math.min(limit, this.headSeq + max)
      const ops: CrdtOp[] = []
      const extra = new Map<string, Uint8Array | null>()
      let bytes = 0
      for (let seq = this.headSeq; seq < end; seq++) {
        const k = this.queueKey(seq)
        const value = await this.queuedEntry(k)
        if (value === undefined) continue // a failed enqueue
        extra.set(k, null)
        try {
          const pin = pinFromProtobuf(value.subarray(1))
          ops.push({ key: cidToKeyString(pin.cid), value: value[0] === QUEUE_PIN ? value.subarray(1) : null })
        } catch (err) {
          log.error(`dropping undecodable queued operation ${k}: ${errorMessage(err)}`)
        }
        bytes += value.length
        if (bytes >= MAX_DELTA_BYTES) {
          end = seq + 1
          break
        }
      }
      await this.store.publish(ops, extra)
      this.queueSize = Math.max(0, this.queueSize - extra.size)
      this.headSeq = end
      if (extra.size > 0) log.info(`batch commit: ${extra.size} items`)
    }
  }

  /** A batching queue entry, undefined when absent. */
  private async queuedEntry(k: string): Promise<Uint8Array | undefined> {
    if (hasRawKeyValue(this.ds)) return this.ds.getRaw(k)
    try {
      return await this.ds.get(new Key(k, false))
    } catch (err) {
      if (errorName(err) === 'NotFoundError') return undefined
      throw err
    }
  }

  /** Upstream `Peers`: the peerset component's answer, always with this peer; this peer alone without one. */
  async peers(options?: AbortOptions): Promise<PeerId[]> {
    if (this.peerset === undefined) return [this.init.peerId]
    const peers = await this.peerset(options)
    return peers.includes(this.init.peerId) ? peers : [this.init.peerId, ...peers].sort()
  }

  async state(options?: AbortOptions): Promise<ReadOnlyState> {
    await this.ready(options)
    return this.stateView
  }

  isTrustedPeer(peer: PeerId): boolean {
    return this.trustAll || peer === this.init.peerId || this.trusted.has(peer)
  }

  async trust(peer: PeerId): Promise<void> {
    this.trusted.add(peer)
  }

  async distrust(peer: PeerId): Promise<void> {
    this.trusted.delete(peer)
  }

  /** `datastore_namespace` as used: every key of this consensus starts with it and a `/`. */
  get datastoreNamespace(): string {
    return this.init.namespace
  }

  /** Deletes every key under the namespace (used by `state cleanup`, with the peer stopped). */
  async clean(options?: AbortOptions): Promise<void> {
    log.info('cleaning all CRDT data from datastore')
    await this.store.clean(options)
    this.queueSize = 0
    this.nextSeq = 0
    this.headSeq = 0
    if (this.started) await this.store.load(options) // usable again right away (state import)
  }

  /** The current heads (for `state crdt info` and tests). */
  /** Re-allocations this peer removed since start because an unpin was concurrent with them (src/consensus/crdt/stale.ts). */
  get staleReallocationsRemoved(): number {
    return this.store.staleReallocationsRemoved
  }

  heads(): { heads: CID[]; height: bigint } {
    return this.store.headList()
  }

  /** Processes a head as if received from a peer (tests, `state crdt` tools). */
  async handleHead(head: CID, options?: AbortOptions): Promise<void> {
    await this.store.handleHead(head, options)
  }

  /** Waits until no batch is being committed and the queue is empty or `signal` aborts. */
  async flush(options?: AbortOptions): Promise<void> {
    options?.signal?.throwIfAborted()
    if (this.batchTimer !== undefined) clearTimeout(this.batchTimer)
    this.batchTimer = undefined
    await this.flushAll()
  }
}
