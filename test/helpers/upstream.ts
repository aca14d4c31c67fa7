/**
 * Mixed-cluster harness: real upstream Go peers (`ipfs-cluster-service`
 * and `ipfs-cluster-ctl` v1.1.6, built by `scripts/upstream.sh`) on
 * loopback, one temporary folder each. Never mock the Go peer; start one
 * of these.
 *
 * ```ts
 * const kubo = await startKubo()
 * const go = await initGoPeer({ ipfsApi: kubo.apiMultiaddr, secret })
 * await go.start(['--bootstrap', ourPeerAddr])
 * const pins = await go.ctlJson(['pin', 'ls'])
 * await go.destroy()
 * ```
 *
 * What a Go peer looks like: `ipfs-cluster-service init --randomports
 * --consensus crdt` with `CLUSTER_SECRET`, then `service.json` is edited:
 * cluster swarm on 127.0.0.1 (TCP only; upstream's host does not speak QUIC
 * on a private network anyway), no mDNS, the kubo API given, and the
 * caller's edits. `start()` waits for "IPFS Cluster is READY" (bounded);
 * `stop()` is SIGTERM then SIGKILL, by the daemon's own pid.
 *
 * The binaries: `UPSTREAM_CLUSTER_DIR` if set (a folder holding both), else
 * `.tools/ipfs-cluster-<v>/` for the version pinned in `scripts/upstream.sh`,
 * else that script builds them (serialized with `flock` so parallel test
 * processes do not build twice).
 */
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import type { Subprocess } from 'bun'
import { type RunResult, waitFor } from '../../scripts/launcher/index.ts'

const ROOT = resolve(import.meta.dir, '../..')
const PROGRAMS = ['ipfs-cluster-service', 'ipfs-cluster-ctl']

let toolsPromise: Promise<string> | undefined

/** The folder holding upstream's `ipfs-cluster-service` and `ipfs-cluster-ctl` (builds them the first time). */
export function upstreamTools(): Promise<string> {
  toolsPromise ??= findOrBuildTools().catch((err: unknown) => {
    toolsPromise = undefined
    throw err
  })
  return toolsPromise
}

const has = (dir: string): boolean => PROGRAMS.every((p) => existsSync(join(dir, p)))

async function findOrBuildTools(): Promise<string> {
  const fromEnv = process.env.UPSTREAM_CLUSTER_DIR
  if (fromEnv !== undefined && fromEnv !== '') {
    if (!has(fromEnv)) throw new Error(`UPSTREAM_CLUSTER_DIR=${fromEnv} does not hold ${PROGRAMS.join(' and ')}`)
    return fromEnv
  }
  const script = join(ROOT, 'scripts', 'upstream.sh')
  const version = /UPSTREAM_VERSION:-(v[0-9][^}"]*)/.exec(await readFile(script, 'utf8'))?.[1]
  const pinned = version !== undefined ? join(ROOT, '.tools', `ipfs-cluster-${version}`) : undefined
  if (pinned !== undefined && has(pinned)) return pinned
  const hasFlock = (await run('sh', ['-c', 'command -v flock'], { timeoutMs: 10_000 })).code === 0
  const [cmd, args] = hasFlock ? ['flock', [join(tmpdir(), 'ipfs-cluster-upstream-build.lock'), 'bash', script]] : ['bash', [script]]
  const res = await run(cmd, args, { timeoutMs: 30 * 60_000 })
  const last = res.stdout.trim().split('\n').pop() ?? ''
  if (res.code !== 0 || last === '' || !has(last)) {
    throw new Error(`scripts/upstream.sh failed (code ${res.code}): ${res.stderr.slice(-2000)}`)
  }
  return last
}

function run(cmd: string, args: string[], opts: { env?: Record<string, string>; timeoutMs: number }): Promise<RunResult> {
  return new Promise((res, rej) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] })
    const out: Buffer[] = []
    const err: Buffer[] = []
    child.stdout.on('data', (b: Buffer) => out.push(b))
    child.stderr.on('data', (b: Buffer) => err.push(b))
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs)
    child.on('error', (e) => {
      clearTimeout(timer)
      rej(e)
    })
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      res({
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8') + (signal !== null ? `\n(killed by ${signal})` : ''),
        code: code ?? -1
      })
    })
  })
}

/** An upstream Go peer: its folder, its daemon, and upstream's ctl against its REST API. */
export class GoClusterPeer {
  readonly folder: string
  readonly tools: string
  /** the peer ID (identity.json). */
  readonly id: string
  /** `/ip4/127.0.0.1/tcp/<port>` of its REST API (what `ipfs-cluster-ctl --host` takes). */
  readonly apiMultiaddr: string
  /** `/ip4/127.0.0.1/tcp/<port>/p2p/<id>`: its cluster swarm address. */
  readonly swarmAddr: string
  logs = ''
  private proc: Subprocess<'ignore', 'pipe', 'pipe'> | undefined

  constructor(init: { folder: string; tools: string; id: string; apiMultiaddr: string; swarmAddr: string }) {
    this.folder = init.folder
    this.tools = init.tools
    this.id = init.id
    this.apiMultiaddr = init.apiMultiaddr
    this.swarmAddr = init.swarmAddr
  }

  /**
   * `ipfs-cluster-service --loglevel <logLevel> -c <folder> daemon …`;
   * resolves at "IPFS Cluster is READY". The default log level leaves out
   * the REST API's access log (one line per request the test polls with).
   */
  async start(extraArgs: string[] = [], opts: { timeoutMs?: number; logLevel?: string } = {}): Promise<void> {
    this.logs = ''
    const argv = [join(this.tools, 'ipfs-cluster-service'), '--loglevel', opts.logLevel ?? 'info,restapilog:error', '-c', this.folder, 'daemon']
    const proc = Bun.spawn([...argv, ...extraArgs], {
      env: { ...process.env, GOLOG_LOG_FMT: 'nocolor' },
      stdin: 'ignore',
      stdout: 'pipe',
      stderr: 'pipe'
    })
    this.proc = proc
    const collect = async (s: ReadableStream<Uint8Array>): Promise<void> => {
      const dec = new TextDecoder()
      for await (const chunk of s) this.logs += dec.decode(chunk, { stream: true })
    }
    void collect(proc.stdout)
    void collect(proc.stderr)
    await waitFor(
      async () => {
        if (proc.exitCode !== null) throw new Error(`upstream daemon exited with ${proc.exitCode}`)
        return this.logs.includes('IPFS Cluster is READY')
      },
      'the upstream daemon to be READY',
      opts.timeoutMs ?? 60_000,
      100
    ).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}\n--- upstream daemon logs ---\n${this.logs}`)
    })
  }

  /** Upstream `ipfs-cluster-ctl --host <api> …` (bounded). */
  ctl(args: string[], timeoutMs = 30_000): Promise<RunResult> {
    return run(join(this.tools, 'ipfs-cluster-ctl'), ['--host', this.apiMultiaddr, ...args], { timeoutMs })
  }

  /**
   * `ctl --enc json …`, parsed: upstream prints one JSON value, or one per
   * line for streams (`pin ls`, `status`, `peers ls`); always an array here.
   * @throws Error with the output when the command fails
   */
  async ctlJson<T>(args: string[], timeoutMs = 30_000): Promise<T[]> {
    const r = await this.ctl(['--enc', 'json', ...args], timeoutMs)
    if (r.code !== 0) throw new Error(`ipfs-cluster-ctl ${args.join(' ')} failed (${r.code}): ${r.stderr}${r.stdout}`)
    return parseJsonValues<T>(r.stdout)
  }

  /** SIGTERM and wait (SIGKILL after a deadline). */
  async stop(timeoutMs = 20_000): Promise<void> {
    const p = this.proc
    if (p === undefined || p.exitCode !== null) return
    p.kill('SIGTERM')
    const t = setTimeout(() => p.kill('SIGKILL'), timeoutMs)
    await p.exited
    clearTimeout(t)
  }

  async destroy(): Promise<void> {
    const p = this.proc
    if (p !== undefined && p.exitCode === null) {
      p.kill('SIGKILL')
      await p.exited
    }
    await rm(this.folder, { recursive: true, force: true })
  }
}

/** Parses concatenated JSON values (upstream's json output: one document, or one per item). */
export function parseJsonValues<T>(text: string): T[] {
  const out: T[] = []
  let depth = 0
  let start = -1
  let inString = false
  let escaped = false
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!
    if (inString) {
      if (escaped) escaped = false
      else if (ch === '\\') escaped = true
      else if (ch === '"') inString = false
      continue
    }
    if (ch === '"') inString = true
    else if (ch === '{' || ch === '[') {
      if (depth === 0) start = i
      depth++
    } else if (ch === '}' || ch === ']') {
      depth--
      if (depth === 0) {
        const v = JSON.parse(text.slice(start, i + 1)) as T | T[]
        if (Array.isArray(v)) out.push(...v)
        else out.push(v)
      }
    }
  }
  return out
}

/**
 * `ipfs-cluster-service init --randomports --consensus crdt` in a temp
 * folder with `secret`, pointed at `ipfsApi`; `edit` changes the parsed
 * `service.json` before it is written back.
 */
export async function initGoPeer(opts: {
  ipfsApi: string
  secret: string
  peername?: string
  edit?: (cfg: GoServiceJson) => void
}): Promise<GoClusterPeer> {
  const tools = await upstreamTools()
  const folder = await mkdtemp(join(tmpdir(), 'cluster-go-'))
  const r = await run(join(tools, 'ipfs-cluster-service'), ['-c', folder, 'init', '--randomports', '--consensus', 'crdt'], {
    env: { CLUSTER_SECRET: opts.secret },
    timeoutMs: 60_000
  })
  if (r.code !== 0) {
    await rm(folder, { recursive: true, force: true })
    throw new Error(`ipfs-cluster-service init failed (${r.code}): ${r.stderr}${r.stdout}`)
  }
  const cfgPath = join(folder, 'service.json')
  const cfg = JSON.parse(await readFile(cfgPath, 'utf8')) as GoServiceJson
  // loopback, TCP only; no mDNS (multicast would reach other tests' peers)
  cfg.cluster.listen_multiaddress = cfg.cluster.listen_multiaddress
    .filter((a) => a.includes('/tcp/'))
    .map((a) => a.replace('/ip4/0.0.0.0/', '/ip4/127.0.0.1/'))
  cfg.cluster.mdns_interval = '0s'
  if (opts.peername !== undefined) cfg.cluster.peername = opts.peername
  cfg.ipfs_connector.ipfshttp.node_multiaddress = opts.ipfsApi
  cfg.api.ipfsproxy.node_multiaddress = opts.ipfsApi
  opts.edit?.(cfg)
  await writeFile(cfgPath, JSON.stringify(cfg, null, 2))
  const id = (JSON.parse(await readFile(join(folder, 'identity.json'), 'utf8')) as { id: string }).id
  const api = cfg.api.restapi.http_listen_multiaddress
  const swarm = cfg.cluster.listen_multiaddress[0]
  if (swarm === undefined) throw new Error('upstream init wrote no TCP listen address')
  return new GoClusterPeer({ folder, tools, id, apiMultiaddr: Array.isArray(api) ? api[0]! : api, swarmAddr: `${swarm}/p2p/${id}` })
}

/**
 * Edits a Go peer's `service.json` for tests that must notice peers within
 * seconds (the Go side of the launcher's FAST_TIMINGS): ping every 2 s,
 * metrics TTL 2 s, gossipsub heartbeat, peer watch and monitor check every
 * 1 s, crdt rebroadcast every 2 s, kubo swarms connected once after
 * `connectSwarmsDelay`.
 */
export function goFastTimings(cfg: GoServiceJson, connectSwarmsDelay: string): void {
  cfg.cluster.monitor_ping_interval = '2s'
  cfg.cluster.pubsub.heartbeat_interval = '1s'
  cfg.cluster.peer_watch_interval = '1s'
  cfg.consensus.crdt.rebroadcast_interval = '2s'
  cfg.monitor.pubsubmon.check_interval = '1s'
  for (const inf of Object.values(cfg.informer)) inf.metric_ttl = '2s'
  cfg.ipfs_connector.ipfshttp.connect_swarms_delay = connectSwarmsDelay
}

/** The parts of upstream's `service.json` the harness reads or edits (the rest is kept as is). */
export interface GoServiceJson {
  cluster: {
    peername: string
    secret: string
    listen_multiaddress: string[]
    mdns_interval: string
    monitor_ping_interval: string
    peer_watch_interval: string
    pubsub: { heartbeat_interval: string; [key: string]: unknown }
    [key: string]: unknown
  }
  consensus: { crdt: { trusted_peers: string[]; rebroadcast_interval?: string; [key: string]: unknown } }
  api: {
    restapi: { http_listen_multiaddress: string | string[]; [key: string]: unknown }
    ipfsproxy: { node_multiaddress: string; [key: string]: unknown }
    [key: string]: unknown
  }
  ipfs_connector: { ipfshttp: { node_multiaddress: string; connect_swarms_delay: string; [key: string]: unknown } }
  monitor: { pubsubmon: { check_interval: string } }
  informer: Record<string, { metric_ttl: string; [key: string]: unknown }>
  [key: string]: unknown
}
