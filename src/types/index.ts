/**
 * The cluster's data types, mirroring upstream `api/types.go` (v1.1.6).
 * TypeScript fields are camelCase; the wire/JSON keys (see `json.ts`) are
 * upstream's snake_case, byte for byte.
 *
 * Peer IDs are base58btc strings (`12D3Koo…`/`Qm…`); multiaddrs are strings
 * validated at the boundary by `@multiformats/multiaddr`; CIDs are
 * `multiformats` `CID` objects.
 */
import type { CID } from 'multiformats/cid'

/** A peer ID in its string form. */
export type PeerId = string

/** Upstream's tracker statuses (`api.TrackerStatus` strings). */
export type TrackerStatus =
  | 'undefined'
  | 'cluster_error'
  | 'pin_error'
  | 'unpin_error'
  | 'pinned'
  | 'pinning'
  | 'unpinning'
  | 'unpinned'
  | 'remote'
  | 'pin_queued'
  | 'unpin_queued'
  | 'sharded'
  | 'unexpectedly_unpinned'

export const TRACKER_STATUSES: readonly TrackerStatus[] = [
  'undefined',
  'cluster_error',
  'pin_error',
  'unpin_error',
  'pinned',
  'pinning',
  'unpinning',
  'unpinned',
  'remote',
  'pin_queued',
  'unpin_queued',
  'sharded',
  'unexpectedly_unpinned'
]

/** Pin types (`api.PinType`); bit values in upstream: Bad=1, Data=2, Meta=4, ClusterDAG=8, Shard=16. */
export type PinType = 'pin' | 'meta-pin' | 'clusterdag-pin' | 'shard-pin'

/** `recursive` (max_depth -1) or `direct` (max_depth 0). */
export type PinMode = 'recursive' | 'direct'

/** Options a user gives to a pin (`api.PinOptions`). */
export interface PinOptions {
  /** -1 = everywhere, 0 = use the cluster default. */
  replicationFactorMin: number
  replicationFactorMax: number
  name: string
  mode: PinMode
  /** bytes; 0 = unset. */
  shardSize: number
  userAllocations: PeerId[]
  /** null = never expires (JSON `0001-01-01T00:00:00Z`). */
  expireAt: Date | null
  metadata: Record<string, string>
  /** the CID this pin updates (pin update), or null. */
  pinUpdate: CID | null
  /** multiaddrs that include `/p2p/<peer>`, to connect to before pinning. */
  origins: string[]
}

/** A pin in the shared pinset (`api.Pin`). */
export interface Pin extends PinOptions {
  cid: CID
  type: PinType
  /** peers that must pin it; [] = everywhere. */
  allocations: PeerId[]
  /** -1 recursive, 0 direct, 1 shard. */
  maxDepth: number
  reference: CID | null
  /** when the pin was committed. */
  timestamp: Date
}

/** The tracker's view of a CID on one peer (`api.PinInfoShort`). */
export interface PinInfoShort {
  peerName: string
  ipfsPeerId: string
  ipfsPeerAddresses: string[]
  status: TrackerStatus
  timestamp: Date
  error: string
  attemptCount: number
  priorityPin: boolean
}

/** The tracker's view of a CID on one peer, with the pin's details (`api.PinInfo`). */
export interface PinInfo {
  cid: CID
  name: string
  peer: PeerId
  allocations: PeerId[]
  origins: string[]
  created: Date
  metadata: Record<string, string>
  pinInfo: PinInfoShort
}

/** A CID's status on every peer (`api.GlobalPinInfo`). */
export interface GlobalPinInfo {
  cid: CID
  name: string
  allocations: PeerId[]
  origins: string[]
  created: Date
  metadata: Record<string, string>
  peerMap: Record<PeerId, PinInfoShort>
}

/** A metric, e.g. `ping`, `freespace`, `tag:group`, `pinqueue` (`api.Metric`). */
export interface Metric {
  name: string
  peer: PeerId
  value: string
  /** expiry time, nanoseconds since the Unix epoch (upstream `Expire int64`). */
  expire: number
  valid: boolean
  weight: number
  partitionable: boolean
  /** nanoseconds since the Unix epoch. */
  receivedAt: number
}

/** A metric that expired without renewal (`api.Alert`). */
export interface Alert extends Metric {
  /** when the alert fired. */
  triggeredAt: Date
}

/** What a peer says about itself (`api.ID`). */
export interface ID {
  id: PeerId
  addresses: string[]
  clusterPeers: PeerId[]
  clusterPeersAddresses: string[]
  version: string
  commit: string
  rpcProtocolVersion: string
  error: string
  ipfs: IPFSID
  peername: string
}

/** The IPFS daemon's identity (`api.IPFSID`). */
export interface IPFSID {
  id: string
  addresses: string[]
  error: string
}

/** One line of `/add` output (`api.AddedOutput`). */
export interface AddedOutput {
  name: string
  cid: CID
  bytes?: number
  size?: number
  allocations?: PeerId[]
}

/** Result of `repo/gc` on one peer (`api.RepoGC`). */
export interface RepoGC {
  peer: PeerId
  peername: string
  keys: { key: CID | null; error: string }[]
  error: string
}

export interface GlobalRepoGC {
  peerMap: Record<PeerId, RepoGC>
}

/** `api.IPFSRepoStat`: sizes in bytes. */
export interface IPFSRepoStat {
  repoSize: number
  storageMax: number
  /** only when asked for the full stat (not size-only). */
  numObjects?: number
  repoPath?: string
  version?: string
}

/** Status of a CID in kubo's `pin ls` (`api.IPFSPinStatus`). */
export type IPFSPinStatus = 'direct' | 'recursive' | 'indirect' | 'unpinned' | 'bug' | 'error'

/** `api.ConnectGraph`. */
export interface ConnectGraph {
  clusterId: PeerId
  idToPeername: Record<PeerId, string>
  ipfsLinks: Record<string, string[]>
  clusterLinks: Record<PeerId, PeerId[]>
  clusterTrustLinks: Record<PeerId, boolean>
  clusterToIpfs: Record<PeerId, string>
}

/** Default PinOptions (upstream zero values). */
export function defaultPinOptions(): PinOptions {
  return {
    replicationFactorMin: 0,
    replicationFactorMax: 0,
    name: '',
    mode: 'recursive',
    shardSize: 0,
    userAllocations: [],
    expireAt: null,
    metadata: {},
    pinUpdate: null,
    origins: []
  }
}

/** Builds a data pin ("pin" type) from a CID and options. */
export function pinWithOpts(cid: CID, opts: PinOptions): Pin {
  return {
    ...opts,
    cid,
    type: 'pin',
    allocations: [],
    maxDepth: opts.mode === 'direct' ? 0 : -1,
    reference: null,
    timestamp: new Date()
  }
}

/** Upstream's filter aliases: `error` and `queued`. Returns the statuses a filter matches. */
export function expandStatusFilter(filter: string): Set<TrackerStatus> {
  const out = new Set<TrackerStatus>()
  for (const f of filter.split(',').map((s) => s.trim()).filter(Boolean)) {
    if (f === 'error') {
      out.add('cluster_error')
      out.add('pin_error')
      out.add('unpin_error')
    } else if (f === 'queued') {
      out.add('pin_queued')
      out.add('unpin_queued')
    } else if ((TRACKER_STATUSES as readonly string[]).includes(f)) {
      out.add(f as TrackerStatus)
    } else {
      throw new Error(`invalid filter value: ${f}`)
    }
  }
  return out
}
