/**
 * Deterministic simulation of a Raft cluster built from `RaftCore`s: one
 * seeded PRNG drives a virtual clock (1 unit = 1 ms), a network that loses,
 * delays (so reorders) and duplicates messages and can be partitioned,
 * per-server clocks that tick at different rates (clock skew), crashes that
 * lose everything but the simulated disk (sometimes between persisting a
 * `Ready` and sending its messages), restarts, snapshots, membership changes
 * and clients writing and reading a key-value map through the log.
 *
 * It checks, while running: election safety (one leader per term), state
 * machine safety (every server applies the same entry, and reaches the same
 * state, at each index), leader completeness (a new leader holds every
 * applied entry); at the end: log matching between every pair of servers,
 * liveness after healing (a final round of writes and reads commits), and
 * the linearizability of the whole client history (test/helpers/linearizability.ts).
 */
import { RaftCore } from '../../../../src/consensus/raft/core.ts'
import type { LogEntry, PersistedState, RaftMessage, Ready, Snapshot } from '../../../../src/consensus/raft/types.ts'
import { checkLinearizable, type KvInput, type KvOutput, kvModel, type Operation } from '../../../helpers/linearizability.ts'

/** mulberry32: a small seeded PRNG, uniform in [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export interface Scenario {
  name: string
  /** servers in the pool */
  servers: number
  /** servers bootstrapped as the first voters (the others start empty) */
  initialVoters: number
  /** membership changes (add/remove one voter at a time) while running */
  membership: boolean
  /** virtual ms with faults, then virtual ms healed */
  faultMs: number
  healMs: number
  /** quick crash/reboot cycles and no pre-vote: many competing candidates in one term */
  chaos?: boolean
}

export class SimFailure extends Error {
  override name = 'SimFailure'
}

interface Disk {
  hardState: PersistedState['hardState']
  snapshot: Snapshot | undefined
  entries: LogEntry[]
}

interface Server {
  id: string
  disk: Disk
  core: RaftCore | undefined
  fsm: Map<string, string>
  /** last applied index (volatile) */
  applied: number
  tickPeriod: number
  nextTick: number
  snapshotEvery: number
}

interface Command {
  id: number
  input: KvInput
}

interface Pending {
  client: number
  opIndex: number
  server: string
  index: number
  term: number
  cmdId: number
  deadline: number
}

interface InFlight {
  at: number
  seq: number
  msg: RaftMessage
}

const enc = new TextEncoder()
const dec = new TextDecoder()

function entryKey(e: LogEntry): string {
  return `${e.term}:${e.kind}:${e.kind === 'command' ? dec.decode(e.data) : (e.voters ?? []).join(',')}`
}

function fsmKey(m: Map<string, string>): string {
  return JSON.stringify([...m].sort((a, b) => (a[0] < b[0] ? -1 : 1)))
}

/** Figures of one run. */
export interface RunStats {
  ops: number
  acked: number
  elections: number
  snapshotsInstalled: number
  crashes: number
  configChanges: number
}

/** Runs one seeded simulation; throws `SimFailure` naming the property that broke. */
export function runSimulation(seed: number, sc: Scenario): RunStats {
  const rnd = prng(seed)
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!
  const chance = (p: number) => rnd() < p
  const ids = Array.from({ length: sc.servers }, (_, i) => `p${i}`)
  const bootVoters = ids.slice(0, sc.initialVoters)
  const electionTicks = 10
  const heartbeatTicks = 2
  const preVote = sc.chaos ? false : chance(0.5)
  const coreConfig = (id: string) => ({ id, electionTicks, heartbeatTicks, maxAppendEntries: 1 + Math.floor(rnd() * 8), trailingLogs: Math.floor(rnd() * 4), preVote, random: rnd })

  // faults of this run
  const dropP = rnd() * 0.2
  const dupP = rnd() * 0.1
  const maxDelay = 1 + Math.floor(rnd() * 15)
  const crashP = sc.chaos ? 0.005 + rnd() * 0.02 : rnd() * 0.008
  const restartP = sc.chaos ? 0.1 + rnd() * 0.4 : 0.005 + rnd() * 0.03
  const partitionP = sc.chaos ? rnd() * 0.05 : rnd() * 0.015
  const opP = 0.02 + rnd() * 0.2

  const stats: RunStats = { ops: 0, acked: 0, elections: 0, snapshotsInstalled: 0, crashes: 0, configChanges: 0 }
  const servers = new Map<string, Server>()
  for (const id of ids) {
    const boot = bootVoters.includes(id) ? RaftCore.bootstrapState(bootVoters) : { hardState: { term: 0, votedFor: null }, entries: [] }
    const disk: Disk = { hardState: boot.hardState, snapshot: undefined, entries: boot.entries }
    servers.set(id, { id, disk, core: undefined, fsm: new Map(), applied: 0, tickPeriod: 7 + Math.floor(rnd() * 7), nextTick: Math.floor(rnd() * 10), snapshotEvery: 4 + Math.floor(rnd() * 12) })
  }

  const fail = (what: string): never => {
    throw new SimFailure(what)
  }

  // global knowledge for the checks
  const leaderOfTerm = new Map<number, string>()
  const appliedAt = new Map<number, string>() // index -> entry key
  const stateAt = new Map<number, string>() // index -> state machine after applying it
  let maxApplied = 0

  // clients
  const clients = 3
  const history: Operation<KvInput, KvOutput>[] = []
  const clientBusy: (Pending | undefined)[] = Array.from({ length: clients }, () => undefined)
  const pendingBy = new Map<string, Pending[]>()
  let clock = 0 // logical time for the history: strictly increasing
  let nextCmd = 1
  const tickClock = () => ++clock

  let net: InFlight[] = []
  let seq = 0
  let now = 0
  let blocked = new Set<string>() // "a>b"
  let healed = false

  const start = (s: Server) => {
    const persisted: PersistedState = { hardState: { ...s.disk.hardState }, entries: [...s.disk.entries] }
    if (s.disk.snapshot) persisted.snapshot = s.disk.snapshot
    s.core = new RaftCore(coreConfig(s.id), persisted)
    s.fsm = s.disk.snapshot ? new Map(JSON.parse(dec.decode(s.disk.snapshot.data)) as [string, string][]) : new Map()
    s.applied = s.disk.snapshot?.meta.index ?? 0
  }

  const crash = (s: Server) => {
    if (!s.core) return
    s.core = undefined
    stats.crashes++
    // the clients waiting on it never learn the outcome
    for (const p of pendingBy.get(s.id) ?? []) {
      clientBusy[p.client] = undefined
    }
    pendingBy.delete(s.id)
  }

  const persist = (s: Server, r: Ready) => {
    const d = s.disk
    if (r.hardState) d.hardState = { ...r.hardState }
    if (r.snapshot) d.snapshot = r.snapshot
    if (r.truncateFrom !== undefined) {
      const from = r.truncateFrom
      d.entries = d.entries.filter((e) => e.index < from)
    }
    for (const e of r.entries) {
      const last = d.entries.at(-1)
      if (last !== undefined && e.index !== last.index + 1) fail(`${s.id}: ready appends ${e.index} after stored ${last.index}`)
      d.entries.push(e)
    }
    if (r.compactTo !== undefined) {
      const to = r.compactTo
      d.entries = d.entries.filter((e) => e.index > to)
    }
  }

  const applyEntry = (s: Server, e: LogEntry) => {
    if (e.index !== s.applied + 1) fail(`${s.id}: applies ${e.index} after ${s.applied}`)
    s.applied = e.index
    const key = entryKey(e)
    const known = appliedAt.get(e.index)
    if (known === undefined) appliedAt.set(e.index, key)
    else if (known !== key) fail(`state machine safety: ${s.id} applies ${key} at ${e.index}, another server applied ${known}`)
    let output: KvOutput = null
    let cmd: Command | undefined
    if (e.kind === 'command') {
      cmd = JSON.parse(dec.decode(e.data)) as Command
      const i = cmd.input
      if (i.op === 'put') s.fsm.set(i.key, i.value)
      else if (i.op === 'del') s.fsm.delete(i.key)
      else output = s.fsm.get(i.key) ?? null
    }
    const st = fsmKey(s.fsm)
    const knownState = stateAt.get(e.index)
    if (knownState === undefined) stateAt.set(e.index, st)
    else if (knownState !== st) fail(`state machine safety: ${s.id} reaches another state at ${e.index}`)
    maxApplied = Math.max(maxApplied, e.index)
    // answer the clients waiting on this index here
    const list = pendingBy.get(s.id)
    if (list) {
      for (const p of [...list]) {
        if (p.index !== e.index) continue
        list.splice(list.indexOf(p), 1)
        clientBusy[p.client] = undefined
        const op = history[p.opIndex]!
        if (e.term === p.term && cmd?.id === p.cmdId) {
          op.ret = tickClock()
          op.output = output
          stats.acked++
        } else {
          // another entry took the index: the command can never commit
          op.ret = Number.NaN
        }
      }
    }
  }

  const process = (s: Server) => {
    let guard = 0
    while (s.core?.hasReady()) {
      if (++guard > 100) fail(`${s.id}: ready loop does not settle`)
      const core = s.core
      const r = core.ready()
      persist(s, r)
      if (!healed && chance(crashP * 5) && (r.messages.length > 0 || r.committed.length > 0)) {
        // crash after the fsync, before sending or applying
        crash(s)
        return
      }
      for (const m of r.messages) send(m)
      if (!healed && chance(crashP * 5) && r.messages.length > 0) {
        // crash right after sending (a vote or an acknowledgement is out)
        crash(s)
        return
      }
      if (r.restore) {
        s.fsm = new Map(JSON.parse(dec.decode(r.restore.data)) as [string, string][])
        s.applied = r.restore.meta.index
        const known = stateAt.get(s.applied)
        if (known !== undefined && known !== fsmKey(s.fsm)) fail(`state machine safety: snapshot restored on ${s.id} at ${s.applied} differs`)
        stats.snapshotsInstalled++
      }
      for (const e of r.committed) applyEntry(s, e)
      // snapshot now and then
      if (s.applied - (core.snapshotMeta?.index ?? 0) >= s.snapshotEvery) core.compact(s.applied, enc.encode(JSON.stringify([...s.fsm])))
    }
    checkLeader(s)
  }

  const checkLeader = (s: Server) => {
    const c = s.core
    if (c?.role !== 'leader') return
    const known = leaderOfTerm.get(c.term)
    if (known === undefined) {
      leaderOfTerm.set(c.term, s.id)
      stats.elections++
      // leader completeness: it holds every entry applied anywhere
      if (c.lastIndex < maxApplied) fail(`leader completeness: ${s.id} leads term ${c.term} with last index ${c.lastIndex} < applied ${maxApplied}`)
      for (const [index, key] of appliedAt) {
        const e = c.entry(index)
        if (e !== undefined && entryKey(e) !== key) fail(`leader completeness: ${s.id} (term ${c.term}) holds ${entryKey(e)} at ${index}, applied was ${key}`)
        if (e === undefined && index >= c.firstIndex) fail(`leader completeness: ${s.id} misses applied entry ${index}`)
      }
    } else if (known !== s.id) {
      fail(`election safety: ${known} and ${s.id} both lead term ${c.term}`)
    }
  }

  const send = (m: RaftMessage) => {
    if (blocked.has(`${m.from}>${m.to}`) || (!healed && chance(dropP))) return
    net.push({ at: now + 1 + Math.floor(rnd() * maxDelay), seq: seq++, msg: m })
    if (!healed && chance(dupP)) net.push({ at: now + 1 + Math.floor(rnd() * maxDelay * 3), seq: seq++, msg: m })
  }

  const leaderServer = (): Server | undefined => {
    let best: Server | undefined
    for (const s of servers.values()) if (s.core?.role === 'leader' && (best === undefined || s.core.term > best.core!.term)) best = s
    return best
  }

  const invoke = (client: number, input: KvInput) => {
    const live = [...servers.values()].filter((s) => s.core)
    if (live.length === 0) return
    const target = chance(0.85) ? (leaderServer() ?? pick(live)) : pick(live)
    const core = target.core!
    if (core.role !== 'leader') return // refused (NotLeaderError): nothing happened
    const cmdId = nextCmd++
    const opIndex = history.length
    history.push({ call: tickClock(), ret: Number.POSITIVE_INFINITY, input, output: undefined })
    stats.ops++
    const { index, term } = core.propose(enc.encode(JSON.stringify({ id: cmdId, input } satisfies Command)))
    const p: Pending = { client, opIndex, server: target.id, index, term, cmdId, deadline: now + 400 }
    clientBusy[client] = p
    const list = pendingBy.get(target.id)
    if (list) list.push(p)
    else pendingBy.set(target.id, [p])
    process(target)
  }

  const keys = ['a', 'b', 'c']
  let written = 0
  const randomOp = (client: number): KvInput => {
    const key = pick(keys)
    const r = rnd()
    if (r < 0.45) return { op: 'put', key, value: `c${client}-${written++}` }
    if (r < 0.55) return { op: 'del', key }
    return { op: 'get', key }
  }

  const changeMembership = () => {
    const l = leaderServer()
    if (!l) return
    const voters = l.core!.voters
    const others = ids.filter((id) => !voters.includes(id))
    try {
      if (voters.length > 3 && (others.length === 0 || chance(0.5))) l.core!.changeVoters({ remove: pick(voters) })
      else if (others.length > 0) l.core!.changeVoters({ add: pick(others) })
      else return
      stats.configChanges++
    } catch (err) {
      if ((err as Error).name !== 'ConfigChangeError') throw err
    }
    process(l)
  }

  for (const s of servers.values()) start(s)

  const end = sc.faultMs + sc.healMs
  let finalRound: { started: boolean; done: number } = { started: false, done: 0 }
  for (now = 0; now < end; now++) {
    if (!healed && now >= sc.faultMs) {
      healed = true
      blocked = new Set()
      for (const s of servers.values()) if (!s.core) start(s)
    }
    const faults = !healed
    // faults
    if (faults) {
      if (chance(partitionP)) {
        blocked = new Set()
        if (chance(0.7)) {
          // split the servers in two groups (sometimes one way only)
          const side = new Set(ids.filter(() => chance(0.5)))
          const oneWay = chance(0.2)
          for (const a of ids) for (const b of ids) if (side.has(a) !== side.has(b) && (!oneWay || side.has(a))) blocked.add(`${a}>${b}`)
        }
      }
      for (const s of servers.values()) {
        if (s.core && chance(crashP)) crash(s)
        else if (!s.core && chance(restartP)) start(s)
      }
      if (sc.membership && chance(0.004)) changeMembership()
    }
    // deliveries due now (in random order among those due)
    if (net.length > 0) {
      const due = net.filter((f) => f.at <= now)
      if (due.length > 0) {
        net = net.filter((f) => f.at > now)
        due.sort((x, y) => x.at - y.at || x.seq - y.seq)
        for (const f of due) {
          const s = servers.get(f.msg.to)
          if (!s?.core) continue
          s.core.step(f.msg)
          process(s)
        }
      }
    }
    // clocks
    for (const s of servers.values()) {
      if (now < s.nextTick) continue
      s.nextTick = now + s.tickPeriod
      if (!s.core) continue
      s.core.tick()
      process(s)
    }
    // clients
    for (let c = 0; c < clients; c++) {
      const p = clientBusy[c]
      if (p !== undefined) {
        if (now >= p.deadline) {
          // gives up: the outcome stays unknown
          clientBusy[c] = undefined
          const list = pendingBy.get(p.server)
          if (list) list.splice(list.indexOf(p), 1)
        }
        continue
      }
      if (faults && chance(opP)) invoke(c, randomOp(c))
    }
    // after healing, for a while: a final round of one write and one read per key
    if (healed && now >= sc.faultMs + sc.healMs / 2 && clientBusy.every((p) => p === undefined)) {
      if (!finalRound.started) finalRound = { started: true, done: history.length }
      const finals = history.length - finalRound.done
      if (finals < keys.length * 2) {
        const k = keys[Math.floor(finals / 2)]!
        invoke(0, finals % 2 === 0 ? { op: 'put', key: k, value: `final-${k}` } : { op: 'get', key: k })
      }
    }
  }

  // liveness: the final round committed
  const finals = finalRound.started ? history.slice(finalRound.done) : []
  if (finals.length < keys.length * 2 || finals.some((o) => !Number.isFinite(o.ret))) {
    const dump = [...servers.values()].map((s) => (s.core ? `${s.id}:${s.core.role} t${s.core.term} lead=${s.core.leader} last=${s.core.lastIndex}/${s.core.termAt(s.core.lastIndex)} commit=${s.core.commitIndex} voters=${s.core.voters.join(',')}` : `${s.id}:down`)).join('; ')
    fail(`liveness: the final round after healing did not commit (${finals.filter((o) => Number.isFinite(o.ret)).length}/${keys.length * 2} acknowledged) [${dump}]`)
  }
  // log matching between every pair of live servers
  const live = [...servers.values()].filter((s) => s.core)
  for (let i = 0; i < live.length; i++) {
    for (let j = i + 1; j < live.length; j++) {
      const a = live[i]!.core!
      const b = live[j]!.core!
      const lo = Math.max(a.firstIndex, b.firstIndex)
      let hi = Math.min(a.lastIndex, b.lastIndex)
      while (hi >= lo && a.termAt(hi) !== b.termAt(hi)) hi--
      for (let k = lo; k <= hi; k++) {
        if (entryKey(a.entry(k)!) !== entryKey(b.entry(k)!)) fail(`log matching: ${a.id} and ${b.id} agree at ${hi} but differ at ${k}`)
      }
    }
  }
  // linearizability of the history (a NaN return: the command provably never took effect)
  const ops = history.filter((o) => !Number.isNaN(o.ret) && !(o.input.op === 'get' && o.ret === Number.POSITIVE_INFINITY))
  const verdict = checkLinearizable(kvModel, ops)
  if (verdict !== 'ok') fail(`linearizability: the client history is ${verdict} (${ops.length} operations)`)
  return stats
}
