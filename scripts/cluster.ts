/**
 * The main job: starts a local cluster, every peer with its own real kubo
 * daemon, pins real data through it, prints what to try next, and keeps
 * running until Ctrl-C (or exits after the demo with --once).
 *
 *   npm run cluster                 # 3 peers (--peers N for another number)
 *   npm run cluster -- --once       # run the demo and stop
 *   npm run cluster -- --keep       # on exit, leave the peers' and kubos' folders (and say where)
 *   npm run cluster -- --bundled    # no kubo: each peer runs its embedded IPFS node (ipfs_connector.bundled)
 *
 * Like upstream's docker-compose quick-start, with no Docker: kubo comes
 * from scripts/kubo.sh, the cluster peers are dist/ipfs-cluster (built
 * here), all on 127.0.0.1 with free ports, in temporary folders. Each
 * peer's whole output is in `<its folder>/daemon.log`. The daemons are
 * started by the launcher (scripts/launcher/), which the tests use too.
 */
import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { clusterBinary, type ClusterPeer, initPeer, type Kubo, kuboBinary, startKubo, stopAllKubos, waitFor } from './launcher/index.ts'

const ROOT = resolve(import.meta.dir, '..')
const args = process.argv.slice(2)
const once = args.includes('--once')
const keep = args.includes('--keep')
const bundled = args.includes('--bundled')
const peersIdx = args.indexOf('--peers')
const N = peersIdx >= 0 ? Number(args[peersIdx + 1]) : Number(process.env.CLUSTER_PEERS ?? 3)
if (!Number.isInteger(N) || N < 1 || N > 9) throw new Error('--peers must be between 1 and 9')

function say(s: string): void {
  process.stdout.write(`${s}\n`)
}

const kubos: Kubo[] = []
const peers: ClusterPeer[] = []
/** folders made here besides the peers' and kubos' (the demo data) */
const scratch: string[] = []

async function shutdown(code: number): Promise<never> {
  say('\nstopping the cluster...')
  for (const p of [...peers].reverse()) await p.stop().catch(() => undefined)
  if (keep) {
    await stopAllKubos({ keepRepos: true })
    say('kept (--keep): remove them when done')
    for (const [i, p] of peers.entries()) say(`  peer${i}: ${p.folder} (log: ${p.logPath})`)
    for (const [i, k] of kubos.entries()) say(`  kubo ${i}: ${k.repo}`)
    for (const d of scratch) say(`  demo data: ${d}`)
  } else {
    for (const p of peers) await p.destroy().catch(() => undefined)
    await stopAllKubos()
    for (const d of scratch) await rm(d, { recursive: true, force: true }).catch(() => undefined)
  }
  process.exit(code)
}

async function main(): Promise<void> {
  say('building dist/ipfs-cluster ...')
  const b = spawnSync(process.execPath, [join(ROOT, 'scripts/build.ts')], { cwd: ROOT, stdio: 'inherit' })
  if (b.status !== 0) throw new Error('build failed')
  const bin = clusterBinary()
  const startedAt = performance.now()
  if (!bundled) say('installing/locating kubo (scripts/kubo.sh) ...')
  const secret = randomBytes(32).toString('hex')

  for (let i = 0; i < N; i++) {
    const k = bundled ? undefined : await startKubo()
    if (k !== undefined) kubos.push(k)
    const p = await initPeer({
      ipfsApi: k?.apiMultiaddr ?? '/ip4/127.0.0.1/tcp/5001',
      ...(bundled ? { initArgs: ['--ipfs', 'bundled'] } : {}),
      env: {
        CLUSTER_SECRET: secret,
        CLUSTER_PEERNAME: `peer${i}`,
        CLUSTER_MONITORPINGINTERVAL: '2s',
        CLUSTER_DISK_METRICTTL: '5s',
        CLUSTER_DISABLEREPINNING: 'false',
        CLUSTER_IPFSHTTP_CONNECTSWARMSDELAY: '1s',
        CLUSTER_BUNDLED_LISTENMULTIADDRESS: '/ip4/127.0.0.1/tcp/0',
        CLUSTER_BUNDLED_CONNECTSWARMSDELAY: '1s'
      }
    })
    peers.push(p)
    const bootstrap: string[] = []
    if (i > 0) {
      const first = JSON.parse((await peers[0]!.ctl(['--enc', 'json', 'id'])).stdout) as { addresses: string[] }
      const addr = first.addresses.find((a) => a.includes('/127.0.0.1/'))
      if (addr !== undefined) bootstrap.push('--bootstrap', addr)
    }
    await p.start(bootstrap)
    say(`peer${i}: REST API ${p.apiMultiaddr}, ${k !== undefined ? `kubo API ${k.apiMultiaddr}` : `bundled IPFS gateway ${await bundledGateway(p)}`}, folder ${p.folder}`)
  }
  const p0 = peers[0]!
  if (N > 1) {
    await waitFor(
      async () => {
        const r = await p0.ctl(['--enc', 'json', 'peers', 'ls'])
        return r.stdout.split('"peername"').length - 1 >= N
      },
      `all ${N} peers to see each other`,
      60_000,
      500
    )
  }

  // Real data: a folder with this repository's README and a random file.
  const dir = await mkdtemp(join(tmpdir(), 'cluster-demo-'))
  scratch.push(dir)
  await writeFile(join(dir, 'README.md'), await Bun.file(join(ROOT, 'README.md')).text())
  await writeFile(join(dir, 'random.bin'), randomBytes(3 * 1024 * 1024 + 17))
  const repl = N >= 3 ? ['--replication', '2'] : []
  let cid: string
  if (bundled) {
    // no kubo: the cluster's adder writes the blocks into the allocated peers' bundled nodes
    const addRepl = N >= 3 ? ['--replication-min', '2', '--replication-max', '2'] : []
    const add = await p0.ctl(['add', '-r', '-Q', ...addRepl, '--name', 'demo', '--wait', dir], { timeoutMs: 150_000 })
    if (add.code !== 0) throw new Error(`ctl add failed with exit code ${add.code}: ${add.stderr}`)
    cid = add.stdout.trim()
    say(`\nadded a folder through the cluster (README.md + 3 MiB random): ${cid}`)
    say(`first PINNED ${((performance.now() - startedAt) / 1000).toFixed(1)} s after the build`)
  } else {
    cid = (await kubos[0]!.ipfsOk(['add', '-r', '-Q', '--pin=false', dir])).trim()
    say(`\nadded a folder to kubo 0 (README.md + 3 MiB random): ${cid}`)
    const pin = await p0.ctl(['pin', 'add', ...repl, '--wait', '--wt', '120', '--name', 'demo', cid], { timeoutMs: 150_000 })
    process.stdout.write(pin.stdout + pin.stderr)
    if (pin.code !== 0) throw new Error(`pin add failed with exit code ${pin.code}`)
  }
  const st = await p0.ctl(['status', cid])
  say('\n$ ipfs-cluster-ctl status ' + cid)
  process.stdout.write(st.stdout)
  for (const [i, k] of kubos.entries()) {
    const ls = await k.ipfs(['pin', 'ls', '--type=recursive', cid])
    say(`kubo ${i} pin ls: ${ls.code === 0 ? ls.stdout.trim() : 'not pinned here'}`)
  }
  if (bundled) for (const [i, p] of peers.entries()) say(`peer${i} gateway: ${await bundledGateway(p)}/ipfs/${cid}/README.md`)

  say(`
The cluster is running. Try:
  alias ctl='${bin} ctl --host ${p0.apiMultiaddr}'
  ctl id
  ctl peers ls
  ctl status ${cid}
  ctl pin ls
  ctl pin add --wait <cid>         # a CID that ${bundled ? 'a peer holds' : 'kubo holds'}; or /ipfs/<cid>/path
  ctl add -r <folder>              # add through the cluster
  ctl health metrics freespace
  ctl pin rm ${cid}
${bundled ? 'ctl ipfs gc                      # frees the unpinned blocks' : `kubo 0 CLI: IPFS_PATH=${kubos[0]!.repo} ${await kuboBinary()} ...`}
Press Ctrl-C to stop everything${keep ? ' (the folders stay: --keep)' : ''}.`)
  if (once) await shutdown(0)
}

/** `http://host:port` of a bundled peer's gateway (from its service.json). */
async function bundledGateway(p: ClusterPeer): Promise<string> {
  const cfg = (await p.readConfig()) as { ipfs_connector?: { bundled?: { gateway_listen_multiaddress?: string } } }
  const m = /\/ip4\/([^/]+)\/tcp\/(\d+)/.exec(cfg.ipfs_connector?.bundled?.gateway_listen_multiaddress ?? '')
  return m !== null ? `http://${m[1]}:${m[2]}` : '(no gateway)'
}

process.on('SIGINT', () => void shutdown(0))
process.on('SIGTERM', () => void shutdown(0))
main().catch(async (err: unknown) => {
  process.stderr.write(`error: ${(err as Error).message}\n`)
  for (const p of peers) process.stderr.write(`--- ${p.folder} logs ---\n${p.logs.slice(-3000)}\n`)
  await shutdown(1)
})
