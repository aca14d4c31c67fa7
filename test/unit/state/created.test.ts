/**
 * The pins-by-creation index (src/state/created.ts) kept by the crdt
 * consensus, over each datastore: consistent with the pinset after pins,
 * re-pins and unpins, after pins delivered through the crdt from another
 * peer, after an offline `state import`, and rebuilt on a store that has
 * none (written by a version without it).
 */
import { afterAll, describe, expect, test } from 'bun:test'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import all from 'it-all'
import { Key } from 'interface-datastore'
import type { Datastore } from 'interface-datastore'
import { base32upper } from 'multiformats/bases/base32'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { type CrdtConsensus, createCrdtConsensus, MemoryBroadcastNetwork, memoryDagSyncer } from '../../../src/consensus/crdt/index.ts'
import { CRDT_DEFAULTS } from '../../../src/consensus/crdt/defaults.ts'
import { type DatastoreBackend, openDatastore } from '../../../src/datastore/index.ts'
import { MemoryDatastore } from '../../../src/datastore/memory.ts'
import { setLogLevels } from '../../../src/observability/logging.ts'
import {
  createdIndexKey,
  createdIndexKeyOf,
  createdMarkerKey,
  createdOf,
  createdOfIndexKey,
  createdOfSeconds,
  createdOrder,
  createdPrefix,
  scanPinCreated
} from '../../../src/state/created.ts'
import { pinToProtobuf } from '../../../src/state/codec.ts'
import { importState } from '../../../src/state/export.ts'
import { cidToKeyString } from '../../../src/state/keys.ts'
import { defaultPinOptions, type Pin, pinWithOpts } from '../../../src/types/index.ts'
import { waitFor } from '../../../scripts/launcher/poll.ts'
import { crdtInit } from '../consensus/helpers.ts'

setLogLevels('error')

const NS = CRDT_DEFAULTS.namespace
const PREFIX = createdPrefix(NS)
const T0 = Date.UTC(2026, 0, 1)

const dirs: string[] = []
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true })
})

async function cidOf(i: number): Promise<CID> {
  return CID.createV1(0x55, await sha256.digest(new TextEncoder().encode(`created-${i}`)))
}

/** Pin `i`, committed at second `second` after T0 (10 pins share each second by default). */
async function pinOf(i: number, second = Math.floor(i / 10)): Promise<Pin> {
  return { ...pinWithOpts(await cidOf(i), { ...defaultPinOptions(), name: `p${i}` }), timestamp: new Date(T0 + second * 1000) }
}

/** The pinset sorted as the index must list it: newest first, then by state key. */
async function expectedOrder(c: CrdtConsensus): Promise<string[]> {
  const pins = await all((await c.state()).list())
  return pins
    .map((p) => ({ cid: p.cid.toString(), key: cidToKeyString(p.cid), created: createdOf(p.cid, p.timestamp) }))
    .sort((a, b) => (a.created !== b.created ? (a.created > b.created ? -1 : 1) : a.key < b.key ? -1 : 1))
    .map((e) => e.cid)
}

async function walk(c: CrdtConsensus, range: { before?: bigint; after?: bigint } = {}): Promise<string[]> {
  const it = await (await c.state()).newestFirst?.(range)
  if (it === null || it === undefined) throw new Error('no index')
  return (await all(it)).map((p) => p.cid.toString())
}

async function indexKeys(ds: Datastore): Promise<string[]> {
  return (await all(ds.queryKeys({ prefix: PREFIX }))).map(String)
}

/** The index lists exactly the pinset, in order, with no stale entry. */
async function expectConsistent(c: CrdtConsensus, ds: Datastore): Promise<string[]> {
  const want = await expectedOrder(c)
  expect(await walk(c)).toEqual(want)
  expect((await indexKeys(ds)).length).toBe(want.length)
  return want
}

describe('created order keys', () => {
  test('ascending keys are newest first, to the millisecond, and decode back', async () => {
    const cid = await cidOf(1)
    const stamps = [new Date('0001-01-01T00:00:00Z'), new Date(0), new Date(T0), new Date(T0 + 1000), new Date(Date.UTC(2400, 0, 1))]
    const keys = stamps.map((d) => createdIndexKey(PREFIX, createdOf(cid, d), cidToKeyString(cid)))
    expect([...keys].sort()).toEqual([...keys].reverse())
    for (const [i, d] of stamps.entries()) expect(createdOfIndexKey(PREFIX, keys[i]!)).toBe(createdOf(cid, d))
    // a bound inside a millisecond starts the walk at that millisecond's entries
    const c = createdOf(cid, new Date(T0))
    expect(createdOrder(c + 999_999n)).toBe(createdOrder(c))
    expect(createdOrder(c + 1_000_000n) < createdOrder(c)).toBe(true)
  })

  test('the protobuf scan reads the CID and timestamp of a stored pin, and refuses garbage', async () => {
    const p = await pinOf(3, 77)
    const v = pinToProtobuf(p)
    const s = scanPinCreated(v)
    expect(s?.seconds).toBe(BigInt(Math.floor(T0 / 1000) + 77))
    expect(CID.decode(s!.cid!).equals(p.cid)).toBe(true)
    expect(scanPinCreated(new Uint8Array([0x0a, 0xff]))).toBeUndefined()
    expect(scanPinCreated(new Uint8Array([0x0f]))).toBeUndefined()
  })
})

for (const backend of ['sqlite', 'leveldb', 'memory'] as DatastoreBackend[]) {
  describe(`pins-by-creation index, crdt over ${backend}`, () => {
    async function open(folder?: string): Promise<{ datastore: Datastore; close: () => Promise<void>; folder: string }> {
      const f = folder ?? (await mkdtemp(join(tmpdir(), 'created-test-')))
      if (folder === undefined) dirs.push(f)
      const o = await openDatastore({ backend, folder: f })
      return { datastore: o.datastore, close: o.close, folder: f }
    }

    test('consistent after pins, re-pins and unpins; before and after are strict', async () => {
      const { datastore, close } = await open()
      const c = createCrdtConsensus(crdtInit())({ datastore })
      await c.start()
      for (let i = 0; i < 200; i++) await c.logPin(await pinOf(i))
      await expectConsistent(c, datastore)
      for (let i = 0; i < 200; i += 7) await c.logUnpin(await pinOf(i))
      // re-pinned later: moves to the front
      for (let i = 1; i < 200; i += 9) await c.logPin(await pinOf(i, 500 + i))
      const order = await expectConsistent(c, datastore)
      const live = new Set(Array.from({ length: 200 }, (_, i) => i).filter((i) => i % 7 !== 0 || i % 9 === 1))
      expect(order.length).toBe(live.size)
      expect(order[0]).toBe((await cidOf(199)).toString())

      const pins = new Map((await all((await c.state()).list())).map((p) => [p.cid.toString(), createdOf(p.cid, p.timestamp)]))
      const at = (i: number): bigint => pins.get(order[i]!)!
      expect(await walk(c, { before: at(50) })).toEqual(order.slice(51))
      expect(await walk(c, { after: at(50) })).toEqual(order.slice(0, 50))
      expect(await walk(c, { before: at(10), after: at(20) })).toEqual(order.slice(11, 20))
      // a bound inside a millisecond
      expect(await walk(c, { before: at(50) + 1n })).toEqual(order.slice(50))
      await c.stop()
      await close()
    }, 60_000)

    test('rebuilt on a store written without it, and unavailable until then', async () => {
      const { datastore, close, folder } = await open()
      const c = createCrdtConsensus(crdtInit())({ datastore })
      await c.start()
      for (let i = 0; i < 120; i++) await c.logPin(await pinOf(i))
      const want = await expectConsistent(c, datastore)
      const view = await c.state()
      await c.stop()
      // what a version without the index leaves: no entries, no marker, and a pin it wrote itself
      for (const k of await indexKeys(datastore)) await datastore.delete(new Key(k, false))
      await datastore.delete(new Key(createdMarkerKey(NS), false))
      expect(await view.newestFirst?.({})).toBeNull()
      // reopened from disk (the memory datastore is kept as is)
      if (backend !== 'memory') await close()
      const again = backend === 'memory' ? { datastore, close } : await open(folder)
      const c2 = createCrdtConsensus(crdtInit())({ datastore: again.datastore })
      await c2.start()
      expect(await expectConsistent(c2, again.datastore)).toEqual(want)
      // a stale entry left by an interrupted build is dropped by the next one
      await again.datastore.put(new Key(`${PREFIX}000000000000000/AFKSTALE`, false), new Uint8Array(0))
      await again.datastore.delete(new Key(createdMarkerKey(NS), false))
      await c2.stop()
      await c2.start()
      expect(await expectConsistent(c2, again.datastore)).toEqual(want)
      await c2.stop()
      await again.close()
    }, 60_000)

    test('an offline state import into a new store is indexed, with no rebuild at the next start', async () => {
      const { datastore, close } = await open()
      const c = createCrdtConsensus(crdtInit())({ datastore })
      const off = await c.offlineState()
      const lines = []
      for (let i = 0; i < 300; i++) {
        const p = await pinOf(i)
        lines.push(
          JSON.stringify({ cid: p.cid.toString(), type: 'pin', allocations: [], max_depth: -1, replication_factor_min: -1, replication_factor_max: -1, name: p.name, mode: 'recursive', timestamp: p.timestamp.toISOString() })
        )
      }
      const input = (async function* () {
        yield new TextEncoder().encode(`${lines.join('\n')}\n`)
      })()
      await importState(off, input, {})
      await off.commit()
      expect(await datastore.has(new Key(createdMarkerKey(NS), false))).toBe(true)
      const keys = await indexKeys(datastore)
      expect(keys.length).toBe(300)
      await c.start()
      const order = await expectConsistent(c, datastore)
      expect(order.length).toBe(300)
      // the start rebuilt nothing: the very same keys
      expect(await indexKeys(datastore)).toEqual(keys)
      await c.stop()
      await close()
    }, 60_000)
  })
}

test('pins delivered through the crdt from another peer are indexed, and their unpins too', async () => {
  const net = new MemoryBroadcastNetwork()
  const peers: CrdtConsensus[] = []
  const syncer = memoryDagSyncer(() => peers.map((p) => p.blockstore))
  const dsA = new MemoryDatastore()
  const dsB = new MemoryDatastore()
  const a = createCrdtConsensus(crdtInit({ peerId: 'A' }))({ datastore: dsA, broadcaster: net.broadcaster(), dagSyncer: syncer })
  const b = createCrdtConsensus(crdtInit({ peerId: 'B' }))({ datastore: dsB, broadcaster: net.broadcaster(), dagSyncer: syncer })
  peers.push(a, b)
  await a.start()
  await b.start()
  for (let i = 0; i < 60; i++) await a.logPin(await pinOf(i))
  for (let i = 60; i < 80; i++) await b.logPin(await pinOf(i))
  await waitFor(async () => (await walk(b)).length === 80 && (await walk(a)).length === 80, 'both peers index 80 pins', 10_000, 10)
  const order = await expectConsistent(b, dsB)
  expect(await expectConsistent(a, dsA)).toEqual(order)
  for (let i = 0; i < 60; i += 3) await a.logUnpin(await pinOf(i))
  await a.logPin(await pinOf(1, 9_999))
  await waitFor(async () => (await walk(b)).length === 60 && (await walk(b))[0] === (await cidOf(1)).toString(), 'b indexes the unpins and the re-pin', 10_000, 10)
  expect(await expectConsistent(b, dsB)).toEqual(await expectConsistent(a, dsA))
  await a.stop()
  await b.stop()
}, 60_000)

/** The protobuf varint of `v`. */
function varint(v: bigint): number[] {
  const out: number[] = []
  do {
    let b = Number(v & 0x7fn)
    v >>= 7n
    if (v > 0n) b |= 0x80
    out.push(b)
  } while (v > 0n)
  return out
}

/** The scan as first written (BigInt per byte): the reference the faster one must agree with. */
function scanReference(value: Uint8Array): { cid: Uint8Array | undefined; seconds: bigint } | undefined {
  let i = 0
  let cid: Uint8Array | undefined
  let seconds = 0n
  const varint = (): bigint | undefined => {
    let v = 0n
    let shift = 0n
    for (let n = 0; n < 10 && i < value.length; n++) {
      const b = value[i++]!
      v |= BigInt(b & 0x7f) << shift
      if ((b & 0x80) === 0) return v
      shift += 7n
    }
    return undefined
  }
  while (i < value.length) {
    const tag = varint()
    if (tag === undefined) return undefined
    const field = Number(tag >> 3n)
    const wire = Number(tag & 7n)
    if (wire === 0) {
      const v = varint()
      if (v === undefined) return undefined
      if (field === 7) seconds = v
    } else if (wire === 2) {
      const len = varint()
      if (len === undefined || i + Number(len) > value.length) return undefined
      if (field === 1) cid = value.subarray(i, i + Number(len))
      i += Number(len)
    } else if (wire === 1) i += 8
    else if (wire === 5) i += 4
    else return undefined
  }
  if (i > value.length) return undefined
  return { cid, seconds }
}

describe('scanPinCreated', () => {
  // messages built from fields of every wire type, timestamps up to 2^64-1, long tags, and raw garbage
  const arbField = fc.oneof(
    fc.record({ f: fc.constant(7), w: fc.constant(0), v: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }) }),
    fc.record({ f: fc.integer({ min: 1, max: 1 << 28 }), w: fc.constant(0), v: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }) }),
    fc.record({ f: fc.integer({ min: 1, max: 20 }), w: fc.constant(2), b: fc.uint8Array({ maxLength: 40 }) }),
    fc.record({ f: fc.integer({ min: 1, max: 20 }), w: fc.constantFrom(1, 5) }),
    fc.record({ raw: fc.uint8Array({ minLength: 1, maxLength: 12 }) })
  )
  const encode = (fields: Array<Record<string, unknown>>): Uint8Array => {
    const out: number[] = []
    for (const x of fields) {
      if ('raw' in x) {
        out.push(...(x.raw as Uint8Array))
        continue
      }
      const f = x.f as number
      const w = x.w as number
      out.push(...varint((BigInt(f) << 3n) | BigInt(w)))
      if (w === 0) out.push(...varint(x.v as bigint))
      else if (w === 2) {
        const b = x.b as Uint8Array
        out.push(...varint(BigInt(b.length)), ...b)
      } else out.push(...new Array<number>(w === 1 ? 8 : 4).fill(7))
    }
    return new Uint8Array(out)
  }

  test('agrees with the BigInt reference on well-formed, truncated and garbage messages', () => {
    fc.assert(
      fc.property(fc.array(arbField, { maxLength: 8 }), fc.nat(), (fields, cut) => {
        const whole = encode(fields)
        for (const v of [whole, whole.subarray(0, whole.length === 0 ? 0 : cut % whole.length)]) {
          const got = scanPinCreated(v)
          const want = scanReference(v)
          expect(got === undefined).toBe(want === undefined)
          if (got !== undefined && want !== undefined) {
            expect(got.seconds).toBe(want.seconds)
            expect(got.cid === undefined ? undefined : [...got.cid]).toEqual(want.cid === undefined ? undefined : [...want.cid])
          }
        }
      }),
      { numRuns: 3000 }
    )
  })
})

describe('createdIndexKeyOf', () => {
  test('the key of createdIndexKey(createdOfSeconds(…)) for every stored timestamp, the fast range and the edges', () => {
    const cidBytes = CID.parse('bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy').bytes
    const edges = [0n, 1n, 1_700_000_000n, (1n << 44n) - 1n, 1n << 44n, (1n << 48n) - 1n, 1n << 48n, (1n << 64n) - 1n]
    fc.assert(
      fc.property(fc.oneof(fc.constantFrom(...edges), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), fc.bigInt({ min: 0n, max: 1n << 45n })), fc.uint8Array({ minLength: 4, maxLength: 4 }), (sec, salt) => {
        const bytes = new Uint8Array([...cidBytes.subarray(0, cidBytes.length - 4), ...salt])
        const value = new Uint8Array([0x0a, bytes.length, ...bytes, 0x38, ...varint(sec)])
        const stateKey = '/' + base32upper.baseEncode(bytes)
        expect(createdIndexKeyOf(PREFIX, stateKey, value)).toBe(createdIndexKey(PREFIX, createdOfSeconds(bytes, sec), stateKey))
      }),
      { numRuns: 3000 }
    )
  })
})
