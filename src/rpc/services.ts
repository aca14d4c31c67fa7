/**
 * The cluster's RPC services (upstream `rpc_api.go`: ClusterRPCAPI,
 * PinTrackerRPCAPI, IPFSConnectorRPCAPI, ConsensusRPCAPI,
 * PeerMonitorRPCAPI) with upstream's argument and reply types:
 * `registerClusterRpc` serves them, and `clusterRpcClient` calls them on
 * any peer, Go or ours, with typed values.
 *
 * Values travel as Go's structs do through go-libp2p-gorpc (`gotypes.ts`:
 * `codec` tag keys, binary CIDs, peer IDs and multiaddrs, integer enums).
 */
import type { CID } from 'multiformats/cid'
import type { AbortOptions, ClusterAPI, Consensus, IPFSConnector, PeerMonitor, PinTracker } from '../interfaces.ts'
import type { ID, IPFSID, IPFSRepoStat, Metric, PeerId, Pin, PinInfo, RepoGC, TrackerStatus } from '../types/index.ts'
import { InvalidArgumentError } from '../errors.ts'
import {
  cidFromGo,
  fromGo,
  GO_ID,
  GO_IPFS_REPO_STAT,
  GO_IPFSID,
  GO_METRIC,
  GO_NODE_WITH_META,
  GO_PIN,
  GO_REPO_GC,
  GO_VERSION,
  peerFromGo,
  peerToGo,
  statusFilterFromGo,
  statusFilterToGo,
  toGo,
  valueFromGo,
  valueToGo
} from './gotypes.ts'
import { GoRaw } from './msgpack.ts'
import { encodePinInfo, pinInfoFromGo } from './pininfo.ts'
import type { Rpc, RpcCallOptions, RpcClient } from './rpc.ts'

/** Go's `struct{}`: the argument of methods that take none, the reply of those that give none. */
const EMPTY = {}

function cidArg(arg: unknown): CID {
  const c = cidFromGo(arg)
  if (c === null) throw new InvalidArgumentError('a CID argument is required')
  return c
}

function peerArg(arg: unknown): PeerId {
  const p = peerFromGo(arg)
  if (p === '') throw new InvalidArgumentError('a peer ID argument is required')
  return p
}

/** The first streamed argument (undefined when the caller sent none). */
async function firstArg(args: unknown): Promise<unknown> {
  for await (const a of args as AsyncIterable<unknown>) return a
  return undefined
}

async function* blocksFrom(args: unknown): AsyncGenerator<RpcBlock> {
  for await (const a of args as AsyncIterable<unknown>) {
    const n = fromGo<{ bytes: Uint8Array; cid: CID | null }>(GO_NODE_WITH_META, a)
    if (n.cid === null) throw new InvalidArgumentError('BlockStream: a block without a CID')
    yield { cid: n.cid, bytes: n.bytes }
  }
}

/** A reply stream that ends when `work` does, giving nothing. */
async function* noReplies(work: Promise<void>): AsyncGenerator<never> {
  await work
  yield* []
}

const idFromGo = (v: unknown): ID => fromGo<ID>(GO_ID, v)

/** What `Cluster.PeerRemove` may call besides `ClusterAPI.peerRemove`. */
export interface PeerRemovalHandler {
  /** Records that another peer removed `peer` (no re-allocation here). */
  forgetPeer(peer: PeerId, options?: AbortOptions): Promise<void>
}

/** Upstream `Cluster.SendInformersMetrics`: publish every informer's metrics now. */
export interface InformerTrigger {
  sendInformersMetrics(options?: AbortOptions): Promise<void>
}

export interface ClusterRpcServices {
  cluster: ClusterAPI & Partial<PeerRemovalHandler> & Partial<InformerTrigger>
  tracker: PinTracker
  ipfs: IPFSConnector
  monitor: PeerMonitor
  consensus: Consensus
}

/** A block sent with `IPFSConnector.BlockStream`. */
export interface RpcBlock {
  cid: CID
  bytes: Uint8Array
}

/**
 * Registers the handlers of the Cluster, PinTracker, IPFSConnector,
 * Consensus and PeerMonitor services on `rpc` (access as in
 * `DEFAULT_RPC_POLICY`), with upstream's signatures (argument -> reply,
 * `*` = streamed, `{}` = Go's struct{}):
 * - Cluster.ID {} -> api.ID; Cluster.IDStream * -> *api.ID (one);
 *   Cluster.Peers * -> *api.ID; Cluster.PeerAdd peer.ID -> api.ID;
 *   Cluster.PeerRemove peer.ID -> {} (the full removal, as upstream);
 *   Cluster.Version {} -> api.Version; Cluster.SendInformersMetrics {} -> {};
 *   Cluster.RepoGCLocal {} -> api.RepoGC; Cluster.RecoverAllLocal * -> *api.PinInfo;
 *   Cluster.RecoverLocal api.Cid -> api.PinInfo; Cluster.IPFSID peer.ID -> api.IPFSID
 * - Cluster.ForgetPeer peer.ID -> {}: ours only (Go peers answer "can't find
 *   method"): record a removal another peer made, without re-allocating
 * - PinTracker.Status / Recover api.Cid -> api.PinInfo; PinTracker.StatusAll
 *   *TrackerStatus (a bit mask, 0 = all) -> *api.PinInfo; PinTracker.RecoverAll
 *   * -> *api.PinInfo; PinTracker.PinQueueSize {} -> int64
 * - IPFSConnector.BlockStream *api.NodeWithMeta -> nothing (stored as they come);
 *   IPFSConnector.RepoStat {} -> api.IPFSRepoStat (our peers may send
 *   `{full: true}` for NumObjects/RepoPath/Version under extra keys `n`,
 *   `p`, `ver`, which Go ignores); IPFSConnector.SwarmPeers {} -> []peer.ID
 * - Consensus.Peers {} -> []peer.ID; raft only: Consensus.LogPin / LogUnpin api.Pin -> {}
 *   and Consensus.AddPeer / RmPeer peer.ID -> {} (committed by this peer, the leader)
 * - PeerMonitor.LatestMetrics string -> []api.Metric; PeerMonitor.MetricNames {} -> []string
 */
export function registerClusterRpc(rpc: Pick<Rpc, 'register'>, s: ClusterRpcServices): void {
  const { cluster, tracker, ipfs, monitor, consensus } = s
  const idToGo = (id: ID): unknown => toGo(GO_ID, id)
  // the msgpack bytes of toGo(GO_PININFO, pi), written directly (pininfo.ts)
  const pinInfoToGo = (pi: PinInfo): unknown => new GoRaw(encodePinInfo(pi))

  rpc.register('Cluster', 'ID', async (_a, ctx) => idToGo(await cluster.id({ signal: ctx.signal })))
  rpc.register('Cluster', 'IDStream', async function* (_a, ctx) {
    yield idToGo(await cluster.id({ signal: ctx.signal }))
  })
  rpc.register('Cluster', 'Peers', async function* (_a, ctx) {
    for await (const id of cluster.peers({ signal: ctx.signal })) yield idToGo(id)
  })
  rpc.register('Cluster', 'PeerAdd', async (a, ctx) => idToGo(await cluster.peerAdd(peerArg(a), { signal: ctx.signal })))
  rpc.register('Cluster', 'PeerRemove', async (a, ctx) => {
    await cluster.peerRemove(peerArg(a), { signal: ctx.signal })
    return EMPTY
  })
  rpc.register('Cluster', 'ForgetPeer', async (a, ctx) => {
    const peer = peerArg(a)
    if (cluster.forgetPeer !== undefined) await cluster.forgetPeer(peer, { signal: ctx.signal })
    return EMPTY
  })
  rpc.register('Cluster', 'Version', () => toGo(GO_VERSION, { version: cluster.version() }))
  rpc.register('Cluster', 'SendInformersMetrics', async (_a, ctx) => {
    await cluster.sendInformersMetrics?.({ signal: ctx.signal })
    return EMPTY
  })
  rpc.register('Cluster', 'RepoGCLocal', async (_a, ctx) => toGo(GO_REPO_GC, await cluster.repoGCLocal({ signal: ctx.signal })))
  rpc.register('Cluster', 'RecoverAllLocal', async function* (_a, ctx) {
    for await (const pi of tracker.recoverAll({ signal: ctx.signal })) yield pinInfoToGo(pi)
  })
  rpc.register('Cluster', 'RecoverLocal', async (a, ctx) => pinInfoToGo(await tracker.recover(cidArg(a), { signal: ctx.signal })))
  rpc.register('Cluster', 'IPFSID', async (_a, ctx) => toGo(GO_IPFSID, await ipfs.id({ signal: ctx.signal })))

  rpc.register('PinTracker', 'Status', async (a, ctx) => pinInfoToGo(await tracker.status(cidArg(a), { signal: ctx.signal })))
  rpc.register('PinTracker', 'StatusAll', async function* (args, ctx) {
    const mask = Number(valueFromGo('int', await firstArg(args)))
    for await (const pi of tracker.statusAll(statusFilterFromGo(mask), { signal: ctx.signal })) yield pinInfoToGo(pi)
  })
  rpc.register('PinTracker', 'Recover', async (a, ctx) => pinInfoToGo(await tracker.recover(cidArg(a), { signal: ctx.signal })))
  rpc.register('PinTracker', 'RecoverAll', async function* (_a, ctx) {
    for await (const pi of tracker.recoverAll({ signal: ctx.signal })) yield pinInfoToGo(pi)
  })
  rpc.register('PinTracker', 'PinQueueSize', () => valueToGo('int', tracker.pinQueueSize()))

  // a stream with no replies: its end (or its error) is the answer
  rpc.register('IPFSConnector', 'BlockStream', (args, ctx) => noReplies(ipfs.blockStream(blocksFrom(args), { signal: ctx.signal })))
  rpc.register('IPFSConnector', 'RepoStat', async (a, ctx) => {
    const full = (a as { full?: unknown } | null)?.full === true
    const st = await ipfs.repoStat({ signal: ctx.signal, sizeOnly: !full })
    const out: Record<string, unknown> = toGo(GO_IPFS_REPO_STAT, st)
    if (full) Object.assign(out, { n: st.numObjects ?? 0, p: st.repoPath ?? '', ver: st.version ?? '' })
    return out
  })
  rpc.register('IPFSConnector', 'SwarmPeers', async (_a, ctx) => valueToGo({ array: 'peer' }, await ipfs.swarmPeers({ signal: ctx.signal })))

  rpc.register('Consensus', 'Peers', async (_a, ctx) => valueToGo({ array: 'peer' }, await consensus.peers({ signal: ctx.signal })))
  // raft: a follower's write forwarded to this peer, the leader (upstream redirectToLeader; policy: trusted)
  const commitLocal = consensus?.commitLocal?.bind(consensus)
  if (commitLocal !== undefined) {
    for (const op of ['LogPin', 'LogUnpin'] as const) {
      rpc.register('Consensus', op, async (a, ctx) => {
        await commitLocal(op, fromGo<Pin>(GO_PIN, a), { signal: ctx.signal })
        return EMPTY
      })
    }
    for (const op of ['AddPeer', 'RmPeer'] as const) {
      rpc.register('Consensus', op, async (a, ctx) => {
        await commitLocal(op, peerArg(a), { signal: ctx.signal })
        return EMPTY
      })
    }
  }

  rpc.register('PeerMonitor', 'LatestMetrics', async (a, ctx) =>
    valueToGo({ array: { struct: GO_METRIC } }, await monitor.latestMetrics(String(valueFromGo('string', a)), { signal: ctx.signal }))
  )
  rpc.register('PeerMonitor', 'MetricNames', () => monitor.metricNames())
}

/** Typed calls to the services of `registerClusterRpc` on any peer (this one included; Go peers too). */
export interface ClusterRpcClient {
  id(peer: PeerId, options?: RpcCallOptions): Promise<ID>
  /** The peer's view of the cluster's peers (`Cluster.Peers`). */
  peers(peer: PeerId, options?: RpcCallOptions): AsyncGenerator<ID>
  peerAdd(peer: PeerId, added: PeerId, options?: RpcCallOptions): Promise<ID>
  /**
   * `notifyOnly`: the peer only records the removal (`Cluster.ForgetPeer`,
   * ours only: a Go peer answers RpcMethodNotFoundError); else upstream's
   * `Cluster.PeerRemove`, the full removal on that peer.
   */
  peerRemove(peer: PeerId, removed: PeerId, notifyOnly: boolean, options?: RpcCallOptions): Promise<void>
  version(peer: PeerId, options?: RpcCallOptions): Promise<string>
  repoGCLocal(peer: PeerId, options?: RpcCallOptions): Promise<RepoGC>
  /** `Cluster.SendInformersMetrics` (closed: this peer only). */
  sendInformersMetrics(peer: PeerId, options?: RpcCallOptions): Promise<void>
  recoverAllLocal(peer: PeerId, options?: RpcCallOptions): AsyncGenerator<PinInfo>
  ipfsId(peer: PeerId, options?: RpcCallOptions): Promise<IPFSID>
  trackerStatus(peer: PeerId, cid: CID, options?: RpcCallOptions): Promise<PinInfo>
  trackerStatusAll(peer: PeerId, filter: Set<TrackerStatus>, options?: RpcCallOptions): AsyncGenerator<PinInfo>
  trackerRecover(peer: PeerId, cid: CID, options?: RpcCallOptions): Promise<PinInfo>
  /** Stores blocks in the peer's IPFS: one `IPFSConnector.BlockStream` stream for all of them. */
  blockStream(peer: PeerId, blocks: RpcBlock[] | AsyncIterable<RpcBlock>, options?: RpcCallOptions): Promise<void>
  /** `sizeOnly` false: the full stat (NumObjects, RepoPath, Version too; our peers only). */
  repoStat(peer: PeerId, options?: RpcCallOptions, sizeOnly?: boolean): Promise<IPFSRepoStat>
  swarmPeers(peer: PeerId, options?: RpcCallOptions): Promise<string[]>
  consensusPeers(peer: PeerId, options?: RpcCallOptions): Promise<PeerId[]>
  latestMetrics(peer: PeerId, name: string, options?: RpcCallOptions): Promise<Metric[]>
}

/** Wraps an `RpcClient` with the typed calls of the cluster's services. */
export function clusterRpcClient(rpc: RpcClient): ClusterRpcClient {
  const peers = (v: unknown): string[] => valueFromGo({ array: 'peer' }, v) as string[]
  return {
    async id(peer, o) {
      return idFromGo(await rpc.call(peer, 'Cluster', 'ID', EMPTY, o))
    },
    async *peers(peer, o) {
      for await (const x of rpc.callStream(peer, 'Cluster', 'Peers', [], o)) yield idFromGo(x)
    },
    async peerAdd(peer, added, o) {
      return idFromGo(await rpc.call(peer, 'Cluster', 'PeerAdd', peerToGo(added), o))
    },
    async peerRemove(peer, removed, notifyOnly, o) {
      await rpc.call(peer, 'Cluster', notifyOnly ? 'ForgetPeer' : 'PeerRemove', peerToGo(removed), o)
    },
    async version(peer, o) {
      return fromGo<{ version: string }>(GO_VERSION, await rpc.call(peer, 'Cluster', 'Version', EMPTY, o)).version
    },
    async repoGCLocal(peer, o) {
      return fromGo<RepoGC>(GO_REPO_GC, await rpc.call(peer, 'Cluster', 'RepoGCLocal', EMPTY, o))
    },
    async sendInformersMetrics(peer, o) {
      await rpc.call(peer, 'Cluster', 'SendInformersMetrics', EMPTY, o)
    },
    async *recoverAllLocal(peer, o) {
      for await (const x of rpc.callStream(peer, 'Cluster', 'RecoverAllLocal', [], o)) yield pinInfoFromGo(x)
    },
    async ipfsId(peer, o) {
      return fromGo<IPFSID>(GO_IPFSID, await rpc.call(peer, 'Cluster', 'IPFSID', peerToGo(peer), o))
    },
    async trackerStatus(peer, cid, o) {
      return pinInfoFromGo(await rpc.call(peer, 'PinTracker', 'Status', cid.bytes, o))
    },
    async *trackerStatusAll(peer, filter, o) {
      for await (const x of rpc.callStream(peer, 'PinTracker', 'StatusAll', [valueToGo('int', statusFilterToGo(filter))], o)) {
        yield pinInfoFromGo(x)
      }
    },
    async trackerRecover(peer, cid, o) {
      return pinInfoFromGo(await rpc.call(peer, 'PinTracker', 'Recover', cid.bytes, o))
    },
    async blockStream(peer, blocks, o) {
      const args = (async function* () {
        for await (const b of blocks) yield toGo(GO_NODE_WITH_META, { bytes: b.bytes, cid: b.cid, cumSize: 0 })
      })()
      for await (const _ of rpc.callStream(peer, 'IPFSConnector', 'BlockStream', args, o)) {
        // BlockStream gives no replies: the stream's end is the answer
      }
    },
    async repoStat(peer, o, sizeOnly = true) {
      const r = await rpc.call(peer, 'IPFSConnector', 'RepoStat', sizeOnly ? EMPTY : { full: true }, o)
      const st = fromGo<IPFSRepoStat>(GO_IPFS_REPO_STAT, r)
      if (!sizeOnly) {
        const x = r as { n?: unknown; p?: unknown; ver?: unknown }
        st.numObjects = Number(valueFromGo('uint', x.n))
        st.repoPath = String(valueFromGo('string', x.p))
        st.version = String(valueFromGo('string', x.ver))
      }
      return st
    },
    async swarmPeers(peer, o) {
      return peers(await rpc.call(peer, 'IPFSConnector', 'SwarmPeers', EMPTY, o))
    },
    async consensusPeers(peer, o) {
      return peers(await rpc.call(peer, 'Consensus', 'Peers', EMPTY, o))
    },
    async latestMetrics(peer, name, o) {
      return valueFromGo({ array: { struct: GO_METRIC } }, await rpc.call(peer, 'PeerMonitor', 'LatestMetrics', name, o)) as Metric[]
    }
  }
}
