/**
 * Inline blocks of a coalesced heads broadcast: the deltas committed while
 * the broadcast timer was armed travel in the message with their head, so a
 * live peer applies them without fetching one (src/consensus/crdt/libp2p.ts
 * `withInline`, src/consensus/crdt/crdt.ts `scheduleHeadsBroadcast`).
 * The pubsub below is an in-process stand-in; the real hosts are in
 * test/integration/host/crdt-fast.test.ts.
 */
import { afterEach, describe, expect, test } from 'bun:test'
import all from 'it-all'
import type { CID } from 'multiformats/cid'
import { CID as CIDClass } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { CRDT_DEFAULTS, type CrdtConsensus, CrdtBlockstore, createCrdtConsensus, type DagSyncer } from '../../../src/consensus/crdt/index.ts'
import { type BroadcastPubsub, createPubsubBroadcaster, type PubsubBroadcaster, parseBroadcast } from '../../../src/consensus/crdt/libp2p.ts'
import { MemoryDatastore } from '../../../src/datastore/memory.ts'
import { setLogLevels } from '../../../src/observability/logging.ts'
import { defaultPinOptions, type Pin, pinWithOpts } from '../../../src/types/index.ts'
import { waitFor } from '../../../scripts/launcher/poll.ts'
import { crdtInit } from './helpers.ts'

setLogLevels('error')

/** An in-process topic: a publish reaches every other subscriber, signed by the publisher. */
class Topic {
  private readonly subs = new Map<string, (data: Uint8Array, from: string) => void>()
  /** every message published, in order */
  readonly published: Uint8Array[] = []

  pubsub(me: string): BroadcastPubsub {
    return {
      publish: async (_topic, data) => {
        this.published.push(data)
        for (const [id, h] of this.subs) if (id !== me) h(data, me)
      },
      subscribe: (_topic, handler) => {
        this.subs.set(me, handler)
        return () => this.subs.delete(me)
      }
    }
  }
}

interface Peer {
  consensus: CrdtConsensus
  broadcaster: PubsubBroadcaster
  blockstore: CrdtBlockstore
  /** blocks this peer had to fetch from the other one */
  fetched: () => number
}

const running: Peer[] = []

afterEach(async () => {
  for (const p of running.splice(0)) {
    await p.consensus.stop()
    p.broadcaster.close()
  }
})

function peer(id: string, topic: Topic, others: () => Peer[], broadcastCoalesceMs: number): Peer {
  const datastore = new MemoryDatastore()
  const blockstore = new CrdtBlockstore(datastore, CRDT_DEFAULTS.namespace)
  const broadcaster = createPubsubBroadcaster({ topic: 't', isTrusted: () => true }, { pubsub: topic.pubsub(id), blockstore })
  let fetched = 0
  const dagSyncer: DagSyncer = {
    async getBlock(cid, options) {
      if (await blockstore.has(cid, options)) return await blockstore.get(cid, options)
      fetched++
      for (const o of others()) if (await o.blockstore.has(cid, options)) return await o.blockstore.get(cid, options)
      throw new Error(`no peer has ${cid.toString()}`)
    },
    async putBlock() {}
  }
  const consensus = createCrdtConsensus(crdtInit({ peerId: id, broadcastCoalesceMs }), { datastore, broadcaster, dagSyncer })
  const p: Peer = { consensus, broadcaster, blockstore, fetched: () => fetched }
  running.push(p)
  return p
}

async function pinOf(i: number): Promise<Pin> {
  const cid = CIDClass.createV1(0x55, await sha256.digest(new TextEncoder().encode(`inline-${i}`)))
  return { ...pinWithOpts(cid, { ...defaultPinOptions(), name: `p${i}` }), timestamp: new Date(1700000000000) }
}

async function count(c: CrdtConsensus): Promise<number> {
  return (await all((await c.state()).list())).length
}

/** `n` pins (from number `first`) logged one after the other on `a` (one delta each), all inside one armed broadcast timer. */
async function logSequentially(a: CrdtConsensus, n: number, first = 0): Promise<CID[]> {
  const out: CID[] = []
  for (let i = first; i < first + n; i++) {
    const pin = await pinOf(i)
    await a.logPin(pin)
    out.push(pin.cid)
  }
  return out
}

/** Every inline block of every message published. */
const inlineTotal = (t: Topic): number => t.published.reduce((n, m) => n + parseBroadcast(m).blocks.length, 0)

describe('inline blocks of a coalesced broadcast', () => {
  test('20 deltas sharing one broadcast all travel inline: the live peer fetches none', async () => {
    const topic = new Topic()
    const peers: Peer[] = []
    const a = peer('A', topic, () => peers, 60_000)
    const b = peer('B', topic, () => peers, 60_000)
    peers.push(a, b)
    await a.consensus.start()
    await b.consensus.start()
    await logSequentially(a.consensus, 20)
    expect(topic.published.length).toBe(0) // the timer is still armed
    await a.consensus.stop() // sends the armed broadcast
    expect(topic.published.length).toBe(1)
    const msg = parseBroadcast(topic.published[0]!)
    expect(msg.heads.length).toBe(1)
    expect(msg.blocks.length).toBe(20)
    await waitFor(async () => (await count(b.consensus)) === 20, 'B has the 20 pins', 10_000, 5)
    expect(b.fetched()).toBe(0)
    expect(b.broadcaster.inlineReceived).toBe(20)
    expect(b.broadcaster.inlineRejected).toBe(0)
    expect(b.consensus.heads().heads.map(String)).toEqual(a.consensus.heads().heads.map(String))
  })

  test('beyond 64 deltas per broadcast the newest 64 travel inline and the older ones are fetched', async () => {
    const topic = new Topic()
    const peers: Peer[] = []
    const a = peer('A', topic, () => peers, 60_000)
    const b = peer('B', topic, () => peers, 60_000)
    peers.push(a, b)
    await a.consensus.start()
    await b.consensus.start()
    await logSequentially(a.consensus, 100)
    await a.consensus.stop()
    expect(topic.published.length).toBe(1)
    expect(parseBroadcast(topic.published[0]!).blocks.length).toBe(64)
    await waitFor(async () => (await count(b.consensus)) === 100, 'B has the 100 pins', 10_000, 5)
    expect(b.broadcaster.inlineReceived).toBe(64)
    expect(b.fetched()).toBe(36)
  })

  test('each broadcast carries the deltas made since the previous one, a rebroadcast only its heads; whatever the timing, none is fetched', async () => {
    const topic = new Topic()
    const peers: Peer[] = []
    const a = peer('A', topic, () => peers, 0)
    const b = peer('B', topic, () => peers, 0)
    peers.push(a, b)
    await a.consensus.start()
    await b.consensus.start()
    // one delta at a time, each broadcast before the next: one block per message, never its ancestors
    for (let i = 0; i < 5; i++) {
      await a.consensus.logPin(await pinOf(i))
      await waitFor(() => topic.published.length === i + 1, `broadcast ${i + 1}`, 10_000, 1)
    }
    expect(topic.published.map((m) => parseBroadcast(m).blocks.length)).toEqual([1, 1, 1, 1, 1])
    await waitFor(async () => (await count(b.consensus)) === 5, 'B has 5 pins', 10_000, 5)
    // B's delta on top of A's: B's message carries its own block only
    await b.consensus.logPin(await pinOf(100))
    await waitFor(async () => (await count(a.consensus)) === 6, 'A has 6 pins', 10_000, 5)
    expect(parseBroadcast(topic.published[5]!).blocks.length).toBe(1)
    await a.consensus.rebroadcast()
    expect(parseBroadcast(topic.published.at(-1)!).blocks.length).toBe(1)
    // 30 more without waiting: the timer may group them in any way, each delta travels once
    const before = inlineTotal(topic)
    await logSequentially(a.consensus, 30, 200)
    await waitFor(async () => (await count(b.consensus)) === 36, 'B has 36 pins', 10_000, 5)
    expect(inlineTotal(topic) - before).toBe(30)
    expect(a.fetched()).toBe(0)
    expect(b.fetched()).toBe(0)
  })
})
