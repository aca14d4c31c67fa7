/**
 * Dirty state (go-ds-crdt's dirty bit and repair): a crash while a received
 * branch is half-applied leaves the store marked dirty; the next start
 * repairs it (applies the rest of the branch from the stored blocks), says so
 * in the log and marks the store clean.
 */
import { describe, expect, test } from 'bun:test'
import all from 'it-all'
import type { ConsolaReporter, LogObject } from 'consola'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { type CrdtConsensus, createCrdtConsensus, memoryDagSyncer } from '../../../src/consensus/crdt/index.ts'
import { writeDotDag } from '../../../src/consensus/crdt/dot.ts'
import { MemoryDatastore } from '../../../src/datastore/memory.ts'
import { defaultPinOptions, type Pin, pinWithOpts } from '../../../src/types/index.ts'
import { crdtInit } from './helpers.ts'
import { setLogLevels, setLogReporters } from '../../../src/observability/logging.ts'
import { waitFor } from '../../../scripts/launcher/poll.ts'

setLogLevels('error')

const init = crdtInit

async function pinOf(i: number): Promise<Pin> {
  const cid = CID.createV1(0x55, await sha256.digest(new TextEncoder().encode(`pin-${i}`)))
  return { ...pinWithOpts(cid, { ...defaultPinOptions(), name: `p${i}` }), timestamp: new Date(1700000000000) }
}

async function names(c: CrdtConsensus): Promise<string[]> {
  return (await all((await c.state()).list())).map((p) => p.name).sort()
}

describe('crdt dirty state', () => {
  test('a crash mid-branch marks the store dirty; the next start repairs it and logs so', async () => {
    const lines: string[] = []
    const reporter: ConsolaReporter = { log: (o: LogObject) => void lines.push(`${o.tag}: ${o.args.map(String).join(' ')}`) }
    setLogReporters([reporter])
    setLogLevels('warn,crdt:info')
    try {
      const a = createCrdtConsensus(init({ peerId: 'A' }), { datastore: new MemoryDatastore() })
      await a.start()
      for (let i = 0; i < 4; i++) await a.logPin(await pinOf(i))
      const head = a.heads().heads[0]!
      // B receives A's head and "crashes" after the first of the 4 nodes is applied
      const bds = new MemoryDatastore()
      const crash = new AbortController()
      let applied = 0
      const b = createCrdtConsensus(init({ peerId: 'B' }), {
        datastore: bds,
        dagSyncer: memoryDagSyncer(() => [a.blockstore]),
        onChange: () => {
          applied++
          crash.abort(new Error('crash'))
        }
      })
      await b.start()
      expect(await b.isDirty()).toBe(false)
      await expect(b.handleHead(head, { signal: crash.signal })).rejects.toThrow()
      expect(applied).toBe(1)
      expect(await names(b)).toEqual(['p0'])
      expect(await b.isDirty()).toBe(true)
      expect(b.heads().heads).toEqual([])
      await b.stop()
      // restart on the same datastore, offline (no DAG syncer): the blocks are local
      const b2 = createCrdtConsensus(init({ peerId: 'B', repairIntervalMs: 3_600_000 }), { datastore: bds })
      await b2.start()
      await waitFor(async () => !(await b2.isDirty()), 'repair marks the store clean', 10_000, 20)
      expect(await names(b2)).toEqual(['p0', 'p1', 'p2', 'p3'])
      expect(b2.heads().heads.map(String)).toEqual([head.toString()])
      expect(lines.some((l) => l.includes('store is marked dirty. Starting DAG repair operation'))).toBe(true)
      expect(lines.some((l) => l.includes(`resumed the half-applied branch of head ${head.toString()}`))).toBe(true)
      expect(lines.some((l) => l.includes('DAG repair finished: 1 interrupted branches resumed'))).toBe(true)
      await b2.stop()
      // a clean start says there is nothing to repair
      lines.length = 0
      const b3 = createCrdtConsensus(init({ peerId: 'B', repairIntervalMs: 3_600_000 }), { datastore: bds })
      await b3.start()
      await waitFor(() => lines.some((l) => l.includes('store is marked clean. No need to repair')), 'clean log', 10_000, 20)
      await b3.stop()
      await a.stop()
    } finally {
      setLogReporters(undefined)
      setLogLevels('error')
    }
  })

  test('a branch applied to the end leaves the store clean', async () => {
    const a = createCrdtConsensus(init({ peerId: 'A' }), { datastore: new MemoryDatastore() })
    await a.start()
    for (let i = 0; i < 3; i++) await a.logPin(await pinOf(i))
    const b = createCrdtConsensus(init({ peerId: 'B' }), { datastore: new MemoryDatastore(), dagSyncer: memoryDagSyncer(() => [a.blockstore]) })
    await b.start()
    await b.handleHead(a.heads().heads[0]!)
    expect(await names(b)).toEqual(['p0', 'p1', 'p2'])
    expect(await b.isDirty()).toBe(false)
    await a.stop()
    await b.stop()
  })

  test('writeDotDag writes every node once, in go-ds-crdt layout', async () => {
    const a = createCrdtConsensus(init({ peerId: 'A' }), { datastore: new MemoryDatastore() })
    await a.start()
    for (let i = 0; i < 3; i++) await a.logPin(await pinOf(i))
    await a.logUnpin(await pinOf(0))
    const { heads } = a.heads()
    let dot = ''
    const n = await writeDotDag(heads, (c, o) => a.blockstore.get(c, o), (l) => {
      dot += l
    })
    expect(n).toBe(4)
    const lines = dot.split('\n')
    expect(lines[0]).toBe('digraph CRDTDAG {')
    expect(lines[1]).toBe('subgraph heads {')
    expect(lines[2]).toBe(heads[0]!.toString())
    const h = heads[0]!.toString()
    expect(lines).toContain(`${h} [label="4 | ${h.slice(-4)}: +0 -1"]`)
    expect(lines.filter((l) => l.includes('[label=')).length).toBe(4)
    expect(dot.endsWith('}\n}\n')).toBe(true)
    await a.stop()
  })
})
