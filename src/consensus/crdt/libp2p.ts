/**
 * The crdt `Broadcaster` and `DagSyncer` over the cluster host (upstream
 * `consensus/crdt/consensus.go` setup: go-ds-crdt `PubSubBroadcaster` on a
 * topic named after `cluster_name`, with a topic validator that accepts only
 * trusted signers, and ipfs-lite's bitswap on the cluster host).
 *
 * - `clusterTopic(clusterName)`: base58btc of the MD5 multihash of the
 *   cluster name (Go `multihash.Sum(name, MD5, -1).B58String()`), so Go and
 *   TypeScript peers of one cluster meet on the same topic.
 * - `createPubsubBroadcaster`: heads are published on that topic; received
 *   messages whose signer is not trusted are dropped (counted, logged at
 *   debug); when the adapter can validate, they are not even forwarded.
 *   Received messages wait in a bounded queue for `next()`; when it is full
 *   the oldest is dropped with a warning (heads are rebroadcast anyway).
 *   With a blockstore and `inlineMaxBytes` > 0, outgoing broadcasts carry the
 *   bytes of the small head blocks in an extra protobuf field
 *   (`CRDTBroadcast` field 15, repeated bytes). go-ds-crdt v0.6.8 does NOT
 *   skip it: it drops the whole message (it reads unknown bytes as a legacy
 *   CID), so the daemon turns inlining off (src/consensus/index.ts). Received
 *   ones are verified (sha2-256) and stored before the message is
 *   delivered, so a live peer needs no fetch to apply a new head.
 * - `createBitswapDagSyncer`: `@helia/bitswap` on the cluster host's libp2p,
 *   serving the crdt blocks (`CrdtBlockstore`); `getBlock` reads the local
 *   store first, then the catch-up protocol (`sync.ts`: many blocks per
 *   round trip, TypeScript peers), then bitswap with a timeout.
 */
import { withBitswap } from '@helia/bitswap'
import type { IdentifyResult, Libp2p, PeerId } from '@libp2p/interface'
import { md5 } from '@noble/hashes/legacy.js'
import { base58btc } from 'multiformats/bases/base58'
import type { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { identity } from 'multiformats/hashes/identity'
import { sha256, sha512 } from 'multiformats/hashes/sha2'
import { concat } from 'uint8arrays/concat'
import { errorMessage, errorName, NotFoundError, UnsupportedError } from '../../errors.ts'
import type { AbortOptions, Startable } from '../../interfaces.ts'
import { getLogger } from '../../observability/logging.ts'
import { type Broadcaster, type DagSyncer, type DeltaBlock, encodeBroadcast } from './crdt.ts'
import { CrdtBlockstore } from './dag.ts'
import { InlineBroadcast } from './pb/inline.pb.ts'
import { CRDT_DEFAULTS } from './defaults.ts'
import type { Datastore } from 'interface-datastore'
import * as dagPB from '@ipld/dag-pb'
import { CID as CIDClass } from 'multiformats/cid'
import { keyStringToBinary } from '../../state/keys.ts'
import { createDagSync, DAG_SYNC_PROTOCOL, type DagSync, type DagSyncStats } from './sync.ts'

const log = getLogger('crdt')

/** The MD5 multihash code. */
const MD5_CODE = 0xd5

/** The crdt head topic of a cluster: base58btc(MD5 multihash of `clusterName`), no multibase prefix. */
export function clusterTopic(clusterName: string): string {
  const digest = Digest.create(MD5_CODE, md5(new TextEncoder().encode(clusterName)))
  return base58btc.baseEncode(digest.bytes)
}

/** What the broadcaster needs of the pubsub adapter (`host/pubsub.ts` `PubsubAdapter`). */
export interface BroadcastPubsub {
  publish(topic: string, data: Uint8Array): Promise<void>
  subscribe(topic: string, handler: (data: Uint8Array, from: string) => void): () => void
  /** Optional: a validator run before delivery and forwarding (gossipsub topic validator). */
  validate?(topic: string, accept: (from: string) => boolean): () => void
}

export interface PubsubBroadcasterInit {
  /** the topic, e.g. `clusterTopic(cluster_name)`. */
  topic: string
  /** `Consensus.isTrustedPeer`: messages signed by other peers are dropped. */
  isTrusted: (peerId: string) => boolean
  /** messages kept for `next()` (default 1024); the oldest is dropped beyond. */
  maxQueue?: number
  /** head blocks smaller than this are sent inline (bytes, default 64 KiB; 0 disables). Needs a blockstore. */
  inlineMaxBytes?: number
  /** called once, on the first `next()` (the consensus started receiving). */
  onReceiving?: () => void
}

/** The `CRDTBroadcast` field carrying inline blocks (repeated bytes; not in go-ds-crdt; `pb/inline.proto`). */
export const INLINE_BLOCKS_FIELD = 15
/** Most inline bytes one message carries. */
const INLINE_MAX_TOTAL = 512 * 1024
/** Most blocks one message carries inline (its heads and the local deltas they stand for). */
const INLINE_MAX_BLOCKS = 64

/**
 * Appends inline blocks (field 15 of `pb/inline.proto`) to an encoded
 * `CRDTBroadcast`: the bytes of `data`, then one field-15 entry per block
 * (protobuf messages merge by concatenation). Returns `data` unchanged when
 * `blocks` is empty.
 */
export function appendInlineBlocks(data: Uint8Array, blocks: Uint8Array[]): Uint8Array {
  if (blocks.length === 0) return data
  return concat([data, InlineBroadcast.encode({ Blocks: blocks as Array<Uint8Array<ArrayBuffer>> })])
}

/**
 * Splits an encoded `CRDTBroadcast` into its head CIDs' bytes (field 1,
 * `Head.Cid`) and inline blocks (field 15), with the `pb/inline.proto` codec.
 * The arrays are views of `data`.
 * @throws Error on malformed protobuf.
 */
export function parseBroadcast(data: Uint8Array): { heads: Uint8Array[]; blocks: Uint8Array[] } {
  const msg = InlineBroadcast.decode(data)
  return { heads: msg.Heads.map((h) => h.Cid).filter((c) => c.length > 0), blocks: msg.Blocks }
}

export interface PubsubBroadcaster extends Broadcaster {
  /** Messages dropped because their signer is not trusted. */
  readonly droppedUntrusted: number
  /** Messages dropped because the queue was full. */
  readonly droppedFull: number
  /** Inline blocks sent (field 15). */
  readonly inlineSent: number
  /** Inline blocks received, verified and stored. */
  readonly inlineReceived: number
  /** Inline blocks dropped (not a head nor linked from one, or malformed). */
  readonly inlineRejected: number
  /** Queues `data` (an encoded `CRDTBroadcast`) as if received from a trusted peer. */
  inject(data: Uint8Array): void
  /** Leaves the topic; pending `next()` calls keep waiting for their signal. */
  close(): void
}

/**
 * A `Broadcaster` on a gossipsub topic (go-ds-crdt `PubSubBroadcaster` plus
 * upstream's trusted-signer validator). Subscribes at once; call `close()`
 * when the consensus stops.
 */
export function createPubsubBroadcaster(
  init: PubsubBroadcasterInit,
  components: { pubsub: BroadcastPubsub; blockstore?: CrdtBlockstore }
): PubsubBroadcaster {
  const { topic, isTrusted } = init
  const maxQueue = Math.max(1, init.maxQueue ?? 1024)
  const inlineMax = components.blockstore === undefined ? 0 : (init.inlineMaxBytes ?? 64 * 1024)
  const queue: Uint8Array[] = []
  const waiters: Array<(d: Uint8Array) => void> = []
  let droppedUntrusted = 0
  let droppedFull = 0
  let warnedFull = 0
  let inlineSent = 0
  let inlineReceived = 0
  let inlineRejected = 0
  let onReceiving = init.onReceiving
  /** stores inline blocks in arrival order, before delivery */
  let storing: Promise<void> = Promise.resolve()

  /** Verifies and stores the inline blocks of a message (never throws). */
  async function storeInline(data: Uint8Array): Promise<void> {
    const blockstore = components.blockstore
    if (blockstore === undefined) return
    let parsed: { heads: Uint8Array[]; blocks: Uint8Array[] }
    try {
      parsed = parseBroadcast(data)
    } catch {
      return // not ours to judge: the consumer reports malformed messages
    }
    if (parsed.blocks.length === 0) return
    const wanted = new Set<string>()
    for (const h of parsed.heads) {
      try {
        wanted.add(mhKey(CIDClass.decode(h)))
      } catch {}
    }
    const ok: Array<{ cid: CID; bytes: Uint8Array }> = []
    for (const b of parsed.blocks) {
      const cid = CIDClass.createV1(dagPB.code, await sha256.digest(b))
      const k = mhKey(cid)
      if (!wanted.has(k)) {
        inlineRejected++
        continue
      }
      wanted.delete(k)
      ok.push({ cid, bytes: b.slice() })
      try {
        for (const l of dagPB.decode(b).Links) wanted.add(mhKey(l.Hash))
      } catch {}
    }
    if (ok.length === 0) return
    try {
      await blockstore.putMany(ok)
      inlineReceived += ok.length
    } catch (err) {
      log.warn(`storing inline crdt blocks: ${errorMessage(err)}`)
    }
  }

  function deliver(data: Uint8Array): void {
    const w = waiters.shift()
    if (w !== undefined) {
      w(data)
      return
    }
    queue.push(data)
    if (queue.length > maxQueue) {
      queue.shift()
      droppedFull++
      const now = Date.now()
      if (now - warnedFull > 10_000) {
        warnedFull = now
        log.warn(`crdt broadcast queue full (${maxQueue}): dropping the oldest message (${droppedFull} dropped so far)`)
      }
    }
  }

  const trusted = (from: string): boolean => {
    if (isTrusted(from)) return true
    droppedUntrusted++
    log.debug(`discarded pubsub message from non trusted source ${from}`)
    return false
  }

  const unvalidate = components.pubsub.validate?.(topic, trusted)
  const unsubscribe = components.pubsub.subscribe(topic, (data, from) => {
    // the validator already counted it when the adapter validates
    if (unvalidate === undefined ? !trusted(from) : !isTrusted(from)) return
    if (inlineMax === 0) {
      deliver(data)
      return
    }
    storing = storing
      .then(() => storeInline(data))
      .then(() => deliver(data))
      .catch((err: Error) => log.warn(`crdt broadcast: ${err.message}`))
  })

  /**
   * Adds the small head blocks of an encoded broadcast, then the `ancestors`
   * given (local deltas not broadcast yet, newest first) that a receiver
   * would accept: each one linked from a block already in the message, as
   * `storeInline` checks (best effort).
   */
  async function withInline(data: Uint8Array, options?: AbortOptions, ancestors?: DeltaBlock[]): Promise<Uint8Array> {
    const blockstore = components.blockstore
    if (blockstore === undefined || inlineMax === 0) return data
    let heads: Uint8Array[]
    try {
      heads = parseBroadcast(data).heads
    } catch {
      return data
    }
    const blocks: Uint8Array[] = []
    /** hashes the receiver will accept next: the heads, then the links of each block sent */
    const wanted = new Set<string>()
    let total = 0
    const add = (k: string, b: Uint8Array): void => {
      if (b.length >= inlineMax || total + b.length > INLINE_MAX_TOTAL || blocks.length >= INLINE_MAX_BLOCKS) return
      wanted.delete(k)
      blocks.push(b)
      total += b.length
      try {
        for (const l of dagPB.decode(b).Links) wanted.add(mhKey(l.Hash))
      } catch {}
    }
    const headCids: CID[] = []
    for (const h of heads) {
      try {
        const cid = CIDClass.decode(h)
        headCids.push(cid)
        wanted.add(mhKey(cid))
      } catch {}
    }
    for (const cid of headCids) {
      const k = mhKey(cid)
      if (!wanted.has(k)) continue
      try {
        add(k, await blockstore.get(cid, options))
      } catch {}
    }
    for (const a of ancestors ?? []) {
      const k = mhKey(a.cid)
      if (wanted.has(k)) add(k, a.bytes)
    }
    inlineSent += blocks.length
    return appendInlineBlocks(data, blocks)
  }

  return {
    get droppedUntrusted() {
      return droppedUntrusted
    },
    get droppedFull() {
      return droppedFull
    },
    get inlineSent() {
      return inlineSent
    },
    get inlineReceived() {
      return inlineReceived
    },
    get inlineRejected() {
      return inlineRejected
    },
    async broadcast(data: Uint8Array, options?: AbortOptions, ancestors?: DeltaBlock[]): Promise<void> {
      options?.signal?.throwIfAborted()
      await components.pubsub.publish(topic, await withInline(data, options, ancestors))
    },
    inject(data: Uint8Array): void {
      storing = storing.then(() => deliver(data))
    },
    next(signal: AbortSignal): Promise<Uint8Array> {
      if (onReceiving !== undefined) {
        const f = onReceiving
        onReceiving = undefined
        try {
          f()
        } catch {}
      }
      const first = queue.shift()
      if (first !== undefined) return Promise.resolve(first)
      return new Promise((resolve, reject) => {
        if (signal.aborted) {
          reject(signal.reason)
          return
        }
        const waiter = (d: Uint8Array): void => {
          signal.removeEventListener('abort', onAbort)
          resolve(d)
        }
        const onAbort = (): void => {
          const i = waiters.indexOf(waiter)
          if (i >= 0) waiters.splice(i, 1)
          reject(signal.reason)
        }
        signal.addEventListener('abort', onAbort, { once: true })
        waiters.push(waiter)
      })
    },
    close(): void {
      unsubscribe()
      unvalidate?.()
    }
  }
}

export interface BitswapDagSyncerInit {
  /** ms to wait for a block from the other peers (upstream `DAGSyncerTimeout`: 2 min). */
  timeoutMs?: number
}

export interface BitswapDagSyncerComponents {
  /** the cluster host's libp2p node (started). */
  libp2p: Libp2p
  /** the crdt's block store (`CrdtConsensus.blockstore`, or `new CrdtBlockstore(datastore, namespace)`). */
  blockstore: CrdtBlockstore
  /** optional catch-up protocol (`sync.ts`), asked before bitswap. */
  sync?: DagSync
}

export interface DagSyncerStats {
  /** blocks obtained from bitswap. */
  bitswapBlocks: number
  /** `getBlock` calls answered by the catch-up protocol. */
  syncHits: number
  /** `getBlock` calls answered locally after waiting for another exchange in flight. */
  sharedHits: number
}

export interface BitswapDagSyncer extends DagSyncer, Startable {
  readonly stats: DagSyncerStats
}

/** The block broker `withBitswap` installs (the part used here). */
interface BitswapBroker {
  start(): Promise<void>
  stop(): Promise<void>
  announce(cid: CID, options?: AbortOptions): Promise<void>
  retrieve(cid: CID, options?: AbortOptions): Promise<Uint8Array>
}

/**
 * `CrdtBlockstore` in the shape of interface-blockstore (what bitswap reads
 * to answer other peers' wants: `has` and `get`).
 */
export function blockstoreAdapter(blocks: CrdtBlockstore): object {
  return {
    has: (cid: CID, options?: AbortOptions) => blocks.has(cid, options),
    async *get(cid: CID, options?: AbortOptions): AsyncGenerator<Uint8Array> {
      yield await blocks.get(cid, options)
    },
    async put(cid: CID, bytes: Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>, options?: AbortOptions): Promise<CID> {
      let data: Uint8Array
      if (bytes instanceof Uint8Array) data = bytes
      else {
        const parts: Uint8Array[] = []
        for await (const p of bytes) parts.push(p)
        data = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
        let o = 0
        for (const p of parts) {
          data.set(p, o)
          o += p.length
        }
      }
      await blocks.put(cid, data, options)
      return cid
    },
    async *putMany(source: AsyncIterable<{ cid: CID; bytes: Uint8Array }> | Iterable<{ cid: CID; bytes: Uint8Array }>, options?: AbortOptions): AsyncGenerator<CID> {
      for await (const { cid, bytes } of source) {
        await blocks.put(cid, bytes, options)
        yield cid
      }
    },
    async *getMany(source: AsyncIterable<CID> | Iterable<CID>, options?: AbortOptions) {
      for await (const cid of source) {
        const bytes = await blocks.get(cid, options)
        yield {
          cid,
          bytes: (async function* () {
            yield bytes
          })()
        }
      }
    },
    delete(): Promise<void> {
      throw new UnsupportedError('crdt blocks are never deleted through bitswap')
    },
    // biome-ignore lint/correctness/useYield: unsupported operation
    async *deleteMany(): AsyncGenerator<CID> {
      throw new UnsupportedError('crdt blocks are never deleted through bitswap')
    },
    // biome-ignore lint/correctness/useYield: unsupported operation
    async *getAll(): AsyncGenerator<never> {
      throw new UnsupportedError('listing crdt blocks through bitswap is not supported')
    }
  }
}

const mhKey = (cid: CID): string => {
  const b = cid.multihash.bytes
  let s = ''
  for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i]!)
  return s
}

const hashers = new Map<number, { code: number; digest: (b: Uint8Array) => unknown }>([
  [sha256.code, sha256],
  [sha512.code, sha512],
  [identity.code, identity]
])

/**
 * A `DagSyncer` over bitswap on the cluster host. Call `start()` after the
 * host is started (the first `getBlock` starts it otherwise) and `stop()`
 * before the host stops.
 */
export function createBitswapDagSyncer(init: BitswapDagSyncerInit, components: BitswapDagSyncerComponents): BitswapDagSyncer {
  const timeoutMs = init.timeoutMs ?? 120_000
  const { libp2p, blockstore, sync } = components
  const stats: DagSyncerStats = { bitswapBlocks: 0, syncHits: 0, sharedHits: 0 }
  /** catch-up exchanges in flight, by CID */
  const inflight = new Map<string, Promise<Uint8Array | undefined>>()
  let broker: BitswapBroker | undefined
  let starting: Promise<void> | undefined
  let stopped = false

  async function startBroker(): Promise<void> {
    let mixin: { start(h: unknown): Promise<void> } | undefined
    let installed: BitswapBroker | undefined
    // withBitswap expects a Helia node; give it the parts bitswap reads.
    const helia = {
      status: 'starting',
      libp2p,
      blockstore: blockstoreAdapter(blockstore),
      logger: libp2p.logger,
      metrics: undefined,
      routing: {
        // bitswap asks every connected peer anyway; the cluster has no content routing
        async *findProviders() {}
      },
      getHasher: async (code: number) => {
        const h = hashers.get(code)
        if (h === undefined) throw new UnsupportedError(`unsupported hash function 0x${code.toString(16)}`)
        return h
      },
      hasBlockBroker: () => false,
      addBlockBroker: (b: BitswapBroker) => {
        installed = b
      },
      addMixin: (m: { start(h: unknown): Promise<void> }) => {
        mixin = m
      }
    }
    withBitswap(helia as unknown as Parameters<typeof withBitswap>[0])
    if (mixin === undefined) throw new Error('bitswap did not install itself')
    await mixin.start(helia)
    if (installed === undefined) throw new Error('bitswap did not start')
    broker = installed
  }

  async function start(): Promise<void> {
    stopped = false
    if (broker !== undefined) return
    starting ??= startBroker().finally(() => {
      starting = undefined
    })
    await starting
  }

  async function local(cid: CID, options?: AbortOptions): Promise<Uint8Array | undefined> {
    try {
      return await blockstore.get(cid, options)
    } catch (err) {
      if (errorName(err) !== 'NotFoundError') throw err
      return undefined
    }
  }

  /** The catch-up protocol, one exchange per CID at a time; waits (≤ 5 s) for the others in flight first: they often bring this block. */
  async function viaSync(s: DagSync, cid: CID, options?: AbortOptions): Promise<Uint8Array | undefined> {
    const key = cid.toString()
    const same = inflight.get(key)
    if (same !== undefined) return (await same.catch(() => undefined)) ?? (await local(cid, options))
    if (inflight.size > 0) {
      let timer: ReturnType<typeof setTimeout> | undefined
      await Promise.race([
        Promise.allSettled([...inflight.values()]),
        new Promise((r) => {
          timer = setTimeout(r, 5000)
        })
      ])
      clearTimeout(timer)
      const got = await local(cid, options)
      if (got !== undefined) {
        stats.sharedHits++
        return got
      }
    }
    const p = s.fetch(cid, options)
    inflight.set(key, p)
    try {
      const got = await p
      if (got !== undefined) stats.syncHits++
      return got
    } finally {
      inflight.delete(key)
    }
  }

  return {
    start,
    stats,
    async stop(): Promise<void> {
      stopped = true
      if (starting !== undefined) await starting.catch(() => {})
      const b = broker
      broker = undefined
      await b?.stop()
    },
    async getBlock(cid: CID, options?: AbortOptions): Promise<Uint8Array> {
      const have = await local(cid, options)
      if (have !== undefined) return have
      if (sync !== undefined && !stopped) {
        try {
          const got = await viaSync(sync, cid, options)
          if (got !== undefined) return got
        } catch (err) {
          if (options?.signal?.aborted === true) throw err
          log.debug(`dag sync of ${cid.toString()}: ${errorMessage(err)}`)
        }
      }
      if (broker === undefined && !stopped) await start() // never started: start on first use
      if (broker === undefined) throw new NotFoundError(`block not found: ${cid.toString()} (bitswap stopped)`)
      const timeout = AbortSignal.timeout(timeoutMs)
      const signal = options?.signal !== undefined ? AbortSignal.any([options.signal, timeout]) : timeout
      try {
        const bytes = await broker.retrieve(cid, { signal })
        stats.bitswapBlocks++
        return bytes
      } catch (err) {
        if (options?.signal?.aborted === true) throw err
        if (timeout.aborted) throw new NotFoundError(`block ${cid.toString()} not found on any peer within ${timeoutMs}ms`)
        throw err
      }
    },
    async putBlock(cid: CID, _bytes: Uint8Array, options?: AbortOptions): Promise<void> {
      await broker?.announce(cid, options)
    }
  }
}

export interface CrdtNetworkInit {
  /** `consensus.crdt.cluster_name` (the topic derives from it). */
  clusterName: string
  /** `Consensus.isTrustedPeer` (may refer to a consensus created afterwards). */
  isTrusted: (peerId: string) => boolean
  /** `datastore_namespace` (default `CRDT_DEFAULTS.namespace`): where the crdt keeps its blocks. */
  namespace?: string
  /** bitswap wait per missing block, ms (default 2 min, upstream `DAGSyncerTimeout`). */
  dagTimeoutMs?: number
  /** broadcast queue bound (default 1024). */
  maxQueue?: number
  /** head blocks below this size travel inside the broadcast (bytes, default 64 KiB; 0 disables). */
  inlineMaxBytes?: number
  /** whether to serve and use the catch-up protocol (`sync.ts`, default true). */
  dagSync?: boolean
}

export interface CrdtNetwork extends Startable {
  readonly topic: string
  readonly broadcaster: PubsubBroadcaster
  readonly dagSyncer: BitswapDagSyncer
  readonly blockstore: CrdtBlockstore
  /** the catch-up protocol (undefined when disabled). */
  readonly dagSync: DagSync | undefined
  /** counters: inline blocks, catch-up blocks, bitswap blocks. */
  stats(): CrdtNetworkStats
}

export interface CrdtNetworkStats {
  /** heads pulled from peers (on start and when a peer connects) and queued. */
  headsInjected: number
  inlineSent: number
  inlineReceived: number
  inlineRejected: number
  sync: DagSyncStats | undefined
  dagSyncer: DagSyncerStats
}

/** The heads stored under `<namespace>/h/` (what the catch-up server may stop at). */
async function storedHeads(ds: Datastore, namespace: string, options?: AbortOptions): Promise<CID[]> {
  const out: CID[] = []
  for await (const k of ds.queryKeys({ prefix: `${namespace}/h/` }, options)) {
    try {
      out.push(CIDClass.createV1(dagPB.code, Digest.decode(keyStringToBinary(k.toString()))))
    } catch {}
    if (out.length >= 256) break
  }
  return out
}

/**
 * Everything the crdt consensus needs from the cluster host, in one piece:
 * pass `broadcaster` and `dagSyncer` as `CrdtComponents`. `start()` after
 * the host started (registers the catch-up protocol `sync.ts`, starts
 * bitswap); `stop()` after the consensus stopped (leaves the topic,
 * unregisters the protocol, stops bitswap).
 *
 * Fast paths between TypeScript peers (Go peers keep working through
 * gossipsub heads and bitswap): head broadcasts carry the small head blocks
 * inline; a missing block is asked with the catch-up protocol (the DAG
 * below it, many blocks per round trip) before bitswap; when the consensus
 * starts receiving, and whenever a trusted peer speaking the protocol is
 * identified, its heads are pulled and queued as a received broadcast, so
 * a joining peer does not wait for the next rebroadcast. `stats()` counts
 * each path.
 *
 * @example
 * let consensus: CrdtConsensus | undefined
 * const net = createCrdtNetwork({ clusterName, isTrusted: (p) => consensus?.isTrustedPeer(p) ?? false },
 *   { libp2p: host.libp2p, pubsub: createPubsubAdapter(host), datastore })
 * await net.start()
 * consensus = createCrdtConsensus(init, { datastore, broadcaster: net.broadcaster, dagSyncer: net.dagSyncer, onChange })
 */
export function createCrdtNetwork(
  init: CrdtNetworkInit,
  components: { libp2p: Libp2p; pubsub: BroadcastPubsub; datastore: Datastore }
): CrdtNetwork {
  const namespace = (init.namespace ?? CRDT_DEFAULTS.namespace).replace(/\/+$/, '') || CRDT_DEFAULTS.namespace
  const topic = clusterTopic(init.clusterName)
  const blockstore = new CrdtBlockstore(components.datastore, namespace)
  const { libp2p } = components
  let receiving = false
  let running: AbortController | undefined
  const pulling = new Set<string>()
  let headsInjected = 0

  /** Asks `peer` for its heads and queues them as a received broadcast. */
  function pullHeads(peer: PeerId): void {
    const sync = dagSync
    const ctl = running
    const id = peer.toString()
    if (sync === undefined || ctl === undefined || !receiving || pulling.has(id) || !init.isTrusted(id)) return
    pulling.add(id)
    sync
      .heads(peer, { signal: ctl.signal })
      .then((heads) => {
        if (heads.length === 0 || ctl.signal.aborted) return
        headsInjected += heads.length
        log.debug(`pulled ${heads.length} crdt heads from ${id}`)
        broadcaster.inject(encodeBroadcast(heads))
      })
      .catch((err: Error) => log.debug(`pulling crdt heads from ${id}: ${err.message}`))
      .finally(() => pulling.delete(id))
  }

  const onIdentify = (evt: CustomEvent<IdentifyResult>): void => {
    if (evt.detail.protocols.includes(DAG_SYNC_PROTOCOL)) pullHeads(evt.detail.peerId)
  }

  const broadcaster = createPubsubBroadcaster(
    {
      topic,
      isTrusted: init.isTrusted,
      maxQueue: init.maxQueue,
      inlineMaxBytes: init.inlineMaxBytes,
      onReceiving: () => {
        // the consensus receives now: ask the peers already connected for their heads
        receiving = true
        for (const conn of libp2p.getConnections()) pullHeads(conn.remotePeer)
      }
    },
    { pubsub: components.pubsub, blockstore }
  )
  const dagSync =
    init.dagSync === false
      ? undefined
      : createDagSync(
          { isTrusted: init.isTrusted },
          { libp2p: components.libp2p, blockstore, heads: (o) => storedHeads(components.datastore, namespace, o) }
        )
  const dagSyncer = createBitswapDagSyncer({ timeoutMs: init.dagTimeoutMs }, { libp2p: components.libp2p, blockstore, sync: dagSync })
  return {
    topic,
    broadcaster,
    dagSyncer,
    blockstore,
    dagSync,
    stats: () => ({
      headsInjected,
      inlineSent: broadcaster.inlineSent,
      inlineReceived: broadcaster.inlineReceived,
      inlineRejected: broadcaster.inlineRejected,
      sync: dagSync === undefined ? undefined : { ...dagSync.stats },
      dagSyncer: { ...dagSyncer.stats }
    }),
    async start() {
      if (running === undefined && dagSync !== undefined) {
        running = new AbortController()
        libp2p.addEventListener('peer:identify', onIdentify)
      }
      await dagSync?.start()
      await dagSyncer.start()
    },
    async stop() {
      broadcaster.close()
      libp2p.removeEventListener('peer:identify', onIdentify)
      running?.abort(new Error('crdt network stopped'))
      running = undefined
      await dagSync?.stop()
      await dagSyncer.stop()
    }
  }
}
