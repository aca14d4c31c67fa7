/**
 * Data types of the Raft core (src/consensus/raft/core.ts): log entries,
 * the persisted hard state, snapshots and the messages peers exchange.
 * The shapes follow the Raft paper (Ongaro & Ousterhout, "In Search of an
 * Understandable Consensus Algorithm", extended version) and hashicorp/raft
 * v1.7.3, which upstream ipfs-cluster v1.1.6 uses (consensus/raft); the wire
 * format is our own (not hashicorp's).
 */

/** A Raft server's ID: the cluster peer ID (string form), as upstream's `LocalID`. */
export type RaftPeerId = string

/**
 * A log entry. Indexes start at 1, terms at 1.
 * - `command`: `data` is opaque to the core (the consensus' log op);
 * - `config`: `voters` is the whole voter set from this entry on (single-server
 *   changes: it differs from the previous set by one voter);
 * - `noop`: appended by a new leader so that it commits an entry of its term.
 */
export interface LogEntry {
  index: number
  term: number
  kind: 'command' | 'config' | 'noop'
  data?: Uint8Array
  voters?: RaftPeerId[]
}

/** What must survive a crash besides the log: the current term and the vote cast in it. */
export interface HardState {
  term: number
  votedFor: RaftPeerId | null
}

/** Where a snapshot stands in the log, and the voter set at that index. */
export interface SnapshotMeta {
  index: number
  term: number
  voters: RaftPeerId[]
}

/** A snapshot: its meta and the state machine's serialized state (opaque to the core). */
export interface Snapshot {
  meta: SnapshotMeta
  data: Uint8Array
}

interface Envelope {
  from: RaftPeerId
  to: RaftPeerId
  term: number
  /**
   * The cluster the sender belongs to (stamped by the consensus component,
   * ignored by the core): servers bootstrapped with different voter sets
   * drop each other's messages instead of mixing two logs.
   */
  cluster?: string
}

/** Pre-vote (Ongaro's thesis 9.6; hashicorp `RequestPreVote`): `term` is the term the sender would campaign in. */
export interface PreVoteRequest extends Envelope {
  type: 'prevote'
  lastIndex: number
  lastTerm: number
}
/** `term` is the requested term when granted, the responder's term when refused. */
export interface PreVoteResponse extends Envelope {
  type: 'prevote_resp'
  granted: boolean
}
export interface VoteRequest extends Envelope {
  type: 'vote'
  lastIndex: number
  lastTerm: number
  /** set by a leadership transfer's target: receivers skip their leader lease */
  transfer?: boolean
}
export interface VoteResponse extends Envelope {
  type: 'vote_resp'
  granted: boolean
}
/** AppendEntries; an empty `entries` is a heartbeat (and still a consistency probe). */
export interface AppendRequest extends Envelope {
  type: 'append'
  prevIndex: number
  prevTerm: number
  entries: LogEntry[]
  /** the leader's commit index */
  commit: number
}
/**
 * Answer to `append` and `snapshot`. On success `matchIndex` is the last index
 * known to match the leader's log; on refusal `rejectIndex` is the refused
 * `prevIndex` and `hint` the highest index the follower may match.
 */
export interface AppendResponse extends Envelope {
  type: 'append_resp'
  success: boolean
  matchIndex: number
  rejectIndex: number
  hint: number
}
/** InstallSnapshot, whole (the transport may chunk it). */
export interface SnapshotRequest extends Envelope {
  type: 'snapshot'
  snapshot: Snapshot
}
/** Leadership transfer (hashicorp `TimeoutNow`): the receiver campaigns at once, skipping pre-vote and lease. */
export interface TimeoutNowRequest extends Envelope {
  type: 'timeout_now'
}

export type RaftMessage =
  | PreVoteRequest
  | PreVoteResponse
  | VoteRequest
  | VoteResponse
  | AppendRequest
  | AppendResponse
  | SnapshotRequest
  | TimeoutNowRequest

/**
 * The work a `RaftCore` hands to its driver (`RaftCore.ready()`), to be done
 * in this order:
 * 1. persist `hardState` (if set), `snapshot` (if set), delete stored entries
 *    with index >= `truncateFrom` (if set) then store `entries`, delete stored
 *    entries with index <= `compactTo` (if set), and fsync;
 * 2. send `messages` (only now: they may grant votes or acknowledge entries);
 * 3. if `restore` is set, replace the state machine's state with it;
 * 4. apply `committed` in order.
 */
export interface Ready {
  hardState?: HardState
  snapshot?: Snapshot
  truncateFrom?: number
  entries: LogEntry[]
  compactTo?: number
  messages: RaftMessage[]
  restore?: Snapshot
  committed: LogEntry[]
}

/** What a server reads back from its stores at start (an empty store: term 0, no entries). */
export interface PersistedState {
  hardState: HardState
  snapshot?: Snapshot
  /** contiguous, ascending; the first may precede the snapshot's index (trailing logs) */
  entries: LogEntry[]
}
