/**
 * The consensus component, built in one place (upstream
 * cmd/ipfs-cluster-service daemon.go `setupConsensus`):
 * - `createConsensus`: a running peer's crdt consensus over the cluster host
 *   (gossipsub head broadcasts, bitswap and head sync), from `consensus.crdt`;
 *   its broadcasts are exactly go-ds-crdt's, so Go v1.1.6 peers share the
 *   pinset (no inline head blocks: see `inlineMaxBytes` below);
 * - `createOfflineConsensus`: the same state on a stopped peer, with no
 *   network and every operation committed at once, for `service state
 *   export|import|cleanup` and the follower's offline `list`.
 * - `createRaftConsensus`: our Raft (./raft/), from `consensus.raft`.
 */
import type { Datastore } from 'interface-datastore'
import type { CrdtConfig } from '../config/types.ts'
import type { PubsubAdapter } from '../host/index.ts'
import type { PeerMonitor, Startable } from '../interfaces.ts'
import { peersetFromMetric } from '../monitor/peerset.ts'
import { CRDT_DEFAULTS, type CrdtConsensus, createCrdtConsensus } from './crdt/index.ts'
import { createCrdtNetwork } from './crdt/libp2p.ts'

export { createRaftConsensus, RaftConsensus } from './raft/index.ts'

type CrdtNetworkComponents = Parameters<typeof createCrdtNetwork>[1]

export interface ConsensusComponents {
  /** this peer's ID */
  peerId: string
  datastore: Datastore
  /** the cluster host's libp2p node */
  libp2p: CrdtNetworkComponents['libp2p']
  /** gossipsub on the cluster host (`createPubsubAdapter(host)`) */
  pubsub: PubsubAdapter
  /** the peer monitor: the peerset is the peers with a valid `peerset_metric` metric */
  monitor: Pick<PeerMonitor, 'latestMetrics'>
}

/** A running peer's consensus: `start()` starts its network, then the consensus; `stop()` the reverse. */
export interface PeerConsensus extends Startable {
  readonly consensus: CrdtConsensus
}

/** The consensus of a running peer, from the `consensus.crdt` section (upstream `crdt.New`). */
export function createConsensus(cfg: CrdtConfig, components: ConsensusComponents): PeerConsensus {
  let consensus: CrdtConsensus | undefined
  const net = createCrdtNetwork(
    {
      clusterName: cfg.clusterName,
      // heads and blocks are taken from trusted peers only
      isTrusted: (p) => consensus?.isTrustedPeer(p) ?? false,
      namespace: cfg.datastoreNamespace,
      // heads go out as go-ds-crdt's plain `CRDTBroadcast`: go-ds-crdt v0.6.8
      // reads any unknown field as a legacy CID and drops the whole message,
      // so inline head blocks (field 15) would cut Go peers off the pinset.
      // Our peers fetch a new head block with the catch-up protocol instead.
      inlineMaxBytes: 0
    },
    { libp2p: components.libp2p, pubsub: components.pubsub, datastore: components.datastore }
  )
  consensus = createCrdtConsensus(
    {
      peerId: components.peerId,
      clusterName: cfg.clusterName,
      trustedPeers: cfg.trustAll ? ['*'] : cfg.trustedPeers,
      batching: cfg.batching,
      rebroadcastIntervalMs: cfg.rebroadcastIntervalMs,
      repairIntervalMs: cfg.repairIntervalMs,
      namespace: cfg.datastoreNamespace
    },
    {
      datastore: components.datastore,
      broadcaster: net.broadcaster,
      dagSyncer: net.dagSyncer,
      peerset: peersetFromMetric(components.monitor, components.peerId, cfg.peersetMetric)
    }
  )
  const c = consensus
  let started = false
  return {
    consensus: c,
    async start() {
      if (started) return
      await net.start()
      try {
        await c.start()
      } catch (err) {
        await net.stop()
        throw err
      }
      started = true
    },
    async stop() {
      if (!started) return
      started = false
      try {
        await c.stop()
      } finally {
        await net.stop()
      }
    }
  }
}

/**
 * The consensus state of a stopped peer: no network, batching off (every
 * operation is committed before it returns), no change hooks (nothing is
 * logged per pin, as upstream's `OfflineState`). The caller starts and stops it.
 */
export function createOfflineConsensus(
  init: { peerId: string; clusterName: string; namespace: string; trustedPeers?: string[] },
  components: { datastore: Datastore }
): CrdtConsensus {
  return createCrdtConsensus(
    {
      peerId: init.peerId,
      clusterName: init.clusterName,
      trustedPeers: init.trustedPeers ?? ['*'],
      batching: { ...CRDT_DEFAULTS.batching, maxBatchSize: 0, maxBatchAgeMs: 0 },
      rebroadcastIntervalMs: 0,
      repairIntervalMs: 0,
      namespace: init.namespace,
      changeHooks: false
    },
    { datastore: components.datastore }
  )
}
