/**
 * In-process cost of pin/unpin churn on the same keys (issue 16): K keys,
 * each pinned and unpinned over and over (one delta per operation, as the
 * REST API's pins and unpins with batching off), on sqlite. Prints the
 * mean time per operation for each slice of the run, so a cost that grows
 * with a key's history (elements and tombstones of earlier pins) shows as
 * rising figures. Prints only.
 * `bun bench/crdt-churn.ts [--keys 40] [--ops 8000] [--slices 8]`
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CrdtStore } from '../src/consensus/crdt/crdt.ts'
import { CrdtBlockstore } from '../src/consensus/crdt/dag.ts'
import { SqliteDatastore } from '../src/datastore/sqlite.ts'
import { setLogLevels } from '../src/observability/logging.ts'

setLogLevels('error')
function opt(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`)
  return i > 0 ? Number(process.argv[i + 1]) : def
}
const K = opt('keys', 40)
const OPS = opt('ops', 8000)
const SLICES = opt('slices', 8)
const dir = await mkdtemp(join(tmpdir(), 'crdt-churn-'))
try {
  const ds = new SqliteDatastore({ path: join(dir, 'a.db') })
  await ds.open()
  const store = new CrdtStore({ namespace: '/c' }, { datastore: ds, blockstore: new CrdtBlockstore(ds, '/c') })
  await store.load()
  const keys = Array.from({ length: K }, () => `/${randomBytes(20).toString('hex').toUpperCase()}`)
  const pinned = new Array<boolean>(K).fill(false)
  const per = Math.floor(OPS / SLICES)
  const figures: string[] = []
  for (let s = 0; s < SLICES; s++) {
    const t0 = performance.now()
    for (let i = 0; i < per; i++) {
      const k = (s * per + i) % K
      await store.publish([{ key: keys[k]!, value: pinned[k] ? null : randomBytes(80) }])
      pinned[k] = !pinned[k]
    }
    figures.push(`${((1000 * (performance.now() - t0)) / per).toFixed(0)} µs`)
  }
  console.log(`${K} keys, ${OPS} pin/unpin operations (${(OPS / K).toFixed(0)} per key), mean per operation by slice: ${figures.join(', ')}`)
  await ds.close()
} finally {
  await rm(dir, { recursive: true, force: true })
}
