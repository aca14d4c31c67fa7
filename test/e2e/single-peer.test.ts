/**
 * e2e, one peer: the compiled binary against a real kubo daemon, driven as a
 * user would (service init, service daemon, ctl ...).
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type ClusterPeer, initPeer, type Kubo, runBinary, startKubo, stopAllKubos, waitFor } from '../../scripts/launcher/index.ts'

let kubo: Kubo
let peer: ClusterPeer
const peers: ClusterPeer[] = []

async function kuboPins(k: Kubo): Promise<Set<string>> {
  const out = await k.ipfsOk(['pin', 'ls', '--type=recursive', '--quiet'])
  return new Set(out.split('\n').map((s) => s.trim()).filter(Boolean))
}

async function addToKubo(k: Kubo, content: string): Promise<string> {
  return (await k.ipfsOk(['add', '-Q', '--pin=false'], { input: content })).trim()
}

async function statusOf(p: ClusterPeer, cid: string): Promise<string> {
  const r = await p.ctl(['--enc', 'json', 'status', cid])
  if (r.code !== 0) throw new Error(`status failed: ${r.stderr}${r.stdout}`)
  const g = JSON.parse(r.stdout) as { peer_map: Record<string, { status: string }> }
  return Object.values(g.peer_map)[0]?.status ?? ''
}

beforeAll(async () => {
  kubo = await startKubo()
  peer = await initPeer({ ipfsApi: kubo.apiMultiaddr })
  peers.push(peer)
  await peer.start()
})

afterAll(async () => {
  for (const p of peers) await p.destroy()
  await stopAllKubos()
})

describe('service init', () => {
  test('writes service.json, identity.json and an empty peerstore in upstream format', async () => {
    const cfg = await peer.readConfig()
    for (const k of ['cluster', 'consensus', 'api', 'ipfs_connector', 'pin_tracker', 'monitor', 'allocator', 'informer', 'observations', 'datastore']) {
      expect(cfg).toHaveProperty(k)
    }
    const cluster = cfg.cluster as Record<string, unknown>
    expect(cluster.secret).toMatch(/^[0-9a-f]{64}$/)
    expect(cfg.consensus).toHaveProperty('crdt')
    expect(cfg.consensus).not.toHaveProperty('raft')
    const id = JSON.parse(await readFile(join(peer.folder, 'identity.json'), 'utf8')) as { id: string; private_key: string }
    expect(id.id).toMatch(/^12D3Koo/)
    expect(Buffer.from(id.private_key, 'base64').length).toBeGreaterThan(60)
    expect(existsSync(join(peer.folder, 'peerstore'))).toBe(true)
    expect((await readFile(join(peer.folder, 'peerstore'), 'utf8')).trim()).toBe('')
  })

  test('refuses to overwrite without --force; --consensus raft writes the raft section', async () => {
    const again = await runBinary(['service', '-c', peer.folder, 'init'])
    expect(again.code).not.toBe(0)
    const folder = await mkdtemp(join(tmpdir(), 'cluster-raft-'))
    const raft = await runBinary(['service', '-c', folder, 'init', '--consensus', 'raft'])
    expect(raft.code).toBe(0)
    const cfg = JSON.parse(await readFile(join(folder, 'service.json'), 'utf8')) as { consensus: Record<string, unknown> }
    expect(Object.keys(cfg.consensus)).toEqual(['raft'])
  })

  test('a second daemon on the same folder fails with a clear lock error', async () => {
    const r = await runBinary(['service', '-c', peer.folder, 'daemon'], { env: peer.env, timeoutMs: 30_000 })
    expect(r.code).not.toBe(0)
    expect(r.stderr + r.stdout).toMatch(/lock/i)
  })
})

describe('pinning through kubo', () => {
  test('ctl id shows the peer and its kubo', async () => {
    const r = await peer.ctl(['--enc', 'json', 'id'])
    expect(r.code).toBe(0)
    const id = JSON.parse(r.stdout) as { id: string; ipfs: { id: string; error: string } }
    expect(id.ipfs.id).toBe(kubo.peerId)
    expect(id.ipfs.error).toBe('')
  })

  test('pin add --wait reaches pinned and kubo pins it; pin rm unpins it in kubo', async () => {
    const cid = await addToKubo(kubo, `hello cluster ${Date.now()}`)
    const r = await peer.ctl(['pin', 'add', '--wait', '--wt', '60', cid])
    expect(r.code).toBe(0)
    expect(await statusOf(peer, cid)).toBe('pinned')
    expect((await kuboPins(kubo)).has(cid)).toBe(true)
    const ls = await peer.ctl(['pin', 'ls'])
    expect(ls.stdout).toContain(cid)

    const rm = await peer.ctl(['pin', 'rm', cid])
    expect(rm.code).toBe(0)
    await waitFor(async () => !(await kuboPins(kubo)).has(cid), 'kubo to unpin')
    expect((await peer.ctl(['pin', 'ls'])).stdout).not.toContain(cid)
  })

  test('a /ipfs/<cid>/path is resolved through kubo and the target is pinned', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cluster-dir-'))
    await mkdir(join(dir, 'sub'))
    await writeFile(join(dir, 'sub', 'file.txt'), `nested ${Date.now()}`)
    const lines = (await kubo.ipfsOk(['add', '-r', '--pin=false', dir])).trim().split('\n')
    const root = lines[lines.length - 1]!.split(' ')[1]!
    const fileCid = lines.find((l) => l.endsWith('/sub/file.txt'))!.split(' ')[1]!
    const r = await peer.ctl(['pin', 'add', '--wait', '--wt', '60', `/ipfs/${root}/sub/file.txt`])
    expect(r.code).toBe(0)
    expect(await statusOf(peer, fileCid)).toBe('pinned')
    expect((await kuboPins(kubo)).has(fileCid)).toBe(true)
  })
})

describe('bad input gets the right status and a message', () => {
  test('malformed CID: 400 from the API, exit code 2 from ctl', async () => {
    const res = await fetch(`${peer.apiUrl}/pins/not-a-cid`, { method: 'POST' })
    expect(res.status).toBe(400)
    const body = (await res.json()) as { code: number; message: string }
    expect(body.code).toBe(400)
    expect(body.message.length).toBeGreaterThan(0)
    const r = await peer.ctl(['pin', 'add', 'not-a-cid'])
    expect(r.code).toBe(2)
    expect(r.stdout + r.stderr).toContain('An error occurred')
  })

  test('bad JSON body: 400', async () => {
    const res = await fetch(`${peer.apiUrl}/peers`, { method: 'POST', body: '{not json', headers: { 'Content-Type': 'application/json' } })
    expect(res.status).toBe(400)
    expect(((await res.json()) as { message: string }).message.length).toBeGreaterThan(0)
  })

  test('unknown route: 404 with a JSON error', async () => {
    const res = await fetch(`${peer.apiUrl}/no/such/route`)
    expect(res.status).toBe(404)
    expect(((await res.json()) as { code: number }).code).toBe(404)
  })

  test('status of a CID not in the pinset is unpinned, and pin rm of it is 404', async () => {
    const cid = 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy'
    expect(await statusOf(peer, cid)).toBe('unpinned')
    const res = await fetch(`${peer.apiUrl}/pins/${cid}`, { method: 'DELETE' })
    expect(res.status).toBe(404)
  })
})

describe('basic auth', () => {
  test('wrong or missing credentials get 401; right ones work; /health needs none', async () => {
    const k2 = kubo
    const p = await initPeer({ ipfsApi: k2.apiMultiaddr, env: { CLUSTER_RESTAPI_BASICAUTHCREDENTIALS: 'admin:s3cret' } })
    peers.push(p)
    await p.start()
    expect((await fetch(`${p.apiUrl}/id`)).status).toBe(401)
    const bad = await fetch(`${p.apiUrl}/id`, { headers: { Authorization: `Basic ${btoa('admin:wrong')}` } })
    expect(bad.status).toBe(401)
    expect(bad.headers.get('www-authenticate')).toContain('Restricted IPFS Cluster API')
    const good = await fetch(`${p.apiUrl}/id`, { headers: { Authorization: `Basic ${btoa('admin:s3cret')}` } })
    expect(good.status).toBe(200)
    expect((await fetch(`${p.apiUrl}/health`)).status).toBe(204)
    const viaCtl = await p.ctl(['--force-http', '--basic-auth', 'admin:s3cret', 'id'])
    expect(viaCtl.code).toBe(0)
    const wrongCtl = await p.ctl(['--force-http', '--basic-auth', 'admin:nope', 'id'])
    expect(wrongCtl.code).toBe(2)
    await p.stop()
  })
})

describe('durability', () => {
  test('kill -9 during a burst of 1,000 pin requests: every acknowledged pin survives', async () => {
    // 1,000 small files in kubo, unpinned.
    const dir = await mkdtemp(join(tmpdir(), 'cluster-burst-'))
    for (let i = 0; i < 1000; i++) await writeFile(join(dir, `f${i}`), `burst ${i} ${Date.now()}`)
    const out = await kubo.ipfsOk(['add', '-r', '-q', '--pin=false', dir], { timeoutMs: 120_000 })
    const cids = out.trim().split('\n').slice(0, 1000)
    expect(cids.length).toBe(1000)

    const acked: string[] = []
    let next = 0
    let killed = false
    const worker = async (): Promise<void> => {
      while (next < cids.length && !killed) {
        const cid = cids[next++]!
        try {
          const res = await fetch(`${peer.apiUrl}/pins/${cid}`, { method: 'POST', signal: AbortSignal.timeout(10_000) })
          if (res.ok) acked.push(cid)
        } catch {
          // connection refused once killed
        }
      }
    }
    const workers = Array.from({ length: 16 }, () => worker())
    await waitFor(async () => acked.length >= 300, '300 acknowledged pins', 60_000, 5)
    await peer.kill()
    killed = true
    await Promise.all(workers)
    expect(acked.length).toBeGreaterThanOrEqual(300)

    await peer.start()
    const r = await peer.ctl(['--enc', 'json', 'pin', 'ls'], { timeoutMs: 60_000 })
    expect(r.code).toBe(0)
    const listed = new Set([...r.stdout.matchAll(/"cid":\s*"([^"]+)"/g)].map((m) => m[1]))
    const missing = acked.filter((c) => !listed.has(c))
    expect(missing).toEqual([])
  })
})

describe('kubo down and back', () => {
  test('the peer reports the IPFS error, keeps serving, and recovers when kubo returns', async () => {
    const cid = await addToKubo(kubo, `kubo restart ${Date.now()}`)
    await kubo.stop()
    await waitFor(async () => {
      const r = await peer.ctl(['--enc', 'json', 'id'])
      const id = JSON.parse(r.stdout) as { ipfs: { error: string } }
      return id.ipfs.error !== ''
    }, 'id to report the IPFS error')
    const pin = await peer.ctl(['pin', 'add', '--no-status', cid])
    expect(pin.code).toBe(0)
    await kubo.start()
    await waitFor(async () => {
      const r = await peer.ctl(['--enc', 'json', 'id'])
      return (JSON.parse(r.stdout) as { ipfs: { error: string } }).ipfs.error === ''
    }, 'id to report kubo back')
    await waitFor(async () => {
      const s = await statusOf(peer, cid)
      if (s === 'pin_error' || s === 'unexpectedly_unpinned') await peer.ctl(['recover', cid])
      return s === 'pinned'
    }, `${cid} to be pinned after kubo came back`, 90_000, 1000)
    expect((await kuboPins(kubo)).has(cid)).toBe(true)
  })
})

describe('state export, cleanup, import', () => {
  test('export → cleanup → import restores the pinset', async () => {
    const before = await peer.ctl(['--enc', 'json', 'pin', 'ls'])
    const count = [...before.stdout.matchAll(/"cid":/g)].length
    expect(count).toBeGreaterThan(0)
    await peer.stop()
    const exp = await runBinary(['service', '-c', peer.folder, 'state', 'export'], { env: peer.env })
    expect(exp.code).toBe(0)
    expect(exp.stdout.trim().split('\n').length).toBe(count)
    const file = join(peer.folder, 'export.ndjson')
    await writeFile(file, exp.stdout)
    const clean = await runBinary(['service', '-c', peer.folder, 'state', 'cleanup', '-f'], { env: peer.env })
    expect(clean.code).toBe(0)
    const empty = await runBinary(['service', '-c', peer.folder, 'state', 'export'], { env: peer.env })
    expect(empty.stdout.trim()).toBe('')
    const imp = await runBinary(['service', '-c', peer.folder, 'state', 'import', '-f', file], { env: peer.env })
    expect(imp.code).toBe(0)
    const again = await runBinary(['service', '-c', peer.folder, 'state', 'export'], { env: peer.env })
    expect(again.stdout.trim().split('\n').length).toBe(count)
    await peer.start()
  })
})
