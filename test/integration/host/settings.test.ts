/** `/health/bandwidth` counters, `enable_relay_hop` and `resource_manager` on real libp2p hosts over loopback. */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { type ClusterHost, createPubsubAdapter } from '../../../src/host/index.ts'
import { RELAY_V2_HOP_CODEC } from '@libp2p/circuit-relay-v2'
import { waitFor } from '../../../scripts/launcher/poll.ts'
import { captureLogs, makeHost, tempDir } from './helpers.ts'
import { setLogLevels } from '../../../src/observability/logging.ts'

let dir: { path: string; cleanup: () => Promise<void> }
const hosts: ClusterHost[] = []
let logs: ReturnType<typeof captureLogs>

beforeAll(async () => {
  dir = await tempDir()
  logs = captureLogs()
  setLogLevels('warn,host:info')
})

afterAll(async () => {
  await Promise.allSettled(hosts.map((h) => h.stop()))
  logs.restore()
  await dir.cleanup()
})

async function started(name: string, over = {}): Promise<ClusterHost> {
  const h = await makeHost(dir.path, name, over)
  hosts.push(h)
  await h.start()
  return h
}

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
    expect(logs.lines.some((l) => l.includes('resource manager ENABLED') && l.includes('max_fds 8') && l.includes('max connections 8'))).toBe(true)
    await started('rm-off', { resourceManager: { enabled: false, memoryLimitBytes: 0, fileDescriptorsLimit: 0 } })
    expect(logs.lines.some((l) => l.includes('resource manager DISABLED'))).toBe(true)
  })
})
