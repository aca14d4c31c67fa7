import { describe, expect, test } from 'bun:test'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createPubsubAdapter, filterListenAddrs, pskFromSecret } from '../../../src/host/index.ts'
import { hostSuite } from './helpers.ts'
import { waitFor } from '../../../scripts/launcher/poll.ts'
import { RELAY_V2_HOP_CODEC } from '@libp2p/circuit-relay-v2'

const suite = hostSuite('warn,host:info,p2p:info')
const started = suite.started

describe('cluster host', () => {
  test('listens on loopback, drops quic, addresses end in /p2p/<id>', async () => {
    const a = await started('a0')
    const addrs = a.addresses()
    expect(addrs.length).toBeGreaterThan(0)
    for (const x of addrs) {
      expect(x).toContain('/tcp/')
      expect(x.endsWith(`/p2p/${a.peerId}`)).toBe(true)
    }
    await a.start() // idempotent
    await a.stop()
    await a.stop()
  })

  test('three hosts with the same secret bootstrap and exchange gossipsub messages', async () => {
    const a = await started('a')
    const b = await started('b')
    const c = await started('c')
    expect(await b.bootstrap(a.addresses())).toBe(a.peerId)
    expect(await c.bootstrap([...b.addresses()])).toBe(b.peerId)
    expect(b.connectedPeers()).toContain(a.peerId)
    const topic = 'test-topic'
    const got: Record<string, Array<{ data: string; from: string }>> = { a: [], b: [], c: [] }
    const pa = createPubsubAdapter(a)
    const pb = createPubsubAdapter(b)
    const pc = createPubsubAdapter(c)
    pa.subscribe(topic, (d, from) => got.a!.push({ data: new TextDecoder().decode(d), from }))
    pb.subscribe(topic, (d, from) => got.b!.push({ data: new TextDecoder().decode(d), from }))
    const unsubC = pc.subscribe(topic, (d, from) => got.c!.push({ data: new TextDecoder().decode(d), from }))
    await waitFor(() => pb.subscribers(topic).length >= 2 && pa.subscribers(topic).includes(b.peerId) && pc.subscribers(topic).includes(b.peerId), 'subscriptions', 5000, 20)
    // c is only connected to b: a's message reaches c through b's mesh
    await waitFor(
      async () => {
        await pa.publish(topic, new TextEncoder().encode('hello from a'))
        return got.c!.some((m) => m.data === 'hello from a')
      },
      'message a -> c',
      8000,
      20
    )
    expect(got.c!.find((m) => m.data === 'hello from a')?.from).toBe(a.peerId)
    expect(got.b!.some((m) => m.data === 'hello from a' && m.from === a.peerId)).toBe(true)
    expect(got.a!.some((m) => m.data === 'hello from a')).toBe(false) // no emitSelf
    await pc.publish(topic, new TextEncoder().encode('hello from c'))
    await waitFor(() => got.a!.some((m) => m.data === 'hello from c' && m.from === c.peerId), 'message c -> a', 5000, 20)
    unsubC()
    unsubC()
  })

  test('a host with a different secret cannot connect and the log says why', async () => {
    const a = await started('s1')
    const other = await started('s2', { secret: new Uint8Array(32).fill(9) })
    const before = suite.logs.length
    let err: Error | undefined
    try {
      await other.bootstrap(a.addresses())
    } catch (e) {
      err = e as Error
    }
    expect(err?.name).toBe('BootstrapError')
    expect(err?.message).toContain('private network handshake failed (wrong cluster secret?)')
    expect(err?.message).toContain(a.addresses()[0]!)
    await waitFor(
      () => suite.logs.slice(before).some((l) => l.includes('connection from') && l.includes('wrong cluster secret?')),
      'inbound-side log',
      3000,
      20
    )
    expect(suite.logs.slice(before).some((l) => l.includes(`connection to ${a.addresses()[0]}`) && l.includes('wrong cluster secret?'))).toBe(true)
    expect(a.connectedPeers()).not.toContain(other.peerId)
  })

  test('a host without a secret cannot join a private cluster', async () => {
    const a = await started('n1')
    const open = await started('n2', { secret: null })
    await expect(open.bootstrap(a.addresses())).rejects.toThrow()
    await waitFor(() => suite.logs.some((l) => l.includes('connection from') && l.includes('wrong cluster secret?')), 'log', 3000, 20)
  })

  test('bootstrap names every failed address', async () => {
    const a = await started('f1')
    const err = await a.bootstrap(['/ip4/127.0.0.1/tcp/1/p2p/12D3KooWGRUVh2VYm4vBzd5HHL9bLBWZVp3Ypa4kHPSjRnXhaL9f']).catch((e: Error) => e)
    expect((err as Error).name).toBe('BootstrapError')
    expect((err as Error).message).toContain('/ip4/127.0.0.1/tcp/1/')
    await expect(a.bootstrap(['not-a-multiaddr'])).rejects.toThrow(/invalid bootstrap multiaddress/)
  })

  test('peerstore is written on stop and used at start to reconnect', async () => {
    const a = await started('p1')
    const bKeyHost = await suite.make('p2')
    await bKeyHost.start()
    await bKeyHost.bootstrap(a.addresses())
    await waitFor(() => bKeyHost.knownPeers().includes(a.peerId), 'identify', 3000, 20)
    await bKeyHost.stop()
    const text = await readFile(join(suite.dir, 'p2-peerstore'), 'utf8')
    const lines = text.trim().split('\n')
    expect(lines.length).toBeGreaterThan(0)
    for (const l of lines) expect(l.endsWith(`/p2p/${a.peerId}`)).toBe(true)
    // a new host (same peerstore file) reconnects to a by itself
    const b2 = await suite.make('p2')
    await b2.start()
    await waitFor(() => b2.connectedPeers().includes(a.peerId), 'reconnect from peerstore', 5000, 20)
  })

  test('peer_addresses are dialed at start', async () => {
    const a = await started('q1')
    await writeFile(join(suite.dir, 'q2-peerstore'), '')
    const b = await started('q2', { peerAddresses: a.addresses() })
    await waitFor(() => b.connectedPeers().includes(a.peerId), 'peer_addresses dial', 5000, 20)
  })

  test('announce_multiaddress replaces and no_announce_multiaddress filters the announced addresses', async () => {
    const a = await started('ann', {
      announceMultiaddress: ['/ip4/1.2.3.4/tcp/9096', '/ip4/5.6.7.8/tcp/9096'],
      noAnnounceMultiaddress: ['/ip4/5.6.7.8/tcp/9096']
    })
    expect(a.addresses()).toEqual([`/ip4/1.2.3.4/tcp/9096/p2p/${a.peerId}`])
  })

  test('the DHT routes among cluster peers', async () => {
    const a = await started('d1')
    const b = await started('d2')
    const c = await started('d3')
    await a.bootstrap(b.addresses())
    await c.bootstrap(b.addresses())
    expect(a.connectedPeers()).not.toContain(c.peerId)
    const cId = c.libp2p.peerId
    await waitFor(
      async () => {
        try {
          const info = await a.libp2p.peerRouting.findPeer(cId, { signal: AbortSignal.timeout(1000) })
          return info.multiaddrs.length > 0
        } catch {
          return false
        }
      },
      'findPeer through the DHT',
      8000,
      20
    )
  })

  test('mDNS discovery connects peers when mdns_interval > 0', async () => {
    const a = await started('m1', { mdnsIntervalMs: 200 })
    const b = await started('m2', { mdnsIntervalMs: 200 })
    await waitFor(() => a.connectedPeers().includes(b.peerId) || b.connectedPeers().includes(a.peerId), 'mdns connection', 8000, 20)
  })
})

describe('host helpers', () => {
  test('pskFromSecret writes the pnet key file format', () => {
    const secret = new Uint8Array(32).map((_, i) => i)
    expect(new TextDecoder().decode(pskFromSecret(secret))).toBe(
      '/key/swarm/psk/1.0.0/\n/base16/\n000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f'
    )
    expect(() => pskFromSecret(new Uint8Array(16))).toThrow(RangeError)
  })

  test('filterListenAddrs drops quic and rejects malformed addresses', () => {
    expect(filterListenAddrs(['/ip4/0.0.0.0/tcp/9096', '/ip4/0.0.0.0/udp/9096/quic', '/ip4/0.0.0.0/udp/9096/quic-v1'])).toEqual([
      '/ip4/0.0.0.0/tcp/9096'
    ])
    expect(() => filterListenAddrs(['nope'])).toThrow(/invalid listen multiaddress/)
  })
})

describe('host settings that act', () => {
  test('bandwidthByProtocol counts the bytes of each protocol on both sides', async () => {
    const a = await started('bw-a')
    const b = await started('bw-b')
    expect(a.bandwidthByProtocol()).toEqual({})
    await b.bootstrap(a.addresses())
    const pa = createPubsubAdapter(a)
    const pb = createPubsubAdapter(b)
    const got: string[] = []
    pb.subscribe('bw', (d) => got.push(new TextDecoder().decode(d)))
    pa.subscribe('bw', () => {})
    const payload = 'x'.repeat(10_000)
    await waitFor(
      async () => {
        await pa.publish('bw', new TextEncoder().encode(payload))
        return got.length > 0
      },
      'gossipsub message',
      8000,
      50
    )
    const sent = a.bandwidthByProtocol()
    const recv = b.bandwidthByProtocol()
    const gs = Object.keys(sent).find((p) => p.startsWith('/meshsub/'))
    expect(gs).toBeDefined()
    expect(sent[gs!]!.total_out).toBeGreaterThanOrEqual(payload.length)
    expect(recv[gs!]!.total_in).toBeGreaterThanOrEqual(payload.length)
    expect(sent['/ipfs/id/1.0.0']).toBeDefined()
    for (const s of Object.values(sent)) {
      expect(Object.keys(s).sort()).toEqual(['rate_in', 'rate_out', 'total_in', 'total_out'])
      expect(s.rate_in).toBeGreaterThanOrEqual(0)
    }
  })

  test('enable_relay_hop runs the circuit relay v2 hop service; off, the protocol is not served', async () => {
    const on = await started('relay-on', { enableRelayHop: true })
    const off = await started('relay-off', { enableRelayHop: false })
    expect(on.libp2p.getProtocols()).toContain(RELAY_V2_HOP_CODEC)
    expect(off.libp2p.getProtocols()).not.toContain(RELAY_V2_HOP_CODEC)
    expect(on.libp2p.services.relay).toBeDefined()
  })

  test('resource_manager file_descriptors_limit caps the connections; disabled logs so', async () => {
    await started('rm-on', { resourceManager: { enabled: true, memoryLimitBytes: 0, fileDescriptorsLimit: 8 } })
    expect(suite.logs.some((l) => l.includes('resource manager ENABLED') && l.includes('max_fds 8') && l.includes('max connections 8'))).toBe(true)
    await started('rm-off', { resourceManager: { enabled: false, memoryLimitBytes: 0, fileDescriptorsLimit: 0 } })
    expect(suite.logs.some((l) => l.includes('resource manager DISABLED'))).toBe(true)
  })
})
