/**
 * e2e, mixed cluster: one upstream Go peer (ipfs-cluster-service v1.1.6,
 * built by scripts/upstream.sh) and two of our peers (compiled binary), each
 * with its own real kubo, crdt consensus, one secret, every peer trusted
 * (`trusted_peers: ["*"]`), all on 127.0.0.1.
 *
 * Topology: our peer A starts alone; the Go peer starts with `--bootstrap A`
 * and our peer B with `--bootstrap <the Go peer>`. The three share ONE pinset: pins and
 * unpins made through either implementation's API reach the other's pinset
 * and kubo. What crosses: crdt head broadcasts on gossipsub, crdt blocks over
 * bitswap, ping/informer metrics on gossipsub, and the peer-to-peer RPC
 * (go-libp2p-gorpc's wire): `peers ls` details, `status`/`recover` through
 * any peer, `ctl add` blocks streamed to the allocations (BlockStream),
 * `ipfs gc`, and the connectors' swarm connects (from each peer's IPFS
 * addresses, as upstream's `Cluster.Peers`).
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type ClusterPeer, initPeer, type Kubo, startKubo, stopAllKubos, waitFor, FAST_TIMINGS } from '../../scripts/launcher/index.ts'
import { type GoClusterPeer, goFastTimings, initGoPeer, parseJsonValues } from '../helpers/upstream.ts'

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
  version?: string
  addresses?: string[]
  cluster_peers?: string[]
  ipfs?: { id?: string; addresses?: string[]; error?: string }
}

interface PeerInfoJSON {
  peername?: string
  status: string
  error?: string
}

interface GlobalPinInfoJSON {
  cid: string
  peer_map: Record<string, PeerInfoJSON>
}

interface RepoGCJSON {
  peer_map: Record<string, { peer: string; peername?: string; error?: string; keys?: unknown[] }>
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
    // kubo swarms connected once, after the delay (as upstream): late enough for our peers' metrics to have arrived
    edit: (cfg) => goFastTimings(cfg, '6s')
  })
  await go.start(['--bootstrap', bootstrap])
  b = await initPeer({ ipfsApi: kB.apiMultiaddr, env: { CLUSTER_SECRET: SECRET, CLUSTER_PEERNAME: 'ts-b', ...OURS_FAST } })
  // B joins through the Go peer: Cluster.PeerAdd ours -> Go, then Cluster.ID Go -> ours
  await b.start(['--bootstrap', go.swarmAddr])
  idB = (await ourId(b)).id
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

  test('peers ls on each side gives the other side\'s details (RPC Cluster.IDStream both ways)', async () => {
    const goSide = await converge(async () => {
      const ls = await go.ctlJson<PeerJSON>(['peers', 'ls'])
      return [idA, idB].every((id) => ls.some((p) => p.id === id && (p.error ?? '') === '')) ? ls : undefined
    }, 'the Go peer to list both our peers without error')
    for (const id of [idA, idB]) {
      const p = goSide.find((x) => x.id === id)!
      expect(p.peername).toBe(id === idA ? 'ts-a' : 'ts-b')
      expect(p.addresses?.some((x) => x.endsWith(`/p2p/${id}`))).toBe(true)
      expect(p.ipfs?.id).toBe(id === idA ? kA.peerId : kB.peerId)
      expect(p.ipfs?.addresses?.length ?? 0).toBeGreaterThan(0)
    }
    for (const p of [a, b]) {
      const ls = await converge(async () => {
        const r = await p.ctl(['--enc', 'json', 'peers', 'ls'])
        const ls = parseJsonValues<PeerJSON>(r.stdout)
        return ls.some((x) => x.id === go.id && (x.error ?? '') === '') ? ls : undefined
      }, 'our peer to list the Go peer without error')
      const g = ls.find((x) => x.id === go.id)!
      expect(g.peername).toBe('go-g')
      expect(g.version).toContain('1.1.6')
      expect(g.ipfs?.id).toBe(kG.peerId)
      expect(g.cluster_peers).toContain(idA)
    }
  })

  test("the connectors connect the kubos across from the peers' IPFS addresses (no manual swarm connect)", async () => {
    await converge(async () => {
      const r = await kG.ipfs(['swarm', 'peers'], { timeoutMs: 10_000 })
      return r.stdout.includes(kA.peerId) && r.stdout.includes(kB.peerId)
    }, "the Go peer's kubo to be connected to both of ours", 60_000)
  })

  test('status and recover through any peer show every peer\'s tracker status (PinTracker.Status/StatusAll/Recover both ways)', async () => {
    const cid = await addData(kA)
    expect((await a.ctl(['pin', 'add', '--no-status', cid])).code).toBe(0)
    const everyPeer = [idA, idB, go.id].sort()
    const allPinned = (g: GlobalPinInfoJSON | undefined): boolean =>
      g !== undefined && Object.keys(g.peer_map).sort().join() === everyPeer.join() && Object.values(g.peer_map).every((x) => x.status === 'pinned')
    await converge(async () => {
      const r = await a.ctl(['--enc', 'json', 'status', cid])
      return allPinned(parseJsonValues<GlobalPinInfoJSON>(r.stdout)[0])
    }, `status of ${cid} through our peer to be pinned on all three`)
    await converge(async () => allPinned((await go.ctlJson<GlobalPinInfoJSON>(['status', cid]))[0]), `status of ${cid} through the Go peer to be pinned on all three`)
    // the whole pinset (streams)
    const ours = parseJsonValues<GlobalPinInfoJSON>((await b.ctl(['--enc', 'json', 'status'])).stdout)
    expect(allPinned(ours.find((g) => g.cid === cid))).toBe(true)
    const theirs = await go.ctlJson<GlobalPinInfoJSON>(['status'])
    expect(allPinned(theirs.find((g) => g.cid === cid))).toBe(true)
    // recover: each side asks every peer
    const rOurs = await a.ctl(['--enc', 'json', 'recover', cid])
    expect(rOurs.code).toBe(0)
    expect(allPinned(parseJsonValues<GlobalPinInfoJSON>(rOurs.stdout)[0])).toBe(true)
    expect(allPinned((await go.ctlJson<GlobalPinInfoJSON>(['recover', cid]))[0])).toBe(true)
    const rAll = await go.ctlJson<GlobalPinInfoJSON>(['recover'])
    for (const g of rAll) for (const [peer, pi] of Object.entries(g.peer_map)) expect(`${peer} ${pi.status} ${pi.error ?? ''}`).not.toContain('cluster_error')
  })

  test('ctl add with replication 2 streams the blocks to the allocations across implementations, both ways', async () => {
    // ours adds, allocated to the Go peer and B: the blocks travel by BlockStream to the Go peer
    const dir = await mkdtemp(join(tmpdir(), 'mixed-add-'))
    const fileUs = join(dir, 'add-ts.bin')
    const fileGo = join(dir, 'add-go.bin')
    await writeFile(fileUs, randomBytes(300 * 1024))
    await writeFile(fileGo, randomBytes(300 * 1024))
    let r = await a.ctl(['add', '-Q', '--rmin', '2', '--rmax', '2', '--allocations', `${go.id},${idB}`, '--name', 'add-ts', fileUs], { timeoutMs: 60_000 })
    expect(`${r.code} ${r.stderr}`).toBe('0 ')
    const fromUs = r.stdout.trim().split('\n').pop()!
    let pin = await converge(async () => (await goPins()).find((p) => p.cid === fromUs), 'the Go pinset to hold the added CID')
    expect(pin.allocations.sort()).toEqual([go.id, idB].sort())
    await converge(async () => (await kuboPins(kG, fromUs)) && (await kuboPins(kB, fromUs)), 'the allocated kubos (Go and B) to pin it')
    // the Go peer adds, allocated to our two peers: its adder streams to our BlockStream
    r = await go.ctl(['add', '-Q', '--rmin', '2', '--rmax', '2', '--allocations', `${idA},${idB}`, '--name', 'add-go', fileGo], 60_000)
    await rm(dir, { recursive: true, force: true })
    expect(`${r.code} ${r.stderr}`).toBe('0 ')
    const fromGo = r.stdout.trim().split('\n').pop()!
    pin = await converge(async () => (await ourPins(a)).find((p) => p.cid === fromGo), 'our pinset to hold the CID the Go peer added')
    expect(pin.allocations.sort()).toEqual([idA, idB].sort())
    await converge(async () => (await kuboPins(kA, fromGo)) && (await kuboPins(kB, fromGo)), 'our kubos to pin it')
  })

  test('health graph through any peer has every peer and its IPFS links (Cluster.Peers, IPFSConnector.SwarmPeers both ways)', async () => {
    interface GraphJSON {
      cluster_links: Record<string, string[]>
      cluster_to_ipfs: Record<string, string>
      ipfs_links: Record<string, string[]>
    }
    const everyPeer = [idA, idB, go.id].sort()
    // the REST API's JSON (both ctls print graphviz dot)
    const graph = async (apiMultiaddr: string): Promise<GraphJSON> => {
      const m = /\/ip4\/([^/]+)\/tcp\/(\d+)/.exec(apiMultiaddr)!
      const res = await fetch(`http://${m[1]}:${m[2]}/health/graph`, { signal: AbortSignal.timeout(30_000) })
      expect(res.status).toBe(200)
      return (await res.json()) as GraphJSON
    }
    const ours = await graph(a.apiMultiaddr)
    const theirs = await graph(go.apiMultiaddr)
    for (const g of [ours, theirs]) {
      expect(Object.keys(g.cluster_links).sort()).toEqual(everyPeer)
      expect(Object.keys(g.cluster_to_ipfs).sort()).toEqual(everyPeer)
      expect(g.cluster_to_ipfs[go.id]).toBe(kG.peerId)
      expect(g.cluster_to_ipfs[idA]).toBe(kA.peerId)
      // the Go kubo's swarm peers, as our peers and the Go peer ask them
      expect(g.ipfs_links[kG.peerId]).toContain(kA.peerId)
    }
  })

  test('ctl ipfs gc through any peer runs on every peer (Cluster.RepoGCLocal both ways)', async () => {
    const everyPeer = [idA, idB, go.id].sort()
    const r = await a.ctl(['--enc', 'json', 'ipfs', 'gc'], { timeoutMs: 120_000 })
    expect(`${r.code} ${r.stderr}`).toBe('0 ')
    const ours = parseJsonValues<RepoGCJSON>(r.stdout)[0]!
    expect(Object.keys(ours.peer_map).sort()).toEqual(everyPeer)
    for (const [peer, gc] of Object.entries(ours.peer_map)) expect(`${peer}: ${gc.error ?? ''}`).toBe(`${peer}: `)
    const theirs = (await go.ctlJson<RepoGCJSON>(['ipfs', 'gc'], 120_000))[0]!
    expect(Object.keys(theirs.peer_map).sort()).toEqual(everyPeer)
    for (const [peer, gc] of Object.entries(theirs.peer_map)) expect(`${peer}: ${gc.error ?? ''}`).toBe(`${peer}: `)
  })

  test("the Go peer's crdt decoded every head broadcast it received", () => {
    // go-ds-crdt logs the decoding error of a broadcast it drops (e.g. an
    // unknown protobuf field read as a legacy CID: "invalid cid")
    expect(go.logs).not.toMatch(/invalid cid|cid version number/i)
    expect(go.logs).not.toContain('error processing new head')
  })
})
