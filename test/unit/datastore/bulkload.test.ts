import { afterAll, describe, expect, test } from 'bun:test'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Key } from 'interface-datastore'
import fc from 'fast-check'
import all from 'it-all'
import { atomicWrites } from '../../../src/datastore/atomic.ts'
import { HashedKeySet, hash53 } from '../../../src/datastore/keyset.ts'
import { SqliteDatastore } from '../../../src/datastore/sqlite.ts'

const dirs: string[] = []
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true })
})

async function open(): Promise<SqliteDatastore> {
  const dir = await mkdtemp(join(tmpdir(), 'bulkload-'))
  dirs.push(dir)
  const ds = new SqliteDatastore({ path: join(dir, 'db.sqlite') })
  await ds.open()
  return ds
}

const b = (s: string): Uint8Array => new TextEncoder().encode(s)
const str = (v: Uint8Array | undefined): string | undefined => (v === undefined ? undefined : new TextDecoder().decode(v))

describe('HashedKeySet', () => {
  test('answers true for every key added, false for keys never added (no hash twins here)', () => {
    const set = new HashedKeySet(4)
    for (let i = 0; i < 5000; i++) expect(set.add(`/k/${i}`)).toBe(true)
    expect(set.add('/k/7')).toBe(false)
    expect(set.size).toBe(5000)
    for (let i = 0; i < 5000; i++) expect(set.mayHave(`/k/${i}`)).toBe(true)
    for (let i = 5000; i < 10000; i++) expect(set.mayHave(`/k/${i}`)).toBe(false)
    set.clear()
    expect(set.mayHave('/k/1')).toBe(false)
    expect(set.size).toBe(0)
  })

  test('hash53 stays within 53 bits and separates close keys', () => {
    const seen = new Set<number>()
    for (let i = 0; i < 10000; i++) {
      const h = hash53(`/c/s/k/CIQ${i}/v`)
      expect(Number.isSafeInteger(h) && h >= 0).toBe(true)
      seen.add(h)
    }
    expect(seen.size).toBe(10000)
  })
})

describe('SqliteDatastore.bulkLoad', () => {
  test('refused outside an all-or-nothing operation', async () => {
    const ds = await open()
    expect(() => ds.bulkLoad('/c/')).toThrow(/bulkLoad outside/)
    await ds.close()
  })

  test('staged writes are read back exactly and land in key order at the end', async () => {
    const ds = await open()
    ds.put(new Key('/other/a', false), b('outside'))
    await atomicWrites(ds, async (scope) => {
      scope.bulkLoad('/c/')
      ds.writeRaw([
        ['/c/z', b('z1')],
        ['/c/a', b('a1')],
        ['/other/b', b('direct')]
      ])
      // a key never staged: absent without a flush
      expect(ds.getRaw('/c/nothing')).toBeUndefined()
      expect(ds.hasRaw('/c/nothing')).toBe(false)
      // outside the prefix: straight to the table
      expect(str(ds.getRaw('/other/b'))).toBe('direct')
      // staged keys are found (their read moves the stage into the table first)
      expect(str(ds.getRaw('/c/z'))).toBe('z1')
      expect(ds.has(new Key('/c/a', false))).toBe(true)
      // later writes: last one wins, a delete removes, both through the stage again
      ds.writeRaw([
        ['/c/m', b('m1')],
        ['/c/m', b('m2')],
        ['/c/a', null],
        ['/c/n', b('n1')]
      ])
      ds.delete(new Key('/c/n', false))
      ds.put(new Key('/c/q', false), b('q1'))
      // a range read over the prefix sees everything staged so far
      expect((await all(ds.queryKeys({ prefix: '/c/' }))).map((k) => k.toString())).toEqual(['/c/m', '/c/q', '/c/z'])
      ds.writeRaw([
        ['/c/b', b('b1')],
        ['/c/b', b('b2')],
        ['/c/z', null]
      ])
      return undefined
    })
    const pairs = [...ds.entriesRaw('/c/')].map((p) => [p.key, str(p.value)])
    expect(pairs).toEqual([
      ['/c/b', 'b2'],
      ['/c/m', 'm2'],
      ['/c/q', 'q1']
    ])
    expect(str(ds.getRaw('/other/a'))).toBe('outside')
    expect(str(ds.getRaw('/other/b'))).toBe('direct')
    // staging ended with the operation: a plain write goes to the table
    ds.put(new Key('/c/after', false), b('x'))
    expect(str(ds.getRaw('/c/after'))).toBe('x')
    await ds.close()
  })

  test('a prefix already holding keys: reads of keys never staged still reach the table', async () => {
    const ds = await open()
    ds.writeRaw([['/c/old', b('old')]])
    await atomicWrites(ds, async (scope) => {
      scope.bulkLoad('/c/')
      ds.writeRaw([['/c/new', b('new')]])
      expect(str(ds.getRaw('/c/old'))).toBe('old')
      ds.writeRaw([['/c/old', null]])
    })
    expect([...ds.entriesRaw('/c/')].map((p) => p.key)).toEqual(['/c/new'])
    await ds.close()
  })

  test('a failing operation writes nothing, staged rows included; the next load works', async () => {
    const ds = await open()
    ds.writeRaw([['/c/kept', b('1')]])
    await expect(
      atomicWrites(ds, async (scope) => {
        await scope.deletePrefix('/c/')
        scope.bulkLoad('/c/')
        ds.writeRaw([['/c/lost', b('2')]])
        throw new Error('boom')
      })
    ).rejects.toThrow('boom')
    expect([...ds.entriesRaw('/c/')].map((p) => p.key)).toEqual(['/c/kept'])
    await atomicWrites(ds, async (scope) => {
      await scope.deletePrefix('/c/')
      scope.bulkLoad('/c/')
      ds.writeRaw([['/c/second', b('3')]])
    })
    expect([...ds.entriesRaw('/c/')].map((p) => p.key)).toEqual(['/c/second'])
    await ds.close()
  })

  test('deletePrefix inside a load removes staged rows too', async () => {
    const ds = await open()
    await atomicWrites(ds, async (scope) => {
      scope.bulkLoad('/c/')
      ds.writeRaw([
        ['/c/x/1', b('1')],
        ['/c/y/1', b('2')]
      ])
      await scope.deletePrefix('/c/x/')
      ds.writeRaw([['/c/x/2', b('3')]])
    })
    expect([...ds.entriesRaw('/c/')].map((p) => p.key)).toEqual(['/c/x/2', '/c/y/1'])
    await ds.close()
  })

  test('long runs of staged writes, deletes and reads in between give what a map gives', async () => {
    const ds = await open()
    const op = fc.oneof(
      { weight: 8, arbitrary: fc.record({ kind: fc.constant('put' as const), k: fc.nat(150), v: fc.nat(9) }) },
      { weight: 2, arbitrary: fc.record({ kind: fc.constant('del' as const), k: fc.nat(150) }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('get' as const), k: fc.nat(150) }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('range' as const) }) }
    )
    let run = 0
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 100, maxLength: 600 }), fc.boolean(), async (ops, seeded) => {
        const prefix = `/c${run++}/`
        const model = new Map<string, string>()
        if (seeded) {
          // a prefix holding keys when the load begins
          for (let k = 0; k < 150; k += 7) {
            ds.writeRaw([[`${prefix}${k}`, b('seed')]])
            model.set(`${prefix}${k}`, 'seed')
          }
        }
        const sorted = (): Array<[string, string]> => [...model].sort(([a], [c]) => (a < c ? -1 : a > c ? 1 : 0))
        await atomicWrites(ds, async (scope) => {
          scope.bulkLoad(prefix)
          for (const o of ops) {
            if (o.kind === 'put') {
              ds.writeRaw([[`${prefix}${o.k}`, b(`v${o.v}`)]])
              model.set(`${prefix}${o.k}`, `v${o.v}`)
            } else if (o.kind === 'del') {
              ds.writeRaw([[`${prefix}${o.k}`, null]])
              model.delete(`${prefix}${o.k}`)
            } else if (o.kind === 'get') {
              expect(str(ds.getRaw(`${prefix}${o.k}`))).toBe(model.get(`${prefix}${o.k}`))
            } else {
              expect([...ds.entriesRaw(prefix)].map((p) => [p.key, str(p.value)])).toEqual(sorted())
            }
          }
        })
        expect([...ds.entriesRaw(prefix)].map((p) => [p.key, str(p.value)])).toEqual(sorted())
      }),
      { numRuns: 40 }
    )
    await ds.close()
  })
})
