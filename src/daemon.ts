/**
 * The composition root (upstream cmd/ipfs-cluster-service/daemon.go +
 * cluster.go NewCluster/Shutdown): builds every component from a loaded
 * `ServiceConfig`, starts them in order, and stops them in upstream's
 * order: APIs first, then the cluster loops, consensus, monitor, IPFS
 * connector, tracker, informers, allocator, datastore.
 */
import { join } from 'node:path'
import { batchedBlockStream, blockSinkFactory, createAddHandler, type UploadComponents } from './adder/index.ts'
import { createIpfsProxyServer } from './api/ipfsproxy/index.ts'
import { createBalancedAllocator } from './allocator/balanced/index.ts'
import { createPinSvcApiServer } from './api/pinsvcapi/index.ts'
import { createRestApiServer, type RestApiServer } from './api/rest/index.ts'
import { Cluster } from './cluster.ts'
import type { Identity, ServiceConfig } from './config/index.ts'
import { DISK } from './config/sections.ts'
import { fieldDefaults } from './config/typed.ts'
import { errorMessage, UnsupportedError } from './errors.ts'
import { createConsensus, createRaftConsensus, type RaftConsensus } from './consensus/index.ts'
import { type ClusterHost, createClusterHost, createPubsubAdapter } from './host/index.ts'
import { openDatastore, type OpenedDatastore } from './datastore/index.ts'
import { createDiskInformer } from './informer/disk/index.ts'
import { createPinQueueInformer } from './informer/pinqueue/index.ts'
import { createTagsInformer } from './informer/tags/index.ts'
import type { AbortOptions, Consensus, Informer, IPFSConnector, Startable } from './interfaces.ts'
import { IpfsHttpConnector } from './ipfsconn/ipfshttp/index.ts'
import { createPubsubMonitor } from './monitor/pubsubmon/index.ts'
import { clusterRpcClient, createRpc, DEFAULT_RPC_POLICY, peerStoreAddresses, registerClusterRpc } from './rpc/index.ts'
import { createMetricsServer } from './observability/metrics.ts'
import { getLogger } from './observability/logging.ts'
import { createStatelessPinTracker } from './pintracker/index.ts'
import type { Rpc } from './rpc/rpc.ts'
import type { Pin } from './types/index.ts'
import { GO_PIN, peerToGo, toGo } from './rpc/gotypes.ts'
import { acquireLock } from './runtime/lock.ts'
import { datastoreRemovedPeers } from './state/removed-peers.ts'

const log = getLogger('service')

export interface Peer {
  cluster: Cluster
  host: ClusterHost
  restapi: RestApiServer | undefined
  /** Stops everything in upstream's order; idempotent. */
  stop(): Promise<void>
}

export interface StartPeerOptions {
  config: ServiceConfig
  identity: Identity
  /** Overrides the config's follower_mode (ipfs-cluster-follow forces it). */
  followerMode?: boolean
  /** `daemon --bootstrap`: multiaddrs with /p2p/<id> of peers to join. */
  bootstrap?: string[]
  /** `daemon --no-trust`: do not add the bootstrap peers to the crdt trusted peers. */
  noTrust?: boolean
}

/** Refused at start: OpenTelemetry tracing (upstream `observations/setup.go` SetupTracing) is not implemented. */
export const TRACING_UNSUPPORTED =
  'observations.tracing.enable_tracing: tracing is not supported by this implementation; set it to false (and do not pass --tracing)'

/** Config values this implementation cannot honour. @throws UnsupportedError naming the key. */
export function refuseUnsupported(config: ServiceConfig): void {
  if (config.observations.tracing.enableTracing) throw new UnsupportedError(TRACING_UNSUPPORTED)
}

/**
 * Builds and starts a peer.
 * @throws LockHeldError when another daemon holds `cluster.lock`.
 * @throws Error from any component that cannot start (the ones already started are stopped).
 */
export async function startPeer(opts: StartPeerOptions): Promise<Peer> {
  const { config, identity } = opts
  refuseUnsupported(config)
  const peerId = identity.id
  const peerName = config.cluster.peername
  const followerMode = opts.followerMode ?? config.cluster.followerMode
  const started: Startable[] = []
  const release = acquireLock(join(config.folder, 'cluster.lock'))
  let ds: OpenedDatastore | undefined

  const stopAll = async (): Promise<void> => {
    for (const s of started.reverse()) {
      await s.stop().catch((err: unknown) => log.error(`stopping: ${errorMessage(err)}`))
    }
    started.length = 0
    await ds?.close().catch((err: unknown) => log.error(`closing the datastore: ${errorMessage(err)}`))
    ds = undefined
    release()
  }

  try {
    ds = await openDatastore({ backend: config.datastore.backend, folder: config.datastore.folder })
    log.info(`datastore: ${config.datastore.backend} at ${config.datastore.folder}`)

    const cl = config.cluster
    const host = await createClusterHost({
      privateKey: identity.privateKey,
      secret: cl.secret,
      listenMultiaddress: cl.listenMultiaddress,
      announceMultiaddress: cl.announceMultiaddress,
      noAnnounceMultiaddress: cl.noAnnounceMultiaddress,
      connectionManager: cl.connectionManager,
      resourceManager: cl.resourceManager,
      enableRelayHop: cl.enableRelayHop,
      mdnsIntervalMs: cl.mdnsIntervalMs,
      dialPeerTimeoutMs: cl.dialPeerTimeoutMs,
      pubsub: cl.pubsub,
      peerstorePath: cl.peerstorePath,
      peerAddresses: cl.peerAddresses,
      followerMode
    })
    await host.start()
    started.push(host)
    const pubsub = createPubsubAdapter(host)
    log.info(`cluster swarm listening on ${host.addresses().join(', ')}`)

    const raftCfg = config.consensus.raft
    const staging = raftCfg !== null && opts.bootstrap !== undefined && opts.bootstrap.length > 0
    // raft: rpc is built after the consensus (it asks it who is trusted); forwarding binds late
    let forwardRpc: Rpc | undefined
    let raft: RaftConsensus | undefined
    if (raftCfg !== null) {
      raft = createRaftConsensus(raftCfg, {
        peerId,
        datastore: ds.datastore,
        libp2p: host.libp2p,
        staging,
        forward: async (leader, op, arg, o) => {
          if (forwardRpc === undefined) throw new Error('raft: RPC not ready')
          const wire = op === 'LogPin' || op === 'LogUnpin' ? toGo(GO_PIN, arg as Pin) : peerToGo(arg as string)
          await forwardRpc.call(leader, 'Consensus', op, wire, { signal: o?.signal, timeoutMs: raftCfg.networkTimeoutMs + raftCfg.waitForLeaderTimeoutMs })
        }
      })
      if (staging && !(await raft.isEmpty())) {
        // upstream moves the raft folder aside before joining with --bootstrap
        log.warn('raft: --bootstrap with existing raft state: cleaning it before joining')
        await raft.clean()
      }
      log.info('consensus: raft')
    }
    const raftPeers = raft === undefined ? undefined : (o?: AbortOptions) => raft.peers(o)
    // upstream passes the consensus peerset to the monitor in raft mode only
    const monitor = createPubsubMonitor({ checkIntervalMs: config.monitor.pubsubmon.checkIntervalMs, peerId }, { pubsub, peers: raftPeers })
    const peerConsensus: Startable & { consensus: Consensus } =
      raft !== undefined ? { consensus: raft, start: () => raft.start(), stop: () => raft.stop() } : createConsensus(config.consensus.crdt, { peerId, datastore: ds.datastore, libp2p: host.libp2p, pubsub, monitor })
    const consensus = peerConsensus.consensus
    // followers close Cluster.RepoGCLocal: nobody else may gc their kubo (upstream ipfs-cluster-follow)
    const policy = followerMode ? { ...DEFAULT_RPC_POLICY, 'Cluster.RepoGCLocal': 'closed' as const } : DEFAULT_RPC_POLICY
    const rpc = createRpc({ peerId, policy }, { libp2p: host.libp2p, isTrusted: (p) => consensus.isTrustedPeer(p) })
    forwardRpc = rpc
    const rpcClient = clusterRpcClient(rpc)
    // connect_swarms: this peer's kubo connects to the other peers' kubos,
    // found through Cluster.Peers on this peer (as upstream, over RPC)
    // and, every informer_trigger_interval pins, asks this peer to publish its metrics
    const clusterPeers = (o?: { signal?: AbortSignal }) => rpcClient.peers(peerId, o)
    const bundledCfg = config.ipfsConnector.bundled
    // ipfs_connector.bundled: the embedded IPFS node replaces kubo. Loaded
    // only then: Helia and its libp2p modules took ~10 ms of every start
    const ipfs: IPFSConnector =
      bundledCfg !== null
        ? (await import('./ipfsconn/bundled/index.ts')).createBundledConnector({ ...bundledCfg }, { clusterPeers })
        : new IpfsHttpConnector(
            { ...config.ipfsConnector.ipfshttp },
            {
              clusterPeers,
              sendInformersMetrics: (o) => rpcClient.sendInformersMetrics(peerId, { signal: o?.signal })
            }
          )
    const trackerCfg = config.pinTracker.stateless
    const tracker = createStatelessPinTracker(
      {
        peerId,
        peerName,
        concurrentPins: trackerCfg.concurrentPins,
        maxPinQueueSize: trackerCfg.maxPinQueueSize,
        priorityPinMaxAgeMs: trackerCfg.priorityPinMaxAgeMs,
        priorityPinMaxRetries: trackerCfg.priorityPinMaxRetries,
        pinRecoverIntervalMs: config.cluster.pinRecoverIntervalMs,
        stateSyncIntervalMs: config.cluster.stateSyncIntervalMs
      },
      { ipfs, state: (o) => consensus.state(o) }
    )
    const informers: Informer[] = []
    if (config.informer.disk !== null) informers.push(createDiskInformer(config.informer.disk, { ipfs, peerId }))
    if (config.informer.tags !== null) informers.push(createTagsInformer(config.informer.tags, { peerId }))
    if (config.informer.pinqueue !== null) informers.push(createPinQueueInformer(config.informer.pinqueue, { tracker, peerId }))
    const allocator = createBalancedAllocator(config.allocator.balanced)

    const cluster = new Cluster(
      {
        peerId,
        peerName,
        replicationFactorMin: cl.replicationFactorMin,
        replicationFactorMax: cl.replicationFactorMax,
        stateSyncIntervalMs: cl.stateSyncIntervalMs,
        monitorPingIntervalMs: cl.monitorPingIntervalMs,
        peerWatchIntervalMs: cl.peerWatchIntervalMs,
        leaveOnShutdown: cl.leaveOnShutdown,
        followerMode,
        disableRepinning: cl.disableRepinning,
        pinOnlyOnTrustedPeers: cl.pinOnlyOnTrustedPeers,
        addresses: () => host.addresses(),
        informerIntervalMs: Math.floor(
          Math.min(
            ...[config.informer.disk, config.informer.tags, config.informer.pinqueue].map((i) => i?.metricTtlMs ?? fieldDefaults(DISK).metricTtlMs)
          ) / 2
        ),
        peerAddresses: peerStoreAddresses(host.libp2p)
      },
      {
        consensus,
        swarm: host,
        tracker,
        ipfs,
        allocator,
        informers,
        monitor,
        rpc,
        removedPeers: datastoreRemovedPeers(ds.datastore)
      }
    )
    registerClusterRpc(rpc, { cluster, tracker, ipfs, monitor, consensus })
    await rpc.start()
    started.push(rpc)

    // Start order: the reverse of the stop order.
    for (const s of [allocator, ...informers, tracker, ipfs, monitor, peerConsensus] as Startable[]) {
      await s.start()
      started.push(s)
    }
    if (staging) {
      // raft, joining: added as a voter by the cluster first, then ready (upstream Join, then WaitForSync)
      await cluster.start()
      started.push(cluster)
      await cluster.bootstrap(opts.bootstrap ?? [], { trust: opts.noTrust !== true })
      await consensus.ready()
    } else {
      await consensus.ready()
      await cluster.start()
      started.push(cluster)
      if (opts.bootstrap !== undefined && opts.bootstrap.length > 0) {
        await cluster.bootstrap(opts.bootstrap, { trust: opts.noTrust !== true })
      }
    }

    const metricsServer = createMetricsServer(config.observations.metrics)
    await metricsServer.start()
    started.push(metricsServer)

    // the adder (REST POST /add, the proxy's add): blocks go to the IPFS
    // daemons of the peers chosen by Cluster.blockAllocate (remote ones
    // through the IPFSConnector.BlockStream RPC), then the pin is committed
    // with those peers first. When only the local kubo gets them, kubo's
    // own add builds the DAG (the relay).
    const adder: UploadComponents = {
      localPeer: peerId,
      ipfs,
      // kubo's own add, when the blocks go to the local kubo only (src/adder/relay.ts)
      ...(ipfs instanceof IpfsHttpConnector ? { relay: ipfs } : {}),
      allocate: (_cid, opts, o) => cluster.blockAllocate(opts, o),
      pin: (cid, opts, o) =>
        cluster.pin(cid, { ...opts, userAllocations: opts.allocations.length > 0 ? opts.allocations : opts.userAllocations }, o),
      blockSinks: blockSinkFactory({
        localPeer: peerId,
        ipfs,
        remote: (peer) => batchedBlockStream((blocks, o) => rpcClient.blockStream(peer, blocks, { signal: o?.signal, timeoutMs: 120_000 }))
      })
    }
    let restapi: RestApiServer | undefined
    const restCfg = config.api.restapi
    if (restCfg !== null) {
      restapi = createRestApiServer({ ...restCfg }, { cluster, add: createAddHandler(adder) })
      await restapi.start()
      started.push(restapi)
      log.info(`REST API (HTTP): ${restapi.addresses().join(', ')}`)
    }
    const proxyCfg = config.api.ipfsproxy
    if (proxyCfg !== null) {
      const proxy = createIpfsProxyServer(
        { ...proxyCfg, basicAuthCredentials: restCfg?.basicAuthCredentials ?? null },
        {
          cluster,
          adder,
          localPeer: peerId,
          resolve: (path, o) => ipfs.resolve(path, o),
          // the crdt peerset (peers with a valid `peerset_metric` metric)
          peers: (o) => consensus.peers(o),
          repoStat: (peer, { sizeOnly }, o) => rpcClient.repoStat(peer, { signal: o?.signal }, sizeOnly)
        }
      )
      await proxy.start()
      started.push(proxy)
    }

    // Pinning Service API (api.pinsvcapi): after the REST API, so it stops first.
    const pinsvcCfg = config.api.pinsvcapi
    if (pinsvcCfg !== null) {
      const pinsvcapi = createPinSvcApiServer({ ...pinsvcCfg }, { cluster })
      await pinsvcapi.start()
      started.push(pinsvcapi)
    }
    log.info(`IPFS Cluster peer ${peerId} (${peerName}) started`)
    return { cluster, host, restapi, stop: stopAll }
  } catch (err) {
    await stopAll()
    throw err
  }
}
