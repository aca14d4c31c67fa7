/**
 * In-process cost of a bulk unpin: one delta of N pins, then one delta
 * deleting all of them, on sqlite. Prints the time of the second publish.
 * `bun bench/crdt-unpin.ts [--pins 10000]`
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
const i = process.argv.indexOf('--pins')
const N = i > 0 ? Number(process.argv[i + 1]) : 10_000
const dir = await mkdtemp(join(tmpdir(), 'crdt-unpin-'))
try {
  const ds = new SqliteDatastore({ path: join(dir, 'a.db') })
  await ds.open()
  const store = new CrdtStore({ namespace: '/c' }, { datastore: ds, blockstore: new CrdtBlockstore(ds, '/c') })
  await store.load()
  const keys = Array.from({ length: N }, () => `/${randomBytes(20).toString('hex').toUpperCase()}`)
  await store.publish(keys.map((key) => ({ key, value: randomBytes(80) })))
  const t0 = performance.now()
  await store.publish(keys.map((key) => ({ key, value: null })))
  console.log(`unpin of ${N} pins in one delta: ${(performance.now() - t0).toFixed(0)} ms`)
  await ds.close()
} finally {
  await rm(dir, { recursive: true, force: true })
}
