/**
 * The sqlite datastore on a full disk (a 2 MiB tmpfs, needs root): writes
 * throw DiskFullError and change nothing, reads go on, nothing is corrupted,
 * and writes succeed again once space is freed.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Key } from 'interface-datastore'
import { openDatastore, type OpenedDatastore } from '../../../src/datastore/index.ts'
import { hasRawKeyValue } from '../../../src/datastore/raw.ts'
import { openSqlite } from '../../../src/runtime/sqlite.ts'
import { mountTmpfs, type Tmpfs } from '../../helpers/tmpfs.ts'

let dir: string
let fs: Tmpfs
let ds: OpenedDatastore
let lfs: Tmpfs

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'diskfull-'))
  fs = await mountTmpfs(join(dir, 'mnt'), 2 * 1024 * 1024)
  lfs = await mountTmpfs(join(dir, 'lmnt'), 2 * 1024 * 1024)
  ds = await openDatastore({ backend: 'sqlite', folder: join(fs.path, 'sqlite') })
})

afterAll(async () => {
  await ds?.close().catch(() => {})
  await fs?.unmount()
  await lfs?.unmount()
  await rm(dir, { recursive: true, force: true })
})

describe('sqlite datastore, disk full', () => {
  test('writes fail with DiskFullError, reads work, a later write succeeds once space is freed', async () => {
    const d = ds.datastore
    for (let i = 0; i < 50; i++) await d.put(new Key(`/before/${i}`), new Uint8Array(1000).fill(i))
    await fs.fill()
    let err: unknown
    // WAL pages may absorb a few writes before SQLite needs a new page: bounded attempts
    for (let i = 0; i < 2000 && err === undefined; i++) {
      try {
        const b = d.batch()
        for (let j = 0; j < 10; j++) b.put(new Key(`/during/${i}/${j}`), new Uint8Array(4000).fill(j))
        await b.commit()
      } catch (e) {
        err = e
      }
    }
    expect(err).toMatchObject({ name: 'DiskFullError' })
    expect((err as Error).message).toContain('disk is full')
    // the failed batch left nothing: every key of a batch is there or none is
    const during = new Map<string, number>()
    for await (const k of d.queryKeys({ prefix: '/during/' })) {
      const batch = k.toString().split('/')[2]!
      during.set(batch, (during.get(batch) ?? 0) + 1)
    }
    for (const n of during.values()) expect(n).toBe(10)
    // the string-keyed path the crdt writes through (RawKeyValue) fails the same way, all or nothing
    if (!hasRawKeyValue(d)) throw new Error('the sqlite datastore offers RawKeyValue')
    const raw = d
    expect(() => raw.writeRaw(Array.from({ length: 10 }, (_, j) => [`/raw/${j}`, new Uint8Array(4000).fill(j)] as const))).toThrow(
      expect.objectContaining({ name: 'DiskFullError' })
    )
    expect(raw.hasRaw('/raw/0')).toBe(false)
    // reads keep working
    expect((await d.get(new Key('/before/7')))[0]).toBe(7)
    let count = 0
    for await (const _ of d.queryKeys({ prefix: '/before/' })) count++
    expect(count).toBe(50)
    await fs.free()
    await d.put(new Key('/after'), new Uint8Array([1, 2, 3]))
    expect([...(await d.get(new Key('/after')))]).toEqual([1, 2, 3])
    await ds.close()
    // no corruption
    const db = await openSqlite(join(fs.path, 'sqlite', 'datastore.sqlite'))
    const row = db.prepare('PRAGMA integrity_check').get() ?? {}
    expect(Object.values(row)[0]).toBe('ok')
    db.close()
    ds = await openDatastore({ backend: 'sqlite', folder: join(fs.path, 'sqlite') })
    expect([...(await ds.datastore.get(new Key('/after')))]).toEqual([1, 2, 3])
  })
})

describe('leveldb datastore, disk full', () => {
  test('a write that cannot be made throws DiskFullError; reads work; writes work once space is freed', async () => {
    const l = await openDatastore({ backend: 'leveldb', folder: join(lfs.path, 'leveldb') })
    try {
      const d = l.datastore
      for (let i = 0; i < 20; i++) await d.put(new Key(`/before/${i}`), new Uint8Array(1000).fill(i))
      await lfs.fill()
      let err: unknown
      for (let i = 0; i < 2000 && err === undefined; i++) {
        try {
          const b = d.batch()
          for (let j = 0; j < 10; j++) b.put(new Key(`/during/${i}/${j}`), new Uint8Array(4000).fill(j))
          await b.commit()
        } catch (e) {
          err = e
        }
      }
      expect(err).toMatchObject({ name: 'DiskFullError' })
      expect((await d.get(new Key('/before/3')))[0]).toBe(3)
      await lfs.free()
      await d.put(new Key('/after'), new Uint8Array([9]))
      expect([...(await d.get(new Key('/after')))]).toEqual([9])
    } finally {
      await l.close()
    }
  })
})
