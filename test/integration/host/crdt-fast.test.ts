/**
 * CRDT replication fast paths on real hosts: inline head blocks for live
 * peers (an option of `createCrdtNetwork`, off in the daemon's wiring), the
 * catch-up protocol for live peers and late joiners (timings are printed,
 * never asserted), and the daemon's broadcasts staying byte-exact
 * go-ds-crdt `CRDTBroadcast` messages.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import all from 'it-all'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { type CrdtConsensus, createCrdtConsensus, decodeBroadcast, encodeBroadcast, makeNode } from '../../../src/consensus/crdt/index.ts'
import { CrdtBlockstore } from '../../../src/consensus/crdt/dag.ts'
import { appendInlineBlocks, type CrdtNetwork, createCrdtNetwork, createPubsubBroadcaster, parseBroadcast } from '../../../src/consensus/crdt/libp2p.ts'
import { createConsensus } from '../../../src/consensus/index.ts'
import { createDagSync } from '../../../src/consensus/crdt/sync.ts'
import { CRDTBroadcast } from '../../../src/consensus/crdt/pb/delta.pb.ts'
import { MemoryDatastore } from '../../../src/datastore/memory.ts'
import { type ClusterHost, createPubsubAdapter } from '../../../src/host/index.ts'
import { setLogLevels } from '../../../src/observability/logging.ts'
import { defaultPinOptions, pinWithOpts } from '../../../src/types/index.ts'
import { makeHost, tempDir } from './helpers.ts'
import { waitFor } from '../../../scripts/launcher/poll.ts'

let dir: { path: string; cleanup: () => Promise<void> }
const cleanups: Array<() => Promise<void> | void> = []

beforeAll(async () => {
  setLogLevels('error')
  dir = await tempDir()
})

afterAll(async () => {
  for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => {})
  setLogLevels('info')
  await dir.cleanup()
})

/** Two started hosts, the second bootstrapped to the first (stopped after the file). */
async function connectedHosts(a: string, b: string): Promise<[ClusterHost, ClusterHost]> {
  const ha = await makeHost(dir.path, a)
  const hb = await makeHost(dir.path, b)
  cleanups.push(
    () => ha.stop(),
    () => hb.stop()
  )
  await ha.start()
  await hb.start()
  await hb.bootstrap(ha.addresses())
  return [ha, hb]
}

interface TestPeer {
  host: ClusterHost
  net: CrdtNetwork
  consensus: CrdtConsensus
}

async function peer(
  name: string,
  clusterName: string,
  opts: { rebroadcastIntervalMs?: number; bootstrap?: ClusterHost; inlineMaxBytes?: number; broadcastCoalesceMs?: number } = {}
): Promise<TestPeer> {
  const host = await makeHost(dir.path, name)
  cleanups.push(() => host.stop())
  await host.start()
  if (opts.bootstrap !== undefined) await host.bootstrap(opts.bootstrap.addresses())
  const datastore = new MemoryDatastore()
  let consensus: CrdtConsensus | undefined
  const net = createCrdtNetwork(
    { clusterName, isTrusted: (p) => consensus?.isTrustedPeer(p) ?? false, dagTimeoutMs: 10_000, inlineMaxBytes: opts.inlineMaxBytes },
    { libp2p: host.libp2p, pubsub: createPubsubAdapter(host), datastore }
  )
  await net.start()
  consensus = createCrdtConsensus(
    {
      peerId: host.peerId,
      clusterName,
      trustedPeers: ['*'],
      batching: { maxBatchSize: 0, maxBatchAgeMs: 0, maxQueueSize: 1000 },
      rebroadcastIntervalMs: opts.rebroadcastIntervalMs ?? 60_000,
      repairIntervalMs: 0,
      broadcastCoalesceMs: opts.broadcastCoalesceMs
    },
    { datastore, broadcaster: net.broadcaster, dagSyncer: net.dagSyncer }
  )
  await consensus.start()
  const c = consensus
  cleanups.push(
    () => net.stop(),
    () => c.stop()
  )
  return { host, net, consensus }
}

async function cidOf(i: number): Promise<CID> {
  return CID.createV1(0x55, await sha256.digest(new TextEncoder().encode(`pin-${i}`)))
}

async function count(p: { consensus: CrdtConsensus }): Promise<number> {
  return (await all((await p.consensus.state()).list())).length
}

/**
 * Whether go-ds-crdt v0.6.8 would take this broadcast: its `decodeBroadcast`
 * reads any field besides `Heads` as a legacy raw CID and drops the whole
 * message when that fails (crdt.go). Accepted exactly when the message holds
 * nothing but heads, i.e. when re-encoding its heads gives the same bytes.
 */
function goDsCrdtAccepts(data: Uint8Array): boolean {
  try {
    return Buffer.from(encodeBroadcast(decodeBroadcast(data))).equals(Buffer.from(data))
  } catch {
    return false
  }
}

describe('crdt replication fast paths', () => {
  test('inline blocks are field 15: our decoder skips them, go-ds-crdt would drop the message', async () => {
    const { cid, bytes } = await makeNode({ elements: [], tombstones: [], priority: 1n }, [])
    const plain = encodeBroadcast([cid])
    const withBlocks = appendInlineBlocks(plain, [bytes])
    expect(withBlocks.length).toBeGreaterThan(plain.length)
    // our generated decoder ignores the extra field
    expect(decodeBroadcast(withBlocks).map((c) => c.toString())).toEqual([cid.toString()])
    expect(CRDTBroadcast.decode(withBlocks).Heads.length).toBe(1)
    // go-ds-crdt v0.6.8 does not: the message with field 15 is lost to Go peers
    expect(goDsCrdtAccepts(plain)).toBe(true)
    expect(goDsCrdtAccepts(withBlocks)).toBe(false)
    const parsed = parseBroadcast(withBlocks)
    expect(parsed.heads.map((h) => CID.decode(h).toString())).toEqual([cid.toString()])
    expect(parsed.blocks).toHaveLength(1)
    expect(Buffer.from(parsed.blocks[0]!).equals(Buffer.from(bytes))).toBe(true)
    expect(appendInlineBlocks(plain, [])).toBe(plain)
  })

  test('1000 pins on A reach live peer B through inline blocks; a late joiner C catches up through the sync protocol', async () => {
    const cluster = 'fast-sync'
    // no rebroadcast during the test: B must get every head live, C must pull them;
    // one broadcast per delta (no coalescing), so that every delta's block can travel inline
    const a = await peer('fa', cluster, { inlineMaxBytes: 64 * 1024, broadcastCoalesceMs: 0 })
    const b = await peer('fb', cluster, { bootstrap: a.host, inlineMaxBytes: 64 * 1024 })
    const pa = createPubsubAdapter(a.host)
    await waitFor(() => pa.subscribers(a.net.topic).includes(b.host.peerId), 'B subscribed', 10_000, 20)
    const n = 1000
    const cids = await Promise.all(Array.from({ length: n }, (_, i) => cidOf(i)))
    let t0 = Date.now()
    let next = 0
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        for (let i = next++; i < n; i = next++) {
          await a.consensus.logPin({ ...pinWithOpts(cids[i]!, { ...defaultPinOptions(), name: `p${i}` }), timestamp: new Date(1700000000000) })
        }
      })
    )
    const logged = Date.now() - t0
    t0 = Date.now()
    await waitFor(async () => (await count(b)) === n, 'B has all pins', 60_000, 20)
    const liveMs = Date.now() - t0
    const sb = b.net.stats()
    // concurrent logPins are group-committed: one delta per group, a linear chain
    const deltas = Number(a.consensus.heads().height)
    console.log(`[crdt-fast] ${n} logPin on A (${deltas} deltas): ${logged} ms; B converged ${liveMs} ms after the last one; B stats ${JSON.stringify(sb)}`)
    expect(deltas).toBeGreaterThan(0)
    expect(deltas).toBeLessThanOrEqual(n)
    // deltas made in the same event-loop turn still share a broadcast
    expect(a.net.stats().inlineSent).toBeGreaterThanOrEqual(deltas * 0.9)
    // nearly every block arrived inline (a message dropped by gossipsub may be fetched instead)
    expect(sb.inlineReceived).toBeGreaterThanOrEqual(deltas * 0.9)
    expect(sb.dagSyncer.bitswapBlocks).toBeLessThanOrEqual(deltas * 0.1)
    expect((await (await b.consensus.state()).get(cids[n - 1]!)).name).toBe(`p${n - 1}`)
    // one more pin, alone: latency A -> B
    const single = await cidOf(n + 1)
    t0 = Date.now()
    await a.consensus.logPin({ ...pinWithOpts(single, { ...defaultPinOptions(), name: 'single' }), timestamp: new Date(1700000000000) })
    const stateB = await b.consensus.state()
    await waitFor(async () => stateB.has(single), "the single pin in B's state", 5000, 1)
    console.log(`[crdt-fast] a single pin on A is in B's state after ${Date.now() - t0} ms`)
    expect(await stateB.has(single)).toBe(true)

    // late joiner: it pulls the heads of the peers it connects to (A rebroadcasts only every minute)
    t0 = Date.now()
    const c = await peer('fc', cluster, { bootstrap: a.host })
    await waitFor(async () => (await count(c)) === n + 1, 'C has all pins', 60_000, 20)
    const joinMs = Date.now() - t0
    const sc = c.net.stats()
    console.log(`[crdt-fast] late joiner C synced the ${deltas + 1}-node chain in ${joinMs} ms; C stats ${JSON.stringify(sc)}`)
    expect(sc.sync?.blocksReceived ?? 0).toBeGreaterThanOrEqual(deltas)
    expect(sc.dagSyncer.bitswapBlocks).toBe(0)
    expect(sc.sync?.requestsOk ?? 0).toBeLessThanOrEqual(5)
    expect(sc.headsInjected).toBeGreaterThanOrEqual(1)
    expect((await (await c.consensus.state()).get(cids[0]!)).name).toBe('p0')
  }, 90_000)

  test("the daemon's consensus broadcasts plain go-ds-crdt heads; a live peer converges without inline blocks", async () => {
    const cluster = 'plain-heads'
    const crdtCfg = {
      clusterName: cluster,
      trustAll: true,
      trustedPeers: [],
      batching: { maxBatchSize: 0, maxBatchAgeMs: 0, maxQueueSize: 1000 },
      repairIntervalMs: 0,
      // no rebroadcast during the test: B must get every head live
      rebroadcastIntervalMs: 60_000,
      peersetMetric: 'ping',
      datastoreNamespace: '/c'
    }
    const sent: Uint8Array[] = []
    const start = async (name: string, bootstrap?: ClusterHost, spy = false) => {
      const host = await makeHost(dir.path, name)
      cleanups.push(() => host.stop())
      await host.start()
      if (bootstrap !== undefined) await host.bootstrap(bootstrap.addresses())
      const adapter = createPubsubAdapter(host)
      const pubsub = spy
        ? {
            ...adapter,
            publish: (topic: string, data: Uint8Array) => {
              sent.push(data)
              return adapter.publish(topic, data)
            }
          }
        : adapter
      const pc = createConsensus(crdtCfg, { peerId: host.peerId, datastore: new MemoryDatastore(), libp2p: host.libp2p, pubsub, monitor: { latestMetrics: async () => [] } })
      await pc.start()
      cleanups.push(() => pc.stop())
      return { host, adapter, consensus: pc.consensus }
    }
    const a = await start('pa', undefined, true)
    const b = await start('pb', a.host)
    const topic = a.host.libp2p.services.pubsub.getTopics()[0]!
    await waitFor(() => a.adapter.subscribers(topic).includes(b.host.peerId), 'B subscribed', 10_000)
    const n = 1000
    const cids = await Promise.all(Array.from({ length: n }, (_, i) => cidOf(10_000 + i)))
    let t0 = Date.now()
    let next = 0
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        for (let i = next++; i < n; i = next++) {
          await a.consensus.logPin({ ...pinWithOpts(cids[i]!, { ...defaultPinOptions(), name: `q${i}` }), timestamp: new Date(1700000000000) })
        }
      })
    )
    const logged = Date.now() - t0
    t0 = Date.now()
    await waitFor(async () => (await count(b)) === n, 'B has all pins', 60_000)
    const liveMs = Date.now() - t0
    const deltas = Number(a.consensus.heads().height)
    console.log(`[crdt-fast] without inline blocks: ${n} logPin on A (${deltas} deltas): ${logged} ms; B converged ${liveMs} ms after the last one`)
    const single = await cidOf(10_000 + n)
    t0 = Date.now()
    await a.consensus.logPin({ ...pinWithOpts(single, { ...defaultPinOptions(), name: 'single' }), timestamp: new Date(1700000000000) })
    await waitFor(async () => (await b.consensus.state()).has(single), 'the single pin on B', 5_000)
    console.log(`[crdt-fast] without inline blocks: a single pin on A is in B's state after ${Date.now() - t0} ms`)
    // every head broadcast A sent is one a Go peer takes (deltas within broadcastCoalesceMs share one)
    expect(sent.length).toBeGreaterThan(0)
    expect(sent.length).toBeLessThanOrEqual(deltas + 2)
    for (const m of sent) expect(goDsCrdtAccepts(m)).toBe(true)
    expect(sent.every((m) => parseBroadcast(m).blocks.length === 0)).toBe(true)
  }, 90_000)

  test('inline blocks are stored only when they are the heads or linked from them', async () => {
    let handler: ((d: Uint8Array, from: string) => void) | undefined
    const fake = {
      publish: async () => {},
      subscribe: (_t: string, h: (d: Uint8Array, from: string) => void) => {
        handler = h
        return () => {}
      }
    }
    const blocks = new CrdtBlockstore(new MemoryDatastore(), '/c')
    const bc = createPubsubBroadcaster({ topic: 't', isTrusted: () => true }, { pubsub: fake, blockstore: blocks })
    const parent = await makeNode({ elements: [], tombstones: [], priority: 1n }, [])
    const head = await makeNode({ elements: [], tombstones: [], priority: 2n }, [parent.cid])
    const stranger = await makeNode({ elements: [], tombstones: [], priority: 9n }, [])
    handler!(appendInlineBlocks(encodeBroadcast([head.cid]), [head.bytes, parent.bytes, stranger.bytes]), 'p')
    const ac = new AbortController()
    const got = await bc.next(ac.signal)
    expect(decodeBroadcast(got)[0]!.toString()).toBe(head.cid.toString())
    expect(await blocks.has(head.cid)).toBe(true)
    expect(await blocks.has(parent.cid)).toBe(true)
    expect(await blocks.has(stranger.cid)).toBe(false)
    expect(bc.inlineReceived).toBe(2)
    expect(bc.inlineRejected).toBe(1)
    bc.close()
  })

  test('the catch-up protocol stops at the requester heads and serves trusted peers only', async () => {
    const [ha, hb] = await connectedHosts('sa', 'sb')
    const storeA = new CrdtBlockstore(new MemoryDatastore(), '/c')
    const storeB = new CrdtBlockstore(new MemoryDatastore(), '/c')
    // a 50-node chain on A; B has the first 20 and its head is node 20
    const chain: Array<{ cid: CID; bytes: Uint8Array }> = []
    for (let i = 0; i < 50; i++) {
      const node = await makeNode({ elements: [], tombstones: [], priority: BigInt(i + 1) }, i === 0 ? [] : [chain[i - 1]!.cid])
      chain.push(node)
      await storeA.put(node.cid, node.bytes)
      if (i < 20) await storeB.put(node.cid, node.bytes)
    }
    let aTrustsB = true
    const sa = createDagSync({ isTrusted: () => aTrustsB }, { libp2p: ha.libp2p, blockstore: storeA })
    const sb = createDagSync({ isTrusted: () => true }, { libp2p: hb.libp2p, blockstore: storeB, heads: async () => [chain[19]!.cid] })
    await sa.start()
    await sb.start()
    await sa.start() // idempotent
    cleanups.push(
      () => sa.stop(),
      () => sb.stop()
    )
    const top = chain[49]!
    const got = await sb.fetch(top.cid)
    expect(got).toBeDefined()
    expect(Buffer.from(got!).equals(Buffer.from(top.bytes))).toBe(true)
    expect(sb.stats.blocksReceived).toBe(30)
    expect(sa.stats.blocksServed).toBe(30)
    for (const n of chain) expect(await storeB.has(n.cid)).toBe(true)
    // a block A does not have: no answer, nothing stored
    const missing = await makeNode({ elements: [], tombstones: [], priority: 99n }, [])
    expect(await sb.fetch(missing.cid)).toBeUndefined()
    // heads of A (none stored): empty
    expect(await sb.heads(ha.libp2p.peerId)).toEqual([])
    // A stops trusting B: refused
    aTrustsB = false
    const extra = await makeNode({ elements: [], tombstones: [], priority: 51n }, [top.cid])
    await storeA.put(extra.cid, extra.bytes)
    const failedBefore = sb.stats.requestsFailed
    expect(await sb.fetch(extra.cid)).toBeUndefined()
    expect(sb.stats.requestsFailed).toBeGreaterThan(failedBefore)
    expect(sa.stats.blocksServed).toBe(30)
    expect(await storeB.has(extra.cid)).toBe(false)
  }, 20_000)

  test('a catch-up response larger than 4 MiB reaches an asker that stores slowly', async () => {
    const [ha, hb] = await connectedHosts('la', 'lb')
    const storeA = new CrdtBlockstore(new MemoryDatastore(), '/c')
    // B's disk is slow: every batch of blocks takes a second to store, while A keeps sending
    class SlowStore extends CrdtBlockstore {
      override async putMany(blocks: Iterable<{ cid: CID; bytes: Uint8Array }>, options?: { signal?: AbortSignal }): Promise<void> {
        await new Promise((resolve) => setTimeout(resolve, 1000))
        await super.putMany(blocks, options)
      }
    }
    const storeB = new SlowStore(new MemoryDatastore(), '/c')
    // 700 nodes of 20 KiB (14 MiB, one response): the first batch of 256 is stored while the rest arrives
    const value = new Uint8Array(20 * 1024).fill(3)
    const chain: Array<{ cid: CID; bytes: Uint8Array }> = []
    for (let i = 0; i < 700; i++) {
      const node = await makeNode({ elements: [{ key: `/k${i}`, id: `${i}`, value }], tombstones: [], priority: BigInt(i + 1) }, i === 0 ? [] : [chain[i - 1]!.cid])
      chain.push(node)
      await storeA.put(node.cid, node.bytes)
    }
    const sa = createDagSync({ isTrusted: () => true }, { libp2p: ha.libp2p, blockstore: storeA })
    const sb = createDagSync({ isTrusted: () => true }, { libp2p: hb.libp2p, blockstore: storeB })
    await sa.start()
    await sb.start()
    cleanups.push(
      () => sa.stop(),
      () => sb.stop()
    )
    const top = chain[699]!
    const got = await sb.fetch(top.cid)
    expect(got).toBeDefined()
    expect(sb.stats.requestsFailed).toBe(0)
    expect(sb.stats.blocksReceived).toBe(700)
    for (const n of chain) expect(await storeB.has(n.cid)).toBe(true)
  }, 60_000)
})
