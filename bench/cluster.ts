/**
 * Benchmarks of a three-peer cluster (compiled binary, one real kubo per
 * peer, loopback). Prints figures; asserts nothing. `npm run bench:cluster`
 * after `npm run build`. Sizes: BENCH_CONVERGE (default 200),
 * BENCH_INGEST (default 3000).
 *
 * 1. Convergence: a pin POSTed to peer 0 -> present in all three pinsets
 *    (GET /allocations/<cid> answers 200 on every peer); p50/p99/max ms,
 *    one pin at a time.
 * 2. Ingestion with batching off and on (500 / 1s): BENCH_INGEST pins
 *    POSTed to peer 0 by 32 clients (pins/s accepted), and the time until
 *    the last one is in every pinset; ratio on/off.
 * Pins are random raw CIDs allocated to a peer outside the cluster
 * (replication 1), so kubo is not asked to fetch blocks that do not exist.
 */
import { randomBytes } from 'node:crypto'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { generateIdentity } from '../src/config/identity.ts'
import { type ClusterPeer, initPeer, startKubo, stopAllKubos, waitFor } from '../scripts/launcher/index.ts'

const CONVERGE = Number(process.env.BENCH_CONVERGE ?? 200)
const INGEST = Number(process.env.BENCH_INGEST ?? 3000)
const CLIENTS = 32

async function randomCid(): Promise<string> {
  return CID.createV1(raw.code, await sha256.digest(randomBytes(32))).toString()
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!
}

async function has(p: ClusterPeer, cid: string): Promise<boolean> {
  const r = await fetch(`${p.apiUrl}/allocations/${cid}`)
  await r.arrayBuffer()
  return r.status === 200
}

async function count(p: ClusterPeer): Promise<number> {
  const r = await fetch(`${p.apiUrl}/allocations?filter=all`)
  return ((await r.text()).match(/\n/g) ?? []).length
}

async function startCluster(env: Record<string, string>): Promise<ClusterPeer[]> {
  const secret = randomBytes(32).toString('hex')
  const peers: ClusterPeer[] = []
  for (let i = 0; i < 3; i++) {
    const k = await startKubo({ offline: false })
    const p = await initPeer({ ipfsApi: k.apiMultiaddr, env: { CLUSTER_SECRET: secret, CLUSTER_PEERNAME: `peer${i}`, ...env } })
    const args: string[] = []
    if (i > 0) {
      const id = JSON.parse((await peers[0]!.ctl(['--enc', 'json', 'id'])).stdout) as { addresses: string[] }
      args.push('--bootstrap', id.addresses[0]!)
    }
    await p.start(args)
    peers.push(p)
  }
  return peers
}

async function main(): Promise<void> {
  const other = (await generateIdentity()).id
  const q = `replication=1&user-allocations=${other}`
  let peers = await startCluster({})
  try {
    console.log(`# convergence: ${CONVERGE} pins, one at a time, pin on peer 0 -> in all 3 pinsets`)
    const times: number[] = []
    for (let i = 0; i < CONVERGE; i++) {
      const cid = await randomCid()
      const t0 = performance.now()
      const res = await fetch(`${peers[0]!.apiUrl}/pins/${cid}?${q}`, { method: 'POST' })
      await res.arrayBuffer()
      if (!res.ok) throw new Error(`pin failed: ${res.status}`)
      await Promise.all(peers.map((p) => waitFor(async () => has(p, cid), 'convergence', 60_000, 2)))
      times.push(performance.now() - t0)
    }
    times.sort((a, b) => a - b)
    console.log(`  p50 ${pct(times, 50).toFixed(1)} ms, p99 ${pct(times, 99).toFixed(1)} ms, max ${times[times.length - 1]!.toFixed(1)} ms`)

    const rates: Record<string, { accept: number; all: number }> = {}
    for (const [label, env] of [
      ['batching off', {}],
      ['batching on (500 / 1s)', { CLUSTER_CRDT_BATCHING_MAXBATCHSIZE: '500', CLUSTER_CRDT_BATCHING_MAXBATCHAGE: '1s' }]
    ] as const) {
      if (label !== 'batching off') {
        for (const p of peers) await p.destroy()
        peers = await startCluster(env)
      }
      const base = await count(peers[0]!)
      const cids = await Promise.all(Array.from({ length: INGEST }, () => randomCid()))
      let next = 0
      const t0 = performance.now()
      await Promise.all(
        Array.from({ length: CLIENTS }, async () => {
          while (next < cids.length) {
            const cid = cids[next++]!
            const res = await fetch(`${peers[0]!.apiUrl}/pins/${cid}?${q}`, { method: 'POST' })
            await res.arrayBuffer()
          }
        })
      )
      const accepted = (performance.now() - t0) / 1000
      await Promise.all(peers.map((p) => waitFor(async () => (await count(p)) >= base + INGEST, 'all pins everywhere', 600_000, 200)))
      const all = (performance.now() - t0) / 1000
      rates[label] = { accept: INGEST / accepted, all: INGEST / all }
      console.log(`  ${label}: accepted ${(INGEST / accepted).toFixed(0)} pins/s; in all 3 pinsets after ${all.toFixed(1)} s (${(INGEST / all).toFixed(0)} pins/s)`)
    }
    const on = rates['batching on (500 / 1s)']!
    const off = rates['batching off']!
    console.log(`  ratio on/off: accepted ${(on.accept / off.accept).toFixed(2)}x, replicated ${(on.all / off.all).toFixed(2)}x`)
  } finally {
    for (const p of peers) await p.destroy()
    await stopAllKubos()
  }
}

await main()
