/**
 * IPFS proxy throughput: `ipfs add` of the same random file straight into
 * kubo and through the peer's IPFS proxy (kubo's CLI with `--api <proxy>`),
 * in MB/s, as a ratio; then `ipfs cat` of it both ways. Prints figures;
 * asserts nothing. Run after `npm run build`:
 *   bun bench/ipfsproxy.ts                 (200 MiB)
 *   BENCH_PROXY_MIB=50 bun bench/ipfsproxy.ts
 * Between adds the pin is removed and the repo garbage-collected, so each
 * add stores every block. The daemon's peak RSS (VmHWM) is printed too.
 */
import { randomBytes } from 'node:crypto'
import { createWriteStream, readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { initPeer, kuboBinary, startKubo, stopAllKubos } from '../scripts/launcher/index.ts'

const MIB = Number(process.env.BENCH_PROXY_MIB ?? 200)

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

async function ipfs(bin: string, api: string, args: string[], env: Record<string, string>): Promise<{ out: string; bytes: number }> {
  const proc = Bun.spawn([bin, '--api', api, ...args], { env: { ...process.env, ...env }, stdout: 'pipe', stderr: 'pipe' })
  let bytes = 0
  let out = ''
  const dec = new TextDecoder()
  for await (const chunk of proc.stdout) {
    bytes += chunk.length
    if (out.length < 4096) out += dec.decode(chunk, { stream: true })
  }
  const err = await new Response(proc.stderr).text()
  await proc.exited
  if (proc.exitCode !== 0) throw new Error(`ipfs ${args.join(' ')} failed: ${err}`)
  return { out: out.trim(), bytes }
}

const dir = await mkdtemp(join(tmpdir(), 'bench-proxy-'))
const file = join(dir, `random-${MIB}MiB`)
const bytes = MIB * 1024 * 1024
try {
  await writeRandomFile(file, bytes)
  const bin = await kuboBinary()
  const kubo = await startKubo({ offline: true })
  const peer = await initPeer({ ipfsApi: kubo.apiMultiaddr, env: { CLUSTER_IPFSPROXY_NODEMULTIADDRESS: kubo.apiMultiaddr } })
  await peer.start()
  const cfg = (await peer.readConfig()) as { api: { ipfsproxy: { listen_multiaddress: string | string[] } } }
  const lm = cfg.api.ipfsproxy.listen_multiaddress
  const proxy = Array.isArray(lm) ? lm[0]! : lm
  const env = { IPFS_PATH: join(dir, 'no-repo') }
  try {
    const mb = bytes / 1e6
    let t0 = performance.now()
    const cid = (await ipfs(bin, kubo.apiMultiaddr, ['add', '-Q', file], env)).out
    const directS = (performance.now() - t0) / 1000
    await kubo.ipfsOk(['pin', 'rm', cid])
    await kubo.ipfsOk(['repo', 'gc', '--quiet'])

    t0 = performance.now()
    const viaCid = (await ipfs(bin, proxy, ['add', '-Q', file], env)).out
    const proxyS = (performance.now() - t0) / 1000
    if (viaCid !== cid) throw new Error(`CIDs differ: kubo ${cid}, through the proxy ${viaCid}`)

    t0 = performance.now()
    const c1 = await ipfs(bin, kubo.apiMultiaddr, ['cat', cid], env)
    const catDirectS = (performance.now() - t0) / 1000
    t0 = performance.now()
    const c2 = await ipfs(bin, proxy, ['cat', cid], env)
    const catProxyS = (performance.now() - t0) / 1000
    if (c1.bytes !== bytes || c2.bytes !== bytes) throw new Error(`cat returned ${c1.bytes} / ${c2.bytes} bytes`)

    const f = (n: number): string => n.toFixed(1)
    console.log(`ipfs add ${MIB} MiB: kubo ${f(mb / directS)} MB/s, through the proxy ${f(mb / proxyS)} MB/s, ratio ${(directS / proxyS).toFixed(2)}`)
    console.log(`ipfs cat ${MIB} MiB: kubo ${f(mb / catDirectS)} MB/s, through the proxy ${f(mb / catProxyS)} MB/s, ratio ${(catDirectS / catProxyS).toFixed(2)}`)
    console.log(`cluster daemon peak RSS: ${f(peakRssMb(peer.proc?.pid))} MB`)
  } finally {
    await peer.stop()
    await peer.destroy()
  }
} finally {
  await stopAllKubos()
  await rm(dir, { recursive: true, force: true })
}
