/**
 * e2e, mixed cluster: one upstream Go peer (ipfs-cluster-service v1.1.6,
 * built by scripts/upstream.sh) and two of our peers (compiled binary), each
 * with its own real kubo, crdt consensus, one secret, every peer trusted
 * (`trusted_peers: ["*"]`), all on 127.0.0.1.
 *
 * Topology: our peer A starts alone; the Go peer starts with `--bootstrap A`
 * and our peer B with `--bootstrap A`. The three share ONE pinset: pins and
 * unpins made through either implementation's API reach the other's pinset
 * and kubo. What crosses: crdt head broadcasts on gossipsub, crdt blocks over
 * bitswap, ping/informer metrics on gossipsub. What does not yet: the
 * peer-to-peer RPC (upstream's go-libp2p-gorpc wire), so `peers ls` lists
 * the other side's peers with an error instead of their details, and the
 * cluster does not connect the kubos across (upstream does it with RPC
 * `Cluster.Peers`): this test connects the kubos itself.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { randomBytes } from 'node:crypto'
import { type ClusterPeer, initPeer, type Kubo, startKubo, stopAllKubos, waitFor, FAST_TIMINGS } from '../../scripts/launcher/index.ts'
import { type GoClusterPeer, initGoPeer, parseJsonValues } from '../helpers/upstream.ts'

const SECRET = randomBytes(32).toString('hex')
const OURS_FAST = {
  ...FAST_TIMINGS,
  // a new gossipsub mesh forms at a heartbeat (upstream's default is 10 s)
  CLUSTER_PUBSUB_HEARTBEATINTERVAL: '1s'
}
/** Every wait for the other side is bounded by this. */
const CROSS_MS = 30_000

let kA: Kubo
let kB: Kubo
let kG: Kubo
let a: ClusterPeer
let b: ClusterPeer
let go: GoClusterPeer
let idA = ''
let idB = ''
const crossed: string[] = []

interface PinJSON {
  cid: string
  name: string
  replication_factor_min: number
  replication_factor_max: number
  allocations: string[]
}

interface PeerJSON {
  id: string
  peername?: string
  error?: string
}

function logsTail(): string {
  const tail = (s: string): string => s.slice(-5000)
  return [
    `--- our peer A (${idA}) ---\n${tail(a?.logs ?? '')}`,
    `--- our peer B (${idB}) ---\n${tail(b?.logs ?? '')}`,
    `--- upstream Go peer (${go?.id}) ---\n${tail(go?.logs ?? '')}`
  ].join('\n')
}

/** `waitFor` that fails with the three daemons' logs. */
async function converge<T>(fn: () => Promise<T | undefined | false>, what: string, timeoutMs = CROSS_MS): Promise<T> {
  return waitFor(fn, what, timeoutMs, 200).catch((err: unknown) => {
    throw new Error(`${(err as Error).message}\n${logsTail()}`)
  })
}

async function ourPins(p: ClusterPeer): Promise<PinJSON[]> {
  const r = await p.ctl(['--enc', 'json', 'pin', 'ls'])
  if (r.code !== 0) throw new Error(`ctl pin ls failed (${r.code}): ${r.stderr}`)
  return parseJsonValues<PinJSON>(r.stdout)
}

const goPins = (): Promise<PinJSON[]> => go.ctlJson<PinJSON>(['pin', 'ls'])

async function kuboPins(k: Kubo, cid: string): Promise<boolean> {
  const r = await k.ipfs(['pin', 'ls', '--type=recursive', cid], { timeoutMs: 10_000 })
  return r.code === 0 && r.stdout.includes(cid)
}

async function addData(k: Kubo): Promise<string> {
  return k.ipfsOk(['add', '-Q', '--pin=false'], { input: randomBytes(64 * 1024) })
}

async function ourId(p: ClusterPeer): Promise<{ id: string; addresses: string[] }> {
  const r = await p.ctl(['--enc', 'json', 'id'])
  if (r.code !== 0) throw new Error(`ctl id failed: ${r.stderr}`)
  return JSON.parse(r.stdout) as { id: string; addresses: string[] }
}

function loopback(addresses: string[]): string {
  const addr = addresses.find((x) => x.startsWith('/ip4/127.0.0.1/tcp/'))
  if (addr === undefined) throw new Error(`no loopback address in ${addresses.join(',')}`)
  return addr
}

beforeAll(async () => {
  ;[kA, kB, kG] = await Promise.all([startKubo(), startKubo(), startKubo()])
  a = await initPeer({ ipfsApi: kA.apiMultiaddr, env: { CLUSTER_SECRET: SECRET, CLUSTER_PEERNAME: 'ts-a', ...OURS_FAST } })
  await a.start()
  const ida = await ourId(a)
  idA = ida.id
  const bootstrap = loopback(ida.addresses)
  go = await initGoPeer({
    ipfsApi: kG.apiMultiaddr,
    secret: SECRET,
    peername: 'go-g',
    edit: (cfg) => {
      cfg.cluster.monitor_ping_interval = '2s'
      cfg.cluster.pubsub.heartbeat_interval = '1s'
      cfg.cluster.peer_watch_interval = '1s'
      cfg.consensus.crdt.rebroadcast_interval = '2s'
      cfg.monitor.pubsubmon.check_interval = '1s'
      for (const inf of Object.values(cfg.informer)) inf.metric_ttl = '2s'
      cfg.ipfs_connector.ipfshttp.connect_swarms_delay = '1s'
    }
  })
  await go.start(['--bootstrap', bootstrap])
  b = await initPeer({ ipfsApi: kB.apiMultiaddr, env: { CLUSTER_SECRET: SECRET, CLUSTER_PEERNAME: 'ts-b', ...OURS_FAST } })
  await b.start(['--bootstrap', bootstrap])
  idB = (await ourId(b)).id
  // the cluster connects kubos through RPC `Cluster.Peers`, which does not
  // cross yet: connect the Go peer's kubo to ours here
  for (const k of [kA, kB]) await kG.ipfsOk(['swarm', 'connect', k.swarmAddrs[0]!])
}, 120_000)

afterAll(async () => {
  if (crossed.length > 0) console.log(`[mixed-go] ${crossed.join('; ')}`)
  await Promise.all([a?.destroy(), b?.destroy(), go?.destroy()])
  await stopAllKubos()
})

describe('a mixed cluster: an upstream Go v1.1.6 peer and two of our peers share one pinset', () => {
  test('a pin added through our peer reaches the Go pinset, and the Go peer pins it in its kubo', async () => {
    const cid = await addData(kA)
    const t0 = Date.now()
    const r = await a.ctl(['pin', 'add', '--no-status', '--name', 'from-ts', cid])
    expect(`${r.code} ${r.stderr}`).toBe('0 ')
    const pin = await converge(async () => (await goPins()).find((p) => p.cid === cid), `the Go peer's pinset to hold ${cid}`)
    crossed.push(`ours -> Go pinset: ${Date.now() - t0} ms`)
    expect(pin.name).toBe('from-ts')
    expect(pin.replication_factor_min).toBe(-1)
    expect(pin.replication_factor_max).toBe(-1)
    await converge(async () => kuboPins(kG, cid), `the Go peer's kubo to pin ${cid}`)
    crossed.push(`ours -> Go kubo pinned: ${Date.now() - t0} ms`)
    // and our other peer, as always
    await converge(async () => kuboPins(kB, cid), `B's kubo to pin ${cid}`)
  })

  test('a pin added through the Go peer reaches our pinsets, and our kubos pin it', async () => {
    const cid = await addData(kG)
    const t0 = Date.now()
    const r = await go.ctl(['pin', 'add', '--no-status', '--name', 'from-go', cid])
    expect(`${r.code} ${r.stderr}`).toBe('0 ')
    for (const p of [a, b]) {
      const pin = await converge(async () => (await ourPins(p)).find((x) => x.cid === cid), `our pinset to hold ${cid}`)
      expect(pin.name).toBe('from-go')
      expect(pin.replication_factor_min).toBe(-1)
    }
    crossed.push(`Go -> our pinsets: ${Date.now() - t0} ms`)
    for (const k of [kA, kB]) await converge(async () => kuboPins(k, cid), `our kubo to pin ${cid}`)
    crossed.push(`Go -> our kubos pinned: ${Date.now() - t0} ms`)
  })

  test('an unpin through our peer leaves the Go pinset and kubo; an unpin through the Go peer leaves ours', async () => {
    const fromUs = await addData(kA)
    const fromGo = await addData(kG)
    expect((await a.ctl(['pin', 'add', '--no-status', fromUs])).code).toBe(0)
    expect((await go.ctl(['pin', 'add', '--no-status', fromGo])).code).toBe(0)
    await converge(async () => kuboPins(kG, fromUs), 'the Go kubo to pin the first CID')
    await converge(async () => (await kuboPins(kA, fromGo)) && (await kuboPins(kB, fromGo)), 'our kubos to pin the second CID')

    let t0 = Date.now()
    expect((await b.ctl(['pin', 'rm', fromUs])).code).toBe(0)
    await converge(async () => !(await goPins()).some((p) => p.cid === fromUs), 'the unpin to leave the Go pinset')
    crossed.push(`unpin ours -> Go pinset: ${Date.now() - t0} ms`)
    await converge(async () => !(await kuboPins(kG, fromUs)), 'the Go kubo to unpin')

    t0 = Date.now()
    const r = await go.ctl(['pin', 'rm', fromGo])
    expect(`${r.code} ${r.stderr}`).toBe('0 ')
    for (const p of [a, b]) await converge(async () => !(await ourPins(p)).some((x) => x.cid === fromGo), 'the unpin to leave our pinsets')
    crossed.push(`unpin Go -> our pinsets: ${Date.now() - t0} ms`)
    for (const k of [kA, kB]) await converge(async () => !(await kuboPins(k, fromGo)), 'our kubos to unpin')
  })

  test('peers ls on each side lists the other side by its peer ID (the details need the RPC, not yet compatible)', async () => {
    // membership comes from ping metrics on gossipsub, which cross; the
    // rest of each entry is asked over RPC, which does not cross yet
    const goSide = await converge(async () => {
      const ls = await go.ctlJson<PeerJSON>(['peers', 'ls'])
      return [idA, idB].every((id) => ls.some((p) => p.id === id)) ? ls : undefined
    }, 'the Go peer to list both our peers')
    const ourSide = await converge(async () => {
      const r = await a.ctl(['--enc', 'json', 'peers', 'ls'])
      const ls = parseJsonValues<PeerJSON>(r.stdout)
      return ls.some((p) => p.id === go.id) ? ls : undefined
    }, 'our peer to list the Go peer')
    const errs = [
      ...goSide.filter((p) => p.id !== go.id).map((p) => `Go lists ${p.id}: ${p.error ?? ''}`),
      ...ourSide.filter((p) => p.id === go.id).map((p) => `A lists the Go peer: ${p.error ?? ''}`)
    ]
    console.log(`[mixed-go] peers ls across:\n  ${errs.join('\n  ')}`)
  })

  test("the Go peer's crdt decoded every head broadcast it received", () => {
    // go-ds-crdt logs the decoding error of a broadcast it drops (e.g. an
    // unknown protobuf field read as a legacy CID: "invalid cid")
    expect(go.logs).not.toMatch(/invalid cid|cid version number/i)
    expect(go.logs).not.toContain('error processing new head')
  })
})
