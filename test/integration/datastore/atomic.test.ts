/**
 * `atomicWrites` (src/datastore/atomic.ts), the all-or-nothing write behind
 * `state import`, on real sqlite and leveldb datastores: the old crdt pinset
 * is replaced by a new one, and a failure or a `kill -9` at any point before
 * the end leaves the old pinset whole, with nothing of the new one.
 */
import { afterAll, describe, expect, test } from 'bun:test'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { createOfflineConsensus } from '../../../src/consensus/index.ts'
import { atomicWrites } from '../../../src/datastore/atomic.ts'
import { type DatastoreBackend, openDatastore } from '../../../src/datastore/index.ts'
import { defaultPinOptions, pinWithOpts } from '../../../src/types/index.ts'
import type { Datastore } from 'interface-datastore'

const dirs: string[] = []
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true })
})

async function cidOf(s: string): Promise<CID> {
  return CID.createV1(0x55, await sha256.digest(new TextEncoder().encode(s)))
}

function consensusOn(datastore: Datastore) {
  return createOfflineConsensus({ peerId: 'p', clusterName: 'c', namespace: '/crdt' }, { datastore })
}

/** Writes `n` pins named `<tag>-<i>` into the crdt pinset. */
async function writePins(datastore: Datastore, tag: string, n: number): Promise<void> {
  const c = consensusOn(datastore)
  await c.start()
  const offline = await c.offlineState()
  for (let i = 0; i < n; i++) await offline.add(pinWithOpts(await cidOf(`${tag}-${i}`), { ...defaultPinOptions(), name: `${tag}-${i}` }))
  await offline.commit()
  await c.stop()
}

/** The pin names in the crdt pinset of the datastore in `folder`. */
async function names(folder: string, backend: DatastoreBackend): Promise<string[]> {
  const ds = await openDatastore({ backend, folder })
  try {
    const c = consensusOn(ds.datastore)
    await c.start()
    const out: string[] = []
    for await (const p of (await c.state()).list()) out.push(p.name)
    await c.stop()
    return out.sort()
  } finally {
    await ds.close()
  }
}

const expected = (tag: string, n: number): string[] => Array.from({ length: n }, (_, i) => `${tag}-${i}`).sort()

for (const backend of ['sqlite', 'leveldb'] as const) {
  describe(`atomicWrites on ${backend}`, () => {
    test('a replace that fails midway leaves the old pinset whole; one that succeeds leaves only the new one', async () => {
      const folder = await mkdtemp(join(tmpdir(), `atomic-${backend}-`))
      dirs.push(folder)
      const ds = await openDatastore({ backend, folder })
      await writePins(ds.datastore, 'old', 50)
      const failing = atomicWrites(ds.datastore, async (scope) => {
        await scope.deletePrefix('/crdt/')
        await writePins(scope.datastore, 'new', 3000)
        // the writes are visible inside the operation
        const c = consensusOn(scope.datastore)
        await c.start()
        expect(await (await c.state()).has(await cidOf('new-2999'))).toBe(true)
        expect(await (await c.state()).has(await cidOf('old-0'))).toBe(false)
        await c.stop()
        throw new Error('interrupted on purpose')
      })
      await expect(failing).rejects.toThrow('interrupted on purpose')
      await ds.close()
      expect(await names(folder, backend)).toEqual(expected('old', 50))

      const ds2 = await openDatastore({ backend, folder })
      const n = await atomicWrites(ds2.datastore, async (scope) => {
        await scope.deletePrefix('/crdt/')
        await writePins(scope.datastore, 'new', 3000)
        return 3000
      })
      expect(n).toBe(3000)
      await ds2.close()
      expect(await names(folder, backend)).toEqual(expected('new', 3000))
    }, 120_000)

    test('kill -9 of a process inside atomicWrites, every new pin written but not committed: the old pinset, whole', async () => {
      const folder = await mkdtemp(join(tmpdir(), `atomic-kill-${backend}-`))
      dirs.push(folder)
      const ds = await openDatastore({ backend, folder })
      await writePins(ds.datastore, 'old', 40)
      await ds.close()
      const child = Bun.spawn([process.execPath, join(import.meta.dir, 'fixtures', 'atomic-import-child.ts'), folder, backend, '20000'], {
        stdout: 'pipe',
        stderr: 'pipe'
      })
      const reader = child.stdout.getReader()
      let out = ''
      for (let i = 0; i < 10_000 && !out.includes('written'); i++) {
        const { value, done } = await reader.read()
        if (done) break
        out += new TextDecoder().decode(value)
      }
      if (!out.includes('written')) throw new Error(`the child did not write: ${out}${await new Response(child.stderr).text()}`)
      child.kill('SIGKILL')
      await child.exited
      expect(child.signalCode).toBe('SIGKILL')
      expect(await names(folder, backend)).toEqual(expected('old', 40))
    }, 120_000)
  })
}
