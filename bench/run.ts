/**
 * Benchmarks of a single peer (the compiled binary against a real kubo).
 * Prints figures; asserts nothing. Run with `npm run bench` (after
 * `npm run build`). Sizes can be lowered for a quick look:
 *   BENCH_INGEST=2000 BENCH_LIST=100000 bun bench/run.ts
 *
 * 1. Pin ingestion through the REST API (POST /pins/<cid>, 32 clients),
 *    batching off and on (max_batch_size 500, max_batch_age 1s), as a ratio.
 * 2. Listing at BENCH_LIST pins: `GET /allocations` (pin ls) and
 *    `GET /pins` (status) streamed, pins/s, and the daemon's peak RSS
 *    (VmHWM), and the status/pin-ls ratio.
 * Pins use raw-leaf CIDs of random bytes, allocated to another peer with
 * replication 1, so the tracker reports them `remote` and kubo is not asked
 * to fetch 100,000 blocks that do not exist.
 */
import { randomBytes } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { generateIdentity } from '../src/config/identity.ts'
import { type ClusterPeer, initPeer, runBinary, startKubo, stopAllKubos } from '../scripts/launcher/index.ts'

const INGEST = Number(process.env.BENCH_INGEST ?? 5000)
const LIST = Number(process.env.BENCH_LIST ?? 100_000)
const CLIENTS = 32

async function randomCids(n: number): Promise<string[]> {
  const out: string[] = []
  for (let i = 0; i < n; i++) out.push(CID.createV1(raw.code, await sha256.digest(randomBytes(32))).toString())
  return out
}

function peakRssMb(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return m !== null ? Number(m[1]) / 1024 : Number.NaN
}

async function ingest(peer: ClusterPeer, cids: string[], other: string): Promise<number> {
  let next = 0
  let failed = 0
  const t0 = performance.now()
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (next < cids.length) {
        const cid = cids[next++]!
        const res = await fetch(`${peer.apiUrl}/pins/${cid}?replication=1&user-allocations=${other}`, { method: 'POST' })
        if (!res.ok) failed++
        await res.arrayBuffer()
      }
    })
  )
  const s = (performance.now() - t0) / 1000
  if (failed > 0) console.log(`  (${failed} requests failed)`)
  return cids.length / s
}

async function streamCount(url: string): Promise<{ n: number; rate: number }> {
  const t0 = performance.now()
  const res = await fetch(url)
  let n = 0
  const dec = new TextDecoder()
  for await (const chunk of res.body!) n += (dec.decode(chunk, { stream: true }).match(/\n/g) ?? []).length
  return { n, rate: n / ((performance.now() - t0) / 1000) }
}

async function main(): Promise<void> {
  const kubo = await startKubo({ offline: true })
  const other = (await generateIdentity()).id
  const peers: ClusterPeer[] = []
  try {
    console.log(`# ingestion: ${INGEST} pins through POST /pins, ${CLIENTS} clients`)
    const rates: Record<string, number> = {}
    for (const [label, env] of [
      ['batching off', {}],
      ['batching on (500 / 1s)', { CLUSTER_CRDT_BATCHING_MAXBATCHSIZE: '500', CLUSTER_CRDT_BATCHING_MAXBATCHAGE: '1s' }]
    ] as const) {
      const p = await initPeer({ ipfsApi: kubo.apiMultiaddr, env: { ...env, CLUSTER_REPLICATIONFACTORMIN: '-1' } })
      peers.push(p)
      await p.start()
      const r = await ingest(p, await randomCids(INGEST), other)
      rates[label] = r
      console.log(`  ${label}: ${r.toFixed(0)} pins/s`)
      await p.stop()
    }
    console.log(`  ratio on/off: ${(rates['batching on (500 / 1s)']! / rates['batching off']!).toFixed(2)}x`)

    console.log(`# listing at ${LIST} pins`)
    const p = await initPeer({ ipfsApi: kubo.apiMultiaddr })
    peers.push(p)
    const file = join(p.folder, 'bench-import.ndjson')
    const cids = await randomCids(LIST)
    const ts = new Date().toISOString()
    writeFileSync(
      file,
      cids
        .map((cid) =>
          JSON.stringify({ cid, type: 'pin', allocations: [other], max_depth: -1, replication_factor_min: 1, replication_factor_max: 1, name: '', mode: 'recursive', timestamp: ts })
        )
        .join('\n')
    )
    let t0 = performance.now()
    const imp = await runBinary(['service', '-c', p.folder, 'state', 'import', '-f', file], { env: p.env, timeoutMs: 600_000 })
    if (imp.code !== 0) throw new Error(`state import failed: ${imp.stderr}`)
    console.log(`  state import: ${(LIST / ((performance.now() - t0) / 1000)).toFixed(0)} pins/s`)
    t0 = performance.now()
    await p.start([], 300_000)
    console.log(`  daemon start with ${LIST} pins: ${(performance.now() - t0).toFixed(0)} ms`)
    const ls = await streamCount(`${p.apiUrl}/allocations?filter=all`)
    console.log(`  pin ls (GET /allocations): ${ls.n} pins, ${ls.rate.toFixed(0)} pins/s`)
    const st = await streamCount(`${p.apiUrl}/pins`)
    console.log(`  status (GET /pins): ${st.n} pins, ${st.rate.toFixed(0)} pins/s`)
    console.log(`  daemon peak RSS: ${peakRssMb(p.proc?.pid).toFixed(0)} MB`)

    console.log(`  status/pin-ls ratio: ${(st.rate / ls.rate).toFixed(2)}`)
    const cli = await runBinary(['ctl', '--host', p.apiMultiaddr, 'pin', 'ls'], { timeoutMs: 600_000 })
    console.log(`  ctl pin ls (text): ${cli.stdout.split('\n').filter(Boolean).length} lines`)
  } finally {
    for (const p of peers) await p.destroy()
    await stopAllKubos()
  }
}

await main()
