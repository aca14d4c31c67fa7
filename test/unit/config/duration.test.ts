import { describe, expect, test } from 'bun:test'
import { formatDuration, InvalidDurationError, parseDuration } from '../../../src/config/index.ts'

describe('parseDuration (Go time.ParseDuration)', () => {
  const cases: Array<[string, number]> = [
    ['0', 0],
    ['0s', 0],
    ['500ms', 500],
    ['15s', 15_000],
    ['2m0s', 120_000],
    ['1h0m0s', 3_600_000],
    ['24h0m0s', 86_400_000],
    ['0h2m0s', 120_000],
    ['1.5s', 1500],
    ['1m30.5s', 90_500],
    ['-5s', -5000],
    ['+5s', 5000],
    ['1us', 0.001],
    ['1µs', 0.001],
    ['1μs', 0.001],
    ['100ns', 0.0001],
    ['.5s', 500],
    ['1h1m1s1ms', 3_661_001]
  ]
  for (const [s, ms] of cases) {
    test(`${s} -> ${ms}ms`, () => {
      expect(parseDuration(s)).toBeCloseTo(ms, 9)
    })
  }

  for (const bad of ['', '5', '1x', 'abc', '.s', 's', '1.2.3s', '-', '5 s']) {
    test(`rejects ${JSON.stringify(bad)}`, () => {
      expect(() => parseDuration(bad)).toThrow(InvalidDurationError)
    })
  }
})

describe('formatDuration (Go Duration.String)', () => {
  const cases: Array<[number, string]> = [
    [0, '0s'],
    [500, '500ms'],
    [1.5, '1.5ms'],
    [0.0015, '1.5µs'],
    [0.000001, '1ns'],
    [1000, '1s'],
    [1500, '1.5s'],
    [15_000, '15s'],
    [120_000, '2m0s'],
    [90_500, '1m30.5s'],
    [3_600_000, '1h0m0s'],
    [86_400_000, '24h0m0s'],
    [10_800_000, '3h0m0s'],
    [-15_000, '-15s']
  ]
  for (const [ms, s] of cases) {
    test(`${ms}ms -> ${s}`, () => {
      expect(formatDuration(ms)).toBe(s)
    })
  }

  test('round-trips', () => {
    for (const s of ['0s', '500ms', '2m0s', '1h0m0s', '1m30.5s', '1.5µs', '12m0s', '30m0s', '-1h0m0s']) {
      expect(formatDuration(parseDuration(s))).toBe(s)
    }
  })
})
