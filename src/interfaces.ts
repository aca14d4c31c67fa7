/**
 * Component interfaces, mirroring upstream `ipfscluster.go` (v1.1.6).
 * Components get what they use through a `components` object at
 * construction; remote calls go through `rpc/` (multi-peer, later).
 *
 * Every async method takes `options?: AbortOptions`. Streams are
 * `AsyncGenerator`s, never arrays of a whole pinset.
 */
import type { CID } from 'multiformats/cid'
import type {
  Alert,
  ConnectGraph,
  GlobalPinInfo,
  GlobalRepoGC,
  ID,
  IPFSID,
  IPFSPinStatus,
  IPFSRepoStat,
  Metric,
  PeerId,
  Pin,
  PinInfo,
  PinOptions,
  RepoGC,
  TrackerStatus
} from './types/index.ts'

export interface AbortOptions {
  signal?: AbortSignal
}

/** js-libp2p style lifecycle: idempotent start/stop. */
export interface Startable {
  start(): Promise<void>
  stop(): Promise<void>
}

/**
 * Read access to the pinset (`state.ReadOnly`).
 * `get` throws `NotFoundError` when the CID is not in the pinset.
 */
export interface ReadOnlyState {
  list(options?: AbortOptions): AsyncGenerator<Pin>
  /**
   * The same pins as `list`, in the same order, a page (one datastore read,
   * decoded at once) per step: one await per page instead of per pin, for
   * the listings. Pages may be empty. Optional: ours, not upstream's.
   */
  listPages?(options?: AbortOptions): AsyncGenerator<Pin[]>
  has(cid: CID, options?: AbortOptions): Promise<boolean>
  get(cid: CID, options?: AbortOptions): Promise<Pin>
  /**
   * The pinset newest first (by `created`, src/state/created.ts), strictly
   * between `after` and `before` (ns since the epoch), from the local
   * pins-by-creation index: reaching the first pin costs O(log n). Null
   * when this state keeps no such index (yet). Optional: ours, not upstream's.
   */
  newestFirst?(range: { before?: bigint; after?: bigint }, options?: AbortOptions): Promise<AsyncGenerator<Pin> | null>
}

/** Write access to the pinset (`state.State`). */
export interface State extends ReadOnlyState {
  add(pin: Pin, options?: AbortOptions): Promise<void>
  rm(cid: CID, options?: AbortOptions): Promise<void>
}

/** A state that can also be written in batches (`state.BatchingState`). */
export interface BatchingState extends State {
  commit(options?: AbortOptions): Promise<void>
}

/**
 * The shared pinset and its peerset (`Consensus`). `logPin` resolves once
 * the pin is durably recorded (with batching: persisted in the batch
 * queue, so it survives a crash); it then reaches every peer's state.
 * Every change to the local state is reported through `onChange`
 * (set by the Cluster) so the pin tracker can act on it.
 */
export interface Consensus extends Startable {
  /** Resolves once the consensus can be used. */
  ready(options?: AbortOptions): Promise<void>
  logPin(pin: Pin, options?: AbortOptions): Promise<void>
  logUnpin(pin: Pin, options?: AbortOptions): Promise<void>
  /** The current peerset (crdt: peers with a valid `ping` metric, always including this peer). */
  peers(options?: AbortOptions): Promise<PeerId[]>
  /** The local copy of the shared pinset. */
  state(options?: AbortOptions): Promise<ReadOnlyState>
  isTrustedPeer(peer: PeerId): boolean
  trust(peer: PeerId): Promise<void>
  distrust(peer: PeerId): Promise<void>
  /** Deletes all persisted consensus data (used by `state cleanup`). */
  clean(options?: AbortOptions): Promise<void>
  /** Sets who hears of every change of the local state (the Cluster wires its pin tracker here); undefined unsets. */
  setOnChange(handler: StateChangeHandler | undefined): void
  /**
   * Raft only (upstream `AddPeer`/`RmPeer`): adds or removes a voter,
   * committed before it resolves; crdt has no voters and leaves these unset.
   */
  addPeer?(peer: PeerId, options?: AbortOptions): Promise<void>
  rmPeer?(peer: PeerId, options?: AbortOptions): Promise<void>
  /**
   * Raft only: commits an operation forwarded by a follower, on this peer if
   * it is the leader (the RPC `Consensus.LogPin|LogUnpin|AddPeer|RmPeer`).
   */
  commitLocal?(op: 'LogPin' | 'LogUnpin' | 'AddPeer' | 'RmPeer', arg: Pin | PeerId, options?: AbortOptions): Promise<void>
}

/**
 * Called with every pin added to or removed from the local state. A
 * promise returned asks the consensus to wait for it before it applies
 * more remote changes (backpressure: the crdt merge waits, once per delta).
 */
export type StateChangeHandler = (change: { op: 'pin'; pin: Pin } | { op: 'unpin'; pin: Pin }) => void | Promise<void>

/** A pin's status in kubo, from `pin/ls` (streamed). */
export interface IPFSPinInfo {
  cid: CID
  type: IPFSPinStatus
}

/** Progress of a `pin/add` (blocks fetched so far). */
export type PinProgressHandler = (blocks: number) => void

/**
 * The local IPFS daemon (`IPFSConnector`, upstream `ipfsconn/ipfshttp`).
 * Every method throws `IPFSError` when kubo cannot be reached or fails.
 */
export interface IPFSConnector extends Startable {
  id(options?: AbortOptions): Promise<IPFSID>
  /**
   * `pin/add?progress=true` (or `pin/update?unpin=false` when `pin.pinUpdate`
   * is set). `pin_timeout` counts from the last progress update.
   */
  pin(pin: Pin, options?: AbortOptions & { onProgress?: PinProgressHandler }): Promise<void>
  unpin(cid: CID, options?: AbortOptions): Promise<void>
  /** `pin/ls?type=<filter>&stream=true`; filter `recursive`, `direct` or `all`. */
  pinLs(typeFilter: string, options?: AbortOptions): AsyncGenerator<IPFSPinInfo>
  /** Status of one CID in kubo (`unpinned` when not pinned). */
  pinLsCid(pin: Pin, options?: AbortOptions): Promise<IPFSPinStatus>
  connectSwarms(options?: AbortOptions): Promise<void>
  swarmConnect(addrs: string[], options?: AbortOptions): Promise<void>
  swarmPeers(options?: AbortOptions): Promise<string[]>
  configKey(key: string, options?: AbortOptions): Promise<unknown>
  /** `repo/stat`, `size-only` unless `sizeOnly: false` (then with NumObjects, RepoPath, Version). */
  repoStat(options?: AbortOptions & { sizeOnly?: boolean }): Promise<IPFSRepoStat>
  repoGC(options?: AbortOptions): AsyncGenerator<{ key: CID | null; error: string }>
  /** Resolves `/ipfs/<cid>/path`, `/ipns/...` to a CID. */
  resolve(path: string, options?: AbortOptions): Promise<CID>
  blockPut(data: Uint8Array, opts: { format?: string; mhtype?: string; cidVersion?: number }, options?: AbortOptions): Promise<CID>
  blockGet(cid: CID, options?: AbortOptions): Promise<Uint8Array>
  /**
   * Stores a stream of blocks in kubo (upstream `BlockStream`): several
   * blocks per streamed multipart `block/put` request (one part per
   * block, one request per run of blocks sharing codec and hash function).
   * Resolves once kubo has stored every block; the stored CIDs are checked
   * against the given ones.
   * @throws IPFSError (kubo down or failing, CID mismatch), AbortError
   */
  blockStream(blocks: AsyncIterable<{ cid: CID; bytes: Uint8Array }>, options?: AbortOptions): Promise<void>
}

/**
 * The pin tracker (`PinTracker`, upstream `pintracker/stateless`): makes
 * the local IPFS match the pinset and reports per-CID status.
 */
export interface PinTracker extends Startable {
  /** Queues a pin (or an unpin if this peer is not allocated). */
  track(pin: Pin, options?: AbortOptions): Promise<void>
  untrack(cid: CID, options?: AbortOptions): Promise<void>
  /** Status of every CID in the pinset plus in-flight operations; `filter` empty = all. */
  statusAll(filter: Set<TrackerStatus>, options?: AbortOptions): AsyncGenerator<PinInfo>
  /** `statusAll` in pages (same items, same order; pages may be empty). Optional. */
  statusAllPages?(filter: Set<TrackerStatus>, options?: AbortOptions): AsyncGenerator<PinInfo[]>
  status(cid: CID, options?: AbortOptions): Promise<PinInfo>
  recoverAll(options?: AbortOptions): AsyncGenerator<PinInfo>
  recover(cid: CID, options?: AbortOptions): Promise<PinInfo>
  /** Number of queued pin operations (the `pinqueue` informer). */
  pinQueueSize(): number
  /** Resolves once at most `limit` unpins of remote pins wait; undefined when so already. Optional. */
  remoteBacklog?(limit: number): Promise<void> | undefined
}

/** An informer produces metrics about this peer (`Informer`). */
export interface Informer extends Startable {
  name(): string
  getMetrics(options?: AbortOptions): Promise<Metric[]>
}

/** Chooses peers for a pin (`PinAllocator`, upstream `allocator/balanced`). */
export interface PinAllocator extends Startable {
  /**
   * @param current metrics of peers currently allocated
   * @param candidates metrics of other peers that may be allocated
   * @param priority metrics of peers to prefer (`user_allocations`)
   * @returns peers ordered by preference
   */
  allocate(
    cid: CID,
    current: Map<PeerId, Metric[]>,
    candidates: Map<PeerId, Metric[]>,
    priority: Map<PeerId, Metric[]>,
    options?: AbortOptions
  ): Promise<PeerId[]>
  /** The metric names it needs (from `allocate_by`). */
  metrics(): string[]
}

/** Collects metrics from every peer and raises alerts (`PeerMonitor`). */
export interface PeerMonitor extends Startable {
  logMetric(m: Metric, options?: AbortOptions): Promise<void>
  publishMetric(m: Metric, options?: AbortOptions): Promise<void>
  /** Latest valid metric of that name from each peer. */
  latestMetrics(name: string, options?: AbortOptions): Promise<Metric[]>
  latestForPeer(name: string, peer: PeerId): Metric | undefined
  metricNames(): string[]
  alerts(): Alert[]
  /** Subscribe to alerts as they fire; returns the unsubscribe function. */
  onAlert(handler: (a: Alert) => void): () => void
}

/**
 * What the APIs (REST, later pinsvc and proxy) use of the cluster: the
 * public methods of upstream's `Cluster` (cluster.go).
 * Errors: `NotFoundError` (404), `InvalidArgumentError` (400),
 * `FollowerModeError`, `NotEnoughPeersError`, `IPFSError`, others (500).
 */
export interface ClusterAPI {
  id(options?: AbortOptions): Promise<ID>
  version(): string
  peers(options?: AbortOptions): AsyncGenerator<ID>
  peerAdd(peer: PeerId, options?: AbortOptions): Promise<ID>
  peerRemove(peer: PeerId, options?: AbortOptions): Promise<void>
  /** Pins (or updates) a CID; returns the pin as committed. */
  pin(cid: CID, opts: PinOptions, options?: AbortOptions): Promise<Pin>
  /** Resolves `/ipfs/…`, `/ipns/…`, `/ipld/…` through kubo, then pins. */
  pinPath(path: string, opts: PinOptions, options?: AbortOptions): Promise<Pin>
  /** Returns the pin as it was before removal. @throws NotFoundError */
  unpin(cid: CID, options?: AbortOptions): Promise<Pin>
  unpinPath(path: string, options?: AbortOptions): Promise<Pin>
  /** The pinset (`filter`: pin types); streamed. */
  pins(options?: AbortOptions): AsyncGenerator<Pin>
  /** `pins` in pages (same pins, same order; pages may be empty). Optional. */
  pinPages?(options?: AbortOptions): AsyncGenerator<Pin[]>
  /** @throws NotFoundError */
  pinGet(cid: CID, options?: AbortOptions): Promise<Pin>
  /** The pinset newest first within strict `created` bounds (ns), or null when the state has no index for it (`ReadOnlyState.newestFirst`). */
  pinsNewestFirst?(range: { before?: bigint; after?: bigint }, options?: AbortOptions): Promise<AsyncGenerator<Pin> | null>
  status(cid: CID, local: boolean, options?: AbortOptions): Promise<GlobalPinInfo>
  statusAll(filter: Set<TrackerStatus>, local: boolean, options?: AbortOptions): AsyncGenerator<GlobalPinInfo>
  /** `statusAll` in pages; undefined when not paged (the cluster-wide merge streams items). Optional. */
  statusAllPages?(filter: Set<TrackerStatus>, local: boolean, options?: AbortOptions): AsyncGenerator<GlobalPinInfo[]> | undefined
  /** Status of specific CIDs (`?cids=`). */
  statusCids(cids: CID[], local: boolean, options?: AbortOptions): AsyncGenerator<GlobalPinInfo>
  recover(cid: CID, local: boolean, options?: AbortOptions): Promise<GlobalPinInfo>
  recoverAll(local: boolean, options?: AbortOptions): AsyncGenerator<GlobalPinInfo>
  repoGC(local: boolean, options?: AbortOptions): Promise<GlobalRepoGC>
  repoGCLocal(options?: AbortOptions): Promise<RepoGC>
  alerts(): Alert[]
  metricNames(): string[]
  metrics(name: string, options?: AbortOptions): Promise<Metric[]>
  connectGraph(options?: AbortOptions): Promise<ConnectGraph>
  bandwidthByProtocol(): Record<string, { total_in: number; total_out: number; rate_in: number; rate_out: number }>
}
