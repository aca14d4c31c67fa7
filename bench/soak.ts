/**
 * Soak: a three-peer cluster (compiled binary, one real kubo per peer,
 * loopback) under a random, bounded workload for N minutes:
 * `npm run bench:soak -- --minutes N` (default 10; `--seed S` repeats a run).
 *
 * Steps, drawn at random: pin (replication 1, 2 or everywhere), unpin, ctl
 * add, kill -9 of a peer (restarted, bootstrapping to a live one, a few steps
 * later), restart of a kubo. After each step the invariants are checked,
 * each with a deadline (a miss is a violation, printed, and the run goes on):
 * 1. the pinset of every running peer is exactly the acknowledged pins
 *    (every acknowledged pin present, none that was not acknowledged);
 * 2. statuses are right: for up to 5 random pins, every running peer's entry
 *    is `pinned` or `remote`.
 * Prints the operations done, the violations found and timing figures.
 * Asserts nothing (a benchmark): the exit code is 1 when there were violations.
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type ClusterPeer, FAST_TIMINGS, initPeer, type Kubo, startKubo, stopAllKubos, waitFor } from '../scripts/launcher/index.ts'

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`)
  const v = i >= 0 ? Number(process.argv[i + 1]) : def
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} must be a positive number`)
  return v
}

const MINUTES = arg('minutes', 10)
let seed = arg('seed', Date.now() % 2 ** 31)
const SEED = seed
/** mulberry32: a small seeded PRNG, so a run can be repeated with --seed */
function random(): number {
  seed = (seed + 0x6d2b79f5) | 0
  let t = seed
  t = Math.imul(t ^ (t >>> 15), t | 1)
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}
const pick = <T>(xs: T[]): T => xs[Math.floor(random() * xs.length)]!

const CONVERGE_MS = 90_000
const ENV = {
  ...FAST_TIMINGS,
  CLUSTER_PINRECOVERINTERVAL: '5s',
  CLUSTER_IPFSHTTP_PINTIMEOUT: '20s',
  CLUSTER_DISABLEREPINNING: 'false'
}

const kubos: Kubo[] = []
const peers: ClusterPeer[] = []
const up: boolean[] = []
/** steps left before a killed peer is restarted */
const downFor: number[] = []
const acked = new Set<string>()
const ops: Record<string, number> = { pin: 0, unpin: 0, add: 0, 'kill -9': 0, restart: 0, 'kubo restart': 0 }
const failedOps: string[] = []
const violations: string[] = []
const convergeMs: number[] = []
let dataDir = ''

async function kuboData(i: number): Promise<string> {
  return (await kubos[i]!.ipfsOk(['add', '-Q', '--pin=false'], { input: randomBytes(4096 + Math.floor(random() * 60_000)) })).trim()
}

const running = (): number[] => [0, 1, 2].filter((i) => up[i])

async function pinSet(p: ClusterPeer): Promise<Set<string> | undefined> {
  const r = await p.ctl(['--enc', 'json', 'pin', 'ls'], { timeoutMs: 30_000 })
  if (r.code !== 0) return undefined
  return new Set([...r.stdout.matchAll(/"cid":\s*"([^"]+)"/g)].map((m) => m[1]!))
}

async function connectKubos(): Promise<void> {
  for (let i = 0; i < 3; i++) {
    for (let j = 0; j < 3; j++) if (i !== j) await kubos[i]!.ipfs(['swarm', 'connect', kubos[j]!.swarmAddrs[0]!])
  }
}

async function bootstrapArgs(except: number): Promise<string[]> {
  for (const j of running()) {
    if (j === except) continue
    const r = await peers[j]!.ctl(['--enc', 'json', 'id'])
    if (r.code !== 0) continue
    const id = JSON.parse(r.stdout) as { addresses: string[] }
    const a = id.addresses.find((x) => x.includes('/127.0.0.1/'))
    if (a !== undefined) return ['--bootstrap', a]
  }
  return []
}

async function step(): Promise<string> {
  // restart peers whose downtime is over
  for (let i = 0; i < 3; i++) {
    if (up[i] || --downFor[i]! > 0) continue
    await peers[i]!.start(await bootstrapArgs(i))
    up[i] = true
    ops.restart!++
    return `restart peer ${i + 1}`
  }
  const r = random()
  const at = pick(running())
  const p = peers[at]!
  if (r < 0.45) {
    const cid = await kuboData(at)
    const rf = pick(['1', '2', '2', '-1'])
    const res = await p.ctl(['pin', 'add', '--no-status', '--replication', rf, cid], { timeoutMs: 60_000 })
    ops.pin!++
    if (res.code === 0) acked.add(cid)
    else failedOps.push(`pin on peer ${at + 1}: ${res.stderr.trim()}`)
    return `pin rf ${rf} on peer ${at + 1}`
  }
  if (r < 0.65 && acked.size > 0) {
    const cid = pick([...acked])
    const res = await p.ctl(['pin', 'rm', '--no-status', cid], { timeoutMs: 60_000 })
    ops.unpin!++
    if (res.code === 0) acked.delete(cid)
    else failedOps.push(`unpin on peer ${at + 1}: ${res.stderr.trim()}`)
    return `unpin on peer ${at + 1}`
  }
  if (r < 0.82) {
    const f = join(dataDir, `add-${ops.add}`)
    await writeFile(f, randomBytes(16_384 + Math.floor(random() * 600_000)))
    const res = await p.ctl(['add', '-Q', '--rmin', '1', '--rmax', '2', f], { timeoutMs: 120_000 })
    ops.add!++
    if (res.code === 0) acked.add(res.stdout.trim())
    else failedOps.push(`add on peer ${at + 1}: ${res.stderr.trim()}`)
    return `add on peer ${at + 1}`
  }
  if (r < 0.91 && running().length === 3) {
    const victim = pick([0, 1, 2])
    await peers[victim]!.kill()
    up[victim] = false
    downFor[victim] = 1 + Math.floor(random() * 3)
    ops['kill -9']!++
    return `kill -9 peer ${victim + 1} (down for ${downFor[victim]} steps)`
  }
  const k = pick([0, 1, 2])
  await kubos[k]!.stop()
  await kubos[k]!.start()
  await connectKubos()
  ops['kubo restart']!++
  return `restart kubo ${k + 1}`
}

async function checkInvariants(what: string): Promise<void> {
  const t0 = Date.now()
  let last = ''
  try {
    await waitFor(
      async () => {
        for (const i of running()) {
          const s = await pinSet(peers[i]!)
          if (s === undefined) {
            last = `peer ${i + 1}: pin ls failed`
            return false
          }
          const missing = [...acked].filter((c) => !s.has(c))
          const extra = [...s].filter((c) => !acked.has(c))
          if (missing.length > 0 || extra.length > 0) {
            last = `peer ${i + 1}: ${missing.length} acknowledged pins missing, ${extra.length} unacknowledged present`
            return false
          }
        }
        return true
      },
      'pinsets',
      CONVERGE_MS,
      500
    )
    convergeMs.push(Date.now() - t0)
  } catch {
    violations.push(`after "${what}": pinsets did not converge in ${CONVERGE_MS} ms (${last})`)
    return
  }
  const sample = [...acked].sort(() => random() - 0.5).slice(0, 5)
  for (const cid of sample) {
    try {
      await waitFor(
        async () => {
          const i = pick(running())
          const r = await peers[i]!.ctl(['--enc', 'json', 'status', cid], { timeoutMs: 30_000 })
          if (r.code !== 0) return false
          const g = JSON.parse(r.stdout) as { peer_map: Record<string, { status: string; peername: string }> }
          const live = Object.values(g.peer_map).filter((e) => running().some((j) => e.peername === `peer${j + 1}`))
          last = live.map((e) => `${e.peername}=${e.status}`).join(' ')
          return live.length === running().length && live.every((e) => e.status === 'pinned' || e.status === 'remote')
        },
        'statuses',
        CONVERGE_MS,
        1000
      )
    } catch {
      violations.push(`after "${what}": status of ${cid} not pinned/remote on every running peer in ${CONVERGE_MS} ms (${last})`)
    }
  }
  for (const i of running()) {
    const p = peers[i]!
    if (p.proc?.exitCode !== null) {
      violations.push(`after "${what}": peer ${i + 1} exited with ${p.proc?.exitCode}`)
      up[i] = false
      downFor[i] = 1
    }
    if (/uncaught|unhandled/i.test(p.logs)) violations.push(`after "${what}": peer ${i + 1} logged an uncaught error`)
  }
}

async function main(): Promise<void> {
  console.log(`soak: ${MINUTES} min, seed ${SEED}`)
  dataDir = await mkdtemp(join(tmpdir(), 'soak-'))
  const secret = randomBytes(32).toString('hex')
  for (let i = 0; i < 3; i++) kubos.push(await startKubo({ offline: false }))
  await connectKubos()
  for (let i = 0; i < 3; i++) {
    const p = await initPeer({ ipfsApi: kubos[i]!.apiMultiaddr, env: { ...ENV, CLUSTER_SECRET: secret, CLUSTER_PEERNAME: `peer${i + 1}` } })
    peers.push(p)
    up.push(false)
    downFor.push(0)
    await p.start(await bootstrapArgs(i))
    up[i] = true
  }
  await waitFor(
    async () => {
      const r = await peers[0]!.ctl(['--enc', 'json', 'peers', 'ls'])
      return r.code === 0 && new Set([...r.stdout.matchAll(/"peername":\s*"(peer\d)"/g)].map((m) => m[1])).size === 3
    },
    'three peers',
    60_000,
    500
  )
  const deadline = Date.now() + MINUTES * 60_000
  let steps = 0
  // bounded: one step per second at most over the run
  while (Date.now() < deadline && steps < MINUTES * 60) {
    const what = await step()
    steps++
    await checkInvariants(what)
    process.stdout.write(`step ${steps}: ${what} (pins ${acked.size}, violations ${violations.length})\n`)
  }
  // final: everyone up, everything converged
  for (let i = 0; i < 3; i++) {
    if (up[i]) continue
    await peers[i]!.start(await bootstrapArgs(i))
    up[i] = true
  }
  await checkInvariants('final (all peers up)')
  const sorted = [...convergeMs].sort((a, b) => a - b)
  const pct = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0
  console.log(`\nsoak done: ${steps} steps in ${MINUTES} min (seed ${SEED})`)
  console.log(`operations: ${Object.entries(ops).map(([k, v]) => `${k} ${v}`).join(', ')}`)
  console.log(`acknowledged pins at the end: ${acked.size}; operations refused by the cluster: ${failedOps.length}`)
  for (const f of failedOps.slice(0, 10)) console.log(`  refused: ${f}`)
  console.log(`pinset convergence after a step: p50 ${pct(0.5)} ms, p99 ${pct(0.99)} ms, max ${sorted.at(-1) ?? 0} ms`)
  console.log(`violations: ${violations.length}`)
  for (const v of violations) console.log(`  ${v}`)
  process.exitCode = violations.length > 0 ? 1 : 0
}

try {
  await main()
} finally {
  for (const p of peers) await p.destroy()
  await stopAllKubos()
  if (dataDir !== '') await rm(dataDir, { recursive: true, force: true })
}
