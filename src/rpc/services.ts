/**
 * The cluster's RPC services (upstream `rpc_api.go`: ClusterRPCAPI,
 * PinTrackerRPCAPI, IPFSConnectorRPCAPI, ConsensusRPCAPI,
 * PeerMonitorRPCAPI): `registerClusterRpc` serves them, and
 * `clusterRpcClient` calls them on any peer with typed values.
 *
 * Values travel in upstream's JSON shapes (`src/types/json.ts`: snake_case
 * keys, CIDs and times as strings) inside msgpack frames.
 */
import type { CID } from 'multiformats/cid'
import type { AbortOptions, ClusterAPI, Consensus, IPFSConnector, PeerMonitor, PinTracker } from '../interfaces.ts'
import type { ID, IPFSID, IPFSRepoStat, Metric, PeerId, PinInfo, RepoGC, TrackerStatus } from '../types/index.ts'
import {
  type IDJSON,
  idFromJSON,
  idToJSON,
  type MetricJSON,
  metricFromJSON,
  metricToJSON,
  type PinInfoJSON,
  parseCid,
  pinFromJSON,
  pinInfoShortFromJSON,
  pinInfoToJSON,
  type RepoGCJSON,
  repoGCToJSON,
  timeFromJSON
} from '../types/json.ts'
import { VERSION } from '../version.ts'
import type { Rpc, RpcCallOptions, RpcClient } from './rpc.ts'

/** `PinInfoJSON` -> `PinInfo` (the inverse of `pinInfoToJSON`). */
export function pinInfoFromJSON(o: PinInfoJSON): PinInfo {
  return {
    cid: parseCid(o.cid),
    name: o.name ?? '',
    peer: o.peer ?? '',
    allocations: o.allocations ?? [],
    origins: o.origins ?? [],
    created: timeFromJSON(o.created, 'created') ?? new Date(0),
    metadata: o.metadata ?? {},
    pinInfo: pinInfoShortFromJSON(o)
  }
}

/** `RepoGCJSON` -> `RepoGC`. */
export function repoGCFromJSON(o: RepoGCJSON): RepoGC {
  return {
    peer: o.peer ?? '',
    peername: o.peername ?? '',
    keys: (o.keys ?? []).map((k) => ({ key: k.key === null || k.key === '' ? null : parseCid(k.key, 'key'), error: k.error ?? '' })),
    error: o.error ?? ''
  }
}

function statusFilterToWire(filter: Set<TrackerStatus>): string {
  return [...filter].join(',')
}

function statusFilterFromWire(arg: unknown): Set<TrackerStatus> {
  if (typeof arg !== 'string' || arg === '') return new Set()
  return new Set(arg.split(',') as TrackerStatus[])
}

function cidArg(arg: unknown): CID {
  return parseCid(arg, 'cid')
}

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

/** A block sent with `IPFSConnector.BlockStream` (a batch per call). */
export interface RpcBlock {
  cid: CID
  bytes: Uint8Array
}

/**
 * Registers the handlers of the Cluster, PinTracker, IPFSConnector,
 * Consensus and PeerMonitor services on `rpc` (access as in
 * `DEFAULT_RPC_POLICY`). Methods (argument -> answer, `*` = streamed):
 * - Cluster.ID, null -> IDJSON; Cluster.IDStream, null -> *IDJSON (one);
 *   Cluster.Peers, null -> *IDJSON; Cluster.PeerAdd, peer -> IDJSON;
 *   Cluster.PeerRemove, {peer, notify_only} -> null; Cluster.Version -> {version};
 *   Cluster.RepoGCLocal -> RepoGCJSON; Cluster.RecoverAllLocal -> *PinInfoJSON;
 *   Cluster.RecoverLocal, cid -> PinInfoJSON; Cluster.IPFSID -> {id,addresses,error}
 * - PinTracker.Status / Recover, cid -> PinInfoJSON; PinTracker.StatusAll,
 *   "status,status" -> *PinInfoJSON; PinTracker.RecoverAll -> *PinInfoJSON;
 *   PinTracker.PinQueueSize -> number
 * - IPFSConnector.BlockStream, {blocks: [{cid, data}]} -> null (a batch into `ipfs.blockStream`);
 *   IPFSConnector.RepoStat, null | {size_only: false} -> {repo_size, storage_max[, num_objects, repo_path, version]}; IPFSConnector.SwarmPeers -> [peer]
 * - Consensus.Peers -> [peer]; raft only: Consensus.LogPin / LogUnpin, PinJSON -> null and
 *   Consensus.AddPeer / RmPeer, peer -> null (committed by this peer, the leader)
 * - PeerMonitor.LatestMetrics, name -> [MetricJSON]; PeerMonitor.MetricNames -> [name]
 */
export function registerClusterRpc(rpc: Pick<Rpc, 'register'>, s: ClusterRpcServices): void {
  const { cluster, tracker, ipfs, monitor, consensus } = s

  rpc.register('Cluster', 'ID', async (_a, ctx) => idToJSON(await cluster.id({ signal: ctx.signal })))
  rpc.register('Cluster', 'IDStream', async function* (_a, ctx) {
    yield idToJSON(await cluster.id({ signal: ctx.signal }))
  })
  rpc.register('Cluster', 'Peers', async function* (_a, ctx) {
    for await (const id of cluster.peers({ signal: ctx.signal })) yield idToJSON(id)
  })
  rpc.register('Cluster', 'PeerAdd', async (a, ctx) => idToJSON(await cluster.peerAdd(String(a), { signal: ctx.signal })))
  rpc.register('Cluster', 'PeerRemove', async (a, ctx) => {
    const arg = (typeof a === 'object' && a !== null ? a : { peer: a }) as { peer?: unknown; notify_only?: unknown }
    const peer = String(arg.peer)
    if (arg.notify_only === true && cluster.forgetPeer !== undefined) await cluster.forgetPeer(peer, { signal: ctx.signal })
    else await cluster.peerRemove(peer, { signal: ctx.signal })
    return null
  })
  rpc.register('Cluster', 'Version', () => ({ version: cluster.version() }))
  rpc.register('Cluster', 'SendInformersMetrics', async (_a, ctx) => {
    await cluster.sendInformersMetrics?.({ signal: ctx.signal })
    return null
  })
  rpc.register('Cluster', 'RepoGCLocal', async (_a, ctx) => repoGCToJSON(await cluster.repoGCLocal({ signal: ctx.signal })))
  rpc.register('Cluster', 'RecoverAllLocal', async function* (_a, ctx) {
    for await (const pi of tracker.recoverAll({ signal: ctx.signal })) yield pinInfoToJSON(pi)
  })
  rpc.register('Cluster', 'RecoverLocal', async (a, ctx) => pinInfoToJSON(await tracker.recover(cidArg(a), { signal: ctx.signal })))
  rpc.register('Cluster', 'IPFSID', async (_a, ctx) => {
    const id = await ipfs.id({ signal: ctx.signal })
    return { id: id.id, addresses: id.addresses, error: id.error }
  })

  rpc.register('PinTracker', 'Status', async (a, ctx) => pinInfoToJSON(await tracker.status(cidArg(a), { signal: ctx.signal })))
  rpc.register('PinTracker', 'StatusAll', async function* (a, ctx) {
    for await (const pi of tracker.statusAll(statusFilterFromWire(a), { signal: ctx.signal })) yield pinInfoToJSON(pi)
  })
  rpc.register('PinTracker', 'Recover', async (a, ctx) => pinInfoToJSON(await tracker.recover(cidArg(a), { signal: ctx.signal })))
  rpc.register('PinTracker', 'RecoverAll', async function* (_a, ctx) {
    for await (const pi of tracker.recoverAll({ signal: ctx.signal })) yield pinInfoToJSON(pi)
  })
  rpc.register('PinTracker', 'PinQueueSize', () => tracker.pinQueueSize())

  rpc.register('IPFSConnector', 'BlockStream', async (a, ctx) => {
    const blocks = ((a as { blocks?: unknown } | null)?.blocks ?? []) as { cid: unknown; data: Uint8Array }[]
    const parsed = blocks.map((b) => ({ cid: parseCid(b.cid, 'cid'), bytes: b.data }))
    await ipfs.blockStream(
      (async function* () {
        yield* parsed
      })(),
      { signal: ctx.signal }
    )
    return null
  })
  rpc.register('IPFSConnector', 'RepoStat', async (a, ctx) => {
    // arg {size_only: false}: the full stat (the IPFS proxy's repo/stat)
    const sizeOnly = (a as { size_only?: unknown } | null)?.size_only !== false
    const st = await ipfs.repoStat({ signal: ctx.signal, sizeOnly })
    if (sizeOnly) return { repo_size: st.repoSize, storage_max: st.storageMax }
    return { repo_size: st.repoSize, storage_max: st.storageMax, num_objects: st.numObjects ?? 0, repo_path: st.repoPath ?? '', version: st.version ?? '' }
  })
  rpc.register('IPFSConnector', 'SwarmPeers', async (_a, ctx) => ipfs.swarmPeers({ signal: ctx.signal }))

  rpc.register('Consensus', 'Peers', async (_a, ctx) => consensus.peers({ signal: ctx.signal }))
  // raft: a follower's write forwarded to this peer, the leader (upstream redirectToLeader; policy: trusted)
  const commitLocal = consensus?.commitLocal?.bind(consensus)
  if (commitLocal !== undefined) {
    rpc.register('Consensus', 'LogPin', async (a, ctx) => {
      await commitLocal('LogPin', pinFromJSON(a), { signal: ctx.signal })
      return null
    })
    rpc.register('Consensus', 'LogUnpin', async (a, ctx) => {
      await commitLocal('LogUnpin', pinFromJSON(a), { signal: ctx.signal })
      return null
    })
    rpc.register('Consensus', 'AddPeer', async (a, ctx) => {
      await commitLocal('AddPeer', String(a), { signal: ctx.signal })
      return null
    })
    rpc.register('Consensus', 'RmPeer', async (a, ctx) => {
      await commitLocal('RmPeer', String(a), { signal: ctx.signal })
      return null
    })
  }

  rpc.register('PeerMonitor', 'LatestMetrics', async (a, ctx) => (await monitor.latestMetrics(String(a), { signal: ctx.signal })).map(metricToJSON))
  rpc.register('PeerMonitor', 'MetricNames', () => monitor.metricNames())
}

/** Typed calls to the services of `registerClusterRpc` on any peer (this one included). */
export interface ClusterRpcClient {
  id(peer: PeerId, options?: RpcCallOptions): Promise<ID>
  /** The peer's view of the cluster's peers (`Cluster.Peers`). */
  peers(peer: PeerId, options?: RpcCallOptions): AsyncGenerator<ID>
  peerAdd(peer: PeerId, added: PeerId, options?: RpcCallOptions): Promise<ID>
  /** `notifyOnly`: the peer only records the removal (no re-allocation). */
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
  /** Stores a batch of blocks in the peer's IPFS (`IPFSConnector.BlockStream`). */
  blockStream(peer: PeerId, blocks: RpcBlock[], options?: RpcCallOptions): Promise<void>
  /** `sizeOnly` false: the full stat (NumObjects, RepoPath, Version too). */
  repoStat(peer: PeerId, options?: RpcCallOptions, sizeOnly?: boolean): Promise<IPFSRepoStat>
  swarmPeers(peer: PeerId, options?: RpcCallOptions): Promise<string[]>
  consensusPeers(peer: PeerId, options?: RpcCallOptions): Promise<PeerId[]>
  latestMetrics(peer: PeerId, name: string, options?: RpcCallOptions): Promise<Metric[]>
}

/** Wraps an `RpcClient` with the typed calls of the cluster's services. */
export function clusterRpcClient(rpc: RpcClient): ClusterRpcClient {
  return {
    async id(peer, o) {
      return idFromJSON((await rpc.call(peer, 'Cluster', 'ID', null, o)) as IDJSON)
    },
    async *peers(peer, o) {
      for await (const x of rpc.callStream(peer, 'Cluster', 'Peers', null, o)) yield idFromJSON(x as IDJSON)
    },
    async peerAdd(peer, added, o) {
      return idFromJSON((await rpc.call(peer, 'Cluster', 'PeerAdd', added, o)) as IDJSON)
    },
    async peerRemove(peer, removed, notifyOnly, o) {
      await rpc.call(peer, 'Cluster', 'PeerRemove', { peer: removed, notify_only: notifyOnly }, o)
    },
    async version(peer, o) {
      return String(((await rpc.call(peer, 'Cluster', 'Version', null, o)) as { version?: unknown } | null)?.version ?? VERSION)
    },
    async repoGCLocal(peer, o) {
      return repoGCFromJSON((await rpc.call(peer, 'Cluster', 'RepoGCLocal', null, o)) as RepoGCJSON)
    },
    async sendInformersMetrics(peer, o) {
      await rpc.call(peer, 'Cluster', 'SendInformersMetrics', null, o)
    },
    async *recoverAllLocal(peer, o) {
      for await (const x of rpc.callStream(peer, 'Cluster', 'RecoverAllLocal', null, o)) yield pinInfoFromJSON(x as PinInfoJSON)
    },
    async ipfsId(peer, o) {
      const r = (await rpc.call(peer, 'Cluster', 'IPFSID', null, o)) as Partial<IPFSID> | null
      return { id: r?.id ?? '', addresses: r?.addresses ?? [], error: r?.error ?? '' }
    },
    async trackerStatus(peer, cid, o) {
      return pinInfoFromJSON((await rpc.call(peer, 'PinTracker', 'Status', cid.toString(), o)) as PinInfoJSON)
    },
    async *trackerStatusAll(peer, filter, o) {
      for await (const x of rpc.callStream(peer, 'PinTracker', 'StatusAll', statusFilterToWire(filter), o)) {
        yield pinInfoFromJSON(x as PinInfoJSON)
      }
    },
    async trackerRecover(peer, cid, o) {
      return pinInfoFromJSON((await rpc.call(peer, 'PinTracker', 'Recover', cid.toString(), o)) as PinInfoJSON)
    },
    async blockStream(peer, blocks, o) {
      const arg = { blocks: blocks.map((b) => ({ cid: b.cid.toString(), data: b.bytes })) }
      await rpc.call(peer, 'IPFSConnector', 'BlockStream', arg, o)
    },
    async repoStat(peer, o, sizeOnly = true) {
      type Stat = { repo_size?: number; storage_max?: number; num_objects?: number; repo_path?: string; version?: string }
      const r = (await rpc.call(peer, 'IPFSConnector', 'RepoStat', sizeOnly ? null : { size_only: false }, o)) as Stat | null
      const st: IPFSRepoStat = { repoSize: r?.repo_size ?? 0, storageMax: r?.storage_max ?? 0 }
      if (!sizeOnly) {
        st.numObjects = r?.num_objects ?? 0
        st.repoPath = r?.repo_path ?? ''
        st.version = r?.version ?? ''
      }
      return st
    },
    async swarmPeers(peer, o) {
      return (await rpc.call(peer, 'IPFSConnector', 'SwarmPeers', null, o)) as string[]
    },
    async consensusPeers(peer, o) {
      return (await rpc.call(peer, 'Consensus', 'Peers', null, o)) as PeerId[]
    },
    async latestMetrics(peer, name, o) {
      return ((await rpc.call(peer, 'PeerMonitor', 'LatestMetrics', name, o)) as MetricJSON[]).map(metricFromJSON)
    }
  }
}
