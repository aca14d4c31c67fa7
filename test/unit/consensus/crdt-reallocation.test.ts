/**
 * An unpin concurrent with a re-allocation of the same pin holds
 * (src/consensus/crdt/stale.ts): two crdt peers, partitioned, merging each
 * other's deltas in both orders; a user's new pin concurrent with the unpin
 * still wins (add-wins), and a pin made after an unpin is never removed.
 */
import { afterEach, describe, expect, test } from 'bun:test'
import fc from 'fast-check'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { type CrdtConsensus, createCrdtConsensus, MemoryBroadcastNetwork, memoryDagSyncer } from '../../../src/consensus/crdt/index.ts'
import { MemoryDatastore } from '../../../src/datastore/memory.ts'
import { setLogLevels } from '../../../src/observability/logging.ts'
import { defaultPinOptions, type Pin, pinWithOpts } from '../../../src/types/index.ts'
import { waitFor } from '../../../scripts/launcher/poll.ts'
import { crdtInit } from './helpers.ts'

setLogLevels('error')

const X = '12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA'
const Y = '12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo'
const Z = '12D3KooWBhMbLvQGgqByteXqFNtwdZA2yBVQANvBLCTsXk6rebjN'
/** longer than the check's delay plus its jitter (200 + 1,300 ms) */
const SETTLE_MS = 2_500

let running: CrdtConsensus[] = []
afterEach(async () => {
  for (const c of running) await c.stop()
  running = []
})

async function cidOf(s: string): Promise<CID> {
  return CID.createV1(0x55, await sha256.digest(new TextEncoder().encode(s)))
}

function pinAt(cid: CID, seconds: number, allocations: string[]): Pin {
  return { ...pinWithOpts(cid, { ...defaultPinOptions(), name: 'p', replicationFactorMin: 2, replicationFactorMax: 2 }), allocations, timestamp: new Date(seconds * 1000) }
}

/** Two started peers that never hear each other's broadcasts: heads are handed over with `deliver`. */
async function pair(): Promise<{ a: CrdtConsensus; b: CrdtConsensus; deliver: (from: CrdtConsensus, to: CrdtConsensus) => Promise<void> }> {
  const net = new MemoryBroadcastNetwork()
  net.connected = false
  const peers: CrdtConsensus[] = []
  const syncer = memoryDagSyncer(() => peers.map((p) => p.blockstore))
  const a = createCrdtConsensus(crdtInit({ peerId: X }), { datastore: new MemoryDatastore(), broadcaster: net.broadcaster(), dagSyncer: syncer })
  const b = createCrdtConsensus(crdtInit({ peerId: Y }), { datastore: new MemoryDatastore(), broadcaster: net.broadcaster(), dagSyncer: syncer })
  peers.push(a, b)
  running.push(a, b)
  await a.start()
  await b.start()
  const deliver = async (from: CrdtConsensus, to: CrdtConsensus): Promise<void> => {
    for (const h of from.heads().heads) await to.handleHead(h)
  }
  return { a, b, deliver }
}

async function pinned(c: CrdtConsensus, cid: CID): Promise<boolean> {
  return await (await c.state()).has(cid)
}

/** Both peers exchange heads until they hold the same heads (a check's delete is one more delta to hand over). */
async function settle(a: CrdtConsensus, b: CrdtConsensus, deliver: (f: CrdtConsensus, t: CrdtConsensus) => Promise<void>): Promise<void> {
  const deadline = Date.now() + 3 * SETTLE_MS
  let stableSince = Date.now()
  while (Date.now() < deadline) {
    const before = `${a.heads().heads.map(String)}|${b.heads().heads.map(String)}`
    await deliver(a, b)
    await deliver(b, a)
    await Bun.sleep(100)
    const after = `${a.heads().heads.map(String)}|${b.heads().heads.map(String)}`
    if (before !== after) stableSince = Date.now()
    else if (Date.now() - stableSince > SETTLE_MS && String(a.heads().heads) === String(b.heads().heads)) return
  }
  throw new Error('the two peers did not settle on the same heads')
}

describe('an unpin concurrent with a re-allocation', () => {
  test('the unpinning peer merges the re-allocation after its unpin: the re-allocation is removed on both', async () => {
    const { a, b, deliver } = await pair()
    const cid = await cidOf('race-1')
    const p0 = pinAt(cid, 1_700_000_000, [X, Y])
    await a.logPin(p0)
    await deliver(a, b)
    expect(await pinned(b, cid)).toBe(true)
    // concurrently: A re-allocates away from Y (same timestamp), B unpins
    await a.logPin({ ...p0, allocations: [X, Z] })
    await b.logUnpin(p0)
    await deliver(a, b) // B: its unpin first, then the re-allocation: the add wins for now
    expect(await pinned(b, cid)).toBe(true)
    await waitFor(async () => !(await pinned(b, cid)), 'B to remove the stale re-allocation', 10_000, 20)
    expect(b.staleReallocationsRemoved).toBe(1)
    await settle(a, b, deliver)
    expect(await pinned(a, cid)).toBe(false)
    expect(await pinned(b, cid)).toBe(false)
  })

  test('the re-allocating peer merges the unpin after its re-allocation: it removes its own re-allocation', async () => {
    const { a, b, deliver } = await pair()
    const cid = await cidOf('race-2')
    const p0 = pinAt(cid, 1_700_000_000, [X, Y])
    await a.logPin(p0)
    await deliver(a, b)
    await a.logPin({ ...p0, allocations: [X, Z] })
    await b.logUnpin(p0)
    await deliver(b, a) // A: its re-allocation first, then the unpin of the element B knew
    await waitFor(async () => !(await pinned(a, cid)), 'A to remove its stale re-allocation', 10_000, 20)
    expect(a.staleReallocationsRemoved).toBe(1)
    await settle(a, b, deliver)
    expect(await pinned(b, cid)).toBe(false)
  })

  test("a user's new pin concurrent with the unpin wins, as in go-ds-crdt (it has a new timestamp)", async () => {
    const { a, b, deliver } = await pair()
    const cid = await cidOf('race-3')
    const p0 = pinAt(cid, 1_700_000_000, [X, Y])
    await a.logPin(p0)
    await deliver(a, b)
    await a.logPin({ ...p0, allocations: [X, Z], timestamp: new Date(1_700_000_005_000) })
    await b.logUnpin(p0)
    await settle(a, b, deliver)
    expect(await pinned(a, cid)).toBe(true)
    expect(await pinned(b, cid)).toBe(true)
    expect(a.staleReallocationsRemoved + b.staleReallocationsRemoved).toBe(0)
  })

  test('pin, unpin and the same pin again in one second (identical bytes) on one peer: the second pin stays on both', async () => {
    const { a, b, deliver } = await pair()
    const cid = await cidOf('race-4')
    const p0 = pinAt(cid, 1_700_000_000, [X, Y])
    await a.logPin(p0)
    await deliver(a, b)
    await a.logUnpin(p0)
    await a.logPin(p0)
    // B re-allocates the first pin concurrently, then hears everything
    await b.logPin({ ...p0, allocations: [Y, Z] })
    await settle(a, b, deliver)
    // A's second pin descends from A's unpin: it is no stale re-allocation and stays;
    // B's re-allocation of the first pin is concurrent with that unpin and goes
    expect(await pinned(a, cid)).toBe(true)
    expect(await pinned(b, cid)).toBe(true)
    const pa = await (await a.state()).get(cid)
    const pb = await (await b.state()).get(cid)
    expect(pa.allocations).toEqual([X, Y])
    expect(pb.allocations).toEqual([X, Y])
  })

  test('a re-allocation after the unpin was heard is a new pin of the old value only if it descends from the unpin: it stays', async () => {
    const { a, b, deliver } = await pair()
    const cid = await cidOf('race-5')
    const p0 = pinAt(cid, 1_700_000_000, [X, Y])
    await a.logPin(p0)
    await deliver(a, b)
    await b.logUnpin(p0)
    await deliver(b, a)
    expect(await pinned(a, cid)).toBe(false)
    // the same bytes pinned again after the unpin (e.g. `state import` of an old export)
    await a.logPin({ ...p0, allocations: [X, Z] })
    await settle(a, b, deliver)
    expect(await pinned(a, cid)).toBe(true)
    expect(await pinned(b, cid)).toBe(true)
  })

  test('property: whatever the merge order, both peers end equal; the unpin holds unless a pin descends from it or is a new user pin', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          // 0: the re-allocator hears the unpin, 1: the unpinner hears the re-allocation, 2: both at once
          order: fc.integer({ min: 0, max: 2 }),
          reallocations: fc.integer({ min: 1, max: 3 }),
          userPin: fc.constantFrom('none', 'concurrent', 'after')
        }),
        async ({ order, reallocations, userPin }) => {
          const { a, b, deliver } = await pair()
          const cid = await cidOf(`prop-${order}-${reallocations}-${userPin}-${Math.random()}`)
          const p0 = pinAt(cid, 1_700_000_000, [X, Y])
          await a.logPin(p0)
          await deliver(a, b)
          for (let i = 0; i < reallocations; i++) await a.logPin({ ...p0, allocations: [X, i % 2 === 0 ? Z : Y] })
          await b.logUnpin(p0)
          if (userPin === 'concurrent') await a.logPin({ ...p0, timestamp: new Date(1_700_000_100_000) })
          if (order === 0) await deliver(b, a)
          else if (order === 1) await deliver(a, b)
          else await Promise.all([deliver(b, a), deliver(a, b)])
          if (userPin === 'after') {
            await deliver(b, a)
            await a.logPin({ ...p0, timestamp: new Date(1_700_000_200_000) })
          }
          await settle(a, b, deliver)
          const want = userPin !== 'none'
          expect(await pinned(a, cid)).toBe(want)
          expect(await pinned(b, cid)).toBe(want)
          for (const c of running) await c.stop()
          running = []
        }
      ),
      { numRuns: 8 }
    )
  }, 120_000)
})
