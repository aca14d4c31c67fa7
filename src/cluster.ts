/**
 * The composition root's core: `Cluster` implements the public methods of
 * upstream's `Cluster` (cluster.go) on top of the components it is given,
 * and runs the background loops (informer metrics, ping, state sync).
 * The APIs call it through `ClusterAPI` (src/interfaces.ts).
 *
 * Single-peer today; cluster-wide calls (`status`, `recover`, `peers`,
 * `repoGC` without `local`) go through `components.rpc` once it exists and
 * fall back to this peer alone.
 */
import type { CID } from 'multiformats/cid'
import { allocate } from './allocator/allocate.ts'
import {
  FollowerModeError,
  InvalidArgumentError,
  IPFSError,
  NotFoundError
} from './errors.ts'
import type {
  AbortOptions,
  ClusterAPI,
  Consensus,
  Informer,
  IPFSConnector,
  PeerMonitor,
  PinAllocator,
  PinTracker,
  Startable,
  StateChangeHandler
} from './interfaces.ts'
import { getLogger } from './observability/logging.ts'
import type {
  Alert,
  ConnectGraph,
  GlobalPinInfo,
  GlobalRepoGC,
  ID,
  IPFSID,
  Metric,
  PeerId,
  Pin,
  PinOptions,
  RepoGC,
  TrackerStatus
} from './types/index.ts'
import { pinWithOpts } from './types/index.ts'
import { parseCid, pinInfoToGlobal } from './types/json.ts'
import { COMMIT, RPC_PROTOCOL, VERSION } from './version.ts'

const log = getLogger('cluster')

export interface ClusterInit {
  peerId: PeerId
  peerName: string
  /** default replication factors (-1 = everywhere) */
  replicationFactorMin: number
  replicationFactorMax: number
  /** ms */
  stateSyncIntervalMs: number
  /** ms; the ping metric is sent this often, with a TTL of twice that */
  monitorPingIntervalMs: number
  followerMode: boolean
  disableRepinning: boolean
  pinOnlyOnTrustedPeers: boolean
  /** the cluster swarm's own addresses (with /p2p/<id>), when a host runs */
  addresses?: () => string[]
}

export interface ClusterComponents {
  consensus: Consensus
  tracker: PinTracker
  ipfs: IPFSConnector
  allocator: PinAllocator
  informers: Informer[]
  monitor: PeerMonitor
}

/** Upstream cluster.go `Cluster`, for one peer (multi-peer RPC plugs in next). */
export class Cluster implements ClusterAPI, Startable {
  private readonly init: ClusterInit
  private readonly c: ClusterComponents
  private controller: AbortController | undefined
  private timers: ReturnType<typeof setInterval>[] = []
  private ipfsId: IPFSID = { id: '', addresses: [], error: 'not yet contacted' }
  private started = false

  constructor(init: ClusterInit, components: ClusterComponents) {
    this.init = init
    this.c = components
  }

  /** The consensus reports every change of the local state here. */
  readonly onStateChange: StateChangeHandler = (change) => {
    if (change.op === 'pin') {
      this.c.tracker.track(change.pin).catch((err: unknown) => log.error(`tracking ${change.pin.cid}: ${(err as Error).message}`))
    } else {
      this.c.tracker.untrack(change.pin.cid).catch((err: unknown) => log.error(`untracking ${change.pin.cid}: ${(err as Error).message}`))
    }
  }

  /**
   * Starts the background loops. The components themselves are started and
   * stopped by the daemon (src/daemon.ts) in upstream's order.
   */
  async start(): Promise<void> {
    if (this.started) return
    this.started = true
    this.controller = new AbortController()
    await this.refreshIpfsId()
    this.sendPing().catch((err: unknown) => log.debug(`ping: ${(err as Error).message}`))
    for (const inf of this.c.informers) {
      this.pushInformer(inf).catch((err: unknown) => log.debug(`informer ${inf.name()}: ${(err as Error).message}`))
    }
    this.every(this.init.monitorPingIntervalMs, () => this.sendPing())
    this.every(Math.max(1000, Math.floor(this.informerTtlMs() / 2)), async () => {
      for (const inf of this.c.informers) await this.pushInformer(inf)
    })
    this.every(this.init.stateSyncIntervalMs, () => this.stateSync())
    this.every(30_000, () => this.refreshIpfsId())
  }

  async stop(): Promise<void> {
    if (!this.started) return
    this.started = false
    this.controller?.abort()
    for (const t of this.timers) clearInterval(t)
    this.timers = []
  }

  private informerTtlMs(): number {
    return 30_000
  }

  private every(ms: number, fn: () => Promise<void>): void {
    if (!(ms > 0)) return
    let running = false
    const t = setInterval(() => {
      if (running || this.controller?.signal.aborted === true) return
      running = true
      fn()
        .catch((err: unknown) => log.debug((err as Error).message))
        .finally(() => {
          running = false
        })
    }, ms)
    this.timers.push(t)
  }

  private async refreshIpfsId(): Promise<void> {
    try {
      const id = await this.c.ipfs.id({ signal: AbortSignal.timeout(10_000) })
      if (this.ipfsId.error !== '' && this.ipfsId.id !== '') log.info(`IPFS daemon is reachable again: ${id.id}`)
      this.ipfsId = id
    } catch (err) {
      const msg = (err as Error).message
      if (this.ipfsId.error === '') log.error(`the IPFS daemon is not reachable: ${msg}`)
      this.ipfsId = { id: this.ipfsId.id, addresses: this.ipfsId.addresses, error: msg }
    }
  }

  private async sendPing(): Promise<void> {
    const now = Date.now()
    const m: Metric = {
      name: 'ping',
      peer: this.init.peerId,
      value: JSON.stringify({
        peer_name: this.init.peerName,
        ipfs_id: this.ipfsId.id,
        ipfs_addresses: this.ipfsId.addresses
      }),
      expire: (now + 2 * this.init.monitorPingIntervalMs) * 1e6,
      valid: true,
      weight: 0,
      partitionable: false,
      receivedAt: now * 1e6
    }
    await this.c.monitor.publishMetric(m)
  }

  private async pushInformer(inf: Informer): Promise<void> {
    const metrics = await inf.getMetrics({ signal: this.controller?.signal })
    for (const m of metrics) await this.c.monitor.publishMetric(m)
  }

  /** Upstream StateSync: unpins expired pins (this peer decides, alone). */
  private async stateSync(): Promise<void> {
    if (this.init.followerMode) return
    const state = await this.c.consensus.state()
    const now = Date.now()
    const expired: Pin[] = []
    for await (const pin of state.list({ signal: this.controller?.signal })) {
      if (pin.expireAt !== null && pin.expireAt.getTime() <= now) expired.push(pin)
      if (expired.length >= 1000) break
    }
    for (const pin of expired) {
      log.info(`unpinning ${pin.cid}: expired at ${pin.expireAt?.toISOString()}`)
      await this.c.consensus.logUnpin(pin)
    }
  }

  // ---- ClusterAPI ----

  version(): string {
    return VERSION
  }

  async id(_options?: AbortOptions): Promise<ID> {
    await this.refreshIpfsId()
    const peers = await this.c.consensus.peers().catch(() => [this.init.peerId])
    return {
      id: this.init.peerId,
      addresses: this.init.addresses?.() ?? [],
      clusterPeers: peers,
      clusterPeersAddresses: [],
      version: VERSION,
      commit: COMMIT,
      rpcProtocolVersion: RPC_PROTOCOL,
      error: '',
      ipfs: this.ipfsId,
      peername: this.init.peerName
    }
  }

  async *peers(options?: AbortOptions): AsyncGenerator<ID> {
    yield await this.id(options)
  }

  async peerAdd(_peer: PeerId, _options?: AbortOptions): Promise<ID> {
    throw new InvalidArgumentError('adding peers by ID needs the cluster swarm: start the peer with --bootstrap')
  }

  async peerRemove(peer: PeerId, _options?: AbortOptions): Promise<void> {
    if (peer === this.init.peerId) throw new InvalidArgumentError('a peer cannot remove itself in crdt mode; stop it instead')
    throw new NotFoundError(`peer ${peer} is not part of the cluster`)
  }

  private checkFollower(): void {
    if (this.init.followerMode) throw new FollowerModeError()
  }

  async pin(cid: CID, opts: PinOptions, options?: AbortOptions): Promise<Pin> {
    this.checkFollower()
    if (opts.pinUpdate !== null) return this.pinUpdate(opts.pinUpdate, cid, opts, options)
    const pin = pinWithOpts(cid, opts)
    return this.commitPin(pin, options)
  }

  /** Upstream `Cluster.pin` steps 3-8. */
  private async commitPin(pin: Pin, options?: AbortOptions): Promise<Pin> {
    if (pin.replicationFactorMin === 0) pin.replicationFactorMin = this.init.replicationFactorMin
    if (pin.replicationFactorMax === 0) pin.replicationFactorMax = this.init.replicationFactorMax
    validateReplication(pin)
    if (pin.expireAt !== null && pin.expireAt.getTime() <= Date.now()) {
      throw new InvalidArgumentError('pin.ExpireAt set in the past')
    }
    const state = await this.c.consensus.state(options)
    let existing: Pin | undefined
    try {
      existing = await state.get(pin.cid, options)
    } catch (err) {
      if ((err as Error).name !== 'NotFoundError') throw err
    }
    if (existing !== undefined) {
      if (existing.type !== pin.type) {
        throw new InvalidArgumentError(`cannot repin ${pin.cid} as ${pin.type}: it is already pinned as ${existing.type}`)
      }
      if (existing.mode === 'recursive' && pin.mode === 'direct') {
        throw new InvalidArgumentError(`cannot repin ${pin.cid} as direct: it is already pinned recursively`)
      }
    }
    pin.timestamp = new Date()
    pin.allocations = await this.allocate(pin, existing, options)
    if (existing !== undefined && samePin(existing, pin)) {
      log.info(`pin ${pin.cid} already exists with the same options and allocations`)
      return existing
    }
    await this.c.consensus.logPin(pin, options)
    return pin
  }

  private async allocate(pin: Pin, existing: Pin | undefined, options?: AbortOptions): Promise<PeerId[]> {
    if (pin.replicationFactorMin === -1 && pin.replicationFactorMax === -1) return []
    const names = this.c.allocator.metrics()
    const byName = new Map<string, Metric[]>()
    for (const n of names) byName.set(n, await this.c.monitor.latestMetrics(n, options))
    return allocate({
      cid: pin.cid,
      currentAllocations: existing?.allocations ?? [],
      rplMin: pin.replicationFactorMin,
      rplMax: pin.replicationFactorMax,
      blacklist: [],
      priorityList: pin.userAllocations,
      metrics: (name: string) => byName.get(name) ?? [],
      allocator: this.c.allocator,
      isTrusted: (p: PeerId) => this.c.consensus.isTrustedPeer(p),
      pinOnlyOnTrustedPeers: this.init.pinOnlyOnTrustedPeers
    })
  }

  /** Upstream PinUpdate: the new pin copies the old one's options and allocations. */
  private async pinUpdate(from: CID, to: CID, opts: PinOptions, options?: AbortOptions): Promise<Pin> {
    const state = await this.c.consensus.state(options)
    let old: Pin
    try {
      old = await state.get(from, options)
    } catch (err) {
      if ((err as Error).name === 'NotFoundError') throw new NotFoundError(`pin-update: ${from} is not part of the pinset`)
      throw err
    }
    if (old.type !== 'pin') throw new InvalidArgumentError('pin-update: only data pins can be updated')
    const pin: Pin = {
      ...old,
      cid: to,
      pinUpdate: from,
      name: opts.name !== '' ? opts.name : old.name,
      expireAt: opts.expireAt ?? old.expireAt,
      metadata: Object.keys(opts.metadata).length > 0 ? opts.metadata : old.metadata,
      timestamp: new Date()
    }
    if (pin.expireAt !== null && pin.expireAt.getTime() <= Date.now()) {
      throw new InvalidArgumentError('pin.ExpireAt set in the past')
    }
    await this.c.consensus.logPin(pin, options)
    return pin
  }

  async pinPath(path: string, opts: PinOptions, options?: AbortOptions): Promise<Pin> {
    this.checkFollower()
    const cid = await this.resolvePath(path, options)
    return this.pin(cid, opts, options)
  }

  private async resolvePath(path: string, options?: AbortOptions): Promise<CID> {
    const m = /^\/ipfs\/([^/]+)\/?$/.exec(path)
    if (m !== null) return parseCid(m[1], 'path')
    if (!/^\/(ipfs|ipns|ipld)\/[^/]+/.test(path)) {
      throw new InvalidArgumentError(`invalid path "${path}": expected /ipfs/<cid>[/path], /ipns/<name>[/path] or /ipld/<cid>[/path]`)
    }
    try {
      return await this.c.ipfs.resolve(path, options)
    } catch (err) {
      if (err instanceof IPFSError) throw new InvalidArgumentError(`error resolving ${path}: ${err.message}`)
      throw err
    }
  }

  async unpin(cid: CID, options?: AbortOptions): Promise<Pin> {
    this.checkFollower()
    const state = await this.c.consensus.state(options)
    let pin: Pin
    try {
      pin = await state.get(cid, options)
    } catch (err) {
      if ((err as Error).name === 'NotFoundError') throw new NotFoundError(`${cid} is not pinned in the cluster`)
      throw err
    }
    if (pin.type === 'shard-pin' || pin.type === 'clusterdag-pin') {
      throw new InvalidArgumentError(`cannot unpin ${pin.type} ${cid} directly: unpin its meta-pin`)
    }
    await this.c.consensus.logUnpin(pin, options)
    return pin
  }

  async unpinPath(path: string, options?: AbortOptions): Promise<Pin> {
    this.checkFollower()
    const cid = await this.resolvePath(path, options)
    return this.unpin(cid, options)
  }

  async *pins(options?: AbortOptions): AsyncGenerator<Pin> {
    const state = await this.c.consensus.state(options)
    yield* state.list(options)
  }

  async pinGet(cid: CID, options?: AbortOptions): Promise<Pin> {
    const state = await this.c.consensus.state(options)
    try {
      return await state.get(cid, options)
    } catch (err) {
      if ((err as Error).name === 'NotFoundError') throw new NotFoundError(`${cid} is not pinned in the cluster`)
      throw err
    }
  }

  async status(cid: CID, _local: boolean, options?: AbortOptions): Promise<GlobalPinInfo> {
    return pinInfoToGlobal(await this.c.tracker.status(cid, options))
  }

  async *statusAll(filter: Set<TrackerStatus>, _local: boolean, options?: AbortOptions): AsyncGenerator<GlobalPinInfo> {
    for await (const pi of this.c.tracker.statusAll(filter, options)) yield pinInfoToGlobal(pi)
  }

  async *statusCids(cids: CID[], local: boolean, options?: AbortOptions): AsyncGenerator<GlobalPinInfo> {
    for (const cid of cids) yield await this.status(cid, local, options)
  }

  async recover(cid: CID, _local: boolean, options?: AbortOptions): Promise<GlobalPinInfo> {
    return pinInfoToGlobal(await this.c.tracker.recover(cid, options))
  }

  async *recoverAll(_local: boolean, options?: AbortOptions): AsyncGenerator<GlobalPinInfo> {
    for await (const pi of this.c.tracker.recoverAll(options)) yield pinInfoToGlobal(pi)
  }

  async repoGCLocal(options?: AbortOptions): Promise<RepoGC> {
    const out: RepoGC = { peer: this.init.peerId, peername: this.init.peerName, keys: [], error: '' }
    try {
      for await (const k of this.c.ipfs.repoGC(options)) out.keys.push(k)
    } catch (err) {
      out.error = (err as Error).message
    }
    return out
  }

  async repoGC(_local: boolean, options?: AbortOptions): Promise<GlobalRepoGC> {
    const r = await this.repoGCLocal(options)
    return { peerMap: { [this.init.peerId]: r } }
  }

  alerts(): Alert[] {
    return this.c.monitor.alerts()
  }

  metricNames(): string[] {
    return this.c.monitor.metricNames()
  }

  async metrics(name: string, options?: AbortOptions): Promise<Metric[]> {
    return this.c.monitor.latestMetrics(name, options)
  }

  async connectGraph(options?: AbortOptions): Promise<ConnectGraph> {
    const self = this.init.peerId
    const ipfsPeers = await this.c.ipfs.swarmPeers(options).catch(() => [])
    return {
      clusterId: self,
      idToPeername: { [self]: this.init.peerName },
      ipfsLinks: this.ipfsId.id !== '' ? { [this.ipfsId.id]: ipfsPeers } : {},
      clusterLinks: { [self]: [] },
      clusterTrustLinks: { [self]: this.c.consensus.isTrustedPeer(self) },
      clusterToIpfs: this.ipfsId.id !== '' ? { [self]: this.ipfsId.id } : {}
    }
  }

  bandwidthByProtocol(): Record<string, { total_in: number; total_out: number; rate_in: number; rate_out: number }> {
    return {}
  }
}

/** Upstream PinOptions validation of replication factors. */
function validateReplication(p: Pin): void {
  const { replicationFactorMin: min, replicationFactorMax: max } = p
  if (!Number.isInteger(min) || !Number.isInteger(max)) throw new InvalidArgumentError('replication factors must be integers')
  if (min < -1 || max < -1) throw new InvalidArgumentError('replication factors must be -1 or greater')
  if (max !== -1 && min === -1) throw new InvalidArgumentError('replication_factor_min is -1 but replication_factor_max is not')
  if (max !== -1 && min > max) throw new InvalidArgumentError('replication_factor_min is greater than replication_factor_max')
  if (min === -1 && max !== -1) throw new InvalidArgumentError('replication_factor_max must be -1 when replication_factor_min is -1')
}

function samePin(a: Pin, b: Pin): boolean {
  return (
    a.type === b.type &&
    a.mode === b.mode &&
    a.name === b.name &&
    a.replicationFactorMin === b.replicationFactorMin &&
    a.replicationFactorMax === b.replicationFactorMax &&
    (a.expireAt?.getTime() ?? 0) === (b.expireAt?.getTime() ?? 0) &&
    JSON.stringify(a.metadata) === JSON.stringify(b.metadata) &&
    a.allocations.length === b.allocations.length &&
    a.allocations.every((p, i) => p === b.allocations[i]) &&
    a.origins.join(',') === b.origins.join(',')
  )
}
