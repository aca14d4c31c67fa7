/**
 * e2e, many peers: 3 cluster peers (compiled binary), each with its own
 * real kubo, on loopback with random ports and their own folders.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { randomBytes } from 'node:crypto'
import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type ClusterPeer, initPeer, type Kubo, startKubo, stopAllKubos, waitFor, FAST_TIMINGS } from '../../scripts/launcher/index.ts'

const SECRET = randomBytes(32).toString('hex')
const FAST = FAST_TIMINGS

const kubos: Kubo[] = []
const peers: ClusterPeer[] = []
const ids: string[] = []

interface IdJSON {
  id: string
  addresses: string[]
  peername: string
  ipfs: { id: string }
}

async function idOf(p: ClusterPeer): Promise<IdJSON> {
  const r = await p.ctl(['--enc', 'json', 'id'])
  if (r.code !== 0) throw new Error(`id failed: ${r.stderr}`)
  return JSON.parse(r.stdout) as IdJSON
}

function loopbackAddr(id: IdJSON): string {
  const a = id.addresses.find((x) => x.startsWith('/ip4/127.0.0.1/tcp/'))
  if (a === undefined) throw new Error(`no loopback address in ${id.addresses.join(',')}`)
  return a
}

async function initAt(i: number, env: Record<string, string> = {}): Promise<ClusterPeer> {
  kubos[i] ??= await startKubo()
  return initPeer({
    ipfsApi: kubos[i]!.apiMultiaddr,
    env: { CLUSTER_SECRET: SECRET, CLUSTER_PEERNAME: `peer${i}`, CLUSTER_DISABLEREPINNING: 'false', ...FAST, ...env }
  })
}

async function bootstrapArgs(from?: ClusterPeer, extra: string[] = []): Promise<string[]> {
  return from !== undefined ? ['--bootstrap', loopbackAddr(await idOf(from)), ...extra] : extra
}

async function startPeer(i: number, env: Record<string, string> = {}, bootstrapFrom?: ClusterPeer): Promise<ClusterPeer> {
  const p = await initAt(i, env)
  await p.start(await bootstrapArgs(bootstrapFrom))
  return p
}

async function peerIdOf(p: ClusterPeer): Promise<string> {
  return (JSON.parse(await Bun.file(join(p.folder, 'identity.json')).text()) as { id: string }).id
}

/** Waits until a stopped peer's ping expired and it left peer 0's peerset. */
async function untilGone(peer: string): Promise<void> {
  let last = ''
  await waitFor(async () => {
    const r = await peers[0]!.ctl(['--enc', 'json', 'peers', 'ls'])
    last = r.stdout + r.stderr
    // the peers of the peerset, not the cluster_peers each of them lists
    return r.code === 0 && !new RegExp(`"id":\\s*"${peer}"`).test(r.stdout)
  }, `${peer} to leave the peerset`, 60_000, 250).catch((err: unknown) => {
    throw new Error(`${(err as Error).message}\npeers ls:\n${last}\npeer0 logs:\n${peers[0]!.logs.slice(-4000)}`)
  })
}

async function kuboHas(k: Kubo, cid: string): Promise<boolean> {
  const r = await k.ipfs(['pin', 'ls', '--type=recursive', cid])
  return r.code === 0 && r.stdout.includes(cid)
}

async function allocationsOf(p: ClusterPeer, cid: string): Promise<string[] | undefined> {
  const r = await p.ctl(['--enc', 'json', 'pin', 'ls', cid])
  if (r.code !== 0) return undefined
  return (JSON.parse(r.stdout) as { allocations: string[] }).allocations
}

/** The latest `ping` metric of every peer, as `p` received them (`received_at`: ns, `p`'s clock). */
async function pingsOf(p: ClusterPeer): Promise<Array<{ peer: string; received_at: number }>> {
  const r = await fetch(`${p.apiUrl}/monitor/metrics/ping`)
  if (!r.ok) throw new Error(`GET /monitor/metrics/ping: ${r.status} ${await r.text()}`)
  return (await r.json()) as Array<{ peer: string; received_at: number }>
}

async function pinCount(p: ClusterPeer): Promise<number> {
  const r = await p.ctl(['--enc', 'json', 'pin', 'ls'], { timeoutMs: 60_000 })
  return (r.stdout.match(/"cid":/g) ?? []).length
}

async function addData(k: Kubo, size = 64 * 1024): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'mp-data-'))
  await writeFile(join(dir, 'f'), randomBytes(size))
  return (await k.ipfsOk(['add', '-Q', '--pin=false', join(dir, 'f')])).trim()
}

beforeAll(async () => {
  // three trusted peers: each trusts exactly the three of them
  for (let i = 0; i < 3; i++) peers[i] = await initAt(i)
  for (const p of peers) ids.push(await peerIdOf(p))
  for (const p of peers) p.env.CLUSTER_CRDT_TRUSTEDPEERS = ids.join(',')
  await peers[0]!.start()
  await peers[1]!.start(await bootstrapArgs(peers[0]))
  await peers[2]!.start(await bootstrapArgs(peers[0]))
  await waitFor(async () => {
    for (const p of peers) {
      const r = await p.ctl(['--enc', 'json', 'peers', 'ls'])
      if ((r.stdout.match(/"peername"/g) ?? []).length < 3) return false
    }
    return true
  }, 'every peer to see 3 peers', 60_000, 500)
}, 180_000)

afterAll(async () => {
  for (const p of peers) await p?.destroy()
  await stopAllKubos()
})

describe('a 3-peer cluster', () => {
  test('replication 2: allocated to two peers, pinned in their kubos, visible from the third', async () => {
    const cid = await addData(kubos[0]!)
    const r = await peers[0]!.ctl(['pin', 'add', '--replication', '2', '--wait', '--wt', '90', cid], { timeoutMs: 120_000 })
    expect(r.code).toBe(0)
    const allocs = (await allocationsOf(peers[0]!, cid))!
    expect(allocs.length).toBe(2)
    for (const [i, id] of ids.entries()) {
      if (allocs.includes(id)) await waitFor(async () => kuboHas(kubos[i]!, cid), `kubo ${i} to pin ${cid}`, 90_000, 500)
    }
    const third = ids.findIndex((id) => !allocs.includes(id))
    await waitFor(async () => {
      const s = await peers[third]!.ctl(['--enc', 'json', 'status', cid])
      const g = JSON.parse(s.stdout) as { peer_map: Record<string, { status: string }> }
      const pinned = Object.values(g.peer_map).filter((x) => x.status === 'pinned').length
      return pinned === 2 && g.peer_map[ids[third]!]?.status === 'remote'
    }, 'status from the third peer', 60_000, 500)
  })

  test('replication -1 pins everywhere; a pin removed on one peer disappears everywhere', async () => {
    const cid = await addData(kubos[1]!)
    const r = await peers[1]!.ctl(['pin', 'add', '--replication', '-1', cid])
    expect(r.code).toBe(0)
    for (const [i, k] of kubos.entries()) await waitFor(async () => kuboHas(k, cid), `kubo ${i} to pin`, 90_000, 500)
    const rm = await peers[2]!.ctl(['pin', 'rm', cid])
    expect(rm.code).toBe(0)
    for (const [i, k] of kubos.entries()) await waitFor(async () => !(await kuboHas(k, cid)), `kubo ${i} to unpin`, 60_000, 500)
    for (const p of peers) await waitFor(async () => (await allocationsOf(p, cid)) === undefined, 'pin gone from every pinset', 30_000, 250)
  })

  test('ctl add with replication 2: blocks go to the two allocated kubos, which pin them', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mp-add-'))
    const file = join(dir, 'data.bin')
    await writeFile(file, randomBytes(1024 * 1024 + 1))
    const expected = (await kubos[0]!.ipfsOk(['add', '--only-hash', '-Q', file])).trim()
    const r = await peers[2]!.ctl(['add', '--rmin', '2', '--rmax', '2', '--wait', '--wt', '90', file], { timeoutMs: 120_000 })
    expect(`${r.code} ${r.stdout}${r.stderr}`).toStartWith('0 ')
    expect(r.stdout).toContain(`added ${expected} data.bin`)
    const allocs = (await allocationsOf(peers[0]!, expected))!
    expect(allocs.length).toBe(2)
    for (const [i, id] of ids.entries()) {
      if (allocs.includes(id)) await waitFor(async () => kuboHas(kubos[i]!, expected), `kubo ${i} to pin the added file`, 60_000, 250)
    }
  }, 180_000)

  test('a 4th peer started later with --bootstrap receives the whole pinset (1,000 pins)', async () => {
    // 1,000 tiny files held by kubo 0, pinned with replication 1 on peer 0
    const dir = await mkdtemp(join(tmpdir(), 'mp-1000-'))
    for (let i = 0; i < 1000; i++) await writeFile(join(dir, `f${i}`), `pin ${i} ${Date.now()}`)
    const out = await kubos[0]!.ipfsOk(['add', '-r', '-q', '--pin=false', dir], { timeoutMs: 120_000 })
    const list = out.trim().split('\n').slice(0, 1000)
    let next = 0
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < list.length) {
          const cid = list[next++]!
          const res = await fetch(`${peers[0]!.apiUrl}/pins/${cid}?replication=1&user-allocations=${ids[0]}`, { method: 'POST' })
          expect(res.ok).toBe(true)
          await res.arrayBuffer()
        }
      })
    )
    const before = await pinCount(peers[0]!)
    expect(before).toBeGreaterThanOrEqual(1000)
    peers[3] = await startPeer(3, {}, peers[1])
    await waitFor(async () => (await pinCount(peers[3]!)) >= before, `peer3 to receive ${before} pins`, 120_000, 1000)
    await peers[3]!.stop()
    await untilGone(await peerIdOf(peers[3]!))
  }, 300_000)
})

describe('failures and restarts', () => {
  test('kill -9 an allocated peer: its pins are re-pinned on the others; after restart nothing is lost', async () => {
    const cid = await addData(kubos[0]!)
    // allocated to peers 1 and 2; peer 1 is killed. (Killing peer 0, the peer the others
    // bootstrapped from, is the harder case: see the closing note of this work.)
    const r = await peers[0]!.ctl(['pin', 'add', '--replication', '2', '--allocs', `${ids[1]},${ids[2]}`, '--no-status', cid], {
      timeoutMs: 60_000
    })
    expect(`${r.code} ${r.stdout}${r.stderr}`).toStartWith('0 ')
    const allocs = (await allocationsOf(peers[0]!, cid))!
    expect(allocs.length).toBe(2)
    for (const [i, id] of ids.entries()) {
      if (allocs.includes(id)) await waitFor(async () => kuboHas(kubos[i]!, cid), `kubo ${i} to pin`, 90_000, 500)
    }
    const victim = 1
    expect(allocs).toContain(ids[1]!)
    const survivors = ids.map((_, i) => i).filter((i) => i !== victim)
    await peers[victim]!.kill()
    // ping TTL (2 x 2 s) + check interval 1 s + margin: the pin moves to the two live peers
    const observer = peers[survivors[0]!]!
    let seen: string[] | undefined
    await waitFor(async () => {
      seen = await allocationsOf(observer, cid)
      return seen !== undefined && !seen.includes(ids[victim]!) && survivors.every((i) => seen!.includes(ids[i]!))
    }, 're-allocation away from the dead peer', 90_000, 500).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}\nallocations: ${JSON.stringify(seen)}\nids: ${ids.join(' ')} victim ${victim}\nobserver logs:\n${observer.logs.slice(-4000)}`)
    })
    for (const i of survivors) await waitFor(async () => kuboHas(kubos[i]!, cid), `kubo ${i} to pin it`, 90_000, 500)
    const spare = survivors[0]!
    await peers[victim]!.start(await bootstrapArgs(peers[spare]))
    await waitFor(async () => {
      const a = await allocationsOf(peers[victim]!, cid)
      return a !== undefined && a.length === 2
    }, 'the restarted peer to settle', 60_000, 500)
  }, 240_000)

  test('kill -9 the peer the others bootstrapped from: every one of its pins (the 1,000-pin burst included) is re-pinned', async () => {
    const victim = 0
    const survivors = [1, 2]
    const observer = peers[1]!
    const pinsetOf = async (p: ClusterPeer): Promise<Array<{ cid: string; allocations: string[] }>> => {
      const r = await p.ctl(['--enc', 'json', 'pin', 'ls'], { timeoutMs: 60_000 })
      expect(r.code).toBe(0)
      // one JSON object per pin, as upstream's ctl streams them
      return [...r.stdout.matchAll(/"cid":\s*"([^"]+)"[\s\S]*?"allocations":\s*(\[[^\]]*\])/g)].map((m) => ({
        cid: m[1]!,
        allocations: JSON.parse(m[2]!) as string[]
      }))
    }
    const theirs = (await pinsetOf(observer)).filter((p) => p.allocations.includes(ids[victim]!)).map((p) => p.cid)
    expect(theirs.length).toBeGreaterThanOrEqual(1000)
    const killedAt = Date.now()
    await peers[victim]!.kill()
    let left: string[] = theirs
    await waitFor(async () => {
      const now = new Map((await pinsetOf(observer)).map((p) => [p.cid, p.allocations]))
      left = theirs.filter((c) => {
        const a = now.get(c)
        return a === undefined || a.includes(ids[victim]!) || !a.some((x) => survivors.some((i) => ids[i] === x))
      })
      return left.length === 0
    }, `all ${theirs.length} pins of the bootstrap peer to be re-allocated`, 180_000, 1000).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}\n${left.length} left, e.g. ${left.slice(0, 3).join(' ')}\nobserver logs:\n${observer.logs.slice(-4000)}`)
    })
    console.log(`re-pinned ${theirs.length} pins of the killed bootstrap peer in ${Date.now() - killedAt} ms`)
    // a sample is pinned by the survivors' kubos
    const now = new Map((await pinsetOf(observer)).map((p) => [p.cid, p.allocations]))
    for (const c of theirs.slice(0, 5)) {
      const holder = survivors.find((i) => now.get(c)!.includes(ids[i]!))!
      await waitFor(async () => kuboHas(kubos[holder]!, c), `kubo ${holder} to pin ${c}`, 90_000, 500)
    }
    await peers[victim]!.start(await bootstrapArgs(peers[1]))
    await waitFor(async () => {
      const r = await peers[victim]!.ctl(['--enc', 'json', 'peers', 'ls'])
      return r.code === 0 && (r.stdout.match(/"peername"/g) ?? []).length >= 3
    }, 'the restarted bootstrap peer to see the others', 60_000, 500)
  }, 360_000)

  test('restart every peer: the pinset and its allocations are intact', async () => {
    const snapshot = async (): Promise<string> => {
      const r = await peers[0]!.ctl(['--enc', 'json', 'pin', 'ls'], { timeoutMs: 60_000 })
      return [...r.stdout.matchAll(/"cid":\s*"([^"]+)"[\s\S]*?"allocations":\s*(\[[^\]]*\])/g)]
        .map((m) => `${m[1]} ${m[2]!.replace(/\s/g, '')}`)
        .sort()
        .join('\n')
    }
    const before = await snapshot()
    expect(before.length).toBeGreaterThan(0)
    for (const p of peers.slice(0, 3)) await p!.stop()
    await peers[0]!.start()
    await peers[1]!.start(await bootstrapArgs(peers[0]))
    await peers[2]!.start(await bootstrapArgs(peers[0]))
    expect(await snapshot()).toBe(before)
  }, 240_000)
})

describe('trust and secrets', () => {
  test('a peer with the wrong secret is refused, and its log says why', async () => {
    const bad = await initAt(4, { CLUSTER_SECRET: randomBytes(32).toString('hex') })
    peers[4] = bad
    await bad.start(await bootstrapArgs(peers[0])).catch(() => undefined)
    await waitFor(async () => /secret|private network|pnet/i.test(bad.logs), 'a log line about the secret', 30_000, 250)
    const r = await peers[0]!.ctl(['--enc', 'json', 'peers', 'ls'])
    expect(r.stdout).not.toContain(await peerIdOf(bad))
    await bad.stop()
  })

  test("an untrusted peer's pin does not reach the trusted peers' pinsets", async () => {
    const u = await initAt(5)
    peers[5] = u
    await u.start(await bootstrapArgs(peers[0], ['--no-trust']))
    const cid = await addData(kubos[5]!)
    const r = await u.ctl(['pin', 'add', '--replication', '1', '--ns', cid])
    expect(r.code).toBe(0)
    await waitFor(async () => (await allocationsOf(u, cid)) !== undefined, 'the pin in its own pinset', 30_000, 250)
    const pinnedNs = Date.now() * 1e6
    const uId = await peerIdOf(u)
    const trusted = peers.slice(0, 3) as ClusterPeer[]
    // Markers that must arrive, through the same paths, after the pin that must not:
    // 1. a ping u published after its pin, received by every trusted peer: u's
    //    gossipsub messages after the pin's broadcast reached them;
    for (const p of trusted) {
      await waitFor(async () => (await pingsOf(p)).some((m) => m.peer === uId && m.received_at > pinnedNs), `a ping from the untrusted peer, sent after its pin, at ${p.folder}`, 30_000, 250)
    }
    // 2. then a pin by a trusted peer reaches the other trusted peers and u (a whole crdt round).
    const marker = await addData(kubos[0]!)
    expect((await peers[0]!.ctl(['pin', 'add', '--replication', '1', '--ns', marker])).code).toBe(0)
    for (const [i, p] of [...trusted, u].entries()) {
      const who = p === u ? 'the untrusted peer' : `peer ${i}`
      // the untrusted peer first catches up on the whole crdt DAG (2,000+ deltas by now)
      await waitFor(async () => (await allocationsOf(p, marker)) !== undefined, `the trusted marker pin at ${who}`, p === u ? 180_000 : 30_000, 250).catch((err: unknown) => {
        throw new Error(`${(err as Error).message}\n${who} logs:\n${p.logs.slice(-3000)}`)
      })
    }
    for (const p of trusted) expect(await allocationsOf(p, cid)).toBeUndefined()
    await u.stop()
    // let its ping expire, so later status calls and allocations do not use a stopped peer
    await untilGone(await peerIdOf(u))
  }, 300_000)
})
