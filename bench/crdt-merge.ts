/**
 * In-process cost of a joining peer's merge (no network): store A publishes
 * `--deltas D` deltas of `--per P` pins each on sqlite; store B, holding A's
 * blocks, processes A's head (walk + merge of every delta). Prints pins/s.
 * `bun bench/crdt-merge.ts [--deltas 10] [--per 10000]` (add `--cpu-prof` to bun to profile).
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { CrdtStore } from '../src/consensus/crdt/crdt.ts'
import { CrdtBlockstore } from '../src/consensus/crdt/dag.ts'
import { SqliteDatastore } from '../src/datastore/sqlite.ts'
import { binaryToKeyString } from '../src/state/keys.ts'
import { isReallocationOf } from '../src/state/reallocation.ts'

const arg = (n: string, d: number): number => {
  const i = process.argv.indexOf(`--${n}`)
  return i > 0 ? Number(process.argv[i + 1]) : d
}
const D = arg('deltas', 10)
const P = arg('per', 10000)
const dir = await mkdtemp(join(tmpdir(), 'crdt-merge-'))
try {
  const dsA = new SqliteDatastore({ path: join(dir, 'a.db') })
  const dsB = new SqliteDatastore({ path: join(dir, 'b.db') })
  await dsA.open()
  await dsB.open()
  const a = new CrdtStore({ namespace: '/c' }, { datastore: dsA, blockstore: new CrdtBlockstore(dsA, '/c') })
  await a.load()
  let head: Awaited<ReturnType<CrdtStore["publish"]>> | undefined
  for (let d = 0; d < D; d++) {
    const ops = []
    for (let i = 0; i < P; i++) ops.push({ key: binaryToKeyString(randomBytes(36)), value: randomBytes(120) })
    head = await a.publish(ops)
  }
  const blocksB = new CrdtBlockstore(dsB, '/c')
  // copy A's blocks into B (as a fetch would)
  for (const { key, value } of dsA.entriesRaw('/c/b/blocks/')) dsB.writeRaw([[key, value]])
  const b = new CrdtStore({ namespace: '/c' }, { datastore: dsB, blockstore: blocksB, isReallocation: isReallocationOf })
  await b.load()
  const t0 = performance.now()
  await b.handleHead(head!)
  const ms = performance.now() - t0
  let n = 0
  for await (const _ of b.entries()) n++
  console.log(`merged ${D} deltas of ${P} pins in ${ms.toFixed(0)} ms: ${((D * P) / (ms / 1000)).toFixed(0)} pins/s (${n} live keys)`)
  await dsA.close()
  await dsB.close()
} finally {
  await rm(dir, { recursive: true, force: true })
}
