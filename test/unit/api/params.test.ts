import { describe, expect, test } from 'bun:test'
import {
  parseGoDuration,
  pinOptionsFromQuery,
  pinTypeFilterFromQuery,
  statusFilterFromQuery
} from '../../../src/api/rest/params.ts'
import { defaultPinOptions } from '../../../src/types/index.ts'
import { makeCid, PEER, PEER2 } from './stub.ts'

const q = (s: string): URLSearchParams => new URLSearchParams(s)

function expectInvalid(fn: () => unknown, param: string): void {
  let err: unknown
  try {
    fn()
  } catch (e) {
    err = e
  }
  expect((err as Error | undefined)?.name).toBe('InvalidArgumentError')
  expect((err as Error).message).toContain(param)
}

describe('pinOptionsFromQuery', () => {
  test('empty query gives the defaults', () => {
    expect(pinOptionsFromQuery(q(''))).toEqual(defaultPinOptions())
  })

  test('every parameter', async () => {
    const upd = await makeCid('old')
    const origin = `/ip4/1.2.3.4/tcp/4001/p2p/${PEER}`
    const origin2 = `/dns4/example.com/tcp/4001/p2p/${PEER2}`
    const before = Date.now()
    const po = pinOptionsFromQuery(
      q(
        `name=my+pin&mode=direct&replication-min=2&replication-max=3&shard-size=1048576&user-allocations=${PEER},${PEER2}` +
          `&expire-in=1h30m&meta-foo=bar&meta-x=y%20z&meta-=ignored&pin-update=${upd}&origins=${encodeURIComponent(`${origin},${origin2}`)}`
      )
    )
    expect(po.name).toBe('my pin')
    expect(po.mode).toBe('direct')
    expect(po.replicationFactorMin).toBe(2)
    expect(po.replicationFactorMax).toBe(3)
    expect(po.shardSize).toBe(1048576)
    expect(po.userAllocations).toEqual([PEER, PEER2])
    const exp = po.expireAt!.getTime()
    expect(exp).toBeGreaterThanOrEqual(before + 5_400_000)
    expect(exp).toBeLessThanOrEqual(Date.now() + 5_400_000)
    expect(po.metadata).toEqual({ foo: 'bar', x: 'y z' })
    expect(po.pinUpdate?.toString()).toBe(upd.toString())
    expect(po.origins).toEqual([origin, origin2])
  })

  test('a query as upstream\'s Go client builds it (PinOptions.ToQuery)', () => {
    const po = pinOptionsFromQuery(
      q('expire-at=2030-01-02T03%3A04%3A05.123456789Z&meta-a=b&mode=recursive&name=&replication-max=-1&replication-min=-1&shard-size=0&user-allocations=')
    )
    expect(po).toEqual({ ...defaultPinOptions(), replicationFactorMin: -1, replicationFactorMax: -1, metadata: { a: 'b' }, expireAt: new Date('2030-01-02T03:04:05.123Z') })
  })

  test('replication overrides min and max', () => {
    const po = pinOptionsFromQuery(q('replication=-1&replication-min=5&replication-max=7'))
    expect(po.replicationFactorMin).toBe(-1)
    expect(po.replicationFactorMax).toBe(-1)
  })

  test('expire-at wins over expire-in', () => {
    const po = pinOptionsFromQuery(q('expire-at=2030-01-02T03:04:05Z&expire-in=1h'))
    expect(po.expireAt?.toISOString()).toBe('2030-01-02T03:04:05.000Z')
    const off = pinOptionsFromQuery(q('expire-at=2030-01-02T03:04:05.5%2B02:00'))
    expect(off.expireAt?.toISOString()).toBe('2030-01-02T01:04:05.500Z')
  })

  test('strict validation names the parameter', () => {
    expectInvalid(() => pinOptionsFromQuery(q('mode=weird')), 'mode')
    expectInvalid(() => pinOptionsFromQuery(q('replication=two')), 'replication')
    expectInvalid(() => pinOptionsFromQuery(q('replication-min=1e3')), 'replication-min')
  })

  test('empty values are unset, not errors', () => {
    expect(pinOptionsFromQuery(q('replication-max=&shard-size=&expire-in=&origins=&pin-update='))).toEqual(defaultPinOptions())
  })

  test('more invalid values', () => {
    expectInvalid(() => pinOptionsFromQuery(q('shard-size=-5')), 'shard-size')
    expectInvalid(() => pinOptionsFromQuery(q('shard-size=1.5')), 'shard-size')
    expectInvalid(() => pinOptionsFromQuery(q('expire-in=999ms')), 'expire-in')
    expectInvalid(() => pinOptionsFromQuery(q('expire-in=-1h')), 'expire-in')
    expectInvalid(() => pinOptionsFromQuery(q('expire-in=1d')), 'expire-in')
    expectInvalid(() => pinOptionsFromQuery(q('expire-at=2030-01-02')), 'expire-at')
    expectInvalid(() => pinOptionsFromQuery(q('pin-update=notacid')), 'pin-update')
    expectInvalid(() => pinOptionsFromQuery(q('user-allocations=abc')), 'user-allocations')
    expectInvalid(() => pinOptionsFromQuery(q('origins=/ip4/1.2.3.4/tcp/1')), 'origins')
    expectInvalid(() => pinOptionsFromQuery(q('origins=/bogus/1')), 'origins')
  })
})

describe('parseGoDuration', () => {
  test('valid', () => {
    expect(parseGoDuration('0')).toBe(0)
    expect(parseGoDuration('1s')).toBe(1000)
    expect(parseGoDuration('1h30m')).toBe(5_400_000)
    expect(parseGoDuration('1.5h')).toBe(5_400_000)
    expect(parseGoDuration('300ms')).toBe(300)
    expect(parseGoDuration('-2m')).toBe(-120_000)
    expect(parseGoDuration('1h2m3s4ms5us6ns')).toBeCloseTo(3_723_004.005006, 6)
    expect(parseGoDuration('2µs')).toBeCloseTo(0.002, 9)
  })
  test('invalid', () => {
    for (const s of ['', '1', 'h', '1x', '1h ', '--1s', '1.2.3s']) expect(() => parseGoDuration(s, 'd')).toThrow('d cannot be parsed')
  })
})

describe('filters', () => {
  test('status filter with aliases', () => {
    expect([...statusFilterFromQuery('')]).toEqual([])
    expect([...statusFilterFromQuery('pinned')]).toEqual(['pinned'])
    expect([...statusFilterFromQuery('queued, pinned')].sort()).toEqual(['pin_queued', 'pinned', 'unpin_queued'])
    expect([...statusFilterFromQuery('pinned,bogus')]).toEqual(['pinned'])
    expectInvalid(() => statusFilterFromQuery('bogus'), 'invalid filter value')
  })
  test('pin type filter', () => {
    expect(pinTypeFilterFromQuery('')).toBeNull()
    expect(pinTypeFilterFromQuery('all')).toBeNull()
    expect([...pinTypeFilterFromQuery('pin,shard-pin')!]).toEqual(['pin', 'shard-pin'])
    expectInvalid(() => pinTypeFilterFromQuery('pins'), 'invalid filter value')
  })
})
