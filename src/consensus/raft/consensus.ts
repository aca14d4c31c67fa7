/**
 * The Raft consensus component (upstream `consensus/raft` over hashicorp/raft
 * v1.7.3): our deterministic core (./core.ts) driven by timers, a log and
 * stable store in the peer's datastore (./storage.ts), a libp2p transport
 * (./transport.ts), and the pinset as the state machine: a `DsState` under
 * `datastore_namespace` (upstream `/r`).
 *
 * Behaviour as upstream:
 * - start: with no raft state and not `staging`, the peer bootstraps the
 *   voter set `init_peerset ∪ {self}`; with state, `init_peerset` is ignored;
 * - `ready()`: a leader is known (polled, bounded by `wait_for_leader_timeout`),
 *   this peer is a voter and has applied everything committed it knows of;
 * - `logPin`/`logUnpin`/`addPeer`/`rmPeer` on a follower are forwarded to the
 *   leader (`forward`, the RPC `Consensus.*` of the same name), retried
 *   `commit_retries` times `commit_retry_delay` apart; with no leader they
 *   wait up to `wait_for_leader_timeout`;
 * - a commit resolves once the entry is applied on this peer: its pin is in the
 *   local state and the change was handed to `setOnChange`;
 * - snapshots every `snapshot_interval` once `snapshot_threshold` entries were
 *   applied since the last one, keeping `trailing_logs` entries; one more at stop;
 * - `isTrustedPeer` is always true (raft trusts its voters), trust/distrust are no-ops.
 * Cluster ID: a peer that bootstraps stores the hash of its first voter set
 * and stamps it on every message; messages of another cluster are dropped
 * and logged, so peers started with different `init_peerset`s cannot mix
 * their logs or vote for each other. A staging peer adopts the ID of the
 * first leader that replicates to it.
 * Log ops are msgpack `{p: 1 pin | 2 unpin, c: <protobuf Pin>}` (upstream `LogOp`
 * shape, our encoding). Time is `tickMs` ticks: `heartbeat_timeout` / 10, the
 * leader's heartbeat period (hashicorp sends heartbeats at that rate).
 */
import { createHash } from 'node:crypto'
import { decode, encode } from '@msgpack/msgpack'
import { type Datastore, Key } from 'interface-datastore'
import { AbortError, ClusterError, errorMessage, errorName } from '../../errors.ts'
import type { AbortOptions, BatchingState, Consensus, ReadOnlyState, StateChangeHandler } from '../../interfaces.ts'
import { getLogger } from '../../observability/logging.ts'
import { pinFromProtobuf, pinToProtobuf } from '../../state/codec.ts'
import { DsState } from '../../state/dsstate.ts'
import { cidToKeyString } from '../../state/keys.ts'
import type { PeerId, Pin } from '../../types/index.ts'
import { RaftCore } from './core.ts'
import { NotLeaderError } from './errors.ts'
import { RaftStorage } from './storage.ts'
import type { RaftTransport } from './transport.ts'
import type { LogEntry, RaftMessage, Snapshot } from './types.ts'

const log = getLogger('raft')

/** What a follower asks the leader to do (the RPC method names of upstream's `Consensus` service). */
export type RaftForwardedOp = 'LogPin' | 'LogUnpin' | 'AddPeer' | 'RmPeer'

/** A commit whose outcome is unknown or lost (leadership changed before it was applied here). */
export class RaftCommitError extends ClusterError {
  static override name = 'RaftCommitError'
}

/** No leader within `wait_for_leader_timeout` (upstream "timed out waiting for leader"). */
export class NoLeaderError extends ClusterError {
  static override name = 'NoLeaderError'
}

export interface RaftConsensusInit {
  peerId: PeerId
  /** voters of a new cluster besides this peer (upstream `init_peerset`) */
  initPeerset: PeerId[]
  /** start without bootstrapping (a peer about to join with `--bootstrap`) */
  staging?: boolean
  waitForLeaderTimeoutMs: number
  commitRetries: number
  commitRetryDelayMs: number
  heartbeatTimeoutMs: number
  electionTimeoutMs: number
  leaderLeaseTimeoutMs: number
  maxAppendEntries: number
  trailingLogs: number
  snapshotIntervalMs: number
  snapshotThreshold: number
  /** the pinset's datastore namespace (upstream `datastore_namespace`, `/r`) */
  namespace: string
  /** where the log, stable store and snapshot live (default `/raft`) */
  storePrefix?: string
  /** randomness for election timeouts (tests pass a seeded one); default Math.random */
  random?: () => number
}

export interface RaftConsensusComponents {
  datastore: Datastore
  transport: RaftTransport
  /** asks the leader to commit (the RPC `Consensus.<op>` on `leader`); unset: followers cannot write */
  forward?: (leader: PeerId, op: RaftForwardedOp, arg: Pin | PeerId, options?: AbortOptions) => Promise<void>
}

interface Waiter {
  term: number
  resolve: () => void
  reject: (err: Error) => void
}

/** The cluster ID of a voter set bootstrapped together: sha256 of the sorted peer IDs, 32 hex digits. */
export function raftClusterId(voters: readonly PeerId[]): string {
  return createHash('sha256').update([...new Set(voters)].sort().join(',')).digest('hex').slice(0, 32)
}

const OP_PIN = 1
const OP_UNPIN = 2

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new AbortError())
      return
    }
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    const onAbort = () => {
      clearTimeout(t)
      reject(new AbortError())
    }
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}

export class RaftConsensus implements Consensus {
  readonly #init: RaftConsensusInit
  readonly #c: RaftConsensusComponents
  readonly #storage: RaftStorage
  readonly #state: DsState
  readonly #tickMs: number
  #core: RaftCore | undefined
  #controller: AbortController | undefined
  #ticker: ReturnType<typeof setInterval> | undefined
  #snapshotTimer: ReturnType<typeof setInterval> | undefined
  #chain: Promise<void> = Promise.resolve()
  #scheduled = false
  #waiters = new Map<number, Waiter[]>()
  #onChange: StateChangeHandler | undefined
  #lastRole = ''
  #wasVoter = false
  #clusterId: string | undefined
  #lastForeignWarn = 0
  /** set when the core failed (a stored record that does not decode, a broken invariant) */
  #fatal: Error | undefined

  constructor(init: RaftConsensusInit, components: RaftConsensusComponents) {
    this.#init = init
    this.#c = components
    this.#storage = new RaftStorage(components.datastore, init.storePrefix ?? '/raft')
    this.#state = new DsState({ namespace: init.namespace }, { datastore: components.datastore })
    this.#tickMs = Math.max(1, Math.floor(init.heartbeatTimeoutMs / 10))
  }

  /** The pinset's key prefix ('' for `/`). */
  get #ns(): string {
    return this.#init.namespace === '/' ? '' : this.#init.namespace.replace(/\/+$/, '')
  }

  /** The leader this peer knows of, or undefined. */
  leader(): PeerId | undefined {
    return this.#core?.leader ?? undefined
  }

  /** Role, term and indexes (for logs, `ctl` and tests). */
  status():
    | { role: string; term: number; leader: PeerId | null; commitIndex: number; lastIndex: number; snapshotIndex: number; voters: readonly PeerId[] }
    | undefined {
    const c = this.#core
    if (c === undefined) return undefined
    return {
      role: c.role,
      term: c.term,
      leader: c.leader,
      commitIndex: c.commitIndex,
      lastIndex: c.lastIndex,
      snapshotIndex: c.snapshotMeta?.index ?? 0,
      voters: c.voters
    }
  }

  /** True when this peer has no raft state (never bootstrapped nor joined). */
  async isEmpty(options?: AbortOptions): Promise<boolean> {
    return await this.#storage.isEmpty(options)
  }

  async start(): Promise<void> {
    if (this.#controller !== undefined) return
    const controller = new AbortController()
    let persisted = await this.#storage.load()
    if (persisted.hardState.term === 0 && persisted.entries.length === 0 && persisted.snapshot === undefined) {
      if (this.#init.staging === true) {
        log.info('raft: no state; waiting to be added to a cluster (staging)')
      } else {
        const voters = [...new Set([...this.#init.initPeerset, this.#init.peerId])]
        persisted = RaftCore.bootstrapState(voters)
        await this.#storage.save({ hardState: persisted.hardState, entries: persisted.entries, truncateFrom: 1, messages: [], committed: [] })
        await this.#storage.setClusterId(raftClusterId(voters))
        log.info(`raft: bootstrapped a new cluster with voters ${voters.join(', ')}`)
      }
    } else if (this.#init.initPeerset.length > 0) {
      log.info('raft: existing state found; init_peerset is ignored')
    }
    this.#clusterId = await this.#storage.clusterId()
    const ticks = (ms: number) => Math.max(2, Math.round(ms / this.#tickMs))
    this.#core = new RaftCore(
      {
        id: this.#init.peerId,
        electionTicks: Math.max(2, ticks(this.#init.heartbeatTimeoutMs)),
        candidateTicks: ticks(this.#init.electionTimeoutMs),
        // hashicorp: a leader without contact with a quorum for leader_lease_timeout steps down
        checkQuorumTicks: ticks(this.#init.leaderLeaseTimeoutMs),
        heartbeatTicks: 1,
        maxAppendEntries: this.#init.maxAppendEntries,
        trailingLogs: this.#init.trailingLogs,
        random: this.#init.random ?? Math.random
      },
      persisted
    )
    this.#controller = controller
    await this.#c.transport.start((m) => {
      if (this.#core === undefined) return
      if (!this.#sameCluster(m)) return
      try {
        this.#core.step(m)
      } catch (err) {
        this.#fail(err)
        return
      }
      this.#kick()
    })
    this.#ticker = setInterval(() => {
      this.#core?.tick()
      this.#kick()
    }, this.#tickMs)
    this.#snapshotTimer = setInterval(() => this.#maybeSnapshot(false), this.#init.snapshotIntervalMs)
  }

  async stop(): Promise<void> {
    const controller = this.#controller
    if (controller === undefined) return
    clearInterval(this.#ticker)
    clearInterval(this.#snapshotTimer)
    this.#ticker = undefined
    this.#snapshotTimer = undefined
    await this.#chain
    // upstream snapshots at shutdown: a restart replays less
    this.#maybeSnapshot(true)
    await this.#chain
    this.#controller = undefined
    controller.abort(new AbortError('raft consensus stopped'))
    await this.#c.transport.stop()
    for (const list of this.#waiters.values()) for (const w of list) w.reject(new RaftCommitError('raft consensus stopped'))
    this.#waiters.clear()
    this.#core = undefined
  }

  /** Drops messages of another cluster (logged at most every 10 s); a staging peer adopts its first leader's. */
  #sameCluster(m: RaftMessage): boolean {
    if (m.cluster === undefined || m.cluster === this.#clusterId) return true
    if (this.#clusterId === undefined) {
      if (m.type !== 'append' && m.type !== 'snapshot') return false
      const id = m.cluster
      this.#clusterId = id
      this.#chain = this.#chain.then(() => this.#storage.setClusterId(id)).catch((err: unknown) => this.#fail(err))
      log.info(`raft: joined cluster ${id} (leader ${m.from})`)
      return true
    }
    const now = Date.now()
    if (now - this.#lastForeignWarn > 10_000) {
      this.#lastForeignWarn = now
      log.warn(`raft: dropping messages of another raft cluster (${m.cluster}, from ${m.from}); this peer is in ${this.#clusterId}: was it started with another init_peerset?`)
    }
    return false
  }

  #fail(err: unknown): void {
    this.#fatal = err instanceof Error ? err : new Error(String(err))
    log.error(`raft: ${this.#fatal.message}`)
  }

  /** Schedules one drain of the core's work (serialized: persist, send, apply). */
  #kick(): void {
    if (this.#scheduled) return
    this.#scheduled = true
    this.#chain = this.#chain
      .then(() => this.#drain())
      .catch((err: unknown) => this.#fail(err))
  }

  async #drain(): Promise<void> {
    this.#scheduled = false
    const core = this.#core
    if (core === undefined || this.#fatal !== undefined) return
    for (let i = 0; i < 1000 && core.hasReady(); i++) {
      const r = core.ready()
      await this.#storage.save(r)
      const cluster = this.#clusterId
      for (const m of r.messages) this.#c.transport.send(cluster === undefined ? m : { ...m, cluster })
      if (r.restore) await this.#restore(r.restore)
      if (r.committed.length > 0) await this.#apply(r.committed)
    }
    if (core.role !== this.#lastRole) {
      this.#lastRole = core.role
      if (core.role === 'leader') log.info(`raft: this peer is the leader (term ${core.term})`)
    }
    // a committed configuration without this peer: it was removed (upstream shuts such a peer down)
    if (core.configIndex <= core.commitIndex) {
      const voter = core.isVoter()
      if (this.#wasVoter && !voter) log.warn('raft: this peer was removed from the raft voters (peers rm); it no longer takes part in the consensus')
      this.#wasVoter = voter
    }
  }

  async #apply(entries: LogEntry[]): Promise<void> {
    const changes: Parameters<StateChangeHandler>[0][] = []
    const b = this.#c.datastore.batch()
    const ns = this.#ns
    for (const e of entries) {
      if (e.kind !== 'command' || e.data === undefined) continue
      let op: { p: number; c: Uint8Array }
      let pin: Pin
      try {
        op = decode(e.data) as { p: number; c: Uint8Array }
        pin = pinFromProtobuf(op.c)
      } catch (err) {
        log.error(`raft: entry ${e.index} does not decode (skipped): ${errorMessage(err)}`)
        continue
      }
      const key = new Key(ns + cidToKeyString(pin.cid), false)
      if (op.p === OP_PIN) {
        b.put(key, op.c)
        changes.push({ op: 'pin', pin })
      } else if (op.p === OP_UNPIN) {
        b.delete(key)
        changes.push({ op: 'unpin', pin })
      }
    }
    await b.commit()
    for (const ch of changes) {
      try {
        this.#onChange?.(ch)
      } catch (err) {
        log.error(`raft: state change handler: ${errorMessage(err)}`)
      }
    }
    for (const e of entries) this.#settle(e.index, e.term)
  }

  #settle(index: number, term: number): void {
    const list = this.#waiters.get(index)
    if (list === undefined) return
    this.#waiters.delete(index)
    for (const w of list) {
      if (w.term === term) w.resolve()
      else w.reject(new RaftCommitError(`raft: entry ${index} was replaced by a newer leader's; retrying`))
    }
  }

  /** Replaces the pinset with a snapshot's (InstallSnapshot): the namespace is cleared first. */
  async #restore(s: Snapshot): Promise<void> {
    const ns = this.#ns
    const b = this.#c.datastore.batch()
    for await (const k of this.#c.datastore.queryKeys({ prefix: `${ns}/` })) b.delete(k)
    const pins = decode(s.data) as Uint8Array[]
    if (!Array.isArray(pins)) throw new RaftCommitError('raft: snapshot data is not a list of pins')
    for (const bytes of pins) {
      const pin = pinFromProtobuf(bytes)
      b.put(new Key(ns + cidToKeyString(pin.cid), false), bytes)
    }
    await b.commit()
    log.info(`raft: restored a snapshot at index ${s.meta.index} (${pins.length} pins)`)
    for (const [index, list] of this.#waiters) {
      if (index > s.meta.index) continue
      this.#waiters.delete(index)
      for (const w of list) w.reject(new RaftCommitError(`raft: entry ${index} was compacted into a snapshot before it was seen; retrying`))
    }
  }

  /** Takes a snapshot when `snapshot_threshold` entries were applied since the last one (or at stop, when any were). */
  #maybeSnapshot(force: boolean): void {
    this.#chain = this.#chain
      .then(async () => {
        const core = this.#core
        if (core === undefined || this.#fatal !== undefined) return
        const since = core.appliedIndex - (core.snapshotMeta?.index ?? 0)
        if (since <= 0 || (!force && since < this.#init.snapshotThreshold)) return
        const index = core.appliedIndex
        const pins: Uint8Array[] = []
        for await (const pin of this.#state.list()) pins.push(pinToProtobuf(pin))
        core.compact(index, encode(pins))
        log.info(`raft: snapshot at index ${index} (${pins.length} pins)`)
        await this.#drain()
      })
      .catch((err: unknown) => log.error(`raft: snapshot: ${errorMessage(err)}`))
  }

  // -------------------------------------------------------------- Consensus

  async ready(options?: AbortOptions): Promise<void> {
    const deadline = Date.now() + this.#init.waitForLeaderTimeoutMs
    for (;;) {
      const c = this.#core
      if (this.#fatal !== undefined) throw this.#fatal
      if (c !== undefined && c.leader !== null && c.isVoter() && c.appliedIndex >= c.commitIndex) return
      if (Date.now() >= deadline) throw new NoLeaderError(`raft: no leader after ${this.#init.waitForLeaderTimeoutMs}ms (wait_for_leader_timeout)`)
      await sleep(Math.min(100, this.#tickMs * 2), options?.signal)
    }
  }

  async #waitForLeader(options?: AbortOptions): Promise<PeerId> {
    const deadline = Date.now() + this.#init.waitForLeaderTimeoutMs
    for (;;) {
      const l = this.#core?.leader
      if (l !== null && l !== undefined) return l
      if (this.#core === undefined) throw new RaftCommitError('raft consensus is not running')
      if (Date.now() >= deadline) throw new NoLeaderError(`raft: no leader after ${this.#init.waitForLeaderTimeoutMs}ms (wait_for_leader_timeout)`)
      await sleep(this.#tickMs, options?.signal)
    }
  }

  /**
   * Commits on this peer if it leads (no forwarding: what the RPC handlers of
   * forwarded requests call). @throws NotLeaderError, RaftCommitError,
   * ConfigChangeError (membership).
   */
  async commitLocal(op: RaftForwardedOp, arg: Pin | PeerId, options?: AbortOptions): Promise<void> {
    const core = this.#core
    if (core === undefined) throw new RaftCommitError('raft consensus is not running')
    if (this.#fatal !== undefined) throw this.#fatal
    let at: { index: number; term: number }
    if (op === 'LogPin' || op === 'LogUnpin') {
      at = core.propose(encode({ p: op === 'LogPin' ? OP_PIN : OP_UNPIN, c: pinToProtobuf(arg as Pin) }))
    } else {
      const peer = arg as PeerId
      // adding a voter twice or removing a non-voter is done already (hashicorp answers both without error)
      if (op === 'AddPeer' && core.voters.includes(peer)) return
      if (op === 'RmPeer' && !core.voters.includes(peer)) return
      at = core.changeVoters(op === 'AddPeer' ? { add: peer } : { remove: peer })
    }
    this.#kick()
    const index = at.index
    await new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        finish()
        reject(new AbortError())
      }
      const timer = setTimeout(() => {
        finish()
        reject(new RaftCommitError(`raft: entry ${index} not applied within ${this.#init.waitForLeaderTimeoutMs}ms`))
      }, this.#init.waitForLeaderTimeoutMs)
      const waiter: Waiter = {
        term: at.term,
        resolve: () => {
          finish()
          resolve()
        },
        reject: (err) => {
          finish()
          reject(err)
        }
      }
      const finish = () => {
        clearTimeout(timer)
        options?.signal?.removeEventListener('abort', onAbort)
        const l = this.#waiters.get(index)
        const i = l?.indexOf(waiter) ?? -1
        if (l !== undefined && i >= 0) l.splice(i, 1)
      }
      const list = this.#waiters.get(index) ?? []
      list.push(waiter)
      this.#waiters.set(index, list)
      options?.signal?.addEventListener('abort', onAbort, { once: true })
    })
  }

  /** Leader: commit here; follower: forward; retried `commit_retries` times (upstream `commit`/`redirectToLeader`). */
  async #commit(op: RaftForwardedOp, arg: Pin | PeerId, options?: AbortOptions): Promise<void> {
    let last: unknown
    const attempts = this.#init.commitRetries + 1
    for (let i = 0; i < attempts; i++) {
      options?.signal?.throwIfAborted()
      let redirected = false
      try {
        const leader = await this.#waitForLeader(options)
        if (leader === this.#init.peerId) {
          await this.commitLocal(op, arg, options)
        } else {
          if (this.#c.forward === undefined) throw new NotLeaderError(`raft: ${leader} leads and this peer cannot forward`)
          redirected = true
          await this.#c.forward(leader, op, arg, options)
        }
        return
      } catch (err) {
        last = err
        if (errorName(err) === 'AbortError' || errorName(err) === 'NoLeaderError') throw err
        log.debug(`raft: ${op} attempt ${i + 1}/${attempts}: ${errorMessage(err)}`)
        // upstream: commit_retry_delay between attempts, and 2 x heartbeat_timeout more after a failed
        // redirect (the leader it knew of may have stepped down: time for the next election)
        const delay = this.#init.commitRetryDelayMs + (redirected || errorName(err) === 'NotLeaderError' ? 2 * this.#init.heartbeatTimeoutMs : 0)
        if (i + 1 < attempts) await sleep(delay, options?.signal)
      }
    }
    throw last
  }

  async logPin(pin: Pin, options?: AbortOptions): Promise<void> {
    await this.#commit('LogPin', pin, options)
  }

  async logUnpin(pin: Pin, options?: AbortOptions): Promise<void> {
    await this.#commit('LogUnpin', pin, options)
  }

  /**
   * Adds a voter (upstream `AddPeer`, hashicorp `AddVoter`): effective at once,
   * committed before this resolves. Waits for a pending change to finish
   * (up to `wait_for_leader_timeout`).
   */
  async addPeer(peer: PeerId, options?: AbortOptions): Promise<void> {
    await this.#membership('AddPeer', peer, options)
  }

  /** Removes a voter (upstream `RmPeer`). @throws ConfigChangeError for the last voter. */
  async rmPeer(peer: PeerId, options?: AbortOptions): Promise<void> {
    await this.#membership('RmPeer', peer, options)
  }

  async #membership(op: 'AddPeer' | 'RmPeer', peer: PeerId, options?: AbortOptions): Promise<void> {
    const deadline = Date.now() + this.#init.waitForLeaderTimeoutMs
    for (;;) {
      try {
        await this.#commit(op, peer, options)
        return
      } catch (err) {
        const pending = errorName(err) === 'ConfigChangeError' && /in progress|not committed an entry/.test(errorMessage(err))
        if (!pending || Date.now() >= deadline) throw err
        await sleep(this.#tickMs * 2, options?.signal)
      }
    }
  }

  /** The voters of the latest configuration (upstream `Peers()`). */
  async peers(_options?: AbortOptions): Promise<PeerId[]> {
    return [...(this.#core?.voters ?? [])]
  }

  async state(_options?: AbortOptions): Promise<ReadOnlyState> {
    return this.#state
  }

  isTrustedPeer(_peer: PeerId): boolean {
    return true
  }

  async trust(_peer: PeerId): Promise<void> {}

  async distrust(_peer: PeerId): Promise<void> {}

  /** Deletes the log, stable store, snapshot and pinset of this peer (only while stopped). */
  async clean(options?: AbortOptions): Promise<void> {
    if (this.#controller !== undefined) throw new RaftCommitError('raft: stop the consensus before cleaning it')
    await this.#storage.clean(options)
    const ns = this.#ns
    const b = this.#c.datastore.batch()
    for await (const k of this.#c.datastore.queryKeys({ prefix: `${ns}/` }, options)) b.delete(k)
    await b.commit(options)
  }

  /**
   * `state import` for raft (upstream `raft.SnapshotSave` of the imported
   * state), on a stopped peer: the log, the snapshot and the pinset are
   * replaced by what `fill` writes, saved as a snapshot at the old last index
   * and term (index 2, term 1 for a new peer; as upstream) with the old voters
   * (or `init_peerset` and this peer). Every peer of the cluster must import
   * the same pinset. @returns what `fill` returns (the number of pins).
   */
  async replaceWithSnapshot(fill: (state: BatchingState) => Promise<number>, options?: AbortOptions): Promise<number> {
    if (this.#controller !== undefined) throw new RaftCommitError('raft: stop the consensus before importing a state')
    const prev = await this.#storage.load(options)
    const last = prev.entries.at(-1)
    const index = Math.max(2, last?.index ?? 0, prev.snapshot?.meta.index ?? 0)
    const term = Math.max(1, last?.term ?? prev.snapshot?.meta.term ?? 1)
    const lastConfig = prev.entries.findLast((e) => e.kind === 'config')?.voters
    const voters = lastConfig ?? prev.snapshot?.meta.voters ?? [...new Set([...this.#init.initPeerset, this.#init.peerId])]
    const cluster = (await this.#storage.clusterId(options)) ?? raftClusterId(voters)
    await this.clean(options)
    await this.#storage.setClusterId(cluster, options)
    const st = new DsState({ namespace: this.#init.namespace, batching: true }, { datastore: this.#c.datastore })
    const n = await fill(st)
    await st.commit(options)
    const pins: Uint8Array[] = []
    for await (const pin of this.#state.list(options)) pins.push(pinToProtobuf(pin))
    await this.#storage.save(
      { hardState: { term, votedFor: null }, snapshot: { meta: { index, term, voters }, data: encode(pins) }, entries: [], messages: [], committed: [] },
      options
    )
    return n
  }

  setOnChange(handler: StateChangeHandler | undefined): void {
    this.#onChange = handler
  }
}
