import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { createHash } from 'node:crypto'
import all from 'it-all'
import { base58btc } from 'multiformats/bases/base58'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import type { Key } from 'interface-datastore'
import { CrdtBlockstore, type CrdtConsensus, createCrdtConsensus } from '../../../src/consensus/crdt/index.ts'
import {
  clusterTopic,
  createBitswapDagSyncer,
  createCrdtNetwork,
  createPubsubBroadcaster,
  type PubsubBroadcaster
} from '../../../src/consensus/crdt/libp2p.ts'
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

async function hostsConnected(n: number, prefix: string): Promise<ClusterHost[]> {
  const hosts: ClusterHost[] = []
  for (let i = 0; i < n; i++) {
    const h = await makeHost(dir.path, `${prefix}${i}`)
    cleanups.push(() => h.stop())
    await h.start()
    if (i > 0) await h.bootstrap(hosts[0]!.addresses())
    hosts.push(h)
  }
  return hosts
}

/** The next message as text, or undefined after `ms`. */
async function nextWithin(bc: PubsubBroadcaster, ms: number): Promise<string | undefined> {
  const ac = new AbortController()
  const timer = setTimeout(() => ac.abort(new Error('timeout')), ms)
  try {
    return new TextDecoder().decode(await bc.next(ac.signal))
  } catch {
    return undefined
  } finally {
    clearTimeout(timer)
  }
}

async function blockOf(text: string): Promise<{ cid: CID; bytes: Uint8Array }> {
  const bytes = new TextEncoder().encode(text)
  return { cid: CID.createV1(0x55, await sha256.digest(bytes)), bytes }
}

describe('crdt over libp2p', () => {
  test('topic is base58btc of the MD5 multihash of the cluster name', () => {
    const t = clusterTopic('ipfs-cluster')
    const bytes = base58btc.baseDecode(t)
    expect(bytes[0]).toBe(0xd5)
    expect(bytes[1]).toBe(0x01) // varint(0xd5)
    expect(bytes[2]).toBe(16)
    expect(Buffer.from(bytes.subarray(3)).toString('hex')).toBe(createHash('md5').update('ipfs-cluster').digest('hex'))
    expect(clusterTopic('a')).not.toBe(clusterTopic('b'))
  })

  test('the broadcaster delivers trusted messages and drops untrusted senders', async () => {
    const [a, b, c] = await hostsConnected(3, 'bc')
    // c also talks to b directly: a (which distrusts c) does not forward c's messages
    await c!.bootstrap(b!.addresses())
    const topic = clusterTopic('bc-test')
    const ps = [a!, b!, c!].map((h) => createPubsubAdapter(h))
    const trusted = new Set([b!.peerId])
    const bcs: PubsubBroadcaster[] = [
      createPubsubBroadcaster({ topic, isTrusted: (p) => trusted.has(p) }, { pubsub: ps[0]! }),
      createPubsubBroadcaster({ topic, isTrusted: () => true }, { pubsub: ps[1]! }),
      createPubsubBroadcaster({ topic, isTrusted: () => true }, { pubsub: ps[2]! })
    ]
    for (const x of bcs) cleanups.push(() => x.close())
    await waitFor(
      () => ps[0]!.subscribers(topic).length === 2 && ps[2]!.subscribers(topic).length === 2 && ps[1]!.subscribers(topic).length === 2,
      'subscriptions',
      5000,
      20
    )
    const enc = (s: string) => new TextEncoder().encode(s)
    // c (untrusted by a) publishes until a has dropped one and b (trusting everyone) got one
    let bGotC: string | undefined
    await waitFor(
      async () => {
        await bcs[2]!.broadcast(enc(`from-c-${Date.now()}`))
        bGotC ??= await nextWithin(bcs[1]!, 100)
        return bcs[0]!.droppedUntrusted > 0 && bGotC !== undefined
      },
      'untrusted message dropped by a, delivered to b',
      8000,
      20
    )
    expect(bGotC).toStartWith('from-c-')
    // b (trusted by a) publishes until a's next() returns its message
    let got: string | undefined
    await waitFor(
      async () => {
        await bcs[1]!.broadcast(enc('from-b'))
        got = await nextWithin(bcs[0]!, 200)
        return got !== undefined
      },
      'a receives from b',
      5000,
      20
    )
    expect(got).toBe('from-b')
  }, 20_000)

  test('the bounded queue drops the oldest message', async () => {
    let handler: ((d: Uint8Array, from: string) => void) | undefined
    const fake = {
      publish: async () => {},
      subscribe: (_t: string, h: (d: Uint8Array, from: string) => void) => {
        handler = h
        return () => {}
      }
    }
    const bc = createPubsubBroadcaster({ topic: 't', isTrusted: (p) => p !== 'evil', maxQueue: 2 }, { pubsub: fake })
    for (const x of ['1', '2', '3']) handler!(new TextEncoder().encode(x), 'good')
    handler!(new TextEncoder().encode('x'), 'evil')
    expect(bc.droppedFull).toBe(1)
    expect(bc.droppedUntrusted).toBe(1)
    const s = new AbortController().signal
    expect(new TextDecoder().decode(await bc.next(s))).toBe('2')
    expect(new TextDecoder().decode(await bc.next(s))).toBe('3')
    // next() waits for a message and rejects when its signal aborts
    const waiting = bc.next(s)
    handler!(new TextEncoder().encode('4'), 'good')
    expect(new TextDecoder().decode(await waiting)).toBe('4')
    const ac = new AbortController()
    const p = bc.next(ac.signal)
    ac.abort(new Error('stop'))
    await expect(p).rejects.toThrow('stop')
  })

  test('the bitswap dag syncer fetches a block stored only on the other host', async () => {
    const [a, b] = await hostsConnected(2, 'bs')
    const storeA = new CrdtBlockstore(new MemoryDatastore(), '/c')
    const storeB = new CrdtBlockstore(new MemoryDatastore(), '/c')
    const sa = createBitswapDagSyncer({ timeoutMs: 5000 }, { libp2p: a!.libp2p, blockstore: storeA })
    const sb = createBitswapDagSyncer({ timeoutMs: 500 }, { libp2p: b!.libp2p, blockstore: storeB })
    await sa.start()
    await sb.start()
    await sa.start() // idempotent
    cleanups.push(() => sa.stop(), () => sb.stop())
    const blk = await blockOf('only on a')
    await storeA.put(blk.cid, blk.bytes)
    await sa.putBlock(blk.cid, blk.bytes)
    expect(await storeB.has(blk.cid)).toBe(false)
    const got = await sb.getBlock(blk.cid)
    expect(new TextDecoder().decode(got)).toBe('only on a')
    // local blocks are read locally
    expect(new TextDecoder().decode(await sa.getBlock(blk.cid))).toBe('only on a')
    // nobody has it: NotFoundError after the timeout
    const missing = await blockOf('nowhere')
    const err = await sb.getBlock(missing.cid).catch((e: Error) => e)
    expect((err as Error).name).toBe('NotFoundError')
  })

  test('a block a peer fetched is served to a bitswap-only peer (as a Go peer) whose want for it was pending', async () => {
    // X logs a pin alone; Z (bitswap only, like go-ds-crdt's ipfs-lite) wants
    // X's head from Y, its only peer, before Y has it; then X and Y connect,
    // Y fetches the block through the catch-up protocol, and must hand it to Z
    class WatchedDatastore extends MemoryDatastore {
      readonly asked = new Set<string>()
      override async has(key: Key, options?: { signal?: AbortSignal }): Promise<boolean> {
        this.asked.add(key.toString())
        return await super.has(key, options)
      }
    }
    const full = async (name: string, datastore: MemoryDatastore): Promise<{ host: ClusterHost; consensus: CrdtConsensus }> => {
      const host = await makeHost(dir.path, name)
      cleanups.push(() => host.stop())
      await host.start()
      let consensus: CrdtConsensus | undefined
      const net = createCrdtNetwork(
        { clusterName: 'relay', isTrusted: (p) => consensus?.isTrustedPeer(p) ?? false, dagTimeoutMs: 20_000 },
        { libp2p: host.libp2p, pubsub: createPubsubAdapter(host), datastore }
      )
      await net.start()
      consensus = createCrdtConsensus(
        {
          peerId: host.peerId,
          clusterName: 'relay',
          trustedPeers: ['*'],
          batching: { maxBatchSize: 0, maxBatchAgeMs: 0, maxQueueSize: 1000 },
          rebroadcastIntervalMs: 200,
          repairIntervalMs: 0
        },
        { datastore, broadcaster: net.broadcaster, dagSyncer: net.dagSyncer }
      )
      await consensus.start()
      const c = consensus
      cleanups.push(
        () => net.stop(),
        () => c.stop()
      )
      return { host, consensus }
    }
    const x = await full('rx', new MemoryDatastore())
    const yStore = new WatchedDatastore()
    const y = await full('ry', yStore)
    // Z speaks another DHT protocol than the cluster's, so it never
    // finds X by itself: the block can reach it only through Y
    const z = await makeHost(dir.path, 'rz', { dhtProtocol: '/ipfs-cluster-test/other/kad/1.0.0' })
    cleanups.push(() => z.stop())
    const zPeers = new Set<string>()
    z.libp2p.addEventListener('peer:connect', (evt) => zPeers.add(evt.detail.toString()))
    await z.start()
    await z.bootstrap(y.host.addresses())
    const zBlocks = new CrdtBlockstore(new MemoryDatastore(), '/c')
    const zSyncer = createBitswapDagSyncer({ timeoutMs: 15_000 }, { libp2p: z.libp2p, blockstore: zBlocks })
    await zSyncer.start()
    cleanups.push(() => zSyncer.stop())

    const cid = (await blockOf('relayed')).cid
    await x.consensus.logPin({ ...pinWithOpts(cid, { ...defaultPinOptions(), name: 'relayed' }), timestamp: new Date(1700000000000) })
    const headCid = x.consensus.heads().heads[0]!
    const key = new CrdtBlockstore(yStore, '/c').keyOf(headCid)
    const wanted = zSyncer.getBlock(headCid)
    // Y's bitswap looked the block up for Z, did not have it, and keeps the want
    await waitFor(() => yStore.asked.has(key), "Z's want to reach Y", 10_000)
    expect(await new CrdtBlockstore(yStore, '/c').has(headCid)).toBe(false)
    await y.host.bootstrap(x.host.addresses())
    await waitFor(async () => (await y.consensus.state()).has(cid), 'Y to apply the head', 10_000)
    const got = await wanted
    expect([...zPeers]).toEqual([y.host.peerId])
    expect(Buffer.from(got).equals(Buffer.from(await new CrdtBlockstore(yStore, '/c').get(headCid)))).toBe(true)
  }, 30_000)

  test('two crdt consensus instances on two real hosts converge', async () => {
    const [a, b] = await hostsConnected(2, 'cc')
    const topic = clusterTopic('converge')
    const peers = await Promise.all(
      [a!, b!].map(async (h) => {
        const datastore = new MemoryDatastore()
        const pubsub = createPubsubAdapter(h)
        let consensus: CrdtConsensus | undefined
        const net = createCrdtNetwork(
          { clusterName: 'converge', isTrusted: (p) => consensus?.isTrustedPeer(p) ?? false, dagTimeoutMs: 5000 },
          { libp2p: h.libp2p, pubsub, datastore }
        )
        expect(net.topic).toBe(topic)
        await net.start()
        consensus = createCrdtConsensus(
          {
            peerId: h.peerId,
            clusterName: 'converge',
            trustedPeers: ['*'],
            batching: { maxBatchSize: 0, maxBatchAgeMs: 0, maxQueueSize: 1000 },
            rebroadcastIntervalMs: 200,
            repairIntervalMs: 0
          },
          { datastore, broadcaster: net.broadcaster, dagSyncer: net.dagSyncer }
        )
        await consensus.start()
        const c = consensus
        cleanups.push(
          () => net.stop(),
          () => c.stop()
        )
        return { consensus, pubsub }
      })
    )
    const [pa, pb] = peers
    await waitFor(() => pa!.pubsub.subscribers(topic).includes(b!.peerId) && pb!.pubsub.subscribers(topic).includes(a!.peerId), 'subscriptions', 5000, 20)
    const cid1 = (await blockOf('pin-1')).cid
    const cid2 = (await blockOf('pin-2')).cid
    await pa!.consensus.logPin({ ...pinWithOpts(cid1, { ...defaultPinOptions(), name: 'one' }), timestamp: new Date(1700000000000) })
    await pa!.consensus.logPin({ ...pinWithOpts(cid2, { ...defaultPinOptions(), name: 'two' }), timestamp: new Date(1700000000000) })
    await waitFor(async () => (await all((await pb!.consensus.state()).list())).length === 2, 'B sees both pins', 10_000, 20)
    expect((await (await pb!.consensus.state()).get(cid1)).name).toBe('one')
    // and back: B unpins, A sees it
    await pb!.consensus.logUnpin(await (await pb!.consensus.state()).get(cid1))
    await waitFor(async () => !(await (await pa!.consensus.state()).has(cid1)), 'A sees the unpin', 10_000, 20)
    expect(await (await pa!.consensus.state()).has(cid2)).toBe(true)
  })
})
