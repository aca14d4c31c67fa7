/**
 * e2e, bundled IPFS: three cluster peers (compiled binary, run from an
 * empty folder without node_modules), each with its embedded IPFS node
 * (`service init --ipfs bundled`) and NO kubo anywhere, on loopback. The
 * full-disk case adds a peer whose blocks folder is a small tmpfs mounted
 * by the test (needs root).
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'bun:test'
import { randomBytes } from 'node:crypto'
import { copyFile, mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { type ClusterPeer, clusterBinary, FAST_TIMINGS, initPeer, startKubo, stopAllKubos, waitFor } from '../../scripts/launcher/index.ts'
import { SqliteDatastore } from '../../src/datastore/sqlite.ts'
import { FsBlockstore } from '../../src/ipfsconn/bundled/blockstore.ts'
import { walkDag } from '../../src/ipfsconn/bundled/dag.ts'
import { mountTmpfs, type Tmpfs } from '../helpers/tmpfs.ts'

const SECRET = randomBytes(32).toString('hex')
const peers: ClusterPeer[] = []
const mounts: Tmpfs[] = []
let work: string
let oldCwd: string
/** IPFS_CLUSTER_BIN before this file set it: restored for the files that run after it in the same process */
let oldBin: string | undefined
let content: string
const files = new Map<string, Uint8Array<ArrayBuffer>>()

interface StatusJSON {
  cid: string
  peer_map: Record<string, { status: string; error: string; peername: string }>
}

async function idOf(p: ClusterPeer): Promise<{ id: string; addresses: string[] }> {
  const r = await p.ctl(['--enc', 'json', 'id'])
  if (r.code !== 0) throw new Error(`id failed: ${r.stderr}`)
  return JSON.parse(r.stdout) as { id: string; addresses: string[] }
}

async function statusOf(p: ClusterPeer, cid: string): Promise<StatusJSON | undefined> {
  const r = await p.ctl(['--enc', 'json', 'status', cid])
  if (r.code !== 0) return undefined
  return JSON.parse(r.stdout) as StatusJSON
}

/** Peer IDs where `cid` has status `want`. */
async function peersWith(cid: string, want: string): Promise<string[]> {
  const st = await statusOf(peers[0]!, cid)
  return Object.entries(st?.peer_map ?? {})
    .filter(([, v]) => v.status === want)
    .map(([k]) => k)
}

async function peerIdOf(p: ClusterPeer): Promise<string> {
  return (JSON.parse(await Bun.file(join(p.folder, 'identity.json')).text()) as { id: string }).id
}

async function gatewayOf(p: ClusterPeer): Promise<string> {
  const cfg = (await p.readConfig()) as { ipfs_connector: { bundled: { gateway_listen_multiaddress: string } } }
  const m = /\/ip4\/([^/]+)\/tcp\/(\d+)/.exec(cfg.ipfs_connector.bundled.gateway_listen_multiaddress)
  if (m === null) throw new Error('no gateway address')
  return `http://${m[1]}:${m[2]}`
}

async function blocksBytes(p: ClusterPeer): Promise<number> {
  const dir = join(p.folder, 'ipfs', 'blocks')
  let n = 0
  for (const shard of await readdir(dir)) {
    for (const f of await readdir(join(dir, shard))) if (f.endsWith('.data')) n += (await stat(join(dir, shard, f))).size
  }
  return n
}

/** Temporary (half-written) block files left in a blocks folder. */
async function tmpFiles(dir: string): Promise<string[]> {
  const out: string[] = []
  for (const shard of await readdir(dir)) {
    const st = await stat(join(dir, shard))
    if (!st.isDirectory()) {
      if (shard.endsWith('.tmp')) out.push(shard)
      continue
    }
    for (const f of await readdir(join(dir, shard))) if (f.endsWith('.tmp')) out.push(`${shard}/${f}`)
  }
  return out
}

/** Every block of the DAG under `root` is in the peer's blocks folder (read straight from disk). */
async function dagComplete(p: ClusterPeer, root: string): Promise<boolean> {
  const bs = new FsBlockstore(join(p.folder, 'ipfs', 'blocks'))
  try {
    await walkDag(CID.parse(root), async (c) => bs.getBytes(c), { maxDepth: -1, concurrency: 4 })
    return true
  } catch {
    return false
  }
}

/** The CIDs of the pin records of a (stopped) peer's bundled node, read from its datastore. */
async function pinRecords(p: ClusterPeer): Promise<string[]> {
  const ds = new SqliteDatastore({ path: join(p.folder, 'ipfs', 'datastore.sqlite') })
  await ds.open()
  try {
    const out: string[] = []
    for await (const { value } of ds.query({ prefix: '/cluster-pins/' })) out.push((JSON.parse(new TextDecoder().decode(value)) as { cid: string }).cid)
    return out
  } finally {
    await ds.close()
  }
}

async function restart(i: number): Promise<void> {
  const boot = i === 0 ? [] : ['--bootstrap', (await idOf(peers[0]!)).addresses.find((a) => a.startsWith('/ip4/127.0.0.1/'))!]
  await peers[i]!.start(boot)
}

beforeAll(async () => {
  // the binary runs from an empty folder: nothing from node_modules can be reached
  work = await mkdtemp(join(tmpdir(), 'bundled-e2e-'))
  await mkdir(join(work, 'bin'))
  await copyFile(clusterBinary(), join(work, 'bin', 'ipfs-cluster'))
  await Bun.$`chmod +x ${join(work, 'bin', 'ipfs-cluster')}`.quiet()
  oldBin = process.env.IPFS_CLUSTER_BIN
  process.env.IPFS_CLUSTER_BIN = join(work, 'bin', 'ipfs-cluster')
  oldCwd = process.cwd()
  process.chdir(join(work, 'bin'))
  content = join(work, 'content')
  await mkdir(join(content, 'sub'), { recursive: true })
  const list: [string, number][] = [
    ['a.bin', 3 * 1024 * 1024],
    ['b.txt', 1000],
    ['sub/c.bin', 700 * 1024]
  ]
  for (const [name, size] of list) {
    const b = new Uint8Array(randomBytes(size))
    files.set(name, b)
    await writeFile(join(content, name), b)
  }
  for (let i = 0; i < 3; i++) {
    const p = await initPeer({
      ipfsApi: '/ip4/127.0.0.1/tcp/1',
      initArgs: ['--ipfs', 'bundled'],
      env: {
        CLUSTER_SECRET: SECRET,
        CLUSTER_PEERNAME: `bundled${i}`,
        ...FAST_TIMINGS,
        CLUSTER_BUNDLED_LISTENMULTIADDRESS: '/ip4/127.0.0.1/tcp/0',
        CLUSTER_BUNDLED_CONNECTSWARMSDELAY: '1s',
        CLUSTER_BUNDLED_PINTIMEOUT: '10s'
      }
    })
    peers.push(p)
    const boot = i === 0 ? [] : ['--bootstrap', (await idOf(peers[0]!)).addresses.find((a) => a.startsWith('/ip4/127.0.0.1/'))!]
    await p.start(boot)
  }
  await waitFor(async () => {
    const r = await peers[0]!.ctl(['--enc', 'json', 'peers', 'ls'])
    return r.code === 0 && r.stdout.split('"peername"').length - 1 >= 3
  }, 'three peers in the peerset', 60_000)
}, 180_000)

afterAll(async () => {
  for (const p of peers) await p.kill().catch(() => {})
  for (const m of mounts) await m.unmount()
  for (const p of peers) await p.destroy().catch(() => {})
  await stopAllKubos()
  if (oldCwd !== undefined) process.chdir(oldCwd)
  if (oldBin === undefined) delete process.env.IPFS_CLUSTER_BIN
  else process.env.IPFS_CLUSTER_BIN = oldBin
  await rm(work, { recursive: true, force: true })
})

// a peer that died on its own explains the failures after it: say why, once
const reported = new Set<ClusterPeer>()
afterEach(() => {
  for (const p of peers) {
    const why = p.unexpectedExit()
    if (why === undefined || reported.has(p)) continue
    reported.add(p)
    console.error(why)
  }
})

describe('bundled cluster (no kubo)', () => {
  let root = ''
  let allocated: ClusterPeer[] = []

  test('ctl add of a folder with replication 2: PINNED on 2 peers, content read back through their gateways byte for byte', async () => {
    const r = await peers[0]!.ctl(['add', '-r', '-Q', '--replication-min', '2', '--replication-max', '2', content], { timeoutMs: 120_000 })
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    root = r.stdout.trim()
    const pinned = await waitFor(async () => {
      const ps = await peersWith(root, 'pinned')
      return ps.length === 2 && ps
    }, `${root} PINNED on 2 peers`, 120_000)
    const ids = await Promise.all(peers.map(peerIdOf))
    allocated = peers.filter((_, i) => pinned.includes(ids[i]!))
    expect(allocated.length).toBe(2)
    for (const p of allocated) {
      expect(await dagComplete(p, root)).toBe(true)
      const gw = await gatewayOf(p)
      for (const [name, bytes] of files) {
        const res = await fetch(`${gw}/ipfs/${root}/${name}`)
        expect(res.status).toBe(200)
        expect(new Uint8Array(await res.arrayBuffer())).toEqual(bytes)
      }
    }
  }, 300_000)

  test('kill -9 right after a pin: every block of every PINNED pin is still on disk', async () => {
    const extra = join(work, 'extra.bin')
    await writeFile(extra, randomBytes(2 * 1024 * 1024))
    const r = await peers[1]!.ctl(['add', '-Q', '--replication-min', '3', '--replication-max', '3', extra], { timeoutMs: 120_000 })
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' })
    const cid = r.stdout.trim()
    await waitFor(async () => (await peersWith(cid, 'pinned')).length === 3, `${cid} PINNED on 3 peers`, 120_000)
    const ids = await Promise.all(peers.map(peerIdOf))
    const pinnedRoot = await peersWith(root, 'pinned')
    for (const p of peers) await p.kill()
    for (const [i, p] of peers.entries()) {
      expect(await dagComplete(p, cid)).toBe(true)
      if (pinnedRoot.includes(ids[i]!)) expect(await dagComplete(p, root)).toBe(true)
    }
    for (let i = 0; i < peers.length; i++) await restart(i)
    await waitFor(async () => (await peersWith(cid, 'pinned')).length === 3, `${cid} PINNED on 3 peers after restart`, 120_000)
  }, 300_000)

  test('kill -9 during a pin: every pin the node had recorded has all its blocks on disk', async () => {
    const big = join(work, 'big.bin')
    await writeFile(big, randomBytes(40 * 1024 * 1024))
    // the blocks go to peer 0 only; peers 1 and 2 fetch them over bitswap
    const r = await peers[0]!.ctl(['add', '-Q', '--local', '--replication-min', '3', '--replication-max', '3', big], { timeoutMs: 120_000 })
    expect(r.code).toBe(0)
    const cid = r.stdout.trim()
    const victim = peers[1]!
    const victimId = await peerIdOf(victim)
    await waitFor(async () => {
      const st = (await statusOf(peers[0]!, cid))?.peer_map[victimId]?.status
      return st === 'pinning' || st === 'pinned'
    }, `${cid} pinning on peer 1`, 60_000, 50)
    await victim.kill()
    const records = await pinRecords(victim)
    expect(records.length).toBeGreaterThan(0)
    for (const rec of records) expect({ rec, complete: await dagComplete(victim, rec) }).toEqual({ rec, complete: true })
    await restart(1)
    await waitFor(async () => (await peersWith(cid, 'pinned')).length === 3, `${cid} PINNED on 3 peers after the restart`, 120_000)
    expect(await dagComplete(victim, cid)).toBe(true)
  }, 300_000)

  test('pin rm + ctl ipfs gc frees the space on the allocated peers', async () => {
    const before = await Promise.all(allocated.map(blocksBytes))
    const r = await peers[0]!.ctl(['pin', 'rm', root])
    expect(r.code).toBe(0)
    await waitFor(async () => (await statusOf(peers[0]!, root)) === undefined || (await peersWith(root, 'pinned')).length === 0, `${root} unpinned`, 60_000)
    const gc = await peers[0]!.ctl(['ipfs', 'gc'], { timeoutMs: 120_000 })
    expect(gc.code).toBe(0)
    const after = await Promise.all(allocated.map(blocksBytes))
    for (const [i, b] of before.entries()) expect(b - after[i]!).toBeGreaterThan(3 * 1024 * 1024)
    for (const p of allocated) expect((await fetch(`${await gatewayOf(p)}/ipfs/${root}/b.txt`)).status).toBe(404)
  }, 300_000)

  test('a CID nobody has ends as pin_error with a message', async () => {
    const missing = CID.createV1(0x55, await sha256.digest(randomBytes(64))).toString()
    const r = await peers[0]!.ctl(['pin', 'add', '--replication-min', '1', '--replication-max', '1', missing])
    expect(r.code).toBe(0)
    const errored = await waitFor(async () => {
      const st = await statusOf(peers[0]!, missing)
      const e = Object.values(st?.peer_map ?? {}).find((v) => v.status === 'pin_error')
      return e
    }, `${missing} pin_error`, 120_000)
    expect(errored.error).toContain('pin timeout')
  }, 300_000)

  test('mixed: a kubo peer joins; bundled peers pin what its kubo holds and it pins what a bundled peer holds', async () => {
    const kubo = await startKubo()
    const kp = await initPeer({
      ipfsApi: kubo.apiMultiaddr,
      env: { CLUSTER_SECRET: SECRET, CLUSTER_PEERNAME: 'kubo-peer', ...FAST_TIMINGS }
    })
    peers.push(kp)
    await kp.start(['--bootstrap', (await idOf(peers[0]!)).addresses.find((a) => a.startsWith('/ip4/127.0.0.1/'))!])
    await waitFor(async () => {
      const r = await peers[0]!.ctl(['--enc', 'json', 'peers', 'ls'])
      return r.code === 0 && r.stdout.split('"peername"').length - 1 >= 4
    }, 'four peers in the peerset', 60_000)
    // kubo -> bundled: data only the kubo has, pinned everywhere
    const fromKubo = await kubo.ipfsOk(['add', '-Q', '--pin=false'], { input: randomBytes(1024 * 1024).toString('base64') })
    expect((await peers[0]!.ctl(['pin', 'add', '--replication-min', '4', '--replication-max', '4', fromKubo])).code).toBe(0)
    await waitFor(async () => (await peersWith(fromKubo, 'pinned')).length === 4, `${fromKubo} PINNED on 4 peers`, 120_000)
    for (const p of peers.slice(0, 3)) expect(await dagComplete(p, fromKubo)).toBe(true)
    // bundled -> kubo: blocks written to one bundled peer only (--local), then pinned everywhere
    const local = join(work, 'local.bin')
    await writeFile(local, randomBytes(1024 * 1024))
    const r = await peers[2]!.ctl(['add', '-Q', '--local', '--replication-min', '4', '--replication-max', '4', local], { timeoutMs: 120_000 })
    expect(r.code).toBe(0)
    const fromBundled = r.stdout.trim()
    await waitFor(async () => (await peersWith(fromBundled, 'pinned')).length === 4, `${fromBundled} PINNED on 4 peers`, 120_000)
    const ls = await kubo.ipfs(['pin', 'ls', '--type=recursive', fromBundled])
    expect(ls.stdout).toContain(fromBundled)
  }, 300_000)

  test('a really full disk (blocks folder on a 6 MiB tmpfs): add and pin fail with "disk is full" (507 for add), no half-written block, every recorded pin complete, writes work again once space is freed', async () => {
    const p = await initPeer({
      ipfsApi: '/ip4/127.0.0.1/tcp/1',
      initArgs: ['--ipfs', 'bundled'],
      env: {
        CLUSTER_SECRET: SECRET,
        CLUSTER_PEERNAME: 'bundled-full',
        ...FAST_TIMINGS,
        CLUSTER_BUNDLED_LISTENMULTIADDRESS: '/ip4/127.0.0.1/tcp/0',
        CLUSTER_BUNDLED_CONNECTSWARMSDELAY: '1s',
        CLUSTER_BUNDLED_PINTIMEOUT: '10s'
      }
    })
    peers.push(p)
    const blocksDir = join(p.folder, 'ipfs', 'blocks')
    mounts.push(await mountTmpfs(blocksDir, 6 * 1024 * 1024))
    const alive = peers.filter((q) => q.proc?.exitCode === null).length
    await p.start(['--bootstrap', (await idOf(peers[0]!)).addresses.find((a) => a.startsWith('/ip4/127.0.0.1/'))!])
    await waitFor(async () => {
      const r = await peers[0]!.ctl(['--enc', 'json', 'peers', 'ls'])
      return r.code === 0 && r.stdout.split('"peername"').length - 1 >= alive
    }, `${alive} peers in the peerset`, 60_000)
    const pid = await peerIdOf(p)

    // ctl add bigger than the space, blocks written through this peer only
    const big = join(work, 'full-big.bin')
    await writeFile(big, randomBytes(10 * 1024 * 1024))
    const add = await p.ctl(['add', '-Q', '--local', '--replication-min', '1', '--replication-max', '1', big], { timeoutMs: 120_000 })
    expect(add.code).not.toBe(0)
    expect(add.stderr + add.stdout).toContain('disk is full')
    expect(await tmpFiles(blocksDir)).toEqual([])

    // the same through the REST API without streaming: 507 with the message
    const form = new FormData()
    form.append('file', new Blob([randomBytes(10 * 1024 * 1024)]), 'big2.bin')
    const res = await fetch(`${p.apiUrl}/add?local=true&stream-channels=false&replication-min=1&replication-max=1`, { method: 'POST', body: form })
    const body = (await res.json()) as { code: number; message: string }
    expect({ status: res.status, code: body.code }).toEqual({ status: 507, code: 507 })
    expect(body.message).toContain('disk is full')
    expect(await tmpFiles(blocksDir)).toEqual([])

    // a pin bigger than the space: the blocks are on peer 0, the pin is allocated to this peer
    const r = await peers[0]!.ctl(['add', '-Q', '--local', '--allocations', pid, '--replication-min', '1', '--replication-max', '1', big], { timeoutMs: 120_000 })
    expect(`${r.code} ${r.stderr}`).toStartWith('0 ')
    const bigCid = r.stdout.trim()
    const failed = await waitFor(async () => {
      const e = (await statusOf(peers[0]!, bigCid))?.peer_map[pid]
      return e?.status === 'pin_error' && e
    }, `${bigCid} pin_error on the full peer`, 120_000)
    expect(failed.error).toContain('disk is full')
    expect(await tmpFiles(blocksDir)).toEqual([])
    expect(p.proc?.exitCode).toBeNull()

    // space freed: unpin what cannot fit, GC the partial blocks; then an add and a pin succeed
    expect((await peers[0]!.ctl(['pin', 'rm', bigCid])).code).toBe(0)
    await waitFor(async () => (await statusOf(p, bigCid))?.peer_map[pid]?.status !== 'pin_error', `${bigCid} unpinned`, 60_000)
    const gc = await p.ctl(['ipfs', 'gc', '--local'], { timeoutMs: 120_000 })
    expect(`${gc.code} ${gc.stderr}`).toStartWith('0 ')
    const small = join(work, 'full-small.bin')
    await writeFile(small, randomBytes(1024 * 1024))
    const ok = await p.ctl(['add', '-Q', '--local', '--allocations', pid, '--replication-min', '1', '--replication-max', '1', small], { timeoutMs: 120_000 })
    expect(`${ok.code} ${ok.stderr}`).toStartWith('0 ')
    const smallCid = ok.stdout.trim()
    await waitFor(async () => (await statusOf(p, smallCid))?.peer_map[pid]?.status === 'pinned', `${smallCid} PINNED on the full peer`, 60_000)
    const other = join(work, 'full-other.bin')
    await writeFile(other, randomBytes(1024 * 1024))
    const o = await peers[0]!.ctl(['add', '-Q', '--local', '--allocations', pid, '--replication-min', '1', '--replication-max', '1', other], { timeoutMs: 120_000 })
    expect(`${o.code} ${o.stderr}`).toStartWith('0 ')
    const otherCid = o.stdout.trim()
    await waitFor(async () => (await statusOf(p, otherCid))?.peer_map[pid]?.status === 'pinned', `${otherCid} PINNED on the full peer (fetched)`, 60_000)

    // consistency on disk: every pin the node recorded has all its blocks, nothing half-written
    await p.kill()
    const records = await pinRecords(p)
    expect(records.sort()).toEqual([smallCid, otherCid].sort())
    for (const rec of records) expect({ rec, complete: await dagComplete(p, rec) }).toEqual({ rec, complete: true })
    expect(await dagComplete(p, bigCid)).toBe(false)
    expect(await tmpFiles(blocksDir)).toEqual([])
    console.log(`full disk (issue 12): ctl add: ${(add.stderr + add.stdout).trim().slice(0, 300)}\n  POST /add: ${res.status} ${body.message.slice(0, 300)}\n  pin: ${failed.error.slice(0, 300)}`)
  }, 300_000)
})
