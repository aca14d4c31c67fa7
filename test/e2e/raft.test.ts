/**
 * e2e, raft consensus: 3 peers (compiled binary) initialized with
 * `--consensus raft`, each with its own real kubo, on loopback. The first
 * bootstraps a cluster of its own; the others join with `daemon --bootstrap`.
 * Pins from any peer reach every state; kill -9 of the leader elects a new
 * one and loses no acknowledged pin; `peers rm` removes a voter; a new peer
 * joins with `--bootstrap`. Prints commit latency p50/p99 (REST POST /pins,
 * one client), throughput with 16 clients and the time to elect a new leader.
 * Pins are identity CIDs (the data is in the CID), so kubo pins them at once.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { CID } from 'multiformats/cid'
import { identity } from 'multiformats/hashes/identity'
import { type ClusterPeer, FAST_TIMINGS, initPeer, type Kubo, startKubo, stopAllKubos, waitFor } from '../../scripts/launcher/index.ts'

const SECRET = randomBytes(32).toString('hex')
const kubos: Kubo[] = []
const peers: (ClusterPeer | undefined)[] = []
const ids: string[] = []

function newCid(): string {
  return CID.createV1(0x55, identity.digest(randomBytes(24))).toString()
}

async function peerIdOf(p: ClusterPeer): Promise<string> {
  return (JSON.parse(await Bun.file(join(p.folder, 'identity.json')).text()) as { id: string }).id
}

async function loopbackAddr(p: ClusterPeer): Promise<string> {
  const r = await p.ctl(['--enc', 'json', 'id'])
  const id = JSON.parse(r.stdout) as { addresses: string[] }
  const a = id.addresses.find((x) => x.startsWith('/ip4/127.0.0.1/tcp/'))
  if (a === undefined) throw new Error(`no loopback address: ${r.stdout}`)
  return a
}

async function initAt(i: number): Promise<ClusterPeer> {
  kubos[i] ??= await startKubo()
  const p = await initPeer({
    ipfsApi: kubos[i]!.apiMultiaddr,
    initArgs: ['--consensus', 'raft'],
    env: { CLUSTER_SECRET: SECRET, CLUSTER_PEERNAME: `raft${i}`, ...FAST_TIMINGS }
  })
  ids[i] = await peerIdOf(p)
  return p
}

/** The pins in a peer's state (its local copy, `pin ls`). */
async function pinsOf(p: ClusterPeer): Promise<Set<string>> {
  const r = await fetch(`${p.apiUrl}/allocations`)
  const text = await r.text()
  return new Set(text.split('\n').filter((l) => l.trim() !== '').map((l) => (JSON.parse(l) as { cid: string }).cid))
}

async function pin(p: ClusterPeer, cid: string): Promise<void> {
  const r = await fetch(`${p.apiUrl}/pins/${cid}`, { method: 'POST' })
  if (!r.ok) throw new Error(`POST /pins/${cid} on ${p.folder}: ${r.status} ${await r.text()}`)
}

/** [peer index, term] of the latest "this peer is the leader" line among running peers. */
function leaderFromLogs(): { i: number; term: number } | undefined {
  let best: { i: number; term: number } | undefined
  peers.forEach((p, i) => {
    if (p?.proc === undefined || p.proc.exitCode !== null) return
    for (const m of p.logs.matchAll(/this peer is the leader \(term (\d+)\)/g)) {
      const term = Number(m[1])
      if (best === undefined || term > best.term) best = { i, term }
    }
  })
  return best
}

function percentile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!
}

const acked = new Set<string>()

beforeAll(async () => {
  for (let i = 0; i < 3; i++) peers[i] = await initAt(i)
  await peers[0]!.start()
  const addr0 = await loopbackAddr(peers[0]!)
  await peers[1]!.start(['--bootstrap', addr0])
  await peers[2]!.start(['--bootstrap', addr0])
  await waitFor(async () => {
    for (const p of peers) {
      const r = await p!.ctl(['--enc', 'json', 'peers', 'ls'])
      if ((r.stdout.match(/"peername"/g) ?? []).length < 3) return false
    }
    return true
  }, 'every peer to list 3 raft peers', 90_000, 500)
}, 240_000)

afterAll(async () => {
  for (const p of peers) await p?.destroy()
  await stopAllKubos()
})

describe('raft: a 3-peer cluster', () => {
  test('pins from any peer reach every state', async () => {
    for (let i = 0; i < 3; i++) {
      for (let k = 0; k < 5; k++) {
        const cid = newCid()
        await pin(peers[i]!, cid)
        acked.add(cid)
      }
    }
    for (const p of peers) {
      await waitFor(async () => {
        const have = await pinsOf(p!)
        return [...acked].every((c) => have.has(c))
      }, 'every pin in every state', 60_000, 250)
    }
    // kubo pins them too (replication everywhere)
    const one = [...acked][0]!
    for (const k of kubos) await waitFor(async () => (await k.ipfs(['pin', 'ls', '--type=recursive', one])).stdout.includes(one), 'kubo to pin', 60_000, 500)
  }, 180_000)

  test('figures: commit latency (1 client) and throughput (16 clients)', async () => {
    const follower = peers[(leaderFromLogs()!.i + 1) % 3]!
    const lat: number[] = []
    for (let k = 0; k < 100; k++) {
      const cid = newCid()
      const t0 = performance.now()
      await pin(follower, cid)
      lat.push(performance.now() - t0)
      acked.add(cid)
    }
    const n = 400
    const t0 = performance.now()
    let next = 0
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < n) {
          next++
          const cid = newCid()
          await pin(peers[next % 3]!, cid)
          acked.add(cid)
        }
      })
    )
    const secs = (performance.now() - t0) / 1000
    console.log(
      `raft e2e figures: commit latency via a follower p50 ${percentile(lat, 0.5).toFixed(1)} ms, p99 ${percentile(lat, 0.99).toFixed(1)} ms; ` +
        `throughput with 16 clients over 3 peers ${(n / secs).toFixed(0)} pins/s (${n} pins in ${secs.toFixed(2)} s)`
    )
    expect(lat.length).toBe(100)
  }, 300_000)

  test('kill -9 of the leader: a new leader, no acknowledged pin lost, the old one catches up', async () => {
    const old = leaderFromLogs()!
    // restarted on the same port, as a real peer (its service.json asks for a random one)
    peers[old.i]!.env.CLUSTER_LISTENMULTIADDRESS = (await loopbackAddr(peers[old.i]!)).replace(/\/p2p\/.*$/, '')
    const t0 = performance.now()
    await peers[old.i]!.kill()
    const next = await waitFor(() => {
      const l = leaderFromLogs()
      return l !== undefined && l.term > old.term && l.i !== old.i && l
    }, 'a new leader', 60_000, 20)
    const electMs = performance.now() - t0
    console.log(`raft e2e figures: new leader ${next.i} (term ${next.term}) ${electMs.toFixed(0)} ms after kill -9 of leader ${old.i} (heartbeat_timeout 1s)`)
    const survivors = [0, 1, 2].filter((i) => i !== old.i)
    for (const i of survivors) {
      const cid = newCid()
      await pin(peers[i]!, cid)
      acked.add(cid)
    }
    for (const i of survivors) {
      await waitFor(async () => {
        const have = await pinsOf(peers[i]!)
        return [...acked].every((c) => have.has(c))
      }, `peer ${i} to hold every acknowledged pin`, 60_000, 250)
    }
    // restart without --bootstrap: it rejoins with its state and catches up
    await peers[old.i]!.start()
    await waitFor(async () => {
      const have = await pinsOf(peers[old.i]!)
      return [...acked].every((c) => have.has(c))
    }, 'the restarted peer to catch up', 60_000, 250)
  }, 240_000)

  test('peers rm removes a voter; a new peer joins with --bootstrap', async () => {
    const victim = 2
    const r = await peers[0]!.ctl(['peers', 'rm', ids[victim]!], { timeoutMs: 60_000 })
    expect(r.stderr + r.stdout).not.toMatch(/error/i)
    expect(r.code).toBe(0)
    await waitFor(async () => {
      const ls = await peers[0]!.ctl(['--enc', 'json', 'peers', 'ls'])
      return ls.code === 0 && !ls.stdout.includes(ids[victim]!)
    }, 'the removed peer to leave peers ls', 60_000, 250)
    await peers[victim]!.destroy()
    peers[victim] = undefined
    // a new peer, joining through peer 1
    peers[3] = await initAt(3)
    await peers[3]!.start(['--bootstrap', await loopbackAddr(peers[1]!)])
    await waitFor(async () => {
      const ls = await peers[0]!.ctl(['--enc', 'json', 'peers', 'ls'])
      return ls.code === 0 && ls.stdout.includes(ids[3]!)
    }, 'the new peer in peers ls', 60_000, 250)
    await waitFor(async () => {
      const have = await pinsOf(peers[3]!)
      return [...acked].every((c) => have.has(c))
    }, 'the new peer to hold the pinset', 60_000, 250)
    const cid = newCid()
    await pin(peers[3]!, cid)
    for (const i of [0, 1, 3]) await waitFor(async () => (await pinsOf(peers[i]!)).has(cid), `peer ${i} to see the new peer's pin`, 60_000, 250)
  }, 240_000)
})
