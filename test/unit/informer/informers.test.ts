import { afterAll, describe, expect, test } from 'bun:test'
import { createDiskInformer } from '../../../src/informer/disk/index.ts'
import { isDiscarded, isExpired } from '../../../src/informer/metric.ts'
import { createPinQueueInformer, pinQueueWeight } from '../../../src/informer/pinqueue/index.ts'
import { createTagsInformer } from '../../../src/informer/tags/index.ts'
import { setLogReporters } from '../../../src/observability/logging.ts'

const peerId = '12D3KooWQeu9nA2T8ZJXhs9KTkLNxYKiCqnhczjgyAdz9XFSeRYT'
const clock = () => 1_700_000_000_000
const logs: string[] = []
setLogReporters([{ log: (l) => logs.push(`${l.tag}:${l.type}:${l.args.join(' ')}`) }])
afterAll(() => setLogReporters(undefined))

describe('disk informer', () => {
  test('freespace = storageMax - repoSize, weight the same, expire = now + ttl (ns)', async () => {
    const inf = createDiskInformer(
      { metricTtlMs: 30_000, metricType: 'freespace' },
      { ipfs: { repoStat: async () => ({ repoSize: 400, storageMax: 1000 }) }, peerId, clock }
    )
    await inf.start()
    expect(inf.name()).toBe('freespace')
    const [m] = await inf.getMetrics()
    expect(m).toEqual({
      name: 'freespace',
      peer: peerId,
      value: '600',
      weight: 600,
      valid: true,
      partitionable: false,
      expire: (clock() + 30_000) * 1e6,
      receivedAt: 0
    })
    expect(isExpired(m!, () => clock() + 29_999)).toBe(false)
    expect(isExpired(m!, () => clock() + 30_001)).toBe(true)
  })

  test('freespace exhausted: invalid, value "0"', async () => {
    const inf = createDiskInformer(
      { metricTtlMs: 1000, metricType: 'freespace' },
      { ipfs: { repoStat: async () => ({ repoSize: 1000, storageMax: 1000 }) }, peerId }
    )
    const [m] = await inf.getMetrics()
    expect(m).toMatchObject({ value: '0', weight: 0, valid: false })
  })

  test('reposize: value repoSize, weight -repoSize', async () => {
    const inf = createDiskInformer(
      { metricTtlMs: 1000, metricType: 'reposize' },
      { ipfs: { repoStat: async () => ({ repoSize: 1234, storageMax: 99999 }) }, peerId }
    )
    expect(inf.name()).toBe('reposize')
    expect((await inf.getMetrics())[0]).toMatchObject({ name: 'reposize', value: '1234', weight: -1234, valid: true })
  })

  test('kubo down: invalid metric, error logged; stopped: invalid', async () => {
    logs.length = 0
    const inf = createDiskInformer(
      { metricTtlMs: 1000, metricType: 'freespace' },
      {
        ipfs: {
          repoStat: async () => {
            throw new Error('connection refused')
          }
        },
        peerId
      }
    )
    const [m] = await inf.getMetrics()
    expect(m).toMatchObject({ name: 'freespace', valid: false, value: '' })
    expect(isDiscarded(m!)).toBe(true)
    expect(logs.some((l) => l.startsWith('diskinfo:error') && l.includes('connection refused'))).toBe(true)
    const ok = createDiskInformer(
      { metricTtlMs: 1000, metricType: 'freespace' },
      { ipfs: { repoStat: async () => ({ repoSize: 1, storageMax: 2 }) }, peerId }
    )
    await ok.stop()
    expect((await ok.getMetrics())[0]).toMatchObject({ name: 'freespace', valid: false })
  })

  test('invalid config rejected', () => {
    const ipfs = { repoStat: async () => ({ repoSize: 1, storageMax: 2 }) }
    // @ts-expect-error invalid metric type
    expect(() => createDiskInformer({ metricTtlMs: 1000, metricType: 'bogus' }, { ipfs, peerId })).toThrow()
    expect(() => createDiskInformer({ metricTtlMs: 0, metricType: 'freespace' }, { ipfs, peerId })).toThrow()
  })
})

describe('tags informer', () => {
  test('one partitionable metric per tag, named tag:<key>', async () => {
    const inf = createTagsInformer({ metricTtlMs: 30_000, tags: { group: 'default', region: 'eu' } }, { peerId, clock })
    expect(inf.name()).toBe('tags')
    const ms = await inf.getMetrics()
    expect(ms.map((m) => [m.name, m.value, m.valid, m.partitionable, m.peer])).toEqual([
      ['tag:group', 'default', true, true, peerId],
      ['tag:region', 'eu', true, true, peerId]
    ])
    expect(ms[0]!.expire).toBe((clock() + 30_000) * 1e6)
  })

  test('no tags: a single invalid tag:none', async () => {
    const inf = createTagsInformer({ metricTtlMs: 1000, tags: {} }, { peerId })
    expect(await inf.getMetrics()).toMatchObject([{ name: 'tag:none', valid: false, partitionable: true }])
  })
})

describe('pinqueue informer', () => {
  test('weight = -queue / bucket, truncated like Go', async () => {
    let q = 250_001
    const inf = createPinQueueInformer(
      { metricTtlMs: 30_000, weightBucketSize: 100_000 },
      { tracker: { pinQueueSize: () => q }, peerId, clock }
    )
    expect(inf.name()).toBe('pinqueue')
    expect((await inf.getMetrics())[0]).toEqual({
      name: 'pinqueue',
      peer: peerId,
      value: '250001',
      weight: -2,
      valid: true,
      partitionable: false,
      expire: (clock() + 30_000) * 1e6,
      receivedAt: 0
    })
    q = 99_999
    expect((await inf.getMetrics())[0]!.weight).toBe(0)
    expect(Object.is(pinQueueWeight(5, 100), 0)).toBe(true) // no negative zero
    expect(pinQueueWeight(7, 0)).toBe(-7)
    expect(pinQueueWeight(7, 2)).toBe(-3)
  })

  test('tracker error: invalid', async () => {
    const inf = createPinQueueInformer(
      { metricTtlMs: 1000, weightBucketSize: 10 },
      {
        tracker: {
          pinQueueSize: () => {
            throw new Error('x')
          }
        },
        peerId
      }
    )
    expect((await inf.getMetrics())[0]!.valid).toBe(false)
  })
})
