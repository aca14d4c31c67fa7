/**
 * The crdt state's `listPages` gives the pins of `list`, in the same order,
 * in pages of 256 at most, whatever the datastore's page size (tombstones
 * and re-pins among the rows), on sqlite (read in pages of value rows) and
 * in memory (items grouped into pages).
 */
import { afterAll, describe, expect, test } from 'bun:test'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import all from 'it-all'
import type { Datastore } from 'interface-datastore'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { createCrdtConsensus } from '../../../src/consensus/crdt/index.ts'
import { CrdtSet } from '../../../src/consensus/crdt/set.ts'
import { Txn } from '../../../src/consensus/crdt/txn.ts'
import { MemoryDatastore } from '../../../src/datastore/memory.ts'
import { SqliteDatastore } from '../../../src/datastore/sqlite.ts'
import { setLogLevels } from '../../../src/observability/logging.ts'
import { defaultPinOptions, type Pin, type PinType, pinWithOpts } from '../../../src/types/index.ts'
import { pinToJSON } from '../../../src/types/json.ts'
import { crdtInit } from './helpers.ts'

setLogLevels('error')

const dirs: string[] = []
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true })
})

const TYPES: PinType[] = ['pin', 'meta-pin', 'pin', 'clusterdag-pin']

async function pinOf(i: number): Promise<Pin> {
  const cid = CID.createV1(0x55, await sha256.digest(new TextEncoder().encode(`page-pin-${i}`)))
  const opts = { ...defaultPinOptions(), name: i % 3 === 0 ? '' : `pin ${i} ✓`, replicationFactorMin: (i % 3) - 1, replicationFactorMax: (i % 4) - 1 }
  if (i % 5 === 0) opts.metadata = { n: String(i) }
  return { ...pinWithOpts(cid, opts), type: TYPES[i % TYPES.length]!, timestamp: new Date(1_700_000_000_000 + i) }
}

const backends: Array<[string, () => Promise<{ datastore: Datastore; close: () => Promise<void> }>]> = [
  ...[1, 7, 1000].map((pageSize): [string, () => Promise<{ datastore: Datastore; close: () => Promise<void> }>] => [
    `sqlite, pages of ${pageSize} rows`,
    async () => {
      const folder = await mkdtemp(join(tmpdir(), 'crdt-pages-'))
      dirs.push(folder)
      const ds = new SqliteDatastore({ path: join(folder, 'datastore.sqlite'), pageSize })
      await ds.open()
      return { datastore: ds, close: () => ds.close() }
    }
  ]),
  ['memory', async () => ({ datastore: new MemoryDatastore(), close: async () => {} })]
]

describe('crdt state listPages', () => {
  for (const [name, open] of backends) {
    test(`the pins of list(), in its order: ${name}`, async () => {
      const { datastore, close } = await open()
      const c = createCrdtConsensus(crdtInit())({ datastore })
      await c.start()
      await c.ready()
      const pins: Pin[] = []
      for (let i = 0; i < 300; i++) pins.push(await pinOf(i))
      for (const p of pins) await c.logPin(p)
      // tombstones and re-pins among the rows
      for (let i = 0; i < 300; i += 7) await c.logUnpin(pins[i]!)
      for (let i = 0; i < 300; i += 21) await c.logPin({ ...pins[i]!, name: `again ${i}` })
      const st = await c.state()
      expect(st.listPages).toBeDefined()
      const items = (await all(st.list())).map((p) => JSON.stringify(pinToJSON(p)))
      const pages = await all(st.listPages!())
      const paged = pages.flat().map((p) => JSON.stringify(pinToJSON(p)))
      expect(items.length).toBe(300 - 43 + 15)
      expect(paged).toEqual(items)
      // pages of 256 pins at most, whatever the datastore's own page size
      expect(pages.every((p) => p.length <= 256)).toBe(true)
      expect(pages.filter((p) => p.length > 0).length).toBe(2)
      await c.stop()
      await close()
    })
  }
})

/** Keeps the thread busy for `ms` (the work of a consumer of the listing). */
function busy(ms: number): void {
  const end = performance.now() + ms
  while (performance.now() < end) {
    // spin
  }
}

describe('a listing of the state gives the event loop turns (src/runtime/slicer.ts)', () => {
  // before, a listing resolved with microtasks only: at 1M pins the tracker's first
  // recoverAll kept the daemon deaf (no socket, timer or request) for 6 s
  test('a timer set before list() and listPages() fires while they run, not after', async () => {
    const folder = await mkdtemp(join(tmpdir(), 'crdt-pages-'))
    dirs.push(folder)
    const datastore = new SqliteDatastore({ path: join(folder, 'datastore.sqlite') })
    await datastore.open()
    const c = createCrdtConsensus(crdtInit())({ datastore })
    await c.start()
    await c.ready()
    for (let i = 0; i < 300; i++) await c.logPin(await pinOf(i))
    const st = await c.state()
    let fired = false
    setTimeout(() => {
      fired = true
    }, 0)
    let seenBeforeTimer = 0
    for await (const _ of st.list()) {
      if (!fired) seenBeforeTimer++
      busy(1)
    }
    expect(fired).toBe(true)
    expect(seenBeforeTimer).toBeLessThan(300)
    fired = false
    setTimeout(() => {
      fired = true
    }, 0)
    const firedAt: boolean[] = []
    for await (const _ of st.listPages!()) {
      firedAt.push(fired)
      busy(15)
    }
    expect(firedAt).toEqual([false, true])
    await c.stop()
    await datastore.close()
  })
})

describe('merging a delta gives the event loop turns (src/runtime/slicer.ts)', () => {
  // a joining peer merges remote deltas of ~10k pins; before, each merge ran with
  // microtasks only, the peer was deaf for seconds a delta and its pings expired
  test('a timer set before CrdtSet.merge fires while the merge runs, not after', async () => {
    class SlowStore extends MemoryDatastore {
      override get(...args: Parameters<MemoryDatastore['get']>): ReturnType<MemoryDatastore['get']> {
        busy(0.05)
        return super.get(...args)
      }
    }
    const set = new CrdtSet('/n')
    const txn = new Txn(new SlowStore())
    const n = 1000
    const elements = Array.from({ length: n }, (_, i) => ({ key: `/k${i}`, id: '', value: new TextEncoder().encode(`v${i}`) }))
    let writesWhenFired: number | undefined
    setTimeout(() => {
      writesWhenFired = txn.writes.size
    }, 0)
    await set.merge(txn, { elements, tombstones: [], priority: 1n }, 'block', async () => new Uint8Array(0), new Map())
    const writes = txn.writes.size
    expect(writes).toBeGreaterThan(n)
    expect(writesWhenFired).toBeDefined()
    expect(writesWhenFired!).toBeLessThan(writes)
  })
})
