import { afterAll, beforeAll, expect, test } from 'bun:test'
import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import all from 'it-all'
import { createCrdtConsensus } from '../../../src/consensus/crdt/index.ts'
import { openDatastore } from '../../../src/datastore/index.ts'
import { setLogLevels } from '../../../src/observability/logging.ts'

// quiet while this file runs; files run after it in the same process log at info again
beforeAll(() => setLogLevels('error'))
const dirs: string[] = []
afterAll(async () => {
  setLogLevels('info')
  for (const d of dirs) await rm(d, { recursive: true, force: true })
})

/** Runs the child until it acknowledged at least `min` pins, SIGKILLs it, returns the acknowledged indexes. */
async function runAndKill(folder: string, backend: string, mode: string, min: number): Promise<number[]> {
  const child = spawn(process.execPath, [join(import.meta.dir, 'fixtures', 'durability-child.ts'), folder, backend, mode], {
    stdio: ['ignore', 'pipe', 'inherit']
  })
  const acked: number[] = []
  let buf = ''
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()))
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`child acknowledged only ${acked.length} pins`)), 20_000)
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString()
      const lines = buf.split('\n')
      buf = lines.pop() ?? ''
      for (const l of lines) acked.push(Number(l))
      if (acked.length >= min) {
        clearTimeout(timer)
        child.kill('SIGKILL')
        resolve()
      }
    })
    child.on('exit', () => {
      clearTimeout(timer)
      resolve()
    })
  })
  await exited
  return acked
}

for (const backend of ['sqlite', 'leveldb']) {
  for (const mode of ['direct', 'batching']) {
    test(`every acknowledged pin survives SIGKILL (${backend}, ${mode})`, async () => {
      const folder = await mkdtemp(join(tmpdir(), 'crdt-kill-'))
      dirs.push(folder)
      const acked = await runAndKill(folder, backend, mode, 60)
      expect(acked.length).toBeGreaterThanOrEqual(60)
      const { datastore, close } = await openDatastore({ backend: backend as 'sqlite', folder })
      const c = createCrdtConsensus(
        { peerId: 'self', clusterName: 't', trustedPeers: ['*'], batching: { maxBatchSize: 0, maxBatchAgeMs: 0, maxQueueSize: 1 }, rebroadcastIntervalMs: 0, repairIntervalMs: 0 },
        { datastore }
      )
      await c.start()
      const names = new Set((await all((await c.state()).list())).map((p) => p.name))
      for (const i of acked) expect(names.has(`p${i}`)).toBe(true)
      await c.stop()
      await close()
    }, 30_000)
  }
}
