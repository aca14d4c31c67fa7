/**
 * Helpers for `Metric` times, mirroring upstream `api.Metric` methods
 * (`SetTTL`, `Expired`, `Discard`, `GetTTL` in `api/types.go`).
 *
 * Times in a metric are nanoseconds since the Unix epoch as a `number`
 * (upstream `int64`); millisecond clocks are scaled by 1e6, so the
 * precision is that of `Date.now()`.
 */
import type { Metric } from '../types/index.ts'

/** A millisecond clock, `Date.now` by default (tests inject their own). */
export type Clock = () => number

/** Nanoseconds in a millisecond. */
export const NS_PER_MS = 1_000_000

/** `now` in nanoseconds since the Unix epoch. */
export function nowNs(clock: Clock = Date.now): number {
  return clock() * NS_PER_MS
}

/** The `expire` value of a metric issued now with a TTL of `ttlMs` milliseconds (upstream `SetTTL`). */
export function expireIn(ttlMs: number, clock: Clock = Date.now): number {
  return (clock() + ttlMs) * NS_PER_MS
}

/** True when the metric's expiry time has passed (upstream `Metric.Expired`). */
export function isExpired(m: Pick<Metric, 'expire'>, clock: Clock = Date.now): boolean {
  return nowNs(clock) > m.expire
}

/** True when the metric is invalid or expired (upstream `Metric.Discard`). */
export function isDiscarded(m: Pick<Metric, 'expire' | 'valid'>, clock: Clock = Date.now): boolean {
  return !m.valid || isExpired(m, clock)
}

/** Milliseconds left before the metric expires, 0 when expired (upstream `GetTTL`). */
export function ttlLeftMs(m: Pick<Metric, 'expire'>, clock: Clock = Date.now): number {
  return Math.max(0, m.expire / NS_PER_MS - clock())
}

/** True when the metric has a name (upstream `Metric.Defined`). */
export function isDefined(m: Pick<Metric, 'name'>): boolean {
  return m.name !== ''
}

/** A metric with upstream's zero values, overridden by `fields`. */
export function makeMetric(fields: Partial<Metric>): Metric {
  return {
    name: '',
    peer: '',
    value: '',
    expire: 0,
    valid: false,
    weight: 0,
    partitionable: false,
    receivedAt: 0,
    ...fields
  }
}
