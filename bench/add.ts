/**
 * Add throughput: `ipfs-cluster ctl add` (compiled binary, one peer) beside
 * `ipfs add` of the same file into the same kubo, in MB/s, as a ratio.
 * Prints figures; asserts nothing. Run after `npm run build`:
 *   bun bench/add.ts                 (200 MiB)
 *   BENCH_ADD_MIB=50 bun bench/add.ts
 * The file is random bytes (no deduplication), written streamed to a temp
 * folder and deleted at the end. Between runs the pins are removed and the
 * repo garbage-collected, so each add stores every block. The daemon's
 * peak RSS (VmHWM) is printed too.
 */
import { randomBytes } from 'node:crypto'
import { createWriteStream, readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { initPeer, type Kubo, startKubo, stopAllKubos } from '../scripts/launcher/index.ts'

const MIB = Number(process.env.BENCH_ADD_MIB ?? 200)

async function writeRandomFile(path: string, bytes: number): Promise<void> {
  const out = createWriteStream(path)
  const chunk = 4 * 1024 * 1024
  for (let left = bytes; left > 0; left -= chunk) {
    if (!out.write(randomBytes(Math.min(chunk, left)))) await new Promise((r) => out.once('drain', r))
  }
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())))
}

function peakRssMb(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return m !== null ? Number(m[1]) / 1024 : Number.NaN
}

/** CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat (clock ticks of 1/100 s). */
function cpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(f[11]) + Number(f[12])) / 100
}

async function clean(kubo: Kubo, cid: string): Promise<void> {
  await kubo.ipfs(['pin', 'rm', cid])
  await kubo.ipfsOk(['repo', 'gc', '--quiet'])
}

const dir = await mkdtemp(join(tmpdir(), 'bench-add-'))
const file = join(dir, `random-${MIB}MiB`)
const bytes = MIB * 1024 * 1024
try {
  await writeRandomFile(file, bytes)
  const kubo = await startKubo({ offline: true })
  const peer = await initPeer({ ipfsApi: kubo.apiMultiaddr })
  await peer.start()
  try {
    const mb = bytes / 1e6

    let t0 = performance.now()
    const ipfsCid = (await kubo.ipfsOk(['add', '-Q', file])).trim()
    const ipfsS = (performance.now() - t0) / 1000
    await clean(kubo, ipfsCid)

    const cpu0 = cpuSeconds(peer.proc?.pid)
    t0 = performance.now()
    const r = await peer.ctl(['add', '-Q', file], { timeoutMs: 30 * 60_000 })
    const ctlS = (performance.now() - t0) / 1000
    const daemonCpuS = cpuSeconds(peer.proc?.pid) - cpu0
    if (r.code !== 0) throw new Error(`ctl add failed (${r.code}): ${r.stdout}${r.stderr}`)
    const ctlCid = r.stdout.trim()

    console.log(`add ${MIB} MiB of random bytes into one kubo (offline), default options`)
    console.log(`  ipfs add        : ${ipfsS.toFixed(2)} s  ${(mb / ipfsS).toFixed(1)} MB/s  ${ipfsCid}`)
    console.log(`  ctl add (1 peer): ${ctlS.toFixed(2)} s  ${(mb / ctlS).toFixed(1)} MB/s  ${ctlCid}`)
    console.log(`  ratio ctl/ipfs  : ${(ipfsS / ctlS).toFixed(2)} (throughput)`)
    console.log(`  same CID        : ${ctlCid === ipfsCid}`)
    console.log(`  daemon CPU      : ${daemonCpuS.toFixed(2)} s during ctl add`)
    console.log(`  daemon peak RSS : ${peakRssMb(peer.proc?.pid).toFixed(0)} MB`)
  } finally {
    await peer.stop()
    await peer.destroy()
    await stopAllKubos()
  }
} finally {
  await rm(dir, { recursive: true, force: true })
}
