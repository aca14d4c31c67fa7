import { afterAll, describe, expect, test } from 'bun:test'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import all from 'it-all'
import type { Datastore } from 'interface-datastore'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import {
  type CrdtConsensus,
  createCrdtConsensus,
  decodeNode,
  MemoryBroadcastNetwork,
  memoryDagSyncer
} from '../../../src/consensus/crdt/index.ts'
import { type DatastoreBackend, openDatastore } from '../../../src/datastore/index.ts'
import { MemoryDatastore } from '../../../src/datastore/memory.ts'
import { DsState } from '../../../src/state/dsstate.ts'
import { exportState, importState } from '../../../src/state/export.ts'
import { defaultPinOptions, type Pin, pinWithOpts } from '../../../src/types/index.ts'
import type { StateChangeHandler } from '../../../src/interfaces.ts'
import { crdtInit } from './helpers.ts'
import { setLogLevels } from '../../../src/observability/logging.ts'
import { waitFor } from '../../../scripts/launcher/poll.ts'

setLogLevels('error')

const dirs: string[] = []
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true })
})

async function cidOf(i: number): Promise<CID> {
  return CID.createV1(0x55, await sha256.digest(new TextEncoder().encode(`pin-${i}`)))
}

async function pinOf(i: number, name = `p${i}`): Promise<Pin> {
  return { ...pinWithOpts(await cidOf(i), { ...defaultPinOptions(), name }), timestamp: new Date(1700000000000) }
}

const init = crdtInit

async function names(c: CrdtConsensus): Promise<string[]> {
  return (await all((await c.state()).list())).map((p) => p.name).sort()
}

for (const backend of ['sqlite', 'memory'] as DatastoreBackend[]) {
  describe(`crdt consensus, one peer, ${backend}`, () => {
    async function ds(): Promise<{ datastore: Datastore; close: () => Promise<void>; folder: string }> {
      const folder = await mkdtemp(join(tmpdir(), 'crdt-test-'))
      dirs.push(folder)
      const o = await openDatastore({ backend, folder })
      return { datastore: o.datastore, close: o.close, folder }
    }

    test('logPin/logUnpin update the state and call onChange', async () => {
      const { datastore, close } = await ds()
      const changes: string[] = []
      const onChange: StateChangeHandler = (c) => void changes.push(`${c.op}:${c.pin.name}`)
      const c = createCrdtConsensus(init())({ datastore, onChange })
      await c.start()
      await c.start()
      await c.ready()
      const p1 = await pinOf(1)
      await c.logPin(p1)
      await c.logPin(await pinOf(2))
      const st = await c.state()
      expect(await st.has(p1.cid)).toBe(true)
      expect((await st.get(p1.cid)).name).toBe('p1')
      expect(await names(c)).toEqual(['p1', 'p2'])
      await c.logPin(await pinOf(1, 'p1-updated'))
      expect((await st.get(p1.cid)).name).toBe('p1-updated')
      await c.logUnpin(p1)
      expect(await st.has(p1.cid)).toBe(false)
      let err = ''
      try {
        await st.get(p1.cid)
      } catch (e) {
        err = (e as Error).name
      }
      expect(err).toBe('NotFoundError')
      await c.logUnpin(p1) // absent: no-op
      expect(changes).toEqual(['pin:p1', 'pin:p2', 'pin:p1-updated', 'unpin:p1-updated'])
      expect(await c.peers()).toEqual([init().peerId])
      // one head, priority = number of deltas
      const { heads, height } = c.heads()
      expect(heads.length).toBe(1)
      expect(height).toBe(4n)
      await c.stop()
      await c.stop()
      // reopen: state and heads persist
      const c2 = createCrdtConsensus(init(), { datastore })
      await c2.start()
      expect(await names(c2)).toEqual(['p2'])
      expect(c2.heads().height).toBe(4n)
      await c2.logPin(await pinOf(3))
      expect(c2.heads().height).toBe(5n)
      await c2.stop()
      await close()
    })

    test('the same CID pinned and unpinned over and over: each unpin tombstones only the live element', async () => {
      const { datastore, close } = await ds()
      const changes: string[] = []
      const c = createCrdtConsensus(init())({ datastore, onChange: (ch) => void changes.push(`${ch.op}:${ch.pin.name}`) })
      await c.start()
      const other = await pinOf(7)
      await c.logPin(other)
      const p = await pinOf(1)
      for (let i = 0; i < 30; i++) {
        await c.logPin(await pinOf(1, `round-${i}`))
        expect((await (await c.state()).get(p.cid)).name).toBe(`round-${i}`)
        await c.logUnpin(p)
        expect(await (await c.state()).has(p.cid)).toBe(false)
      }
      await c.logPin(await pinOf(1, 'last'))
      expect(await names(c)).toEqual(['last', 'p7'])
      expect(changes.length).toBe(1 + 30 * 2 + 1)
      expect(changes.at(-2)).toBe('unpin:round-29')
      // every delta after the first pin of the CID removed exactly one element: the one live then
      const { CrdtBlockstore } = await import('../../../src/consensus/crdt/dag.ts')
      const blocks = new CrdtBlockstore(datastore, '/c')
      let cid = c.heads().heads[0]!
      let tombstoneCounts: number[] = []
      for (let depth = 0; depth < 100; depth++) {
        const { delta, links } = decodeNode(await blocks.get(cid))
        if (delta.tombstones.length > 0) tombstoneCounts.push(delta.tombstones.length)
        if (links.length === 0) break
        cid = links[0]!
      }
      tombstoneCounts = [...new Set(tombstoneCounts)]
      expect(tombstoneCounts).toEqual([1])
      await c.stop()
      await close()
    })

    test('delta nodes follow go-ds-crdt layout', async () => {
      const { datastore, close } = await ds()
      const c = createCrdtConsensus(init(), { datastore })
      await c.start()
      await c.logPin(await pinOf(1))
      const first = c.heads().heads[0]!
      await c.logPin(await pinOf(2))
      const second = c.heads().heads[0]!
      expect(second.code).toBe(0x70)
      expect(second.version).toBe(1)
      const node = decodeNode(await c.blockstore.get(second))
      expect(node.links.map((l) => l.toString())).toEqual([first.toString()])
      expect(node.delta.priority).toBe(2n)
      expect(node.delta.elements.length).toBe(1)
      expect(node.delta.elements[0]!.key).toMatch(/^\/[A-Z2-7]+$/)
      // keys under /c as upstream
      const keys = (await all(datastore.queryKeys({ prefix: '/c/' }))).map((k) => k.toString())
      expect(keys.some((k) => k.startsWith('/c/s/k/') && k.endsWith('/v'))).toBe(true)
      expect(keys.some((k) => k.startsWith('/c/s/s/'))).toBe(true)
      expect(keys.some((k) => k.startsWith('/c/h/'))).toBe(true)
      expect(keys.some((k) => k.startsWith('/c/b/blocks/'))).toBe(true)
      expect(keys).toContain('/c/crdt_version')
      await c.stop()
      await c.clean()
      expect((await all(datastore.queryKeys({ prefix: '/c/' }))).length).toBe(0)
      // clean on a running consensus (state import): usable right away
      await c.start()
      await c.logPin(await pinOf(9))
      await c.clean()
      expect(await names(c)).toEqual([])
      await c.logPin(await pinOf(8))
      expect(await names(c)).toEqual(['p8'])
      expect(c.heads().height).toBe(1n)
      expect(await datastore.has(new (await import('interface-datastore')).Key('/c/crdt_version'))).toBe(true)
      await c.stop()
      await close()
    })

    test('batching commits by size and by age, and never loses queued operations', async () => {
      const { datastore, close } = await ds()
      const batching = { maxBatchSize: 5, maxBatchAgeMs: 50, maxQueueSize: 12 }
      const c = createCrdtConsensus(init({ batching }), { datastore })
      await c.start()
      for (let i = 0; i < 5; i++) await c.logPin(await pinOf(i))
      await waitFor(async () => (await names(c)).length === 5, '(await names(c)).length === 5', 5000, 5)
      expect(c.heads().height).toBe(1n) // one delta for the batch
      await c.logPin(await pinOf(10))
      await waitFor(async () => (await names(c)).length === 6, '(await names(c)).length === 6', 5000, 5) // by age
      expect(c.heads().height).toBe(2n)
      await c.stop()

      // queue operations, then "crash" (no stop): a new instance commits them at start
      const c2 = createCrdtConsensus(init({ batching: { maxBatchSize: 1000, maxBatchAgeMs: 60_000, maxQueueSize: 3 } }), { datastore })
      await c2.start()
      await c2.logPin(await pinOf(20))
      await c2.logPin(await pinOf(21))
      await c2.logUnpin(await pinOf(0))
      let err = ''
      try {
        await c2.logPin(await pinOf(22))
      } catch (e) {
        err = (e as Error).name
      }
      expect(err).toBe('QueueFullError')
      expect((await names(c2)).length).toBe(6) // not committed yet
      const c3 = createCrdtConsensus(init(), { datastore })
      await c3.start()
      expect(await names(c3)).toEqual(['p1', 'p10', 'p2', 'p20', 'p21', 'p3', 'p4'])
      await c3.stop()
      await close()
    })
  })
}

describe('crdt consensus, two peers in one process', () => {
  function pair(): { a: CrdtConsensus; b: CrdtConsensus; net: MemoryBroadcastNetwork } {
    const net = new MemoryBroadcastNetwork()
    const peers: CrdtConsensus[] = []
    const syncer = memoryDagSyncer(() => peers.map((p) => p.blockstore))
    const a = createCrdtConsensus(init({ peerId: 'A' }), { datastore: new MemoryDatastore(), broadcaster: net.broadcaster(), dagSyncer: syncer })
    const b = createCrdtConsensus(init({ peerId: 'B' }), { datastore: new MemoryDatastore(), broadcaster: net.broadcaster(), dagSyncer: syncer })
    peers.push(a, b)
    return { a, b, net }
  }

  test('a pin on one peer reaches the other; concurrent branches converge', async () => {
    const { a, b, net } = pair()
    const bChanges: string[] = []
    b.setOnChange((c) => void bChanges.push(`${c.op}:${c.pin.name}`))
    await a.start()
    await b.start()
    await a.logPin(await pinOf(1))
    await waitFor(async () => (await names(b)).includes('p1'), '(await names(b)).includes(\'p1\')', 5000, 5)
    expect(bChanges).toEqual(['pin:p1'])
    expect(b.heads().heads.map(String)).toEqual(a.heads().heads.map(String))

    // partition: both write, then heal and rebroadcast
    net.connected = false
    await a.logPin(await pinOf(2))
    await a.logPin(await pinOf(3))
    await b.logPin(await pinOf(4))
    await b.logUnpin(await pinOf(1))
    await a.logPin(await pinOf(5, 'five-from-a'))
    await b.logPin(await pinOf(5, 'five-from-b'))
    net.connected = true
    await a.rebroadcast()
    await b.rebroadcast()
    await waitFor(async () => (await names(a)).length === 4 && (await names(b)).length === 4, '(await names(a)).length === 4 && (await names(b)).length === 4', 5000, 5)
    await waitFor(() => a.heads().heads.length === 2 && b.heads().heads.length === 2, 'a.heads().heads.length === 2 && b.heads().heads.length === 2', 5000, 5)
    const na = await names(a)
    expect(na).toEqual(await names(b))
    expect(na.includes('p1')).toBe(false)
    expect(na.filter((n) => n.startsWith('five')).length).toBe(1)
    // a new write on top of both heads merges the branches
    await a.logPin(await pinOf(6))
    await waitFor(() => b.heads().heads.length === 1 && a.heads().heads.length === 1, 'b.heads().heads.length === 1 && a.heads().heads.length === 1', 5000, 5)
    expect(a.heads().heads[0]!.equals(b.heads().heads[0]!)).toBe(true)
    expect(await names(a)).toEqual(await names(b))
    await a.stop()
    await b.stop()
  })

  test('a late joiner fetches the whole DAG from one head', async () => {
    const { a, b, net } = pair()
    await a.start()
    net.connected = false
    for (let i = 0; i < 30; i++) await a.logPin(await pinOf(i))
    for (let i = 0; i < 10; i++) await a.logUnpin(await pinOf(i))
    net.connected = true
    await b.start()
    await b.handleHead(a.heads().heads[0]!)
    expect((await names(b)).length).toBe(20)
    expect(b.heads().height).toBe(40n)
    await a.stop()
    await b.stop()
  })

  test('trust', async () => {
    const c = createCrdtConsensus(init({ peerId: 'self', trustedPeers: ['x'] }), { datastore: new MemoryDatastore() })
    expect(c.isTrustedPeer('self')).toBe(true)
    expect(c.isTrustedPeer('x')).toBe(true)
    expect(c.isTrustedPeer('y')).toBe(false)
    await c.trust('y')
    expect(c.isTrustedPeer('y')).toBe(true)
    await c.distrust('y')
    expect(c.isTrustedPeer('y')).toBe(false)
    const all = createCrdtConsensus(init({ trustedPeers: ['*'] }), { datastore: new MemoryDatastore() })
    expect(all.isTrustedPeer('anyone')).toBe(true)
  })
})

test('state export from crdt, import into a DsState', async () => {
  const c = createCrdtConsensus(init(), { datastore: new MemoryDatastore() })
  await c.start()
  for (let i = 0; i < 10; i++) await c.logPin(await pinOf(i))
  const lines: string[] = []
  expect(await exportState(await c.state(), (l) => void lines.push(l))).toBe(10)
  const st = new DsState({}, { datastore: new MemoryDatastore() })
  expect(await importState(st, lines)).toBe(10)
  expect((await all(st.list())).length).toBe(10)
  await c.stop()
})

test('local deltas committed close together share one head broadcast, carrying the newest head', async () => {
  const { decodeBroadcast } = await import('../../../src/consensus/crdt/index.ts')
  const sent: Uint8Array[] = []
  const broadcaster = {
    broadcast: async (data: Uint8Array) => void sent.push(data),
    next: (signal: AbortSignal) => new Promise<Uint8Array>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }))
  }
  // a window longer than the test: every delta falls in the first one
  const c = createCrdtConsensus(init({ broadcastCoalesceMs: 600_000 }), { datastore: new MemoryDatastore(), broadcaster })
  await c.start()
  for (let i = 0; i < 20; i++) await c.logPin(await pinOf(i)) // 20 deltas, one after the other
  expect(c.heads().height).toBe(20n)
  expect(sent.length).toBe(0)
  await c.stop() // sends what is still waiting
  expect(sent.length).toBe(1)
  expect(decodeBroadcast(sent[0]!).map((h) => h.toString())).toEqual(c.heads().heads.map((h) => h.toString()))
  // the default window: the broadcast follows on its own
  const d = createCrdtConsensus(init(), { datastore: new MemoryDatastore(), broadcaster })
  await d.start()
  await d.logPin(await pinOf(1))
  await waitFor(() => sent.length === 2, 'the second peer head broadcast', 10_000, 5)
  expect(decodeBroadcast(sent[1]!).map((h) => h.toString())).toEqual(d.heads().heads.map((h) => h.toString()))
  await d.stop()
  expect(sent.length).toBe(2)
})

describe('crdt tools', () => {
  test('offline state writes deltas readable by the consensus', async () => {
    const datastore = new MemoryDatastore()
    const off = await createCrdtConsensus(init(), { datastore }).offlineState()
    for (let i = 0; i < 5; i++) await off.add(await pinOf(i))
    await off.rm((await pinOf(0)).cid)
    expect((await all(off.list())).length).toBe(0) // not committed yet
    await off.commit()
    expect((await all(off.list())).length).toBe(4)
    const c = createCrdtConsensus(init(), { datastore })
    await c.start()
    expect(await names(c)).toEqual(['p1', 'p2', 'p3', 'p4'])
    expect(c.heads().height).toBe(1n)
    await c.stop()
  })

  test('a key written twice in one offline delta keeps its last value, in the order of its last write', async () => {
    const datastore = new MemoryDatastore()
    const c = createCrdtConsensus(init(), { datastore })
    const off = await c.offlineState()
    for (let i = 0; i < 3; i++) await off.add(await pinOf(i))
    await off.add(await pinOf(0, 'again'))
    await off.commit()
    const { heads } = c.heads()
    expect(heads.length).toBe(1)
    const { CrdtBlockstore } = await import('../../../src/consensus/crdt/dag.ts')
    const { delta } = decodeNode(await new CrdtBlockstore(datastore, '/c').get(heads[0]!))
    const { cidToKeyString } = await import('../../../src/state/keys.ts')
    const keys = await Promise.all([1, 2, 0].map(async (i) => cidToKeyString((await pinOf(i)).cid)))
    expect(delta.elements.map((e) => e.key)).toEqual(keys)
    expect(delta.tombstones.length).toBe(0)
    expect((await all(off.list())).map((p) => p.name).sort()).toEqual(['again', 'p1', 'p2'])
  })

  test('the offline consensus has no change hooks (upstream OfflineState): onChange is never called', async () => {
    const { createOfflineConsensus } = await import('../../../src/consensus/index.ts')
    const datastore = new MemoryDatastore()
    const c = createOfflineConsensus({ peerId: init().peerId, clusterName: 'test', namespace: '/c' }, { datastore })
    const seen: string[] = []
    c.setOnChange((ch) => void seen.push(ch.op))
    await c.start()
    const off = await c.offlineState()
    for (let i = 0; i < 3; i++) await off.add(await pinOf(i))
    await off.commit()
    await c.logPin(await pinOf(9))
    expect((await all((await c.state()).list())).length).toBe(4)
    expect(seen).toEqual([])
    await c.stop()
    // the same datastore under a peer's consensus: its changes are handed on
    const peer = createCrdtConsensus(init(), { datastore })
    peer.setOnChange((ch) => void seen.push(ch.op))
    await peer.start()
    await peer.logUnpin(await pinOf(9))
    expect(seen).toEqual(['unpin'])
    await peer.stop()
  })

  test('repair reprocesses nodes not marked processed, and clears the dirty bit', async () => {
    const datastore = new MemoryDatastore()
    const c = createCrdtConsensus(init(), { datastore })
    await c.start()
    for (let i = 0; i < 5; i++) await c.logPin(await pinOf(i))
    await c.stop()
    // forget that the first delta was processed and its set entries
    const { Key } = await import('interface-datastore')
    for await (const k of datastore.queryKeys({ prefix: '/c/' })) {
      const s = k.toString()
      if (s.startsWith('/c/s/') || (s.startsWith('/c/b/') && !s.startsWith('/c/b/blocks/'))) await datastore.delete(new Key(s))
    }
    const c2 = createCrdtConsensus(init(), { datastore })
    await c2.start()
    expect(await names(c2)).toEqual([])
    await c2.markDirty()
    expect(await c2.isDirty()).toBe(true)
    expect(await c2.repair()).toBe(5)
    expect(await c2.isDirty()).toBe(false)
    expect(await names(c2)).toEqual(['p0', 'p1', 'p2', 'p3', 'p4'])
    await c2.stop()
  })

  test('topic name is base58 of the md5 multihash of the cluster name', async () => {
    const { crdtTopic } = await import('../../../src/consensus/crdt/index.ts')
    const t = await crdtTopic('ipfs-cluster')
    const { base58btc } = await import('multiformats/bases/base58')
    const mh = base58btc.baseDecode(t)
    expect([...mh.slice(0, 3)]).toEqual([0xd5, 0x01, 16])
    expect(t).toBe(await crdtTopic('ipfs-cluster'))
    expect(t).not.toBe(await crdtTopic('other'))
  })
})
