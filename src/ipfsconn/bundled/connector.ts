/**
 * The bundled IPFS connector: an `IPFSConnector` backed by an embedded
 * Helia light node (helia 7) with its own libp2p node (TCP, noise with the
 * runtime's cipher override, yamux, identify, optional pnet swarm key) and
 * bitswap, so a cluster peer needs no kubo. Ours: upstream ipfs-cluster only
 * has the kubo connector (`ipfsconn/ipfshttp`), whose behaviour each method
 * follows (see src/ipfsconn/ipfshttp/connector.ts).
 *
 * Storage, in `folder`:
 * - `blocks/`: one fsynced file per block (`FsBlockstore`).
 * - `datastore.sqlite`: the node's libp2p identity and peer store (Helia's
 *   keychain), and OUR pinset records `/cluster-pins/<multihash>` →
 *   `{cid, depth, name}` (SQLite, synchronous=full).
 *
 * Pins do not use Helia's `pins` (its per-block reference counts lose shared
 * blocks after an unpin / re-pin cycle): a pin fetches its whole DAG (down
 * to its max depth, `fetch_concurrency` blocks at a time, each block on
 * disk before it counts), then writes its record; GC is a mark-and-sweep
 * over the pinset: every block reachable from a pin record (down to its
 * depth), every block of an in-flight pin and every block written while
 * the GC runs is kept, all others are deleted.
 *
 * Errors: `IPFSError` (block missing after pin_timeout without progress,
 * storage_max reached, undecodable block, unsupported codec/hash/path),
 * `DiskFullError` (the file system of the blocks folder is full: nothing
 * half-written is left, the pin is not recorded; the REST API's 507),
 * `AbortError` (caller's signal, connector stopped), `NotFoundError`
 * (`configKey` other than `Datastore/StorageMax`), `InvalidArgumentError`
 * (bad path or multiaddr).
 */
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { withBitswap } from '@helia/bitswap'
import { type HeliaWithLibp2p, withLibp2pLight } from '@helia/libp2p'
import { unixfs } from '@helia/unixfs'
import * as dagCbor from '@ipld/dag-cbor'
import * as dagJson from '@ipld/dag-json'
import { type Identify, identify } from '@libp2p/identify'
import { preSharedKey } from '@libp2p/pnet'
import type { PeerId } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { createHeliaLight } from 'helia'
import { Key } from 'interface-datastore'
import * as json from 'multiformats/codecs/json'
import { CID } from 'multiformats/cid'
import { identity } from 'multiformats/hashes/identity'
import { sha256, sha512 } from 'multiformats/hashes/sha2'
import type { MultihashHasher } from 'multiformats/hashes/interface'
import { concat as uint8ArrayConcat } from 'uint8arrays/concat'
import { equals as uint8ArrayEquals } from 'uint8arrays/equals'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { SqliteDatastore } from '../../datastore/sqlite.ts'
import { AbortError, DiskFullError, InvalidArgumentError, IPFSError, NotFoundError } from '../../errors.ts'
import { clusterTcp } from '../../host/tcp.ts'
import type { AbortOptions, IPFSConnector, IPFSPinInfo, PinProgressHandler } from '../../interfaces.ts'
import { getLogger } from '../../observability/logging.ts'
import { clusterMetrics } from '../../observability/metrics.ts'
import type { HttpListener } from '../../runtime/http.ts'
import { noiseCrypto } from '../../runtime/noise-crypto.ts'
import type { ID, IPFSID, IPFSPinStatus, IPFSRepoStat, Pin } from '../../types/index.ts'
import { isPinned, parseIpfsPath, Scope, sleep } from '../ipfshttp/connector.ts'
import { blockKey, FsBlockstore } from './blockstore.ts'
import { type BundledInit, DEFAULT_REWANT_INTERVAL_MS, gatewayAddress, validateBundledInit } from './config.ts'
import { walkDag } from './dag.ts'
import { startGateway } from './gateway.ts'

const log = getLogger('bundled')

/** What the connector uses of the rest of the peer (all optional). */
export interface BundledComponents {
  /** The cluster's peers with their IPFS identities, for `connectSwarms`. */
  clusterPeers?: (options?: AbortOptions) => AsyncIterable<ID>
}

/** A pinset record. `depth` -1 = recursive, 0 = direct, N = max depth N. */
export interface BundledPinRecord {
  cid: string
  depth: number
  name: string
}

/** The services of the bundled node's libp2p. */
export type BundledServices = { identify: Identify }

const PIN_PREFIX = '/cluster-pins/'

/** Bound of the GC's cached live sets, block keys in all (about 80 bytes each: 500,000 ≈ 40 MiB, ≈ 120 GiB of 256 KiB blocks). */
export const LIVE_CACHE_MAX_KEYS = 500_000

const CODECS: Record<string, number> = {
  raw: 0x55,
  'dag-pb': 0x70,
  protobuf: 0x70,
  v0: 0x70,
  'dag-cbor': 0x71,
  cbor: 0x71,
  'dag-json': 0x0129,
  json: 0x0200
}

const HASHERS = new Map<number, MultihashHasher>([
  [sha256.code, sha256],
  [sha512.code, sha512]
])
const HASHER_NAMES: Record<string, MultihashHasher> = { 'sha2-256': sha256, 'sha2-512': sha512 }

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}

function toIpfsError(what: string, err: unknown): Error {
  if (err instanceof IPFSError || err instanceof AbortError || err instanceof DiskFullError) return err
  return new IPFSError(`bundled IPFS (${what}): ${describe(err)}`, { cause: err })
}

/** `scope.fail`, except that a full disk stays a `DiskFullError` (507) unless the scope timed out or was aborted. */
function failIn(scope: Scope, command: string, err: unknown): Error {
  const e = toIpfsError(command, err)
  if (e instanceof DiskFullError && !scope.signal.aborted) return e
  return scope.fail(command, e)
}

/** The parts of Helia's bitswap (4.x, not exported) the connector reads: its wantlist and the peers' ledgers. */
interface BitswapInternals {
  getWantlist(): { cid: CID }[]
  getPeerWantlist(peer: PeerId): { cid: CID }[] | undefined
  wantList: { has(cid: CID): boolean }
}

/** Helia's bitswap of a started node, or undefined when its shape is not the one known (then re-asking waits a fixed 50 ms). */
function bitswapOf(helia: unknown): BitswapInternals | undefined {
  const brokers = (helia as { blockBrokers?: unknown }).blockBrokers
  if (!Array.isArray(brokers)) return undefined
  const b = (brokers.find((x) => (x as { name?: unknown }).name === 'bitswap') as { bitswap?: BitswapInternals } | undefined)?.bitswap
  if (typeof b?.getWantlist !== 'function' || typeof b.getPeerWantlist !== 'function' || typeof b.wantList?.has !== 'function') return undefined
  return b
}

async function toBuffer(chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = []
  for await (const c of chunks) parts.push(c)
  return parts.length === 1 ? parts[0]! : uint8ArrayConcat(parts)
}

/**
 * Connector to the embedded Helia node (`IPFSConnector`).
 * `start()` opens the blockstore and datastore, starts Helia (libp2p +
 * bitswap), dials the bootstrap addresses (not awaited) and, after
 * `connectSwarmsDelayMs`, runs `connectSwarms` once.
 */
export class BundledConnector implements IPFSConnector {
  readonly init: BundledInit
  readonly blockstore: FsBlockstore
  private readonly components: BundledComponents
  private datastore: SqliteDatastore | undefined
  private heliaNode: HeliaWithLibp2p<BundledServices> | undefined
  private run = new AbortController()
  private background: Promise<void> | undefined
  /** Blocks of pins being fetched (kept by a GC running meanwhile). */
  private readonly inflight = new Set<Set<string>>()
  /**
   * The GC's live set per pin root (root block key → the pin's depth and
   * the keys of every block of its DAG down to that depth), so a GC walks
   * each DAG once per process: filled when a pin completes and by a GC's
   * walk, dropped at unpin; at most LIVE_CACHE_MAX_KEYS block keys in all
   * (pins past that are walked at each GC).
   */
  private readonly liveSets = new Map<string, { depth: number; keys: string[] }>()
  private liveSetKeys = 0
  private gcRunning: Promise<void> | undefined
  private gateway: HttpListener | undefined

  /** @throws InvalidArgumentError on invalid settings (see `validateBundledInit`). */
  constructor(init: BundledInit, components: BundledComponents = {}) {
    validateBundledInit(init)
    this.init = { ...init }
    this.components = components
    this.blockstore = new FsBlockstore(join(init.folder, 'blocks'), init.storageMaxBytes)
  }

  /** The started Helia node. @throws IPFSError before `start()` */
  get helia(): HeliaWithLibp2p<BundledServices> {
    if (this.heliaNode === undefined) throw new IPFSError('bundled IPFS: the node is not started')
    return this.heliaNode
  }

  private get ds(): SqliteDatastore {
    if (this.datastore === undefined) throw new IPFSError('bundled IPFS: the node is not started')
    return this.datastore
  }

  /**
   * Opens the stores and starts the node.
   * @throws IPFSError (folder not writable, listen address in use, unreadable swarm key)
   */
  async start(): Promise<void> {
    if (this.heliaNode !== undefined) return
    this.run = new AbortController()
    let helia: HeliaWithLibp2p<BundledServices> | undefined
    try {
      await this.blockstore.open()
      const ds = new SqliteDatastore({ path: join(this.init.folder, 'datastore.sqlite'), synchronous: 'full' })
      await ds.open()
      this.datastore = ds
      let protector: ReturnType<typeof preSharedKey> | undefined
      if (this.init.swarmKeyFile !== '') {
        let psk: Uint8Array
        try {
          psk = new Uint8Array(await readFile(this.init.swarmKeyFile))
        } catch (err) {
          throw new IPFSError(`bundled.swarm_key_file: cannot read ${this.init.swarmKeyFile}: ${describe(err)}`)
        }
        if (!/^\/key\/swarm\/psk\/1\.0\.0\/\r?\n\/base16\/\r?\n[0-9a-fA-F]{64}\s*$/.test(new TextDecoder().decode(psk))) {
          throw new IPFSError(`bundled.swarm_key_file: ${this.init.swarmKeyFile} is not a swarm key ("/key/swarm/psk/1.0.0/", "/base16/", 64 hex digits)`)
        }
        protector = preSharedKey({ psk })
      }
      helia = withBitswap(
        withLibp2pLight(
          createHeliaLight({
            blockstore: this.blockstore,
            datastore: ds,
            codecs: [dagCbor, dagJson, json],
            hashers: [sha512]
          }),
          {
            addresses: { listen: this.init.listenMultiaddress, announce: this.init.announceMultiaddress },
            transports: [clusterTcp()],
            // the runtime's noise crypto (Bun lacks node:crypto chacha20-poly1305)
            connectionEncrypters: [noise({ crypto: noiseCrypto })],
            streamMuxers: [yamux()],
            ...(protector !== undefined ? { connectionProtector: protector } : {}),
            connectionManager: { inboundConnectionThreshold: 50 },
            services: { identify: identify() }
          }
        )
      )
      await helia.start()
      this.heliaNode = helia
    } catch (err) {
      // a half-started node (e.g. a listen address in use) must not keep its sockets
      await helia?.stop().catch(() => {})
      await this.datastore?.close().catch(() => {})
      this.datastore = undefined
      throw toIpfsError('start', err)
    }
    if (this.init.gatewayListenMultiaddress !== '') {
      const { host, port } = gatewayAddress(this.init.gatewayListenMultiaddress)
      try {
        this.gateway = await startGateway(this.helia, this.blockstore, host, port)
      } catch (err) {
        await this.stop()
        throw new IPFSError(`bundled.gateway_listen_multiaddress: cannot listen on ${this.init.gatewayListenMultiaddress}: ${describe(err)}`)
      }
    }
    log.info(`bundled IPFS node ${this.helia.libp2p.peerId} listening on ${this.helia.libp2p.getMultiaddrs().join(', ')}`)
    const signal = this.run.signal
    this.background = this.afterStart(signal).catch((err: unknown) => {
      if (!signal.aborted) log.error(`bundled IPFS background task: ${describe(err)}`)
    })
  }

  private async afterStart(signal: AbortSignal): Promise<void> {
    for (const a of this.init.bootstrap) {
      this.helia.libp2p.dial(multiaddr(a), { signal }).then(
        () => log.debug(`bootstrap: connected to ${a}`),
        (err: unknown) => log.warn(`bootstrap: cannot connect to ${a}: ${describe(err)}`)
      )
    }
    if (this.init.connectSwarmsDelayMs === 0) return
    await sleep(this.init.connectSwarmsDelayMs, signal)
    if (!signal.aborted) await this.connectSwarms({ signal })
  }

  async stop(): Promise<void> {
    const helia = this.heliaNode
    if (helia === undefined) return
    log.info('stopping the bundled IPFS node')
    this.run.abort()
    await this.gateway?.close(1000)
    this.gateway = undefined
    await this.background
    this.background = undefined
    await this.gcRunning?.catch(() => {})
    await helia.stop()
    this.heliaNode = undefined
    await this.datastore?.close()
    this.datastore = undefined
  }

  /** `http://host:port` of the running gateway, or undefined. */
  get gatewayUrl(): string | undefined {
    const a = this.gateway?.address
    if (a?.kind !== 'tcp') return undefined
    return `http://${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`
  }

  /** Resolves once started (the node is ready when `start()` resolves). */
  async ready(): Promise<void> {}

  /** The node's peer ID and announced addresses (with `/p2p/<id>`). */
  async id(): Promise<IPFSID> {
    const l = this.helia.libp2p
    return { id: l.peerId.toString(), addresses: l.getMultiaddrs().map((m) => m.toString()), error: '' }
  }

  // ---------------------------------------------------------------- pinset

  private pinKey(cid: CID): Key {
    return new Key(`${PIN_PREFIX}${blockKey(cid)}`)
  }

  /** The pinset record of `cid`, or undefined. */
  async pinRecord(cid: CID): Promise<BundledPinRecord | undefined> {
    try {
      const v = await this.ds.get(this.pinKey(cid))
      return JSON.parse(new TextDecoder().decode(v)) as BundledPinRecord
    } catch (err) {
      if ((err as { name?: string }).name === 'NotFoundError') return undefined
      throw toIpfsError('pin/ls', err)
    }
  }

  private async *records(): AsyncGenerator<BundledPinRecord> {
    for await (const { value } of this.ds.query({ prefix: PIN_PREFIX })) {
      yield JSON.parse(new TextDecoder().decode(value)) as BundledPinRecord
    }
  }

  /**
   * Pins `pin.cid`: fetches every block of its DAG (whole DAG for maxDepth
   * -1, the root for 0, N levels of links otherwise) over bitswap, up to
   * `fetch_concurrency` at a time, each block written to disk before it
   * counts; then writes the pin record. `onProgress(blocks)` is called for
   * each block; the pin fails when no block arrived for `pin_timeout`.
   * Already pinned with that depth (or recursively): nothing to do. A pin
   * update (`pin.pinUpdate`) is an ordinary pin here: the blocks shared with
   * the old root are already local. Dials up to 10 of `pin.origins` first
   * (not awaited).
   * @throws IPFSError (pin timeout, undecodable block, storage_max reached), AbortError
   */
  async pin(pin: Pin, options: AbortOptions & { onProgress?: PinProgressHandler } = {}): Promise<void> {
    const cid = pin.cid.toString()
    const existing = await this.pinRecord(pin.cid)
    if (existing !== undefined && (existing.depth === -1 || existing.depth === pin.maxDepth)) {
      log.debug(`IPFS object is already pinned: ${cid}`)
      return
    }
    const originsCtl = new AbortController()
    for (const origin of pin.origins.slice(0, 10)) {
      this.swarmConnect([origin], { signal: originsCtl.signal }).catch((err: unknown) => log.debug(`swarm-connect to origin ${origin}: ${describe(err)}`))
    }
    const timeoutMs = this.init.pinTimeoutMs
    const scope = new Scope(timeoutMs, `pin timeout: no progress for ${timeoutMs} ms while pinning ${cid}`, options.signal, this.run.signal)
    const live = new Set<string>()
    this.inflight.add(live)
    clusterMetrics.pinsPinAdd.inc()
    let blocks = 0
    // re-asking: the block requests waiting, each abortable alone (see rewantStalled)
    const asks = new Map<string, AbortController>()
    const rewantMs = this.init.rewantIntervalMs ?? DEFAULT_REWANT_INTERVAL_MS
    let seenBlocks = 0
    const rewantTimer =
      rewantMs > 0
        ? setInterval(() => {
            if (blocks !== seenBlocks || asks.size === 0) {
              seenBlocks = blocks
              return
            }
            this.rewantStalled(cid, asks, pin.origins)
          }, rewantMs)
        : undefined
    try {
      const helia = this.helia
      await walkDag(
        pin.cid,
        async (c, signal) => {
          const key = blockKey(c)
          live.add(key)
          // bounded: one round per rewant_interval without progress, until the pin's scope ends
          for (;;) {
            const ask = new AbortController()
            asks.set(key, ask)
            try {
              return await toBuffer(helia.blockstore.get(c, { signal: AbortSignal.any([signal, ask.signal]) }))
            } catch (err) {
              if (signal.aborted || !ask.signal.aborted) throw err
            } finally {
              if (asks.get(key) === ask) asks.delete(key)
            }
            await this.wantDropped(c, signal)
            signal.throwIfAborted()
          }
        },
        {
          maxDepth: pin.maxDepth < 0 ? -1 : pin.maxDepth,
          concurrency: this.init.fetchConcurrency,
          signal: scope.signal,
          onBlock: () => {
            blocks++
            scope.reset(timeoutMs)
            options.onProgress?.(blocks)
          }
        }
      )
      const rec: BundledPinRecord = { cid, depth: pin.maxDepth < 0 ? -1 : pin.maxDepth, name: pin.name }
      await this.ds.put(this.pinKey(pin.cid), new TextEncoder().encode(JSON.stringify(rec)))
      clusterMetrics.pinsIpfsPins.inc()
      this.cacheLiveSet(pin.cid, rec.depth, [...live])
      log.info(`IPFS Pin request succeeded: ${cid} (${blocks} blocks)`)
    } catch (err) {
      clusterMetrics.pinsPinAddErrors.inc()
      throw failIn(scope, 'pin/add', err)
    } finally {
      if (rewantTimer !== undefined) clearInterval(rewantTimer)
      this.inflight.delete(live)
      scope.close()
      originsCtl.abort()
    }
  }

  /**
   * A pin got no block for a rewant_interval: dials its origins again (up to
   * 10, those not connected; not awaited) and aborts its waiting block
   * requests, which `pin` then makes again. A new request is a new want sent
   * to every connected peer: Helia's bitswap sends a want to each peer once,
   * and cancels a want for every requester when one of them aborts.
   */
  private rewantStalled(cid: string, asks: Map<string, AbortController>, origins: string[]): void {
    const l = this.heliaNode?.libp2p
    if (l === undefined) return
    const connected = new Set(l.getPeers().map((p) => p.toString()))
    for (const origin of origins.slice(0, 10)) {
      const id = origin.split('/p2p/')[1]
      if (id !== undefined && connected.has(id)) continue
      this.swarmConnect([origin], { signal: this.run.signal }).catch((err: unknown) => log.debug(`re-dialing origin ${origin}: ${describe(err)}`))
    }
    log.debug(`pin ${cid}: no block for ${this.init.rewantIntervalMs ?? DEFAULT_REWANT_INTERVAL_MS} ms: asking ${connected.size} peers again for ${asks.size} blocks`)
    for (const ask of [...asks.values()]) ask.abort()
    asks.clear()
  }

  /** Waits (at most 1 s) until Helia's bitswap has dropped its cancelled want for `cid`, so a new request is a new want. */
  private async wantDropped(cid: CID, signal: AbortSignal): Promise<void> {
    const bitswap = bitswapOf(this.heliaNode)
    if (bitswap === undefined) {
      await sleep(50, signal)
      return
    }
    for (let i = 0; i < 100 && bitswap.wantList.has(cid) && !signal.aborted; i++) await sleep(10, signal)
  }

  /**
   * The node's bitswap wantlist (kubo's `ipfs bitswap wantlist`): the blocks
   * it is asking its peers for; with `peer` (a peer ID string), the blocks
   * that peer asked this node for and has not got.
   * @throws InvalidArgumentError (bad peer ID), IPFSError (not started or
   *   this Helia's bitswap cannot be read)
   */
  wantlist(peer?: string): CID[] {
    const bitswap = bitswapOf(this.helia)
    if (bitswap === undefined) throw new IPFSError('bundled IPFS (bitswap/wantlist): cannot read the bitswap wantlist of this Helia version')
    if (peer === undefined) return bitswap.getWantlist().map((e) => e.cid)
    let id: PeerId
    try {
      id = peerIdFromString(peer)
    } catch (err) {
      throw new InvalidArgumentError(`invalid peer ID "${peer}": ${describe(err)}`)
    }
    return (bitswap.getPeerWantlist(id) ?? []).map((e) => e.cid)
  }

  /**
   * Removes the pin record of `cid` (its blocks go at the next GC). Not
   * pinned is not an error.
   * @throws IPFSError (also when `unpin_disable` is set), AbortError
   */
  async unpin(cid: CID, options: AbortOptions = {}): Promise<void> {
    if (this.init.unpinDisable) throw new IPFSError('ipfs unpinning is disallowed by configuration on this peer')
    const timeoutMs = this.init.unpinTimeoutMs
    const scope = new Scope(timeoutMs, `IPFS request timed out after ${timeoutMs} ms (pin/rm)`, options.signal, this.run.signal)
    try {
      scope.signal.throwIfAborted()
      await this.ds.delete(this.pinKey(cid), { signal: scope.signal })
      this.dropLiveSet(cid)
    } catch (err) {
      throw failIn(scope, 'pin/rm', err)
    } finally {
      scope.close()
    }
    clusterMetrics.pinsIpfsPins.dec()
    log.info(`IPFS Unpin request succeeded: ${cid}`)
  }

  /**
   * The pinset, as kubo's `pin ls --type=…` answers: `typeFilter`
   * `recursive` (depth -1 or N), `direct`, `indirect` (every block under a
   * recursive pin, down to its depth, that is not itself a pin root; found
   * by walking the local DAGs, each CID once), `all` (the three), or several
   * joined by commas. Recursive and direct pins come first, then the
   * indirect blocks. A block missing under a pin is skipped with a warning.
   * @throws AbortError (signal), IPFSError (pinset unreadable)
   */
  async *pinLs(typeFilter: string, options: AbortOptions = {}): AsyncGenerator<IPFSPinInfo> {
    const filters = new Set(
      typeFilter
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== '')
    )
    if (filters.size === 0) filters.add('all')
    const wants = (t: IPFSPinStatus): boolean => filters.has('all') || filters.has(t)
    const indirect = wants('indirect')
    /** roots of recursive pins (for the indirect walk) and every pin root (never listed as indirect) */
    const recursive: BundledPinRecord[] = []
    const roots = new Set<string>()
    let total = 0
    for await (const r of this.records()) {
      if (options.signal?.aborted === true) throw new AbortError('IPFS request aborted (pin/ls)')
      const type: IPFSPinStatus = r.depth === 0 ? 'direct' : 'recursive'
      if (indirect) {
        roots.add(r.cid)
        if (type === 'recursive') recursive.push(r)
      }
      if (!wants(type)) continue
      total++
      yield { cid: CID.parse(r.cid), type }
    }
    clusterMetrics.pinsIpfsPins.set(total)
    if (!indirect) return
    const listed = new Set<string>()
    for (const r of recursive) {
      const found: CID[] = []
      await this.walkLocal(r, options.signal, (c) => {
        const s = c.toString()
        if (roots.has(s) || listed.has(s)) return
        listed.add(s)
        found.push(c)
      })
      for (const c of found) yield { cid: c, type: 'indirect' }
    }
  }

  /**
   * Walks a pin's DAG on local blocks only, down to its depth, calling
   * `onBlock` for each block (the root included). A missing or undecodable
   * block is logged and its links are not followed.
   */
  private async walkLocal(r: BundledPinRecord, signal: AbortSignal | undefined, onBlock: (c: CID) => void): Promise<boolean> {
    let complete = true
    await walkDag(
      CID.parse(r.cid),
      async (c) => {
        if (c.multihash.code === identity.code) return c.multihash.digest
        return this.blockstore.getBytes(c)
      },
      {
        maxDepth: r.depth,
        concurrency: 8,
        ...(signal !== undefined ? { signal } : {}),
        onBlock,
        onSkip: (c, err) => {
          complete = false
          log.warn(`pin ${r.cid}: block ${c}: ${describe(err)}`)
        }
      }
    )
    return complete
  }

  /** Records the live set of a pin root (see `liveSets`), within the bound. */
  private cacheLiveSet(root: CID, depth: number, keys: string[]): void {
    this.dropLiveSet(root)
    if (this.liveSetKeys + keys.length > LIVE_CACHE_MAX_KEYS) return
    this.liveSets.set(blockKey(root), { depth, keys })
    this.liveSetKeys += keys.length
  }

  private dropLiveSet(root: CID): void {
    const k = blockKey(root)
    const old = this.liveSets.get(k)
    if (old === undefined) return
    this.liveSets.delete(k)
    this.liveSetKeys -= old.keys.length
  }

  /** `recursive` / `direct` from the pinset record of `pin.cid`, else `unpinned`. */
  async pinLsCid(pin: Pin): Promise<IPFSPinStatus> {
    const r = await this.pinRecord(pin.cid)
    if (r === undefined) return 'unpinned'
    return r.depth === 0 ? 'direct' : 'recursive'
  }

  // ----------------------------------------------------------------- swarm

  /** Dials every IPFS address of every cluster peer (from `components.clusterPeers`); failures are logged. */
  async connectSwarms(options: AbortOptions = {}): Promise<void> {
    const peers = this.components.clusterPeers
    if (peers === undefined) return
    const me = this.helia.libp2p.peerId.toString()
    try {
      for await (const id of peers(options)) {
        if (id.error !== '' || id.ipfs.error !== '' || id.ipfs.id === me) continue
        for (const addr of id.ipfs.addresses) {
          try {
            await this.swarmConnect([addr], options)
            log.debug(`ipfs successfully connected to ${addr}`)
            break
          } catch (err) {
            if (options.signal?.aborted === true) throw err
            log.debug(`ipfs could not connect to ${addr}: ${describe(err)}`)
          }
        }
      }
    } catch (err) {
      const e = toIpfsError('connectSwarms', err)
      if (options.signal?.aborted === true) throw new AbortError('connectSwarms aborted')
      log.error(e.message)
    }
  }

  /**
   * Dials each address (`/…/p2p/<id>`).
   * @throws InvalidArgumentError (bad multiaddr), IPFSError (dial failed), AbortError
   */
  async swarmConnect(addrs: string[], options: AbortOptions = {}): Promise<void> {
    for (const a of addrs) {
      let ma: ReturnType<typeof multiaddr>
      try {
        ma = multiaddr(a)
      } catch (err) {
        throw new InvalidArgumentError(`invalid multiaddr "${a}": ${describe(err)}`)
      }
      try {
        await this.helia.libp2p.dial(ma, options)
      } catch (err) {
        if (options.signal?.aborted === true) throw new AbortError(`swarm connect aborted (${a})`)
        throw new IPFSError(`bundled IPFS (swarm/connect): ${a}: ${describe(err)}`, { cause: err })
      }
    }
  }

  /** Peer IDs the node is connected to. */
  async swarmPeers(): Promise<string[]> {
    return this.helia.libp2p.getPeers().map((p) => p.toString())
  }

  /**
   * Only `Datastore/StorageMax` exists (the configured storage_max, bytes).
   * @throws NotFoundError for any other key
   */
  async configKey(key: string): Promise<unknown> {
    const path = key.split('/').filter((s) => s !== '')
    if (path.length === 0) throw new InvalidArgumentError('cannot lookup without a path')
    if (path.join('/') === 'Datastore/StorageMax') return `${this.init.storageMaxBytes}B`
    throw new NotFoundError(`key not found in configuration: ${key}`)
  }

  // ------------------------------------------------------------------ repo

  /** Bytes stored and storage_max; with `sizeOnly: false` also the block count, folder and version. */
  async repoStat(options: AbortOptions & { sizeOnly?: boolean } = {}): Promise<IPFSRepoStat> {
    const st: IPFSRepoStat = { repoSize: this.blockstore.size, storageMax: this.init.storageMaxBytes }
    if (options.sizeOnly === false) {
      st.numObjects = this.blockstore.numBlocks
      st.repoPath = this.init.folder
      st.version = 'bundled-helia-fs-1'
    }
    return st
  }

  /**
   * Mark-and-sweep GC: marks every block reachable (locally) from the
   * pinset records down to their depth (each DAG walked once per process:
   * its live set is then cached, see `liveSets`), plus blocks of in-flight pins and
   * blocks written while it runs; deletes the rest, yielding each removed
   * block (CIDv1 raw) or an error (`key` null). One GC at a time; bounded
   * by repogc_timeout.
   * @throws IPFSError (timeout), AbortError
   */
  async *repoGC(options: AbortOptions = {}): AsyncGenerator<{ key: CID | null; error: string }> {
    while (this.gcRunning !== undefined) await this.gcRunning.catch(() => {})
    let done: () => void = () => {}
    this.gcRunning = new Promise<void>((resolve) => {
      done = resolve
    })
    const timeoutMs = this.init.repoGcTimeoutMs
    const scope = new Scope(timeoutMs, `IPFS request timed out after ${timeoutMs} ms (repo/gc)`, options.signal, this.run.signal)
    const written = this.blockstore.startTracking()
    try {
      const marked = new Set<string>()
      for await (const r of this.records()) {
        scope.signal.throwIfAborted()
        // a block missing under a pin keeps the rest of that pin's DAG: the walk goes on around it
        const root = CID.parse(r.cid)
        const cached = this.liveSets.get(blockKey(root))
        if (cached !== undefined && cached.depth === r.depth) {
          for (const k of cached.keys) marked.add(k)
          continue
        }
        const keys: string[] = []
        const complete = await this.walkLocal(r, scope.signal, (c) => keys.push(blockKey(c)))
        for (const k of keys) marked.add(k)
        // an incomplete DAG (a block missing) is walked again next time
        if (complete) this.cacheLiveSet(root, r.depth, keys)
      }
      for await (const c of this.blockstore.keys()) {
        scope.signal.throwIfAborted()
        const k = blockKey(c)
        if (marked.has(k) || written.has(k) || this.inFlight(k)) continue
        try {
          await this.blockstore.delete(c)
          yield { key: c, error: '' }
        } catch (err) {
          yield { key: null, error: `deleting ${c}: ${describe(err)}` }
        }
      }
    } catch (err) {
      throw failIn(scope, 'repo/gc', err)
    } finally {
      this.blockstore.stopTracking()
      scope.close()
      this.gcRunning = undefined
      done()
    }
  }

  /** Whether a pin being fetched has asked for this block. */
  private inFlight(key: string): boolean {
    for (const live of this.inflight) if (live.has(key)) return true
    return false
  }

  // ---------------------------------------------------------------- blocks

  /**
   * Resolves `/ipfs/<cid>[/path]` (or a bare CID) to the CID it points to;
   * paths inside UnixFS directories are followed (blocks fetched over
   * bitswap when missing, bounded by pin_timeout).
   * @throws InvalidArgumentError (unparseable path), IPFSError (`/ipns/`, `/ipld/` paths: unsupported; path not found)
   */
  async resolve(path: string, options: AbortOptions = {}): Promise<CID> {
    const { segs, root } = parseIpfsPath(path)
    if (segs[0] !== 'ipfs' || root === undefined) throw new IPFSError(`bundled IPFS (resolve): /${segs[0]}/ paths are not supported by the bundled IPFS node: ${path}`)
    if (segs.length === 2) return root
    const scope = new Scope(this.init.pinTimeoutMs, `IPFS request timed out after ${this.init.pinTimeoutMs} ms (resolve)`, options.signal, this.run.signal)
    try {
      const st = await unixfs(this.helia).stat(root, { path: segs.slice(2).join('/'), signal: scope.signal })
      return st.cid
    } catch (err) {
      throw failIn(scope, 'resolve', err)
    } finally {
      scope.close()
    }
  }

  /**
   * Stores a block: `format` the codec name (`raw` default; `protobuf`/`v0`
   * → dag-pb, `cbor` → dag-cbor), `mhtype` `sha2-256` (default) or
   * `sha2-512`; `cidVersion: 0` gives the CIDv0 of a dag-pb sha2-256 block.
   * @throws IPFSError (unsupported codec or hash, storage_max reached)
   */
  async blockPut(data: Uint8Array, opts: { format?: string; mhtype?: string; cidVersion?: number }, options: AbortOptions = {}): Promise<CID> {
    const codec = CODECS[opts.format ?? 'raw']
    if (codec === undefined) throw new IPFSError(`bundled IPFS (block/put): unsupported format "${opts.format}"`)
    const hasher = HASHER_NAMES[opts.mhtype ?? 'sha2-256']
    if (hasher === undefined) throw new IPFSError(`bundled IPFS (block/put): unsupported hash "${opts.mhtype}"`)
    let cid: CID = CID.createV1(codec, await hasher.digest(data))
    if (opts.cidVersion === 0 && codec === 0x70 && hasher.code === sha256.code) cid = cid.toV0()
    clusterMetrics.blocksPut.inc()
    try {
      await this.helia.blockstore.put(cid, data, options)
    } catch (err) {
      clusterMetrics.blocksPutErrors.inc()
      throw toIpfsError('block/put', err)
    }
    clusterMetrics.blocksAdded.inc()
    clusterMetrics.blocksAddedSize.inc(data.length)
    return cid
  }

  /**
   * The bytes of a block, fetched over bitswap when missing (bounded by
   * pin_timeout).
   * @throws IPFSError (not found in time), AbortError
   */
  async blockGet(cid: CID, options: AbortOptions = {}): Promise<Uint8Array> {
    const scope = new Scope(this.init.pinTimeoutMs, `IPFS request timed out after ${this.init.pinTimeoutMs} ms (block/get)`, options.signal, this.run.signal)
    try {
      return await toBuffer(this.helia.blockstore.get(cid, { signal: scope.signal }))
    } catch (err) {
      throw failIn(scope, 'block/get', err)
    } finally {
      scope.close()
    }
  }

  /**
   * Stores a stream of blocks (upstream `BlockStream`), checking each
   * block's bytes against its CID's multihash first.
   * @throws IPFSError (hash mismatch, unsupported hash, storage_max reached), AbortError;
   *   an error of `blocks` itself is rethrown as is.
   */
  async blockStream(blocks: AsyncIterable<{ cid: CID; bytes: Uint8Array }>, options: AbortOptions = {}): Promise<void> {
    const bs = this.helia.blockstore
    for await (const { cid, bytes } of blocks) {
      if (options.signal?.aborted === true) throw new AbortError('IPFS request aborted (block/put)')
      if (cid.multihash.code === identity.code) continue
      const hasher = HASHERS.get(cid.multihash.code)
      if (hasher === undefined) throw new IPFSError(`bundled IPFS (block/put): unsupported hash function 0x${cid.multihash.code.toString(16)}`)
      const digest = await hasher.digest(bytes)
      if (!uint8ArrayEquals(digest.bytes, cid.multihash.bytes)) {
        throw new IPFSError(`bundled IPFS (block/put): the bytes of block ${cid} do not match its multihash`)
      }
      clusterMetrics.blocksPut.inc()
      try {
        await bs.put(cid, bytes)
      } catch (err) {
        clusterMetrics.blocksPutErrors.inc()
        throw toIpfsError('block/put', err)
      }
      clusterMetrics.blocksAdded.inc()
      clusterMetrics.blocksAddedSize.inc(bytes.length)
    }
  }
}

export { isPinned }
