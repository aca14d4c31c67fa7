/**
 * A deterministic Raft state machine (the consensus core): no timers, no I/O,
 * no clock and no global randomness. Inputs are `tick()` (one unit of logical
 * time), `step(message)`, `propose(data)`, `changeVoters()`, `compact()`
 * and `transferLeadership()`; the output is `ready()` (see `Ready` in
 * ./types.ts for the order in which the driver must persist, send and apply).
 *
 * What it implements (Raft paper and Ongaro's thesis; behaviour as hashicorp/raft
 * v1.7.3, used by upstream ipfs-cluster v1.1.6 consensus/raft, where noted):
 * - leader election with randomized timeouts in [T, 2T) ticks, pre-vote
 *   (thesis 9.6, hashicorp `RequestPreVote`) and check-quorum: a leader that
 *   has not heard from a quorum within T ticks steps down, and a server that
 *   heard from a leader within T ticks ignores (pre-)vote requests (the
 *   leader lease, hashicorp `leader_lease_timeout`);
 * - log replication with optimistic pipelining, back-off by conflict hints,
 *   batches of at most `maxAppendEntries` entries, a no-op entry at the
 *   start of each term, commit of current-term entries only;
 * - snapshots: `compact(index, data)` keeps `trailingLogs` entries before the
 *   snapshot index (hashicorp `TrailingLogs`), followers too far behind get
 *   an InstallSnapshot, whose restore replaces the state machine's state;
 * - single-server membership changes (hashicorp `AddVoter`/`RemoveServer`):
 *   a configuration is used from the moment it is appended, one change at a
 *   time, only after the leader committed an entry of its term; a leader
 *   that removed itself steps down once the change is committed; servers that
 *   are not voters never campaign;
 * - leadership transfer (hashicorp `LeadershipTransfer`, `TimeoutNow`).
 */
import { ConfigChangeError, NotLeaderError } from './errors.ts'
import { RaftLog } from './log.ts'
import type { AppendRequest, AppendResponse, HardState, LogEntry, PersistedState, RaftMessage, RaftPeerId, Ready, Snapshot, SnapshotRequest } from './types.ts'

export type RaftRole = 'follower' | 'precandidate' | 'candidate' | 'leader'

/** Settings of the core, in ticks (the driver decides how long a tick is). */
export interface RaftCoreConfig {
  id: RaftPeerId
  /** base election timeout T of a follower, in ticks (> heartbeatTicks; hashicorp `HeartbeatTimeout`); also the leader lease of followers */
  electionTicks: number
  /** base timeout of a candidate before it campaigns again (hashicorp `ElectionTimeout`); default electionTicks */
  candidateTicks?: number
  /** a leader steps down without contact with a quorum for this many ticks (hashicorp `LeaderLeaseTimeout`); default electionTicks */
  checkQuorumTicks?: number
  /** how often a leader sends heartbeats, in ticks */
  heartbeatTicks: number
  /** most entries in one AppendEntries (hashicorp `MaxAppendEntries`, 1..1024) */
  maxAppendEntries: number
  /** entries kept before a snapshot's index when compacting (hashicorp `TrailingLogs`) */
  trailingLogs: number
  /** pre-vote before campaigning (hashicorp: on unless `PreVoteDisabled`); default true */
  preVote?: boolean
  /** a uniform random number in [0, 1): the only source of randomness (seeded in tests) */
  random: () => number
}

interface Progress {
  /** the next index to send */
  next: number
  /** the highest index known to be replicated */
  match: number
  /** heard from in the current check-quorum period */
  active: boolean
}

/** Majority size of `n` voters. */
function quorum(n: number): number {
  return Math.floor(n / 2) + 1
}

export class RaftCore {
  readonly id: RaftPeerId
  readonly #cfg: Required<RaftCoreConfig>
  #term: number
  #votedFor: RaftPeerId | null
  #role: RaftRole = 'follower'
  #leader: RaftPeerId | null = null
  readonly #log: RaftLog
  #commit: number
  #applied: number
  #snapshot: Snapshot | undefined
  #voters: RaftPeerId[]
  #configIndex: number
  #electionElapsed = 0
  #heartbeatElapsed = 0
  #randomizedTimeout: number
  #votes = new Map<RaftPeerId, boolean>()
  #progress = new Map<RaftPeerId, Progress>()
  /** index of this leader's no-op: its term is "committed" once commit >= it */
  #termStart = 0
  #transferTarget: RaftPeerId | null = null
  // pending output
  #hardStateDirty = false
  #unstableFrom = Number.POSITIVE_INFINITY
  #compactTo: number | undefined
  #snapshotDirty = false
  #restore: Snapshot | undefined
  #messages: RaftMessage[] = []

  /**
   * Builds a server from what its stores hold (`PersistedState`; a new server
   * has term 0 and no entries: it waits to be contacted by a leader, unless
   * `bootstrapState()` was persisted first). It starts as a follower with
   * commit and applied index at the snapshot's index: the driver restores
   * its state machine from `persisted.snapshot` itself. Throws if the entries
   * are not contiguous or leave a gap after the snapshot.
   */
  constructor(cfg: RaftCoreConfig, persisted: PersistedState) {
    if (!(cfg.electionTicks > cfg.heartbeatTicks && cfg.heartbeatTicks > 0)) throw new Error('raft core: need electionTicks > heartbeatTicks > 0')
    if (!(cfg.maxAppendEntries > 0)) throw new Error('raft core: maxAppendEntries must be > 0')
    this.id = cfg.id
    this.#cfg = { preVote: true, candidateTicks: cfg.electionTicks, checkQuorumTicks: cfg.electionTicks, ...cfg }
    this.#term = persisted.hardState.term
    this.#votedFor = persisted.hardState.votedFor
    const snap = persisted.snapshot
    this.#snapshot = snap
    let entries = persisted.entries
    let offset = snap?.meta.index ?? 0
    let offsetTerm = snap?.meta.term ?? 0
    const first = entries[0]
    if (first !== undefined && first.index <= offset) {
      // trailing entries before the snapshot: the first one becomes the offset
      offset = first.index
      offsetTerm = first.term
      entries = entries.slice(1)
    } else if (first !== undefined && first.index !== offset + 1) {
      throw new Error(`raft core: stored entries start at ${first.index}, expected ${offset + 1}`)
    }
    this.#log = new RaftLog(offset, offsetTerm, entries)
    if (snap !== undefined && this.#log.lastIndex() < snap.meta.index) throw new Error('raft core: stored log ends before the snapshot')
    this.#commit = snap?.meta.index ?? 0
    this.#applied = this.#commit
    this.#voters = []
    this.#configIndex = 0
    this.#recomputeConfig()
    this.#randomizedTimeout = this.#randomTimeout()
  }

  /**
   * The persisted state of a server of a new cluster (hashicorp
   * `BootstrapCluster`): term 1 and a configuration entry at index 1 with
   * `voters`. Every server bootstrapped together must get the same voters.
   */
  static bootstrapState(voters: RaftPeerId[]): PersistedState {
    return { hardState: { term: 1, votedFor: null }, entries: [{ index: 1, term: 1, kind: 'config', voters: [...new Set(voters)].sort() }] }
  }

  // ---------------------------------------------------------------- getters

  get role(): RaftRole {
    return this.#role
  }
  get term(): number {
    return this.#term
  }
  get votedFor(): RaftPeerId | null {
    return this.#votedFor
  }
  /** The leader this server knows of in its term (itself when leading), or null. */
  get leader(): RaftPeerId | null {
    return this.#leader
  }
  get commitIndex(): number {
    return this.#commit
  }
  /** The last index handed out for applying (through `ready()`). */
  get appliedIndex(): number {
    return this.#applied
  }
  get lastIndex(): number {
    return this.#log.lastIndex()
  }
  /** The index of the first entry still in the log. */
  get firstIndex(): number {
    return this.#log.offset + 1
  }
  /** The latest voter set (from the last configuration entry appended, committed or not). */
  get voters(): readonly RaftPeerId[] {
    return this.#voters
  }
  /** The index of the latest configuration entry (0: from the snapshot or none). */
  get configIndex(): number {
    return this.#configIndex
  }
  get snapshotMeta(): Snapshot['meta'] | undefined {
    return this.#snapshot?.meta
  }
  /** The log entry at `index`, when still in the log. */
  entry(index: number): LogEntry | undefined {
    return this.#log.entry(index)
  }
  /** The term of the entry at `index` (also at the compaction point), when known. */
  termAt(index: number): number | undefined {
    return this.#log.term(index)
  }
  isVoter(id: RaftPeerId = this.id): boolean {
    return this.#voters.includes(id)
  }

  // ---------------------------------------------------------------- inputs

  /** One unit of logical time. */
  tick(): void {
    this.#electionElapsed++
    if (this.#role === 'leader') {
      this.#heartbeatElapsed++
      if (this.#electionElapsed >= this.#cfg.checkQuorumTicks) {
        this.#electionElapsed = 0
        this.#transferTarget = null
        if (!this.#quorumActive()) {
          this.#becomeFollower(this.#term, null)
          return
        }
        for (const [id, pr] of this.#progress) pr.active = id === this.id
      }
      if (this.#heartbeatElapsed >= this.#cfg.heartbeatTicks) {
        this.#heartbeatElapsed = 0
        this.#broadcastAppend(true)
      }
      return
    }
    if (this.#electionElapsed >= this.#randomizedTimeout && this.isVoter()) this.#campaign(this.#cfg.preVote)
  }

  /**
   * Handles a message from a peer. Messages not addressed to this server,
   * or not understood, are ignored (the transport validates their shape).
   */
  step(m: RaftMessage): void {
    if (m.to !== this.id || m.from === this.id) return
    if (m.term > this.#term) {
      if (m.type === 'prevote' || m.type === 'vote') {
        // the leader lease: a server that heard from a leader recently ignores campaigns
        // (a leadership transfer's vote request says it was asked for)
        const forced = m.type === 'vote' && m.transfer === true
        if (!forced && this.#leader !== null && this.#electionElapsed < this.#cfg.electionTicks) return
      }
      if (m.type === 'prevote' || (m.type === 'prevote_resp' && m.granted)) {
        // a pre-vote never changes terms
      } else {
        const fromLeader = m.type === 'append' || m.type === 'snapshot' || m.type === 'timeout_now'
        // only a leader (or a granted vote, below) restarts the election timer: a
        // candidate with a stale log must not keep the others from campaigning
        this.#becomeFollower(m.term, fromLeader ? m.from : null, fromLeader)
      }
    } else if (m.term < this.#term) {
      if (m.type === 'append' || m.type === 'snapshot') {
        // tell a stale leader about the newer term so that it steps down
        this.#send({ type: 'append_resp', from: this.id, to: m.from, term: this.#term, success: false, matchIndex: 0, rejectIndex: 0, hint: 0 })
      } else if (m.type === 'prevote') {
        this.#send({ type: 'prevote_resp', from: this.id, to: m.from, term: this.#term, granted: false })
      }
      return
    }

    switch (m.type) {
      case 'prevote':
      case 'vote':
        this.#handleVoteRequest(m)
        return
      case 'prevote_resp':
        if (this.#role === 'precandidate' && (m.granted ? m.term === this.#term + 1 : true)) this.#countVote(m.from, m.granted)
        return
      case 'vote_resp':
        if (this.#role === 'candidate') this.#countVote(m.from, m.granted)
        return
      case 'append':
        this.#acceptLeader(m.from)
        this.#handleAppend(m)
        return
      case 'snapshot':
        this.#acceptLeader(m.from)
        this.#handleSnapshot(m)
        return
      case 'append_resp':
        if (this.#role === 'leader') this.#handleAppendResponse(m)
        return
      case 'timeout_now':
        if (this.isVoter()) this.#campaign(false, true)
        return
    }
  }

  /**
   * Appends a command to the leader's log; returns where it stands. The
   * command is committed when an entry with this index and term is handed out
   * in `Ready.committed`; if another entry shows up at that index, it was lost.
   * Throws `NotLeaderError` on a server that is not the leader (or is
   * transferring leadership).
   */
  propose(data: Uint8Array): { index: number; term: number } {
    if (this.#role !== 'leader' || this.#transferTarget !== null) throw new NotLeaderError()
    return this.#appendOwn({ kind: 'command', data })
  }

  /**
   * Adds or removes one voter (hashicorp `AddVoter` / `RemoveServer`) by
   * appending a configuration entry. Throws `NotLeaderError`, or
   * `ConfigChangeError` when a change is pending, the leader's term has no
   * committed entry yet, the change is void, or it would remove the last voter.
   */
  changeVoters(change: { add: RaftPeerId } | { remove: RaftPeerId }): { index: number; term: number } {
    if (this.#role !== 'leader' || this.#transferTarget !== null) throw new NotLeaderError()
    if (this.#configIndex > this.#commit) throw new ConfigChangeError('raft: a configuration change is already in progress')
    if (this.#commit < this.#termStart) throw new ConfigChangeError('raft: the leader has not committed an entry of its term yet')
    let voters: RaftPeerId[]
    if ('add' in change) {
      if (this.#voters.includes(change.add)) throw new ConfigChangeError(`raft: ${change.add} is already a voter`)
      voters = [...this.#voters, change.add].sort()
    } else {
      if (!this.#voters.includes(change.remove)) throw new ConfigChangeError(`raft: ${change.remove} is not a voter`)
      if (this.#voters.length === 1) throw new ConfigChangeError('raft: cannot remove the last voter')
      voters = this.#voters.filter((v) => v !== change.remove)
    }
    return this.#appendOwn({ kind: 'config', voters })
  }

  /**
   * Records a snapshot of the state machine taken at `index` (which must have
   * been applied) and compacts the log, keeping `trailingLogs` entries before
   * it. A no-op when `index` is not past the current snapshot.
   */
  compact(index: number, data: Uint8Array): void {
    if (index > this.#applied) throw new Error(`raft core: snapshot at ${index} beyond the applied index ${this.#applied}`)
    if (index <= (this.#snapshot?.meta.index ?? 0)) return
    const term = this.#log.term(index)
    if (term === undefined) throw new Error(`raft core: no term known at ${index}`)
    this.#snapshot = { meta: { index, term, voters: this.#votersAt(index) }, data }
    this.#snapshotDirty = true
    const to = Math.max(this.#log.offset, index - this.#cfg.trailingLogs)
    if (to > this.#log.offset) {
      this.#log.compactTo(to)
      this.#compactTo = Math.max(this.#compactTo ?? 0, to)
    }
  }

  /**
   * Hands leadership to `to` (or the most up-to-date voter): new proposals are
   * refused until the transfer ends (at most one election timeout); once the
   * target's log matches, it is told to campaign at once. Throws
   * `NotLeaderError` on a follower, `ConfigChangeError` without another voter.
   */
  transferLeadership(to?: RaftPeerId): void {
    if (this.#role !== 'leader') throw new NotLeaderError()
    let target = to
    if (target === undefined) {
      let best = -1
      for (const v of this.#voters) {
        const pr = this.#progress.get(v)
        if (v !== this.id && pr !== undefined && pr.match > best) {
          best = pr.match
          target = v
        }
      }
    }
    if (target === undefined || target === this.id || !this.#voters.includes(target)) throw new ConfigChangeError('raft: no other voter to transfer leadership to')
    this.#transferTarget = target
    this.#electionElapsed = 0
    this.#maybeSendTimeoutNow()
  }

  /** True when `ready()` has work for the driver. */
  hasReady(): boolean {
    return (
      this.#hardStateDirty ||
      this.#snapshotDirty ||
      this.#unstableFrom !== Number.POSITIVE_INFINITY ||
      this.#compactTo !== undefined ||
      this.#messages.length > 0 ||
      this.#restore !== undefined ||
      this.#commit > this.#applied
    )
  }

  /**
   * Takes the pending work (see `Ready` for what the driver must do with it,
   * in order). Entries in `committed` count as applied from now on.
   */
  ready(): Ready {
    const r: Ready = { entries: [], messages: this.#messages, committed: [] }
    this.#messages = []
    if (this.#hardStateDirty) r.hardState = this.#hardState()
    this.#hardStateDirty = false
    if (this.#snapshotDirty && this.#snapshot !== undefined) r.snapshot = this.#snapshot
    this.#snapshotDirty = false
    if (this.#unstableFrom !== Number.POSITIVE_INFINITY) {
      r.truncateFrom = this.#unstableFrom
      r.entries = this.#log.slice(this.#unstableFrom, this.#log.lastIndex() + 1)
    }
    this.#unstableFrom = Number.POSITIVE_INFINITY
    if (this.#compactTo !== undefined) r.compactTo = this.#compactTo
    this.#compactTo = undefined
    if (this.#restore !== undefined) r.restore = this.#restore
    this.#restore = undefined
    if (this.#commit > this.#applied) {
      r.committed = this.#log.slice(this.#applied + 1, this.#commit + 1)
      this.#applied = this.#commit
    }
    return r
  }

  // ---------------------------------------------------------------- roles

  #hardState(): HardState {
    return { term: this.#term, votedFor: this.#votedFor }
  }

  #randomTimeout(): number {
    const t = this.#role === 'precandidate' || this.#role === 'candidate' ? this.#cfg.candidateTicks : this.#cfg.electionTicks
    return t + Math.min(t - 1, Math.floor(this.#cfg.random() * t))
  }

  #resetTimers(): void {
    this.#electionElapsed = 0
    this.#heartbeatElapsed = 0
    this.#randomizedTimeout = this.#randomTimeout()
  }

  #setTerm(term: number, votedFor: RaftPeerId | null): void {
    if (term !== this.#term || votedFor !== this.#votedFor) this.#hardStateDirty = true
    this.#term = term
    this.#votedFor = votedFor
  }

  #becomeFollower(term: number, leader: RaftPeerId | null, resetTimer = true): void {
    const wasLeader = this.#role === 'leader'
    if (term !== this.#term) this.#setTerm(term, null)
    this.#role = 'follower'
    this.#leader = leader
    this.#progress.clear()
    this.#votes.clear()
    this.#transferTarget = null
    if (resetTimer || wasLeader) this.#resetTimers()
  }

  #acceptLeader(from: RaftPeerId): void {
    if (this.#role !== 'follower') this.#becomeFollower(this.#term, from)
    this.#leader = from
    this.#electionElapsed = 0
  }

  #campaign(preVote: boolean, transfer = false): void {
    this.#votes.clear()
    this.#leader = null
    if (preVote) {
      this.#role = 'precandidate'
    } else {
      this.#role = 'candidate'
      this.#setTerm(this.#term + 1, this.id)
    }
    this.#resetTimers()
    this.#votes.set(this.id, true)
    if (this.#checkVotes()) return
    const term = preVote ? this.#term + 1 : this.#term
    for (const v of this.#voters) {
      if (v === this.id) continue
      const base = { from: this.id, to: v, term, lastIndex: this.#log.lastIndex(), lastTerm: this.#log.lastTerm() }
      // a transfer's vote request skips the receivers' lease (the leader asked for it)
      this.#send(preVote ? { type: 'prevote', ...base } : { type: 'vote', ...base, ...(transfer ? { transfer: true } : {}) })
    }
  }

  #countVote(from: RaftPeerId, granted: boolean): void {
    if (!this.#voters.includes(from)) return
    this.#votes.set(from, granted)
    this.#checkVotes()
  }

  /** Acts on the votes counted so far; true when the campaign ended. */
  #checkVotes(): boolean {
    let yes = 0
    let no = 0
    for (const v of this.#voters) {
      const g = this.#votes.get(v)
      if (g === true) yes++
      else if (g === false) no++
    }
    const q = quorum(this.#voters.length)
    if (yes >= q) {
      if (this.#role === 'precandidate') this.#campaign(false)
      else this.#becomeLeader()
      return true
    }
    if (no >= q) {
      this.#becomeFollower(this.#term, null)
      return true
    }
    return false
  }

  #becomeLeader(): void {
    this.#role = 'leader'
    this.#leader = this.id
    this.#transferTarget = null
    this.#votes.clear()
    this.#resetTimers()
    this.#progress.clear()
    for (const v of this.#voters) this.#addProgress(v)
    this.#termStart = this.#log.lastIndex() + 1
    this.#appendOwn({ kind: 'noop' })
  }

  #addProgress(id: RaftPeerId): void {
    if (this.#progress.has(id)) return
    this.#progress.set(id, { next: this.#log.lastIndex() + 1, match: id === this.id ? this.#log.lastIndex() : 0, active: id === this.id })
  }

  #quorumActive(): boolean {
    let n = 0
    for (const v of this.#voters) if (this.#progress.get(v)?.active === true) n++
    return n >= quorum(this.#voters.length)
  }

  // ---------------------------------------------------------------- votes

  #handleVoteRequest(m: Extract<RaftMessage, { type: 'prevote' | 'vote' }>): void {
    const upToDate = m.lastTerm > this.#log.lastTerm() || (m.lastTerm === this.#log.lastTerm() && m.lastIndex >= this.#log.lastIndex())
    if (m.type === 'prevote') {
      // granted when this server would vote in that term: no recent leader, a log at least as up to date
      const granted = upToDate && m.term > this.#term && (this.#leader === null || this.#electionElapsed >= this.#cfg.electionTicks)
      this.#send({ type: 'prevote_resp', from: this.id, to: m.from, term: granted ? m.term : this.#term, granted })
      return
    }
    const canVote = this.#votedFor === m.from || (this.#votedFor === null && this.#leader === null)
    const granted = canVote && upToDate
    if (granted) {
      this.#setTerm(this.#term, m.from)
      this.#electionElapsed = 0
    }
    this.#send({ type: 'vote_resp', from: this.id, to: m.from, term: this.#term, granted })
  }

  // ---------------------------------------------------------------- replication (follower side)

  #handleAppend(m: AppendRequest): void {
    const reply = (success: boolean, matchIndex: number, hint = 0) =>
      this.#send({ type: 'append_resp', from: this.id, to: m.from, term: this.#term, success, matchIndex, rejectIndex: m.prevIndex, hint })
    if (m.prevIndex < this.#commit) {
      reply(true, this.#commit)
      return
    }
    if (this.#log.term(m.prevIndex) !== m.prevTerm) {
      let hint = Math.min(m.prevIndex - 1, this.#log.lastIndex())
      // skip back over entries of terms newer than prevTerm (they cannot match)
      while (hint > this.#commit && (this.#log.term(hint) ?? 0) > m.prevTerm) hint--
      reply(false, 0, Math.max(hint, this.#commit))
      return
    }
    for (let i = 0; i < m.entries.length; i++) {
      const e = m.entries[i]!
      const t = this.#log.term(e.index)
      if (t === e.term) continue
      if (t !== undefined) {
        if (e.index <= this.#commit) throw new Error(`raft core: leader ${m.from} conflicts with committed entry ${e.index}`)
        this.#log.truncateFrom(e.index)
        this.#markUnstable(e.index)
        this.#recomputeConfig()
      }
      for (const rest of m.entries.slice(i)) this.#appendEntry(rest)
      break
    }
    const lastNew = m.prevIndex + m.entries.length
    this.#commit = Math.max(this.#commit, Math.min(m.commit, lastNew))
    reply(true, lastNew)
  }

  #handleSnapshot(m: SnapshotRequest): void {
    const s = m.snapshot
    const reply = (matchIndex: number) =>
      this.#send({ type: 'append_resp', from: this.id, to: m.from, term: this.#term, success: true, matchIndex, rejectIndex: 0, hint: 0 })
    if (s.meta.index <= this.#commit) {
      reply(this.#commit)
      return
    }
    if (this.#log.term(s.meta.index) === s.meta.term) {
      // the log already holds the snapshot's last entry: applying the entries gives the same state
      this.#commit = s.meta.index
      reply(s.meta.index)
      return
    }
    this.#snapshot = s
    this.#snapshotDirty = true
    this.#restore = s
    const had = this.#log.lastIndex()
    this.#log.reset(s.meta.index, s.meta.term)
    // every stored entry goes: those after the snapshot by truncation, the rest by compaction
    this.#markUnstable(s.meta.index + 1)
    if (had > 0) this.#compactTo = Math.max(this.#compactTo ?? 0, Math.min(had, s.meta.index))
    this.#commit = s.meta.index
    this.#applied = s.meta.index
    this.#recomputeConfig()
    reply(s.meta.index)
  }

  #appendEntry(e: LogEntry): void {
    this.#log.append(e)
    this.#markUnstable(e.index)
    if (e.kind === 'config' && e.voters !== undefined) this.#setConfig(e.voters, e.index)
  }

  #markUnstable(index: number): void {
    this.#unstableFrom = Math.min(this.#unstableFrom, index)
  }

  // ---------------------------------------------------------------- replication (leader side)

  #appendOwn(e: Omit<LogEntry, 'index' | 'term'>): { index: number; term: number } {
    const entry: LogEntry = { ...e, index: this.#log.lastIndex() + 1, term: this.#term }
    this.#appendEntry(entry)
    const self = this.#progress.get(this.id)
    if (self !== undefined) {
      self.match = entry.index
      self.next = entry.index + 1
    }
    this.#maybeCommit()
    this.#broadcastAppend(false)
    return { index: entry.index, term: entry.term }
  }

  #broadcastAppend(heartbeat: boolean): void {
    for (const id of this.#progress.keys()) if (id !== this.id) this.#sendAppend(id, heartbeat)
  }

  #sendAppend(to: RaftPeerId, force: boolean): void {
    const pr = this.#progress.get(to)
    if (pr === undefined) return
    const prev = pr.next - 1
    const prevTerm = this.#log.term(prev)
    if (prevTerm === undefined) {
      // compacted away: the follower needs the snapshot
      if (this.#snapshot === undefined) throw new Error('raft core: log compacted without a snapshot')
      this.#send({ type: 'snapshot', from: this.id, to, term: this.#term, snapshot: this.#snapshot })
      pr.next = this.#snapshot.meta.index + 1
      return
    }
    const entries = this.#log.slice(pr.next, pr.next + this.#cfg.maxAppendEntries)
    if (entries.length === 0 && !force) return
    this.#send({ type: 'append', from: this.id, to, term: this.#term, prevIndex: prev, prevTerm, entries, commit: this.#commit })
    pr.next = prev + entries.length + 1
  }

  #handleAppendResponse(m: AppendResponse): void {
    const pr = this.#progress.get(m.from)
    if (pr === undefined) return
    pr.active = true
    if (m.success) {
      if (m.matchIndex > pr.match) {
        pr.match = m.matchIndex
        this.#maybeCommit()
      }
      if (pr.next <= pr.match) pr.next = pr.match + 1
      if (this.#role !== 'leader') return // stepped down on commit of its own removal
      if (pr.next <= this.#log.lastIndex()) this.#sendAppend(m.from, false)
      this.#maybeSendTimeoutNow()
      return
    }
    if (m.rejectIndex < pr.match) return // stale refusal
    pr.next = Math.max(pr.match + 1, Math.min(m.rejectIndex, m.hint + 1))
    this.#sendAppend(m.from, true)
  }

  #maybeCommit(): void {
    if (this.#role !== 'leader') return
    const matches: number[] = []
    for (const v of this.#voters) matches.push(this.#progress.get(v)?.match ?? 0)
    if (matches.length === 0) return
    matches.sort((a, b) => b - a)
    const idx = matches[quorum(matches.length) - 1]!
    if (idx <= this.#commit || this.#log.term(idx) !== this.#term) return
    this.#commit = idx
    // followers learn the new commit index at once (empty appends where nothing is left to send)
    this.#broadcastAppend(true)
    this.#pruneProgress()
    // a leader removed by a configuration now committed hands over
    if (!this.#voters.includes(this.id) && this.#configIndex <= this.#commit) this.#becomeFollower(this.#term, null)
  }

  #maybeSendTimeoutNow(): void {
    const t = this.#transferTarget
    if (t === null) return
    if ((this.#progress.get(t)?.match ?? 0) === this.#log.lastIndex()) this.#send({ type: 'timeout_now', from: this.id, to: t, term: this.#term })
  }

  // ---------------------------------------------------------------- configuration

  #setConfig(voters: RaftPeerId[], index: number): void {
    this.#voters = [...voters]
    this.#configIndex = index
    if (this.#role === 'leader') {
      for (const v of voters) this.#addProgress(v)
      this.#pruneProgress()
    }
  }

  /** Stops replicating to removed servers once their removal is committed (so that they learn of it first). */
  #pruneProgress(): void {
    if (this.#configIndex > this.#commit) return
    for (const id of [...this.#progress.keys()]) if (!this.#voters.includes(id)) this.#progress.delete(id)
  }

  /** The voter set in force at `index` (the last configuration entry at or before it). */
  #votersAt(index: number): RaftPeerId[] {
    for (let i = Math.min(index, this.#log.lastIndex()); i > this.#log.offset; i--) {
      const e = this.#log.entry(i)
      if (e?.kind === 'config' && e.voters !== undefined) return [...e.voters]
    }
    return [...(this.#snapshot?.meta.voters ?? this.#voters)]
  }

  #recomputeConfig(): void {
    for (let i = this.#log.lastIndex(); i > this.#log.offset; i--) {
      const e = this.#log.entry(i)
      if (e?.kind === 'config' && e.voters !== undefined) {
        this.#setConfig(e.voters, i)
        return
      }
    }
    this.#setConfig(this.#snapshot?.meta.voters ?? [], 0)
  }

  #send(m: RaftMessage): void {
    this.#messages.push(m)
  }
}
