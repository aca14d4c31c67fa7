/**
 * Figures of the bundled IPFS node (src/ipfsconn/bundled/) against kubo, on
 * loopback. Prints figures and ratios; asserts nothing. Run under the shared
 * lock: `flock /tmp/heavy.lock bun bench/bundled.ts` (BENCH_BUNDLED_MIB=200
 * by default).
 *
 * 1. Pin throughput of a BENCH_BUNDLED_MIB DAG added to kubo A: into a
 *    second kubo (`ipfs pin add`) vs into a bundled node
 *    (`BundledConnector.pin`, fetch_concurrency 32), MiB/s and the ratio.
 * 2. Add throughput of the same bytes: `ipfs add` into kubo vs the bundled
 *    node's UnixFS importer (`@helia/unixfs` addByteStream with kubo's
 *    chunking and layout: the blocks are hashed and written, fsynced, by
 *    this process).
 * 3. RSS of this process (the bundled node) idle after start and after the
 *    pin and add above.
 * 4. A real bundled peer (the compiled binary, `service init --ipfs
 *    bundled`): its RSS idle and during `ctl add --local` of files of
 *    BENCH_BUNDLED_PEER_MIB (default "256,1024") MiB, VmRSS of the daemon
 *    read from /proc/<pid>/status every 250 ms (peak and median printed),
 *    with the add throughput through the peer. A peak that grows with the
 *    file size means the add holds the file in memory.
 */
import { randomBytes } from 'node:crypto'
import { appendFile, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { unixfs } from '@helia/unixfs'
import { fixedSize } from 'ipfs-unixfs-importer/chunker'
import { balanced } from 'ipfs-unixfs-importer/layout'
import { CID } from 'multiformats/cid'
import { readFile } from 'node:fs/promises'
import { initPeer, startKubo, stopAllKubos, waitFor } from '../scripts/launcher/index.ts'
import { BundledConnector } from '../src/ipfsconn/bundled/index.ts'
import { defaultPinOptions, pinWithOpts } from '../src/types/index.ts'

const MIB = Number(process.env.BENCH_BUNDLED_MIB ?? 200)

function mib(bytes: number): string {
  return (bytes / 1024 / 1024).toFixed(1)
}

function rssMib(): string {
  return mib(process.memoryUsage().rss)
}

const PEER_MIB = (process.env.BENCH_BUNDLED_PEER_MIB ?? '256,1024')
  .split(',')
  .map(Number)
  .filter((n) => n > 0)

/** VmRSS of a process, KiB (0 once it is gone). */
async function vmRssKiB(pid: number): Promise<number> {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(await readFile(`/proc/${pid}/status`, 'utf8'))
    return m === null ? 0 : Number(m[1])
  } catch {
    return 0
  }
}

/** Samples a process's VmRSS every `everyMs` until `stop()`, which gives the peak and median, MiB. */
function sampleRss(pid: number, everyMs = 250): { stop(): Promise<{ peak: number; median: number; samples: number }> } {
  const samples: number[] = []
  let running = true
  const loop = (async () => {
    while (running) {
      samples.push(await vmRssKiB(pid))
      await Bun.sleep(everyMs)
    }
  })()
  return {
    async stop() {
      running = false
      await loop
      const sorted = samples.filter((n) => n > 0).sort((a, b) => a - b)
      return { peak: (sorted.at(-1) ?? 0) / 1024, median: (sorted[Math.floor(sorted.length / 2)] ?? 0) / 1024, samples: sorted.length }
    }
  }
}

async function writeRandomFile(file: string, size: number): Promise<void> {
  await writeFile(file, '')
  for (let o = 0; o < size; o += 8 * 1024 * 1024) await appendFile(file, randomBytes(Math.min(8 * 1024 * 1024, size - o)))
}

/** Part 4: a compiled bundled peer, RSS idle and during `ctl add` of each size. */
async function peerRss(tmp: string): Promise<string[]> {
  const out: string[] = []
  const p = await initPeer({
    ipfsApi: '/ip4/127.0.0.1/tcp/1',
    initArgs: ['--ipfs', 'bundled'],
    env: { CLUSTER_PEERNAME: 'bench-bundled', CLUSTER_BUNDLED_LISTENMULTIADDRESS: '/ip4/127.0.0.1/tcp/0', CLUSTER_BUNDLED_STORAGEMAX: '0' }
  })
  try {
    await p.start()
    const pid = p.proc!.pid
    // idle: 5 s after READY
    const idle = sampleRss(pid)
    await Bun.sleep(5000)
    const i = await idle.stop()
    out.push(`RSS  bundled peer    : idle ${i.median.toFixed(1)} MiB (median of ${i.samples} samples, peak ${i.peak.toFixed(1)})`)
    for (const mibs of PEER_MIB) {
      const file = join(tmp, `peer-${mibs}.bin`)
      await writeRandomFile(file, mibs * 1024 * 1024)
      const s = sampleRss(pid)
      const t = performance.now()
      const r = await p.ctl(['add', '-Q', '--local', file], { timeoutMs: 1_800_000 })
      const secs = (performance.now() - t) / 1000
      const rss = await s.stop()
      if (r.code !== 0) throw new Error(`ctl add of ${mibs} MiB failed (${r.code}): ${r.stderr}`)
      const cid = r.stdout.trim()
      await waitFor(async () => (await p.ctl(['--enc', 'json', 'status', cid])).stdout.includes('"pinned"'), `${cid} pinned`, 120_000)
      out.push(
        `RSS  bundled peer    : during ctl add of ${mibs} MiB: peak ${rss.peak.toFixed(1)} MiB, median ${rss.median.toFixed(1)} MiB (${rss.samples} samples); add ${secs.toFixed(2)} s, ${(mibs / secs).toFixed(1)} MiB/s`
      )
      await rm(file, { force: true })
    }
  } finally {
    await p.destroy()
  }
  return out
}

async function main(): Promise<void> {
  const tmp = await mkdtemp(join(tmpdir(), 'bench-bundled-'))
  const file = join(tmp, 'data.bin')
  const size = MIB * 1024 * 1024
  // random, appended in 8 MiB pieces (not held in memory: the RSS figures are the node's)
  await writeRandomFile(file, size)
  const [src, dst] = await Promise.all([startKubo(), startKubo()])
  const settings = (folder: string) => ({
    folder: join(tmp, folder),
    listenMultiaddress: ['/ip4/127.0.0.1/tcp/0'],
    announceMultiaddress: [],
    bootstrap: [],
    storageMaxBytes: 0,
    pinTimeoutMs: 120_000,
    unpinTimeoutMs: 0,
    repoGcTimeoutMs: 0,
    fetchConcurrency: 32,
    gatewayListenMultiaddress: '',
    swarmKeyFile: '',
    connectSwarmsDelayMs: 0,
    unpinDisable: false
  })
  const bundled = new BundledConnector(settings('bundled'))
  // the add goes into a second, empty node: in the first one the pin above already stored the same blocks
  const adder = new BundledConnector(settings('bundled-add'))
  try {
    await adder.start()
    await bundled.start()
    const idleRss = rssMib()

    let t = performance.now()
    const cid = await src.ipfsOk(['add', '-Q', '--cid-version=1', file], { timeoutMs: 600_000 })
    const kuboAddS = (performance.now() - t) / 1000

    await dst.ipfsOk(['swarm', 'connect', src.swarmAddrs[0]!])
    t = performance.now()
    await dst.ipfsOk(['pin', 'add', cid], { timeoutMs: 600_000 })
    const k2kS = (performance.now() - t) / 1000

    await bundled.swarmConnect([src.swarmAddrs[0]!])
    let blocks = 0
    t = performance.now()
    await bundled.pin(pinWithOpts(CID.parse(cid), defaultPinOptions()), { onProgress: (n) => (blocks = n) })
    const k2bS = (performance.now() - t) / 1000
    const afterPinRss = rssMib()

    const fs = unixfs(adder.helia)
    t = performance.now()
    // kubo's defaults for `add --cid-version=1`: 256 KiB chunks, raw leaves, balanced DAG of 174 links
    const added = await fs.addByteStream(Bun.file(file).stream() as unknown as AsyncIterable<Uint8Array>, {
      cidVersion: 1,
      rawLeaves: true,
      chunker: fixedSize({ chunkSize: 262144 }),
      layout: balanced({ maxChildrenPerNode: 174 })
    })
    const bundledAddS = (performance.now() - t) / 1000
    const afterAddRss = rssMib()

    console.log(`bundled IPFS figures (${MIB} MiB random file, loopback, ${blocks} blocks)`)
    console.log(`pin  kubo -> kubo    : ${k2kS.toFixed(2)} s  ${(MIB / k2kS).toFixed(1)} MiB/s`)
    console.log(`pin  kubo -> bundled : ${k2bS.toFixed(2)} s  ${(MIB / k2bS).toFixed(1)} MiB/s  (ratio bundled/kubo time ${(k2bS / k2kS).toFixed(2)})`)
    console.log(`add  kubo            : ${kuboAddS.toFixed(2)} s  ${(MIB / kuboAddS).toFixed(1)} MiB/s`)
    console.log(
      `add  bundled         : ${bundledAddS.toFixed(2)} s  ${(MIB / bundledAddS).toFixed(1)} MiB/s  (ratio bundled/kubo time ${(bundledAddS / kuboAddS).toFixed(2)}; same CID as kubo: ${added.toString() === cid})`
    )
    console.log(`RSS  bundled node    : idle ${idleRss} MiB, after the pin ${afterPinRss} MiB, after the add ${afterAddRss} MiB`)
    await bundled.stop()
    await adder.stop()
    await stopAllKubos()
    await rm(file, { force: true })
    for (const line of await peerRss(tmp)) console.log(line)
  } finally {
    await bundled.stop().catch(() => {})
    await adder.stop().catch(() => {})
    await stopAllKubos()
    await rm(tmp, { recursive: true, force: true })
  }
}

await main()
