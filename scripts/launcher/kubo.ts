/**
 * Launcher: real kubo (`ipfs`) daemons on loopback, one temporary repo
 * each, for `npm run cluster`, the benchmarks and the tests. Never mock kubo
 * in integration or e2e tests; start one of these.
 *
 * ```ts
 * import { afterAll, beforeAll } from 'bun:test'
 * import { type Kubo, startKubo, stopAllKubos } from '../../../scripts/launcher/index.ts'
 *
 * let kubo: Kubo
 * beforeAll(async () => { kubo = await startKubo({ offline: true }) })
 * afterAll(stopAllKubos)          // stops every daemon and deletes every repo
 *
 * const { stdout } = await kubo.ipfs(['add', '-Q', '--pin=false'], { input: 'hello' })
 * ```
 *
 * What a daemon looks like:
 * - repo: `ipfs init --profile test` in a fresh temp folder, then the config
 *   is edited: API, Gateway and Swarm (tcp only) on 127.0.0.1 with free ports
 *   picked by binding port 0, no Bootstrap, MDNS off, AutoConf off, Routing
 *   `none` (two harness daemons still exchange blocks over bitswap once
 *   connected with `swarm connect`), no NAT port mapping, no relays, no
 *   AutoTLS, telemetry off.
 * - `offline: true` runs `ipfs daemon --offline` (nothing is ever fetched,
 *   so pinning an absent CID hangs until the caller's timeout).
 * - ready = `POST /api/v0/id` answers (polled with a deadline, 60 s);
 *   a daemon that exits early fails `startKubo` with its output.
 * - `stop()` sends SIGTERM, then SIGKILL after 10 s; the repo is kept, so
 *   `start()` brings the same node back on the same ports. `kill()` is an
 *   immediate SIGKILL (a crash). `destroy()` stops and deletes the repo.
 * - `stopAllKubos()` (for `afterAll`) destroys every daemon this process
 *   started; a process `exit` hook SIGKILLs leftovers and removes their repos.
 *   `stopAllKubos({ keepRepos: true })` stops them and leaves the repos.
 *
 * The binary: `KUBO_BIN` if set (`IPFS_BIN` is read too, for older
 * scripts), else `.tools/kubo-<v>/ipfs` for the version
 * pinned in `scripts/kubo.sh`, else that script builds it (serialized with `flock` so
 * parallel test processes do not build it twice).
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, rmSync } from 'node:fs'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { candidatePort, ephemeralLow } from '../../src/runtime/ports.ts'
import { waitFor } from './poll.ts'

export interface KuboCommandResult {
  stdout: string
  stderr: string
  code: number
}

export interface Kubo {
  /** `/ip4/127.0.0.1/tcp/<port>`: what the cluster's `node_multiaddress` takes. */
  apiMultiaddr: string
  /** `http://127.0.0.1:<port>` (RPC API root; endpoints are under `/api/v0/`). */
  apiUrl: string
  /** `http://127.0.0.1:<port>` (HTTP gateway). */
  gatewayUrl: string
  /** swarm multiaddrs with `/p2p/<peerId>`, e.g. `/ip4/127.0.0.1/tcp/N/p2p/12D3…`. */
  swarmAddrs: string[]
  /** the repo folder (IPFS_PATH). */
  repo: string
  /** the daemon's peer ID (base58 `12D3Koo…`). */
  peerId: string
  offline: boolean
  /** Runs the `ipfs` CLI against this repo (through the daemon's API when it runs). */
  ipfs(args: string[], opts?: { input?: string | Uint8Array; timeoutMs?: number }): Promise<KuboCommandResult>
  /** Like `ipfs()` but throws when the exit code is not 0; returns trimmed stdout. */
  ipfsOk(args: string[], opts?: { input?: string | Uint8Array; timeoutMs?: number }): Promise<string>
  /** SIGTERM, then SIGKILL after 10 s. Keeps the repo. Idempotent. */
  stop(): Promise<void>
  /** Restarts a stopped daemon on the same ports and repo. Idempotent. */
  start(): Promise<void>
  /** SIGKILL now (simulates a crash); the repo is kept. */
  kill(): void
  /** Stops and deletes the repo. */
  destroy(): Promise<void>
  /** Whether the daemon process is alive. */
  running(): boolean
}

export interface StartKuboOptions {
  /** `ipfs daemon --offline`. Default false. */
  offline?: boolean
  /** Extra config edits applied to the repo's config JSON before the first start. */
  config?: (cfg: Record<string, unknown>) => void
  /** Deadline for the daemon to answer `/api/v0/id`, ms. Default 60000. */
  readyTimeoutMs?: number
  /**
   * Run inside a network namespace (see `test/helpers/netns.ts`): `exec` wraps an argv
   * to run there; the swarm listens on `swarmIp`, the API and gateway on the
   * namespace's own loopback (so `apiUrl` is only reachable from inside).
   */
  netns?: { exec: (argv: string[]) => string[]; swarmIp: string }
}

const ROOT = resolve(import.meta.dir, '../..')
const STOP_GRACE_MS = 10_000
const live = new Set<KuboDaemon>()

let binaryPromise: Promise<string> | undefined

/** Path of the pinned kubo `ipfs` binary (builds it the first time). */
export function kuboBinary(): Promise<string> {
  binaryPromise ??= findOrBuildBinary().catch((err: unknown) => {
    binaryPromise = undefined
    throw err
  })
  return binaryPromise
}

async function findOrBuildBinary(): Promise<string> {
  for (const fromEnv of [process.env.KUBO_BIN, process.env.IPFS_BIN]) {
    if (fromEnv !== undefined && fromEnv !== '') return fromEnv
  }
  const script = join(ROOT, 'scripts', 'kubo.sh')
  const existing = await pinnedToolsBinary(script)
  if (existing !== undefined) return existing
  const hasFlock = (await run('sh', ['-c', 'command -v flock'], {})).code === 0
  const [cmd, args] = hasFlock ? ['flock', [join(tmpdir(), 'kubo-build.lock'), 'bash', script]] : ['bash', [script]]
  const res = await run(cmd, args, { timeoutMs: 30 * 60_000 })
  const last = res.stdout.trim().split('\n').pop() ?? ''
  if (res.code !== 0 || last === '' || !existsSync(last)) {
    throw new Error(`scripts/kubo.sh failed (code ${res.code}): ${res.stderr.slice(-2000)}`)
  }
  return last
}

/** `.tools/kubo-<v>/ipfs` for the version `scripts/kubo.sh` pins, when already built. */
async function pinnedToolsBinary(script: string): Promise<string | undefined> {
  const version = /KUBO_VERSION:-(v[0-9][^}"]*)/.exec(await readFile(script, 'utf8'))?.[1]
  if (version === undefined) return undefined
  const bin = join(ROOT, '.tools', `kubo-${version}`, 'ipfs')
  return existsSync(bin) ? bin : undefined
}

const handedOut = new Set<number>()

function listenOnce(port: number): Promise<number | undefined> {
  return new Promise((res) => {
    const srv = createServer()
    srv.unref()
    srv.once('error', () => res(undefined))
    srv.listen(port, '127.0.0.1', () => {
      const addr = srv.address()
      const got = addr !== null && typeof addr !== 'string' ? addr.port : undefined
      srv.close(() => res(got))
    })
  })
}

/**
 * A free TCP port on 127.0.0.1, never the same twice in this process. Tried
 * first at random between 10000 and the kernel's ephemeral range (src/runtime/ports.ts),
 * so that no outgoing connection takes it before the daemon binds it; then
 * port 0.
 */
export async function freePort(): Promise<number> {
  const low = ephemeralLow()
  for (let i = 0; i < 64; i++) {
    const want = candidatePort(low)
    if (want === undefined) break
    if (handedOut.has(want)) continue
    const got = await listenOnce(want)
    if (got !== undefined) {
      handedOut.add(got)
      return got
    }
  }
  for (let i = 0; i < 64; i++) {
    const got = await listenOnce(0)
    if (got !== undefined && !handedOut.has(got)) {
      handedOut.add(got)
      return got
    }
  }
  throw new Error('could not get a free port')
}

function run(
  cmd: string,
  args: string[],
  opts: { env?: Record<string, string>; input?: string | Uint8Array; timeoutMs?: number }
): Promise<KuboCommandResult> {
  return new Promise((res, rej) => {
    const child = spawn(cmd, args, {
      env: { ...process.env, ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe']
    })
    const out: Buffer[] = []
    const err: Buffer[] = []
    child.stdout.on('data', (b: Buffer) => out.push(b))
    child.stderr.on('data', (b: Buffer) => err.push(b))
    const timer =
      opts.timeoutMs !== undefined
        ? setTimeout(() => {
            child.kill('SIGKILL')
          }, opts.timeoutMs)
        : undefined
    child.on('error', (e) => {
      if (timer !== undefined) clearTimeout(timer)
      rej(e)
    })
    child.on('close', (code, signal) => {
      if (timer !== undefined) clearTimeout(timer)
      res({
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8') + (signal !== null ? `\n(killed by ${signal})` : ''),
        code: code ?? -1
      })
    })
    child.stdin.on('error', () => {})
    if (opts.input !== undefined) child.stdin.end(opts.input)
    else child.stdin.end()
  })
}

class KuboDaemon implements Kubo {
  apiMultiaddr: string
  apiUrl: string
  gatewayUrl: string
  swarmAddrs: string[]
  repo: string
  peerId: string
  offline: boolean
  private readonly bin: string
  private readonly readyTimeoutMs: number
  private readonly wrap: (argv: string[]) => string[]
  private proc: ChildProcess | undefined
  private exited: Promise<void> | undefined
  private log = ''

  constructor(init: {
    bin: string
    repo: string
    peerId: string
    apiPort: number
    gatewayPort: number
    swarmPort: number
    offline: boolean
    readyTimeoutMs: number
    netns?: StartKuboOptions['netns']
  }) {
    this.wrap = init.netns?.exec ?? ((argv) => argv)
    this.inNetns = init.netns !== undefined
    this.bin = init.bin
    this.repo = init.repo
    this.peerId = init.peerId
    this.offline = init.offline
    this.readyTimeoutMs = init.readyTimeoutMs
    this.apiMultiaddr = `/ip4/127.0.0.1/tcp/${init.apiPort}`
    this.apiUrl = `http://127.0.0.1:${init.apiPort}`
    this.gatewayUrl = `http://127.0.0.1:${init.gatewayPort}`
    this.swarmAddrs = [`/ip4/${init.netns?.swarmIp ?? '127.0.0.1'}/tcp/${init.swarmPort}/p2p/${init.peerId}`]
  }

  private readonly inNetns: boolean

  /** Whether the daemon answers `id` with its own peer ID (over HTTP, or with the CLI inside a namespace). */
  private async answers(): Promise<boolean> {
    if (this.inNetns) {
      const [cmd, ...rest] = this.wrap([this.bin, '--api', this.apiMultiaddr, 'id', '-f', '<id>'])
      const r = await run(cmd!, rest, { env: this.env(), timeoutMs: 5_000 })
      return r.code === 0 && r.stdout.trim() === this.peerId
    }
    const r = await fetch(`${this.apiUrl}/api/v0/id`, { method: 'POST', signal: AbortSignal.timeout(2000) })
    if (!r.ok) {
      await r.body?.cancel()
      return false
    }
    return ((await r.json()) as { ID?: string }).ID === this.peerId
  }

  private env(): Record<string, string> {
    return { IPFS_PATH: this.repo, IPFS_TELEMETRY: 'off', GOLOG_LOG_LEVEL: 'error' }
  }

  running(): boolean {
    return this.proc !== undefined && this.proc.exitCode === null && this.proc.signalCode === null
  }

  ipfs(args: string[], opts: { input?: string | Uint8Array; timeoutMs?: number } = {}): Promise<KuboCommandResult> {
    const [cmd, ...rest] = this.wrap([this.bin, ...args])
    return run(cmd!, rest, { env: this.env(), input: opts.input, timeoutMs: opts.timeoutMs ?? 60_000 })
  }

  async ipfsOk(args: string[], opts: { input?: string | Uint8Array; timeoutMs?: number } = {}): Promise<string> {
    const r = await this.ipfs(args, opts)
    if (r.code !== 0) throw new Error(`ipfs ${args.join(' ')} failed (code ${r.code}): ${r.stderr.trim()}`)
    return r.stdout.trim()
  }

  async start(): Promise<void> {
    if (this.running()) return
    live.add(this)
    this.log = ''
    const args = ['daemon']
    if (this.offline) args.push('--offline')
    const [cmd, ...rest] = this.wrap([this.bin, ...args])
    const proc = spawn(cmd!, rest, { env: { ...process.env, ...this.env() }, stdio: ['ignore', 'pipe', 'pipe'] })
    this.proc = proc
    const keep = (b: Buffer): void => {
      this.log = (this.log + b.toString('utf8')).slice(-8000)
    }
    proc.stdout?.on('data', keep)
    proc.stderr?.on('data', keep)
    this.exited = new Promise((res) => {
      proc.on('exit', () => res())
      proc.on('error', (e) => {
        keep(Buffer.from(String(e)))
        res()
      })
    })
    const state = await waitFor(
      async () => {
        if (proc.exitCode !== null || proc.signalCode !== null) return 'exited'
        return (await this.answers()) && 'ready'
      },
      'kubo to answer /api/v0/id',
      this.readyTimeoutMs,
      100
    ).catch(() => 'timeout' as const)
    if (state === 'ready') return
    if (state === 'exited') {
      throw new Error(`kubo daemon exited early (code ${proc.exitCode}, signal ${proc.signalCode}):\n${this.log}`)
    }
    await this.stop()
    throw new Error(`kubo daemon did not answer /api/v0/id within ${this.readyTimeoutMs} ms:\n${this.log}`)
  }

  async stop(): Promise<void> {
    const proc = this.proc
    if (proc === undefined) return
    if (this.running()) {
      proc.kill('SIGTERM')
      let timer: ReturnType<typeof setTimeout> | undefined
      const killed = await Promise.race([
        this.exited?.then(() => false),
        new Promise<boolean>((res) => {
          timer = setTimeout(() => res(true), STOP_GRACE_MS)
        })
      ])
      clearTimeout(timer)
      if (killed === true && this.running()) {
        proc.kill('SIGKILL')
        await this.exited
      }
    }
    this.proc = undefined
  }

  kill(): void {
    if (this.running()) this.proc?.kill('SIGKILL')
  }

  /** Daemon output (last 8 KB), for assertions and debugging. */
  output(): string {
    return this.log
  }

  async destroy(): Promise<void> {
    await this.stop()
    live.delete(this)
    await rm(this.repo, { recursive: true, force: true })
  }

  /** Synchronous last resort (process exit). */
  killAndRemoveSync(): void {
    try {
      this.proc?.kill('SIGKILL')
    } catch {}
    try {
      rmSync(this.repo, { recursive: true, force: true })
    } catch {}
  }
}

let exitHookInstalled = false
function installExitHook(): void {
  if (exitHookInstalled) return
  exitHookInstalled = true
  process.on('exit', () => {
    for (const k of live) k.killAndRemoveSync()
    live.clear()
  })
}

/**
 * Creates a temporary repo and starts a kubo daemon on free loopback ports.
 * Resolves once the daemon answers `/api/v0/id`.
 * @throws Error when the binary cannot be built, init fails or the daemon does not come up.
 */
export async function startKubo(opts: StartKuboOptions = {}): Promise<Kubo> {
  installExitHook()
  const bin = await kuboBinary()
  const repo = await mkdtemp(join(tmpdir(), 'kubo-test-'))
  const env = { IPFS_PATH: repo, IPFS_TELEMETRY: 'off' }
  const init = await run(bin, ['init', '--profile', 'test'], { env, timeoutMs: 60_000 })
  if (init.code !== 0) {
    await rm(repo, { recursive: true, force: true })
    throw new Error(`ipfs init failed (code ${init.code}): ${init.stderr}`)
  }
  const cfgPath = join(repo, 'config')
  const cfg = JSON.parse(await readFile(cfgPath, 'utf8')) as Record<string, unknown>
  const identity = cfg.Identity as { PeerID: string }
  const obj = (k: string): Record<string, unknown> => {
    const v = cfg[k]
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) return v as Record<string, unknown>
    const o: Record<string, unknown> = {}
    cfg[k] = o
    return o
  }
  cfg.Bootstrap = []
  obj('AutoConf').Enabled = false
  obj('AutoTLS').Enabled = false
  obj('Routing').Type = 'none'
  obj('Provide').Enabled = false
  const discovery = obj('Discovery')
  discovery.MDNS = { Enabled: false }
  const swarm = obj('Swarm')
  swarm.DisableNatPortMap = true
  swarm.RelayClient = { Enabled: false }
  swarm.RelayService = { Enabled: false }
  swarm.Transports = { Network: { QUIC: false, WebTransport: false, WebRTCDirect: false, Websocket: false, Relay: false } }
  // Free ports are found by binding port 0 and closing: another process may
  // grab one before kubo binds it. Then retry with fresh ports (bounded).
  for (let attempt = 1; ; attempt++) {
    const [apiPort, gatewayPort, swarmPort] = [await freePort(), await freePort(), await freePort()]
    Object.assign(obj('Addresses'), {
      API: `/ip4/127.0.0.1/tcp/${apiPort}`,
      Gateway: `/ip4/127.0.0.1/tcp/${gatewayPort}`,
      Swarm: [`/ip4/${opts.netns?.swarmIp ?? '127.0.0.1'}/tcp/${swarmPort}`],
      Announce: [],
      AppendAnnounce: [],
      NoAnnounce: []
    })
    opts.config?.(cfg)
    await writeFile(cfgPath, JSON.stringify(cfg, null, 2))
    const k = new KuboDaemon({
      bin,
      repo,
      peerId: identity.PeerID,
      apiPort,
      gatewayPort,
      swarmPort,
      offline: opts.offline ?? false,
      readyTimeoutMs: opts.readyTimeoutMs ?? 60_000,
      netns: opts.netns
    })
    live.add(k)
    try {
      await k.start()
      return k
    } catch (err) {
      await k.stop()
      live.delete(k)
      if (attempt < 3 && /address already in use/i.test(String(err))) continue
      await rm(repo, { recursive: true, force: true })
      throw err
    }
  }
}

/**
 * Stops every daemon started by this process and deletes their repos (use
 * in `afterAll`). With `keepRepos` the repos stay on disk (and the exit hook
 * forgets them); their folders are each `Kubo.repo`.
 */
export async function stopAllKubos(opts: { keepRepos?: boolean } = {}): Promise<void> {
  if (opts.keepRepos === true) {
    await Promise.all(
      [...live].map(async (k) => {
        await k.stop()
        live.delete(k)
      })
    )
    return
  }
  await Promise.all([...live].map((k) => k.destroy()))
}
