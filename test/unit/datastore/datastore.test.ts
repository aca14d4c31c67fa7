import { afterAll, describe, expect, test } from 'bun:test'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import all from 'it-all'
import { type Datastore, Key } from 'interface-datastore'
import { type DatastoreBackend, openDatastore, prefixUpperBound } from '../../../src/datastore/index.ts'

const dirs: string[] = []
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true })
})

async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'ds-test-'))
  dirs.push(d)
  return d
}

const enc = (s: string): Uint8Array => new TextEncoder().encode(s)
const dec = (b: Uint8Array): string => new TextDecoder().decode(b)

const backends: DatastoreBackend[] = ['sqlite', 'leveldb', 'memory']

for (const backend of backends) {
  describe(`datastore ${backend}`, () => {
    async function open(folder?: string): Promise<{ ds: Datastore; close: () => Promise<void>; folder: string }> {
      const f = folder ?? (await tempDir())
      const o = await openDatastore({ backend, folder: f })
      return { ds: o.datastore, close: o.close, folder: f }
    }

    test('put/get/has/delete', async () => {
      const { ds, close } = await open()
      const k = new Key('/a/b')
      expect(await ds.has(k)).toBe(false)
      await ds.put(k, enc('hello'))
      expect(await ds.has(k)).toBe(true)
      expect(dec(await ds.get(k))).toBe('hello')
      await ds.put(k, enc('bye'))
      expect(dec(await ds.get(k))).toBe('bye')
      await ds.delete(k)
      expect(await ds.has(k)).toBe(false)
      let err: Error | undefined
      try {
        await ds.get(k)
      } catch (e) {
        err = e as Error
      }
      expect(err?.name).toBe('NotFoundError')
      await ds.delete(k) // deleting a missing key is fine
      await close()
    })

    test('empty and large values', async () => {
      const { ds, close } = await open()
      await ds.put(new Key('/empty'), new Uint8Array(0))
      expect((await ds.get(new Key('/empty'))).length).toBe(0)
      const big = new Uint8Array(4 * 1024 * 1024)
      for (let i = 0; i < big.length; i += 4096) big[i] = i % 251
      await ds.put(new Key('/big'), big)
      const got = await ds.get(new Key('/big'))
      expect(got.length).toBe(big.length)
      expect(Buffer.compare(Buffer.from(got), Buffer.from(big))).toBe(0)
      await close()
    })

    test('batch', async () => {
      const { ds, close } = await open()
      await ds.put(new Key('/x/old'), enc('1'))
      const b = ds.batch()
      for (let i = 0; i < 100; i++) b.put(new Key(`/x/${i}`), enc(String(i)))
      b.delete(new Key('/x/old'))
      await b.commit()
      expect(await ds.has(new Key('/x/old'))).toBe(false)
      expect(dec(await ds.get(new Key('/x/42')))).toBe('42')
      expect((await all(ds.query({ prefix: '/x/' }))).length).toBe(100)
      await close()
    })

    test('query prefix, keys and ordering', async () => {
      const { ds, close } = await open()
      const keys = ['/p/b', '/p/a', '/p/c/d', '/pa', '/q/a', '/o']
      for (const k of keys) await ds.put(new Key(k), enc(k))
      const got = (await all(ds.query({ prefix: '/p/' }))).map((p) => p.key.toString())
      expect(got.sort()).toEqual(['/p/a', '/p/b', '/p/c/d'])
      const gotKeys = (await all(ds.queryKeys({ prefix: '/p' }))).map((k) => k.toString()).sort()
      expect(gotKeys).toEqual(['/p/a', '/p/b', '/p/c/d', '/pa'])
      const vals = await all(ds.query({ prefix: '/q' }))
      expect(vals.map((p) => dec(p.value))).toEqual(['/q/a'])
      expect((await all(ds.query({}))).length).toBe(keys.length)
      if (backend !== 'memory') {
        // sqlite and leveldb stream in key order
        expect((await all(ds.queryKeys({}))).map((k) => k.toString())).toEqual([...keys].sort())
      }
      const limited = await all(ds.query({ prefix: '/p/', limit: 2 }))
      expect(limited.length).toBe(2)
      await close()
    })

    if (backend !== 'memory') {
      test('reopen keeps data', async () => {
        const first = await open()
        await first.ds.put(new Key('/persist/1'), enc('one'))
        const b = first.ds.batch()
        b.put(new Key('/persist/2'), enc('two'))
        await b.commit()
        await first.close()
        const second = await open(first.folder)
        expect(dec(await second.ds.get(new Key('/persist/1')))).toBe('one')
        expect(dec(await second.ds.get(new Key('/persist/2')))).toBe('two')
        await second.close()
      })
    }
  })
}

describe('sqlite specifics', () => {
  test('prefixUpperBound', () => {
    expect(prefixUpperBound('/a/')).toBe('/a0')
    expect(prefixUpperBound('')).toBeUndefined()
  })

  test('entryPagesRaw: the pairs of entriesRaw in pages, with a key suffix filter', async () => {
    const folder = await tempDir()
    const { SqliteDatastore } = await import('../../../src/datastore/sqlite.ts')
    const ds = new SqliteDatastore({ path: join(folder, 'x.sqlite'), pageSize: 7 })
    await ds.open()
    const writes: Array<[string, Uint8Array]> = []
    for (let i = 0; i < 60; i++) {
      const k = `/s/k/${String(i).padStart(3, '0')}`
      writes.push([`${k}/p`, enc(`p${i}`)], [`${k}/v`, enc(`v${i}`.repeat(i % 5))])
    }
    writes.push(['/s/l/x/v', enc('outside')], ['/s/k/z', enc('no suffix')], ['/s/k/é/v', enc('accent')])
    ds.writeRaw(writes)
    const flat = (pages: Iterable<Array<{ key: string; value: Uint8Array }>>): string[][] => [...pages].flat().map((p) => [p.key, dec(p.value)])
    const want = [...ds.entriesRaw('/s/k/')].map((p) => [p.key, dec(p.value)])
    expect(want.length).toBe(122)
    const pages = [...ds.entryPagesRaw('/s/k/')]
    expect(pages.length).toBeGreaterThan(10)
    expect(pages.every((p) => p.length <= 7)).toBe(true)
    expect(flat(pages)).toEqual(want)
    const onlyV = flat(ds.entryPagesRaw('/s/k/', { suffix: '/v' }))
    expect(onlyV).toEqual(want.filter(([k]) => k!.endsWith('/v')))
    expect(onlyV.length).toBe(61)
    const small = [...ds.entryPagesRaw('/s/k/', { suffix: '/v', rows: 3 })]
    expect(small.every((p) => p.length <= 3)).toBe(true)
    expect(small.length).toBe(21)
    expect(flat(small)).toEqual(onlyV)
    await ds.close()
  })

  test('query streams across many pages', async () => {
    const folder = await tempDir()
    const { SqliteDatastore } = await import('../../../src/datastore/sqlite.ts')
    const ds = new SqliteDatastore({ path: join(folder, 'x.sqlite'), pageSize: 7 })
    await ds.open()
    const b = ds.batch()
    for (let i = 0; i < 100; i++) b.put(new Key(`/k/${String(i).padStart(3, '0')}`), enc(String(i)))
    b.put(new Key('/l/0'), enc('x'))
    await b.commit()
    const got = await all(ds.query({ prefix: '/k/' }))
    expect(got.length).toBe(100)
    expect(got[0]!.key.toString()).toBe('/k/000')
    expect(got[99]!.key.toString()).toBe('/k/099')
    // writes while a query is streaming are fine
    let n = 0
    for await (const p of ds.query({ prefix: '/k/' })) {
      if (n++ === 3) await ds.put(new Key('/k/zzz'), enc('late'))
      expect(p.value.length).toBeGreaterThan(0)
    }
    expect(n).toBe(101)
    await ds.close()
  })

  test('raw string-keyed access reads and writes the same rows as the Datastore interface', async () => {
    const folder = await tempDir()
    const { SqliteDatastore } = await import('../../../src/datastore/sqlite.ts')
    const { hasRawKeyValue } = await import('../../../src/datastore/index.ts')
    const ds = new SqliteDatastore({ path: join(folder, 'x.sqlite') })
    await ds.open()
    expect(hasRawKeyValue(ds)).toBe(true)
    expect(hasRawKeyValue(new (await import('../../../src/datastore/memory.ts')).MemoryDatastore())).toBe(false)
    await ds.put(new Key('/a/1', false), enc('one'))
    expect(dec(ds.getRaw('/a/1')!)).toBe('one')
    expect(ds.getRaw('/a/none')).toBeUndefined()
    expect(ds.hasRaw('/a/1')).toBe(true)
    expect(ds.hasRaw('/a/none')).toBe(false)
    ds.writeRaw([
      ['/a/2', enc('two')],
      ['/a/1', null],
      ['/a/3', enc('x')],
      ['/a/3', enc('three')]
    ])
    expect(await ds.has(new Key('/a/1', false))).toBe(false)
    expect(dec(await ds.get(new Key('/a/2', false)))).toBe('two')
    expect(dec(await ds.get(new Key('/a/3', false)))).toBe('three') // in order: the last write wins
    // all or nothing: a failing write rolls the whole set back
    function* failing(): Generator<readonly [string, Uint8Array | null]> {
      yield ['/a/4', enc('four')]
      throw new Error('disk on fire')
    }
    expect(() => ds.writeRaw(failing())).toThrow('disk on fire')
    expect(ds.hasRaw('/a/4')).toBe(false)
    // entriesRaw: the same pairs, in the same order, as a prefix query
    const viaQuery = (await all(ds.query({ prefix: '/a/' }))).map((p) => [p.key.toString(), dec(p.value)])
    expect([...ds.entriesRaw('/a/')].map((p) => [p.key, dec(p.value)])).toEqual(viaQuery)
    expect(viaQuery).toEqual([
      ['/a/2', 'two'],
      ['/a/3', 'three']
    ])
    await ds.close()
  })
  test('writeRawApplied: applied at once, durable after the flush, kept across a reopen; a failing write throws and waits for nothing', async () => {
    const folder = await tempDir()
    const { SqliteDatastore } = await import('../../../src/datastore/sqlite.ts')
    const path = join(folder, 'applied.sqlite')
    const ds = new SqliteDatastore({ path })
    await ds.open()
    const flushes: Array<Promise<void>> = []
    for (let i = 0; i < 50; i++) {
      const { durable } = ds.writeRawApplied([[`/w/${String(i).padStart(3, '0')}`, enc(`v${i}`)]])
      // visible to reads before the flush
      expect(dec(ds.getRaw(`/w/${String(i).padStart(3, '0')}`)!)).toBe(`v${i}`)
      flushes.push(durable)
    }
    // a plain write in between (its own fsync) changes nothing for the others
    ds.writeRaw([['/w/plain', enc('p')]])
    await Promise.all(flushes)
    function* failing(): Generator<readonly [string, Uint8Array | null]> {
      yield ['/w/bad', enc('bad')]
      throw new Error('disk on fire')
    }
    expect(() => ds.writeRawApplied(failing())).toThrow('disk on fire')
    expect(ds.hasRaw('/w/bad')).toBe(false)
    const last = ds.writeRawApplied([['/w/last', enc('last')]])
    await ds.close() // waits for the flush in flight
    await last.durable
    const again = new SqliteDatastore({ path })
    await again.open()
    const keys = [...again.entriesRaw('/w/')].map((p) => p.key)
    expect(keys.length).toBe(52)
    expect(keys).toContain('/w/last')
    expect(keys).toContain('/w/plain')
    await again.close()
    // no WAL file to flush: as durable as writeRaw at once
    const mem = new SqliteDatastore({ path: ':memory:' })
    await mem.open()
    await mem.writeRawApplied([['/m/1', enc('one')]]).durable
    expect(dec(mem.getRaw('/m/1')!)).toBe('one')
    await mem.close()
  })
})
