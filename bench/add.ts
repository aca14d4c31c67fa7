/**
 * Add throughput: `ipfs-cluster ctl add` (compiled binary, one peer) beside
 * `ipfs add` of the same file into the same kubo, in MB/s, as a ratio.
 * Prints figures; asserts nothing. Run after `npm run build`:
 *   bun bench/add.ts                 (200 MiB, 3 rounds)
 *   BENCH_ADD_MIB=50 BENCH_ADD_ROUNDS=5 bun bench/add.ts
 * The file is random bytes (no deduplication), written streamed to a temp
 * folder and deleted at the end. Each round runs `ipfs add` then `ctl add`;
 * after each add the pin is removed and the repo garbage-collected, so
 * every add stores every block. Per round: wall time, and the CPU seconds
 * of the client (kubo's CLI or ctl), the cluster daemon and kubo's daemon;
 * at the end the min and median ratio, and the daemon's peak RSS (VmHWM).
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { clusterBinary, initPeer, type Kubo, kuboBinary, startKubo, stopAllKubos } from '../scripts/launcher/index.ts'
import { cpuSeconds, kuboPid, minMedian, peakRssMb, runTimed, writeRandomFile } from './add-helpers.ts'

const MIB = Number(process.env.BENCH_ADD_MIB ?? 200)
const ROUNDS = Number(process.env.BENCH_ADD_ROUNDS ?? 3)

async function clean(kubo: Kubo, cid: string): Promise<void> {
  await kubo.ipfs(['pin', 'rm', cid])
  await kubo.ipfsOk(['repo', 'gc', '--quiet'], { timeoutMs: 600_000 })
}

const dir = await mkdtemp(join(tmpdir(), 'bench-add-'))
const file = join(dir, `random-${MIB}MiB`)
const bytes = MIB * 1024 * 1024
try {
  await writeRandomFile(file, bytes)
  const bin = await kuboBinary()
  const kubo = await startKubo({ offline: true })
  const kpid = kuboPid(kubo.repo)
  const peer = await initPeer({ ipfsApi: kubo.apiMultiaddr })
  await peer.start()
  const dpid = peer.proc?.pid
  try {
    const mb = bytes / 1e6
    const f2 = (n: number): string => n.toFixed(2)
    console.log(`add ${MIB} MiB of random bytes into one kubo (offline), default options, ${ROUNDS} rounds`)
    console.log('  (CPU seconds: client / cluster daemon / kubo)')
    const ratios: number[] = []
    let ipfsCid = ''
    let ctlCid = ''
    for (let round = 1; round <= ROUNDS; round++) {
      // both go through the same kubo daemon; the client is the only difference
      let k0 = cpuSeconds(kpid)
      let t0 = performance.now()
      const a = await runTimed([bin, '--api', kubo.apiMultiaddr, 'add', '-Q', file], { IPFS_PATH: kubo.repo })
      const ipfsS = (performance.now() - t0) / 1000
      const ipfsKuboCpu = cpuSeconds(kpid) - k0
      if (a.code !== 0) throw new Error(`ipfs add failed (${a.code}): ${a.stderr}`)
      ipfsCid = a.stdout.trim()
      await clean(kubo, ipfsCid)

      const d0 = cpuSeconds(dpid)
      k0 = cpuSeconds(kpid)
      t0 = performance.now()
      const r = await runTimed([clusterBinary(), 'ctl', '--host', peer.apiMultiaddr, 'add', '-Q', file], peer.env)
      const ctlS = (performance.now() - t0) / 1000
      const daemonCpu = cpuSeconds(dpid) - d0
      const ctlKuboCpu = cpuSeconds(kpid) - k0
      if (r.code !== 0) throw new Error(`ctl add failed (${r.code}): ${r.stdout}${r.stderr}`)
      ctlCid = r.stdout.trim()
      await clean(kubo, ctlCid)
      ratios.push(ipfsS / ctlS)
      console.log(
        `  round ${round}: ipfs add ${f2(ipfsS)} s ${(mb / ipfsS).toFixed(1)} MB/s (CPU ${f2(a.cpuS)} / - / ${f2(ipfsKuboCpu)}); ` +
          `ctl add ${f2(ctlS)} s ${(mb / ctlS).toFixed(1)} MB/s (CPU ${f2(r.cpuS)} / ${f2(daemonCpu)} / ${f2(ctlKuboCpu)}); ratio ${f2(ipfsS / ctlS)}`
      )
    }
    const { min, median } = minMedian(ratios)
    console.log(`  ratio ctl/ipfs  : min ${f2(min)}, median ${f2(median)} (throughput)`)
    console.log(`  same CID        : ${ctlCid === ipfsCid} (${ipfsCid})`)
    console.log(`  daemon peak RSS : ${peakRssMb(dpid).toFixed(0)} MB`)
  } finally {
    await peer.stop()
    await peer.destroy()
    await stopAllKubos()
  }
} finally {
  await rm(dir, { recursive: true, force: true })
}
