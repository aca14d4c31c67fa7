/**
 * e2e, the web dashboard in a real browser: Debian's chromium driven by
 * playwright-core against a three-peer cluster (compiled binary, each peer
 * with its own real kubo), REST API with basic-auth credentials.
 *
 * Peer 0, whose dashboard the browser opens, runs from an empty folder.
 * Screenshots of every page go to dist/dashboard-screenshots/ (or
 * $DASHBOARD_SCREENSHOTS); `UPDATE_DASHBOARD_PNG=1` also copies the
 * overview to docs/dashboard.png.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { randomBytes } from 'node:crypto'
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { identity } from 'multiformats/hashes/identity'
import { sha256 } from 'multiformats/hashes/sha2'
import { type Browser, chromium, type Page } from 'playwright-core'
import { type ClusterPeer, FAST_TIMINGS, initPeer, type Kubo, runBinary, startKubo, stopAllKubos, waitFor } from '../../scripts/launcher/index.ts'

const ROOT = resolve(import.meta.dir, '../..')
const SHOTS = process.env.DASHBOARD_SCREENSHOTS ?? join(ROOT, 'dist', 'dashboard-screenshots')
const CHROMIUM = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium'
const SECRET = randomBytes(32).toString('hex')
const USER = 'admin'
const PASSWORD = 's3cret'
const AUTH = ['--basic-auth', `${USER}:${PASSWORD}`, '--force-http']
/** pins loaded with `state import` before the first start: allocated to a peer that is not in the cluster, so no kubo works on them */
const BULK = 10_000
const ABSENT_PEER = '12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN'

const kubos: Kubo[] = []
const peers: ClusterPeer[] = []
let browser: Browser
let page: Page

function bulkCid(i: number): string {
  return CID.createV1(raw.code, identity.digest(new TextEncoder().encode(`dashboard-bulk-${i}`))).toString()
}


async function ctlJson<T>(p: ClusterPeer, args: string[]): Promise<T> {
  const r = await p.ctl([...AUTH, '--enc', 'json', ...args])
  if (r.code !== 0) throw new Error(`ctl ${args.join(' ')}: ${r.stderr}${r.stdout}`)
  return JSON.parse(r.stdout) as T
}

/** The objects of an NDJSON answer of the REST API, with the credentials. */
async function restLines(p: ClusterPeer, path: string): Promise<unknown[]> {
  const res = await fetch(`${p.apiUrl}${path}`, { headers: { Authorization: `Basic ${btoa(`${USER}:${PASSWORD}`)}` } })
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`)
  return (await res.text()).split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as unknown)
}

async function shot(name: string): Promise<void> {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true })
}

async function goto(hash: string, heading: string): Promise<void> {
  await page.goto(`${peers[0]!.apiUrl}/ui/#/${hash}`)
  await page.getByRole('heading', { level: 1, name: heading }).waitFor()
}

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true })
  const env = {
    CLUSTER_SECRET: SECRET,
    CLUSTER_RESTAPI_BASICAUTHCREDENTIALS: `${USER}:${PASSWORD}`,
    CLUSTER_IPFSHTTP_PINTIMEOUT: '4s',
    ...FAST_TIMINGS
  }
  for (let i = 0; i < 3; i++) {
    kubos.push(await startKubo())
    peers.push(await initPeer({ ipfsApi: kubos[i]!.apiMultiaddr, env: { ...env, CLUSTER_PEERNAME: `peer${i}` } }))
  }
  // 10,000 pins into peer0's state before it starts
  const lines: string[] = []
  for (let i = 0; i < BULK; i++) {
    const name = `bulk-${String(i).padStart(5, '0')}`
    lines.push(JSON.stringify({ cid: bulkCid(i), name, type: 'pin', allocations: [ABSENT_PEER], replication_factor_min: 1, replication_factor_max: 1, max_depth: -1, mode: 'recursive' }))
  }
  const dir = await mkdtemp(join(tmpdir(), 'dashboard-e2e-'))
  const file = join(dir, 'state.ndjson')
  writeFileSync(file, `${lines.join('\n')}\n`)
  const imp = await runBinary(['service', '-c', peers[0]!.folder, 'state', 'import', '-f', file], { env: peers[0]!.env, timeoutMs: 240_000 })
  if (imp.code !== 0) throw new Error(`state import: ${imp.stderr}${imp.stdout}`)
  // the peer serving the dashboard runs from an empty folder: its assets are in the binary
  peers[0]!.cwd = await mkdtemp(join(tmpdir(), 'dashboard-empty-cwd-'))
  await peers[0]!.start()
  const boot = (await ctlJson<{ addresses: string[] }>(peers[0]!, ['id'])).addresses.find((a) => a.startsWith('/ip4/127.0.0.1/'))!
  await Promise.all([peers[1]!.start(['--bootstrap', boot]), peers[2]!.start(['--bootstrap', boot])])
  await waitFor(async () => (await restLines(peers[0]!, '/peers')).length === 3, 'three peers in the peerset', 60_000)
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] })
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
  page.on('dialog', (d) => void d.accept())
}, 300_000)

afterAll(async () => {
  await browser?.close()
  await Promise.all(peers.map((p) => p.destroy()))
  await stopAllKubos()
})

describe('dashboard', () => {
  test('assets load without credentials, but every data call is refused', async () => {
    const res = await fetch(`${peers[0]!.apiUrl}/ui/`)
    expect(res.status).toBe(200)
    await page.goto(`${peers[0]!.apiUrl}/ui/`)
    await page.getByRole('form', { name: 'Log in' }).waitFor()
    const statuses = await page.evaluate(async () => {
      const out: number[] = []
      for (const p of ['/id', '/peers', '/allocations', '/pins', '/health/alerts']) out.push((await fetch(p)).status)
      return out
    })
    expect(statuses).toEqual([401, 401, 401, 401, 401])
    await shot('login')
  })

  test('wrong credentials are refused', async () => {
    await page.getByLabel('User').fill(USER)
    await page.getByLabel('Password').fill('wrong')
    await page.getByRole('button', { name: 'Log in' }).click()
    await page.getByRole('alert').filter({ hasText: 'wrong credentials' }).waitFor()
    expect(await page.getByRole('navigation', { name: 'Pages' }).count()).toBe(0)
  })

  test('log in with a token from /token and see three peers', async () => {
    await page.getByLabel('Password').fill(PASSWORD)
    await page.getByRole('button', { name: 'Log in' }).click()
    await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor()
    const stored = await page.evaluate(() => sessionStorage.getItem('ipfs-cluster-dashboard-auth'))
    expect(stored?.startsWith('Bearer ')).toBe(true)
    await page.getByTestId('peer-count').filter({ hasText: /^3$/ }).waitFor()
    // the overview counts the pinset up to 10,000 (it stays cheap at 1M pins)
    await page.getByTestId('pinset-count').filter({ hasText: '10,000+' }).waitFor()
    await shot('overview')
    if (process.env.UPDATE_DASHBOARD_PNG === '1') copyFileSync(join(SHOTS, 'overview.png'), join(ROOT, 'docs', 'dashboard.png'))
    await goto('peers', 'Peers')
    const rows = page.getByTestId('peers-table').locator('tbody tr')
    await waitFor(async () => (await rows.count()) === 3, 'three rows in the peers table', 30_000)
    for (let i = 0; i < 3; i++) expect(await rows.nth(i).locator('th').textContent()).toBe(`peer${i}`)
    await shot('peers')
  })

  test('find a pin by name among 10,000, and by CID', async () => {
    await goto('pins', 'Pinset')
    await page.getByTestId('pinset-table').waitFor()
    await shot('pinset')
    await page.getByLabel('Search by name or CID').fill('bulk-07777')
    await page.getByRole('button', { name: 'Search' }).click()
    const rows = page.getByTestId('pinset-table').locator('tbody tr')
    await waitFor(async () => (await rows.count()) === 1 && (await rows.first().textContent())?.includes('bulk-07777'), 'the one matching row', 30_000)
    await page.getByLabel('Search by name or CID').fill(bulkCid(4242))
    await page.getByRole('button', { name: 'Search' }).click()
    await waitFor(async () => (await rows.count()) === 1 && (await rows.first().textContent())?.includes('bulk-04242'), 'the pin of that CID', 30_000)
    // a whole CID is looked up directly (GET /allocations/<cid>), not searched for in the stream
    expect(await page.getByTestId('scanned').textContent()).toContain('read 1 entry')
    await shot('pinset-search')
  })

  test('add a pin and watch it go queued → pinned', async () => {
    // the content is only on a kubo no peer's kubo is connected to: the peers cannot fetch it until we connect it
    const island = await startKubo()
    kubos.push(island)
    const cid = await island.ipfsOk(['add', '-Q', '--pin=false'], { input: `island ${randomBytes(16).toString('hex')}` })
    await goto('add', 'Add')
    await page.getByRole('textbox', { name: 'CID or path' }).fill(cid)
    await page.locator('input[name="pin-name"]').fill('watched-pin')
    await page.locator('textarea[name="pin-meta"]').fill('owner=dashboard-test')
    await page.getByRole('button', { name: 'Pin', exact: true }).click()
    await page.getByRole('heading', { level: 1, name: 'Pin detail' }).waitFor()
    const table = page.getByTestId('peer-status')
    await table.locator('[data-status="pin_queued"], [data-status="pinning"]').first().waitFor({ timeout: 30_000 })
    await shot('pin-queued')
    for (const k of kubos.slice(0, 3)) await k.ipfsOk(['swarm', 'connect', island.swarmAddrs[0]!])
    await waitFor(async () => (await table.locator('[data-status="pinned"]').count()) === 3, 'pinned on the three peers', 60_000)
    expect(await page.getByText('owner').count()).toBeGreaterThan(0)
    await shot('pin-detail')
    // unpin from the detail page
    await page.getByRole('button', { name: 'Unpin' }).click()
    await page.getByTestId('not-pinned').waitFor({ timeout: 30_000 })
    const r = await peers[0]!.ctl([...AUTH, 'pin', 'ls', cid])
    expect(r.code).not.toBe(0)
    expect(r.stdout + r.stderr).toContain(`${cid} is not pinned in the cluster`)
  })

  test('upload a file: its CID equals ipfs add --only-hash', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dashboard-upload-'))
    const file = join(dir, 'upload.bin')
    const data = randomBytes(3 * 1024 * 1024 + 17)
    writeFileSync(file, data)
    const expected = await kubos[0]!.ipfsOk(['add', '--only-hash', '-Q', file])
    await goto('add', 'Add')
    await page.locator('input[name="files"]').setInputFiles(file)
    await page.locator('input[name="add-name"]').fill('uploaded-file')
    await page.getByRole('button', { name: 'Upload' }).click()
    const added = page.getByTestId('added-cid')
    await added.waitFor({ timeout: 60_000 })
    expect(await added.textContent()).toBe(expected)
    await shot('upload')
    await waitFor(async () => {
      const g = await ctlJson<{ peer_map: Record<string, { status: string }> }>(peers[0]!, ['status', expected])
      return Object.values(g.peer_map).some((s) => s.status === 'pinned')
    }, 'the upload pinned', 60_000)
  })

  test('a pin that cannot be fetched shows as an error, and recover is offered', async () => {
    const missing = CID.createV1(raw.code, await sha256.digest(randomBytes(32))).toString()
    const r = await peers[0]!.ctl([...AUTH, 'pin', 'add', '--no-status', '--name', 'unfetchable', missing])
    expect(r.code).toBe(0)
    await goto('queue', 'Queue & errors')
    const row = page.locator(`tr[data-cid="${missing}"]`).filter({ has: page.locator('[data-status="pin_error"]') })
    await row.first().waitFor({ timeout: 90_000 })
    const recover = row.first().getByRole('button', { name: 'Recover' })
    expect(await recover.isEnabled()).toBe(true)
    await shot('queue-errors')
    await recover.click()
    // recovering re-queues it (it fails again later: nobody has the block)
    await page.locator(`tr[data-cid="${missing}"] [data-status="pin_queued"], tr[data-cid="${missing}"] [data-status="pinning"]`).first().waitFor({ timeout: 30_000 })
    await page.goto(`${peers[0]!.apiUrl}/ui/#/pin/${missing}`)
    await page.getByTestId('peer-status').locator('[data-status="pin_error"], [data-status="pinning"], [data-status="pin_queued"]').first().waitFor()
    expect(await page.getByRole('button', { name: 'Recover' }).isEnabled()).toBe(true)
  })

  test('alerts, metrics and IPFS GC pages', async () => {
    await goto('alerts', 'Alerts')
    await page.getByRole('heading', { level: 2, name: /Current alerts/ }).waitFor()
    await shot('alerts')
    await goto('metrics', 'Metrics')
    await page.getByRole('heading', { level: 2, name: 'Metric freespace' }).waitFor()
    // two polls at least: the charts have points
    await waitFor(async () => (await page.locator('figure.spark svg polyline').count()) >= 6, 'charts of freespace and pinqueue drawn', 30_000)
    await shot('metrics')
    await goto('gc', 'IPFS GC')
    await page.getByRole('button', { name: "GC every peer's IPFS" }).click()
    const rows = page.getByTestId('gc-result').locator('tbody tr')
    await waitFor(async () => (await rows.count()) === 3, 'a GC result per peer', 60_000)
    await shot('gc')
    expect(existsSync(join(SHOTS, 'overview.png'))).toBe(true)
  })
})
