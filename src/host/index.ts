/**
 * The cluster's libp2p host (upstream `clusterhost.go`, v1.1.6): a private
 * network keyed by `cluster.secret` (pnet PSK), TCP, noise, yamux,
 * identify, ping, a Kademlia DHT for peer routing among cluster peers,
 * gossipsub (signed, strict verification, upstream's mesh parameters) and
 * mDNS discovery (`_ipfs-cluster-discovery._udp`) when `mdns_interval` > 0.
 *
 * Differences from upstream, on purpose or for lack of a js equivalent:
 * - QUIC listen addresses are dropped (upstream does the same: "quic does not
 *   support private networks"); websocket, auto-relay, hole punching and NAT
 *   port mapping are not set up. The circuit relay v2 client transport is
 *   always on and the hop service runs with `enable_relay_hop`, as upstream.
 * - The connection manager has one limit in js-libp2p v3: `maxConnections`
 *   (`connection_manager.high_water`, capped by `resource_manager`'s file
 *   descriptor limit, see resources.ts); `low_water` and `grace_period` have
 *   no equivalent and are ignored.
 * - `/health/bandwidth` counts stream payload bytes per protocol (bandwidth.ts).
 * - `no_announce_multiaddress` filters exact addresses; `/ipcidr` masks are
 *   not supported (a warning is logged).
 * - The DHT is one Kademlia DHT in server mode on upstream's LAN protocol
 *   (`/ipfs/lan/kad/1.0.0`: upstream's host runs kad-dht's dual DHT, whose
 *   LAN half is always a server), kept in memory; the WAN half
 *   (`/ipfs/kad/1.0.0`, public addresses only) is not run.
 * - Gossipsub message IDs are upstream's `hashMsgID` (`msgid.ts`), so
 *   IHAVE/IWANT gossip and duplicate suppression agree with Go peers.
 *
 * The peerstore file (`cluster.peerstore_file`) is read at `start()` (with
 * `peer_addresses`) and those peers are dialed in the background; it is
 * written at `stop()` with the addresses of every cluster peer this host
 * connected to or loaded at start.
 *
 * A connection refused because the two peers do not share the secret is
 * logged as `connection to|from <addr> failed: private network handshake
 * failed (wrong cluster secret?)` (facility `p2p`), see `pnet.ts`.
 *
 * @example
 * const host = await createClusterHost({ privateKey: identity.privateKey, secret: cfg.secret, ... })
 * await host.start()
 * await host.bootstrap(['/ip4/10.0.0.2/tcp/9096/p2p/12D3Koo...'])
 */
import { noise } from '@chainsafe/libp2p-noise'
import { type GossipSub, gossipsub } from '@libp2p/gossipsub'
import { type Identify, identify } from '@libp2p/identify'
import type { Connection, Libp2p, PeerId as Libp2pPeerId, PeerInfo, PrivateKey } from '@libp2p/interface'
import { type KadDHT, kadDHT, passthroughMapper } from '@libp2p/kad-dht'
import { mdns } from '@libp2p/mdns'
import { peerIdFromString } from '@libp2p/peer-id'
import { type Ping, ping } from '@libp2p/ping'
import { type CircuitRelayService, circuitRelayServer, circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { type Multiaddr, multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { readPeerstore, writePeerstore } from '../config/peerstore.ts'
import type { AbortOptions } from '../interfaces.ts'
import { getLogger } from '../observability/logging.ts'
import { noiseCrypto } from '../runtime/noise-crypto.ts'
import { errorMessage } from '../errors.ts'
import { BandwidthCounter, type BandwidthStats } from './bandwidth.ts'
import { type ResourceManagerInit, resourceLimits } from './resources.ts'
import { BootstrapError, InvalidMultiaddrError } from './errors.ts'
import { clusterMsgId } from './msgid.ts'
import { clusterProtector, PnetFailures, transportKey } from './pnet.ts'
import { clusterTcp } from './tcp.ts'
import { clusterYamux } from './muxer.ts'
import { PubsubStreamKeeper } from './pubsub-keeper.ts'

export { BootstrapError, InvalidMultiaddrError, PrivateNetworkHandshakeError } from './errors.ts'
export { clusterMsgId } from './msgid.ts'
export { pskFromSecret } from './pnet.ts'
export { BandwidthCounter, type BandwidthStats } from './bandwidth.ts'
export { type ResourceLimits, type ResourceManagerInit, resourceLimits } from './resources.ts'
export { createPubsubAdapter, type PubsubAdapter } from './pubsub.ts'

const log = getLogger('host')
const p2pLog = getLogger('p2p')

/** Upstream's mDNS service tag. */
export const MDNS_SERVICE_TAG = '_ipfs-cluster-discovery._udp'
/**
 * The DHT protocol of the cluster swarm: upstream's LAN DHT (kad-dht
 * v0.39 `dual`, `/ipfs` prefix + `/lan`); under the cluster's private
 * network only cluster peers can speak it.
 */
export const CLUSTER_DHT_PROTOCOL = '/ipfs/lan/kad/1.0.0'

/** The services every cluster host runs, as `host.libp2p.services`. */
export type ClusterServices = {
  identify: Identify
  ping: Ping
  dht: KadDHT
  pubsub: GossipSub
  /** circuit relay v2 hop service, only with `enable_relay_hop` */
  relay?: CircuitRelayService
}

/** `cluster.pubsub` (upstream `PubSubConfig`), durations in ms. */
export interface ClusterPubsubInit {
  seenMessagesTtlMs: number
  heartbeatIntervalMs: number
  /** multiplies gossipsub's D parameters (upstream default 4). */
  dFactor: number
  historyGossip: number
  historyLength: number
  floodPublish: boolean
}

export interface ClusterHostInit {
  /** libp2p private key (`identity.privateKey`). */
  privateKey: PrivateKey
  /** 32-byte `cluster.secret`; null = no private network. */
  secret: Uint8Array | null
  /** `listen_multiaddress`; `/udp/…/quic` entries are dropped. */
  listenMultiaddress: string[]
  announceMultiaddress: string[]
  noAnnounceMultiaddress: string[]
  connectionManager: { highWater: number; lowWater: number; gracePeriodMs: number }
  /** `resource_manager` (upstream `ResourceMgr`); default: enabled, limits auto-scaled. */
  resourceManager?: ResourceManagerInit
  /** `enable_relay_hop`: serve as a circuit relay v2 hop for other peers (default false here, true in service.json). */
  enableRelayHop?: boolean
  /** `mdns_interval` in ms; 0 = mDNS off. */
  mdnsIntervalMs: number
  /** `dial_peer_timeout` in ms (per dial). */
  dialPeerTimeoutMs: number
  pubsub: ClusterPubsubInit
  /** absolute path of the peerstore file. */
  peerstorePath: string
  /** `peer_addresses`: `/…/p2p/<id>` multiaddrs dialed at start. */
  peerAddresses: string[]
  /** follower mode disables gossipsub peer exchange (as upstream). */
  followerMode?: boolean
  /** DHT protocol id; default `CLUSTER_DHT_PROTOCOL`. */
  dhtProtocol?: string
  /**
   * ms between two checks that gossipsub has a stream to every connected
   * peer (pubsub-keeper.ts); default 1000, 0 = no checks (tests only).
   */
  pubsubStreamCheckMs?: number
}

export type ClusterLibp2p = Libp2p<ClusterServices>

export interface ClusterHost {
  readonly libp2p: ClusterLibp2p
  /** this peer's ID (base58btc / CIDv1 string as libp2p prints it). */
  readonly peerId: string
  /** Announced addresses, each ending in `/p2p/<peerId>`. */
  addresses(): string[]
  /** Starts listening, then dials the peerstore and `peer_addresses` in the background. Idempotent. */
  start(): Promise<void>
  /** Writes the peerstore, then stops libp2p. Idempotent. */
  stop(): Promise<void>
  /**
   * Dials every address (in parallel, `dial_peer_timeout` each) and resolves
   * with the peer ID of the first that connects; the others go on in the
   * background.
   * @throws BootstrapError naming each address and why it failed (e.g.
   *   "private network handshake failed (wrong cluster secret?)"),
   *   InvalidMultiaddrError when an address cannot be parsed.
   */
  bootstrap(addrs: string[], options?: AbortOptions): Promise<string>
  /**
   * Dials one address or peer ID. @returns the remote peer ID.
   * @throws Error whose message says why (wrong secret included).
   */
  connect(addr: string, options?: AbortOptions): Promise<string>
  /** Peer IDs with an open connection. */
  connectedPeers(): string[]
  /** Bytes in/out per libp2p protocol since start (upstream `BandwidthByProtocol`). */
  bandwidthByProtocol(): Record<string, BandwidthStats>
  /** The cluster peers this host knows (connected this run or loaded from the peerstore), without itself. */
  knownPeers(): string[]
  /**
   * Writes the peerstore file: one `/…/p2p/<id>` line per address of each
   * peer in `peers` (default: `knownPeers()`).
   */
  savePeerstore(peers?: string[], options?: AbortOptions): Promise<void>
}

/** Drops `/udp/…` (QUIC) listen addresses; @throws InvalidMultiaddrError on a bad one. */
export function filterListenAddrs(addrs: string[]): string[] {
  const out: string[] = []
  for (const a of addrs) {
    let ma: Multiaddr
    try {
      ma = multiaddr(a)
    } catch (err) {
      throw new InvalidMultiaddrError(`invalid listen multiaddress "${a}": ${errorMessage(err)}`)
    }
    if (ma.getComponents().some((c) => c.name === 'udp' || c.name === 'quic' || c.name === 'quic-v1')) {
      log.info(`not listening on ${a}: QUIC does not support private networks`)
      continue
    }
    out.push(a)
  }
  return out
}

function peerIdOf(addr: string): string | undefined {
  try {
    return multiaddr(addr).getComponents().findLast((c) => c.name === 'p2p')?.value
  } catch {
    return undefined
  }
}

function parseMultiaddr(addr: string, what: string): Multiaddr {
  try {
    return multiaddr(addr)
  } catch (err) {
    throw new InvalidMultiaddrError(`invalid ${what} "${addr}": ${errorMessage(err)}`)
  }
}

/** Builds (does not start) the cluster host. @throws InvalidMultiaddrError, RangeError (secret not 32 bytes). */
export async function createClusterHost(init: ClusterHostInit): Promise<ClusterHost> {
  const failures = new PnetFailures()
  const listen = filterListenAddrs(init.listenMultiaddress)
  const noAnnounce = new Set<string>()
  for (const a of init.noAnnounceMultiaddress) {
    const ma = parseMultiaddr(a, 'no_announce_multiaddress')
    if (ma.getComponents().some((c) => c.name === 'ipcidr')) {
      log.warn(`no_announce_multiaddress ${a}: /ipcidr masks are not supported, ignoring it`)
      continue
    }
    noAnnounce.add(transportKey(ma))
  }
  for (const a of init.announceMultiaddress) parseMultiaddr(a, 'announce_multiaddress')
  const d = Math.max(1, init.pubsub.dFactor)
  const limits = resourceLimits(init.resourceManager ?? { enabled: true, memoryLimitBytes: 0, fileDescriptorsLimit: 0 }, init.connectionManager.highWater)
  log.info(limits.summary)
  const bandwidth = new BandwidthCounter()
  const inbound = new Set<string>()
  const libp2p = await createLibp2p<ClusterServices>({
    start: false,
    privateKey: init.privateKey,
    addresses: {
      listen,
      announce: init.announceMultiaddress,
      announceFilter: (addrs) => addrs.filter((ma) => !noAnnounce.has(transportKey(ma)))
    },
    // clusterTcp: aborted dials to silent peers must not crash the process (tcp.ts)
    // upstream enables the relay client (libp2p.EnableRelay) always, the hop service with enable_relay_hop
    transports: [clusterTcp(), circuitRelayTransport()],
    metrics: bandwidth.metrics(),
    connectionGater: {
      // resource_manager: the system's inbound connection limit (see resources.ts)
      denyInboundConnection: () => inbound.size >= limits.maxInboundConnections
    },
    // the runtime's noise crypto (Bun lacks node:crypto chacha20-poly1305)
    connectionEncrypters: [noise({ crypto: noiseCrypto })],
    streamMuxers: [clusterYamux()],
    ...(init.secret !== null ? { connectionProtector: clusterProtector(init.secret, failures) } : {}),
    connectionManager: {
      maxConnections: limits.maxConnections,
      maxIncomingPendingConnections: limits.maxIncomingPendingConnections,
      // js-libp2p limits inbound connections to 5/s per remote IP by default:
      // too low for several peers on one machine (loopback clusters, restarts)
      inboundConnectionThreshold: 50,
      dialTimeout: init.dialPeerTimeoutMs > 0 ? init.dialPeerTimeoutMs : undefined
    },
    peerDiscovery: init.mdnsIntervalMs > 0 ? [mdns({ interval: init.mdnsIntervalMs, serviceTag: MDNS_SERVICE_TAG })] : [],
    services: {
      identify: identify(),
      ping: ping(),
      ...(init.enableRelayHop === true ? { relay: circuitRelayServer() } : {}),
      dht: kadDHT({
        protocol: init.dhtProtocol ?? CLUSTER_DHT_PROTOCOL,
        clientMode: false,
        peerInfoMapper: passthroughMapper,
        logPrefix: 'libp2p:cluster-dht',
        datastorePrefix: '/cluster-dht',
        metricsPrefix: 'libp2p_cluster_dht'
      }),
      pubsub: gossipsub({
        globalSignaturePolicy: 'StrictSign',
        msgIdFn: clusterMsgId,
        emitSelf: false,
        allowPublishToZeroTopicPeers: true,
        floodPublish: init.pubsub.floodPublish,
        doPX: init.followerMode !== true,
        heartbeatInterval: init.pubsub.heartbeatIntervalMs,
        mcacheLength: init.pubsub.historyLength,
        mcacheGossip: init.pubsub.historyGossip,
        seenTTL: init.pubsub.seenMessagesTtlMs,
        D: d * 6,
        Dlo: d * 5,
        Dhi: d * 12,
        Dscore: d * 4,
        Dout: d * 2,
        Dlazy: d * 6
      })
    }
  })
  libp2p.addEventListener('connection:open', (evt) => {
    if (evt.detail.direction === 'inbound') inbound.add(evt.detail.id)
  })
  libp2p.addEventListener('connection:close', (evt) => inbound.delete(evt.detail.id))
  return new ClusterHostImpl(init, libp2p, failures, bandwidth)
}

class ClusterHostImpl implements ClusterHost {
  readonly libp2p: ClusterLibp2p
  readonly peerId: string
  private readonly init: ClusterHostInit
  private readonly failures: PnetFailures
  private readonly bandwidth: BandwidthCounter
  private readonly known = new Set<string>()
  /** addresses read from the peerstore file, per peer (kept when the peer was not seen this run). */
  private readonly loaded = new Map<string, string[]>()
  private controller: AbortController | undefined
  private background = new Set<Promise<unknown>>()
  private running = false
  private readonly keeper: PubsubStreamKeeper
  private readonly onIdentify = (evt: CustomEvent<{ peerId: Libp2pPeerId }>): void => {
    this.known.add(evt.detail.peerId.toString())
  }
  private readonly onConnect = (evt: CustomEvent<Libp2pPeerId>): void => {
    this.known.add(evt.detail.toString())
    p2pLog.debug(`connected to ${evt.detail.toString()}`)
  }
  private readonly onDiscovery = (evt: CustomEvent<PeerInfo>): void => {
    const id = evt.detail.id
    if (this.libp2p.getConnections(id).length > 0) return
    this.track(
      this.libp2p.dial(id, { signal: this.controller?.signal }).then(
        () => p2pLog.info(`connected to discovered peer ${id.toString()}`),
        (err: Error) => p2pLog.debug(`dialing discovered peer ${id.toString()}: ${err.message}`)
      )
    )
  }

  constructor(init: ClusterHostInit, libp2p: ClusterLibp2p, failures: PnetFailures, bandwidth: BandwidthCounter) {
    this.init = init
    this.bandwidth = bandwidth
    this.libp2p = libp2p
    this.failures = failures
    this.peerId = libp2p.peerId.toString()
    this.keeper = new PubsubStreamKeeper(libp2p, init.pubsubStreamCheckMs ?? 1_000)
  }

  addresses(): string[] {
    return this.libp2p.getMultiaddrs().map((ma) => ma.toString())
  }

  connectedPeers(): string[] {
    return this.libp2p.getPeers().map((p) => p.toString())
  }

  bandwidthByProtocol(): Record<string, BandwidthStats> {
    return this.bandwidth.byProtocol()
  }

  knownPeers(): string[] {
    return [...this.known].filter((p) => p !== this.peerId)
  }

  private track(p: Promise<unknown>): void {
    this.background.add(p)
    void p.finally(() => this.background.delete(p))
  }

  async start(): Promise<void> {
    if (this.running) return
    this.running = true
    this.controller = new AbortController()
    this.libp2p.addEventListener('peer:identify', this.onIdentify)
    this.libp2p.addEventListener('peer:connect', this.onConnect)
    if (this.init.mdnsIntervalMs > 0) this.libp2p.addEventListener('peer:discovery', this.onDiscovery)
    await this.libp2p.start()
    this.keeper.start()
    log.info(`cluster host ${this.peerId} listening on: ${this.addresses().join(', ')}`)
    const signal = this.controller.signal
    this.track(this.dialStored(signal).catch((err: Error) => log.error(`connecting to stored peers: ${err.message}`)))
  }

  /** Reads the peerstore + peer_addresses, adds them to the libp2p peer store and dials each peer. */
  private async dialStored(signal: AbortSignal): Promise<void> {
    const stored = await readPeerstore(this.init.peerstorePath)
    const byPeer = new Map<string, string[]>()
    for (const a of [...this.init.peerAddresses, ...stored]) {
      const id = peerIdOf(a)
      if (id === undefined) {
        log.warn(`ignoring peer address without /p2p/<id>: ${a}`)
        continue
      }
      if (id === this.peerId) continue
      const list = byPeer.get(id) ?? []
      if (!list.includes(a)) list.push(a)
      byPeer.set(id, list)
    }
    for (const a of stored) {
      const id = peerIdOf(a)
      if (id === undefined || id === this.peerId) continue
      this.known.add(id)
      const l = this.loaded.get(id) ?? []
      l.push(a)
      this.loaded.set(id, l)
    }
    if (byPeer.size === 0) return
    log.info(`connecting to ${byPeer.size} peers from the peerstore and peer_addresses`)
    const dials: Array<Promise<void>> = []
    for (const [id, addrs] of byPeer) {
      if (signal.aborted) return
      const pid = peerIdFromString(id)
      try {
        await this.libp2p.peerStore.merge(pid, { multiaddrs: addrs.map((a) => multiaddr(transportKey(a))) })
      } catch (err) {
        log.warn(`adding ${id} to the peer store: ${errorMessage(err)}`)
        continue
      }
      dials.push(
        this.dialPeer(pid, addrs, signal).then(
          () => {},
          (err: Error) => {
            if (!signal.aborted) log.warn(`could not connect to peer ${id}: ${err.message}`)
          }
        )
      )
    }
    await Promise.all(dials)
  }

  private async dialPeer(pid: Libp2pPeerId, addrs: string[], signal: AbortSignal): Promise<void> {
    const started = Date.now()
    try {
      await this.libp2p.dial(pid, { signal: this.dialSignal(signal) })
    } catch (err) {
      if (addrs.some((a) => this.failures.failedSince(a, started))) {
        throw new Error('private network handshake failed (wrong cluster secret?)', { cause: err })
      }
      throw err
    }
  }

  private dialSignal(signal?: AbortSignal): AbortSignal {
    const signals = [signal, this.controller?.signal].filter((s): s is AbortSignal => s !== undefined)
    if (this.init.dialPeerTimeoutMs > 0) signals.push(AbortSignal.timeout(this.init.dialPeerTimeoutMs))
    return AbortSignal.any(signals)
  }

  async connect(addr: string, options?: AbortOptions): Promise<string> {
    if (!this.running) throw new Error('cluster host is not started')
    let target: Multiaddr | Libp2pPeerId
    if (addr.startsWith('/')) target = parseMultiaddr(addr, 'multiaddress')
    else {
      try {
        target = peerIdFromString(addr)
      } catch (err) {
        throw new InvalidMultiaddrError(`invalid multiaddress or peer ID "${addr}": ${errorMessage(err)}`)
      }
    }
    const started = Date.now()
    let conn: Connection
    try {
      conn = await this.libp2p.dial(target, { signal: this.dialSignal(options?.signal) })
    } catch (err) {
      if (addr.startsWith('/') && this.failures.failedSince(addr, started)) {
        throw new Error('private network handshake failed (wrong cluster secret?)', { cause: err })
      }
      throw err
    }
    const id = conn.remotePeer.toString()
    this.known.add(id)
    return id
  }

  async bootstrap(addrs: string[], options?: AbortOptions): Promise<string> {
    if (addrs.length === 0) throw new BootstrapError([])
    for (const a of addrs) parseMultiaddr(a, 'bootstrap multiaddress')
    const failures: Array<{ addr: string; reason: string }> = []
    return await new Promise<string>((resolve, reject) => {
      let pending = addrs.length
      let done = false
      for (const a of addrs) {
        this.track(
          this.connect(a, options).then(
            (id) => {
              log.info(`bootstrapped to ${a}`)
              if (!done) {
                done = true
                resolve(id)
              }
            },
            (err: Error) => {
              const reason = err.message
              // wrong-secret failures were already logged by the pnet check
              if (!reason.startsWith('private network handshake failed')) p2pLog.warn(`connection to ${a} failed: ${reason}`)
              failures.push({ addr: a, reason })
              if (--pending === 0 && !done) {
                done = true
                reject(new BootstrapError(failures))
              }
            }
          )
        )
      }
    })
  }

  async savePeerstore(peers?: string[], options?: AbortOptions): Promise<void> {
    const lines: string[] = []
    for (const id of peers ?? this.knownPeers()) {
      if (id === this.peerId) continue
      options?.signal?.throwIfAborted()
      let addrs: string[] = []
      try {
        const p = await this.libp2p.peerStore.get(peerIdFromString(id), options)
        addrs = p.addresses
          .map((a) => a.multiaddr)
          .filter((ma) => !ma.getComponents().some((c) => c.name === 'p2p-circuit'))
          .map((ma) => `${transportKey(ma)}/p2p/${id}`)
      } catch {
        // not in the libp2p peer store: fall back to what was loaded
      }
      if (addrs.length === 0) addrs = this.loaded.get(id) ?? []
      lines.push(...addrs)
    }
    await writePeerstore(this.init.peerstorePath, lines)
    log.debug(`peerstore saved with ${lines.length} addresses`)
  }

  async stop(): Promise<void> {
    if (!this.running) return
    this.running = false
    try {
      await this.savePeerstore()
    } catch (err) {
      log.error(`saving peerstore: ${errorMessage(err)}`)
    }
    this.controller?.abort()
    this.keeper.stop()
    this.libp2p.removeEventListener('peer:identify', this.onIdentify)
    this.libp2p.removeEventListener('peer:connect', this.onConnect)
    this.libp2p.removeEventListener('peer:discovery', this.onDiscovery)
    await Promise.allSettled([...this.background])
    await this.libp2p.stop()
    log.info('cluster host stopped')
  }
}
