/**
 * The set's live elements (`<ns>/s/l/<key>/<id>`, src/consensus/crdt/set.ts):
 * after any interleaving of pins, unpins and merges on two peers they equal
 * what the elements and tombstones say; a store without them (written by an
 * earlier version) gets them built at load; and churn on one CID reads only
 * what is live.
 */
import { afterAll, afterEach, describe, expect, test } from 'bun:test'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { Key } from 'interface-datastore'
import type { Datastore } from 'interface-datastore'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { type CrdtConsensus, createCrdtConsensus, MemoryBroadcastNetwork, memoryDagSyncer } from '../../../src/consensus/crdt/index.ts'
import { blockId, makeNode } from '../../../src/consensus/crdt/dag.ts'
import type { Delta } from '../../../src/consensus/crdt/pb/delta.pb.ts'
import { CrdtSet } from '../../../src/consensus/crdt/set.ts'
import { Txn } from '../../../src/consensus/crdt/txn.ts'
import { openDatastore } from '../../../src/datastore/index.ts'
import { MemoryDatastore } from '../../../src/datastore/memory.ts'
import { setLogLevels } from '../../../src/observability/logging.ts'
import { cidToKeyString } from '../../../src/state/keys.ts'
import { defaultPinOptions, type Pin, pinWithOpts } from '../../../src/types/index.ts'
import { crdtInit } from './helpers.ts'

setLogLevels('error')

const X = '12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA'
const Y = '12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo'

const dirs: string[] = []
let running: CrdtConsensus[] = []
afterEach(async () => {
  for (const c of running) await c.stop()
  running = []
})
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true })
})

async function cidOf(i: number): Promise<CID> {
  return CID.createV1(0x55, await sha256.digest(new TextEncoder().encode(`live-${i}`)))
}

function pinNamed(cid: CID, name: string): Pin {
  return { ...pinWithOpts(cid, { ...defaultPinOptions(), name }), timestamp: new Date(1_700_000_000_000) }
}

/** For each key: the live elements as stored, and as the elements and tombstones say. */
async function liveViews(ds: Datastore, namespace: string, cids: CID[]): Promise<Array<{ stored: string[]; fromHistory: string[] }>> {
  const set = new CrdtSet(namespace)
  const txn = new Txn(ds)
  const out: Array<{ stored: string[]; fromHistory: string[] }> = []
  for (const cid of cids) {
    const key = cidToKeyString(cid)
    out.push({ stored: (await set.liveElemIds(txn, key)).sort(), fromHistory: (await set.liveElemIdsFromHistory(txn, key)).sort() })
  }
  return out
}

describe('live elements', () => {
  test('after random pins, unpins and merges on two peers, each key’s live elements equal what its elements and tombstones say, and both pinsets agree', async () => {
    const cids = await Promise.all([0, 1, 2].map(cidOf))
    const op = fc.record({ peer: fc.constantFrom(0, 1), key: fc.constantFrom(0, 1, 2), pin: fc.boolean(), deliver: fc.constantFrom('none', 'a->b', 'b->a') })
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 25 }), async (ops) => {
        const net = new MemoryBroadcastNetwork()
        net.connected = false
        const peers: CrdtConsensus[] = []
        const syncer = memoryDagSyncer(() => peers.map((p) => p.blockstore))
        const stores = [new MemoryDatastore(), new MemoryDatastore()]
        const [a, b] = [X, Y].map((peerId, i) => createCrdtConsensus(crdtInit({ peerId }), { datastore: stores[i]!, broadcaster: net.broadcaster(), dagSyncer: syncer })) as [CrdtConsensus, CrdtConsensus]
        peers.push(a, b)
        running.push(a, b)
        await a.start()
        await b.start()
        const deliver = async (from: CrdtConsensus, to: CrdtConsensus): Promise<void> => {
          for (const h of from.heads().heads) await to.handleHead(h)
        }
        let n = 0
        for (const o of ops) {
          const c = peers[o.peer]!
          const cid = cids[o.key]!
          if (o.pin) await c.logPin(pinNamed(cid, `v${n++}`))
          else await c.logUnpin(pinNamed(cid, ''))
          if (o.deliver === 'a->b') await deliver(a, b)
          if (o.deliver === 'b->a') await deliver(b, a)
        }
        await deliver(a, b)
        await deliver(b, a)
        await deliver(a, b)
        for (const [i, c] of peers.entries()) {
          for (const v of await liveViews(stores[i]!, c.datastoreNamespace, cids)) expect(v.stored).toEqual(v.fromHistory)
        }
        const stateOf = async (c: CrdtConsensus): Promise<string[]> => {
          const st = await c.state()
          const out: string[] = []
          for (const cid of cids) out.push((await st.has(cid)) ? (await st.get(cid)).name : '-')
          return out
        }
        expect(await stateOf(a)).toEqual(await stateOf(b))
        for (const c of peers) await c.stop()
        running = []
      }),
      { numRuns: 25 }
    )
  }, 120_000)

  test('merged in any order (a tombstone before the element it names, as a repair can), an element is live only while untombstoned', async () => {
    const key = cidToKeyString(await cidOf(9))
    const value = (s: string): Uint8Array<ArrayBuffer> => new Uint8Array(new TextEncoder().encode(s))
    // block A adds the key; block B removes A's element; block C adds it again
    const A: Delta = { elements: [{ key, id: '', value: value('a') }], tombstones: [], priority: 1n }
    const nodeA = await makeNode(A, [])
    const a = blockId(nodeA.cid)
    const B: Delta = { elements: [], tombstones: [{ key, id: a, value: new Uint8Array(0) }], priority: 2n }
    const nodeB = await makeNode(B, [nodeA.cid])
    const C: Delta = { elements: [{ key, id: '', value: value('c') }], tombstones: [], priority: 3n }
    const nodeC = await makeNode(C, [nodeB.cid])
    const [b, c] = [blockId(nodeB.cid), blockId(nodeC.cid)]
    const deltas: Record<string, Delta> = { [a]: A, [b]: B, [c]: C }
    const bytes: Record<string, Uint8Array> = { [a]: nodeA.bytes, [b]: nodeB.bytes, [c]: nodeC.bytes }
    const getBlock = async (id: string): Promise<Uint8Array> => bytes[id]!
    for (const order of [
      [a, b, c],
      [b, a, c],
      [c, b, a],
      [b, c, a]
    ]) {
      const ds = new MemoryDatastore()
      const set = new CrdtSet('/n')
      for (const id of order) {
        const txn = new Txn(ds)
        await set.merge(txn, deltas[id]!, id, getBlock, new Map())
        await txn.commit()
      }
      const txn = new Txn(ds)
      expect({ order, live: await set.liveElemIds(txn, key) }).toEqual({ order, live: [c] })
      expect(await set.liveElemIdsFromHistory(txn, key)).toEqual([c])
      expect(await txn.get(set.valueKey(key))).toEqual(value('c'))
    }
  })

  test('a store without live elements (an earlier version’s) gets them built at load: unpins then tombstone what is live', async () => {
    const folder = await mkdtemp(join(tmpdir(), 'crdt-live-'))
    dirs.push(folder)
    const cids = await Promise.all([0, 1, 2, 3].map(cidOf))
    let o = await openDatastore({ backend: 'sqlite', folder })
    let c = createCrdtConsensus(crdtInit())({ datastore: o.datastore })
    await c.start()
    await c.ready()
    // cid 0 pinned 3 times and unpinned twice (live), cid 1 pinned and unpinned (gone), cid 2 pinned twice (live), cid 3 never
    for (const [i, pin] of [
      [0, true],
      [0, false],
      [1, true],
      [0, true],
      [2, true],
      [0, false],
      [1, false],
      [2, true],
      [0, true]
    ] as Array<[number, boolean]>) {
      if (pin) await c.logPin(pinNamed(cids[i]!, `p${i}`))
      else await c.logUnpin(pinNamed(cids[i]!, ''))
    }
    const ns = c.datastoreNamespace
    const before = await liveViews(o.datastore, ns, cids)
    expect(before.map((v) => v.stored.length)).toEqual([1, 0, 2, 0])
    await c.stop()
    // what an earlier version left: no live elements, no marker
    const set = new CrdtSet(ns)
    const gone: Key[] = [new Key(set.liveMarkerKey, false)]
    for await (const k of o.datastore.queryKeys({ prefix: set.layoutPrefixes.live })) gone.push(k)
    expect(gone.length).toBe(4)
    for (const k of gone) await o.datastore.delete(k)
    expect((await liveViews(o.datastore, ns, cids)).map((v) => v.stored.length)).toEqual([0, 0, 0, 0])
    await o.close()

    o = await openDatastore({ backend: 'sqlite', folder })
    c = createCrdtConsensus(crdtInit())({ datastore: o.datastore })
    running.push(c)
    await c.start()
    await c.ready()
    expect(await o.datastore.has(new Key(set.liveMarkerKey, false))).toBe(true)
    expect(await liveViews(o.datastore, ns, cids)).toEqual(before)
    // the rebuilt live elements are what an unpin tombstones
    await c.logUnpin(pinNamed(cids[2]!, ''))
    await c.logUnpin(pinNamed(cids[0]!, ''))
    const st = await c.state()
    expect(await st.has(cids[0]!)).toBe(false)
    expect(await st.has(cids[2]!)).toBe(false)
    for (const v of await liveViews(o.datastore, ns, cids)) {
      expect(v.stored).toEqual([])
      expect(v.fromHistory).toEqual([])
    }
    await c.stop()
    running = []
    await o.close()
  }, 60_000)
})
