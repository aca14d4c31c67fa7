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
 * - `createBitswapDagSyncer`: `@helia/bitswap` on the cluster host's libp2p,
 *   serving the crdt blocks (`CrdtBlockstore`); `getBlock` reads the local
 *   store first, then asks the connected peers with a timeout.
 */
import { withBitswap } from '@helia/bitswap'
import type { Libp2p } from '@libp2p/interface'
import { md5 } from '@noble/hashes/legacy.js'
import { base58btc } from 'multiformats/bases/base58'
import type { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { identity } from 'multiformats/hashes/identity'
import { sha256, sha512 } from 'multiformats/hashes/sha2'
import { NotFoundError, UnsupportedError } from '../../errors.ts'
import type { AbortOptions, Startable } from '../../interfaces.ts'
import { getLogger } from '../../observability/logging.ts'
import type { Broadcaster, DagSyncer } from './crdt.ts'
import { CrdtBlockstore } from './dag.ts'
import type { Datastore } from 'interface-datastore'

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
}

export interface PubsubBroadcaster extends Broadcaster {
  /** Messages dropped because their signer is not trusted. */
  readonly droppedUntrusted: number
  /** Messages dropped because the queue was full. */
  readonly droppedFull: number
  /** Leaves the topic; pending `next()` calls keep waiting for their signal. */
  close(): void
}

/**
 * A `Broadcaster` on a gossipsub topic (go-ds-crdt `PubSubBroadcaster` plus
 * upstream's trusted-signer validator). Subscribes at once; call `close()`
 * when the consensus stops.
 */
export function createPubsubBroadcaster(init: PubsubBroadcasterInit, components: { pubsub: BroadcastPubsub }): PubsubBroadcaster {
  const { topic, isTrusted } = init
  const maxQueue = Math.max(1, init.maxQueue ?? 1024)
  const queue: Uint8Array[] = []
  const waiters: Array<(d: Uint8Array) => void> = []
  let droppedUntrusted = 0
  let droppedFull = 0
  let warnedFull = 0

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
  })

  return {
    get droppedUntrusted() {
      return droppedUntrusted
    },
    get droppedFull() {
      return droppedFull
    },
    async broadcast(data: Uint8Array, options?: AbortOptions): Promise<void> {
      options?.signal?.throwIfAborted()
      await components.pubsub.publish(topic, data)
    },
    next(signal: AbortSignal): Promise<Uint8Array> {
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
}

export interface BitswapDagSyncer extends DagSyncer, Startable {}

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
  const { libp2p, blockstore } = components
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

  return {
    start,
    async stop(): Promise<void> {
      stopped = true
      if (starting !== undefined) await starting.catch(() => {})
      const b = broker
      broker = undefined
      await b?.stop()
    },
    async getBlock(cid: CID, options?: AbortOptions): Promise<Uint8Array> {
      try {
        return await blockstore.get(cid, options)
      } catch (err) {
        if ((err as Error).name !== 'NotFoundError') throw err
      }
      if (broker === undefined && !stopped) await start() // never started: start on first use
      if (broker === undefined) throw new NotFoundError(`block not found: ${cid.toString()} (bitswap stopped)`)
      const timeout = AbortSignal.timeout(timeoutMs)
      const signal = options?.signal !== undefined ? AbortSignal.any([options.signal, timeout]) : timeout
      try {
        return await broker.retrieve(cid, { signal })
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
  /** `datastore_namespace` (default `/c`): where the crdt keeps its blocks. */
  namespace?: string
  /** bitswap wait per missing block, ms (default 2 min, upstream `DAGSyncerTimeout`). */
  dagTimeoutMs?: number
  /** broadcast queue bound (default 1024). */
  maxQueue?: number
}

export interface CrdtNetwork extends Startable {
  readonly topic: string
  readonly broadcaster: PubsubBroadcaster
  readonly dagSyncer: BitswapDagSyncer
  readonly blockstore: CrdtBlockstore
}

/**
 * Everything the crdt consensus needs from the cluster host, in one piece:
 * pass `broadcaster` and `dagSyncer` as `CrdtComponents`. `start()` after
 * the host started (starts bitswap); `stop()` after the consensus stopped
 * (leaves the topic, stops bitswap).
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
  const namespace = (init.namespace ?? '/c').replace(/\/+$/, '') || '/c'
  const topic = clusterTopic(init.clusterName)
  const blockstore = new CrdtBlockstore(components.datastore, namespace)
  const broadcaster = createPubsubBroadcaster({ topic, isTrusted: init.isTrusted, maxQueue: init.maxQueue }, { pubsub: components.pubsub })
  const dagSyncer = createBitswapDagSyncer({ timeoutMs: init.dagTimeoutMs }, { libp2p: components.libp2p, blockstore })
  return {
    topic,
    broadcaster,
    dagSyncer,
    blockstore,
    start: () => dagSyncer.start(),
    async stop() {
      broadcaster.close()
      await dagSyncer.stop()
    }
  }
}
