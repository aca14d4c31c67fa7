/**
 * `service state import` alone, at several pinset sizes, without upstream or
 * kubo (issue 16: the import rate, and whether the cost per pin grows with
 * the pinset). For each scale: a fresh peer folder (`service init`), N
 * generated pins of the shape bench/vs-upstream.ts writes (NDJSON, allocated
 * to a peer outside the cluster), one timed `state import -f`. Prints pins/s,
 * the process's CPU seconds and peak RSS (from /usr/bin/time), and each
 * scale's rate relative to the first one. Asserts nothing.
 *
 *   bun bench/import.ts [--scales 10000,100000,1000000] [--runs 1]
 *   IPFS_CLUSTER_BIN=/path bun bench/import.ts ...   (a given binary; default dist/ipfs-cluster)
 *   bun bench/import.ts --source [--prof DIR]        (from source: `bun --cpu-prof src/main.ts`)
 *
 * Run under `flock /tmp/heavy.lock`.
 */
import { spawn } from 'node:child_process'
import { existsSync, statSync } from 'node:fs'
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { writePins } from './pins-file.ts'

function opt(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : def
}
const SCALES = opt('scales', '10000,100000,1000000')
  .split(',')
  .map((s) => Number(s.trim()))
  .filter((n) => n > 0)
const RUNS = Math.max(1, Number(opt('runs', '1')))
const SOURCE = process.argv.includes('--source')
const PROF = opt('prof', '')
const ROOT = join(import.meta.dir, '..')

function command(): string[] {
  if (SOURCE || PROF !== '') {
    return [process.execPath, ...(PROF !== '' ? ['--cpu-prof', '--cpu-prof-dir', PROF] : []), join(ROOT, 'src', 'main.ts')]
  }
  const bin = process.env.IPFS_CLUSTER_BIN ?? join(ROOT, 'dist', 'ipfs-cluster')
  if (!existsSync(bin)) throw new Error(`${bin} does not exist: run "bun run build" first`)
  return [bin]
}

interface Timed {
  code: number
  ms: number
  cpuS: number
  maxRssMb: number
  stderr: string
}

/** Runs argv under /usr/bin/time; bounded by `timeoutMs`. */
async function timed(argv: string[], timeoutMs: number): Promise<Timed> {
  const started = performance.now()
  return await new Promise((resolve) => {
    const p = spawn('/usr/bin/time', ['-f', '@@TIME %U %S %M', ...argv], { stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    p.stderr.on('data', (d: Buffer) => {
      stderr += d.toString()
    })
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs)
    p.on('close', (code) => {
      clearTimeout(timer)
      const ms = performance.now() - started
      const m = /@@TIME (\S+) (\S+) (\d+)/.exec(stderr)
      resolve({
        code: code ?? -1,
        ms,
        cpuS: m ? Number(m[1]) + Number(m[2]) : Number.NaN,
        maxRssMb: m ? Number(m[3]) / 1024 : Number.NaN,
        stderr
      })
    })
  })
}

function dirBytes(dir: string, names: string[]): number {
  let total = 0
  for (const n of names) total += statSync(join(dir, n)).size
  return total
}

const cmd = command()
const rows: Array<{ n: number; rate: number; cpuPerPinUs: number; rss: number; dbMb: number }> = []
for (const n of SCALES) {
  const dir = await mkdtemp(join(tmpdir(), 'bench-import-'))
  try {
    const file = join(dir, 'pins.ndjson')
    await writePins(file, n)
    for (let run = 0; run < RUNS; run++) {
      const folder = join(dir, `peer${run}`)
      const init = await timed([...cmd, 'service', '-c', folder, 'init', '--randomports'], 60_000)
      if (init.code !== 0) throw new Error(`init failed: ${init.stderr}`)
      const r = await timed([...cmd, 'service', '-c', folder, 'state', 'import', '-f', file], 3_600_000)
      if (r.code !== 0) throw new Error(`state import failed (${r.code}): ${r.stderr.slice(-2000)}`)
      const dbDir = join(folder, 'sqlite')
      const dbMb = existsSync(dbDir) ? dirBytes(dbDir, await readdir(dbDir)) / 1e6 : 0
      const row = { n, rate: n / (r.ms / 1000), cpuPerPinUs: (r.cpuS * 1e6) / n, rss: r.maxRssMb, dbMb }
      rows.push(row)
      console.log(
        `import ${n}: ${row.rate.toFixed(0)} pins/s, ${(r.ms / 1000).toFixed(2)} s wall, cpu ${r.cpuS.toFixed(2)} s (${row.cpuPerPinUs.toFixed(1)} µs/pin), peak RSS ${row.rss.toFixed(0)} MB, db ${row.dbMb.toFixed(0)} MB`
      )
      await rm(folder, { recursive: true, force: true })
    }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}
const best = new Map<number, number>()
for (const r of rows) best.set(r.n, Math.max(best.get(r.n) ?? 0, r.rate))
const first = best.get(SCALES[0]!) ?? 1
console.log('\n| pins | best pins/s | vs first scale |\n|---|---|---|')
for (const [n, rate] of best) console.log(`| ${n} | ${rate.toFixed(0)} | ${(rate / first).toFixed(2)} |`)
