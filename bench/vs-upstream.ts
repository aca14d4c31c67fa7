/**
 * Side by side with upstream IPFS Cluster v1.1.6 (issue 16): our compiled
 * binary (dist/ipfs-cluster) and upstream's `ipfs-cluster-service` /
 * `ipfs-cluster-ctl` (built by scripts/upstream.sh), one crdt peer each,
 * default config, on the same kubo, one after the other. Prints a table of
 * figures and ratios; asserts nothing.
 *
 *   npm run bench:upstream -- --scales 10000,100000 --churn-seconds 60
 *   (the npm script takes /tmp/heavy.lock; run `bun run build` first)
 *
 * Options: `--scales a,b,c` (pinset sizes, default 10000,100000; 1000000 is
 * opt-in), `--ingest N` (pins POSTed per ingestion run, default 3000),
 * `--churn-seconds S` (default 30; 600 for the 10-minute RSS row), `--only
 * ingest,churn,scale,version` (sections, default these four), `--sides ours,upstream`;
 * opt-in: `--only peers3 --sync-scale N` (three peers of each side: the
 * new peers' sync time and the time until all three daemons are idle, then
 * the global `GET /pins` and a new peer's sync time at N pins, default 100000;
 * `--global-runs K` repeats the global GET, its row is the median, and
 * `--skip-fourth` leaves out the fourth peer's sync, `--sync-timeout S`
 * bounds the joiners' sync).
 *
 * Rows:
 * - REST ingestion: N pins POSTed by 16 clients, batching off, then on
 *   (max_batch_size 500, max_batch_age 1s on both). The CIDs are raw blocks
 *   put into kubo first, so both trackers pin them for real.
 * - per scale: `state import` of the SAME generated NDJSON pins (allocated
 *   to a peer outside the cluster, so no tracker asks kubo for them), start
 *   to READY (spawn to the READY line), RSS idle (2 s after READY),
 *   `GET /allocations`, `GET /pins?local=true` (pins/s), RSS after listing,
 *   `ctl pin ls` (wall ms).
 * - churn: 400 CIDs (kubo blocks), 8 clients, each pinning and unpinning
 *   its 50 CIDs over and over; ops/s and RSS every interval.
 * - `ctl version` cold start: median wall ms of 7 runs.
 * For throughputs the ratio is ours/upstream (higher is better); for times
 * and RSS it is upstream/ours (higher is better too).
 */
import { spawn } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { createWriteStream, readFileSync } from 'node:fs'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import * as Digest from 'multiformats/hashes/digest'
import { clusterBinary, freePort, type Kubo, startKubo, stopAllKubos } from '../scripts/launcher/index.ts'
import { upstreamTools } from '../test/helpers/upstream.ts'
import { writePins } from './pins-file.ts'

// ---------- options ----------
function opt(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : def
}
const SCALES = opt('scales', '10000,100000')
  .split(',')
  .map((s) => Number(s.trim()))
  .filter((n) => n > 0)
const INGEST = Number(opt('ingest', '3000'))
const CHURN_SECONDS = Number(opt('churn-seconds', '30'))
const ONLY = new Set(opt('only', 'ingest,churn,scale,version').split(','))
const SIDES = opt('sides', 'ours,upstream').split(',') as SideName[]
/** `--sync-scale N`: pinset size of the opt-in `peers3` section (three-peer global GET /pins, a new peer's sync) */
const SYNC_SCALE = Number(opt('sync-scale', '100000'))
/** `--global-runs K`: how many times `peers3` runs the global GET /pins (the row is the median; default 1) */
const GLOBAL_RUNS = Math.max(1, Number(opt('global-runs', '1')))
/**
 * `--sync-timeout S`: at most S seconds for the joiners' sync in `peers3`
 * (default: 20 ms a pin, at least 120 s); a side that takes longer gets
 * "more than S s" and its later `peers3` rows are not measured.
 */
const SYNC_TIMEOUT_ARG = opt('sync-timeout', '')
const SYNC_TIMEOUT_S = SYNC_TIMEOUT_ARG === '' ? undefined : Number(SYNC_TIMEOUT_ARG)
/** `--skip-fourth`: `peers3` does not measure a fourth peer's sync */
const SKIP_FOURTH = process.argv.includes('--skip-fourth')
const CLIENTS = 16
/** bound on one pin/unpin request of the bench, ms */
const REQUEST_TIMEOUT_MS = 60_000
const CHURN_CIDS = 400
const CHURN_CLIENTS = 8
const BATCHING = { max_batch_size: 500, max_batch_age: '1s', max_queue_size: 50000 }

type SideName = 'ours' | 'upstream'
// biome-ignore lint/suspicious/noExplicitAny: both sides' service.json, edited loosely
type ConfigJson = Record<string, any>

// ---------- helpers ----------
function _rawCid(seed: string): CID {
  return CID.createV1(raw.code, Digest.create(0x12, createHash('sha256').update(seed).digest()))
}

function rssMb(pid: number | undefined, field: 'VmRSS' | 'VmHWM' = 'VmRSS'): number {
  if (pid === undefined) return Number.NaN
  try {
    const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m !== null ? Number(m[1]) / 1024 : Number.NaN
  } catch {
    return Number.NaN
  }
}

/** CPU time (user + system) used so far by process `pid`, ms (from /proc; NaN when unknown). */
function cpuMs(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    // fields 14 and 15 of stat(5) (utime, stime), in clock ticks of 10 ms
    return (Number(f[11]) + Number(f[12])) * 10
  } catch {
    return Number.NaN
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

function exec(argv: string[], env: Record<string, string>, timeoutMs: number): Promise<{ code: number; stdout: string; stderr: string; ms: number }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now()
    const child = spawn(argv[0]!, argv.slice(1), { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
    const out: Buffer[] = []
    const err: Buffer[] = []
    child.stdout.on('data', (b: Buffer) => out.push(b))
    child.stderr.on('data', (b: Buffer) => err.push(b))
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.on('error', (e) => {
      clearTimeout(timer)
      reject(e)
    })
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code: code ?? -1, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString(), ms: performance.now() - t0 })
    })
  })
}

/** A daemon of either side: spawned, READY seen on its output (no polling), RSS by pid. */
class Daemon {
  private proc: ReturnType<typeof spawn> | undefined
  private tail = ''
  readonly argv: string[]
  readonly env: Record<string, string>
  readonly logPath: string
  constructor(argv: string[], env: Record<string, string>, logPath: string) {
    this.argv = argv
    this.env = env
    this.logPath = logPath
  }

  get pid(): number | undefined {
    return this.proc?.pid
  }

  /** Resolves with ms from spawn to the READY line. */
  start(timeoutMs: number): Promise<number> {
    const t0 = performance.now()
    const log = createWriteStream(this.logPath, { flags: 'a' })
    log.on('error', () => {})
    const proc = spawn(this.argv[0]!, this.argv.slice(1), { env: { ...process.env, ...this.env }, stdio: ['ignore', 'pipe', 'pipe'] })
    this.proc = proc
    return new Promise((resolve, reject) => {
      let done = false
      const timer = setTimeout(() => finish(new Error(`not READY after ${timeoutMs} ms:\n${this.tail}`)), timeoutMs)
      const finish = (err?: Error): void => {
        if (done) return
        done = true
        clearTimeout(timer)
        if (err) reject(err)
        else resolve(performance.now() - t0)
      }
      const onData = (b: Buffer): void => {
        log.write(b)
        this.tail = (this.tail + b.toString()).slice(-20_000)
        if (!done && this.tail.includes('IPFS Cluster is READY')) finish()
      }
      proc.stdout?.on('data', onData)
      proc.stderr?.on('data', onData)
      proc.on('exit', (code) => {
        log.end()
        finish(new Error(`daemon exited with ${code}:\n${this.tail}`))
      })
    })
  }

  async stop(): Promise<void> {
    const p = this.proc
    if (p === undefined || p.exitCode !== null || p.signalCode !== null) return
    const exited = new Promise<void>((r) => p.once('exit', () => r()))
    p.kill('SIGTERM')
    const t = setTimeout(() => p.kill('SIGKILL'), 20_000)
    await exited
    clearTimeout(t)
  }
}

interface Peer {
  side: SideName
  folder: string
  apiUrl: string
  apiMultiaddr: string
  daemon: Daemon
  importState(file: string): Promise<{ code: number; stderr: string; ms: number }>
  ctl(args: string[], timeoutMs?: number): Promise<{ code: number; stdout: string; stderr: string; ms: number }>
  destroy(): Promise<void>
}

async function editConfig(folder: string, edit: (cfg: ConfigJson) => void): Promise<ConfigJson> {
  const path = join(folder, 'service.json')
  const cfg = JSON.parse(await readFile(path, 'utf8')) as ConfigJson
  edit(cfg)
  await writeFile(path, JSON.stringify(cfg, null, 2))
  return cfg
}

function apiOf(cfg: ConfigJson): { apiMultiaddr: string; apiUrl: string } {
  const ma = cfg.api.restapi.http_listen_multiaddress as string | string[]
  const apiMultiaddr = Array.isArray(ma) ? ma[0]! : ma
  const m = /\/ip4\/([^/]+)\/tcp\/(\d+)/.exec(apiMultiaddr)
  return { apiMultiaddr, apiUrl: m !== null ? `http://${m[1]}:${m[2]}` : '' }
}

/** One peer of `side`, default config (plus batching when asked), pointed at `kubo`. */
async function newPeer(
  side: SideName,
  kubo: Kubo,
  batching: boolean,
  cluster: { secret?: string; port?: number; bootstrap?: string } = {}
): Promise<Peer> {
  const folder = await mkdtemp(join(tmpdir(), `vsup-${side}-`))
  const edit = (cfg: ConfigJson): void => {
    cfg.cluster.listen_multiaddress = [`/ip4/127.0.0.1/tcp/${cluster.port ?? 0}`]
    cfg.cluster.mdns_interval = '0s'
    cfg.ipfs_connector.ipfshttp.node_multiaddress = kubo.apiMultiaddr
    if (cfg.api?.ipfsproxy !== undefined) cfg.api.ipfsproxy.node_multiaddress = kubo.apiMultiaddr
    if (batching) cfg.consensus.crdt.batching = { ...cfg.consensus.crdt.batching, ...BATCHING }
  }
  // how each side's programs are called: service argv prefix, daemon log flags, ctl argv prefix, env
  let service: string[]
  let ctl: string[]
  let daemonFlags: string[] = []
  let env: Record<string, string>
  let init: string[]
  if (side === 'ours') {
    const bin = clusterBinary()
    service = [bin, 'service']
    ctl = [bin, 'ctl']
    env = { CLUSTER_MDNSINTERVAL: '0s' }
    // the same log levels as upstream's below (no access log line per request)
    daemonFlags = ['--loglevel', 'info,restapilog:error']
    init = ['init', '--randomports']
  } else {
    const tools = await upstreamTools()
    service = [join(tools, 'ipfs-cluster-service')]
    ctl = [join(tools, 'ipfs-cluster-ctl')]
    daemonFlags = ['--loglevel', 'info,restapilog:error']
    env = { GOLOG_LOG_FMT: 'nocolor' }
    init = ['init', '--randomports', '--consensus', 'crdt']
  }
  const r = await exec([...service, '-c', folder, ...init], { ...env, CLUSTER_SECRET: cluster.secret ?? randomBytes(32).toString('hex') }, 60_000)
  if (r.code !== 0) throw new Error(`${side}: init failed: ${r.stderr}`)
  const { apiMultiaddr, apiUrl } = apiOf(await editConfig(folder, edit))
  return {
    side,
    folder,
    apiUrl,
    apiMultiaddr,
    daemon: new Daemon(
      [...service, ...daemonFlags, '-c', folder, 'daemon', ...(cluster.bootstrap !== undefined ? ['--bootstrap', cluster.bootstrap] : [])],
      env,
      join(folder, 'daemon.log')
    ),
    importState: (file) => exec([...service, '-c', folder, 'state', 'import', '-f', file], env, 3_600_000),
    ctl: (args, t = 600_000) => exec([...ctl, '--host', apiMultiaddr, ...args], {}, t),
    destroy: async () => rm(folder, { recursive: true, force: true })
  }
}

/** Puts `n` random raw blocks into kubo (multipart, 500 per request); returns their CIDs. */
async function kuboBlocks(kubo: Kubo, n: number): Promise<string[]> {
  const out: string[] = []
  for (let i = 0; i < n; i += 500) {
    const form = new FormData()
    for (let j = i; j < Math.min(n, i + 500); j++) form.append('file', new Blob([randomBytes(64)]), `b${j}`)
    const res = await fetch(`${kubo.apiUrl}/api/v0/block/put?cid-codec=raw&mhtype=sha2-256`, {
      method: 'POST',
      body: form,
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS)
    })
    if (!res.ok) throw new Error(`block/put: ${res.status} ${await res.text()}`)
    for (const line of (await res.text()).split('\n')) if (line.trim() !== '') out.push((JSON.parse(line) as { Key: string }).Key)
  }
  if (out.length !== n) throw new Error(`block/put returned ${out.length} CIDs, wanted ${n}`)
  return out
}

const CLUSTER_ERROR = Buffer.from('"cluster_error"')
/** one per peer entry of a GlobalPinInfo's peer_map (a marker split by a chunk boundary is missed) */
const STATUS_KEY = Buffer.from('"status":"')

/**
 * Lines of a streamed body and its rate; `errors`: "cluster_error"
 * occurrences (one split across chunks is missed); `firstError`: the text
 * after the first of them (its error message), '' when none.
 */
async function streamCount(url: string): Promise<{ n: number; rate: number; bytes: number; errors: number; firstError: string; statuses: number; firstLine: string }> {
  const t0 = performance.now()
  const res = await fetch(url, { signal: AbortSignal.timeout(1_800_000) })
  if (!res.ok || res.body === null) throw new Error(`${url}: ${res.status}`)
  let n = 0
  let bytes = 0
  let errors = 0
  let firstError = ''
  let statuses = 0
  let firstLine = ''
  // indexOf, not a JS loop over every byte: that loop took ~0.5 s per 44 MB
  // (100k pins) on this machine, as long as our daemon's whole listing
  for await (const chunk of res.body) {
    if (bytes === 0) firstLine = Buffer.from(chunk.subarray(0, 2000)).toString().split('\n')[0]!
    bytes += chunk.byteLength
    for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) n++
    const b = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)
    for (let i = b.indexOf(CLUSTER_ERROR); i !== -1; i = b.indexOf(CLUSTER_ERROR, i + 1)) {
      if (errors++ === 0) firstError = b.subarray(i, i + 400).toString()
    }
    for (let i = b.indexOf(STATUS_KEY); i !== -1; i = b.indexOf(STATUS_KEY, i + 1)) statuses++
  }
  return { n, rate: n / ((performance.now() - t0) / 1000), bytes, errors, firstError, statuses, firstLine }
}

async function ingest(peer: Peer, cids: string[]): Promise<{ rate: number; failed: number }> {
  let next = 0
  let failed = 0
  const t0 = performance.now()
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (next < cids.length) {
        const cid = cids[next++]!
        const res = await fetch(`${peer.apiUrl}/pins/${cid}`, { method: 'POST', signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) })
        if (!res.ok) failed++
        await res.arrayBuffer()
      }
    })
  )
  return { rate: cids.length / ((performance.now() - t0) / 1000), failed }
}

// ---------- the table ----------
interface Row {
  measure: string
  unit: string
  /** true: higher is better */
  higher: boolean
  v: Partial<Record<SideName, number | string>>
}
const rows: Row[] = []
function record(measure: string, unit: string, higher: boolean, side: SideName, v: number | string): void {
  let r = rows.find((x) => x.measure === measure)
  if (r === undefined) {
    r = { measure, unit, higher, v: {} }
    rows.push(r)
  }
  r.v[side] = v
  console.error(`  [${side}] ${measure}: ${typeof v === 'number' ? fmt(v) : v} ${unit}`)
}
function fmt(n: number): string {
  if (!Number.isFinite(n)) return 'n/a'
  return n >= 100 ? n.toFixed(0) : n.toFixed(1)
}
function printTable(): void {
  console.log('\n| measure | ours | upstream | ratio |')
  console.log('|---|---|---|---|')
  for (const r of rows) {
    const o = r.v.ours
    const u = r.v.upstream
    const show = (x: number | string | undefined): string => (x === undefined ? '-' : typeof x === 'number' ? `${fmt(x)} ${r.unit}` : x)
    let ratio = '-'
    if (typeof o === 'number' && typeof u === 'number' && o > 0 && u > 0) ratio = (r.higher ? o / u : u / o).toFixed(2)
    console.log(`| ${r.measure} | ${show(o)} | ${show(u)} | ${ratio} |`)
  }
  console.log('\nratio: ours/upstream for rates, upstream/ours for times and memory (> 1: ours is better)')
}

// ---------- sections ----------
async function benchIngest(kubo: Kubo): Promise<void> {
  for (const batching of [false, true]) {
    for (const side of SIDES) {
      const cids = await kuboBlocks(kubo, INGEST)
      const p = await newPeer(side, kubo, batching)
      try {
        await p.daemon.start(120_000)
        const cpu0 = cpuMs(p.daemon.pid)
        const { rate, failed } = await ingest(p, cids)
        const label = `${INGEST} pins, ${CLIENTS} clients, batching ${batching ? 'on (500/1s)' : 'off'}`
        record(`REST ingestion, ${label}`, 'pins/s', true, side, rate)
        record(`daemon CPU per pin, ingestion ${label}`, 'ms', false, side, (cpuMs(p.daemon.pid) - cpu0) / INGEST)
        if (failed > 0) console.error(`  [${side}] ${failed} requests failed`)
        if (!batching) record(`RSS after ingesting ${INGEST} pins`, 'MB', false, side, rssMb(p.daemon.pid))
      } finally {
        await p.daemon.stop()
        await p.destroy()
      }
    }
  }
}

async function benchChurn(kubo: Kubo): Promise<void> {
  const cids = await kuboBlocks(kubo, CHURN_CIDS)
  const every = Math.max(5, Math.min(15, Math.floor(CHURN_SECONDS / 4)))
  for (const side of SIDES) {
    const p = await newPeer(side, kubo, false)
    try {
      await p.daemon.start(120_000)
      const deadline = Date.now() + CHURN_SECONDS * 1000
      let ops = 0
      let failed = 0
      const samples: number[] = [rssMb(p.daemon.pid)]
      const sampler = setInterval(() => samples.push(rssMb(p.daemon.pid)), every * 1000)
      const t0 = performance.now()
      const cpu0 = cpuMs(p.daemon.pid)
      const per = CHURN_CIDS / CHURN_CLIENTS
      await Promise.all(
        Array.from({ length: CHURN_CLIENTS }, async (_, c) => {
          for (let i = 0; Date.now() < deadline && i < 100_000_000; i++) {
            const cid = cids[c * per + (i % per)]!
            for (const method of ['POST', 'DELETE']) {
              const res = await fetch(`${p.apiUrl}/pins/${cid}`, { method, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) })
              await res.arrayBuffer()
              if (res.ok) ops++
              else failed++
            }
          }
        })
      )
      clearInterval(sampler)
      samples.push(rssMb(p.daemon.pid))
      const rate = ops / ((performance.now() - t0) / 1000)
      record(`pin+unpin churn, ${CHURN_CIDS} CIDs, ${CHURN_CLIENTS} clients, ${CHURN_SECONDS} s`, 'ops/s', true, side, rate)
      record('daemon CPU per churn operation', 'ms', false, side, (cpuMs(p.daemon.pid) - cpu0) / ops)
      record(`RSS during churn (every ${every} s)`, '', false, side, samples.map((s) => s.toFixed(0)).join('→') + ' MB')
      record('RSS at the end of churn', 'MB', false, side, samples[samples.length - 1]!)
      const oneMinute = samples[Math.round(60 / every)]
      if (CHURN_SECONDS >= 120 && oneMinute !== undefined) {
        // the target: within 25% of the value after the first minute
        record('churn RSS at the end / after 1 minute', 'x', false, side, samples[samples.length - 1]! / oneMinute)
      }
      if (failed > 0) console.error(`  [${side}] churn: ${failed} requests failed`)
    } finally {
      await p.daemon.stop()
      await p.destroy()
    }
  }
}

async function benchScale(kubo: Kubo, n: number): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'vsup-pins-'))
  const file = join(dir, 'pins.ndjson')
  try {
    await writePins(file, n)
    const k = n >= 1_000_000 ? `${n / 1_000_000}M` : `${n / 1000}k`
    for (const side of SIDES) {
      const p = await newPeer(side, kubo, false)
      try {
        const imp = await p.importState(file)
        if (imp.code !== 0) throw new Error(`[${side}] state import failed (${imp.code}): ${imp.stderr.slice(-2000)}`)
        record(`state import, ${k} pins`, 'pins/s', true, side, n / (imp.ms / 1000))
        record(`start to READY, ${k} pins`, 'ms', false, side, await p.daemon.start(600_000))
        await sleep(2000)
        record(`RSS idle, ${k} pins`, 'MB', false, side, rssMb(p.daemon.pid))
        const ls = await streamCount(`${p.apiUrl}/allocations?filter=pin`)
        if (ls.n !== n) console.error(`  [${side}] GET /allocations returned ${ls.n} pins, wanted ${n}`)
        record(`GET /allocations, ${k} pins`, 'pins/s', true, side, ls.rate)
        const st = await streamCount(`${p.apiUrl}/pins?local=true`)
        if (st.n !== n) console.error(`  [${side}] GET /pins?local=true returned ${st.n} items, wanted ${n}`)
        record(`GET /pins?local=true, ${k} pins`, 'pins/s', true, side, st.rate)
        record(`RSS after listing, ${k} pins`, 'MB', false, side, rssMb(p.daemon.pid))
        const cl = await p.ctl(['pin', 'ls'])
        const lines = cl.stdout.split('\n').filter(Boolean).length
        if (cl.code !== 0 || lines !== n) console.error(`  [${side}] ctl pin ls: code ${cl.code}, ${lines} lines: ${cl.stderr.slice(-500)}`)
        record(`ctl pin ls, ${k} pins`, 'ms', false, side, cl.ms)
        record(`peak RSS, ${k} pins`, 'MB', false, side, rssMb(p.daemon.pid, 'VmHWM'))
      } finally {
        await p.daemon.stop()
        await p.destroy()
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

/** Polls `fn` every 500 ms until it is true or `ms` pass; false on timeout. */
async function pollUntil(fn: () => Promise<boolean>, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms
  for (let i = 0; Date.now() < deadline && i < 1_000_000; i++) {
    if (await fn().catch(() => false)) return true
    await sleep(500)
  }
  return false
}

/**
 * Waits until every daemon of `peers` used under 10% of a core over 2 s
 * (the joiners' trackers done with the merged pins); false after `ms`.
 */
async function waitIdle(peers: Peer[], ms: number): Promise<boolean> {
  const deadline = Date.now() + ms
  while (Date.now() < deadline) {
    const before = peers.map((p) => cpuMs(p.daemon.pid))
    await sleep(2000)
    if (peers.every((p, i) => cpuMs(p.daemon.pid) - before[i]! < 200)) return true
  }
  return false
}

/**
 * Asks each of `peers` for `GET /id` every `everyMs` until `stop()`, which
 * resolves to the longest answer seen (ms): how long a daemon went deaf
 * (no request, timer or socket served) while it worked.
 */
function probeLatency(peers: Peer[], everyMs = 250): { stop: () => Promise<number> } {
  let stopped = false
  let longest = 0
  const loop = (async () => {
    for (let i = 0; !stopped && i < 1_000_000; i++) {
      for (const p of peers) {
        const t = performance.now()
        try {
          const res = await fetch(`${p.apiUrl}/id`, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) })
          await res.arrayBuffer()
        } catch {
          // a refused or timed-out request counts with the time it took
        }
        longest = Math.max(longest, performance.now() - t)
      }
      await sleep(everyMs)
    }
  })()
  return {
    stop: async () => {
      stopped = true
      await loop
      return longest
    }
  }
}

/** How many peers `peer`'s `GET /peers` lists (its peerset: peers with a live ping metric). */
async function peersetSize(peer: Peer): Promise<number> {
  const res = await fetch(`${peer.apiUrl}/peers`, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) })
  const text = await res.text()
  return text.split('\n').filter((l) => l.trim() !== '').length
}

/** Whether `peer` has the whole pinset of `cids`: a sample of them first (cheap), then a full count. */
async function hasPinset(peer: Peer, cids: string[]): Promise<boolean> {
  const step = Math.max(1, Math.floor(cids.length / 20))
  for (let i = 0; i < cids.length; i += step) {
    const res = await fetch(`${peer.apiUrl}/allocations/${cids[i]}`, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) })
    await res.arrayBuffer()
    if (!res.ok) return false
  }
  const last = await fetch(`${peer.apiUrl}/allocations/${cids[cids.length - 1]}`, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) })
  await last.arrayBuffer()
  if (!last.ok) return false
  return (await streamCount(`${peer.apiUrl}/allocations?filter=pin`)).n === cids.length
}

/**
 * `--only peers3 --sync-scale N`: a cluster of three peers of one side
 * sharing a secret; the first holds N imported pins, the other two join
 * (`--bootstrap`) and sync; then the global `GET /pins` (every peer's
 * status of every pin, merged) from the first; then a fourth peer joins and
 * its time to hold the whole pinset is the sync time. One kubo for all.
 */
async function benchPeers3(kubo: Kubo, n: number): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'vsup-pins3-'))
  const file = join(dir, 'pins.ndjson')
  const k = n >= 1_000_000 ? `${n / 1_000_000}M` : `${n / 1000}k`
  try {
    await writePins(file, n)
    const cids = (await readFile(file, 'utf8'))
      .split('\n')
      .filter(Boolean)
      .map((l) => (JSON.parse(l) as { cid: string }).cid)
    for (const side of SIDES) {
      const secret = randomBytes(32).toString('hex')
      const port = await freePort()
      const first = await newPeer(side, kubo, false, { secret, port })
      const peers: Peer[] = [first]
      try {
        const imp = await first.importState(file)
        if (imp.code !== 0) throw new Error(`[${side}] state import failed (${imp.code}): ${imp.stderr.slice(-2000)}`)
        await first.daemon.start(600_000)
        const id = (JSON.parse(await readFile(join(first.folder, 'identity.json'), 'utf8')) as { id: string }).id
        const bootstrap = `/ip4/127.0.0.1/tcp/${port}/p2p/${id}`
        const timeoutMs = SYNC_TIMEOUT_S !== undefined ? SYNC_TIMEOUT_S * 1000 : Math.max(120_000, n * 20)
        let t0 = performance.now()
        for (let i = 0; i < 2; i++) {
          const p = await newPeer(side, kubo, false, { secret, port: await freePort(), bootstrap })
          peers.push(p)
          await p.daemon.start(600_000)
        }
        const probe = probeLatency(peers.slice(1))
        const synced = await pollUntil(async () => (await hasPinset(peers[1]!, cids)) && (await hasPinset(peers[2]!, cids)), timeoutMs)
        record(`two peers joining one with ${k} pins: both hold the pinset`, 's', false, side, synced ? (performance.now() - t0) / 1000 : Number.NaN)
        record(`joiners' longest GET /id answer during the ${k} sync`, 'ms', false, side, await probe.stop())
        if (!synced) {
          console.error(`  [${side}] the joining peers did not get the whole pinset in ${timeoutMs} ms: more than ${timeoutMs / 1000} s; the other peers3 rows of this side are not measured`)
          continue
        }
        // the global GET runs once the joiners' trackers are done (an unpin
        // in kubo for each pin allocated elsewhere), which is also timed
        const idle = await waitIdle(peers, timeoutMs)
        record(`two peers joining one with ${k} pins: all three daemons idle`, 's', false, side, idle ? (performance.now() - t0) / 1000 : Number.NaN)
        // a joiner whose ping metric expired while it merged is out of the first peer's peerset (and of the global GET)
        record(`peers in the first peer's peerset after the ${k} sync`, '', true, side, await peersetSize(first).catch(() => Number.NaN))
        const rates: number[] = []
        const cpuFirst: number[] = []
        const cpuAll: number[] = []
        for (let run = 0; run < GLOBAL_RUNS; run++) {
          const cpu0 = peers.map((p) => cpuMs(p.daemon.pid))
          const w0 = performance.now()
          const st = await streamCount(`${first.apiUrl}/pins`)
          const wall = performance.now() - w0
          if (st.n !== n) console.error(`  [${side}] global GET /pins returned ${st.n} items, wanted ${n}`)
          rates.push(st.rate)
          // wall vs CPU: a daemon far below its share of the wall time waits (latency), not works
          const used = peers.map((p, i) => cpuMs(p.daemon.pid) - cpu0[i]!)
          cpuFirst.push((used[0]! * 1000) / n)
          cpuAll.push((used.reduce((a, b) => a + b, 0) * 1000) / n)
          const cpu = used.map((u) => (u / wall) * 100)
          console.error(
            `  [${side}] global GET /pins run ${run + 1}: ${fmt(st.rate)} pins/s, ${fmt(wall)} ms wall, daemon CPU ${cpu.map((c) => `${c.toFixed(0)}%`).join(' / ')}, ${fmt(st.bytes / n)} B/pin, ${(st.statuses / n).toFixed(2)} peer entries/pin${st.errors > 0 ? `, ${st.errors} cluster_error entries` : ''}`
          )
          if (run === 0) console.error(`  [${side}] its first line: ${st.firstLine.slice(0, 1500)}`)
          if (st.errors > 0) {
            console.error(`  [${side}] the first cluster_error entry: ${st.firstError}`)
            for (const [i, p] of peers.entries()) {
              const lines = (await readFile(p.daemon.logPath, 'utf8').catch(() => '')).split('\n').filter((l) => /error|reset|timed out/i.test(l))
              for (const l of lines.slice(-5)) console.error(`  [${side}] peer ${i + 1} log: ${l.slice(0, 400)}`)
            }
          }
        }
        const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
        record(`global GET /pins, 3 peers, ${k} pins`, 'pins/s', true, side, median(rates))
        // CPU time is steadier than wall time on a shared machine (10 ms ticks: coarse below ~1000 pins)
        record(`global GET /pins, ${k} pins: CPU per pin, first peer`, 'µs', false, side, median(cpuFirst))
        record(`global GET /pins, ${k} pins: CPU per pin, three peers`, 'µs', false, side, median(cpuAll))
        record(`RSS after the global GET /pins, ${k} pins (first peer)`, 'MB', false, side, rssMb(first.daemon.pid))
        if (SKIP_FOURTH) continue
        t0 = performance.now()
        const fourth = await newPeer(side, kubo, false, { secret, port: await freePort(), bootstrap })
        peers.push(fourth)
        await fourth.daemon.start(600_000)
        const ok = await pollUntil(() => hasPinset(fourth, cids), timeoutMs)
        record(`a new peer joining 3 peers with ${k} pins: holds the pinset`, 's', false, side, ok ? (performance.now() - t0) / 1000 : Number.NaN)
        if (!ok) console.error(`  [${side}] the fourth peer did not get the whole pinset in ${timeoutMs} ms`)
      } finally {
        for (const p of peers.reverse()) {
          await p.daemon.stop()
          await p.destroy()
        }
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

async function benchVersion(kubo: Kubo): Promise<void> {
  for (const side of SIDES) {
    const p = await newPeer(side, kubo, false)
    try {
      await p.daemon.start(120_000)
      const times: number[] = []
      for (let i = 0; i < 8; i++) {
        const r = await p.ctl(['version'], 30_000)
        if (r.code !== 0) throw new Error(`[${side}] ctl version: ${r.stderr}`)
        if (i > 0) times.push(r.ms) // the first run warms the page cache
      }
      times.sort((a, b) => a - b)
      record('ctl version (wall, median of 7)', 'ms', false, side, times[3]!)
    } finally {
      await p.daemon.stop()
      await p.destroy()
    }
  }
}

async function main(): Promise<void> {
  const t0 = Date.now()
  const kubo = await startKubo({ offline: true })
  try {
    console.error(`# ours: ${clusterBinary()}; upstream: ${SIDES.includes('upstream') ? await upstreamTools() : '-'}; kubo ${kubo.apiUrl}`)
    if (ONLY.has('version')) await benchVersion(kubo)
    if (ONLY.has('ingest')) await benchIngest(kubo)
    if (ONLY.has('scale')) for (const n of SCALES) await benchScale(kubo, n)
    if (ONLY.has('churn')) await benchChurn(kubo)
    if (ONLY.has('peers3')) await benchPeers3(kubo, SYNC_SCALE)
  } finally {
    printTable()
    console.log(`(${((Date.now() - t0) / 1000).toFixed(0)} s)`)
    await stopAllKubos()
  }
}

await main()
