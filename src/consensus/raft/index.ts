/**
 * Raft consensus (issue 14): our own Raft, on the `Consensus` interface the
 * crdt component implements. Files:
 * - `core.ts`: the deterministic Raft state machine (election with pre-vote
 *   and check-quorum, replication, commit, snapshots, single-server
 *   membership changes, leadership transfer), tested by simulation;
 * - `consensus.ts`: the component (timers, storage, state machine, forwarding);
 * - `storage.ts`: log + stable store + snapshot in the peer's datastore;
 * - `transport.ts`: the libp2p protocol `/ipfs-cluster-ts/raft/1.0.0`;
 * - `codec.ts`: msgpack encoding of messages and entries, with validation.
 * Not wire-compatible with upstream's hashicorp/raft peers (mixed Go/ours
 * Raft clusters are out of scope).
 */
import type { Libp2p } from '@libp2p/interface'
import type { Datastore } from 'interface-datastore'
import type { RaftConfig } from '../../config/types.ts'
import type { PeerId } from '../../types/index.ts'
import { RaftConsensus, type RaftConsensusComponents } from './consensus.ts'
import { libp2pRaftTransport } from './transport.ts'

export { RaftCodecError } from './codec.ts'
export { NoLeaderError, RaftCommitError, RaftConsensus, type RaftConsensusComponents, type RaftConsensusInit, type RaftForwardedOp } from './consensus.ts'
export { RaftCore, type RaftCoreConfig, type RaftRole } from './core.ts'
export { ConfigChangeError, NotLeaderError } from './errors.ts'
export { libp2pRaftTransport, memoryRaftNetwork, RAFT_PROTOCOL, type RaftTransport } from './transport.ts'

/**
 * A running peer's Raft consensus from the `consensus.raft` section, over
 * the cluster host (`staging`: a peer started with `--bootstrap`, which joins
 * instead of bootstrapping a cluster of its own).
 */
export function createRaftConsensus(
  cfg: RaftConfig,
  components: { peerId: PeerId; datastore: Datastore; libp2p: Libp2p; forward?: RaftConsensusComponents['forward']; staging?: boolean }
): RaftConsensus {
  return new RaftConsensus(
    {
      peerId: components.peerId,
      initPeerset: cfg.initPeerset,
      staging: components.staging,
      waitForLeaderTimeoutMs: cfg.waitForLeaderTimeoutMs,
      commitRetries: cfg.commitRetries,
      commitRetryDelayMs: cfg.commitRetryDelayMs,
      heartbeatTimeoutMs: cfg.heartbeatTimeoutMs,
      electionTimeoutMs: cfg.electionTimeoutMs,
      leaderLeaseTimeoutMs: cfg.leaderLeaseTimeoutMs,
      maxAppendEntries: cfg.maxAppendEntries,
      trailingLogs: cfg.trailingLogs,
      snapshotIntervalMs: cfg.snapshotIntervalMs,
      snapshotThreshold: cfg.snapshotThreshold,
      namespace: cfg.datastoreNamespace
    },
    {
      datastore: components.datastore,
      transport: libp2pRaftTransport({ networkTimeoutMs: cfg.networkTimeoutMs }, { libp2p: components.libp2p }),
      forward: components.forward
    }
  )
}
