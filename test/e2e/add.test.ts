/**
 * e2e, `ctl add`: the compiled binary (one peer) against a real kubo.
 * - the CIDs printed by `ctl add` equal `ipfs add --only-hash` for a matrix
 *   of inputs (empty file, 1 byte, 1 MiB + 1, 20 MiB random, a nested
 *   folder with hidden files, with -r and -r -H) and options (default,
 *   --raw-leaves, --cid-version=1, --trickle, --chunker=size-1024,
 *   --hash=sha3-512, -w);
 * - the pin reaches `pinned` in kubo; a CAR exported by kubo imports and pins;
 * - errors (bad CAR, kubo down) leave no pin;
 * - adding 1 GiB keeps the daemon's RSS growth under 150 MB.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { randomBytes } from 'node:crypto'
import { createWriteStream, readFileSync } from 'node:fs'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type ClusterPeer, initPeer, type Kubo, kuboBinary, startKubo, stopAllKubos, waitFor } from '../../scripts/launcher/index.ts'

let kubo: Kubo
let peer: ClusterPeer
let dir: string

async function kuboPins(): Promise<Set<string>> {
  const out = await kubo.ipfsOk(['pin', 'ls', '--type=recursive', '--quiet'])
  return new Set(out.split('\n').map((s) => s.trim()).filter(Boolean))
}

async function clusterPins(): Promise<string[]> {
  const r = await peer.ctl(['--enc', 'json', 'pin', 'ls'])
  if (r.code !== 0) throw new Error(`pin ls failed: ${r.stdout}${r.stderr}`)
  return [...r.stdout.matchAll(/"cid": "([^"]+)"/g)].map((m) => m[1] as string)
}

async function statusOf(cid: string): Promise<string> {
  const r = await peer.ctl(['--enc', 'json', 'status', cid])
  if (r.code !== 0) throw new Error(`status failed: ${r.stderr}${r.stdout}`)
  const g = JSON.parse(r.stdout) as { peer_map: Record<string, { status: string }> }
  return Object.values(g.peer_map)[0]?.status ?? ''
}

function status(pid: number, key: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`${key}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return m !== null ? Number(m[1]) / 1024 : Number.NaN
}

async function writeRandomFile(path: string, bytes: number): Promise<void> {
  const out = createWriteStream(path)
  const chunk = 4 * 1024 * 1024
  for (let left = bytes; left > 0; left -= chunk) {
    if (!out.write(randomBytes(Math.min(chunk, left)))) await new Promise((r) => out.once('drain', r))
  }
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())))
}

beforeAll(async () => {
  kubo = await startKubo({ offline: true })
  dir = await mkdtemp(join(tmpdir(), 'e2e-add-'))
  await writeFile(join(dir, 'empty'), '')
  await writeFile(join(dir, 'one'), 'a')
  await writeFile(join(dir, 'mib1'), randomBytes(1024 * 1024 + 1))
  await writeFile(join(dir, 'mib20'), randomBytes(20 * 1024 * 1024))
  const t = join(dir, 'tree')
  await mkdir(join(t, 'sub', '.hid'), { recursive: true })
  await mkdir(join(t, '.dot'), { recursive: true })
  await mkdir(join(t, 'emptydir'), { recursive: true })
  await writeFile(join(t, 'a.txt'), 'hi\n')
  await writeFile(join(t, 'sub', 'b'), randomBytes(300 * 1024))
  await writeFile(join(t, 'sub', 'e'), '')
  await writeFile(join(t, '.dot', 'c'), 'y\n')
  await writeFile(join(t, 'sub', '.hid', 'd'), 'z\n')
  peer = await initPeer({ ipfsApi: kubo.apiMultiaddr })
  await peer.start()
}, 120_000)

afterAll(async () => {
  await peer?.destroy()
  await stopAllKubos()
  if (dir !== undefined) await rm(dir, { recursive: true, force: true })
}, 60_000)

const OPTIONS: string[][] = [[], ['--raw-leaves'], ['--cid-version=1'], ['--trickle'], ['--chunker=size-1024'], ['--hash=sha3-512'], ['-w']]

describe('ctl add prints the CIDs of ipfs add --only-hash', () => {
  for (const flags of OPTIONS) {
    test(`options: ${flags.join(' ') || 'default'}`, async () => {
      // kubo's --trickle is ctl's --layout=trickle; the rest are the same flags
      const ctlFlags = flags.map((f) => (f === '--trickle' ? '--layout=trickle' : f))
      const cases: [string, string[]][] = [
        ['empty', []],
        ['one', []],
        ['mib1', []],
        ['mib20', []],
        ['tree', ['-r']],
        ['tree', ['-r', '-H']]
      ]
      for (const [input, extra] of cases) {
        const p = join(dir, input)
        const want = (await kubo.ipfsOk(['add', '--only-hash', '-Q', ...extra, ...flags, p])).trim()
        const r = await peer.ctl(['add', '-Q', ...extra, ...ctlFlags, p], { timeoutMs: 120_000 })
        expect(`${input} ${extra.join(' ')}: ${r.stdout.trim()} ${r.stderr}`).toBe(`${input} ${extra.join(' ')}: ${want} `)
        expect(r.code).toBe(0)
      }
    }, 180_000)
  }
})

describe('ctl add output and pinning', () => {
  test('text output: one "added <cid> <name>" line per file and folder, root last; -q prints CIDs', async () => {
    const p = join(dir, 'tree')
    const r = await peer.ctl(['add', '-r', p])
    expect(r.code).toBe(0)
    const lines = r.stdout.trim().split('\n')
    for (const l of lines) expect(l).toMatch(/^added \S+ tree(\/\S+)?$/)
    expect(lines.map((l) => l.split(' ')[2])).toEqual(['tree/a.txt', 'tree/sub/b', 'tree/sub/e', 'tree/emptydir', 'tree/sub', 'tree'])
    const root = (await kubo.ipfsOk(['add', '--only-hash', '-Q', '-r', p])).trim()
    expect(lines.at(-1)).toBe(`added ${root} tree`)
    const q = await peer.ctl(['add', '-r', '-q', p])
    expect(q.stdout.trim().split('\n')).toEqual(lines.map((l) => l.split(' ')[1] ?? ''))
    const j = await peer.ctl(['--enc', 'json', 'add', '--no-stream', '-Q', p, '-r'])
    const arr = JSON.parse(j.stdout) as { cid: string; name: string }[]
    expect(arr).toHaveLength(1)
    expect(arr[0]?.cid).toBe(root)
  })

  test('the pin reaches pinned in kubo (--wait), with the name and metadata given', async () => {
    const p = join(dir, 'mib20')
    const r = await peer.ctl(['add', '-Q', '--wait', '-n', 'twenty', '--metadata', 'k=v', p], { timeoutMs: 120_000 })
    expect(r.code).toBe(0)
    const cid = r.stdout.trim()
    expect(await statusOf(cid)).toBe('pinned')
    expect((await kuboPins()).has(cid)).toBe(true)
    const pin = await peer.ctl(['--enc', 'json', 'pin', 'ls', cid])
    expect(pin.stdout).toContain('"name": "twenty"')
    expect(pin.stdout).toContain('"k": "v"')
  }, 180_000)

  test('a URL is fetched and added under its last path segment', async () => {
    const content = randomBytes(700 * 1024)
    const cid = (await kubo.ipfsOk(['add', '-Q', '--pin=false', '--raw-leaves'], { input: content })).trim()
    const url = `${kubo.gatewayUrl}/ipfs/${cid}?filename=ignored`
    const want = (await kubo.ipfsOk(['add', '--only-hash', '-Q'], { input: content })).trim()
    const r = await peer.ctl(['add', url])
    expect(r.code).toBe(0)
    expect(r.stdout.trim()).toBe(`added ${want} ${cid}`)
  })

  test('--no-pin adds the blocks without pinning', async () => {
    const p = join(dir, 'nopin')
    await writeFile(p, randomBytes(1000))
    const r = await peer.ctl(['add', '-Q', '--no-pin', p])
    expect(r.code).toBe(0)
    const cid = r.stdout.trim()
    expect(await clusterPins()).not.toContain(cid)
    const stat = await kubo.ipfs(['block', 'stat', '--offline', cid])
    expect(stat.code).toBe(0)
  })

  test('a CAR exported by kubo imports and pins (--format car)', async () => {
    const src = join(dir, 'carsrc')
    await mkdir(join(src, 'inner'), { recursive: true })
    await writeFile(join(src, 'x'), randomBytes(600 * 1024))
    await writeFile(join(src, 'inner', 'y'), 'yy')
    const root = (await kubo.ipfsOk(['add', '-Q', '-r', '--pin=false', '--cid-version=1', src])).trim()
    const carPath = join(dir, 'export.car')
    const exp = Bun.spawn([await kuboBinary(), 'dag', 'export', root], {
      env: { ...process.env, IPFS_PATH: kubo.repo },
      stdout: Bun.file(carPath),
      stderr: 'pipe'
    })
    expect(await exp.exited).toBe(0)
    // the blocks leave kubo; the CAR brings them back
    await kubo.ipfsOk(['repo', 'gc', '--quiet'])
    expect((await kubo.ipfs(['block', 'stat', '--offline', root])).code).not.toBe(0)
    const r = await peer.ctl(['add', '--format', 'car', carPath], { timeoutMs: 60_000 })
    expect(r.code).toBe(0)
    expect(r.stdout.trim()).toBe(`added ${root} export.car`)
    await waitFor(async () => (await statusOf(root)) === 'pinned', 'the CAR root to be pinned', 30_000)
    expect((await kubo.ipfs(['dag', 'stat', '--progress=false', '--offline', root])).code).toBe(0)
    expect((await kuboPins()).has(root)).toBe(true)
  }, 60_000)

  test('errors leave no pin: a bad CAR, then kubo down', async () => {
    const before = await clusterPins()
    const bad = join(dir, 'bad.car')
    await writeFile(bad, 'not a CAR at all')
    const r1 = await peer.ctl(['add', '--format', 'car', bad])
    expect(r1.code).not.toBe(0)
    expect(r1.stdout).toContain('CAR')
    expect(await clusterPins()).toEqual(before)

    const f = join(dir, 'unlucky')
    await writeFile(f, randomBytes(2 * 1024 * 1024))
    const cid = (await kubo.ipfsOk(['add', '--only-hash', '-Q', f])).trim()
    await kubo.stop()
    try {
      const r2 = await peer.ctl(['add', '-Q', f], { timeoutMs: 60_000 })
      expect(r2.code).not.toBe(0)
      expect(r2.stdout).toContain('failed to put block on all destinations')
      expect(await clusterPins()).not.toContain(cid)
    } finally {
      await kubo.start()
    }
    expect(await clusterPins()).toEqual(before)
  }, 90_000)

  test('refusals: a folder without -r, --shard-like options, nocopy', async () => {
    const r1 = await peer.ctl(['add', join(dir, 'tree')])
    expect(r1.code).toBe(1)
    expect(r1.stderr).toContain('is a directory, but recursive option is not set')
    const r2 = await peer.ctl(['add', '--nocopy', join(dir, 'one')])
    expect(r2.code).toBe(1)
    const r3 = await peer.ctl(['add', '-w', '--format', 'car', join(dir, 'one')])
    expect(r3.code).toBe(1)
    expect(r3.stderr).toContain('wrap-with-directory is not supported')
  })
})

describe('client going away', () => {
  test('killing ctl mid-upload leaves no pin and the peer keeps adding', async () => {
    const f = join(dir, 'gone')
    await writeRandomFile(f, 300 * 1024 * 1024)
    try {
      const cid = (await kubo.ipfsOk(['add', '--only-hash', '-Q', f])).trim()
      const logsBefore = peer.logs.length
      const r = await peer.ctl(['add', '-Q', f], { timeoutMs: 500 }) // SIGKILLed by the harness
      expect(r.code).not.toBe(0)
      await waitFor(
        async () => /add aborted|error adding to cluster/.test(peer.logs.slice(logsBefore)),
        'the daemon to abort the add',
        30_000,
        100
      )
      expect(await clusterPins()).not.toContain(cid)
      expect(peer.logs.slice(logsBefore)).not.toMatch(/unhandled/i)
      const again = await peer.ctl(['add', '-Q', join(dir, 'one')])
      expect(again.code).toBe(0)
      expect(again.stdout.trim()).toBe('QmfDmsHTywy6L9Ne5RXsj5YumDedfBLMvCvmaxjBoe6w4d')
    } finally {
      await rm(f, { force: true })
    }
  }, 120_000)
})

describe('memory', () => {
  test('adding 1 GiB keeps the daemon RSS growth under 150 MB', async () => {
    const big = join(dir, 'gib')
    await writeRandomFile(big, 1024 * 1024 * 1024)
    try {
      const pid = peer.proc?.pid as number
      // warm: the code paths of an add (a multi-chunk file and a folder) have run
      await peer.ctl(['add', '-Q', join(dir, 'mib1')])
      // reset the peak RSS counter (VmHWM) to the current RSS
      await writeFile(`/proc/${pid}/clear_refs`, '5')
      const before = status(pid, 'VmRSS')
      const r = await peer.ctl(['add', '-Q', '--no-pin', big], { timeoutMs: 600_000 })
      expect(r.code).toBe(0)
      const peak = status(pid, 'VmHWM')
      console.log(`1 GiB add: daemon RSS ${before.toFixed(0)} MB before, peak ${peak.toFixed(0)} MB (growth ${(peak - before).toFixed(0)} MB)`)
      expect(peak - before).toBeLessThan(150)
    } finally {
      await rm(big, { force: true })
    }
  }, 600_000)
})
