/**
 * e2e, a hostile cluster member: a libp2p host holding the cluster secret
 * (and trusted, so its messages reach the decoders) joins a peer of the
 * compiled binary and publishes malformed CRDT broadcasts and metrics. The
 * peer drops and logs each, keeps running and keeps pinning, and its
 * `/health/bandwidth` shows the bytes received. `--tracing` is refused (issue 11).
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { type ClusterPeer, initPeer, type Kubo, runBinary, startKubo, stopAllKubos, waitFor } from '../../scripts/launcher/index.ts'
import { type ClusterHost, createPubsubAdapter } from '../../src/host/index.ts'
import { crdtTopic, encodeBroadcast } from '../../src/consensus/crdt/index.ts'
import { encodeMetric, PUBSUB_TOPIC } from '../../src/monitor/pubsubmon/index.ts'
import { makeHost } from '../integration/host/helpers.ts'

let kubo: Kubo
let peer: ClusterPeer
let host: ClusterHost
let dir: string

beforeAll(async () => {
  kubo = await startKubo()
  peer = await initPeer({ ipfsApi: kubo.apiMultiaddr, env: { CLUSTER_CRDT_TRUSTEDPEERS: '*' } })
  await peer.start()
  dir = await mkdtemp(join(tmpdir(), 'hostile-peer-'))
  const cfg = (await peer.readConfig()) as { cluster: { secret: string } }
  host = await makeHost(dir, 'mallory', { secret: Uint8Array.from(Buffer.from(cfg.cluster.secret, 'hex')) })
  await host.start()
})

afterAll(async () => {
  await host?.stop()
  await peer?.destroy()
  await stopAllKubos()
  await rm(dir, { recursive: true, force: true })
})

/** Valid encodings with bytes flipped or cut, plus plain garbage. */
function malformed(valid: Uint8Array, n: number): Uint8Array[] {
  const out: Uint8Array[] = [new Uint8Array(0), randomBytes(1), randomBytes(300)]
  for (let i = 0; out.length < n; i++) {
    const m = valid.slice(0, Math.max(1, valid.length - (i % 7)))
    m[i % m.length] = (m[i % m.length]! + 1 + i) & 0xff
    out.push(m)
  }
  return out
}

describe('malformed messages from a live peer', () => {
  test('malformed CRDT broadcasts and metrics are dropped and logged; the peer lives on and keeps pinning', async () => {
    const idOut = await peer.ctl(['--enc', 'json', 'id'])
    const id = JSON.parse(idOut.stdout) as { id: string; addresses: string[] }
    await host.bootstrap(id.addresses.filter((a) => a.includes('/127.0.0.1/')))
    const pubsub = createPubsubAdapter(host)
    const crdt = await crdtTopic('ipfs-cluster')
    const unsubs = [pubsub.subscribe(crdt, () => {}), pubsub.subscribe(PUBSUB_TOPIC, () => {})]
    await waitFor(() => pubsub.subscribers(crdt).includes(id.id) && pubsub.subscribers(PUBSUB_TOPIC).includes(id.id), 'the peer on both topics', 30_000, 100)

    const head = CID.createV1(0x70, await sha256.digest(randomBytes(16)))
    const metric = encodeMetric({ name: 'freespace', peer: host.peerId, value: '1', expire: Date.now() * 1e6 + 60e9, valid: true, weight: 1, partitionable: false, receivedAt: 0 })
    const badBroadcasts = malformed(encodeBroadcast([head]), 25)
    const badMetrics = malformed(metric, 25)
    // gossipsub may not have grafted the peer yet: publish until the peer has logged both kinds
    await waitFor(
      async () => {
        for (const b of badBroadcasts) await pubsub.publish(crdt, b)
        for (const m of badMetrics) await pubsub.publish(PUBSUB_TOPIC, m)
        return peer.logs.includes('decoding broadcast') && peer.logs.includes(`decoding metric from ${host.peerId}`)
      },
      'the peer to log the malformed messages',
      60_000,
      500
    )
    for (const u of unsubs) u()
    expect(peer.proc?.exitCode).toBeNull()
    expect(peer.logs).not.toMatch(/uncaught|unhandled/i)
    // and the peer still works
    const cid = (await kubo.ipfsOk(['add', '-Q', '--pin=false'], { input: randomBytes(2048) })).trim()
    const r = await peer.ctl(['pin', 'add', cid])
    expect(`${r.code} ${r.stderr}`).toStartWith('0 ')
    await waitFor(async () => (await peer.ctl(['--enc', 'json', 'status', cid])).stdout.includes('"pinned"'), 'the pin', 60_000, 250)
    const ls = await peer.ctl(['--enc', 'json', 'pin', 'ls'])
    expect(ls.stdout).toContain(cid)
    // /health/bandwidth counted what this host sent, per protocol (upstream's JSON)
    const bw = (await (await fetch(`${peer.apiUrl}/health/bandwidth`)).json()) as Record<string, { total_in: number; total_out: number; rate_in: number; rate_out: number }>
    const meshsub = Object.entries(bw).find(([proto]) => proto.startsWith('/meshsub/'))
    expect(meshsub).toBeDefined()
    expect(meshsub![1].total_in).toBeGreaterThan(1000)
    expect(Object.keys(meshsub![1]).sort()).toEqual(['rate_in', 'rate_out', 'total_in', 'total_out'])
  }, 180_000)

  test('daemon --tracing and enable_tracing=true are refused at start, naming the key', async () => {
    const r = await runBinary(['service', '-c', peer.folder, 'daemon', '--tracing'], { env: peer.env, timeoutMs: 30_000 })
    expect(r.code).not.toBe(0)
    expect(r.stderr + r.stdout).toContain('observations.tracing.enable_tracing')
    const env = await runBinary(['service', '-c', peer.folder, 'daemon'], { env: { ...peer.env, CLUSTER_TRACING_ENABLETRACING: 'true' }, timeoutMs: 30_000 })
    expect(env.code).not.toBe(0)
    expect(env.stderr + env.stdout).toContain('tracing is not supported')
  }, 60_000)
})
