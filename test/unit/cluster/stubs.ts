/**
 * An in-process multi-peer harness for Cluster tests: each fake peer has a
 * Cluster with stub consensus/tracker/ipfs/monitor/allocator, its services
 * registered on a real `Rpc` (src/rpc/), and a router as its RPC client that
 * delivers calls to the destination's `Rpc` after a msgpack round trip of
 * the argument and the answer (as the wire would). A peer can be made
 * `down` (transport error), `hang` (never answers: the caller's timeout
 * fires) or `deny` (policy refusal).
 */
import { createHash } from 'node:crypto'
import { peerIdFromMultihash } from '@libp2p/peer-id'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { Cluster, type ClusterComponents, type ClusterInit } from '../../../src/cluster.ts'
import { NotFoundError } from '../../../src/errors.ts'
import type {
  AbortOptions,
  Consensus,
  IPFSConnector,
  PeerMonitor,
  PinAllocator,
  PinTracker,
  ReadOnlyState,
  StateChangeHandler
} from '../../../src/interfaces.ts'
import { RpcTimeoutError, RpcTransportError, RpcUnauthorizedError } from '../../../src/rpc/errors.ts'
import { createRpc, type Rpc, type RpcArgs, type RpcCallOptions, type RpcClient, type RpcMultiResult } from '../../../src/rpc/rpc.ts'
import { goDecode, goEncode } from '../../../src/rpc/msgpack.ts'
import { registerClusterRpc } from '../../../src/rpc/services.ts'
import type { Alert, IPFSID, Metric, PeerId, Pin, PinInfo, TrackerStatus } from '../../../src/types/index.ts'
import { defaultPinOptions, pinWithOpts } from '../../../src/types/index.ts'


/**
 * A valid peer ID (a sha2-256 multihash, like RSA peers' `Qm…`) standing
 * for `name` (at most 32 bytes): values cross the RPC as binary peer IDs,
 * so names will not do. The digest is the name zero-padded, so the IDs of
 * names of one length sort as the names do (base58's alphabet is in ASCII order).
 */
export function testPeer(name: string): PeerId {
  const bytes = new TextEncoder().encode(name)
  const digest = bytes.length <= 32 ? new Uint8Array(32) : createHash('sha256').update(bytes).digest()
  if (bytes.length <= 32) digest.set(bytes)
  return peerIdFromMultihash(Digest.create(0x12, digest)).toString()
}

/** The IPFS daemon's peer ID of the stub peer `peer`. */
export function ipfsOf(peer: PeerId): PeerId {
  return testPeer(`ipfs-${peer}`)
}

export async function makeCid(s: string): Promise<CID> {
  return CID.createV1(raw.code, await sha256.digest(new TextEncoder().encode(s)))
}

export function makePin(cid: CID, allocations: PeerId[], min = 2, max = 2): Pin {
  const p = pinWithOpts(cid, { ...defaultPinOptions(), name: `n-${cid.toString().slice(-4)}`, replicationFactorMin: min, replicationFactorMax: max })
  p.allocations = allocations
  return p
}

export function metric(name: string, peer: PeerId, value: string, ttlMs = 60_000): Metric {
  const now = Date.now()
  return { name, peer, value, expire: (now + ttlMs) * 1e6, valid: true, weight: 0, partitionable: false, receivedAt: now * 1e6 }
}

/** A pinset shared by reference (a converged crdt) or copied per peer. */
export class StubState implements ReadOnlyState {
  readonly pins = new Map<string, Pin>()
  async *list(_o?: AbortOptions): AsyncGenerator<Pin> {
    for (const k of [...this.pins.keys()].sort()) {
      const p = this.pins.get(k)
      if (p !== undefined) yield p
    }
  }
  async has(cid: CID): Promise<boolean> {
    return this.pins.has(cid.toString())
  }
  async get(cid: CID): Promise<Pin> {
    const p = this.pins.get(cid.toString())
    if (p === undefined) throw new NotFoundError('not found')
    return p
  }
  clone(): StubState {
    const s = new StubState()
    for (const [k, v] of this.pins) s.pins.set(k, { ...v, allocations: [...v.allocations] })
    return s
  }
}

export interface LogEntry {
  by: PeerId
  op: 'pin' | 'unpin'
  pin: Pin
}

export class StubConsensus implements Consensus {
  peerList: PeerId[]
  readonly trusted = new Set<PeerId>()
  trustAll = true
  private readonly self: PeerId
  st: StubState
  private readonly log: LogEntry[]
  constructor(self: PeerId, st: StubState, peers: PeerId[], log: LogEntry[]) {
    this.self = self
    this.st = st
    this.log = log
    this.peerList = peers
  }
  async start(): Promise<void> {}
  async stop(): Promise<void> {}
  async ready(): Promise<void> {}
  async logPin(pin: Pin): Promise<void> {
    this.log.push({ by: this.self, op: 'pin', pin })
    this.st.pins.set(pin.cid.toString(), pin)
  }
  async logUnpin(pin: Pin): Promise<void> {
    this.log.push({ by: this.self, op: 'unpin', pin })
    this.st.pins.delete(pin.cid.toString())
  }
  async peers(): Promise<PeerId[]> {
    return [...this.peerList]
  }
  async state(): Promise<ReadOnlyState> {
    return this.st
  }
  isTrustedPeer(peer: PeerId): boolean {
    return peer === this.self || this.trusted.has(peer) || (this.trustAll && !this.distrusted.has(peer))
  }
  readonly distrusted = new Set<PeerId>()
  async trust(peer: PeerId): Promise<void> {
    this.trusted.add(peer)
    this.distrusted.delete(peer)
  }
  async distrust(peer: PeerId): Promise<void> {
    this.trusted.delete(peer)
    this.distrusted.add(peer)
  }
  async clean(): Promise<void> {}
  onChange: StateChangeHandler | undefined
  setOnChange(handler: StateChangeHandler | undefined): void {
    this.onChange = handler
  }
}

/** Reports every pin of the state: `pinned` where allocated (or everywhere), `remote` elsewhere. */
export class StubTracker implements PinTracker {
  produced = 0
  private readonly self: PeerId
  private readonly consensus: StubConsensus
  constructor(self: PeerId, consensus: StubConsensus) {
    this.self = self
    this.consensus = consensus
  }
  async start(): Promise<void> {}
  async stop(): Promise<void> {}
  async track(): Promise<void> {}
  async untrack(): Promise<void> {}
  private info(pin: Pin | undefined, cid: CID, status?: TrackerStatus): PinInfo {
    const st: TrackerStatus =
      status ?? (pin === undefined ? 'unpinned' : pin.allocations.length === 0 || pin.allocations.includes(this.self) ? 'pinned' : 'remote')
    return {
      cid,
      name: pin?.name ?? '',
      peer: this.self,
      allocations: pin?.allocations ?? [],
      origins: [],
      created: pin?.timestamp ?? new Date(0),
      metadata: {},
      pinInfo: {
        peerName: `name-${this.self}`,
        ipfsPeerId: ipfsOf(this.self),
        ipfsPeerAddresses: [],
        status: st,
        timestamp: new Date(),
        error: '',
        attemptCount: 0,
        priorityPin: false
      }
    }
  }
  async *statusAll(filter: Set<TrackerStatus>, o?: AbortOptions): AsyncGenerator<PinInfo> {
    for await (const pin of this.consensus.st.list(o)) {
      const pi = this.info(pin, pin.cid)
      this.produced++
      if (filter.size === 0 || filter.has(pi.pinInfo.status)) yield pi
    }
  }
  async status(cid: CID): Promise<PinInfo> {
    return this.info(this.consensus.st.pins.get(cid.toString()), cid)
  }
  async *recoverAll(o?: AbortOptions): AsyncGenerator<PinInfo> {
    yield* this.statusAll(new Set(), o)
  }
  async recover(cid: CID): Promise<PinInfo> {
    return this.status(cid)
  }
  pinQueueSize(): number {
    return 0
  }
}

export class StubMonitor implements PeerMonitor {
  readonly metrics = new Map<string, Metric[]>()
  readonly removed: PeerId[] = []
  private readonly handlers = new Set<(a: Alert) => void>()
  async start(): Promise<void> {}
  async stop(): Promise<void> {}
  async logMetric(m: Metric): Promise<void> {
    const list = (this.metrics.get(m.name) ?? []).filter((x) => x.peer !== m.peer)
    list.push(m)
    this.metrics.set(m.name, list)
  }
  async publishMetric(m: Metric): Promise<void> {
    await this.logMetric(m)
  }
  async latestMetrics(name: string): Promise<Metric[]> {
    return [...(this.metrics.get(name) ?? [])].sort((a, b) => (a.peer < b.peer ? -1 : 1))
  }
  latestForPeer(name: string, peer: PeerId): Metric | undefined {
    return this.metrics.get(name)?.find((m) => m.peer === peer)
  }
  metricNames(): string[] {
    return [...this.metrics.keys()]
  }
  alerts(): Alert[] {
    return []
  }
  onAlert(handler: (a: Alert) => void): () => void {
    this.handlers.add(handler)
    return () => this.handlers.delete(handler)
  }
  fire(a: Alert): void {
    for (const h of this.handlers) h(a)
  }
  removePeer(peer: PeerId): void {
    this.removed.push(peer)
    for (const [k, v] of this.metrics) {
      this.metrics.set(
        k,
        v.filter((m) => m.peer !== peer)
      )
    }
  }
}

/** Picks candidates by descending `freespace`. */
export class StubAllocator implements PinAllocator {
  async start(): Promise<void> {}
  async stop(): Promise<void> {}
  metrics(): string[] {
    return ['freespace']
  }
  async allocate(_cid: CID, _current: Map<PeerId, Metric[]>, candidates: Map<PeerId, Metric[]>, priority: Map<PeerId, Metric[]>): Promise<PeerId[]> {
    const val = (ms: Metric[] | undefined): number => Number(ms?.[0]?.value ?? 0)
    const c = [...candidates.entries()].sort((a, b) => val(b[1]) - val(a[1])).map(([p]) => p)
    return [...priority.keys(), ...c]
  }
}

export function stubIpfs(self: PeerId, swarm: string[] = []): IPFSConnector & { stored: string[] } {
  const id: IPFSID = { id: ipfsOf(self), addresses: [`/ip4/127.0.0.1/tcp/4001/p2p/${ipfsOf(self)}`], error: '' }
  const stored: string[] = []
  const notUsed = async (): Promise<never> => {
    throw new Error('not used')
  }
  return {
    stored,
    start: async () => {},
    stop: async () => {},
    id: async () => id,
    pin: notUsed,
    unpin: notUsed,
    pinLs: async function* () {},
    pinLsCid: async () => 'unpinned',
    connectSwarms: async () => {},
    swarmConnect: async () => {},
    swarmPeers: async () => swarm,
    configKey: notUsed,
    repoStat: async () => ({ repoSize: 1, storageMax: 10 }),
    repoGC: async function* () {
      yield { key: await makeCid(`gc-${self}`), error: '' }
    },
    resolve: notUsed,
    blockPut: notUsed,
    blockGet: notUsed,
    blockStream: async (blocks) => {
      for await (const b of blocks) stored.push(b.cid.toString())
    }
  }
}

export type Fault = 'down' | 'hang' | 'deny'

/** A value as the other peer reads it (gorpc's msgpack). */
function wire(v: unknown): unknown {
  return goDecode(goEncode(v ?? null))
}

async function* wireAll(args: RpcArgs): AsyncGenerator<unknown> {
  for await (const a of args) yield wire(a)
}

async function hang(o?: RpcCallOptions): Promise<never> {
  const ms = o?.timeoutMs ?? 0
  return new Promise((_, reject) => {
    const t = ms > 0 ? setTimeout(() => reject(new RpcTimeoutError(`no answer within ${ms} ms`)), ms) : undefined
    o?.signal?.addEventListener('abort', () => {
      if (t !== undefined) clearTimeout(t)
      reject(new Error('aborted'))
    })
  })
}

/** Delivers calls to the destination peer's `Rpc`, through msgpack. */
export class Router implements RpcClient {
  readonly peerId: PeerId
  private readonly net: Net
  constructor(peerId: PeerId, net: Net) {
    this.peerId = peerId
    this.net = net
  }
  private target(peer: PeerId): Rpc {
    const fault = this.net.faults.get(peer)
    if (fault === 'down') throw new RpcTransportError(`dial to ${peer} failed`)
    if (fault === 'deny') throw new RpcUnauthorizedError('unauthorized: denied')
    const t = this.net.peers.get(peer)?.rpc
    if (t === undefined) throw new RpcTransportError(`unknown peer ${peer}`)
    return t
  }
  async call(peer: PeerId, service: string, method: string, arg: unknown, o?: RpcCallOptions): Promise<unknown> {
    this.net.calls.push(`${this.peerId}->${peer} ${service}.${method}`)
    if (this.net.faults.get(peer) === 'hang') return hang(o)
    const t = this.target(peer)
    return wire(await t.call(peer, service, method, wire(arg), { signal: o?.signal, timeoutMs: 0 }))
  }
  async *callStream(peer: PeerId, service: string, method: string, args: RpcArgs, o?: RpcCallOptions): AsyncGenerator<unknown> {
    this.net.calls.push(`${this.peerId}->${peer} ${service}.${method}`)
    if (this.net.faults.get(peer) === 'hang') await hang(o)
    const t = this.target(peer)
    for await (const x of t.callStream(peer, service, method, wireAll(args), { signal: o?.signal, timeoutMs: 0 })) yield wire(x)
  }
  async multiCall(peers: PeerId[], service: string, method: string, arg: unknown, o?: RpcCallOptions): Promise<RpcMultiResult[]> {
    return Promise.all(
      peers.map(async (peer): Promise<RpcMultiResult> => {
        try {
          return { peer, ok: true, value: await this.call(peer, service, method, arg, o) }
        } catch (error) {
          return { peer, ok: false, error: error as Error }
        }
      })
    )
  }
}

export interface FakePeer {
  id: PeerId
  ipfs: ReturnType<typeof stubIpfs>
  cluster: Cluster
  consensus: StubConsensus
  tracker: StubTracker
  monitor: StubMonitor
  rpc: Rpc
}

export class Net {
  readonly peers = new Map<PeerId, FakePeer>()
  readonly faults = new Map<PeerId, Fault>()
  readonly calls: string[] = []
  readonly log: LogEntry[] = []

  /**
   * Adds peers sharing `state` (or each its own copy when `copyState`);
   * every peer's peerset is `ids`, every peer has a `freespace` metric of
   * every peer in `metricsOf` (value: 100 - index).
   */
  add(
    ids: PeerId[],
    state: StubState,
    opts: {
      copyState?: boolean
      metricsOf?: PeerId[]
      init?: Partial<ClusterInit>
      swarm?: Record<PeerId, string[]>
      removedPeers?: ClusterComponents['removedPeers']
    } = {}
  ): FakePeer[] {
    const out: FakePeer[] = []
    for (const id of ids) {
      const consensus = new StubConsensus(id, opts.copyState === true ? state.clone() : state, ids, this.log)
      const tracker = new StubTracker(id, consensus)
      const monitor = new StubMonitor()
      ;(opts.metricsOf ?? ids).forEach((p, i) => {
        void monitor.logMetric(metric('freespace', p, String(100 - i)))
        void monitor.logMetric(metric('ping', p, JSON.stringify({ peer_name: `name-${p}`, ipfs_id: ipfsOf(p), ipfs_addresses: [] })))
      })
      const ipfs = stubIpfs(id, opts.swarm?.[id] ?? [])
      const rpc = createRpc({ peerId: id }, { isTrusted: (p) => consensus.isTrustedPeer(p) })
      const cluster = new Cluster(
        {
          peerId: id,
          peerName: `name-${id}`,
          replicationFactorMin: -1,
          replicationFactorMax: -1,
          stateSyncIntervalMs: 3_600_000,
          monitorPingIntervalMs: 3_600_000,
          followerMode: false,
          disableRepinning: false,
          pinOnlyOnTrustedPeers: false,
          rpcTimeoutMs: 200,
          rpcStreamIdleTimeoutMs: 200,
          ...opts.init
        },
        {
          consensus,
          tracker,
          ipfs,
          allocator: new StubAllocator(),
          informers: [],
          monitor,
          rpc: new Router(id, this),
          removedPeers: opts.removedPeers
        }
      )
      registerClusterRpc(rpc, { cluster, tracker, ipfs, monitor, consensus })
      const peer = { id, ipfs, cluster, consensus, tracker, monitor, rpc }
      this.peers.set(id, peer)
      out.push(peer)
    }
    return out
  }
}
