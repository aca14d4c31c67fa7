/**
 * e2e, crashes and a full disk on one peer: the compiled binary against a
 * real kubo (issue 11).
 *
 * - Full disk: the peer's datastore folder (`<config>/sqlite`) is a small
 *   tmpfs mounted by the test (root). Once it is full, pins fail with 507 and
 *   a message saying the disk is full, reads keep working, and pins succeed
 *   again once space is freed; the database passes `PRAGMA integrity_check`
 *   and a restart shows every acknowledged pin.
 * - `kill -9` of the daemon during `ctl add`: after a restart every
 *   acknowledged write is there and nothing half-written is.
 * - `kill -9` of `state import` (sqlite and leveldb) at several points: the
 *   store then holds the old pinset or the whole new one, never a mix, and
 *   the daemon starts.
 * - `service state crdt info|dot|mark-dirty|mark-clean`, and the repair a
 *   dirty store gets at the next start.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdtemp, readdir, readFile, readlink, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { type ClusterPeer, clusterBinary, initPeer, type Kubo, runBinary, startKubo, stopAllKubos, waitFor } from '../../scripts/launcher/index.ts'
import { openSqlite } from '../../src/runtime/sqlite.ts'
import { mountTmpfs, type Tmpfs } from '../helpers/tmpfs.ts'

let kubo: Kubo
const peers: ClusterPeer[] = []
const mounts: Tmpfs[] = []
const figures: string[] = []

beforeAll(async () => {
  kubo = await startKubo()
})

afterAll(async () => {
  for (const p of peers) await p.kill()
  for (const m of mounts) await m.unmount()
  for (const p of peers) await p.destroy()
  await stopAllKubos()
  if (figures.length > 0) console.log(`figures (issue 11, faults):\n  ${figures.join('\n  ')}`)
})

async function newPeer(): Promise<ClusterPeer> {
  const p = await initPeer({ ipfsApi: kubo.apiMultiaddr })
  peers.push(p)
  return p
}

async function addToKubo(size = 1024): Promise<string> {
  return (await kubo.ipfsOk(['add', '-Q', '--pin=false'], { input: randomBytes(size) })).trim()
}

async function pinLs(p: ClusterPeer): Promise<Set<string>> {
  const r = await p.ctl(['--enc', 'json', 'pin', 'ls'], { timeoutMs: 60_000 })
  if (r.code !== 0) throw new Error(`pin ls failed (${r.code}): ${r.stderr}${r.stdout}`)
  return new Set([...r.stdout.matchAll(/"cid":\s*"([^"]+)"/g)].map((m) => m[1]!))
}

function expectAlive(p: ClusterPeer): void {
  if (p.proc?.exitCode !== null) throw new Error(`the daemon exited with ${p.proc?.exitCode}:\n${p.logs.slice(-6000)}`)
  expect(p.logs).not.toMatch(/uncaught|unhandled/i)
}

async function sqliteIntegrity(folder: string): Promise<string> {
  const db = await openSqlite(join(folder, 'sqlite', 'datastore.sqlite'))
  try {
    const row = db.prepare('PRAGMA integrity_check').get() ?? {}
    return String(Object.values(row)[0])
  } finally {
    db.close()
  }
}

async function objectsInKubo(): Promise<number> {
  const out = await kubo.ipfsOk(['repo', 'stat', '--enc', 'json'])
  return (JSON.parse(out) as { NumObjects: number }).NumObjects
}

describe('full disk under the datastore', () => {
  test('pins fail with 507 "disk is full", reads keep working, pins succeed once space is freed, nothing is corrupted', async () => {
    const p = await newPeer()
    const fs = await mountTmpfs(join(p.folder, 'sqlite'), 8 * 1024 * 1024)
    mounts.push(fs)
    await p.start()
    const acked = new Set<string>()
    for (let i = 0; i < 5; i++) {
      const cid = await addToKubo()
      const r = await p.ctl(['pin', 'add', '--no-status', cid])
      expect(`${r.code} ${r.stderr}`).toStartWith('0 ')
      acked.add(cid)
    }
    const filled = await fs.fill()
    // a few pins may still fit in pages SQLite already has: bounded attempts until one fails
    let failure: { status: number; body: { code: number; message: string } } | undefined
    for (let i = 0; i < 500 && failure === undefined; i++) {
      const cid = CID.createV1(0x55, await sha256.digest(randomBytes(32))).toString()
      const res = await fetch(`${p.apiUrl}/pins/${cid}?name=${'n'.repeat(2000)}`, { method: 'POST' })
      const body = (await res.json()) as { code: number; message: string }
      if (res.status === 200) acked.add(cid)
      else failure = { status: res.status, body }
    }
    expect(failure).toBeDefined()
    expect(failure!.status).toBe(507)
    expect(failure!.body.code).toBe(507)
    expect(failure!.body.message).toContain('disk is full')
    figures.push(`full disk: filler of ${filled} bytes; ${acked.size - 5} more pins fitted, then POST /pins answered ${failure!.status}: ${failure!.body.message}`)
    // ctl says why too
    const viaCtl = await p.ctl(['pin', 'add', '--no-status', await addToKubo()])
    expect(viaCtl.code).not.toBe(0)
    expect(viaCtl.stderr + viaCtl.stdout).toContain('disk is full')
    // reads keep working
    expect(await pinLs(p)).toEqual(acked)
    const first = [...acked][0]!
    const st = await p.ctl(['--enc', 'json', 'status', first])
    expect(st.code).toBe(0)
    expect(st.stdout).toContain('"pinned"')
    expectAlive(p)
    // space freed: writes work again
    await fs.free()
    const after = await addToKubo()
    const ok = await p.ctl(['pin', 'add', '--no-status', after])
    expect(`${ok.code} ${ok.stderr}`).toStartWith('0 ')
    acked.add(after)
    expectAlive(p)
    expect(await p.stop()).toBe(0)
    expect(await sqliteIntegrity(p.folder)).toBe('ok')
    await p.start()
    expect(await pinLs(p)).toEqual(acked)
    await p.stop()
  }, 240_000)
})

describe('kill -9 mid-operation', () => {
  test('kill -9 of the daemon during ctl add: after a restart every acknowledged pin is there, the interrupted add is not', async () => {
    const p = await newPeer()
    await p.start()
    const dir = await mkdtemp(join(tmpdir(), 'faults-add-'))
    const acked = new Set<string>()
    for (let i = 0; i < 3; i++) {
      const f = join(dir, `small-${i}`)
      await writeFile(f, randomBytes(64 * 1024))
      const r = await p.ctl(['add', '-Q', f])
      expect(`${r.code} ${r.stderr}`).toStartWith('0 ')
      acked.add(r.stdout.trim())
    }
    const big = join(dir, 'big')
    await writeFile(big, randomBytes(96 * 1024 * 1024))
    const objectsBefore = await objectsInKubo()
    const adding = p.ctl(['add', '-Q', big], { timeoutMs: 180_000 })
    // kill once kubo has received part of the DAG
    let done = false
    void adding.then(() => {
      done = true
    })
    await waitFor(async () => done || (await objectsInKubo()) > objectsBefore + 20, 'kubo to receive blocks of the add', 120_000, 50)
    await p.kill()
    const r = await adding
    const midway = r.code !== 0
    figures.push(`kill -9 during ctl add: ${midway ? `the add failed with exit code ${r.code}: ${(r.stderr + r.stdout).trim().slice(-200)}` : 'the add completed before the kill'}`)
    if (!midway) acked.add(r.stdout.trim())
    await p.start()
    const pins = await pinLs(p)
    // every acknowledged add, and nothing else (no half-added root)
    expect(pins).toEqual(acked)
    for (const cid of acked) {
      await waitFor(
        async () => {
          const s = await p.ctl(['--enc', 'json', 'status', cid])
          return s.code === 0 && s.stdout.includes('"pinned"')
        },
        `${cid} to be pinned`,
        60_000,
        250
      )
    }
    expectAlive(p)
    await p.stop()
  }, 300_000)

  /** The read offset of `proc`'s open file `path` (/proc/<pid>/fdinfo), or undefined when not open. */
  async function readOffset(pid: number, path: string): Promise<number | undefined> {
    let fds: string[]
    try {
      fds = await readdir(`/proc/${pid}/fd`)
    } catch {
      return undefined
    }
    for (const fd of fds) {
      const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '')
      if (target !== path) continue
      const info = await readFile(`/proc/${pid}/fdinfo/${fd}`, 'utf8').catch(() => '')
      const m = /^pos:\s*(\d+)/m.exec(info)
      if (m !== null) return Number(m[1])
    }
    return undefined
  }

  async function exportPins(p: ClusterPeer): Promise<Array<{ cid: string; name: string; allocations: string[] }>> {
    const r = await runBinary(['service', '-c', p.folder, 'state', 'export'], { env: p.env, timeoutMs: 120_000 })
    expect(`${r.code} ${r.stderr.slice(-2000)}`).toStartWith('0 ')
    const out = r.stdout.trim()
    return out === '' ? [] : out.split('\n').map((l) => JSON.parse(l) as { cid: string; name: string; allocations: string[] })
  }

  for (const backend of ['sqlite', 'leveldb'] as const) {
    test(`kill -9 during state import (${backend}): the store holds the old pinset or the whole new one, never a mix; the daemon starts either way`, async () => {
      const p = await initPeer({ ipfsApi: kubo.apiMultiaddr, initArgs: ['--datastore', backend] })
      peers.push(p)
      const other = '12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA'
      // the old pinset: three pins, the first also a template line from a real export
      await p.start()
      const old = new Map<string, string>()
      for (let i = 0; i < 3; i++) {
        const cid = await addToKubo()
        expect((await p.ctl(['pin', 'add', '--no-status', '--name', `old-${i}`, cid])).code).toBe(0)
        old.set(cid, `old-${i}`)
      }
      expect(await p.stop()).toBe(0)
      const template = (await exportPins(p))[0] as unknown as Record<string, unknown>
      const N = 40_000
      const lines: string[] = []
      const names = new Map<string, string>()
      for (let i = 0; i < N; i++) {
        const cid = CID.createV1(0x55, await sha256.digest(new TextEncoder().encode(`import-${backend}-${i}`))).toString()
        names.set(cid, `imported-${i}`)
        lines.push(JSON.stringify({ ...template, cid, name: `imported-${i}`, allocations: [other] }))
      }
      const file = join(p.folder, 'import.ndjson')
      await writeFile(file, `${lines.join('\n')}\n`)
      const size = (await stat(file)).size
      /** 'old' or 'new', after checking that the pinset is exactly one of them */
      const whichPinset = async (): Promise<'old' | 'new'> => {
        const got = await exportPins(p)
        const want = got.length > 0 && names.has(got[0]!.cid) ? names : old
        expect(got.length).toBe(want.size)
        for (const pin of got) {
          expect(want.get(pin.cid)).toBe(pin.name)
          if (want === names) expect(pin.allocations).toEqual([other])
        }
        return want === names ? 'new' : 'old'
      }
      // kill -9 at several points of the import: while the file is read (the
      // pins being written), near its end, and once it has been read whole and
      // closed (the last delta and the commit); each time from the old pinset
      const seen: string[] = []
      for (const fraction of [0.2, 0.6, 0.95, 1]) {
        const proc = Bun.spawn([clusterBinary(), 'service', '-c', p.folder, 'state', 'import', '-f', file], {
          env: { ...process.env, ...p.env },
          stdin: 'ignore',
          stdout: 'pipe',
          stderr: 'pipe'
        })
        // fraction 1: the file read whole and closed, the process still committing
        let opened = false
        await waitFor(
          async () => {
            if (proc.exitCode !== null) return true
            const at = await readOffset(proc.pid, file)
            if (at !== undefined) opened = true
            return fraction < 1 ? (at ?? 0) >= fraction * size : opened && at === undefined
          },
          `the import to read ${fraction * 100}% of its file`,
          120_000,
          5
        )
        proc.kill('SIGKILL')
        await proc.exited
        const stderr = await new Response(proc.stderr).text()
        const finished = stderr.includes(`imported ${N} pins`)
        if (backend === 'sqlite') expect(await sqliteIntegrity(p.folder)).toBe('ok')
        const which = await whichPinset()
        // a finished import holds the new pinset; a killed one may have committed or not, but never half
        if (finished) expect(which).toBe('new')
        seen.push(`${fraction * 100}% read: ${finished ? 'had finished' : 'killed'}, ${which} pinset`)
        if (which === 'new') break
      }
      figures.push(`kill -9 during state import of ${N} pins (${backend}): ${seen.join('; ')}`)
      // no marker is left: the daemon starts, whichever pinset the store holds
      expect(existsSync(join(p.folder, 'state-import.pending'))).toBe(false)
      await p.start()
      const served = await pinLs(p)
      expect(served.size === old.size || served.size === N).toBe(true)
      expect(await p.stop()).toBe(0)
      const again = await runBinary(['service', '-c', p.folder, 'state', 'import', '-f', file], { env: p.env, timeoutMs: 300_000 })
      expect(`${again.code} ${again.stderr}`).toContain(`imported ${N} pins`)
      expect(await whichPinset()).toBe('new')
    }, 300_000)
  }
})

describe('service state crdt', () => {
  test('info, dot, mark-dirty, mark-clean; a dirty store is repaired at the next start, which says so', async () => {
    const p = await newPeer()
    await p.start()
    for (let i = 0; i < 3; i++) expect((await p.ctl(['pin', 'add', '--no-status', await addToKubo()])).code).toBe(0)
    expect(await p.stop()).toBe(0)
    const svc = (args: string[]) => runBinary(['service', '-c', p.folder, 'state', 'crdt', ...args], { env: p.env })
    const info = await svc(['info'])
    expect(info.code).toBe(0)
    expect(info.stdout).toMatch(/^Number of heads: 1\. Current max-height: 3\. Dirty: false\nHeads: \[b\S+\]$/)
    const dotFile = join(p.folder, 'dag.dot')
    const dot = await svc(['dot', '-f', dotFile])
    expect(dot.code).toBe(0)
    const text = await readFile(dotFile, 'utf8')
    expect(text.startsWith('digraph CRDTDAG {\nsubgraph heads {\n')).toBe(true)
    expect(text.match(/\[label="/g)?.length).toBe(3)
    const dirty = await svc(['mark-dirty'])
    expect(dirty.stdout).toBe("Datastore marked 'dirty'\n")
    expect((await svc(['info'])).stdout).toContain('Dirty: true')
    await p.start()
    await waitFor(() => p.logs.includes('DAG repair finished'), 'the repair at start', 60_000, 100)
    expect(p.logs).toContain('store is marked dirty. Starting DAG repair operation')
    expect(await p.stop()).toBe(0)
    expect((await svc(['info'])).stdout).toContain('Dirty: false')
    await svc(['mark-dirty'])
    const clean = await svc(['mark-clean'])
    expect(clean.stdout).toBe("Datastore marked 'clean'\n")
    expect((await svc(['info'])).stdout).toContain('Dirty: false')
    await p.start()
    await waitFor(() => p.logs.includes('store is marked clean. No need to repair'), 'the clean log', 60_000, 100)
    await p.stop()
  }, 180_000)
})
