/**
 * JSON codecs for the REST API, with upstream's field names byte for byte
 * (`api/types.go` json tags). `XxxJSON` is the wire shape; `xxxToJSON` and
 * `xxxFromJSON` convert. `FromJSON` functions throw `InvalidArgumentError`
 * naming the bad field.
 */
import type { CID } from 'multiformats/cid'
import { errorMessage, InvalidArgumentError } from '../errors.ts'
import { cidString, parseCidString } from './cidstring.ts'
import type {
  AddedOutput,
  Alert,
  ConnectGraph,
  GlobalPinInfo,
  GlobalRepoGC,
  ID,
  Metric,
  Pin,
  PinInfo,
  PinInfoShort,
  PinMode,
  PinType,
  RepoGC,
  TrackerStatus
} from './index.ts'

/** Upstream's zero time, used for an unset `expire_at`. */
export const ZERO_TIME = '0001-01-01T00:00:00Z'

export interface PinJSON {
  cid: string
  type: PinType
  allocations: string[]
  max_depth: number
  reference: string | null
  timestamp: string
  replication_factor_min: number
  replication_factor_max: number
  name: string
  mode: PinMode
  shard_size: number
  user_allocations: string[] | null
  expire_at: string
  metadata: Record<string, string> | null
  pin_update: string | null
  origins: string[]
}

export interface PinInfoShortJSON {
  peername: string
  ipfs_peer_id: string
  ipfs_peer_addresses: string[] | null
  status: TrackerStatus
  timestamp: string
  error: string
  attempt_count: number
  priority_pin: boolean
}

export interface PinInfoJSON {
  cid: string
  name: string
  peer: string
  allocations: string[]
  origins: string[]
  created: string
  metadata: Record<string, string> | null
  peername: string
  ipfs_peer_id: string
  ipfs_peer_addresses: string[] | null
  status: TrackerStatus
  timestamp: string
  error: string
  attempt_count: number
  priority_pin: boolean
}

export interface GlobalPinInfoJSON {
  cid: string
  name: string
  allocations: string[]
  origins: string[]
  created: string
  metadata: Record<string, string> | null
  peer_map: Record<string, PinInfoShortJSON>
}

export interface IDJSON {
  id: string
  addresses: string[]
  cluster_peers: string[]
  cluster_peers_addresses: string[]
  version: string
  commit: string
  rpc_protocol_version: string
  error: string
  ipfs: { id: string; addresses: string[]; error: string }
  peername: string
}

export interface MetricJSON {
  name: string
  peer: string
  value: string
  expire: number
  valid: boolean
  weight: number
  partitionable: boolean
  received_at: number
}

export interface AlertJSON extends MetricJSON {
  triggered_at: string
}

export interface AddedOutputJSON {
  name: string
  cid: string
  bytes?: number
  size?: number
  allocations?: string[]
}

export interface RepoGCJSON {
  peer: string
  peername: string
  keys: { key: string | null; error: string }[] | null
  error: string
}

export interface GlobalRepoGCJSON {
  peer_map: Record<string, RepoGCJSON>
}

export interface ConnectGraphJSON {
  cluster_id: string
  id_to_peername: Record<string, string>
  ipfs_links: Record<string, string[]>
  cluster_links: Record<string, string[]>
  cluster_trust_links: Record<string, boolean>
  cluster_to_ipfs: Record<string, string>
}

/** Parses a CID string. @throws InvalidArgumentError naming `field`. */
export function parseCid(s: unknown, field = 'cid'): CID {
  if (typeof s !== 'string' || s === '') throw new InvalidArgumentError(`error decoding ${field}: empty or not a string`)
  try {
    return parseCidString(s)
  } catch (err) {
    throw new InvalidArgumentError(`error decoding Cid: ${field} "${s}": ${errorMessage(err)}`)
  }
}

/**
 * The last few times converted by timeToJSON, round robin (pins listed in a
 * row often share their second, and a global status carries one time per
 * peer): `toISOString` was 5% of listing.
 */
const TIME_SLOTS = 4
const slotMs: number[] = new Array<number>(TIME_SLOTS).fill(Number.NaN)
const slotIso: string[] = new Array<string>(TIME_SLOTS).fill('')
let nextSlot = 0

/** RFC3339 with upstream's zero time for null. @throws RangeError on an invalid Date (as toISOString). */
export function timeToJSON(d: Date | null): string {
  if (d === null) return ZERO_TIME
  const ms = d.getTime()
  for (let i = 0; i < TIME_SLOTS; i++) if (slotMs[i] === ms) return slotIso[i]!
  const iso = d.toISOString()
  slotMs[nextSlot] = ms
  slotIso[nextSlot] = iso
  nextSlot = (nextSlot + 1) % TIME_SLOTS
  return iso
}

export function timeFromJSON(s: unknown, field: string): Date | null {
  if (s === undefined || s === null || s === '' || s === ZERO_TIME) return null
  if (typeof s !== 'string') throw new InvalidArgumentError(`${field}: expected an RFC3339 time string`)
  const d = new Date(s)
  if (Number.isNaN(d.getTime())) throw new InvalidArgumentError(`${field}: invalid time "${s}"`)
  if (d.getUTCFullYear() <= 1) return null
  return d
}

export function pinToJSON(p: Pin): PinJSON {
  return {
    cid: cidString(p.cid),
    type: p.type,
    allocations: p.allocations,
    max_depth: p.maxDepth,
    reference: p.reference === null ? null : cidString(p.reference),
    timestamp: timeToJSON(p.timestamp),
    replication_factor_min: p.replicationFactorMin,
    replication_factor_max: p.replicationFactorMax,
    name: p.name,
    mode: p.mode,
    shard_size: p.shardSize,
    user_allocations: p.userAllocations.length > 0 ? p.userAllocations : null,
    expire_at: timeToJSON(p.expireAt),
    metadata: Object.keys(p.metadata).length > 0 ? p.metadata : null,
    pin_update: p.pinUpdate === null ? null : cidString(p.pinUpdate),
    origins: p.origins
  }
}

function strArray(v: unknown, field: string): string[] {
  if (v === undefined || v === null) return []
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) {
    throw new InvalidArgumentError(`${field}: expected an array of strings`)
  }
  return v as string[]
}

function num(v: unknown, field: string, dflt: number): number {
  if (v === undefined || v === null) return dflt
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new InvalidArgumentError(`${field}: expected a number`)
  return v
}

function strMap(v: unknown, field: string): Record<string, string> {
  if (v === undefined || v === null) return {}
  if (typeof v !== 'object' || Array.isArray(v)) throw new InvalidArgumentError(`${field}: expected an object`)
  const out: Record<string, string> = {}
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    if (typeof x !== 'string') throw new InvalidArgumentError(`${field}.${k}: expected a string`)
    out[k] = x
  }
  return out
}

/** @throws InvalidArgumentError on a malformed pin. */
export function pinFromJSON(j: unknown): Pin {
  if (typeof j !== 'object' || j === null) throw new InvalidArgumentError('pin: expected a JSON object')
  const o = j as Record<string, unknown>
  const type = (o.type ?? 'pin') as PinType
  if (!['pin', 'meta-pin', 'clusterdag-pin', 'shard-pin'].includes(type)) {
    throw new InvalidArgumentError(`type: invalid pin type "${String(o.type)}"`)
  }
  const mode = (o.mode ?? 'recursive') as PinMode
  if (mode !== 'recursive' && mode !== 'direct') throw new InvalidArgumentError(`mode: invalid pin mode "${String(o.mode)}"`)
  return {
    cid: parseCid(o.cid),
    type,
    allocations: strArray(o.allocations, 'allocations'),
    maxDepth: num(o.max_depth, 'max_depth', mode === 'direct' ? 0 : -1),
    reference: o.reference == null || o.reference === '' ? null : parseCid(o.reference, 'reference'),
    timestamp: timeFromJSON(o.timestamp, 'timestamp') ?? new Date(0),
    replicationFactorMin: num(o.replication_factor_min, 'replication_factor_min', 0),
    replicationFactorMax: num(o.replication_factor_max, 'replication_factor_max', 0),
    name: typeof o.name === 'string' ? o.name : '',
    mode,
    shardSize: num(o.shard_size, 'shard_size', 0),
    userAllocations: strArray(o.user_allocations, 'user_allocations'),
    expireAt: timeFromJSON(o.expire_at, 'expire_at'),
    metadata: strMap(o.metadata, 'metadata'),
    pinUpdate: o.pin_update == null || o.pin_update === '' ? null : parseCid(o.pin_update, 'pin_update'),
    origins: strArray(o.origins, 'origins')
  }
}

export function pinInfoShortToJSON(p: PinInfoShort): PinInfoShortJSON {
  return {
    peername: p.peerName,
    ipfs_peer_id: p.ipfsPeerId,
    ipfs_peer_addresses: p.ipfsPeerAddresses,
    status: p.status,
    timestamp: timeToJSON(p.timestamp),
    error: p.error,
    attempt_count: p.attemptCount,
    priority_pin: p.priorityPin
  }
}

export function pinInfoShortFromJSON(o: PinInfoShortJSON): PinInfoShort {
  return {
    peerName: o.peername ?? '',
    ipfsPeerId: o.ipfs_peer_id ?? '',
    ipfsPeerAddresses: o.ipfs_peer_addresses ?? [],
    status: o.status,
    timestamp: timeFromJSON(o.timestamp, 'timestamp') ?? new Date(0),
    error: o.error ?? '',
    attemptCount: o.attempt_count ?? 0,
    priorityPin: o.priority_pin ?? false
  }
}

export function pinInfoToJSON(p: PinInfo): PinInfoJSON {
  return {
    cid: p.cid.toString(),
    name: p.name,
    peer: p.peer,
    allocations: p.allocations,
    origins: p.origins,
    created: timeToJSON(p.created),
    metadata: Object.keys(p.metadata).length > 0 ? p.metadata : null,
    ...pinInfoShortToJSON(p.pinInfo)
  }
}

/** `PinInfo.ToGlobal` of upstream: a GlobalPinInfo with one peer. */
export function pinInfoToGlobal(p: PinInfo): GlobalPinInfo {
  return {
    cid: p.cid,
    name: p.name,
    allocations: p.allocations,
    origins: p.origins,
    created: p.created,
    metadata: p.metadata,
    peerMap: { [p.peer]: p.pinInfo }
  }
}

export function globalPinInfoToJSON(g: GlobalPinInfo): GlobalPinInfoJSON {
  const peerMap: Record<string, PinInfoShortJSON> = {}
  for (const [k, v] of Object.entries(g.peerMap)) peerMap[k] = pinInfoShortToJSON(v)
  return {
    cid: cidString(g.cid),
    name: g.name,
    allocations: g.allocations,
    origins: g.origins,
    created: timeToJSON(g.created),
    metadata: Object.keys(g.metadata).length > 0 ? g.metadata : null,
    peer_map: peerMap
  }
}

export function globalPinInfoFromJSON(o: GlobalPinInfoJSON): GlobalPinInfo {
  const peerMap: Record<string, PinInfoShort> = {}
  for (const [k, v] of Object.entries(o.peer_map ?? {})) peerMap[k] = pinInfoShortFromJSON(v)
  return {
    cid: parseCid(o.cid),
    name: o.name ?? '',
    allocations: o.allocations ?? [],
    origins: o.origins ?? [],
    created: timeFromJSON(o.created, 'created') ?? new Date(0),
    metadata: o.metadata ?? {},
    peerMap
  }
}

export function idToJSON(id: ID): IDJSON {
  return {
    id: id.id,
    addresses: id.addresses,
    cluster_peers: id.clusterPeers,
    cluster_peers_addresses: id.clusterPeersAddresses,
    version: id.version,
    commit: id.commit,
    rpc_protocol_version: id.rpcProtocolVersion,
    error: id.error,
    ipfs: { id: id.ipfs.id, addresses: id.ipfs.addresses, error: id.ipfs.error },
    peername: id.peername
  }
}

export function idFromJSON(o: IDJSON): ID {
  return {
    id: o.id,
    addresses: o.addresses ?? [],
    clusterPeers: o.cluster_peers ?? [],
    clusterPeersAddresses: o.cluster_peers_addresses ?? [],
    version: o.version ?? '',
    commit: o.commit ?? '',
    rpcProtocolVersion: o.rpc_protocol_version ?? '',
    error: o.error ?? '',
    ipfs: { id: o.ipfs?.id ?? '', addresses: o.ipfs?.addresses ?? [], error: o.ipfs?.error ?? '' },
    peername: o.peername ?? ''
  }
}

export function metricToJSON(m: Metric): MetricJSON {
  return {
    name: m.name,
    peer: m.peer,
    value: m.value,
    expire: m.expire,
    valid: m.valid,
    weight: m.weight,
    partitionable: m.partitionable,
    received_at: m.receivedAt
  }
}

export function metricFromJSON(o: MetricJSON): Metric {
  return {
    name: o.name,
    peer: o.peer,
    value: o.value ?? '',
    expire: o.expire ?? 0,
    valid: o.valid ?? false,
    weight: o.weight ?? 0,
    partitionable: o.partitionable ?? false,
    receivedAt: o.received_at ?? 0
  }
}

export function alertToJSON(a: Alert): AlertJSON {
  return { ...metricToJSON(a), triggered_at: a.triggeredAt.toISOString() }
}

export function alertFromJSON(o: AlertJSON): Alert {
  return { ...metricFromJSON(o), triggeredAt: timeFromJSON(o.triggered_at, 'triggered_at') ?? new Date(0) }
}

export function addedOutputToJSON(a: AddedOutput): AddedOutputJSON {
  const o: AddedOutputJSON = { name: a.name, cid: a.cid.toString() }
  if (a.bytes !== undefined) o.bytes = a.bytes
  if (a.size !== undefined) o.size = a.size
  if (a.allocations !== undefined) o.allocations = a.allocations
  return o
}

export function repoGCToJSON(r: RepoGC): RepoGCJSON {
  return {
    peer: r.peer,
    peername: r.peername,
    keys: r.keys.map((k) => ({ key: k.key?.toString() ?? null, error: k.error })),
    error: r.error
  }
}

export function globalRepoGCToJSON(g: GlobalRepoGC): GlobalRepoGCJSON {
  const peerMap: Record<string, RepoGCJSON> = {}
  for (const [k, v] of Object.entries(g.peerMap)) peerMap[k] = repoGCToJSON(v)
  return { peer_map: peerMap }
}

export function connectGraphToJSON(g: ConnectGraph): ConnectGraphJSON {
  return {
    cluster_id: g.clusterId,
    id_to_peername: g.idToPeername,
    ipfs_links: g.ipfsLinks,
    cluster_links: g.clusterLinks,
    cluster_trust_links: g.clusterTrustLinks,
    cluster_to_ipfs: g.clusterToIpfs
  }
}
