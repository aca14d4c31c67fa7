/**
 * Targeted cases of the Raft core (src/consensus/raft/core.ts) that random
 * simulation reaches rarely: the "figure 8" commit rule, durable votes,
 * InstallSnapshot, membership-change refusals, leadership transfer.
 */
import { describe, expect, test } from 'bun:test'
import { RaftCore, type RaftCoreConfig } from '../../../../src/consensus/raft/core.ts'
import type { LogEntry, PersistedState, RaftMessage, Ready } from '../../../../src/consensus/raft/types.ts'
import { prng } from './sim.ts'

const enc = new TextEncoder()

function config(id: string, over: Partial<RaftCoreConfig> = {}): RaftCoreConfig {
  return { id, electionTicks: 10, heartbeatTicks: 2, maxAppendEntries: 64, trailingLogs: 0, random: prng(id.charCodeAt(1)), ...over }
}

/** A hand-driven cluster: messages wait in `inbox` until delivered explicitly. */
class Cluster {
  nodes = new Map<string, RaftCore>()
  inbox: RaftMessage[] = []
  applied = new Map<string, LogEntry[]>()
  readies = new Map<string, Ready[]>()

  constructor(ids: string[], boot = RaftCore.bootstrapState(ids), over: Partial<RaftCoreConfig> = {}) {
    for (const id of ids) this.add(id, boot, over)
  }
  add(id: string, state: PersistedState, over: Partial<RaftCoreConfig> = {}): RaftCore {
    const n = new RaftCore(config(id, over), structuredClone(state))
    this.nodes.set(id, n)
    this.applied.set(id, [])
    this.readies.set(id, [])
    return n
  }
  node(id: string): RaftCore {
    return this.nodes.get(id)!
  }
  drain(id: string): void {
    const n = this.node(id)
    while (n.hasReady()) {
      const r = n.ready()
      this.readies.get(id)!.push(r)
      this.inbox.push(...r.messages)
      this.applied.get(id)!.push(...r.committed)
    }
  }
  /** Delivers messages (those `filter` accepts; the rest are dropped) until none is left. */
  deliverAll(filter: (m: RaftMessage) => boolean = () => true, max = 10_000): void {
    for (const id of this.nodes.keys()) this.drain(id)
    let n = 0
    while (this.inbox.length > 0) {
      if (++n > max) throw new Error('messages do not settle')
      const m = this.inbox.shift()!
      const to = this.nodes.get(m.to)
      if (!to || !filter(m)) continue
      to.step(m)
      this.drain(m.to)
    }
  }
  /** Ticks `id` until it campaigns, then settles the election. */
  elect(id: string, filter?: (m: RaftMessage) => boolean): void {
    const n = this.node(id)
    for (let i = 0; i < 100 && n.role === 'follower'; i++) n.tick()
    this.deliverAll(filter)
    expect(n.role).toBe('leader')
  }
  commands(id: string): string[] {
    return this.applied
      .get(id)!
      .filter((e) => e.kind === 'command')
      .map((e) => new TextDecoder().decode(e.data))
  }
}

describe('raft core', () => {
  test('a single bootstrapped voter elects itself and commits at once', () => {
    const c = new Cluster(['p1'])
    c.elect('p1')
    c.node('p1').propose(enc.encode('x'))
    c.deliverAll()
    expect(c.commands('p1')).toEqual(['x'])
    expect(c.node('p1').commitIndex).toBe(3) // config, noop, x
  })

  test('a new server with an empty store never campaigns', () => {
    const n = new RaftCore(config('p9'), { hardState: { term: 0, votedFor: null }, entries: [] })
    for (let i = 0; i < 100; i++) n.tick()
    expect(n.role).toBe('follower')
    expect(n.hasReady()).toBe(false)
  })

  test('three voters: election, replication, commit on every server', () => {
    const c = new Cluster(['p1', 'p2', 'p3'])
    c.elect('p1')
    for (const v of ['a', 'b', 'c']) c.node('p1').propose(enc.encode(v))
    c.deliverAll()
    // followers learn the commit index with the next append
    for (let i = 0; i < 2; i++) c.node('p1').tick()
    c.deliverAll()
    for (const id of ['p1', 'p2', 'p3']) expect(c.commands(id)).toEqual(['a', 'b', 'c'])
    expect(() => c.node('p2').propose(enc.encode('z'))).toThrow(expect.objectContaining({ name: 'NotLeaderError' }))
  })

  test('a vote is in the same ready as the persisted hard state that records it', () => {
    const c = new Cluster(['p1', 'p2', 'p3'])
    c.elect('p1')
    for (const r of [...c.readies.get('p2')!, ...c.readies.get('p3')!]) {
      for (const m of r.messages) {
        if (m.type === 'vote_resp' && m.granted) expect(r.hardState).toEqual({ term: m.term, votedFor: m.to })
      }
    }
  })

  test('a restarted voter keeps its vote: no second vote in the same term', () => {
    const boot = RaftCore.bootstrapState(['p1', 'p2', 'p3'])
    const p2 = new RaftCore(config('p2', { preVote: false }), structuredClone(boot))
    // p3 campaigns in term 2 with a stale log: refused, but p2 moves to term 2
    p2.step({ type: 'vote', from: 'p3', to: 'p2', term: 2, lastIndex: 0, lastTerm: 0 })
    const r1 = p2.ready()
    expect(r1.messages[0]).toMatchObject({ type: 'vote_resp', granted: false })
    // p1 campaigns in the same term: granted, and only the vote changes
    p2.step({ type: 'vote', from: 'p1', to: 'p2', term: 2, lastIndex: 1, lastTerm: 1 })
    const r2 = p2.ready()
    expect(r2.messages[0]).toMatchObject({ type: 'vote_resp', granted: true })
    expect(r2.hardState).toEqual({ term: 2, votedFor: 'p1' })
    // p2 crashes and restarts from what it persisted; p3 asks again, now up to date: refused
    const again = new RaftCore(config('p2', { preVote: false }), { hardState: r2.hardState!, entries: boot.entries })
    again.step({ type: 'vote', from: 'p3', to: 'p2', term: 2, lastIndex: 1, lastTerm: 1 })
    expect(again.ready().messages[0]).toMatchObject({ type: 'vote_resp', granted: false })
  })

  test('figure 8: a leader does not commit an entry of an older term by counting replicas', () => {
    // Raft paper figure 8 (c): p1 leads term 4 and holds X (index 2, term 2);
    // p4 and p5 hold Y (index 2, term 3). Once X is on p1, p2, p3 it is on a majority,
    // but p5 could still win an election (votes of p2, p3, p4) and overwrite it.
    const cfg: LogEntry = { index: 1, term: 1, kind: 'config', voters: ['p1', 'p2', 'p3', 'p4', 'p5'] }
    const x: LogEntry = { index: 2, term: 2, kind: 'command', data: enc.encode('X') }
    const y: LogEntry = { index: 2, term: 3, kind: 'command', data: enc.encode('Y') }
    const hs = { term: 3, votedFor: null }
    const c = new Cluster([], undefined)
    c.add('p1', { hardState: hs, entries: [cfg, x] }, { preVote: false, maxAppendEntries: 1 })
    c.add('p2', { hardState: hs, entries: [cfg] })
    c.add('p3', { hardState: hs, entries: [cfg] })
    c.add('p4', { hardState: hs, entries: [cfg, y] })
    c.add('p5', { hardState: hs, entries: [cfg, y] })
    const p1 = c.node('p1')
    // entries of term 4 (p1's no-op) never arrive anywhere
    const noNewTerm = (m: RaftMessage) => !(m.type === 'append' && m.entries.some((e) => e.term === 4))
    c.elect('p1', noNewTerm)
    expect(p1.term).toBe(4)
    for (let i = 0; i < 2; i++) p1.tick() // a heartbeat probes p2 and p3, which get X
    c.deliverAll(noNewTerm)
    for (const id of ['p2', 'p3']) expect(c.node(id).termAt(2)).toBe(2) // X is now on p1, p2, p3
    expect(p1.commitIndex).toBe(0)
    for (const id of ['p1', 'p2', 'p3']) expect(c.commands(id)).toEqual([])
    // with the no-op of term 4 replicated, X commits with it
    for (let i = 0; i < 2; i++) p1.tick()
    c.deliverAll()
    for (let i = 0; i < 2; i++) p1.tick()
    c.deliverAll()
    expect(p1.commitIndex).toBe(3)
    for (const id of ['p1', 'p2', 'p3', 'p4', 'p5']) expect(c.commands(id)).toEqual(['X'])
  })

  test('a follower far behind gets the snapshot and restores from it', () => {
    const ids = ['p1', 'p2', 'p3']
    const c = new Cluster(ids)
    c.elect('p1')
    c.deliverAll()
    // p3 is away while 20 commands commit
    for (let i = 0; i < 20; i++) {
      c.node('p1').propose(enc.encode(`v${i}`))
      c.deliverAll((m) => m.to !== 'p3' && m.from !== 'p3')
    }
    const p1 = c.node('p1')
    p1.compact(p1.appliedIndex, enc.encode('STATE'))
    c.drain('p1')
    expect(p1.firstIndex).toBe(p1.appliedIndex + 1) // trailingLogs 0
    c.node('p1').tick()
    c.node('p1').tick()
    c.deliverAll()
    const restores = c.readies.get('p3')!.filter((r) => r.restore)
    expect(restores).toHaveLength(1)
    expect(new TextDecoder().decode(restores[0]!.restore!.data)).toBe('STATE')
    expect(restores[0]!.snapshot?.meta.index).toBe(p1.snapshotMeta?.index)
    expect(c.node('p3').commitIndex).toBe(p1.commitIndex)
    // later entries reach it by normal replication
    p1.propose(enc.encode('after'))
    c.deliverAll()
    p1.tick()
    p1.tick()
    c.deliverAll()
    expect(c.commands('p3')).toEqual(['after'])
  })

  test('membership: one change at a time, never the last voter, the new voter catches up', () => {
    const c = new Cluster(['p1'])
    c.elect('p1')
    c.deliverAll()
    const p1 = c.node('p1')
    expect(() => p1.changeVoters({ remove: 'p1' })).toThrow(expect.objectContaining({ name: 'ConfigChangeError' }))
    expect(() => p1.changeVoters({ add: 'p1' })).toThrow(expect.objectContaining({ name: 'ConfigChangeError' }))
    c.add('p2', { hardState: { term: 0, votedFor: null }, entries: [] })
    p1.changeVoters({ add: 'p2' })
    // now two voters: p2 must acknowledge before the change commits; meanwhile a second change is refused
    expect(p1.voters).toEqual(['p1', 'p2'])
    expect(() => p1.changeVoters({ add: 'p3' })).toThrow(expect.objectContaining({ name: 'ConfigChangeError' }))
    c.deliverAll()
    p1.tick()
    p1.tick()
    c.deliverAll()
    expect(p1.commitIndex).toBe(p1.lastIndex)
    expect(c.node('p2').voters).toEqual(['p1', 'p2'])
    expect(c.node('p2').commitIndex).toBe(p1.commitIndex)
    // a leader removing itself steps down once the change commits
    p1.changeVoters({ remove: 'p1' })
    c.deliverAll()
    expect(p1.role).toBe('follower')
    expect(c.node('p2').voters).toEqual(['p2'])
    c.elect('p2')
    expect(c.node('p2').role).toBe('leader')
  })

  test('leadership transfer hands over to an up-to-date voter', () => {
    const c = new Cluster(['p1', 'p2', 'p3'])
    c.elect('p1')
    c.deliverAll()
    c.node('p1').transferLeadership('p2')
    expect(() => c.node('p1').propose(enc.encode('x'))).toThrow(expect.objectContaining({ name: 'NotLeaderError' }))
    c.deliverAll()
    expect(c.node('p2').role).toBe('leader')
    expect(c.node('p1').role).toBe('follower')
  })

  test('a leader cut off from its quorum steps down within two election timeouts (check-quorum)', () => {
    const c = new Cluster(['p1', 'p2', 'p3'])
    c.elect('p1')
    c.deliverAll()
    c.inbox = []
    const p1 = c.node('p1')
    for (let i = 0; i < 20; i++) {
      p1.tick()
      c.drain('p1')
      c.inbox = []
    }
    expect(p1.role).toBe('follower')
  })

  test('with pre-vote, a partitioned server does not raise its term', () => {
    const c = new Cluster(['p1', 'p2', 'p3'])
    c.elect('p1')
    c.deliverAll()
    const p3 = c.node('p3')
    const term = p3.term
    for (let i = 0; i < 200; i++) {
      p3.tick()
      c.drain('p3')
      c.inbox = []
    }
    expect(p3.term).toBe(term)
    expect(p3.role).toBe('precandidate')
  })

  test('messages for another server or from itself are ignored', () => {
    const n = new RaftCore(config('p1'), RaftCore.bootstrapState(['p1', 'p2']))
    n.step({ type: 'vote', from: 'p2', to: 'p3', term: 9, lastIndex: 9, lastTerm: 9 })
    n.step({ type: 'vote', from: 'p1', to: 'p1', term: 9, lastIndex: 9, lastTerm: 9 })
    expect(n.term).toBe(1)
    expect(n.hasReady()).toBe(false)
  })

  test('a restart from stored entries with trailing logs before the snapshot', () => {
    const entries: LogEntry[] = [
      { index: 4, term: 2, kind: 'noop' },
      { index: 5, term: 2, kind: 'command', data: enc.encode('a') },
      { index: 6, term: 3, kind: 'noop' }
    ]
    const n = new RaftCore(config('p1'), { hardState: { term: 3, votedFor: null }, snapshot: { meta: { index: 5, term: 2, voters: ['p1'] }, data: enc.encode('S') }, entries })
    expect(n.commitIndex).toBe(5)
    expect(n.lastIndex).toBe(6)
    expect(n.termAt(4)).toBe(2)
    expect(n.voters).toEqual(['p1'])
    expect(() => new RaftCore(config('p1'), { hardState: { term: 3, votedFor: null }, entries: entries.slice(1) })).toThrow('start at 5')
  })
})
