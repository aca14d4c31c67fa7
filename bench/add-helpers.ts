/**
 * What the add benchmarks share (bench/add.ts, bench/ipfsproxy.ts,
 * bench/kubo-ingest.ts): a streamed random file, per-process CPU and peak
 * RSS from /proc, kubo's pid, and min/median over rounds.
 */
import { randomBytes } from 'node:crypto'
import { createWriteStream, readdirSync, readFileSync } from 'node:fs'

/** Writes `bytes` random bytes to `path`, 4 MiB at a time (never held whole). */
export async function writeRandomFile(path: string, bytes: number): Promise<void> {
  const out = createWriteStream(path)
  const chunk = 4 * 1024 * 1024
  for (let left = bytes; left > 0; left -= chunk) {
    if (!out.write(randomBytes(Math.min(chunk, left)))) await new Promise((r) => out.once('drain', r))
  }
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())))
}

/** A process's peak RSS (VmHWM) in MB, NaN when unknown. */
export function peakRssMb(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return m !== null ? Number(m[1]) / 1024 : Number.NaN
}

/** CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat (clock ticks of 1/100 s). */
export function cpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(f[11]) + Number(f[12])) / 100
}

/** The pid of the kubo daemon of `repo` (the process whose environment has IPFS_PATH=repo), if found. */
export function kuboPid(repo: string): number | undefined {
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue
    try {
      if (!readFileSync(`/proc/${d}/cmdline`, 'utf8').includes('daemon')) continue
      if (readFileSync(`/proc/${d}/environ`, 'utf8').split('\0').includes(`IPFS_PATH=${repo}`)) return Number(d)
    } catch {
      // gone, or not readable
    }
  }
  return undefined
}

/** The minimum and the median of `xs` (NaN for none). */
export function minMedian(xs: number[]): { min: number; median: number } {
  const s = [...xs].sort((a, b) => a - b)
  if (s.length === 0) return { min: Number.NaN, median: Number.NaN }
  const mid = Math.floor(s.length / 2)
  const median = s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2
  return { min: s[0] as number, median }
}

/** Runs a command, returns its stdout and its own CPU seconds (user + system, from the child's rusage). */
export async function runTimed(argv: string[], env: Record<string, string> = {}): Promise<{ stdout: string; stderr: string; code: number; cpuS: number }> {
  const proc = Bun.spawn(argv, { env: { ...process.env, ...env }, stdin: 'ignore', stdout: 'pipe', stderr: 'pipe' })
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited])
  const ru = proc.resourceUsage()
  const cpuS = ru === undefined ? Number.NaN : Number(ru.cpuTime.user + ru.cpuTime.system) / 1e6
  return { stdout, stderr, code, cpuS }
}
