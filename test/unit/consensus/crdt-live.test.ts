/**
 * The set's stored elements are its live ones (src/consensus/crdt/set.ts: a
 * tombstone deletes the element it names, go-ds-crdt keeps it): after any
 * interleaving of pins, unpins and merges on two peers no stored element is
 * tombstoned and the pinsets agree; merged in any order the result is the
 * same; a store laid out by go-ds-crdt's rules (tombstoned elements kept, as
 * earlier versions of ours wrote) reads the same and is cleaned as its keys
 * are read.
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

/** `key`'s element ids as stored (`<ns>/s/s<key>/<id>`) and its tombstoned ids (`<ns>/s/t<key>/<id>`). */
async function stored(ds: Datastore, namespace: string, key: string): Promise<{ elements: string[]; tombstones: string[] }> {
  const ids = async (prefix: string): Promise<string[]> => {
    const out: string[] = []
    for await (const k of ds.queryKeys({ prefix })) out.push('/' + k.toString().slice(prefix.length))
    return out.sort()
  }
  return { elements: await ids(`${namespace}/s/s${key}/`), tombstones: await ids(`${namespace}/s/t${key}/`) }
}

describe('live elements', () => {
  test('after random pins, unpins and merges on two peers, no stored element is tombstoned, a key has a value exactly while it has one, and both pinsets agree', async () => {
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
          const st = await c.state()
          for (const cid of cids) {
            const { elements, tombstones } = await stored(stores[i]!, c.datastoreNamespace, cidToKeyString(cid))
            expect(elements.filter((id) => tombstones.includes(id))).toEqual([])
            // a value exactly while an element is live
            expect(await st.has(cid)).toBe(elements.length > 0)
          }
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
      expect({ order, ...(await stored(ds, '/n', key)) }).toEqual({ order, elements: [c], tombstones: [a] })
      expect(await txn.get(set.valueKey(key))).toEqual(value('c'))
    }
  })

  test('a store laid out by go-ds-crdt’s rules (tombstoned elements kept) reads the same; its tombstoned elements go as their keys are read', async () => {
    const folder = await mkdtemp(join(tmpdir(), 'crdt-live-'))
    dirs.push(folder)
    const cids = await Promise.all([0, 1, 2, 3].map(cidOf))
    const keys = cids.map(cidToKeyString)
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
    const now = await Promise.all(keys.map((k) => stored(o.datastore, ns, k)))
    expect(now.map((v) => [v.elements.length, v.tombstones.length])).toEqual([
      [1, 2],
      [0, 1],
      [2, 0],
      [0, 0]
    ])
    await c.stop()
    // go-ds-crdt's layout: every tombstoned element is kept
    for (const [i, v] of now.entries()) for (const id of v.tombstones) await o.datastore.put(new Key(`${ns}/s/s${keys[i]}/${id.slice(1)}`, false), new Uint8Array(0))
    await o.close()

    o = await openDatastore({ backend: 'sqlite', folder })
    c = createCrdtConsensus(crdtInit())({ datastore: o.datastore })
    running.push(c)
    await c.start()
    await c.ready()
    const st = await c.state()
    expect(await Promise.all(cids.map((cid) => st.has(cid)))).toEqual([true, false, true, false])
    const set = new CrdtSet(ns)
    expect((await set.liveElemIds(new Txn(o.datastore), keys[0]!)).sort()).toEqual(now[0]!.elements)
    // an unpin tombstones what is live and cleans what was tombstoned before
    await c.logUnpin(pinNamed(cids[0]!, ''))
    await c.logUnpin(pinNamed(cids[2]!, ''))
    await c.logPin(pinNamed(cids[1]!, 'again'))
    expect(await Promise.all(cids.map((cid) => st.has(cid)))).toEqual([false, true, false, false])
    expect((await st.get(cids[1]!)).name).toBe('again')
    const after = await Promise.all(keys.map((k) => stored(o.datastore, ns, k)))
    // a pin reads no elements: cid 1's tombstoned one stays until a removal reads them
    expect(after.map((v) => [v.elements.length, v.tombstones.length])).toEqual([
      [0, 3],
      [2, 1],
      [0, 2],
      [0, 0]
    ])
    await c.logUnpin(pinNamed(cids[1]!, ''))
    expect(await st.has(cids[1]!)).toBe(false)
    expect(await stored(o.datastore, ns, keys[1]!)).toMatchObject({ elements: [] })
    expect((await stored(o.datastore, ns, keys[1]!)).tombstones.length).toBe(2)
    await c.stop()
    running = []
    await o.close()
  }, 60_000)
})
