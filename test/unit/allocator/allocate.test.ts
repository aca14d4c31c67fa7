import { afterAll, describe, expect, test } from 'bun:test'
import { CID } from 'multiformats/cid'
import { allocate, notEnoughPeersMessage } from '../../../src/allocator/allocate.ts'
import { createBalancedAllocator } from '../../../src/allocator/balanced/index.ts'
import { setLogReporters } from '../../../src/observability/logging.ts'
import type { Metric, PeerId } from '../../../src/types/index.ts'

const cid = CID.parse('bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi')
const exp = () => (Date.now() + 60_000) * 1e6

interface PeerSpec {
  region?: string
  pinqueue?: number
  freespace?: number
}

/** A monitor stub: the latest metric per peer per name. */
function world(peers: Record<PeerId, PeerSpec>): (name: string) => Metric[] {
  return (name) => {
    const out: Metric[] = []
    for (const [peer, s] of Object.entries(peers)) {
      const base = { peer, valid: true, expire: exp(), receivedAt: 0 }
      if (name === 'tag:region' && s.region !== undefined)
        out.push({ ...base, name, value: s.region, weight: 0, partitionable: true })
      if (name === 'pinqueue' && s.pinqueue !== undefined)
        out.push({ ...base, name, value: String(s.pinqueue), weight: -Math.trunc(s.pinqueue / 10), partitionable: false })
      if (name === 'freespace' && s.freespace !== undefined)
        out.push({ ...base, name, value: String(s.freespace), weight: s.freespace, partitionable: false })
    }
    return out
  }
}

const threeRegions = world({
  eu1: { region: 'eu', pinqueue: 0, freespace: 900 },
  eu2: { region: 'eu', pinqueue: 0, freespace: 800 },
  us1: { region: 'us', pinqueue: 0, freespace: 300 },
  us2: { region: 'us', pinqueue: 50, freespace: 1000 },
  as1: { region: 'as', pinqueue: 0, freespace: 100 },
  nometrics: { region: 'as' } // missing pinqueue and freespace: never a candidate
})

function base(over: Partial<Parameters<typeof allocate>[0]> = {}): Parameters<typeof allocate>[0] {
  return {
    cid,
    currentAllocations: [],
    rplMin: 1,
    rplMax: 1,
    blacklist: [],
    priorityList: [],
    metrics: threeRegions,
    allocator: createBalancedAllocator({ allocateBy: ['tag:region', 'pinqueue', 'freespace'] }),
    ...over
  }
}

setLogReporters([])
afterAll(() => setLogReporters(undefined))

describe('allocate', () => {
  test('-1/-1 allocates everywhere: []', async () => {
    expect(await allocate(base({ rplMin: -1, rplMax: -1 }))).toEqual([])
  })

  test('0/0 is rejected', async () => {
    await expect(allocate(base({ rplMin: 0, rplMax: 0 }))).rejects.toMatchObject({ name: 'InvalidArgumentError' })
  })

  test('tags partitioning spreads over regions', async () => {
    // region weights are all 0; aggregated: eu 1700, us 1300-5=1295, as 100
    // eu -> pinqueue 0 partition -> eu1 (900); us -> pinqueue 0 (w 0) before 50 (w -5) -> us1; as -> as1
    const got = await allocate(base({ rplMin: 3, rplMax: 3 }))
    expect(got).toEqual(['eu1', 'us1', 'as1'])
    const all = await allocate(base({ rplMin: 2, rplMax: 10 }))
    expect(all).toEqual(['eu1', 'us1', 'as1', 'eu2', 'us2'])
  })

  test('min/max: takes at most max, fails below min', async () => {
    expect(await allocate(base({ rplMin: 1, rplMax: 2 }))).toEqual(['eu1', 'us1'])
    await expect(allocate(base({ rplMin: 6, rplMax: 7 }))).rejects.toMatchObject({
      name: 'NotEnoughPeersError',
      message: notEnoughPeersMessage(6, 7, 5)
    })
  })

  test('not enough peers message is upstream text', () => {
    expect(notEnoughPeersMessage(3, 4, 2)).toBe(
      'not enough peers to allocate CID. Needed at least: 3. Wanted at most: 4. Available candidates: 2. See logs for more info.'
    )
  })

  test('priority peers (user_allocations) first', async () => {
    const got = await allocate(base({ rplMin: 2, rplMax: 3, priorityList: ['as1', 'us2'] }))
    expect(got).toEqual(['us2', 'as1', 'eu1'])
  })

  test('keeps current allocations when at least min remain valid', async () => {
    const current = ['as1', 'gone']
    const got = await allocate(base({ rplMin: 1, rplMax: 3, currentAllocations: current }))
    expect(got).toEqual(current) // unchanged, including the peer without metrics
  })

  test('adds to valid current allocations when below min', async () => {
    const got = await allocate(base({ rplMin: 3, rplMax: 3, currentAllocations: ['as1', 'gone'] }))
    expect(got).toEqual(['as1', 'eu1', 'us1'])
  })

  test('trims current allocations above max', async () => {
    const got = await allocate(base({ rplMin: 1, rplMax: 2, currentAllocations: ['eu1', 'us1', 'as1', 'eu2'] }))
    expect(got).toEqual(['eu1', 'us1'])
  })

  test('blacklisted peers are neither current nor candidates', async () => {
    const got = await allocate(
      base({ rplMin: 2, rplMax: 2, currentAllocations: ['eu1', 'us1'], blacklist: ['eu1'] })
    )
    // us aggregated weight (-5 + 1000) beats eu (800)
    expect(got).toEqual(['us1', 'us2'])
  })

  test('untrusted peers filtered with pin_only_on_trusted_peers', async () => {
    const trusted = new Set(['us1', 'us2'])
    const opts = { isTrusted: (p: PeerId) => trusted.has(p), rplMin: 1, rplMax: 5 }
    expect(await allocate(base({ ...opts, pinOnlyOnTrustedPeers: true }))).toEqual(['us1', 'us2'])
    expect(await allocate(base({ ...opts, pinOnlyOnUntrustedPeers: true }))).toEqual(['eu1', 'as1', 'eu2'])
    expect((await allocate(base(opts))).length).toBe(5)
  })

  test('peers missing an allocate_by metric are not candidates', async () => {
    const metrics = world({ a: { region: 'x', pinqueue: 0, freespace: 10 }, b: { region: 'x', freespace: 20 } })
    expect(await allocate(base({ metrics, rplMin: 1, rplMax: 2 }))).toEqual(['a'])
    await expect(allocate(base({ metrics, rplMin: 2, rplMax: 2 }))).rejects.toMatchObject({
      name: 'NotEnoughPeersError'
    })
  })

  test('async metrics source is awaited', async () => {
    const got = await allocate(base({ metrics: async (n) => threeRegions(n), rplMin: 1, rplMax: 1 }))
    expect(got).toEqual(['eu1'])
  })
})
