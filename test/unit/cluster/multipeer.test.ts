import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { closestPeer } from '../../../src/allocator/util.ts'
import { peersetFromMetric } from '../../../src/monitor/peerset.ts'
import { setLogLevels } from '../../../src/observability/logging.ts'
import { clusterRpcClient } from '../../../src/rpc/services.ts'
import type { Alert, ID, PeerId } from '../../../src/types/index.ts'
import { defaultPinOptions } from '../../../src/types/index.ts'
import { makeCid, makePin, metric, Net, Router, StubMonitor, StubState, ipfsOf, testPeer } from './stubs.ts'
import { waitFor } from '../../../scripts/launcher/poll.ts'

const A = testPeer('peerA')
const B = testPeer('peerB')
const C = testPeer('peerC')
const D = testPeer('peerD')

beforeAll(() => setLogLevels('cluster:error'))
afterAll(() => setLogLevels('cluster:info'))

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const x of it) out.push(x)
  return out
}

describe('peers and id', () => {
  test('peers() lists every peer; one that does not answer has error set', async () => {
    const net = new Net()
    const [a] = net.add([A, B, C], new StubState())
    net.faults.set(C, 'hang')
    // C never answers (the stub rejects only when the call carries a timeout): peers() must bound the call
    const ids = await collect(a!.cluster.peers())
    const byId = new Map(ids.map((i) => [i.id, i]))
    expect([...byId.keys()].sort()).toEqual([A, B, C])
    expect(byId.get(A)?.error).toBe('')
    expect(byId.get(B)?.error).toBe('')
    expect(byId.get(B)?.peername).toBe(`name-${B}`)
    expect(byId.get(B)?.ipfs.id).toBe(ipfsOf(B))
    expect(byId.get(C)?.error).toContain('no answer')
    expect(byId.get(C)?.error).toContain('within 200 ms') // the stubs' rpc timeout bounded the call
    expect(byId.get(C)?.peername).toBe(`name-${C}`) // from its last ping
  })

  test('peers() leaves out peers refusing the call', async () => {
    const net = new Net()
    const [a] = net.add([A, B], new StubState())
    net.faults.set(B, 'deny')
    const ids = await collect(a!.cluster.peers())
    expect(ids.map((i) => i.id)).toEqual([A])
  })

  test('id() lists cluster peers and their addresses', async () => {
    const net = new Net()
    const [a] = net.add([A, B], new StubState(), { init: { peerAddresses: async (ps) => ps.map((p) => `/ip4/127.0.0.1/tcp/9096/p2p/${p}`) } })
    const id = await a!.cluster.id()
    expect(id.clusterPeers).toEqual([A, B])
    expect(id.clusterPeersAddresses).toEqual([`/ip4/127.0.0.1/tcp/9096/p2p/${A}`, `/ip4/127.0.0.1/tcp/9096/p2p/${B}`])
  })

  test('peerAdd asks the peer for its ID and adds this peer to its cluster peers', async () => {
    const net = new Net()
    const [a] = net.add([A], new StubState())
    net.add([B], new StubState())
    const id: ID = await a!.cluster.peerAdd(B)
    expect(id.id).toBe(B)
    expect(id.clusterPeers).toContain(A)
  })
})

describe('status and recover', () => {
  test('status: allocated peers are asked, others are remote, a silent peer is cluster_error', async () => {
    const st = new StubState()
    const cid = await makeCid('s1')
    st.pins.set(cid.toString(), makePin(cid, [A, B]))
    const net = new Net()
    const [a] = net.add([A, B, C], st)
    let g = await a!.cluster.status(cid, false)
    expect(Object.keys(g.peerMap).sort()).toEqual([A, B, C])
    expect(g.peerMap[A]?.status).toBe('pinned')
    expect(g.peerMap[B]?.status).toBe('pinned')
    expect(g.peerMap[C]?.status).toBe('remote')
    expect(g.allocations).toEqual([A, B])
    expect(net.calls.some((c) => c.includes(`->${C}`))).toBe(false)

    net.faults.set(B, 'hang')
    g = await a!.cluster.status(cid, false)
    expect(g.peerMap[B]?.status).toBe('cluster_error')
    expect(g.peerMap[B]?.error).toContain('no answer')
    expect(g.peerMap[B]?.peerName).toBe(`name-${B}`)

    net.faults.set(B, 'down')
    g = await a!.cluster.recover(cid, false)
    expect(g.peerMap[B]?.status).toBe('cluster_error')
    expect(g.peerMap[B]?.error).toContain('dial')
    expect(g.peerMap[A]?.status).toBe('pinned')
  })

  test('status of a CID not in the pinset is unpinned on every peer', async () => {
    const net = new Net()
    const [a] = net.add([A, B], new StubState())
    const g = await a!.cluster.status(await makeCid('nope'), false)
    expect(g.peerMap[A]?.status).toBe('unpinned')
    expect(g.peerMap[B]?.status).toBe('unpinned')
  })

  test('local status only asks this peer', async () => {
    const st = new StubState()
    const cid = await makeCid('s2')
    st.pins.set(cid.toString(), makePin(cid, []))
    const net = new Net()
    const [a] = net.add([A, B], st)
    const g = await a!.cluster.status(cid, true)
    expect(Object.keys(g.peerMap)).toEqual([A])
    expect(net.calls).toEqual([])
  })

  test('statusAll merges every peer per CID; a down peer is cluster_error everywhere', async () => {
    const st = new StubState()
    for (let i = 0; i < 50; i++) {
      const cid = await makeCid(`all-${i}`)
      st.pins.set(cid.toString(), makePin(cid, i % 2 === 0 ? [A, B] : []))
    }
    const net = new Net()
    const [a] = net.add([A, B, C], st)
    net.faults.set(C, 'down')
    const all = await collect(a!.cluster.statusAll(new Set(), false))
    expect(all.length).toBe(50)
    expect(new Set(all.map((g) => g.cid.toString())).size).toBe(50)
    for (const g of all) {
      expect(Object.keys(g.peerMap).sort()).toEqual([A, B, C])
      expect(g.peerMap[C]?.status).toBe('cluster_error')
      expect(g.peerMap[C]?.error).toContain('dial')
      expect(g.peerMap[A]?.status).toBe('pinned')
      expect(g.peerMap[B]?.status).toBe('pinned')
    }
    const recovered = await collect(a!.cluster.recoverAll(false))
    expect(recovered.length).toBe(50)
  })

  test('statusAll streams: the first CID comes before the peers have listed everything', async () => {
    const st = new StubState()
    for (let i = 0; i < 2000; i++) {
      const cid = await makeCid(`big-${i}`)
      st.pins.set(cid.toString(), makePin(cid, []))
    }
    const net = new Net()
    const [a, b, c] = net.add([A, B, C], st)
    let first: string | undefined
    for await (const g of a!.cluster.statusAll(new Set(), false)) {
      expect(Object.keys(g.peerMap).length).toBe(3)
      first = g.cid.toString()
      break
    }
    expect(first).toBeDefined()
    for (const p of [a, b, c]) expect(p!.tracker.produced).toBeLessThan(100)
  })

  test('statusAll with a silent peer times out that peer only', async () => {
    const st = new StubState()
    const cid = await makeCid('t1')
    st.pins.set(cid.toString(), makePin(cid, []))
    const net = new Net()
    const [a] = net.add([A, B], st)
    net.faults.set(B, 'hang')
    const all = await collect(a!.cluster.statusAll(new Set(), false))
    expect(all.length).toBe(1)
    expect(all[0]?.peerMap[A]?.status).toBe('pinned')
    expect(all[0]?.peerMap[B]?.status).toBe('cluster_error')
  })
})

describe('repoGC and connectGraph', () => {
  test('repoGC fans out; a failing peer has error set', async () => {
    const net = new Net()
    const [a] = net.add([A, B, C], new StubState())
    net.faults.set(C, 'down')
    const r = await a!.cluster.repoGC(false)
    expect(Object.keys(r.peerMap).sort()).toEqual([A, B, C])
    expect(r.peerMap[B]?.keys.length).toBe(1)
    expect(r.peerMap[B]?.keys[0]?.key?.toString()).toBe((await makeCid(`gc-${B}`)).toString())
    expect(r.peerMap[C]?.error).toContain('dial')
  })

  test('connectGraph records cluster links, trust and IPFS links', async () => {
    const net = new Net()
    const [a] = net.add([A, B, C], new StubState(), { swarm: { [A]: [ipfsOf(B)], [B]: [ipfsOf(A), ipfsOf(C)] } })
    net.faults.set(C, 'down')
    const g = await a!.cluster.connectGraph()
    expect(g.clusterId).toBe(A)
    expect(g.clusterTrustLinks).toEqual({ [A]: true, [B]: true, [C]: true })
    expect(g.clusterLinks[A]?.sort()).toEqual([B]) // C errored in A's view
    expect(g.clusterLinks[C]).toEqual([])
    expect(g.clusterToIpfs).toEqual({ [A]: ipfsOf(A), [B]: ipfsOf(B) })
    expect(g.ipfsLinks[ipfsOf(A)]).toEqual([ipfsOf(B)])
    expect(g.ipfsLinks[ipfsOf(B)]).toEqual([ipfsOf(A), ipfsOf(C)])
    expect(g.idToPeername[B]).toBe(`name-${B}`)
  })
})

describe('re-pinning after a ping alert', () => {
  async function setup(): Promise<{ net: Net; cids: string[] }> {
    const st = new StubState()
    const cids: string[] = []
    for (let i = 0; i < 60; i++) {
      const cid = await makeCid(`dead-${i}`)
      cids.push(cid.toString())
      // allocated to the dead peer D and one live peer
      st.pins.set(cid.toString(), makePin(cid, [D, [A, B, C][i % 3]!]))
    }
    const other = await makeCid('elsewhere')
    st.pins.set(other.toString(), makePin(other, [A, B]))
    const net = new Net()
    // D is gone from the peerset (its ping expired); every peer sees the same pinset
    net.add([A, B, C], st, { copyState: true, metricsOf: [A, B, C] })
    return { net, cids }
  }

  test('exactly one peer, the closest trusted one, re-allocates each CID', async () => {
    const { net, cids } = await setup()
    const counts = await Promise.all([A, B, C].map((p) => net.peers.get(p)!.cluster.repinFromDeadPeer(D)))
    expect(counts.reduce((x, y) => x + y, 0)).toBe(60)
    expect(net.log.length).toBe(60)
    const byCid = new Map<string, PeerId[]>()
    for (const e of net.log) {
      expect(e.op).toBe('pin')
      expect(e.pin.allocations).not.toContain(D)
      expect(e.pin.allocations.length).toBe(2)
      byCid.set(e.pin.cid.toString(), [...(byCid.get(e.pin.cid.toString()) ?? []), e.by])
    }
    expect([...byCid.keys()].sort()).toEqual([...cids].sort())
    for (const [k, by] of byCid) {
      expect(by.length).toBe(1)
      const entry = net.log.find((e) => e.pin.cid.toString() === k)!
      expect(by[0]).toBe(closestPeer(entry.pin.cid, [A, B, C])!)
    }
    // every peer decided some
    expect(new Set(net.log.map((e) => e.by)).size).toBe(3)
  })

  test('a ping alert triggers it; other metrics and disable_repinning do not', async () => {
    const { net } = await setup()
    const alert = (name: string): Alert => ({ ...metric(name, D, ''), triggeredAt: new Date() })
    for (const p of net.peers.values()) await p.cluster.start()
    try {
      for (const p of net.peers.values()) p.monitor.fire(alert('freespace'))
      for (const p of net.peers.values()) p.monitor.fire(alert('ping'))
      await waitFor(() => net.log.length >= 60, 'net.log.length >= 60', 3000, 5)
      expect(net.log.length).toBe(60)
    } finally {
      for (const p of net.peers.values()) await p.cluster.stop()
    }
    const { net: net2 } = await setup()
    for (const p of net2.peers.values()) {
      ;(p.cluster as unknown as { init: { disableRepinning: boolean } }).init.disableRepinning = true
    }
    for (const p of net2.peers.values()) await p.cluster.start()
    for (const p of net2.peers.values()) p.monitor.fire(alert('ping'))
    for (const p of net2.peers.values()) await p.cluster.stop()
    expect(net2.log.length).toBe(0)
  })

  test('expired pins are unpinned only by the closest peer', async () => {
    const st = new StubState()
    const expired: string[] = []
    for (let i = 0; i < 30; i++) {
      const cid = await makeCid(`exp-${i}`)
      const p = makePin(cid, [])
      p.expireAt = new Date(Date.now() - 1000)
      st.pins.set(cid.toString(), p)
      expired.push(cid.toString())
    }
    const live = await makeCid('live')
    st.pins.set(live.toString(), makePin(live, []))
    const net = new Net()
    net.add([A, B, C], st, { copyState: true })
    await Promise.all([A, B, C].map((p) => net.peers.get(p)!.cluster.stateSync()))
    expect(net.log.length).toBe(30)
    expect(net.log.every((e) => e.op === 'unpin')).toBe(true)
    expect(new Set(net.log.map((e) => e.pin.cid.toString())).size).toBe(30)
    for (const e of net.log) expect(e.by).toBe(closestPeer(e.pin.cid, [A, B, C])!)
  })
})

describe('peerRemove', () => {
  test('re-allocates only the pins of the removed peer, distrusts it, tells the others, ignores its metrics', async () => {
    const st = new StubState()
    const both = await makeCid('both')
    const onlyD = await makeCid('onlyD')
    const notD = await makeCid('notD')
    st.pins.set(both.toString(), makePin(both, [A, D], 1, 2))
    st.pins.set(onlyD.toString(), makePin(onlyD, [D], 1, 1))
    st.pins.set(notD.toString(), makePin(notD, [A, B], 2, 2))
    const net = new Net()
    const [a, b] = net.add([A, B, C, D], st)
    await a!.cluster.peerRemove(D)

    const logged = net.log.map((e) => e.pin.cid.toString()).sort()
    expect(logged).toEqual([both.toString(), onlyD.toString()].sort())
    expect((await st.get(both)).allocations).toEqual([A]) // min 1 still met: D is dropped anyway
    expect((await st.get(onlyD)).allocations.length).toBe(1)
    expect((await st.get(onlyD)).allocations).not.toContain(D)
    expect((await st.get(notD)).allocations).toEqual([A, B])

    expect(a!.consensus.isTrustedPeer(D)).toBe(false)
    expect(a!.monitor.removed).toContain(D)
    expect(a!.cluster.isRemovedPeer(D)).toBe(true)
    // told through our Cluster.ForgetPeer (upstream's Cluster.PeerRemove would run a full removal on B)
    expect(b!.cluster.isRemovedPeer(D)).toBe(true)
    expect(net.calls).toContain(`${A}->${B} Cluster.ForgetPeer`)
    expect(net.calls.filter((c) => c.endsWith('Cluster.PeerRemove'))).toEqual([])
    expect(b!.consensus.isTrustedPeer(D)).toBe(false)
    expect((await a!.cluster.id()).clusterPeers).not.toContain(D)

    // D keeps publishing metrics: still never allocated
    await a!.monitor.logMetric(metric('freespace', D, '1000'))
    const fresh = await a!.cluster.pin(await makeCid('fresh'), {
      ...defaultPinOptions(),
      replicationFactorMin: 3,
      replicationFactorMax: 3
    })
    expect(fresh.allocations.sort()).toEqual([A, B, C])

    // peerAdd lifts the removal (D is offline here: the call fails, the removal is lifted anyway)
    await a!.cluster.peerAdd(D).catch(() => undefined)
    expect(a!.cluster.isRemovedPeer(D)).toBe(false)
    expect((await a!.cluster.id()).clusterPeers).toContain(D)
  })

  test('the removal survives a restart (kept in the removed-peers store)', async () => {
    let kept: string[] = []
    const store = {
      load: async () => kept,
      save: async (peers: string[]) => {
        kept = [...peers]
      }
    }
    const st = new StubState()
    const [a] = new Net().add([A, B, C, D], st, { removedPeers: store })
    await a!.cluster.peerRemove(D)
    expect(kept).toEqual([D])
    // a new process: the same store, fresh components
    const [a2] = new Net().add([A, B, C, D], st, { removedPeers: store })
    expect(a2!.cluster.isRemovedPeer(D)).toBe(false)
    await a2!.cluster.start()
    expect(a2!.cluster.isRemovedPeer(D)).toBe(true)
    expect(a2!.consensus.isTrustedPeer(D)).toBe(false)
    expect((await a2!.cluster.id()).clusterPeers).not.toContain(D)
    await a2!.cluster.stop()
  })

  test('unknown peer: NotFoundError; this peer: InvalidArgumentError', async () => {
    const net = new Net()
    const [a] = net.add([A, B], new StubState())
    const e1 = await a!.cluster.peerRemove(testPeer('peerZ')).catch((e: unknown) => e as Error)
    expect((e1 as Error).name).toBe('NotFoundError')
    expect(a!.cluster.isRemovedPeer(testPeer('peerZ'))).toBe(false)
    const e2 = await a!.cluster.peerRemove(A).catch((e: unknown) => e as Error)
    expect((e2 as Error).name).toBe('InvalidArgumentError')
  })
})

describe('peersetFromMetric (ping)', () => {
  test('peers with a valid ping plus self, minus excluded, sorted', async () => {
    const m = new StubMonitor()
    await m.logMetric(metric('ping', C, '{}'))
    await m.logMetric(metric('ping', B, '{}'))
    await m.logMetric({ ...metric('ping', D, '{}'), expire: (Date.now() - 1000) * 1e6 })
    expect(await peersetFromMetric(m, A)()).toEqual([A, B, C])
    expect(await peersetFromMetric(m, A, 'ping', (p) => p === B)()).toEqual([A, C])
  })
})

describe('cluster rpc services through the typed client', () => {
  test('codecs survive the msgpack round trip', async () => {
    const st = new StubState()
    const cid = await makeCid('svc')
    st.pins.set(cid.toString(), makePin(cid, [B]))
    const net = new Net()
    const [, b] = net.add([A, B], st)
    const client = clusterRpcClient(new Router(A, net))
    const pi = await client.trackerStatus(B, cid)
    expect(pi.cid.toString()).toBe(cid.toString())
    expect(pi.peer).toBe(B)
    expect(pi.pinInfo.status).toBe('pinned')
    expect(pi.created).toBeInstanceOf(Date)
    expect((await client.id(B)).peername).toBe(`name-${B}`)
    expect(await client.repoStat(B)).toEqual({ repoSize: 1, storageMax: 10 })
    expect(await client.consensusPeers(B)).toEqual([A, B])
    expect((await client.latestMetrics(B, 'freespace')).map((m) => m.peer)).toEqual([A, B])
    expect(await client.version(B)).toBe(b!.cluster.version())
    const blk = await makeCid('block')
    await client.blockStream(B, [{ cid: blk, bytes: new Uint8Array([1, 2, 3]) }])
    expect(b!.ipfs.stored).toEqual([blk.toString()])
    const all = await collect(client.trackerStatusAll(B, new Set(['pinned'])))
    expect(all.length).toBe(1)
    const gc = await client.repoGCLocal(B)
    expect(gc.peer).toBe(B)
    expect(gc.keys.length).toBe(1)
  })
})

describe('join and peerset', () => {
  test('join asks the bootstrap peer to add this one and logs a ping for it', async () => {
    const net = new Net()
    const [b] = net.add([B], new StubState())
    const [a] = net.add([A], new StubState(), { metricsOf: [A] })
    const id = await a!.cluster.join(B)
    expect(id.id).toBe(A) // this peer as B sees it
    expect(id.clusterPeers).toContain(B)
    expect(net.calls).toContain(`${A}->${B} Cluster.PeerAdd`)
    expect(net.calls).toContain(`${B}->${A} Cluster.ID`)
    expect(JSON.parse(a!.monitor.latestForPeer('ping', B)?.value ?? '{}').peer_name).toBe(`name-${B}`)
    expect(b!.cluster.isRemovedPeer(A)).toBe(false)
  })

  test('the peerset component replaces consensus.peers(); removed peers are left out', async () => {
    const st = new StubState()
    const net = new Net()
    const [a] = net.add([A, B, C], st)
    const withPeerset = net.add([testPeer('peerE')], st, {})[0]!
    ;(withPeerset.cluster as unknown as { c: { peerset: () => Promise<PeerId[]> } }).c.peerset = async () => [testPeer('peerE'), A]
    expect((await withPeerset.cluster.id()).clusterPeers).toEqual([testPeer('peerE'), A])
    await a!.cluster.forgetPeer(C)
    expect((await a!.cluster.id()).clusterPeers).toEqual([A, B])
  })
})
