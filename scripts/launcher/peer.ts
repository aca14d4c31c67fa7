/**
 * Launcher: cluster peers of the compiled binary (dist/ipfs-cluster), driven
 * as a user would, for `npm run cluster`, the benchmarks and the e2e tests.
 * `initPeer` runs `service init --randomports` in a temp folder pointed at a
 * kubo; `ClusterPeer.start()` runs `service daemon` and waits for "IPFS
 * Cluster is READY"; `ctl()` runs `ctl --host <api>`.
 * Peers are stopped by their own pid only.
 *
 * Logs: the daemon's whole output (stdout and stderr, in arrival order) is
 * appended to `<folder>/daemon.log`; `ClusterPeer.logs` holds only its last
 * `LOG_TAIL_CHARS` characters (1 Mi), since the start, so a long run does
 * not grow the launcher's memory.
 */
import { createWriteStream, existsSync, type WriteStream } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import type { Subprocess } from 'bun'
import { waitFor } from './poll.ts'

const ROOT = resolve(import.meta.dir, '../..')

/** Path of the compiled binary; tests need `npm run build` first (scripts/test.sh does it). */
export function clusterBinary(): string {
  const bin = process.env.IPFS_CLUSTER_BIN ?? join(ROOT, 'dist', 'ipfs-cluster')
  if (!existsSync(bin)) throw new Error(`${bin} does not exist: run "npm run build" first`)
  return bin
}

export interface RunResult {
  stdout: string
  stderr: string
  code: number
}

/** Runs the binary with args; bounded by timeoutMs. */
export async function runBinary(
  args: string[],
  opts: { env?: Record<string, string>; input?: string; timeoutMs?: number; cwd?: string; wrap?: (argv: string[]) => string[] } = {}
): Promise<RunResult> {
  const argv = [clusterBinary(), ...args]
  const proc = Bun.spawn(opts.wrap?.(argv) ?? argv, {
    env: { ...process.env, ...opts.env },
    cwd: opts.cwd,
    stdin: opts.input !== undefined ? new TextEncoder().encode(opts.input) : 'ignore',
    stdout: 'pipe',
    stderr: 'pipe'
  })
  const timer = setTimeout(() => proc.kill('SIGKILL'), opts.timeoutMs ?? 60_000)
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited
  ])
  clearTimeout(timer)
  return { stdout, stderr, code }
}

/** How much of a daemon's output `ClusterPeer.logs` keeps (characters, the most recent). */
export const LOG_TAIL_CHARS = 1024 * 1024

/** The file, in the peer's folder, that receives the daemon's whole output. */
export const DAEMON_LOG = 'daemon.log'

export class ClusterPeer {
  readonly folder: string
  readonly env: Record<string, string>
  apiMultiaddr = ''
  apiUrl = ''
  /** working folder of the daemon (default: the launcher's); e.g. an empty one, to show nothing is read from it */
  cwd: string | undefined
  proc: Subprocess<'ignore', 'pipe', 'pipe'> | undefined
  private tail = ''
  /** set by `stop()` and `kill()`: the daemon's exit was asked for */
  private stopping = false
  private logFile: WriteStream | undefined
  /** wraps an argv to run where this peer runs (a network namespace, see test/helpers/netns.ts); identity by default */
  readonly wrap: (argv: string[]) => string[]

  constructor(folder: string, env: Record<string, string>, wrap: (argv: string[]) => string[] = (argv) => argv) {
    this.folder = folder
    this.env = env
    this.wrap = wrap
  }

  /** The daemon's output since the last `start()`: its last `LOG_TAIL_CHARS` characters (the whole output is in `logFile`). */
  get logs(): string {
    if (this.tail.length > LOG_TAIL_CHARS) this.tail = this.tail.slice(-LOG_TAIL_CHARS)
    return this.tail
  }

  /** `<folder>/daemon.log`: the whole output of every run of the daemon, appended. */
  get logPath(): string {
    return join(this.folder, DAEMON_LOG)
  }

  private append(text: string): void {
    this.tail += text
    // trim in batches: amortized O(1) per chunk
    if (this.tail.length > 2 * LOG_TAIL_CHARS) this.tail = this.tail.slice(-LOG_TAIL_CHARS)
    this.logFile?.write(text)
  }

  async readConfig(): Promise<Record<string, unknown>> {
    return JSON.parse(await readFile(join(this.folder, 'service.json'), 'utf8')) as Record<string, unknown>
  }

  /** Starts `service daemon` and waits for READY. */
  async start(extraArgs: string[] = [], timeoutMs = 60_000): Promise<void> {
    const cfg = (await this.readConfig()) as { api: { restapi: { http_listen_multiaddress: string | string[] } } }
    const ma = cfg.api.restapi.http_listen_multiaddress
    this.apiMultiaddr = Array.isArray(ma) ? ma[0]! : ma
    const m = /\/ip4\/([^/]+)\/tcp\/(\d+)/.exec(this.apiMultiaddr)
    this.apiUrl = m !== null ? `http://${m[1]}:${m[2]}` : ''
    this.tail = ''
    this.logFile?.end()
    const logFile = createWriteStream(this.logPath, { flags: 'a' })
    logFile.on('error', () => {}) // the folder may be deleted under a running daemon (destroy)
    this.logFile = logFile
    const proc = Bun.spawn(this.wrap([clusterBinary(), 'service', '-c', this.folder, 'daemon', ...extraArgs]), {
      env: { ...process.env, ...this.env },
      cwd: this.cwd,
      stdin: 'ignore',
      stdout: 'pipe',
      stderr: 'pipe'
    })
    this.proc = proc
    this.stopping = false
    const collect = async (s: ReadableStream<Uint8Array>): Promise<void> => {
      const dec = new TextDecoder()
      for await (const chunk of s) this.append(dec.decode(chunk, { stream: true }))
    }
    const collected = Promise.all([collect(proc.stdout), collect(proc.stderr)])
      .catch(() => undefined)
      .finally(() => {
        if (this.logFile === logFile) this.logFile = undefined
        logFile.end()
      })
    const state = await waitFor(
      () => (proc.exitCode !== null ? 'exited' : this.logs.includes('IPFS Cluster is READY') && 'ready'),
      'the daemon to be READY',
      timeoutMs,
      100
    ).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}\n--- daemon logs ---\n${this.logs}`)
    })
    if (state === 'exited') {
      await collected
      throw new Error(`daemon exited with ${proc.exitCode}:\n--- daemon logs ---\n${this.logs}`)
    }
  }

  /** SIGTERM and wait for exit (SIGKILL after a deadline). Returns the exit code. */
  async stop(timeoutMs = 20_000): Promise<number | null> {
    const p = this.proc
    if (p === undefined || p.exitCode !== null) return p?.exitCode ?? null
    this.stopping = true
    p.kill('SIGTERM')
    const t = setTimeout(() => p.kill('SIGKILL'), timeoutMs)
    await p.exited
    clearTimeout(t)
    return p.exitCode
  }

  /**
   * Why the daemon is not running when nobody stopped it (it exited or was
   * killed by a signal on its own), with the end of its output; `undefined`
   * while it runs, before a start, or after `stop()`/`kill()`.
   */
  unexpectedExit(tailChars = 6000): string | undefined {
    const p = this.proc
    if (p === undefined || this.stopping || (p.exitCode === null && p.signalCode === null)) return undefined
    return `the daemon in ${this.folder} exited by itself (code ${p.exitCode}, signal ${p.signalCode}):\n${this.logs.slice(-tailChars)}`
  }

  /** kill -9 */
  async kill(): Promise<void> {
    const p = this.proc
    if (p === undefined || p.exitCode !== null) return
    this.stopping = true
    p.kill('SIGKILL')
    await p.exited
  }

  ctl(args: string[], opts: { env?: Record<string, string>; timeoutMs?: number } = {}): Promise<RunResult> {
    return runBinary(['ctl', '--host', this.apiMultiaddr, ...args], { env: { ...this.env, ...opts.env }, timeoutMs: opts.timeoutMs, wrap: this.wrap })
  }

  async destroy(): Promise<void> {
    await this.kill()
    await rm(this.folder, { recursive: true, force: true })
  }
}

/**
 * Environment overrides for test and demo clusters that must notice a peer
 * going away within seconds: ping every 2 s (TTL 4 s, room for a loaded
 * machine), metrics TTL 2 s, monitor check and peer watch every 1 s, kubo
 * swarms connected after 1 s, crdt rebroadcast every 2 s, no mDNS.
 */
export const FAST_TIMINGS: Record<string, string> = {
  CLUSTER_MONITORPINGINTERVAL: '2s',
  CLUSTER_PEERWATCHINTERVAL: '1s',
  CLUSTER_DISK_METRICTTL: '2s',
  CLUSTER_TAGS_METRICTTL: '2s',
  CLUSTER_PINQUEUE_METRICTTL: '2s',
  CLUSTER_PUBSUBMON_CHECKINTERVAL: '1s',
  CLUSTER_IPFSHTTP_CONNECTSWARMSDELAY: '1s',
  CLUSTER_CRDT_REBROADCASTINTERVAL: '2s',
  CLUSTER_MDNSINTERVAL: '0s'
}

/** `service init --randomports` in a temp folder, pointed at the kubo API multiaddr. */
export async function initPeer(opts: {
  ipfsApi: string
  env?: Record<string, string>
  initArgs?: string[]
  /** runs the daemon and ctl inside a network namespace (test/helpers/netns.ts); set CLUSTER_LISTENMULTIADDRESS in env to its address */
  wrap?: (argv: string[]) => string[]
}): Promise<ClusterPeer> {
  const folder = await mkdtemp(join(tmpdir(), 'cluster-e2e-'))
  // loopback only, and no mDNS (multicast would reach other tests' peers and the network)
  const env = {
    CLUSTER_IPFSHTTP_NODEMULTIADDRESS: opts.ipfsApi,
    CLUSTER_LISTENMULTIADDRESS: '/ip4/127.0.0.1/tcp/0',
    CLUSTER_MDNSINTERVAL: '0s',
    ...opts.env
  }
  const r = await runBinary(['service', '-c', folder, 'init', '--randomports', ...(opts.initArgs ?? [])], { env })
  if (r.code !== 0) throw new Error(`service init failed (${r.code}): ${r.stderr}${r.stdout}`)
  return new ClusterPeer(folder, env, opts.wrap)
}
