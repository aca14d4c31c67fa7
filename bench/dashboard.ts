/**
 * Benchmark of the web dashboard (prints figures; asserts nothing):
 * `bun bench/dashboard.ts` after `npm run build`, chromium at /usr/bin/chromium
 * (or $CHROMIUM_BIN). Size: BENCH_DASHBOARD_PINS (default 1,000,000).
 *
 * One peer (compiled binary) with a real kubo; its state is loaded with
 * `service state import` (pins allocated to a peer outside the cluster, so
 * kubo fetches nothing). Then, in chromium:
 * 1. the embedded assets' size (raw and gzipped);
 * 2. time to first render of the pinset page (navigation start → first
 *    table row visible), median of 5 cold loads;
 * 3. time of a search by name that matches only the last pin (the whole
 *    stream is read: the worst case);
 * 4. the peer's RSS (VmRSS) before the dashboard is opened, and after 30 s
 *    with the overview open and polling, and 30 s on the pinset page.
 */
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { identity } from 'multiformats/hashes/identity'
import { chromium } from 'playwright-core'
import { uiAssetSizes } from '../src/api/rest/ui.ts'
import { initPeer, runBinary, startKubo, stopAllKubos } from '../scripts/launcher/index.ts'

const PINS = Number(process.env.BENCH_DASHBOARD_PINS ?? 1_000_000)
const CHROMIUM = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium'
const ABSENT_PEER = '12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN'

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return m === null ? Number.NaN : Number(m[1]) / 1024
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]!
}

const sizes = uiAssetSizes()
console.log(`assets: ${(sizes.size / 1024).toFixed(1)} KiB raw, ${(sizes.gzipSize / 1024).toFixed(1)} KiB gzipped (index.html + app.js + app.css)`)

const kubo = await startKubo()
const peer = await initPeer({ ipfsApi: kubo.apiMultiaddr })
try {
  const dir = await mkdtemp(join(tmpdir(), 'bench-dashboard-'))
  const file = join(dir, 'state.ndjson')
  const enc = new TextEncoder()
  writeFileSync(file, '')
  let chunks: string[] = []
  for (let i = 0; i < PINS; i++) {
    const cid = CID.createV1(raw.code, identity.digest(enc.encode(`bench-dashboard-${i}`))).toString()
    const name = `pin-${String(i).padStart(7, '0')}`
    chunks.push(`{"cid":"${cid}","name":"${name}","type":"pin","allocations":["${ABSENT_PEER}"],"replication_factor_min":1,"replication_factor_max":1,"max_depth":-1,"mode":"recursive"}\n`)
    if (chunks.length === 10_000 || i === PINS - 1) {
      appendFileSync(file, chunks.join(''))
      chunks = []
    }
  }
  let t = performance.now()
  const imp = await runBinary(['service', '-c', peer.folder, 'state', 'import', '-f', file], { env: peer.env, timeoutMs: 3_600_000 })
  if (imp.code !== 0) throw new Error(`state import: ${imp.stderr}${imp.stdout}`)
  console.log(`state import of ${PINS} pins: ${((performance.now() - t) / 1000).toFixed(1)} s`)
  await peer.start([], 600_000)
  const pid = peer.proc!.pid
  console.log(`peer RSS, started, dashboard closed: ${rssMiB(pid).toFixed(0)} MiB`)

  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] })
  try {
    const loads: number[] = []
    for (let i = 0; i < 5; i++) {
      const ctx = await browser.newContext()
      const page = await ctx.newPage()
      t = performance.now()
      await page.goto(`${peer.apiUrl}/ui/#/pins`)
      await page.getByTestId('pinset-table').locator('tbody tr').first().waitFor({ timeout: 120_000 })
      loads.push(performance.now() - t)
      await ctx.close()
    }
    console.log(`pinset page, first render with ${PINS} pins: median ${median(loads).toFixed(0)} ms (all: ${loads.map((x) => x.toFixed(0)).join(', ')})`)

    const page = await browser.newPage()
    await page.goto(`${peer.apiUrl}/ui/#/pins`)
    await page.getByTestId('pinset-table').locator('tbody tr').first().waitFor()
    const last = `pin-${String(PINS - 1).padStart(7, '0')}`
    t = performance.now()
    await page.getByLabel('Search by name or CID').fill(last)
    await page.getByRole('button', { name: 'Search' }).click()
    await page.getByTestId('pinset-table').locator('tbody tr', { hasText: last }).waitFor({ timeout: 600_000 })
    console.log(`search by name matching only the last of ${PINS} pins (full scan): ${((performance.now() - t) / 1000).toFixed(1)} s`)

    await page.goto(`${peer.apiUrl}/ui/#/`)
    await page.getByTestId('pinset-count').waitFor({ timeout: 120_000 })
    await Bun.sleep(30_000) // a bench: let the overview poll for a while, then sample
    console.log(`peer RSS after 30 s with the overview open: ${rssMiB(pid).toFixed(0)} MiB`)
    await page.goto(`${peer.apiUrl}/ui/#/pins`)
    await page.getByTestId('pinset-table').waitFor()
    await Bun.sleep(30_000)
    console.log(`peer RSS after 30 s more on the pinset page: ${rssMiB(pid).toFixed(0)} MiB`)
  } finally {
    await browser.close()
  }
} finally {
  await peer.destroy()
  await stopAllKubos()
}
