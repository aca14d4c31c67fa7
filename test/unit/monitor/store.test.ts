import { describe, expect, test } from 'bun:test'
import { makeMetric } from '../../../src/informer/metric.ts'
import { Checker, FAILED_COUNT_RESET } from '../../../src/monitor/metrics/checker.ts'
import { MetricsStore } from '../../../src/monitor/metrics/store.ts'
import { Window } from '../../../src/monitor/metrics/window.ts'
import type { Alert } from '../../../src/types/index.ts'

let now = 1_000_000
const clock = () => now
const ns = (ms: number) => ms * 1e6
const metric = (name: string, peer: string, ttlMs: number, extra = {}) =>
  makeMetric({ name, peer, value: 'v', valid: true, expire: ns(now + ttlMs), ...extra })

describe('window', () => {
  test('keeps the last N, newest first, stamps receivedAt', () => {
    const w = new Window(3, clock)
    expect(w.latest()).toBeUndefined()
    for (let i = 0; i < 5; i++) w.add(metric('m', 'p', 10, { value: String(i) }))
    expect(w.latest()?.value).toBe('4')
    expect(w.latest()?.receivedAt).toBe(ns(now))
    expect(w.all().map((m) => m.value)).toEqual(['4', '3', '2'])
    expect(() => new Window(0)).toThrow('invalid windowCap')
  })
})

describe('store', () => {
  test('latestValid drops invalid and expired, sorted by peer', () => {
    now = 1_000_000
    const s = new MetricsStore({ clock })
    s.add(metric('freespace', 'b', 100))
    s.add(metric('freespace', 'a', 100))
    s.add(metric('freespace', 'c', 100, { valid: false }))
    s.add(metric('freespace', 'd', 10))
    s.add(metric('ping', 'a', 100))
    now += 50
    expect(s.latestValid('freespace').map((m) => m.peer)).toEqual(['a', 'b'])
    expect(s.latestValid('nope')).toEqual([])
    expect(s.latest('freespace')).toEqual(s.latestValid('freespace'))
    expect(s.allMetrics().length).toBe(4) // valid latest, expired included
    expect(s.peerMetrics('a').map((m) => m.name).sort()).toEqual(['freespace', 'ping'])
    expect(s.peerLatest('freespace', 'd')?.peer).toBe('d')
    expect(s.metricNames().sort()).toEqual(['freespace', 'ping'])
    s.removePeer('a')
    expect(s.latestValid('ping')).toEqual([])
    s.removePeerMetrics('b', 'freespace')
    expect(s.latestValid('freespace')).toEqual([])
  })
})

describe('checker', () => {
  test('alerts once per expiry, again after a renewal expires', () => {
    now = 1_000_000
    const s = new MetricsStore({ clock })
    const alerts: Alert[] = []
    const c = new Checker(s, (a) => alerts.push(a), clock)
    s.add(metric('ping', 'p1', 100))
    s.add(metric('ping', 'p2', 1000))
    c.checkPeers(['p1', 'p2', 'p3'])
    expect(alerts).toEqual([])
    now += 200
    c.checkPeers(['p1', 'p2', 'p3'])
    c.checkPeers(['p1', 'p2', 'p3'])
    c.checkAll()
    expect(alerts.map((a) => [a.name, a.peer])).toEqual([['ping', 'p1']])
    expect(alerts[0]!.triggeredAt.getTime()).toBe(now)
    expect(alerts[0]!.value).toBe('v')
    // renewal then expiry: alerts again
    s.add(metric('ping', 'p1', 100))
    c.resetAlerts('p1', 'ping')
    c.checkAll()
    expect(alerts.length).toBe(1)
    now += 200
    c.checkAll()
    expect(alerts.length).toBe(2)
  })

  test('silenced failures are forgotten after 300 checks, as upstream', () => {
    now = 1_000_000
    const s = new MetricsStore({ clock })
    let n = 0
    const c = new Checker(s, () => n++, clock)
    s.add(metric('ping', 'p1', 1))
    now += 10
    for (let i = 0; i < FAILED_COUNT_RESET; i++) c.checkAll()
    expect(n).toBe(1)
    c.checkAll()
    expect(n).toBe(2)
  })
})
