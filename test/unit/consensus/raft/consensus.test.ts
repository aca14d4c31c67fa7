/**
 * The Raft consensus component (src/consensus/raft/consensus.ts) with real
 * timers, in-memory datastores and the in-process transport (messages go
 * through the wire codec): writes from any peer reach every state, a leader
 * stop elects a new one without losing acknowledged pins, membership changes,
 * a restart from the datastore, snapshots with InstallSnapshot.
 */
import { afterEach, describe, expect, test } from 'bun:test'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { RaftConsensus, type RaftConsensusInit, type RaftForwardedOp } from '../../../../src/consensus/raft/consensus.ts'
import { memoryRaftNetwork } from '../../../../src/consensus/raft/transport.ts'
import { MemoryDatastore } from '../../../../src/datastore/memory.ts'
import { setLogReporters } from '../../../../src/observability/logging.ts'
import { defaultPinOptions, type Pin, pinWithOpts } from '../../../../src/types/index.ts'

const logs: string[] = []
setLogReporters([{ log: (o: { args?: unknown[] }) => logs.push((o.args ?? []).map(String).join(' ')) }])

async function pinOf(i: number): Promise<Pin> {
  const cid = CID.createV1(0x55, await sha256.digest(new TextEncoder().encode(`raft-pin-${i}`)))
  return { ...pinWithOpts(cid, { ...defaultPinOptions(), name: `p${i}` }), timestamp: new Date(1700000000000) }
}

/** Polls `fn` until it is true (bounded; no fixed sleeps). */
async function until(what: string, fn: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

const fast: Omit<RaftConsensusInit, 'peerId' | 'initPeerset' | 'namespace'> = {
  waitForLeaderTimeoutMs: 10_000,
  commitRetries: 3,
  commitRetryDelayMs: 50,
  // short, but with room for a loaded machine (timers late by tens of ms)
  heartbeatTimeoutMs: 200,
  electionTimeoutMs: 200,
  leaderLeaseTimeoutMs: 100,
  maxAppendEntries: 64,
  trailingLogs: 5,
  snapshotIntervalMs: 50,
  snapshotThreshold: 1_000_000
}

class TestCluster {
  net = memoryRaftNetwork()
  peers = new Map<string, RaftConsensus>()
  stores = new Map<string, MemoryDatastore>()
  changes = new Map<string, string[]>()

  make(id: string, initPeerset: string[], over: Partial<RaftConsensusInit> = {}): RaftConsensus {
    const ds = this.stores.get(id) ?? new MemoryDatastore()
    this.stores.set(id, ds)
    const c = new RaftConsensus(
      { ...fast, peerId: id, initPeerset, namespace: '/r', ...over },
      {
        datastore: ds,
        transport: this.net.transport(id),
        // the RPC Consensus.<op> on the leader, in process
        forward: async (leader: string, op: RaftForwardedOp, arg) => {
          const l = this.peers.get(leader)
          if (l === undefined) throw new Error(`no route to ${leader}`)
          await l.commitLocal(op, arg)
        }
      }
    )
    c.setOnChange((ch) => void this.changes.get(id)?.push(`${ch.op}:${ch.pin.name}`))
    this.changes.set(id, this.changes.get(id) ?? [])
    this.peers.set(id, c)
    return c
  }
  get(id: string): RaftConsensus {
    return this.peers.get(id)!
  }
  leader(): RaftConsensus | undefined {
    for (const c of this.peers.values()) if (c.status()?.role === 'leader') return c
    return undefined
  }
  async names(id: string): Promise<string[]> {
    const out: string[] = []
    for await (const p of (await this.get(id).state()).list()) out.push(p.name)
    return out.sort()
  }
  async stopAll(): Promise<void> {
    for (const c of this.peers.values()) await c.stop()
  }
}

let cluster: TestCluster | undefined
afterEach(async () => {
  await cluster?.stopAll()
  cluster = undefined
})

describe('raft consensus component', () => {
  test('three peers: a leader, pins from any peer reach every state and the change handlers', async () => {
    const t = new TestCluster()
    cluster = t
    const ids = ['A', 'B', 'C']
    for (const id of ids) t.make(id, ids.filter((x) => x !== id))
    for (const id of ids) await t.get(id).start()
    for (const id of ids) await t.get(id).ready()
    const follower = ids.find((id) => t.get(id).status()?.role !== 'leader')!
    await t.get(follower).logPin(await pinOf(1))
    await t.leader()!.logPin(await pinOf(2))
    await t.get(follower).logUnpin(await pinOf(1))
    await t.get(follower).logPin(await pinOf(3))
    for (const id of ids) await until(`${id} has p2, p3`, async () => (await t.names(id)).join() === 'p2,p3')
    for (const id of ids) expect(t.changes.get(id)).toEqual(['pin:p1', 'pin:p2', 'unpin:p1', 'pin:p3'])
    expect((await t.get('A').peers()).sort()).toEqual(ids)
  })

  test('the leader stops: a new one is elected and no acknowledged pin is lost', async () => {
    const t = new TestCluster()
    cluster = t
    const ids = ['A', 'B', 'C']
    for (const id of ids) t.make(id, ids)
    for (const id of ids) await t.get(id).start()
    for (const id of ids) await t.get(id).ready()
    const acked: string[] = []
    for (let i = 0; i < 10; i++) {
      await t.get('A').logPin(await pinOf(i))
      acked.push(`p${i}`)
    }
    const old = t.leader()!
    const oldId = [...t.peers].find(([, c]) => c === old)![0]
    await old.stop()
    t.peers.delete(oldId)
    await until('a new leader', () => t.leader() !== undefined)
    const survivor = [...t.peers.keys()][0]!
    await t.get(survivor).logPin(await pinOf(99))
    acked.push('p99')
    for (const id of t.peers.keys()) await until(`${id} has every acknowledged pin`, async () => (await t.names(id)).length === acked.length)
    for (const id of t.peers.keys()) expect(await t.names(id)).toEqual([...acked].sort())
  })

  test('membership: a staging peer is added, catches up through a snapshot, and a voter is removed', async () => {
    const t = new TestCluster()
    cluster = t
    for (const id of ['A', 'B', 'C']) t.make(id, ['A', 'B', 'C'], { snapshotThreshold: 5 })
    for (const id of ['A', 'B', 'C']) await t.get(id).start()
    await t.get('A').ready()
    for (let i = 0; i < 20; i++) await t.get('A').logPin(await pinOf(i))
    // compaction happened on the leader (threshold 5, trailing 5)
    // on every peer: whoever leads when D joins has compacted its log
    await until('a snapshot on every peer', () => ['A', 'B', 'C'].every((id) => (t.get(id).status()?.snapshotIndex ?? 0) > 10))
    const d = t.make('D', [], { staging: true })
    await d.start()
    expect(await d.peers()).toEqual([])
    await t.get('B').addPeer('D')
    await d.ready()
    await until('D has the pinset', async () => (await t.names('D')).length === 20)
    expect(logs.some((l) => /restored a snapshot at index \d+ \(\d+ pins\)/.test(l))).toBe(true)
    expect((await t.get('A').peers()).sort()).toEqual(['A', 'B', 'C', 'D'])
    await t.get('D').rmPeer('C')
    await until('C is out on every voter', async () => {
      for (const id of ['A', 'B', 'D']) if ((await t.get(id).peers()).includes('C')) return false
      return true
    })
    await until('C to log its removal', () => logs.some((l) => l.includes('this peer was removed from the raft voters')))
    await t.get('D').logPin(await pinOf(100))
    for (const id of ['A', 'B', 'D']) await until(`${id} has p100`, async () => (await t.names(id)).includes('p100'))
  })

  test('a restart keeps the log and the pinset; init_peerset is ignored then', async () => {
    const t = new TestCluster()
    cluster = t
    t.make('A', [])
    await t.get('A').start()
    await t.get('A').ready()
    for (let i = 0; i < 3; i++) await t.get('A').logPin(await pinOf(i))
    await t.get('A').stop()
    const again = t.make('A', ['X', 'Y'])
    await again.start()
    await again.ready()
    expect(await again.peers()).toEqual(['A'])
    expect(await t.names('A')).toEqual(['p0', 'p1', 'p2'])
    await again.logPin(await pinOf(3))
    expect(await t.names('A')).toEqual(['p0', 'p1', 'p2', 'p3'])
  })

  test('without a quorum nothing commits, and ready() gives up after wait_for_leader_timeout', async () => {
    const t = new TestCluster()
    cluster = t
    t.make('A', ['A', 'B', 'C'], { waitForLeaderTimeoutMs: 300, commitRetries: 0 })
    await t.get('A').start()
    await expect(t.get('A').ready()).rejects.toMatchObject({ name: 'NoLeaderError' })
    await expect(t.get('A').logPin(await pinOf(1))).rejects.toMatchObject({ name: 'NoLeaderError' })
    expect(await t.names('A')).toEqual([])
  })

  test('clean() removes the raft store and the pinset', async () => {
    const t = new TestCluster()
    cluster = t
    t.make('A', [])
    await t.get('A').start()
    await t.get('A').ready()
    await t.get('A').logPin(await pinOf(1))
    await t.get('A').stop()
    await t.get('A').clean()
    let keys = 0
    for await (const _ of t.stores.get('A')!.queryKeys({})) keys++
    expect(keys).toBe(0)
  })

  test('state import (offline): the pinset becomes a snapshot the peer starts from', async () => {
    const t = new TestCluster()
    cluster = t
    t.make('A', [])
    await t.get('A').start()
    await t.get('A').ready()
    await t.get('A').logPin(await pinOf(1))
    await t.get('A').stop()
    const n = await t.get('A').replaceWithSnapshot(async (st) => {
      for (let i = 10; i < 13; i++) await st.add(await pinOf(i))
      return 3
    })
    expect(n).toBe(3)
    expect(await t.names('A')).toEqual(['p10', 'p11', 'p12'])
    const again = t.make('A', [])
    await again.start()
    await again.ready()
    expect(again.status()?.snapshotIndex).toBeGreaterThanOrEqual(2)
    expect(await again.peers()).toEqual(['A'])
    await again.logPin(await pinOf(13))
    expect(await t.names('A')).toEqual(['p10', 'p11', 'p12', 'p13'])
  })

  test('a peer bootstrapped with another init_peerset cannot join or split the cluster', async () => {
    const t = new TestCluster()
    cluster = t
    for (const id of ['A', 'B']) t.make(id, ['A', 'B', 'C'])
    // D believes the voters are A, B, D: without cluster IDs, A or B could vote for it
    t.make('D', ['A', 'B'], { waitForLeaderTimeoutMs: 1_000, commitRetries: 0 })
    for (const id of ['D', 'A', 'B']) await t.get(id).start()
    await t.get('A').ready()
    for (let i = 0; i < 3; i++) await t.get('B').logPin(await pinOf(i))
    await expect(t.get('D').ready()).rejects.toMatchObject({ name: 'NoLeaderError' })
    expect(t.get('D').status()?.role).not.toBe('leader')
    expect(t.get('D').status()?.leader).toBeNull()
    expect(await t.names('D')).toEqual([])
    expect(logs.some((l) => l.includes('dropping messages of another raft cluster'))).toBe(true)
    expect(await t.names('A')).toEqual(['p0', 'p1', 'p2'])
  })

  test('10,000 pins: snapshots and compaction, a restart of every peer, a new peer installs the snapshot', async () => {
    const t = new TestCluster()
    cluster = t
    const ids = ['A', 'B', 'C']
    const over = { snapshotThreshold: 2_000, trailingLogs: 500, waitForLeaderTimeoutMs: 20_000 }
    for (const id of ids) t.make(id, ids, over)
    for (const id of ids) await t.get(id).start()
    for (const id of ids) await t.get(id).ready()
    const N = 10_000
    for (let i = 0; i < N; i += 200) {
      const batch = []
      for (let k = i; k < i + 200; k++) batch.push(pinOf(k).then((p) => t.get(ids[k % 3]!).logPin(p)))
      await Promise.all(batch)
    }
    for (const id of ids) await until(`${id} has ${N} pins`, async () => (await t.names(id)).length === N, 60_000)
    await until('snapshots past 8000 on every peer', () => ids.every((id) => (t.get(id).status()?.snapshotIndex ?? 0) >= 8_000), 30_000)
    // compaction kept trailing_logs entries before the snapshot, no more
    let logKeys = 0
    for await (const _ of t.stores.get('A')!.queryKeys({ prefix: '/raft/log/' })) logKeys++
    const a = t.get('A').status()!
    expect(logKeys).toBeLessThanOrEqual(a.lastIndex - a.snapshotIndex + 500 + 1)
    // every peer restarts from its datastore
    await t.stopAll()
    for (const id of ids) t.make(id, ids, over)
    for (const id of ids) await t.get(id).start()
    for (const id of ids) await t.get(id).ready()
    for (const id of ids) expect((await t.names(id)).length).toBe(N)
    await t.get('B').logPin(await pinOf(N))
    // a new peer gets the pinset by InstallSnapshot
    const d = t.make('D', [], { ...over, staging: true })
    await d.start()
    await t.get('C').addPeer('D')
    await d.ready()
    await until('D has every pin', async () => (await t.names('D')).length === N + 1, 60_000)
  }, 180_000)
})
