/**
 * Cluster-wide calls over real libp2p RPC (tcp + noise + yamux on
 * loopback): three peers with stub trackers sharing one pinset.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import type { Libp2p } from '@libp2p/interface'
import { Cluster } from '../../../src/cluster.ts'
import { setLogLevels } from '../../../src/observability/logging.ts'
import { createRpc, type Rpc } from '../../../src/rpc/rpc.ts'
import { registerClusterRpc } from '../../../src/rpc/services.ts'
import type { PeerId } from '../../../src/types/index.ts'
import { testNode } from './node.ts'
import { makeCid, makePin, metric, type LogEntry, StubAllocator, StubConsensus, StubMonitor, StubState, StubTracker, stubIpfs } from '../../unit/cluster/stubs.ts'

interface Peer {
  node: Libp2p
  id: PeerId
  rpc: Rpc
  cluster: Cluster
  consensus: StubConsensus
}

describe('cluster over libp2p rpc', () => {
  const peers: Peer[] = []
  const st = new StubState()
  const log: LogEntry[] = []
  let stopped: Peer | undefined

  beforeAll(async () => {
    setLogLevels('cluster:error')
    for (let i = 0; i < 1000; i++) {
      const cid = await makeCid(`int-${i}`)
      st.pins.set(cid.toString(), makePin(cid, []))
    }
    const nodes = await Promise.all(
      [0, 1, 2].map(() =>
        testNode()
      )
    )
    const ids = nodes.map((n) => n.peerId.toString())
    for (const n of nodes) {
      for (const m of nodes) if (n !== m) await n.peerStore.merge(m.peerId, { multiaddrs: m.getMultiaddrs() })
    }
    for (const node of nodes) {
      const id = node.peerId.toString()
      const consensus = new StubConsensus(id, st, ids, log)
      const tracker = new StubTracker(id, consensus)
      const monitor = new StubMonitor()
      for (const p of ids) await monitor.logMetric(metric('ping', p, JSON.stringify({ peer_name: `name-${p}` })))
      const ipfs = stubIpfs(id)
      const rpc = createRpc({ peerId: id }, { libp2p: node, isTrusted: (p) => consensus.isTrustedPeer(p) })
      const cluster = new Cluster(
        {
          peerId: id,
          peerName: `name-${id}`,
          replicationFactorMin: -1,
          replicationFactorMax: -1,
          stateSyncIntervalMs: 3_600_000,
          monitorPingIntervalMs: 3_600_000,
          followerMode: false,
          disableRepinning: false,
          pinOnlyOnTrustedPeers: false,
          rpcTimeoutMs: 2000,
          rpcStreamIdleTimeoutMs: 2000
        },
        { consensus, tracker, ipfs, allocator: new StubAllocator(), informers: [], monitor, rpc }
      )
      registerClusterRpc(rpc, { cluster, tracker, ipfs, monitor, consensus })
      await rpc.start()
      peers.push({ node, id, rpc, cluster, consensus })
    }
  })

  afterAll(async () => {
    for (const p of peers) {
      await p.rpc.stop()
      await p.node.stop()
    }
    setLogLevels('cluster:info')
  })

  test('peers() from any peer lists all three', async () => {
    const ids = []
    for await (const id of peers[1]!.cluster.peers()) ids.push(id)
    expect(ids.map((i) => i.id).sort()).toEqual(peers.map((p) => p.id).sort())
    expect(ids.every((i) => i.error === '')).toBe(true)
  })

  test('statusAll merges 1000 CIDs from three peers', async () => {
    let n = 0
    for await (const g of peers[0]!.cluster.statusAll(new Set(), false)) {
      expect(Object.keys(g.peerMap).length).toBe(3)
      for (const pi of Object.values(g.peerMap)) expect(pi.status).toBe('pinned')
      n++
    }
    expect(n).toBe(1000)
  })

  test('an untrusted caller is refused the trusted calls and gets only its own answer', async () => {
    const [a, b, c] = peers
    // b and c distrust a
    await b!.consensus.distrust(a!.id)
    await c!.consensus.distrust(a!.id)
    try {
      const cid = await makeCid('int-1')
      const g = await a!.cluster.status(cid, false)
      expect(Object.keys(g.peerMap)).toEqual([a!.id])
    } finally {
      await b!.consensus.trust(a!.id)
      await c!.consensus.trust(a!.id)
    }
  })

  test('a stopped peer is cluster_error in status and has error in peers()', async () => {
    stopped = peers[2]!
    await stopped.rpc.stop()
    await stopped.node.stop()
    const cid = await makeCid('int-2')
    const g = await peers[0]!.cluster.status(cid, false)
    expect(g.peerMap[stopped.id]?.status).toBe('cluster_error')
    expect(g.peerMap[stopped.id]?.error).not.toBe('')
    expect(g.peerMap[stopped.id]?.peerName).toBe(`name-${stopped.id}`)
    const ids = []
    for await (const id of peers[0]!.cluster.peers()) ids.push(id)
    expect(ids.find((i) => i.id === stopped?.id)?.error).not.toBe('')
  })
})

describe('peerStoreAddresses', () => {
  test('lists the known addresses of peers with /p2p/', async () => {
    const { peerStoreAddresses } = await import('../../../src/rpc/peers.ts')
    const a = await testNode()
    const b = await testNode()
    try {
      await a.peerStore.merge(b.peerId, { multiaddrs: b.getMultiaddrs() })
      const addrs = await peerStoreAddresses(a)([b.peerId.toString(), 'QmNotAPeer'])
      expect(addrs.length).toBeGreaterThan(0)
      for (const x of addrs) expect(x.endsWith(`/p2p/${b.peerId.toString()}`)).toBe(true)
    } finally {
      await a.stop()
      await b.stop()
    }
  })
})
