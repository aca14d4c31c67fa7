/** The pieces of the stale re-allocation check: tombstone records, the byte-wise pin comparison, node headers, the ancestry walk, and marks kept across a restart. */
import { describe, expect, test } from 'bun:test'
import fc from 'fast-check'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { createCrdtConsensus, MemoryBroadcastNetwork, memoryDagSyncer } from '../../../src/consensus/crdt/index.ts'
import { blockId, decodeNode, makeNode } from '../../../src/consensus/crdt/dag.ts'
import { decodeTombValue, encodeTombValue } from '../../../src/consensus/crdt/set.ts'
import { isAncestor, nodeHeader } from '../../../src/consensus/crdt/stale.ts'
import { MemoryDatastore } from '../../../src/datastore/memory.ts'
import { setLogLevels } from '../../../src/observability/logging.ts'
import { pinToProtobuf } from '../../../src/state/codec.ts'
import { isReallocationOf, withoutAllocations } from '../../../src/state/reallocation.ts'
import { defaultPinOptions, type Pin, pinWithOpts } from '../../../src/types/index.ts'
import { waitFor } from '../../../scripts/launcher/poll.ts'
import { crdtInit } from './helpers.ts'

setLogLevels('error')

const X = '12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA'
const Y = '12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo'

async function pinOf(s: string, allocations: string[], seconds = 1_700_000_000): Promise<Pin> {
  const cid = CID.createV1(0x55, await sha256.digest(new TextEncoder().encode(s)))
  return { ...pinWithOpts(cid, { ...defaultPinOptions(), name: s, metadata: { a: 'b' } }), allocations, timestamp: new Date(seconds * 1000) }
}

describe('tombstone records', () => {
  test('round trip, and anything else (go-ds-crdt empty values, garbage) reads as no record', () => {
    const rec = { deleter: '/CIQFFQHP7ROY5BPYO3KUPXMXBMLRG4BZEXQ4EPI2CVBFT7WAPB4R25Y', deleterPriority: 123456789n, removed: new Uint8Array([1, 2, 3]) }
    const back = decodeTombValue(encodeTombValue(rec))
    expect(back?.deleter).toBe(rec.deleter)
    expect(back?.deleterPriority).toBe(rec.deleterPriority)
    expect([...(back?.removed ?? [])]).toEqual([1, 2, 3])
    expect(decodeTombValue(new Uint8Array(0))).toBeUndefined()
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (b) => {
        const r = decodeTombValue(b)
        if (r !== undefined) expect(typeof r.deleter).toBe('string')
      }),
      { numRuns: 300 }
    )
  })
})

describe('isReallocationOf', () => {
  test('the same pin with other allocations is one; another timestamp, name or mode is not', async () => {
    const a = pinToProtobuf(await pinOf('p', [X, Y]))
    const b = pinToProtobuf(await pinOf('p', [Y]))
    const none = pinToProtobuf(await pinOf('p', []))
    expect(isReallocationOf(b, a)).toBe(true)
    expect(isReallocationOf(none, a)).toBe(true)
    expect(isReallocationOf(pinToProtobuf(await pinOf('p', [X, Y], 1_700_000_001)), a)).toBe(false)
    expect(isReallocationOf(pinToProtobuf({ ...(await pinOf('p', [X, Y])), name: 'q' }), a)).toBe(false)
    expect(isReallocationOf(pinToProtobuf({ ...(await pinOf('p', [X, Y])), replicationFactorMax: 3 }), a)).toBe(false)
    expect(isReallocationOf(b, new Uint8Array(0))).toBe(false)
  })

  test('malformed bytes: false, never a throw', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), fc.uint8Array({ maxLength: 80 }), (a, b) => {
        const r = isReallocationOf(a, b)
        expect(typeof r).toBe('boolean')
        if (withoutAllocations(a) === undefined || withoutAllocations(b) === undefined) expect(r).toBe(false)
      }),
      { numRuns: 500 }
    )
  })
})

describe('nodeHeader and isAncestor', () => {
  test("nodeHeader gives decodeNode's priority and links", async () => {
    const root = await makeNode({ elements: [{ key: '/k', id: '', value: new Uint8Array(2000) }], tombstones: [], priority: 1n }, [])
    const next = await makeNode({ elements: [], tombstones: [{ key: '/k', id: blockId(root.cid), value: new Uint8Array(0) }], priority: 300n }, [root.cid])
    const h = nodeHeader(next.bytes)
    const d = decodeNode(next.bytes)
    expect(h.priority).toBe(d.delta.priority)
    expect(h.links.map(String)).toEqual(d.links.map(String))
    expect(() => nodeHeader(new Uint8Array([1, 2, 3]))).toThrow()
  })

  test('a chain and a fork: ancestors are found, concurrent nodes are not, and an over-long walk is undecided', async () => {
    const blocks = new Map<string, Uint8Array>()
    const add = async (prio: bigint, links: CID[], tag = 0): Promise<CID> => {
      const n = await makeNode({ elements: [{ key: `/k${prio}`, id: '', value: new Uint8Array([tag]) }], tombstones: [], priority: prio }, links)
      blocks.set(blockId(n.cid), n.bytes)
      return n.cid
    }
    const get = async (id: string): Promise<Uint8Array> => {
      const b = blocks.get(id)
      if (b === undefined) throw new Error('missing')
      return b
    }
    const root = await add(1n, [])
    let tip = root
    for (let p = 2n; p <= 50n; p++) tip = await add(p, [tip])
    const side = await add(2n, [root], 1) // concurrent with the chain above root
    expect(await isAncestor(blockId(root), 1n, blockId(tip), 50n, get)).toBe(true)
    expect(await isAncestor(blockId(side), 2n, blockId(tip), 50n, get)).toBe(false)
    expect(await isAncestor(blockId(tip), 50n, blockId(root), 1n, get)).toBe(false)
    expect(await isAncestor(blockId(root), 1n, blockId(tip), 50n, get, undefined, 10)).toBeUndefined()
    const merged = await add(51n, [tip, side])
    expect(await isAncestor(blockId(side), 2n, blockId(merged), 51n, get)).toBe(true)
    blocks.delete(blockId(side))
    expect(await isAncestor(blockId(root), 1n, blockId(merged), 51n, get)).toBe(true) // found through the chain
    expect(await isAncestor(blockId(await add(3n, [side], 1)), 3n, blockId(merged), 51n, get)).toBeUndefined() // must read the missing block
  })
})

test('a mark left by a crash before its check ran is checked at the next start', async () => {
  const net = new MemoryBroadcastNetwork()
  net.connected = false
  const peers: Array<{ blockstore: import('../../../src/consensus/crdt/dag.ts').CrdtBlockstore }> = []
  const syncer = memoryDagSyncer(() => peers.map((p) => p.blockstore))
  const dsB = new MemoryDatastore()
  const a = createCrdtConsensus(crdtInit({ peerId: X }), { datastore: new MemoryDatastore(), broadcaster: net.broadcaster(), dagSyncer: syncer })
  let b = createCrdtConsensus(crdtInit({ peerId: Y }), { datastore: dsB, broadcaster: net.broadcaster(), dagSyncer: syncer })
  peers.push(a, b)
  await a.start()
  await b.start()
  const p0 = await pinOf('crash', [X, Y])
  await a.logPin(p0)
  for (const h of a.heads().heads) await b.handleHead(h)
  await a.logPin({ ...p0, allocations: [X] })
  await b.logUnpin(p0)
  for (const h of a.heads().heads) await b.handleHead(h)
  // "crash": stop before the check's timer fires (stop drains without checking)
  await b.stop()
  let marks = 0
  for await (const k of dsB.queryKeys({ prefix: '/c/r' })) if (k.toString().startsWith('/c/r/')) marks++
  expect(marks).toBe(1) // the stale re-allocation is still the live value (its check has not run)
  b = createCrdtConsensus(crdtInit({ peerId: Y }), { datastore: dsB, broadcaster: net.broadcaster(), dagSyncer: syncer })
  peers[1] = b
  await b.start()
  await waitFor(async () => !(await (await b.state()).has(p0.cid)), 'the restarted peer to remove the stale re-allocation', 10_000, 20)
  expect(b.staleReallocationsRemoved).toBe(1)
  marks = 0
  for await (const k of dsB.queryKeys({ prefix: '/c/r' })) if (k.toString().startsWith('/c/r/')) marks++
  expect(marks).toBe(0)
  await a.stop()
  await b.stop()
}, 20_000)
