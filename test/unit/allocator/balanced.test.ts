import { describe, expect, test } from 'bun:test'
import { CID } from 'multiformats/cid'
import { createBalancedAllocator } from '../../../src/allocator/balanced/index.ts'
import { partitionMetrics, sortedPeers } from '../../../src/allocator/balanced/partition.ts'
import type { Metric, PeerId } from '../../../src/types/index.ts'

const cid = CID.parse('bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi')

function mk(name: string, value: string, weight: number, peer: PeerId, partitionable: boolean): Metric {
  return {
    name,
    value,
    weight,
    peer,
    valid: true,
    partitionable,
    expire: (Date.now() + 60_000) * 1e6,
    receivedAt: 0
  }
}

function byPeer(metrics: Metric[]): Map<PeerId, Metric[]> {
  const m = new Map<PeerId, Metric[]>()
  for (const x of metrics) m.set(x.peer, [...(m.get(x.peer) ?? []), x])
  return m
}

describe('balanced allocator', () => {
  test('upstream TestAllocate: region/az/pinqueue/freespace', async () => {
    const alloc = createBalancedAllocator({ allocateBy: ['region', 'az', 'pinqueue', 'freespace'] })
    const metrics = [
      mk('abc', 'a', 0, 'p1', true),
      mk('abc', 'b', 0, 'p2', true),
      mk('region', 'a-us', 0, 'p1', true),
      mk('region', 'a-us', 0, 'p2', true),
      mk('region', 'b-eu', 0, 'p3', true),
      mk('region', 'b-eu', 0, 'p4', true),
      mk('region', 'b-eu', 0, 'p5', true),
      mk('region', 'c-au', 0, 'p6', true),
      mk('region', 'c-au', 0, 'p7', true),
      mk('region', 'c-au', 0, 'p8', true),
      mk('az', 'us1', 0, 'p1', true),
      mk('az', 'us2', 0, 'p2', true),
      mk('az', 'eu1', 0, 'p3', true),
      mk('az', 'eu1', 0, 'p4', true),
      mk('az', 'eu2', 0, 'p5', true),
      mk('az', 'au1', 0, 'p6', true),
      mk('az', 'au1', 0, 'p7', true),
      mk('pinqueue', '100', 0, 'p1', true),
      mk('pinqueue', '200', 0, 'p2', true),
      mk('pinqueue', '100', 0, 'p3', true),
      mk('pinqueue', '200', 0, 'p4', true),
      mk('pinqueue', '300', 0, 'p5', true),
      mk('pinqueue', '100', 0, 'p6', true),
      mk('pinqueue', '1000', -1, 'p7', true),
      mk('freespace', '100', 100, 'p1', false),
      mk('freespace', '500', 500, 'p2', false),
      mk('freespace', '200', 200, 'p3', false),
      mk('freespace', '400', 400, 'p4', false),
      mk('freespace', '10', 10, 'p5', false),
      mk('freespace', '50', 50, 'p6', false),
      mk('freespace', '600', 600, 'p7', false),
      mk('freespace', '10000', 10000, 'p8', false)
    ]
    const peers = await alloc.allocate(cid, new Map(), byPeer(metrics), new Map())
    expect(peers).toEqual(['p6', 'p4', 'p2', 'p7', 'p5', 'p1', 'p3'])
  })

  test('freespace only: one partition per peer, by weight descending', async () => {
    const alloc = createBalancedAllocator({ allocateBy: ['freespace'] })
    const ms = [
      mk('freespace', '100', 100, 'a', false),
      mk('freespace', '300', 300, 'b', false),
      mk('freespace', '100', 100, 'c', false),
      mk('freespace', '200', 200, 'd', false)
    ]
    expect(await alloc.allocate(cid, new Map(), byPeer(ms), new Map())).toEqual(['b', 'd', 'a', 'c'])
  })

  test('tag partitioning alternates groups, freespace orders inside', async () => {
    const alloc = createBalancedAllocator({ allocateBy: ['tag:group', 'freespace'] })
    const ms = [
      mk('tag:group', 'x', 0, 'x1', true),
      mk('tag:group', 'x', 0, 'x2', true),
      mk('tag:group', 'x', 0, 'x3', true),
      mk('tag:group', 'y', 0, 'y1', true),
      mk('freespace', '10', 10, 'x1', false),
      mk('freespace', '30', 30, 'x2', false),
      mk('freespace', '20', 20, 'x3', false),
      mk('freespace', '5', 5, 'y1', false)
    ]
    // x aggregated weight 60 > y 5: x first; then alternate while y has peers
    expect(await alloc.allocate(cid, new Map(), byPeer(ms), new Map())).toEqual(['x2', 'y1', 'x3', 'x1'])
  })

  test('priority peers come first, each set ordered on its own', async () => {
    const alloc = createBalancedAllocator({ allocateBy: ['freespace'] })
    const cand = [mk('freespace', '1000', 1000, 'big', false), mk('freespace', '500', 500, 'mid', false)]
    const prio = [mk('freespace', '1', 1, 'small', false), mk('freespace', '2', 2, 'small2', false)]
    expect(await alloc.allocate(cid, new Map(), byPeer(cand), byPeer(prio))).toEqual(['small2', 'small', 'big', 'mid'])
  })

  test('equal weights sort by aggregated weight then value', () => {
    const set = new Map([
      [
        'tag:r',
        [mk('tag:r', 'b', 0, 'p1', true), mk('tag:r', 'a', 0, 'p2', true), mk('tag:r', 'c', 0, 'p3', true)]
      ],
      ['freespace', [mk('freespace', '1', 1, 'p1', false), mk('freespace', '1', 1, 'p2', false), mk('freespace', '9', 9, 'p3', false)]]
    ])
    const pm = partitionMetrics(set, ['tag:r', 'freespace'])
    expect(pm.partitions.map((p) => p.value)).toEqual(['c', 'a', 'b'])
    expect(sortedPeers(pm)).toEqual(['p3', 'p2', 'p1'])
  })

  test('empty candidates give no peers; metrics() is allocate_by; empty allocate_by rejected', async () => {
    const alloc = createBalancedAllocator({ allocateBy: ['tag:group', 'freespace'] })
    expect(await alloc.allocate(cid, new Map(), new Map(), new Map())).toEqual([])
    expect(alloc.metrics()).toEqual(['tag:group', 'freespace'])
    expect(() => createBalancedAllocator({ allocateBy: [] })).toThrow('allocate_by')
  })
})
