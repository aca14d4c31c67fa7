/**
 * The composition root's core: `Cluster` implements the public methods of
 * upstream's `Cluster` (cluster.go) on top of the components it is given,
 * and runs the background loops (informer metrics, ping, state sync).
 * The APIs call it through `ClusterAPI` (src/interfaces.ts).
 *
 * Multi-peer behaviour needs `components.rpc` (src/rpc/): without it every
 * cluster-wide call (`status`, `recover`, `peers`, `repoGC`, `connectGraph`
 * without `local`) answers for this peer alone, as before. With it:
 * - `peers()` asks `Cluster.ID` of every peer of the peerset (15 s); a peer
 *   that does not answer is listed with `error` set (upstream `peersWithFilter`).
 * - `status`/`recover` ask the allocated peers (`PinTracker.Status/Recover`,
 *   15 s) and mark the others `remote`; a peer that fails gets a
 *   `cluster_error` entry (upstream `globalPinInfoCid`).
 * - `statusAll`/`recoverAll` merge one stream per peer (see
 *   `globalPinInfoStream` for the memory bound).
 * - `repoGC` and `connectGraph` fan out as upstream.
 * - `peerRemove` re-allocates only the pins allocated to the removed peer,
 *   distrusts it, tells the other peers, and ignores its metrics from then on
 *   (upstream crdt refuses `RmPeer` after re-allocating: issue #842).
 * - a `ping` alert makes the trusted peer closest (XOR) to each CID of the
 *   dead peer re-allocate it (upstream `alertsHandler`/`repinFromPeer`);
 *   expired pins are unpinned only by their closest peer (`StateSync`).
 */
import { CID } from 'multiformats/cid'
import { allocate } from './allocator/allocate.ts'
import { DistanceChecker } from './allocator/util.ts'
import { errorMessage, errorName, FollowerModeError, InvalidArgumentError, IPFSError, NotFoundError } from './errors.ts'
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
import { isAuthorizationError } from './rpc/errors.ts'
import type { RpcClient } from './rpc/rpc.ts'
import { type ClusterRpcClient, clusterRpcClient } from './rpc/services.ts'
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
  PinInfo,
  PinInfoShort,
  PinOptions,
  RepoGC,
  TrackerStatus
} from './types/index.ts'
import { pinWithOpts } from './types/index.ts'
import { cidString } from './types/cidstring.ts'
import { pagesOf } from './types/pages.ts'
import { parseCid, pinInfoToGlobal } from './types/json.ts'
import { COMMIT, RPC_PROTOCOL, VERSION } from './version.ts'

const log = getLogger('cluster')

/** Unpins of remote pins that may wait before the consensus stops merging (see `onStateChange`). */
const REMOTE_BACKLOG_LIMIT = 20_000

/** How long `join` waits for the bootstrap peer's `Cluster.PeerAdd` answer (ms). */
const JOIN_PEER_ADD_TIMEOUT_MS = 45_000

/** The CID given to the allocator by `blockAllocate` (the add's CID is not known yet): identity CID of nothing. */
const BLOCK_ALLOCATE_CID = CID.parse('bafkqaaa')

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
  /** ms between informer metric pushes; upstream: the informers' metric TTL / 2 (default 15 s) */
  informerIntervalMs?: number
  /**
   * The known addresses (with /p2p/<id>) of these peers, for
   * `id().clusterPeersAddresses`, e.g. `peerStoreAddresses(host.libp2p)`
   * (src/rpc/peers.ts).
   */
  peerAddresses?: (peers: PeerId[], options?: AbortOptions) => Promise<string[]>
  /**
   * ms between two rounds of the peer watch (`peer_watch_interval`): every
   * member of the peerset without an open connection is dialed (by peer ID),
   * so that losing the peer the others bootstrapped from never splits them.
   * 0 or unset: no peer watch.
   */
  peerWatchIntervalMs?: number
  /**
   * ms before re-pinning a dead peer's pins again when some could not be
   * re-allocated (doubling each time, at most 1 min); default the ping
   * interval (at least 1 s).
   */
  repinRetryIntervalMs?: number
  /**
   * `leave_on_shutdown` / `daemon --leave`: on stop, try to leave the
   * peerset. Upstream's crdt consensus cannot remove peers: it logs the
   * attempt and the refusal, and so does this (use `peers rm` from another
   * peer to remove one).
   */
  leaveOnShutdown?: boolean
  /** ms a peer has to answer a cluster-wide unary call (`status`, `recover`, `peers`, …); upstream 15 s */
  rpcTimeoutMs?: number
  /**
   * ms a peer may stay silent in a cluster-wide stream (`statusAll`,
   * `recoverAll`) before it gets `cluster_error`; default 60 s (upstream has
   * none: a listing of a big pinset starts only after kubo's `pin/ls`).
   */
  rpcStreamIdleTimeoutMs?: number
}

/** The part of the cluster's libp2p host (src/host/) the Cluster uses to join and keep its peers connected. */
export interface ClusterSwarm {
  /** Dials the addresses; resolves with the peer ID of the first that connects. @throws BootstrapError */
  bootstrap(addrs: string[], options?: AbortOptions): Promise<PeerId>
  /** Dials a multiaddr or a peer ID; @returns the remote peer ID. */
  connect(addr: string, options?: AbortOptions): Promise<PeerId>
  /** Peer IDs with an open connection. */
  connectedPeers(): PeerId[]
  /** libp2p bytes in/out per protocol (host/bandwidth.ts); absent = `{}`. */
  bandwidthByProtocol?(): Record<string, { total_in: number; total_out: number; rate_in: number; rate_out: number }>
}

export interface ClusterComponents {
  consensus: Consensus
  /** the cluster swarm (needed by `bootstrap` and the peer watch) */
  swarm?: ClusterSwarm
  tracker: PinTracker
  ipfs: IPFSConnector
  allocator: PinAllocator
  informers: Informer[]
  monitor: PeerMonitor
  /** peer-to-peer RPC (src/rpc/); without it the cluster calls answer for this peer only */
  rpc?: RpcClient
  /**
   * The peerset, when the consensus given cannot tell it (test stubs).
   * Default: `consensus.peers()` (crdt: the peers of `peerset_metric`).
   * Removed peers are dropped by the Cluster either way.
   */
  peerset?: (options?: AbortOptions) => Promise<PeerId[]>
  /**
   * Where the peers removed with `peerRemove` are kept across restarts
   * (upstream forgets them; a removed crdt peer came back after a restart).
   */
  removedPeers?: {
    load(options?: AbortOptions): Promise<PeerId[]>
    save(peers: PeerId[], options?: AbortOptions): Promise<void>
  }
}

/** A monitor that can forget a peer's metrics (pubsubmon `removePeer`). */
interface ForgettingMonitor {
  removePeer?: (peer: PeerId) => void
}

/** The `ping` metric's value (upstream `pingValue`). */
interface PingValue {
  peerName: string
  ipfsId: string
  ipfsAddresses: string[]
}

function pingValue(m: Metric | undefined): PingValue {
  if (m === undefined) return { peerName: '', ipfsId: '', ipfsAddresses: [] }
  try {
    const v = JSON.parse(m.value) as { peer_name?: unknown; ipfs_id?: unknown; ipfs_addresses?: unknown }
    return {
      peerName: typeof v.peer_name === 'string' ? v.peer_name : '',
      ipfsId: typeof v.ipfs_id === 'string' ? v.ipfs_id : '',
      ipfsAddresses: Array.isArray(v.ipfs_addresses) ? v.ipfs_addresses.filter((a): a is string => typeof a === 'string') : []
    }
  } catch {
    return { peerName: '', ipfsId: '', ipfsAddresses: [] }
  }
}

/** `signal` (when given) or `ms` elapsed, whichever aborts first. */
function withTimeout(signal: AbortSignal | undefined, ms: number): AbortSignal {
  return signal !== undefined ? AbortSignal.any([signal, AbortSignal.timeout(ms)]) : AbortSignal.timeout(ms)
}

/** Upstream cluster.go `Cluster`. */
export class Cluster implements ClusterAPI, Startable {
  private readonly init: ClusterInit
  private readonly c: ClusterComponents
  private readonly client: ClusterRpcClient | undefined
  private controller: AbortController | undefined
  private timers: ReturnType<typeof setInterval>[] = []
  private ipfsId: IPFSID = { id: '', addresses: [], error: 'not yet contacted' }
  private started = false
  /** peers removed with `peerRemove` (here or on a trusted peer): out of the peerset and of allocations. */
  private readonly removed = new Set<PeerId>()
  private unsubscribeAlerts: (() => void) | undefined
  /** alert handling runs one at a time, in order */
  private alertChain: Promise<void> = Promise.resolve()
  private readonly alertsQueued = new Set<PeerId>()
  /** pending re-pinning retries, by dead peer */
  private readonly repinRetries = new Map<PeerId, ReturnType<typeof setTimeout>>()

  constructor(init: ClusterInit, components: ClusterComponents) {
    this.init = init
    this.c = components
    this.client = components.rpc !== undefined ? clusterRpcClient(components.rpc) : undefined
    // every change of the shared pinset reaches the pin tracker (upstream:
    // the consensus calls PinTracker.Track/Untrack through RPC)
    components.consensus.setOnChange(this.onStateChange)
  }

  private get rpcTimeoutMs(): number {
    return this.init.rpcTimeoutMs ?? 15_000
  }

  private get streamIdleTimeoutMs(): number {
    return this.init.rpcStreamIdleTimeoutMs ?? 60_000
  }

  /** Whether `peer` was removed (its metrics are ignored, it is out of the peerset). */
  isRemovedPeer(peer: PeerId): boolean {
    return this.removed.has(peer)
  }

  /** The consensus reports every change of the local state here. */
  readonly onStateChange: StateChangeHandler = (change) => {
    if (change.op === 'pin') {
      this.c.tracker.track(change.pin).catch((err: unknown) => log.error(`tracking ${change.pin.cid}: ${errorMessage(err)}`))
      // a joining peer's merge waits while many unpins of remote pins wait (their memory)
      return this.c.tracker.remoteBacklog?.(REMOTE_BACKLOG_LIMIT)
    }
    this.c.tracker.untrack(change.pin.cid).catch((err: unknown) => log.error(`untracking ${change.pin.cid}: ${errorMessage(err)}`))
    return undefined
  }

  /**
   * Starts the background loops. The components themselves are started and
   * stopped by the daemon (src/daemon.ts) in upstream's order.
   */
  async start(): Promise<void> {
    if (this.started) return
    this.started = true
    this.controller = new AbortController()
    for (const p of (await this.c.removedPeers?.load()) ?? []) {
      if (p === this.init.peerId) continue
      this.removed.add(p)
      await this.c.consensus.distrust(p)
    }
    await this.refreshIpfsId()
    this.sendPing().catch((err: unknown) => log.debug(`ping: ${errorMessage(err)}`))
    for (const inf of this.c.informers) {
      this.pushInformer(inf).catch((err: unknown) => log.debug(`informer ${inf.name()}: ${errorMessage(err)}`))
    }
    this.every(this.init.monitorPingIntervalMs, () => this.sendPing())
    this.every(Math.max(1000, Math.floor(this.informerTtlMs() / 2)), async () => {
      for (const inf of this.c.informers) await this.pushInformer(inf)
    })
    this.every(this.init.stateSyncIntervalMs, () => this.stateSync())
    this.every(30_000, () => this.refreshIpfsId())
    if (this.c.swarm !== undefined && (this.init.peerWatchIntervalMs ?? 0) > 0) {
      this.every(Math.max(1_000, this.init.peerWatchIntervalMs!), () => this.watchPeers())
    }
    this.unsubscribeAlerts = this.c.monitor.onAlert((a) => this.onAlert(a))
  }

  /**
   * One round of the peer watch: dials (by peer ID: addresses from the peer
   * store or the DHT, bounded by the dial timeout and 5 s) every member of
   * the peerset this host has no connection to. Failures are logged at debug
   * with the peer: an unreachable peer is retried on the next round.
   */
  private async watchPeers(): Promise<void> {
    const swarm = this.c.swarm
    if (swarm === undefined) return
    const signal = this.controller?.signal
    const connected = new Set(swarm.connectedPeers())
    for (const p of await this.members({ signal })) {
      if (p === this.init.peerId || connected.has(p) || signal?.aborted === true) continue
      await swarm.connect(p, { signal: withTimeout(signal, 5_000) }).catch((err: unknown) => log.debug(`peer watch: reconnecting to ${p}: ${errorMessage(err)}`))
    }
  }

  /**
   * `daemon --bootstrap` (upstream daemon.go + `Join`): dials the addresses,
   * joins the cluster of the first peer that answers (`join`), then connects
   * to every cluster peer that peer knows (upstream imports them into the
   * peerstore and connects), so that peers which joined through the same
   * peer do not hear each other only through it. Unless `trust` is false
   * (`--no-trust`), the bootstrap peers become trusted peers. A failure is
   * logged; the peer runs on alone and the peer watch may still connect it.
   * @returns the peer joined, or undefined when none could be joined
   */
  async bootstrap(addrs: string[], opts: { trust?: boolean } & AbortOptions = {}): Promise<PeerId | undefined> {
    const swarm = this.c.swarm
    if (swarm === undefined) throw new InvalidArgumentError('bootstrapping needs the cluster swarm')
    let joined: PeerId | undefined
    try {
      joined = await swarm.bootstrap(addrs, opts)
      await this.join(joined, opts)
      log.info(`joined the cluster through ${joined}`)
      const theirs = await this.client?.id(joined, { signal: opts.signal, timeoutMs: 10_000 }).catch(() => undefined)
      const others = (theirs?.clusterPeersAddresses ?? []).filter((a) => !a.endsWith(`/p2p/${this.init.peerId}`))
      await Promise.all(
        others.map((a) =>
          swarm.connect(a, { signal: withTimeout(opts.signal, 10_000) }).catch((err: unknown) => log.debug(`connecting to ${a}: ${errorMessage(err)}`))
        )
      )
      if (others.length > 0) log.info(`connected to ${swarm.connectedPeers().length} cluster peers`)
    } catch (err) {
      log.error(`bootstrap failed: ${errorMessage(err)}`)
    }
    if (opts.trust !== false) {
      for (const a of addrs) {
        const m = /\/p2p\/([^/]+)$/.exec(a)
        if (m !== null) await this.c.consensus.trust(m[1]!)
      }
    }
    return joined
  }

  async stop(): Promise<void> {
    if (!this.started) return
    this.started = false
    if (this.init.leaveOnShutdown === true && !this.init.followerMode) {
      log.warn('attempting to leave the cluster. This may take some seconds')
      const rm = this.c.consensus.rmPeer?.bind(this.c.consensus)
      if (rm === undefined) log.error('leaving cluster: crdt consensus component cannot remove peers')
      else await rm(this.init.peerId).catch((err: unknown) => log.error(`leaving cluster: ${errorMessage(err)}`))
    }
    this.unsubscribeAlerts?.()
    this.unsubscribeAlerts = undefined
    this.controller?.abort()
    for (const t of this.timers) clearInterval(t)
    this.timers = []
    for (const t of this.repinRetries.values()) clearTimeout(t)
    this.repinRetries.clear()
    await this.alertChain
  }

  /**
   * Upstream `alertsHandler`: on a `ping` alert (a peer stopped pinging),
   * unless in follower mode or with `disable_repinning`, re-allocates the
   * pins allocated to that peer for which this peer is the closest trusted
   * peer. Alerts are handled one at a time; a peer already queued is not
   * queued twice.
   */
  private onAlert(a: Alert): void {
    if (this.init.followerMode) return
    log.warn(`metric alert for ${a.name}: Peer: ${a.peer}.`)
    if (a.name !== 'ping' || this.removed.has(a.peer)) return
    if (this.init.disableRepinning) {
      log.debug('repinning is disabled. Will not re-allocate pins on alerts')
      return
    }
    if (this.alertsQueued.has(a.peer)) return
    this.alertsQueued.add(a.peer)
    this.alertChain = this.alertChain
      .then(async () => {
        this.alertsQueued.delete(a.peer)
        await this.repinUntilDone(a.peer, 0)
      })
      .catch((err: unknown) => log.warn(`re-allocating pins of ${a.peer}: ${errorMessage(err)}`))
  }

  /** The pins allocated to `dead` that this peer is closest to get re-allocated without it. Returns how many were re-pinned. */
  async repinFromDeadPeer(dead: PeerId, options?: AbortOptions): Promise<number> {
    return (await this.repinRound(dead, options)).moved
  }

  /**
   * One re-pinning round for `dead`: `moved` pins got new allocations,
   * `failed` could not be re-allocated (not enough peers with metrics, a
   * commit error) and are worth another round while `dead` stays down.
   */
  private async repinRound(dead: PeerId, options?: AbortOptions): Promise<{ moved: number; failed: number }> {
    const signal = options?.signal ?? this.controller?.signal
    const state = await this.c.consensus.state({ signal })
    const checker = new DistanceChecker(this.init.peerId, await this.trustedPeers(dead, { signal }))
    // Only the pins this peer decides (about 1/n of the dead peer's) are held.
    const mine: Pin[] = []
    for await (const pin of state.list({ signal })) {
      if (pin.allocations.includes(dead) && checker.isClosest(pin.cid)) mine.push(pin)
    }
    let moved = 0
    let failed = 0
    for (const pin of mine) {
      signal?.throwIfAborted()
      const r = await this.repinFromPeer(dead, pin, { signal })
      if (r === 'moved') moved++
      else if (r === 'failed') failed++
    }
    return { moved, failed }
  }

  /**
   * Re-pins `dead`'s pins; when some could not be re-allocated, tries again
   * after `repinRetryIntervalMs` (doubling, at most 1 min) for as long as
   * `dead` stays out of the peerset and is not removed. Upstream decides
   * once per alert, so a decision made while metrics were missing was never
   * made again.
   */
  private async repinUntilDone(dead: PeerId, attempt: number): Promise<void> {
    this.clearRepinRetry(dead)
    const { failed } = await this.repinRound(dead)
    if (failed === 0 || !this.started) return
    const base = this.init.repinRetryIntervalMs ?? Math.max(1_000, this.init.monitorPingIntervalMs)
    const delay = Math.min(60_000, base * 2 ** Math.min(attempt, 6))
    log.warn(`could not re-allocate ${failed} pins of ${dead}: retrying in ${delay} ms while it stays down`)
    const timer = setTimeout(() => {
      this.repinRetries.delete(dead)
      if (!this.started || this.removed.has(dead) || this.alertsQueued.has(dead)) return
      this.alertChain = this.alertChain
        .then(async () => {
          if ((await this.members()).includes(dead)) {
            log.info(`${dead} is back: no more re-pinning of its pins`)
            return
          }
          await this.repinUntilDone(dead, attempt + 1)
        })
        .catch((err: unknown) => log.warn(`re-allocating pins of ${dead}: ${errorMessage(err)}`))
    }, delay)
    this.repinRetries.set(dead, timer)
  }

  private clearRepinRetry(peer: PeerId): void {
    const t = this.repinRetries.get(peer)
    if (t !== undefined) clearTimeout(t)
    this.repinRetries.delete(peer)
  }

  /** Upstream `repinFromPeer`: pins again with `peer` blacklisted. */
  private async repinFromPeer(peer: PeerId, pin: Pin, options?: AbortOptions): Promise<'moved' | 'unchanged' | 'failed'> {
    log.debug(`repinning ${pin.cid} from peer ${peer}`)
    try {
      const before = pin.allocations.join(',')
      // a re-allocation keeps the pin's timestamp: that is how a peer tells it
      // from a user's new pin when an unpin was concurrent with it
      // (src/consensus/crdt/stale.ts; upstream sets a new timestamp)
      const out = await this.commitPin({ ...pin, allocations: [] }, options, [peer], true)
      if (out.allocations.join(',') === before) return 'unchanged'
      log.info(`repinned ${pin.cid} out of ${peer}`)
      return 'moved'
    } catch (err) {
      log.warn(`repinning ${pin.cid} out of ${peer}: ${errorMessage(err)}`)
      return 'failed'
    }
  }

  /** Upstream `getTrustedPeers`: trusted peers of the peerset, minus this peer and `exclude`. */
  private async trustedPeers(exclude: PeerId | undefined, options?: AbortOptions): Promise<PeerId[]> {
    const members = await this.members(options)
    return members.filter((p) => p !== this.init.peerId && p !== exclude && this.c.consensus.isTrustedPeer(p))
  }

  /** The peerset minus removed peers (follower mode: this peer only). */
  private async members(options?: AbortOptions): Promise<PeerId[]> {
    if (this.init.followerMode) return [this.init.peerId]
    const peers = await (this.c.peerset ?? ((o?: AbortOptions) => this.c.consensus.peers(o)))(options)
    return peers.filter((p) => !this.removed.has(p))
  }

  /**
   * Upstream `Join` (the daemon has already put the bootstrap peer's
   * addresses in the host's peer store, and trusts it unless `--no-trust`):
   * asks `peer` to add this one (`Cluster.PeerAdd`, open), records a ping
   * for it so it is in the peerset at once, pushes this peer's ping and
   * informer metrics, and starts a local `recoverAll` in the background.
   * @returns this peer's ID as the bootstrap peer sees it (upstream `myID`)
   * @throws the RPC error when the bootstrap peer does not answer
   */
  async join(peer: PeerId, options?: AbortOptions): Promise<ID> {
    const client = this.client
    if (client === undefined) throw new InvalidArgumentError('joining a cluster needs the cluster swarm')
    if (peer === this.init.peerId) return this.id(options)
    const o = { signal: options?.signal, timeoutMs: this.rpcTimeoutMs }
    // upstream's Join waits for PeerAdd without a deadline of its own: under
    // raft the bootstrap peer answers once the new voter's config entry is
    // committed, which needs this peer's raft to catch up first; a loaded
    // machine took longer than the 15 s RPC timeout (a CI failure of
    // test/e2e/raft.test.ts), so the join waits up to JOIN_PEER_ADD_TIMEOUT_MS
    const mine = await client.peerAdd(peer, this.init.peerId, { ...o, timeoutMs: Math.max(this.rpcTimeoutMs, JOIN_PEER_ADD_TIMEOUT_MS) })
    const theirs = await client.id(peer, o).catch(() => undefined)
    const now = Date.now()
    await this.c.monitor
      .logMetric({
        name: 'ping',
        peer,
        value: JSON.stringify({ peer_name: theirs?.peername ?? '', ipfs_id: theirs?.ipfs.id ?? '', ipfs_addresses: theirs?.ipfs.addresses ?? [] }),
        expire: (now + 2 * this.init.monitorPingIntervalMs) * 1e6,
        valid: true,
        weight: 0,
        partitionable: false,
        receivedAt: now * 1e6
      })
      .catch((err: unknown) => log.warn(`logging a ping for ${peer}: ${errorMessage(err)}`))
    for (const inf of this.c.informers) {
      await this.pushInformer(inf).catch((err: unknown) => log.warn(`informer ${inf.name()}: ${errorMessage(err)}`))
    }
    await this.sendPing().catch((err: unknown) => log.warn(`ping: ${errorMessage(err)}`))
    const signal = this.controller?.signal
    ;(async () => {
      for await (const _ of this.c.tracker.recoverAll({ signal })) {
        // drained: recovering is the point
      }
    })().catch((err: unknown) => log.debug(`recover after join: ${errorMessage(err)}`))
    log.info(`${this.init.peerId}: joined ${peer}'s cluster`)
    return mine
  }

  private informerTtlMs(): number {
    return 2 * (this.init.informerIntervalMs ?? 15_000)
  }

  private every(ms: number, fn: () => Promise<void>): void {
    if (!(ms > 0)) return
    let running = false
    const t = setInterval(() => {
      if (running || this.controller?.signal.aborted === true) return
      running = true
      fn()
        .catch((err: unknown) => log.debug(errorMessage(err)))
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
      const msg = errorMessage(err)
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

  /** Upstream `SendInformersMetrics`: publishes every informer's metrics now (the kubo connector asks every `informer_trigger_interval` pins). */
  async sendInformersMetrics(options?: AbortOptions): Promise<void> {
    options?.signal?.throwIfAborted()
    for (const inf of this.c.informers) await this.pushInformer(inf)
  }

  private async pushInformer(inf: Informer): Promise<void> {
    const metrics = await inf.getMetrics({ signal: this.controller?.signal })
    for (const m of metrics) await this.c.monitor.publishMetric(m)
  }

  /**
   * Upstream StateSync: unpins expired pins; of the trusted peers, only the
   * one closest (XOR) to a CID unpins it.
   */
  async stateSync(): Promise<void> {
    if (this.init.followerMode) return
    const state = await this.c.consensus.state()
    const now = Date.now()
    const checker = new DistanceChecker(this.init.peerId, await this.trustedPeers(undefined, { signal: this.controller?.signal }))
    const expired: Pin[] = []
    for await (const pin of state.list({ signal: this.controller?.signal })) {
      if (pin.expireAt !== null && pin.expireAt.getTime() <= now && checker.isClosest(pin.cid)) expired.push(pin)
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

  async id(options?: AbortOptions): Promise<ID> {
    await this.refreshIpfsId()
    const peers = await this.members(options).catch(() => [this.init.peerId])
    return {
      id: this.init.peerId,
      addresses: this.init.addresses?.() ?? [],
      clusterPeers: peers,
      clusterPeersAddresses: (await this.init.peerAddresses?.(peers, options).catch(() => [])) ?? [],
      version: VERSION,
      commit: COMMIT,
      rpcProtocolVersion: RPC_PROTOCOL,
      error: '',
      ipfs: this.ipfsId,
      peername: this.init.peerName
    }
  }

  /** An `ID` standing for a peer that did not answer (upstream: ID and error only; the peer name comes from its last ping). */
  private errorId(peer: PeerId, err: unknown): ID {
    return {
      id: peer,
      addresses: [],
      clusterPeers: [],
      clusterPeersAddresses: [],
      version: '',
      commit: '',
      rpcProtocolVersion: '',
      error: errorMessage(err),
      ipfs: { id: '', addresses: [], error: '' },
      peername: pingValue(this.c.monitor.latestForPeer('ping', peer)).peerName
    }
  }

  /**
   * Upstream `Peers`/`peersWithFilter`: the ID of every peer of the
   * peerset, in the order they answer (15 s each); a peer that fails is an
   * ID with `error` set; peers refusing the call (policy) are left out.
   */
  async *peers(options?: AbortOptions): AsyncGenerator<ID> {
    const client = this.client
    if (client === undefined) {
      yield await this.id(options)
      return
    }
    let members: PeerId[]
    try {
      members = await this.members(options)
    } catch (err) {
      log.error(`${errorMessage(err)}: an empty list of peers will be returned`)
      return
    }
    const pending = new Map<number, Promise<[number, ID | undefined]>>()
    members.forEach((peer, i) => {
      const p: Promise<ID> =
        peer === this.init.peerId ? this.id(options) : client.id(peer, { signal: options?.signal, timeoutMs: this.rpcTimeoutMs })
      pending.set(
        i,
        p.then(
          (id): [number, ID | undefined] => [i, id],
          (err: unknown): [number, ID | undefined] => [i, isAuthorizationError(err) ? undefined : this.errorId(peer, err)]
        )
      )
    })
    while (pending.size > 0) {
      const [i, id] = await Promise.race(pending.values())
      pending.delete(i)
      options?.signal?.throwIfAborted()
      if (id !== undefined) yield id
    }
  }

  /**
   * Upstream `PeerAdd`: with crdt the peerset is whoever pings, so this
   * only un-removes the peer (if `peerRemove`d) and asks it for its ID
   * (15 s). @throws the RPC error when the peer does not answer.
   */
  async peerAdd(peer: PeerId, options?: AbortOptions): Promise<ID> {
    const client = this.client
    if (client === undefined) {
      throw new InvalidArgumentError('adding peers by ID needs the cluster swarm: start the peer with --bootstrap')
    }
    if (peer === this.init.peerId) return this.id(options)
    if (this.removed.delete(peer)) await this.saveRemoved()
    // raft: the peer becomes a voter (upstream consensus.AddPeer)
    await this.c.consensus.addPeer?.(peer, options)
    const id = await client.id(peer, { signal: options?.signal, timeoutMs: this.rpcTimeoutMs })
    if (!id.clusterPeers.includes(this.init.peerId)) id.clusterPeers.push(this.init.peerId)
    log.info(`Peer added ${peer}`)
    return id
  }

  /**
   * Removes a peer (upstream `PeerRemove` = `vacatePeer` + `RmPeer`, which
   * crdt refuses, issue #842). Here, in order:
   * 1. the peer is marked removed: out of this peer's peerset, its metrics
   *    forgotten and ignored by allocations from now on, and distrusted;
   * 2. only the pins allocated to it are re-allocated without it (unless
   *    `disable_repinning`), even when the replication factor is still met
   *    by the other allocations; pins allocated elsewhere are untouched;
   * 3. the other trusted peers are told (`Cluster.PeerRemove` with
   *    `notify_only`) so they do the same as step 1.
   * The removal lasts until `peerAdd(peer)` or a restart (not persisted).
   * @throws InvalidArgumentError for this peer itself
   * @throws NotFoundError when the peer is unknown (not in the peerset, no
   * metrics, no allocations)
   */
  async peerRemove(peer: PeerId, options?: AbortOptions): Promise<void> {
    if (peer === this.init.peerId) throw new InvalidArgumentError('a peer cannot remove itself in crdt mode; stop it instead')
    const members = await this.members(options)
    const known =
      members.includes(peer) || this.removed.has(peer) || this.c.monitor.latestForPeer('ping', peer) !== undefined
    const wasRemoved = this.removed.has(peer)
    await this.forgetPeer(peer, options)
    let allocated = 0
    const state = await this.c.consensus.state(options)
    const vacate: Pin[] = []
    for await (const pin of state.list(options)) {
      if (!pin.allocations.includes(peer)) continue
      allocated++
      if (!this.init.disableRepinning) vacate.push(pin)
    }
    if (!known && allocated === 0) {
      if (!wasRemoved) {
        this.removed.delete(peer)
        await this.saveRemoved()
      }
      throw new NotFoundError(`peer ${peer} is not part of the cluster`)
    }
    if (this.init.disableRepinning && allocated > 0) {
      log.warn(`repinning is disabled. Will not re-allocate the ${allocated} CIDs of ${peer}`)
    }
    log.info(`re-allocating the ${vacate.length} CIDs allocated to ${peer}`)
    for (const pin of vacate) {
      options?.signal?.throwIfAborted()
      await this.repinFromPeer(peer, pin, options)
    }
    // raft: the voter goes (upstream consensus.RmPeer, after vacating it)
    await this.c.consensus.rmPeer?.(peer, options)
    const client = this.client
    if (client !== undefined) {
      const others = members.filter((p) => p !== this.init.peerId && p !== peer && this.c.consensus.isTrustedPeer(p))
      await Promise.all(
        others.map((p) =>
          client
            .peerRemove(p, peer, true, { signal: options?.signal, timeoutMs: this.rpcTimeoutMs })
            .catch((err: unknown) => {
              // a Go peer has no Cluster.ForgetPeer: it learns of the removal as upstream peers do (ping metrics)
              if (errorName(err) === 'RpcMethodNotFoundError') log.debug(`${p} does not take removal notices (upstream peer)`)
              else log.warn(`telling ${p} that ${peer} was removed: ${errorMessage(err)}`)
            })
        )
      )
    }
    log.info(`Peer removed ${peer}`)
  }

  /**
   * Marks `peer` removed on this peer only: out of the peerset, metrics
   * forgotten and ignored, distrusted (served to trusted peers as
   * `Cluster.PeerRemove` with `notify_only`).
   */
  async forgetPeer(peer: PeerId, _options?: AbortOptions): Promise<void> {
    if (peer === this.init.peerId) return
    this.removed.add(peer)
    await this.saveRemoved()
    ;(this.c.monitor as PeerMonitor & ForgettingMonitor).removePeer?.(peer)
    await this.c.consensus.distrust(peer)
  }

  private async saveRemoved(): Promise<void> {
    await this.c.removedPeers?.save([...this.removed]).catch((err: unknown) => log.error(`saving removed peers: ${errorMessage(err)}`))
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

  /** Upstream `Cluster.pin` steps 3-8; `blacklist`: peers not to allocate; `reallocation`: keep `pin.timestamp`. */
  private async commitPin(pin: Pin, options?: AbortOptions, blacklist: PeerId[] = [], reallocation = false): Promise<Pin> {
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
      if (errorName(err) !== 'NotFoundError') throw err
    }
    if (existing !== undefined) {
      if (existing.type !== pin.type) {
        throw new InvalidArgumentError(`cannot repin ${pin.cid} as ${pin.type}: it is already pinned as ${existing.type}`)
      }
      if (existing.mode === 'recursive' && pin.mode === 'direct') {
        throw new InvalidArgumentError(`cannot repin ${pin.cid} as direct: it is already pinned recursively`)
      }
    }
    if (!reallocation) pin.timestamp = new Date()
    pin.allocations = await this.allocate(pin, existing, blacklist, options)
    if (existing !== undefined && samePin(existing, pin)) {
      log.info(`pin ${pin.cid} already exists with the same options and allocations`)
      return existing
    }
    await this.c.consensus.logPin(pin, options)
    return pin
  }

  /** Removed peers are neither kept in the current allocations nor candidates. */
  private async allocate(pin: Pin, existing: Pin | undefined, blacklist: PeerId[], options?: AbortOptions): Promise<PeerId[]> {
    if (pin.replicationFactorMin === -1 && pin.replicationFactorMax === -1) return []
    const names = this.c.allocator.metrics()
    const byName = new Map<string, Metric[]>()
    // only peers of the current peerset are candidates (upstream: metrics of consensus.Peers())
    const members = new Set(await this.members(options))
    for (const n of names) {
      const ms = await this.c.monitor.latestMetrics(n, options)
      byName.set(n, ms.filter((m) => members.has(m.peer) && !this.removed.has(m.peer)))
    }
    return allocate({
      cid: pin.cid,
      currentAllocations: (existing?.allocations ?? []).filter((p) => !this.removed.has(p)),
      rplMin: pin.replicationFactorMin,
      rplMax: pin.replicationFactorMax,
      blacklist,
      priorityList: pin.userAllocations,
      metrics: (name: string) => byName.get(name) ?? [],
      allocator: this.c.allocator,
      isTrusted: (p: PeerId) => this.c.consensus.isTrustedPeer(p),
      pinOnlyOnTrustedPeers: this.init.pinOnlyOnTrustedPeers
    })
  }

  /**
   * Upstream `BlockAllocate`: the peers whose IPFS daemons receive the
   * blocks of an add (and that the pin is then allocated to). Replication
   * -1 means every peer of the peerset.
   * @throws FollowerModeError, NotEnoughPeersError, InvalidArgumentError
   */
  async blockAllocate(opts: PinOptions, options?: AbortOptions): Promise<PeerId[]> {
    this.checkFollower()
    const pin = pinWithOpts(BLOCK_ALLOCATE_CID, opts)
    if (pin.replicationFactorMin === 0) pin.replicationFactorMin = this.init.replicationFactorMin
    if (pin.replicationFactorMax === 0) pin.replicationFactorMax = this.init.replicationFactorMax
    validateReplication(pin)
    if (pin.replicationFactorMin === -1 && pin.replicationFactorMax === -1) return this.members(options)
    return this.allocate(pin, undefined, [], options)
  }

  /** Upstream PinUpdate: the new pin copies the old one's options and allocations. */
  private async pinUpdate(from: CID, to: CID, opts: PinOptions, options?: AbortOptions): Promise<Pin> {
    const state = await this.c.consensus.state(options)
    let old: Pin
    try {
      old = await state.get(from, options)
    } catch (err) {
      if (errorName(err) === 'NotFoundError') throw new NotFoundError(`pin-update: ${from} is not part of the pinset`)
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
      if (errorName(err) === 'NotFoundError') throw new NotFoundError(`${cid} is not pinned in the cluster`)
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

  async *pinPages(options?: AbortOptions): AsyncGenerator<Pin[]> {
    const state = await this.c.consensus.state(options)
    if (state.listPages !== undefined) yield* state.listPages(options)
    else yield* pagesOf(state.list(options))
  }

  async pinsNewestFirst(range: { before?: bigint; after?: bigint }, options?: AbortOptions): Promise<AsyncGenerator<Pin> | null> {
    const state = await this.c.consensus.state(options)
    return (await state.newestFirst?.(range, options)) ?? null
  }

  async pinGet(cid: CID, options?: AbortOptions): Promise<Pin> {
    const state = await this.c.consensus.state(options)
    try {
      return await state.get(cid, options)
    } catch (err) {
      if (errorName(err) === 'NotFoundError') throw new NotFoundError(`${cid} is not pinned in the cluster`)
      throw err
    }
  }

  /** `local` (or no RPC): this peer's tracker only; otherwise upstream `globalPinInfoCid` over `PinTracker.Status`. */
  async status(cid: CID, local: boolean, options?: AbortOptions): Promise<GlobalPinInfo> {
    if (local || this.client === undefined) return pinInfoToGlobal(await this.c.tracker.status(cid, options))
    return this.globalPinInfoCid('status', cid, options)
  }

  /** `local` (or no RPC): this peer's tracker only; otherwise every peer's `PinTracker.StatusAll`, merged per CID. */
  async *statusAll(filter: Set<TrackerStatus>, local: boolean, options?: AbortOptions): AsyncGenerator<GlobalPinInfo> {
    const client = this.client
    if (local || client === undefined) {
      for await (const pi of this.c.tracker.statusAll(filter, options)) yield pinInfoToGlobal(pi)
      return
    }
    yield* this.globalPinInfoStream(
      (peer) =>
        peer === this.init.peerId
          ? this.c.tracker.statusAll(filter, options)
          : client.trackerStatusAll(peer, filter, { signal: options?.signal, timeoutMs: this.streamIdleTimeoutMs }),
      options
    )
  }

  /**
   * `statusAll` in pages when it is this peer's tracker alone (`local`, or
   * no RPC); undefined for the cluster-wide merge, which streams items.
   */
  statusAllPages(filter: Set<TrackerStatus>, local: boolean, options?: AbortOptions): AsyncGenerator<GlobalPinInfo[]> | undefined {
    if (!local && this.client !== undefined) return undefined
    const tracker = this.c.tracker
    return (async function* () {
      const pages = tracker.statusAllPages !== undefined ? tracker.statusAllPages(filter, options) : pagesOf(tracker.statusAll(filter, options))
      for await (const page of pages) yield page.map(pinInfoToGlobal)
    })()
  }

  /** Upstream `setTrackerStatus`: the same status for several peers, with what their last ping says about them. */
  private setTrackerStatus(g: GlobalPinInfo, peers: PeerId[], status: TrackerStatus, error = ''): void {
    const now = new Date()
    for (const p of peers) g.peerMap[p] = this.peerPinInfo(p, status, now, error)
  }

  private peerPinInfo(peer: PeerId, status: TrackerStatus, ts: Date, error: string): PinInfoShort {
    const pv = pingValue(peer === this.init.peerId ? undefined : this.c.monitor.latestForPeer('ping', peer))
    if (peer === this.init.peerId) {
      pv.peerName = this.init.peerName
      pv.ipfsId = this.ipfsId.id
      pv.ipfsAddresses = this.ipfsId.addresses
    }
    return {
      peerName: pv.peerName,
      ipfsPeerId: pv.ipfsId,
      ipfsPeerAddresses: pv.ipfsAddresses,
      status,
      timestamp: ts,
      error,
      attemptCount: 0,
      priorityPin: false
    }
  }

  /**
   * Upstream `globalPinInfoCid`: a CID not in the pinset is `unpinned` on
   * every peer; otherwise the allocated peers (every peer for pin-everywhere)
   * are asked (`op` on their tracker, `rpcTimeoutMs` each, concurrently), the
   * others are `remote`, and a peer that fails is `cluster_error` with the
   * error (a policy refusal leaves the peer out).
   */
  private async globalPinInfoCid(op: 'status' | 'recover', cid: CID, options?: AbortOptions): Promise<GlobalPinInfo> {
    const client = this.client
    const state = await this.c.consensus.state(options)
    let pin: Pin | undefined
    try {
      pin = await state.get(cid, options)
    } catch (err) {
      if (errorName(err) !== 'NotFoundError') throw err
    }
    const members = await this.members(options)
    const g: GlobalPinInfo = {
      cid,
      name: pin?.name ?? '',
      allocations: pin?.allocations ?? [],
      origins: pin?.origins ?? [],
      created: pin?.timestamp ?? new Date(),
      metadata: pin?.metadata ?? {},
      peerMap: {}
    }
    if (pin === undefined) {
      this.setTrackerStatus(g, members, 'unpinned')
      return g
    }
    const everywhere = pin.allocations.length === 0
    const dests = this.init.followerMode ? [this.init.peerId] : everywhere ? members : pin.allocations.filter((p) => !this.removed.has(p))
    const destSet = new Set(dests)
    this.setTrackerStatus(
      g,
      members.filter((p) => !destSet.has(p)),
      'remote'
    )
    const results = await Promise.all(
      dests.map(async (peer): Promise<[PeerId, PinInfo | Error]> => {
        try {
          if (peer === this.init.peerId || client === undefined) {
            return [peer, op === 'status' ? await this.c.tracker.status(cid, options) : await this.c.tracker.recover(cid, options)]
          }
          const o = { signal: options?.signal, timeoutMs: this.rpcTimeoutMs }
          return [peer, op === 'status' ? await client.trackerStatus(peer, cid, o) : await client.trackerRecover(peer, cid, o)]
        } catch (err) {
          return [peer, err instanceof Error ? err : new Error(String(err))]
        }
      })
    )
    for (const [peer, r] of results) {
      if (!(r instanceof Error)) {
        g.peerMap[peer] = r.pinInfo
        continue
      }
      if (isAuthorizationError(r)) {
        log.debug(`rpc auth error: ${r.message}`)
        continue
      }
      options?.signal?.throwIfAborted()
      log.error(`${this.init.peerId}: error in broadcast response from ${peer}: ${r.message}`)
      g.peerMap[peer] = this.peerPinInfo(peer, 'cluster_error', new Date(), r.message)
    }
    return g
  }

  /**
   * Upstream `globalPinInfoStream`: one stream per peer of the peerset
   * (`open(peer)`), merged into one GlobalPinInfo per CID.
   *
   * Memory: streams are read in lockstep (one item from each peer per
   * round) and a CID is emitted as soon as every peer still streaming has
   * reported it (or finished). Peers list the pinset in the same (state
   * key) order, so only the CIDs of the current window are held: about
   * (number of peers × their skew) entries, not the pinset. Upstream holds
   * every CID of every peer until all streams end. When peers' pinsets
   * differ (e.g. a filter), the entries one peer never reports are held
   * until that peer finishes (worst case: upstream's bound).
   *
   * Errors: a peer whose stream fails (or stays silent
   * `rpcStreamIdleTimeoutMs`) gets a `cluster_error` entry, with the error,
   * in every CID emitted afterwards (the first round waits for every peer,
   * so an unreachable peer is in all of them); a policy refusal leaves the
   * peer out.
   */
  private async *globalPinInfoStream(open: (peer: PeerId) => AsyncIterable<PinInfo>, options?: AbortOptions): AsyncGenerator<GlobalPinInfo> {
    const members = await this.members(options)
    type Step = { r: IteratorResult<PinInfo> | undefined; err: unknown }
    type Source = { peer: PeerId; index: number; it: AsyncIterator<PinInfo>; done: boolean }
    // which sources reported an entry: a bit mask (up to 30 peers), else a set of indexes
    type Entry = { g: GlobalPinInfo; mask: number; seen: Set<number> | undefined }
    const sources: Source[] = members.map((peer, index) => ({ peer, index, it: open(peer)[Symbol.asyncIterator](), done: false }))
    const useMask = sources.length <= 30
    let doneMask = 0
    const allMask = useMask ? 2 ** sources.length - 1 : 0
    const pending = new Map<string, Entry>()
    const errored = new Map<PeerId, string>()
    const finalize = (e: Entry): GlobalPinInfo => {
      if (errored.size === 0) return e.g
      const now = new Date()
      for (const s of sources) {
        const msg = errored.get(s.peer)
        if (msg !== undefined && !reported(e, s)) e.g.peerMap[s.peer] = this.peerPinInfo(s.peer, 'cluster_error', now, msg)
      }
      return e.g
    }
    const reported = (e: Entry, s: Source): boolean => (useMask ? (e.mask & (1 << s.index)) !== 0 : e.seen!.has(s.index))
    const complete = (e: Entry): boolean => (useMask ? ((e.mask | doneMask) & allMask) === allMask : sources.every((s) => s.done || reported(e, s)))
    const step = (s: Source): Promise<Step> =>
      s.it.next().then(
        (r) => ({ r, err: undefined }),
        (err: unknown) => ({ r: undefined, err })
      )
    const active: Source[] = []
    const steps: Promise<Step>[] = []
    const touched: string[] = []
    try {
      for (;;) {
        // one item from every peer still streaming per round, asked concurrently
        active.length = 0
        steps.length = 0
        for (const s of sources) {
          if (s.done) continue
          active.push(s)
          steps.push(step(s))
        }
        if (active.length === 0) break
        touched.length = 0
        let finished = false
        for (let i = 0; i < active.length; i++) {
          const s = active[i]!
          const { r, err } = await steps[i]!
          options?.signal?.throwIfAborted()
          if (r === undefined || r.done === true) {
            s.done = true
            if (useMask) doneMask |= 1 << s.index
            finished = true
            if (r !== undefined) continue
            if (isAuthorizationError(err)) {
              log.debug(`rpc auth error: ${errorMessage(err)}`)
              continue
            }
            log.error(`${this.init.peerId}: error in broadcast response from ${s.peer}: ${errorMessage(err)}`)
            errored.set(s.peer, errorMessage(err))
            continue
          }
          const pi = r.value
          const key = cidString(pi.cid)
          let e = pending.get(key)
          if (e === undefined) {
            e = {
              g: { cid: pi.cid, name: pi.name, allocations: pi.allocations, origins: pi.origins, created: pi.created, metadata: pi.metadata, peerMap: {} },
              mask: 0,
              seen: useMask ? undefined : new Set()
            }
            pending.set(key, e)
          }
          e.g.peerMap[pi.peer !== '' ? pi.peer : s.peer] = pi.pinInfo
          if (useMask) e.mask |= 1 << s.index
          else e.seen!.add(s.index)
          touched.push(key)
        }
        // A finished peer can complete any entry; otherwise only the entries just reported can.
        if (finished) {
          for (const [key, e] of pending) {
            if (!complete(e)) continue
            pending.delete(key)
            yield finalize(e)
          }
          continue
        }
        for (const key of touched) {
          const e = pending.get(key)
          if (e === undefined || !complete(e)) continue
          pending.delete(key)
          yield finalize(e)
        }
      }
      for (const e of pending.values()) yield finalize(e)
    } finally {
      for (const s of sources) {
        if (!s.done) s.it.return?.(undefined)?.catch(() => {})
      }
    }
  }

  async *statusCids(cids: CID[], local: boolean, options?: AbortOptions): AsyncGenerator<GlobalPinInfo> {
    for (const cid of cids) yield await this.status(cid, local, options)
  }

  /** `local` (or no RPC): this peer only; otherwise upstream `globalPinInfoCid` over `PinTracker.Recover`. */
  async recover(cid: CID, local: boolean, options?: AbortOptions): Promise<GlobalPinInfo> {
    if (local || this.client === undefined) return pinInfoToGlobal(await this.c.tracker.recover(cid, options))
    return this.globalPinInfoCid('recover', cid, options)
  }

  /** `local` (or no RPC): this peer only; otherwise every peer's `Cluster.RecoverAllLocal`, merged per CID. */
  async *recoverAll(local: boolean, options?: AbortOptions): AsyncGenerator<GlobalPinInfo> {
    const client = this.client
    if (local || client === undefined) {
      for await (const pi of this.c.tracker.recoverAll(options)) yield pinInfoToGlobal(pi)
      return
    }
    yield* this.globalPinInfoStream(
      (peer) =>
        peer === this.init.peerId
          ? this.c.tracker.recoverAll(options)
          : client.recoverAllLocal(peer, { signal: options?.signal, timeoutMs: this.streamIdleTimeoutMs }),
      options
    )
  }

  async repoGCLocal(options?: AbortOptions): Promise<RepoGC> {
    const out: RepoGC = { peer: this.init.peerId, peername: this.init.peerName, keys: [], error: '' }
    try {
      for await (const k of this.c.ipfs.repoGC(options)) out.keys.push(k)
    } catch (err) {
      out.error = errorMessage(err)
    }
    return out
  }

  /**
   * Upstream `RepoGC`: `Cluster.RepoGCLocal` on every peer (concurrently,
   * no timeout: a GC takes as long as it takes); a peer that fails gets an
   * entry with `error` set.
   */
  async repoGC(local: boolean, options?: AbortOptions): Promise<GlobalRepoGC> {
    const client = this.client
    if (local || client === undefined) {
      const r = await this.repoGCLocal(options)
      return { peerMap: { [this.init.peerId]: r } }
    }
    const members = await this.members(options)
    const out: GlobalRepoGC = { peerMap: {} }
    const results = await Promise.all(
      members.map(async (peer): Promise<[PeerId, RepoGC | Error]> => {
        try {
          if (peer === this.init.peerId) return [peer, await this.repoGCLocal(options)]
          return [peer, await client.repoGCLocal(peer, { signal: options?.signal, timeoutMs: 0 })]
        } catch (err) {
          return [peer, err instanceof Error ? err : new Error(String(err))]
        }
      })
    )
    for (const [peer, r] of results) {
      if (!(r instanceof Error)) {
        out.peerMap[peer] = r
        continue
      }
      if (isAuthorizationError(r)) continue
      log.error(`${this.init.peerId}: error in broadcast response from ${peer}: ${r.message}`)
      out.peerMap[peer] = {
        peer,
        peername: pingValue(this.c.monitor.latestForPeer('ping', peer)).peerName,
        keys: [],
        error: r.message
      }
    }
    return out
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

  /**
   * Upstream `ConnectGraph` (connect_graph.go): asks every peer of the
   * peerset for its own view of the peers (`Cluster.Peers`), records the
   * cluster links, each peer's IPFS daemon and that daemon's swarm peers
   * (`IPFSConnector.SwarmPeers`). Peers that fail have no links.
   */
  async connectGraph(options?: AbortOptions): Promise<ConnectGraph> {
    const client = this.client
    if (client === undefined) return this.connectGraphLocal(options)
    const self = this.init.peerId
    const cg: ConnectGraph = {
      clusterId: self,
      idToPeername: {},
      ipfsLinks: {},
      clusterLinks: {},
      clusterTrustLinks: {},
      clusterToIpfs: {}
    }
    const members = await this.members(options)
    for (const m of members) cg.clusterTrustLinks[m] = this.c.consensus.isTrustedPeer(m)
    const views = await Promise.all(
      members.map(async (m): Promise<ID[] | Error> => {
        try {
          const ids: ID[] = []
          const it = m === self ? this.peers(options) : client.peers(m, { signal: options?.signal, timeoutMs: this.rpcTimeoutMs })
          for await (const id of it) ids.push(id)
          return ids
        } catch (err) {
          return err instanceof Error ? err : new Error(String(err))
        }
      })
    )
    const ipfsTasks: Promise<void>[] = []
    members.forEach((p, i) => {
      const view = views[i]
      cg.clusterLinks[p] = []
      if (view === undefined || view instanceof Error) {
        log.debug(`RPC error reaching cluster peer ${p}: ${view?.message ?? 'no answer'}`)
        return
      }
      let own: ID | undefined
      for (const id of view) {
        if (id.error !== '') continue
        if (id.id === p) own = id
        else cg.clusterLinks[p]?.push(id.id)
      }
      cg.idToPeername[p] = own?.peername ?? ''
      if (own === undefined) {
        log.warn(`cluster peer ${p} not its own peer. No ipfs info`)
        return
      }
      if (own.ipfs.error !== '' || own.ipfs.id === '') return
      const ipfsId = own.ipfs.id
      cg.clusterToIpfs[p] = ipfsId
      cg.ipfsLinks[ipfsId] = []
      ipfsTasks.push(
        (p === self ? this.c.ipfs.swarmPeers(options) : client.swarmPeers(p, { signal: options?.signal, timeoutMs: this.rpcTimeoutMs })).then(
          (peers) => {
            cg.ipfsLinks[ipfsId] = peers
          },
          (err: unknown) => log.debug(`swarm peers of ${p}: ${errorMessage(err)}`)
        )
      )
    })
    await Promise.all(ipfsTasks)
    return cg
  }

  private async connectGraphLocal(options?: AbortOptions): Promise<ConnectGraph> {
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

  /** Upstream `Cluster.BandwidthByProtocol`: the host's counters per libp2p protocol (bytes, bytes/s). */
  bandwidthByProtocol(): Record<string, { total_in: number; total_out: number; rate_in: number; rate_out: number }> {
    return this.c.swarm?.bandwidthByProtocol?.() ?? {}
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
