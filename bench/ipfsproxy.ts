/**
 * IPFS proxy throughput: `ipfs add` of the same random file straight into
 * kubo and through the peer's IPFS proxy (kubo's CLI with `--api <proxy>`),
 * in MB/s, as a ratio; then `ipfs cat` of it both ways. Prints figures;
 * asserts nothing. Run after `npm run build`:
 *   bun bench/ipfsproxy.ts                 (200 MiB)
 *   BENCH_PROXY_MIB=50 bun bench/ipfsproxy.ts
 *   BENCH_PROXY_CAT=0 bun bench/ipfsproxy.ts   (adds only)
 * Between adds the pin is removed and the repo garbage-collected, so each
 * add stores every block. The adds run `BENCH_PROXY_ROUNDS` times (3);
 * the min and median ratio are printed, and the daemon's peak RSS (VmHWM).
 * Each round also prints the CPU seconds of kubo's CLI, the cluster daemon
 * and kubo for each add (CLI / daemon / kubo).
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { initPeer, kuboBinary, startKubo, stopAllKubos, waitFor } from '../scripts/launcher/index.ts'
import { cpuSeconds, kuboPid, minMedian, peakRssMb, writeRandomFile } from './add-helpers.ts'

const MIB = Number(process.env.BENCH_PROXY_MIB ?? 200)
const ROUNDS = Number(process.env.BENCH_PROXY_ROUNDS ?? 3)
/** `BENCH_PROXY_CAT=0`: adds only (no `cat` rows), e.g. to profile the daemon's adds */
const CAT = process.env.BENCH_PROXY_CAT !== '0'

async function ipfs(bin: string, api: string, args: string[], env: Record<string, string>): Promise<{ out: string; bytes: number; cpuS: number }> {
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
  const ru = proc.resourceUsage()
  const cpuS = ru !== undefined ? Number(ru.cpuTime.user + ru.cpuTime.system) / 1e6 : Number.NaN
  return { out: out.trim(), bytes, cpuS }
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
    const f = (n: number): string => n.toFixed(1)
    const ratios: number[] = []
    const kpid = kuboPid(kubo.repo)
    const dpid = peer.proc?.pid
    let cid = ''
    let t0 = 0
    for (let round = 1; round <= ROUNDS; round++) {
      let k0 = cpuSeconds(kpid)
      t0 = performance.now()
      const direct = await ipfs(bin, kubo.apiMultiaddr, ['add', '-Q', file], env)
      const directS = (performance.now() - t0) / 1000
      const directKubo = cpuSeconds(kpid) - k0
      cid = direct.out
      await kubo.ipfsOk(['pin', 'rm', cid])
      await kubo.ipfsOk(['repo', 'gc', '--quiet'], { timeoutMs: 600_000 })

      k0 = cpuSeconds(kpid)
      const d0 = cpuSeconds(dpid)
      t0 = performance.now()
      const via = await ipfs(bin, proxy, ['add', '-Q', file], env)
      const proxyS = (performance.now() - t0) / 1000
      const viaKubo = cpuSeconds(kpid) - k0
      const viaDaemon = cpuSeconds(dpid) - d0
      const viaCid = via.out
      if (viaCid !== cid) throw new Error(`CIDs differ: kubo ${cid}, through the proxy ${viaCid}`)
      ratios.push(directS / proxyS)
      const c = (n: number): string => n.toFixed(2)
      console.log(
        `round ${round}: ipfs add ${MIB} MiB: kubo ${f(mb / directS)} MB/s (CPU ${c(direct.cpuS)} / - / ${c(directKubo)}), ` +
          `through the proxy ${f(mb / proxyS)} MB/s (CPU ${c(via.cpuS)} / ${c(viaDaemon)} / ${c(viaKubo)}), ratio ${(directS / proxyS).toFixed(2)}`
      )
      if (round < ROUNDS) {
        // the cluster's unpin reaches kubo through the tracker: wait for it before the GC
        await peer.ctl(['pin', 'rm', cid])
        await waitFor(async () => (await kubo.ipfs(['pin', 'ls', '--type=recursive', cid])).code !== 0, `kubo unpins ${cid}`, 60_000, 200)
        await kubo.ipfsOk(['repo', 'gc', '--quiet'], { timeoutMs: 600_000 })
      }
    }
    const { min, median } = minMedian(ratios)
    console.log(`ipfs add through the proxy / straight into kubo: min ${min.toFixed(2)}, median ${median.toFixed(2)} (throughput)`)

    if (!CAT) {
      console.log(`cluster daemon peak RSS: ${f(peakRssMb(peer.proc?.pid))} MB`)
    } else {
    t0 = performance.now()
    const c1 = await ipfs(bin, kubo.apiMultiaddr, ['cat', cid], env)
    const catDirectS = (performance.now() - t0) / 1000
    t0 = performance.now()
    const c2 = await ipfs(bin, proxy, ['cat', cid], env)
    const catProxyS = (performance.now() - t0) / 1000
    if (c1.bytes !== bytes || c2.bytes !== bytes) throw new Error(`cat returned ${c1.bytes} / ${c2.bytes} bytes`)

    console.log(`ipfs cat ${MIB} MiB: kubo ${f(mb / catDirectS)} MB/s, through the proxy ${f(mb / catProxyS)} MB/s, ratio ${(catDirectS / catProxyS).toFixed(2)}`)
    console.log(`cluster daemon peak RSS: ${f(peakRssMb(peer.proc?.pid))} MB`)
    }
  } finally {
    await peer.stop()
    await peer.destroy()
  }
} finally {
  await stopAllKubos()
  await rm(dir, { recursive: true, force: true })
}
