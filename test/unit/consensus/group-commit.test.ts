/**
 * Group commit without batching: concurrent logPin/logUnpin calls share
 * deltas, every call resolves after its delta is committed, and the last
 * write of a key in a group wins.
 */
import { describe, expect, test } from 'bun:test'
import all from 'it-all'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { createCrdtConsensus } from '../../../src/consensus/crdt/index.ts'
import { MemoryDatastore } from '../../../src/datastore/memory.ts'
import { setLogLevels } from '../../../src/observability/logging.ts'
import { defaultPinOptions, type Pin, pinWithOpts } from '../../../src/types/index.ts'

setLogLevels('error')

async function pinOf(i: number, name = `p${i}`): Promise<Pin> {
  const cid = CID.createV1(0x55, await sha256.digest(new TextEncoder().encode(`gc-${i}`)))
  return { ...pinWithOpts(cid, { ...defaultPinOptions(), name }), timestamp: new Date(1700000000000) }
}

function consensus() {
  return createCrdtConsensus(
    {
      peerId: '12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA',
      clusterName: 'test',
      trustedPeers: ['*'],
      batching: { maxBatchSize: 0, maxBatchAgeMs: 0, maxQueueSize: 50000 },
      rebroadcastIntervalMs: 0,
      repairIntervalMs: 0
    },
    { datastore: new MemoryDatastore() }
  )
}

describe('group commit', () => {
  test('500 concurrent logPins: all in the state when their promises resolve, in fewer deltas', async () => {
    const c = consensus()
    await c.start()
    await c.ready()
    const pins = await Promise.all(Array.from({ length: 500 }, (_, i) => pinOf(i)))
    const state = await c.state()
    await Promise.all(
      pins.map(async (p) => {
        await c.logPin(p)
        // resolved => committed
        expect(await state.has(p.cid)).toBe(true)
      })
    )
    expect((await all(state.list())).length).toBe(500)
    const height = Number(c.heads().height)
    expect(height).toBeGreaterThan(0)
    expect(height).toBeLessThan(500)
    await c.stop()
  })

  test('sequential logPins, each awaited, never stall (a pin queued just as a drain ends starts a new one)', async () => {
    const c = consensus()
    await c.start()
    await c.ready()
    const state = await c.state()
    const pins = await Promise.all(Array.from({ length: 50 }, (_, i) => pinOf(1000 + i)))
    // each logPin starts in the very continuation of the previous one
    const loop = async (): Promise<void> => {
      for (const p of pins) await c.logPin(p)
    }
    await Promise.race([loop(), new Promise((_, reject) => setTimeout(() => reject(new Error('a logPin stalled')), 5000))])
    for (const p of pins) expect(await state.has(p.cid)).toBe(true)
    await c.stop()
  })

  test('pin, unpin and pin again of one CID in one group: the last operation wins', async () => {
    const c = consensus()
    await c.start()
    await c.ready()
    const first = await pinOf(1, 'first')
    const second = await pinOf(1, 'second')
    const other = await pinOf(2)
    // the first call takes the store; the next three wait and share one delta
    await Promise.all([c.logPin(other), c.logPin(first), c.logUnpin(first), c.logPin(second)])
    const state = await c.state()
    expect((await state.get(first.cid)).name).toBe('second')
    await Promise.all([c.logPin(other), c.logPin(first), c.logUnpin(first)])
    expect(await state.has(first.cid)).toBe(false)
    await c.stop()
  })
})
