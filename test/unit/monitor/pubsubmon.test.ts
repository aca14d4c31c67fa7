import { afterAll, describe, expect, test } from 'bun:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { decode, encode } from '@msgpack/msgpack'
import { makeMetric } from '../../../src/informer/metric.ts'
import { decodeMetric, encodeMetric } from '../../../src/monitor/pubsubmon/codec.ts'
import { createPubsubMonitor, type MonitorPubsub, PUBSUB_TOPIC } from '../../../src/monitor/pubsubmon/index.ts'
import { setLogReporters } from '../../../src/observability/logging.ts'
import type { Alert } from '../../../src/types/index.ts'
import { waitFor } from '../../../scripts/launcher/poll.ts'

setLogReporters([])
afterAll(() => setLogReporters(undefined))

const newPeer = async () => peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()

/** An in-memory pubsub bus; each peer gets a view that delivers to every subscriber with `from`. */
function bus() {
  const subs = new Map<string, Set<(d: Uint8Array, from: string) => void>>()
  const published: { topic: string; data: Uint8Array; from: string }[] = []
  return {
    published,
    peer(from: string): MonitorPubsub {
      return {
        async publish(topic, data) {
          published.push({ topic, data, from })
          for (const h of subs.get(topic) ?? []) h(data, from)
        },
        subscribe(topic, handler) {
          let set = subs.get(topic)
          if (set === undefined) {
            set = new Set()
            subs.set(topic, set)
          }
          set.add(handler)
          return () => set.delete(handler)
        }
      }
    },
    subscribers: (topic: string) => subs.get(topic)?.size ?? 0
  }
}

describe('metric msgpack codec', () => {
  test('round trip with upstream codec keys, omitempty, int64 times, binary peer', async () => {
    const peer = await newPeer()
    const m = makeMetric({
      name: 'freespace',
      peer,
      value: '1234',
      expire: 1_763_840_000_123_456_000,
      valid: true,
      weight: 1234,
      partitionable: false,
      receivedAt: 0
    })
    const bytes = encodeMetric(m)
    const raw = decode(bytes, { useBigInt64: true, rawStrings: true }) as Record<string, unknown>
    expect(Object.keys(raw).sort()).toEqual(['d', 'e', 'n', 'p', 'v', 'w'])
    expect(typeof raw.e).toBe('bigint')
    expect(raw.p).toBeInstanceOf(Uint8Array)
    expect(decodeMetric(bytes)).toEqual(m)
  })

  test('decodes strings sent as raw bytes (Go peer.ID in str format) and the old multicodec header', async () => {
    const peer = await newPeer()
    const { peerIdFromString } = await import('@libp2p/peer-id')
    const mh = peerIdFromString(peer).toMultihash().bytes
    // emulate ugorji old-spec: every string and the peer's bytes as msgpack str
    const enc = new TextEncoder()
    const body = encode({ n: enc.encode('ping'), p: mh, v: enc.encode('{}'), e: 5, d: true, o: false })
    const m = decodeMetric(body)
    expect(m).toMatchObject({ name: 'ping', peer, value: '{}', expire: 5, valid: true })
    const old = new Uint8Array([9, ...enc.encode('/msgpack\n'), ...encodeMetric(m)])
    expect(decodeMetric(old)).toEqual(m)
    expect(() => decodeMetric(encode([1, 2]))).toThrow()
    // hand-made msgpack: {n: str "ping", p: str8 <raw multihash bytes, not UTF-8>}
    const str8 = new Uint8Array([0x82, 0xa1, 0x6e, 0xa4, ...enc.encode('ping'), 0xa1, 0x70, 0xd9, mh.length, ...mh])
    expect(decodeMetric(str8)).toMatchObject({ name: 'ping', peer, valid: false })
  })
})

describe('pubsub monitor', () => {
  test('single peer: publishMetric logs locally; latestMetrics/latestForPeer/metricNames', async () => {
    const me = await newPeer()
    const mon = createPubsubMonitor({ checkIntervalMs: 60_000, peerId: me })
    await mon.start()
    const m = makeMetric({ name: 'ping', peer: me, valid: true, expire: (Date.now() + 60_000) * 1e6 })
    await mon.publishMetric(m)
    const [got] = await mon.latestMetrics('ping')
    expect(got?.peer).toBe(me)
    expect(got!.receivedAt).toBeGreaterThan(0)
    expect(mon.latestForPeer('ping', me)?.name).toBe('ping')
    expect(mon.metricNames()).toEqual(['ping'])
    // invalid metrics are not published nor logged
    await mon.publishMetric(makeMetric({ name: 'freespace', peer: me, valid: false }))
    expect(mon.metricNames()).toEqual(['ping'])
    await mon.stop()
    await mon.stop()
  })

  test('two monitors share metrics over an in-memory pubsub', async () => {
    const b = bus()
    const [pa, pb] = [await newPeer(), await newPeer()]
    const a = createPubsubMonitor({ checkIntervalMs: 60_000, peerId: pa }, { pubsub: b.peer(pa) })
    const c = createPubsubMonitor({ checkIntervalMs: 60_000, peerId: pb }, { pubsub: b.peer(pb) })
    await a.start()
    await c.start()
    await a.start() // idempotent: one subscription
    expect(b.subscribers(PUBSUB_TOPIC)).toBe(2)
    const exp = (Date.now() + 60_000) * 1e6
    await a.publishMetric(makeMetric({ name: 'freespace', peer: pa, value: '10', weight: 10, valid: true, expire: exp }))
    await c.publishMetric(makeMetric({ name: 'freespace', peer: pb, value: '20', weight: 20, valid: true, expire: exp }))
    expect(b.published.every((p) => p.topic === PUBSUB_TOPIC)).toBe(true)
    for (const mon of [a, c]) {
      const ms = await mon.latestMetrics('freespace')
      expect(ms.map((m) => m.peer).sort()).toEqual([pa, pb].sort())
      expect(ms.find((m) => m.peer === pb)?.weight).toBe(20)
    }
    await a.stop()
    await c.stop()
    expect(b.subscribers(PUBSUB_TOPIC)).toBe(0)
  })

  test('peerset filter applies to latestMetrics and checks', async () => {
    const me = await newPeer()
    const other = await newPeer()
    const mon = createPubsubMonitor({ checkIntervalMs: 60_000, peerId: me }, { peers: async () => [me] })
    await mon.start()
    const exp = (Date.now() + 60_000) * 1e6
    await mon.logMetric(makeMetric({ name: 'ping', peer: me, valid: true, expire: exp }))
    await mon.logMetric(makeMetric({ name: 'ping', peer: other, valid: true, expire: exp }))
    expect((await mon.latestMetrics('ping')).map((m) => m.peer)).toEqual([me])
    await mon.stop()
  })

  test('expired metric raises one alert on the timer; alerts() newest first; none after stop', async () => {
    let now = Date.now()
    const clock = () => now
    const me = await newPeer()
    const other = await newPeer()
    const mon = createPubsubMonitor({ checkIntervalMs: 10, peerId: me }, { clock })
    const seen: Alert[] = []
    const off = mon.onAlert((a) => seen.push(a))
    await mon.start()
    await mon.logMetric(makeMetric({ name: 'ping', peer: other, valid: true, expire: (now + 1000) * 1e6 }))
    await mon.logMetric(makeMetric({ name: 'freespace', peer: other, valid: true, expire: (now + 5000) * 1e6 }))
    now += 2000
    await waitFor(() => seen.length === 1, 'seen.length === 1', 2000, 5)
    expect(seen[0]).toMatchObject({ name: 'ping', peer: other })
    // more timer rounds do not re-alert the same expiry
    await mon.check()
    await mon.check()
    expect(seen.length).toBe(1)
    now += 10_000
    await waitFor(() => seen.length === 2, 'seen.length === 2', 2000, 5)
    expect(mon.alerts().map((a) => a.name)).toEqual(['freespace', 'ping'])
    // renewal resets: a new expiry alerts again
    await mon.logMetric(makeMetric({ name: 'ping', peer: other, valid: true, expire: (now + 1000) * 1e6 }))
    now += 2000
    await waitFor(() => seen.length === 3, 'seen.length === 3', 2000, 5)
    off()
    await mon.stop()
    await mon.logMetric(makeMetric({ name: 'ping', peer: other, valid: true, expire: (now + 1) * 1e6 }))
    now += 1000
    await mon.check()
    expect(mon.alerts().length).toBe(3)
  })

  test('rejects a bad check interval', () => {
    expect(() => createPubsubMonitor({ checkIntervalMs: 0, peerId: 'x' })).toThrow()
  })
})
