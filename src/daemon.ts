/**
 * The composition root (upstream cmd/ipfs-cluster-service/daemon.go +
 * cluster.go NewCluster/Shutdown): builds every component from a loaded
 * `ServiceConfig`, starts them in order, and stops them in upstream's
 * order: APIs first, then the cluster loops, consensus, monitor, IPFS
 * connector, tracker, informers, allocator, datastore.
 */
import { join } from 'node:path'
import { createAddHandler } from './adder/index.ts'
import { createBalancedAllocator } from './allocator/balanced/index.ts'
import { createRestApiServer, type RestApiServer } from './api/rest/index.ts'
import { Cluster } from './cluster.ts'
import type { Identity, ServiceConfig } from './config/index.ts'
import { createCrdtConsensus } from './consensus/crdt/index.ts'
import { openDatastore, type OpenedDatastore } from './datastore/index.ts'
import { createDiskInformer } from './informer/disk/index.ts'
import { createPinQueueInformer } from './informer/pinqueue/index.ts'
import { createTagsInformer } from './informer/tags/index.ts'
import type { Informer, Startable } from './interfaces.ts'
import { IpfsHttpConnector } from './ipfsconn/ipfshttp/index.ts'
import { createPubsubMonitor } from './monitor/pubsubmon/index.ts'
import { createMetricsServer } from './observability/metrics.ts'
import { getLogger } from './observability/logging.ts'
import { createStatelessPinTracker } from './pintracker/index.ts'
import { acquireLock } from './runtime/lock.ts'

const log = getLogger('service')

export interface Peer {
  cluster: Cluster
  restapi: RestApiServer | undefined
  /** Stops everything in upstream's order; idempotent. */
  stop(): Promise<void>
}

export interface StartPeerOptions {
  config: ServiceConfig
  identity: Identity
  /** Overrides the config's follower_mode (ipfs-cluster-follow forces it). */
  followerMode?: boolean
}

/**
 * Builds and starts a peer.
 * @throws LockHeldError when another daemon holds `cluster.lock`.
 * @throws Error from any component that cannot start (the ones already started are stopped).
 */
export async function startPeer(opts: StartPeerOptions): Promise<Peer> {
  const { config, identity } = opts
  const peerId = identity.id
  const peerName = config.cluster.peername
  const followerMode = opts.followerMode ?? config.cluster.followerMode
  const started: Startable[] = []
  const release = acquireLock(join(config.folder, 'cluster.lock'))
  let ds: OpenedDatastore | undefined

  const stopAll = async (): Promise<void> => {
    for (const s of started.reverse()) {
      await s.stop().catch((err: unknown) => log.error(`stopping: ${(err as Error).message}`))
    }
    started.length = 0
    await ds?.close().catch((err: unknown) => log.error(`closing the datastore: ${(err as Error).message}`))
    ds = undefined
    release()
  }

  try {
    ds = await openDatastore({ backend: config.datastore.backend, folder: config.datastore.folder })
    log.info(`datastore: ${config.datastore.backend} at ${config.datastore.folder}`)

    const ipfsCfg = config.ipfsConnector.ipfshttp
    const ipfs = new IpfsHttpConnector({ ...ipfsCfg })
    const crdtCfg = config.consensus.crdt
    let cluster: Cluster | undefined
    const consensus = createCrdtConsensus(
      {
        peerId,
        clusterName: crdtCfg.clusterName,
        trustedPeers: crdtCfg.trustAll ? ['*'] : crdtCfg.trustedPeers,
        batching: crdtCfg.batching,
        rebroadcastIntervalMs: crdtCfg.rebroadcastIntervalMs,
        repairIntervalMs: crdtCfg.repairIntervalMs,
        namespace: crdtCfg.datastoreNamespace
      },
      {
        datastore: ds.datastore,
        onChange: (change) => cluster?.onStateChange(change)
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
    const monitor = createPubsubMonitor({ checkIntervalMs: config.monitor.pubsubmon.checkIntervalMs, peerId }, {})

    cluster = new Cluster(
      {
        peerId,
        peerName,
        replicationFactorMin: config.cluster.replicationFactorMin,
        replicationFactorMax: config.cluster.replicationFactorMax,
        stateSyncIntervalMs: config.cluster.stateSyncIntervalMs,
        monitorPingIntervalMs: config.cluster.monitorPingIntervalMs,
        followerMode,
        disableRepinning: config.cluster.disableRepinning,
        pinOnlyOnTrustedPeers: config.cluster.pinOnlyOnTrustedPeers
      },
      { consensus, tracker, ipfs, allocator, informers, monitor }
    )

    // Start order: the reverse of the stop order.
    for (const s of [allocator, ...informers, tracker, ipfs, monitor, consensus] as Startable[]) {
      await s.start()
      started.push(s)
    }
    await consensus.ready()
    await cluster.start()
    started.push(cluster)

    const metricsServer = createMetricsServer(config.observations.metrics)
    await metricsServer.start()
    started.push(metricsServer)

    let restapi: RestApiServer | undefined
    const restCfg = config.api.restapi
    if (restCfg !== null) {
      // ADDER WIRING (ctl add / POST /add), single-peer form: blocks go to the
      // local IPFS daemon and the pin goes through Cluster.pin. TODO(lead):
      // allocate with Cluster's BlockAllocate and send remote peers' blocks
      // over RPC (`blockSinks`), passing the allocations to the pin.
      const pinner = cluster
      const add = createAddHandler({
        localPeer: peerId,
        ipfs,
        allocate: async () => [peerId],
        pin: (cid, opts, o) => pinner.pin(cid, opts, o)
      })
      restapi = createRestApiServer({ ...restCfg }, { cluster, add })
      await restapi.start()
      started.push(restapi)
      log.info(`REST API (HTTP): ${restapi.addresses().join(', ')}`)
    }
    log.info(`IPFS Cluster peer ${peerId} (${peerName}) started`)
    return { cluster, restapi, stop: stopAll }
  } catch (err) {
    await stopAll()
    throw err
  }
}
