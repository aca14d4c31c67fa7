/** Concurrent processing of remote heads (CrdtStore.handleHead / receiveLoop) and the catch-up wire helpers. */
import { describe, expect, test } from 'bun:test'
import all from 'it-all'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import {
  type CrdtConsensus,
  type CrdtInit,
  createCrdtConsensus,
  type DagSyncer,
  MemoryBroadcastNetwork,
  memoryDagSyncer
} from '../../../src/consensus/crdt/index.ts'
import { MemoryDatastore } from '../../../src/datastore/memory.ts'
import { setLogLevels } from '../../../src/observability/logging.ts'
import { defaultPinOptions, type Pin, pinWithOpts } from '../../../src/types/index.ts'
import { waitFor } from '../../../scripts/launcher/poll.ts'

setLogLevels('error')

async function pinOf(i: number): Promise<Pin> {
  const cid = CID.createV1(0x55, await sha256.digest(new TextEncoder().encode(`pin-${i}`)))
  return { ...pinWithOpts(cid, { ...defaultPinOptions(), name: `p${i}` }), timestamp: new Date(1700000000000) }
}

function init(peerId: string): CrdtInit {
  return {
    peerId,
    clusterName: 'test',
    trustedPeers: ['*'],
    batching: { maxBatchSize: 0, maxBatchAgeMs: 0, maxQueueSize: 50000 },
    rebroadcastIntervalMs: 0,
    repairIntervalMs: 0
  }
}

async function names(c: CrdtConsensus): Promise<string[]> {
  return (await all((await c.state()).list())).map((p) => p.name).sort()
}

/** A deterministic shuffle (xorshift). */
function shuffle<T>(xs: T[], seed: number): T[] {
  const out = [...xs]
  let s = seed
  for (let i = out.length - 1; i > 0; i--) {
    s ^= s << 13
    s ^= s >>> 17
    s ^= s << 5
    const j = Math.abs(s) % (i + 1)
    const t = out[i]!
    out[i] = out[j]!
    out[j] = t
  }
  return out
}

describe('concurrent head processing', () => {
  test('heads of one chain handled concurrently, in any order, leave one head and the full state', async () => {
    const net = new MemoryBroadcastNetwork()
    const peers: CrdtConsensus[] = []
    const inner = memoryDagSyncer(() => peers.map((p) => p.blockstore))
    let fetches = 0
    // a slow syncer, so that walks interleave
    const slow: DagSyncer = {
      async getBlock(cid, options) {
        fetches++
        await new Promise((r) => setTimeout(r, fetches % 3))
        return await inner.getBlock(cid, options)
      },
      putBlock: (cid, bytes, options) => inner.putBlock(cid, bytes, options)
    }
    const a = createCrdtConsensus(init('A'), { datastore: new MemoryDatastore(), broadcaster: net.broadcaster(), dagSyncer: slow })
    const b = createCrdtConsensus(init('B'), { datastore: new MemoryDatastore(), broadcaster: net.broadcaster(), dagSyncer: slow })
    peers.push(a, b)
    net.connected = false
    await a.start()
    await b.start()
    const heads: CID[] = []
    for (let i = 0; i < 60; i++) {
      await a.logPin(await pinOf(i))
      heads.push(a.heads().heads[0]!)
    }
    // every head at once, shuffled, some twice
    const order = shuffle([...heads, ...heads.slice(0, 10)], 12345)
    await Promise.all(order.map((h) => b.handleHead(h)))
    expect(b.heads().heads.map(String)).toEqual(a.heads().heads.map(String))
    expect(b.heads().height).toBe(60n)
    expect(await names(b)).toEqual(await names(a))
    await a.stop()
    await b.stop()
  })

  test('the receive loop processes a burst of broadcasts and converges', async () => {
    const net = new MemoryBroadcastNetwork()
    const peers: CrdtConsensus[] = []
    const syncer = memoryDagSyncer(() => peers.map((p) => p.blockstore))
    const a = createCrdtConsensus(init('A'), { datastore: new MemoryDatastore(), broadcaster: net.broadcaster(), dagSyncer: syncer })
    const b = createCrdtConsensus(init('B'), { datastore: new MemoryDatastore(), broadcaster: net.broadcaster(), dagSyncer: syncer })
    peers.push(a, b)
    await a.start()
    await b.start()
    await Promise.all(Array.from({ length: 100 }, async (_, i) => a.logPin(await pinOf(i))))
    await waitFor(async () => (await names(b)).length >= 100, 'B to have the 100 pins', 10_000, 5)
    expect((await names(b)).length).toBe(100)
    expect(b.heads().heads.map(String)).toEqual(a.heads().heads.map(String))
    await a.stop()
    await b.stop()
  })
})
