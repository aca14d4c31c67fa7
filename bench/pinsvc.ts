/**
 * Benchmark of `GET /pins` of the Pinning Service API at BENCH_PINSVC pins
 * (default 100,000): the compiled binary against a real (offline) kubo.
 * Prints figures; asserts nothing.
 *   bun bench/pinsvc.ts --pins 1000000      (or BENCH_PINSVC=1000000)
 *   bun bench/pinsvc.ts --pins 1000000 --pages 5 --paging-only
 *
 * Pins are imported with `service state import`, allocated to another
 * peer, down (so the tracker reports them `remote` and kubo fetches
 * nothing; asking that peer fails at once: its address is a closed port);
 * the API then looks each one up in the state and reports it `queued`,
 * its slowest path. Figures: time of one listing (`limit=1000`, and
 * kubo's `limit=10&status=queued`), time per page of 10 when paging like
 * kubo (`before` = the last page's oldest `created`) from the newest pin and
 * from half-way and 99% down, and the daemon's RSS before and at its
 * highest while listing (sampled every 50 ms from /proc).
 */
import { randomBytes } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { generateIdentity } from '../src/config/identity.ts'
import { type ClusterPeer, initPeer, runBinary, startKubo, stopAllKubos } from '../scripts/launcher/index.ts'

/** `--pins N` (or BENCH_PINSVC=N): how many pins; default 100,000. */
function pinsArg(): number {
  const i = process.argv.indexOf('--pins')
  const v = i >= 0 ? process.argv[i + 1] : process.env.BENCH_PINSVC
  const n = Number(v ?? 100_000)
  if (!Number.isInteger(n) || n < 1) throw new Error(`--pins: not a positive integer: ${String(v)}`)
  return n
}

const N = pinsArg()
/** `--pages K`: pages of 10 read in the paging figure (default 20). `--paging-only`: skip the listings after it. */
const PAGES = (() => {
  const i = process.argv.indexOf('--pages')
  const n = Number(i >= 0 ? process.argv[i + 1] : 20)
  if (!Number.isInteger(n) || n < 1) throw new Error(`--pages: not a positive integer: ${String(process.argv[i + 1])}`)
  return n
})()

/** median and max of per-page times, in ms. */
function fmtPages(ms: number[]): string {
  const s = [...ms].sort((a, b) => a - b)
  return `median ${s[Math.floor(s.length / 2)]!.toFixed(1)} ms, max ${s[s.length - 1]!.toFixed(1)} ms per page`
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return m !== null ? Number(m[1]) / 1024 : Number.NaN
}

/** One GET, with the highest RSS seen while it ran. */
async function measure(pid: number, url: string): Promise<{ ms: number; peakMb: number; count: number; results: number; last: string | undefined }> {
  let peak = rssMb(pid)
  const timer = setInterval(() => {
    peak = Math.max(peak, rssMb(pid))
  }, 50)
  const t0 = performance.now()
  try {
    const res = await fetch(url)
    const body = (await res.json()) as { count: number; results: { created: string }[] }
    if (!res.ok) throw new Error(`${url}: ${res.status} ${JSON.stringify(body)}`)
    const last = body.results[body.results.length - 1]?.created
    return { ms: performance.now() - t0, peakMb: Math.max(peak, rssMb(pid)), count: body.count, results: body.results.length, last }
  } finally {
    clearInterval(timer)
  }
}

async function main(): Promise<void> {
  const kubo = await startKubo({ offline: true })
  const other = (await generateIdentity()).id
  let peer: ClusterPeer | undefined
  try {
    peer = await initPeer({ ipfsApi: kubo.apiMultiaddr })
    const cfg = JSON.parse(readFileSync(join(peer.folder, 'service.json'), 'utf8')) as {
      api: { pinsvcapi: { http_listen_multiaddress: string | string[] } }
      cluster: { peer_addresses?: string[] }
    }
    // the allocated peer is down (a closed loopback port): asking it for a
    // pin's status fails at once instead of searching for it
    cfg.cluster.peer_addresses = [`/ip4/127.0.0.1/tcp/9/p2p/${other}`]
    writeFileSync(join(peer.folder, 'service.json'), JSON.stringify(cfg, null, 2))
    const ma = cfg.api.pinsvcapi.http_listen_multiaddress
    const m = /\/ip4\/([^/]+)\/tcp\/(\d+)/.exec(Array.isArray(ma) ? ma[0]! : ma)
    if (m === null) throw new Error('no pinsvcapi address')
    const url = `http://${m[1]}:${m[2]}`

    const file = join(peer.folder, 'bench-import.ndjson')
    const lines: string[] = []
    const t = Date.now()
    for (let i = 0; i < N; i++) {
      const cid = CID.createV1(raw.code, await sha256.digest(randomBytes(32))).toString()
      // 1,000 pins a second: many share a second, as after a bulk import
      const timestamp = new Date(t - Math.floor(i / 1000) * 1000).toISOString()
      lines.push(
        JSON.stringify({ cid, type: 'pin', allocations: [other], max_depth: -1, replication_factor_min: 1, replication_factor_max: 1, name: `p${i}`, mode: 'recursive', timestamp })
      )
    }
    writeFileSync(file, lines.join('\n'))
    lines.length = 0
    const imp = await runBinary(['service', '-c', peer.folder, 'state', 'import', '-f', file], { env: peer.env, timeoutMs: 1_800_000 })
    if (imp.code !== 0) throw new Error(`state import failed: ${imp.stderr}`)
    await peer.start([], 600_000)
    const pid = peer.proc?.pid
    if (pid === undefined) throw new Error('no daemon pid')
    console.log(`# Pinning Service API, GET /pins at ${N} pins`)
    console.log(`  daemon RSS after start: ${rssMb(pid).toFixed(0)} MB`)
    {
      // kubo-style paging: pages of 10, each `before` the oldest `created` of the page before it
      const times: number[] = []
      let peak = 0
      let before: string | undefined
      let seen = 0
      for (let i = 0; i < PAGES; i++) {
        const q = `?limit=10${before !== undefined ? `&before=${encodeURIComponent(before)}` : ''}`
        const r = await measure(pid, `${url}/pins${q}`)
        times.push(r.ms)
        peak = Math.max(peak, r.peakMb)
        seen += r.results
        before = r.last
      }
      console.log(`  paging, limit=10, ${PAGES} pages from the newest (${seen} pins): ${fmtPages(times)}, peak RSS ${peak.toFixed(0)} MB`)
      // deep pages: `before` half-way down and near the end of the pinset
      for (const depth of [0.5, 0.99]) {
        const second = Math.floor((N * depth) / 1000)
        const deep = new Date(t - second * 1000).toISOString()
        const dt: number[] = []
        let dpeak = 0
        let n = 0
        for (let i = 0; i < Math.min(3, PAGES); i++) {
          const r = await measure(pid, `${url}/pins?limit=10&before=${encodeURIComponent(deep)}`)
          dt.push(r.ms)
          dpeak = Math.max(dpeak, r.peakMb)
          n = r.results
        }
        console.log(`  one page, limit=10, before the pin ${(depth * 100).toFixed(0)}% down (${n} results): ${fmtPages(dt)}, peak RSS ${dpeak.toFixed(0)} MB`)
      }
    }
    if (process.argv.includes('--paging-only')) return
    for (const q of ['?limit=1000', '?limit=10&status=queued', '?limit=10&name=p1&match=exact']) {
      const r = await measure(pid, `${url}/pins${q}`)
      console.log(
        `  GET /pins${q}: count ${r.count}, ${r.results} results, ${(r.ms / 1000).toFixed(2)} s (${((N / r.ms) * 1000).toFixed(0)} pins/s), peak RSS ${r.peakMb.toFixed(0)} MB`
      )
    }
    {
      // baseline: the REST API's status stream over the same pins
      const t0 = performance.now()
      const res = await fetch(`${peer.apiUrl}/pins`)
      let n = 0
      const dec = new TextDecoder()
      for await (const chunk of res.body!) n += (dec.decode(chunk, { stream: true }).match(/\n/g) ?? []).length
      const ms = performance.now() - t0
      console.log(`  baseline REST GET /pins (status stream): ${n} pins, ${(ms / 1000).toFixed(2)} s (${((n / ms) * 1000).toFixed(0)} pins/s)`)
    }
  } finally {
    await peer?.destroy()
    await stopAllKubos()
  }
}

await main()
