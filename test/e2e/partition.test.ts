/**
 * e2e, network faults: 3 cluster peers (compiled binary), each with its own
 * real kubo, each in its own network namespace (netns.ts: a cluster bridge
 * and an IPFS bridge, addresses only inside the namespaces, static ARP so a
 * cut is silence, not "host unreachable"). Issue 15: a peer that becomes
 * unreachable must not take the others down.
 *
 * Each fault lasts longer than every timeout the peers use (dial 3 s, ping
 * TTL 4 s, RPC 15 s); during it the reachable peers are driven with pin,
 * unpin, status, peers ls and ctl add; afterwards every pinset converges
 * with nothing acknowledged lost, no pin stays over-replicated, and no peer
 * exited or logged an uncaught error. Issue 11 adds a flapping link (cut and
 * heal every few seconds, a bounded number of times). The figures (alert delay, re-pinning, convergence) are printed.
 * With KEEP_LOGS_DIR set, the three daemon logs are copied there at the end.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { randomBytes } from 'node:crypto'
import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type ClusterPeer, initPeer, type Kubo, startKubo, stopAllKubos, waitFor, FAST_TIMINGS } from '../../scripts/launcher/index.ts'
import { createNetwork, type NetnsNetwork, netnsAvailable } from '../helpers/netns.ts'

const SECRET = randomBytes(32).toString('hex')
const FAST = {
  ...FAST_TIMINGS,
  CLUSTER_PINRECOVERINTERVAL: '5s',
  CLUSTER_IPFSHTTP_PINTIMEOUT: '10s',
  CLUSTER_DISABLEREPINNING: 'false'
}
/** Longer than dial_peer_timeout (3 s), the ping TTL (4 s) and the RPC timeout (15 s). */
const CUT_MS = 30_000
const CLUSTER_PORT = 9096

let net: NetnsNetwork | undefined
const kubos: Kubo[] = []
const peers: ClusterPeer[] = []
const ids: string[] = []
/** every CID acknowledged as pinned and not unpinned since */
const expected = new Set<string>()
const figures: string[] = []

const clusterAddr = (i: number): string => `/ip4/${net!.hosts[i]!.clusterIp}/tcp/${CLUSTER_PORT}/p2p/${ids[i]}`

async function pinSet(p: ClusterPeer): Promise<Set<string> | undefined> {
  const r = await p.ctl(['--enc', 'json', 'pin', 'ls'], { timeoutMs: 30_000 })
  if (r.code !== 0) return undefined
  return new Set([...r.stdout.matchAll(/"cid":\s*"([^"]+)"/g)].map((m) => m[1]!))
}

async function allocationsOf(p: ClusterPeer, cid: string): Promise<string[] | undefined> {
  const r = await p.ctl(['--enc', 'json', 'pin', 'ls', cid])
  if (r.code !== 0) return undefined
  return (JSON.parse(r.stdout) as { allocations: string[] }).allocations
}

async function peersLs(p: ClusterPeer): Promise<string[]> {
  const r = await p.ctl(['--enc', 'json', 'peers', 'ls'], { timeoutMs: 60_000 })
  if (r.code !== 0) {
    expectAllAlive()
    throw new Error(`peers ls failed (${r.code}): ${r.stderr}${r.stdout}`)
  }
  // peer IDs of the peerset (kubo IDs and cluster_peers lists are other fields)
  return [...new Set([...r.stdout.matchAll(/"id":\s*"([^"]+)"/g)].map((m) => m[1]!))].filter((id) => ids.includes(id))
}

async function kuboHas(k: Kubo, cid: string): Promise<boolean> {
  const r = await k.ipfs(['pin', 'ls', '--type=recursive', cid])
  return r.code === 0 && r.stdout.includes(cid)
}

/**
 * Waits until kubo i has `cid` pinned; on a timeout the error says what each
 * peer's tracker reports for it, whom kubo i is connected to, and peer i's
 * last log lines about it (a CI run keeps only the end of the output).
 */
async function kuboPins(i: number, cid: string, what: string, timeoutMs = 60_000): Promise<void> {
  await waitFor(async () => kuboHas(kubos[i]!, cid), what, timeoutMs, 500).catch(async (err: unknown) => {
    const status = await Promise.all(peers.map(async (p, j) => `peer ${j + 1}: ${(await p.ctl(['status', cid], { timeoutMs: 30_000 })).stdout.trim()}`))
    const swarm = (await kubos[i]!.ipfs(['swarm', 'peers'])).stdout.trim()
    const lines = peers[i]!.logs.split('\n').filter((l) => l.includes(cid)).slice(-10)
    throw new Error(`${(err as Error).message}\n${status.join('\n')}\nkubo ${i + 1} swarm peers: ${swarm}\npeer ${i + 1} log:\n${lines.join('\n')}`)
  })
}

/** A random file added to kubo i without pinning it; returns its CID. */
async function addData(i: number, size = 32 * 1024): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'netns-data-'))
  await writeFile(join(dir, 'f'), randomBytes(size))
  return (await kubos[i]!.ipfsOk(['add', '-Q', '--pin=false', join(dir, 'f')])).trim()
}

async function pin(i: number, cid: string, args: string[] = []): Promise<void> {
  expectAllAlive()
  const r = await peers[i]!.ctl(['pin', 'add', '--no-status', ...args, cid], { timeoutMs: 60_000 })
  expect(`${r.code} ${r.stderr}`).toStartWith('0 ')
  expected.add(cid)
}

async function unpin(i: number, cid: string): Promise<void> {
  const r = await peers[i]!.ctl(['pin', 'rm', '--no-status', cid], { timeoutMs: 60_000 })
  expect(`${r.code} ${r.stderr}`).toStartWith('0 ')
  expected.delete(cid)
}

/** No peer exited, and none logged an uncaught error. */
function expectAllAlive(): void {
  for (const [i, p] of peers.entries()) {
    if (p.proc?.exitCode !== null) throw new Error(`peer ${i + 1} exited with ${p.proc?.exitCode}:\n${p.logs.slice(-6000)}`)
    expect(p.logs).not.toContain('The operation was aborted\n      at')
    expect(p.logs).not.toMatch(/uncaught|unhandled/i)
  }
}

/** Waits until the three pinsets hold exactly `expected`; returns how long it took (ms). */
async function converged(what: string, timeoutMs = 90_000): Promise<number> {
  const t0 = Date.now()
  let last = ''
  await waitFor(async () => {
    const sets = await Promise.all(peers.map(pinSet))
    last = sets.map((s, i) => `peer ${i + 1}: ${s === undefined ? 'error' : [...s].sort().join(',')}`).join('\n')
    return sets.every((s) => s !== undefined && s.size === expected.size && [...expected].every((c) => s.has(c)))
  }, what, timeoutMs, 500).catch((err: unknown) => {
    throw new Error(`${(err as Error).message}\nexpected: ${[...expected].sort().join(',')}\n${last}`)
  })
  return Date.now() - t0
}

/**
 * Connects the kubos to each other (the test kubos have no routing: a kubo
 * fetches only from the kubos it is connected to). A cut of the IPFS link
 * longer than kubo's keep-alive may close their connections, and nothing
 * reopens them: done again after each such heal, so that a later case does
 * not wait on blocks it cannot find (a stop's CI failed so: kubo 3 never
 * pinned the first pin of the re-pin/unpin case).
 */
async function connectKubos(): Promise<void> {
  for (const i of [1, 2]) await kubos[i]!.ipfsOk(['swarm', 'connect', kubos[0]!.swarmAddrs[0]!])
  await kubos[2]!.ipfsOk(['swarm', 'connect', kubos[1]!.swarmAddrs[0]!])
}

const why = await netnsAvailable()

beforeAll(async () => {
  if (why !== undefined) throw new Error(`these tests need network namespaces (run as root with iproute2): ${why}`)
  net = await createNetwork(3)
  for (let i = 0; i < 3; i++) {
    const h = net.hosts[i]!
    kubos[i] = await startKubo({ netns: { exec: (argv) => net!.exec(h.index, argv), swarmIp: h.ipfsIp } })
    peers[i] = await initPeer({
      ipfsApi: kubos[i]!.apiMultiaddr,
      wrap: (argv) => net!.exec(h.index, argv),
      env: {
        CLUSTER_SECRET: SECRET,
        CLUSTER_PEERNAME: `peer${i + 1}`,
        CLUSTER_LISTENMULTIADDRESS: `/ip4/${h.clusterIp}/tcp/${CLUSTER_PORT}`,
        ...FAST
      }
    })
    ids.push(JSON.parse(await Bun.file(join(peers[i]!.folder, 'identity.json')).text()).id as string)
  }
  for (const p of peers) p.env.CLUSTER_CRDT_TRUSTEDPEERS = ids.join(',')
  await connectKubos()
  await peers[0]!.start()
  await peers[1]!.start(['--bootstrap', clusterAddr(0)])
  await peers[2]!.start(['--bootstrap', clusterAddr(0)])
  await waitFor(async () => {
    for (const p of peers) if ((await peersLs(p)).length !== 3) return false
    return true
  }, 'every peer to see 3 peers', 60_000, 500)
}, 240_000)

afterAll(async () => {
  const keep = process.env.KEEP_LOGS_DIR
  if (keep !== undefined) {
    const { cp, mkdir } = await import('node:fs/promises')
    await mkdir(keep, { recursive: true })
    for (const [i, p] of peers.entries()) await cp(p.logPath, join(keep, `peer${i + 1}.log`)).catch(() => {})
  }
  for (const p of peers) await p?.destroy()
  await stopAllKubos()
  await net?.destroy()
  if (figures.length > 0) console.log(`figures (issue 15):\n  ${figures.join('\n  ')}`)
})

describe('network faults (network namespaces)', () => {
  test('a peer cut off for longer than every timeout: the others live on, keep serving, re-pin its pins; all converge after the heal', async () => {
    // pins that peer 3 holds, and one that it does not
    const onThree = [await addData(0), await addData(0)]
    await pin(0, onThree[0]!, ['--replication', '2', '--allocations', `${ids[0]},${ids[2]}`])
    await pin(1, onThree[1]!, ['--replication', '2', '--allocations', `${ids[1]},${ids[2]}`])
    const doomed = await addData(0)
    await pin(0, doomed, ['--replication', '2', '--allocations', `${ids[0]},${ids[1]}`])
    for (const c of onThree) await kuboPins(2, c, `kubo 3 to pin ${c}`)
    await converged('the pinsets before the cut')

    await net!.cut(3, 'both')
    const cutAt = Date.now()

    // the alert, then peer 3 leaves the peersets of peers 1 and 2
    const alert = `metric alert for ping: Peer: ${ids[2]}`
    await waitFor(async () => peers[0]!.logs.includes(alert) && peers[1]!.logs.includes(alert), 'the ping alert on peers 1 and 2', 60_000, 100)
    figures.push(`cut of peer 3 (both links): peers 1 and 2 logged the ping alert ${Date.now() - cutAt} ms after the cut`)
    await waitFor(async () => !(await peersLs(peers[0]!)).includes(ids[2]!), "peer 3 to leave peer 1's peerset", 60_000, 250)
    figures.push(`  and peer 1's peers ls no longer listed it ${Date.now() - cutAt} ms after the cut`)

    // the reachable peers keep serving every kind of call
    const during = await addData(0)
    await pin(0, during, ['--replication', '2'])
    await unpin(1, doomed)
    const st = await peers[0]!.ctl(['--enc', 'json', 'status', onThree[0]!], { timeoutMs: 60_000 })
    expect(st.code).toBe(0)
    const dir = await mkdtemp(join(tmpdir(), 'netns-add-'))
    await writeFile(join(dir, 'added.bin'), randomBytes(256 * 1024))
    const added = await peers[1]!.ctl(['add', '-Q', '--rmin', '2', '--rmax', '2', join(dir, 'added.bin')], { timeoutMs: 120_000 })
    expect(`${added.code} ${added.stderr}`).toStartWith('0 ')
    expected.add(added.stdout.trim())
    // peer 3, alone, still takes pins (they reach the others after the heal)
    const onIsland = await addData(2)
    await pin(2, onIsland, ['--replication', '1', '--allocations', ids[2]!])

    // re-pinning: peer 3's pins move to peers 1 and 2
    let moved = 0
    const repinStart = Date.now()
    await waitFor(async () => {
      moved = 0
      for (const c of onThree) {
        const a = await allocationsOf(peers[0]!, c)
        if (a !== undefined && !a.includes(ids[2]!) && a.length === 2) moved++
      }
      return moved === onThree.length
    }, "re-pinning of peer 3's pins", 60_000, 500)
    for (const c of onThree) {
      for (const i of [0, 1]) await kuboPins(i, c, `kubo ${i + 1} to pin ${c}`)
    }
    figures.push(`re-pinning moved ${moved}/${onThree.length} of peer 3's pins to peers 1 and 2 (${Date.now() - cutAt} ms after the cut, ${Date.now() - repinStart} ms after the alert)`)

    // hold the cut past every timeout, with calls going on
    while (Date.now() - cutAt < CUT_MS) {
      expect((await peersLs(peers[1]!)).sort()).toEqual([ids[0]!, ids[1]!].sort())
      expectAllAlive()
      await Bun.sleep(1_000)
    }
    expectAllAlive()

    await net!.heal(3, 'both')
    const took = await converged('the three pinsets to converge after the heal')
    const kuboPeers = (await kubos[2]!.ipfsOk(['swarm', 'peers'])).split('\n').filter((l) => l.trim() !== '').length
    figures.push(`after the heal kubo 3 had ${kuboPeers} swarm connection(s) left (of 2 before the cut); reconnected`)
    await connectKubos()
    figures.push(`after the heal the three pinsets were equal in ${took} ms`)
    await waitFor(async () => {
      for (const p of peers) if ((await peersLs(p)).length !== 3) return false
      return true
    }, 'every peer to see 3 peers again', 60_000, 500)
    // no permanent over-replication: as upstream, the re-pinned pins keep the
    // new allocations (replication factor 2, without peer 3) on every peer, and
    // peer 3, seeing them allocated elsewhere (remote), unpins its extra copy
    const healAt = Date.now()
    for (const c of onThree) {
      for (const p of peers) {
        await waitFor(async () => {
          const a = await allocationsOf(p, c)
          return a !== undefined && a.length === 2 && !a.includes(ids[2]!)
        }, `allocations of ${c} on every peer: 2, without peer 3`, 60_000, 500)
      }
      await waitFor(async () => !(await kuboHas(kubos[2]!, c)), `kubo 3 to drop its extra copy of ${c}`, 90_000, 500)
    }
    figures.push(`after the heal peer 3 dropped its ${onThree.length} extra copies within ${Date.now() - healAt} ms; allocations stayed at the replication factor (2)`)
    expectAllAlive()
  }, 300_000)

  // Issue 11: this case used to fail about 3 runs in 4. Cause: after a heal both peer watches
  // dial, so two peers hold two connections; when the one carrying gossipsub's streams died
  // (the connection monitor aborts it) the other stayed up and gossipsub never opened a stream
  // on it, so a peer's metrics stopped reaching another for good. The host's pubsub stream
  // keeper (src/host/pubsub-keeper.ts) re-opens them; the peers' logs say when it did.
  test('a flapping cluster link (cut/heal every few seconds, bounded): pins on both sides, equal pinsets after, nothing lost, no over-replication', async () => {
    const FLAPS = 8
    const flapAt = Date.now()
    const rf2: string[] = []
    const offThree: string[] = []
    for (let f = 0; f < FLAPS; f++) {
      await net!.cut(3, 'cluster')
      const a = await addData(0)
      await pin(0, a, ['--replication', '2'])
      rf2.push(a)
      const b = await addData(2)
      await pin(2, b, ['--replication', '1', '--allocations', ids[2]!])
      await Bun.sleep(2_000 + (f % 3) * 1_000) // the flap period itself (the fault), not a wait for the cluster
      await net!.heal(3, 'cluster')
      const c = await addData(1)
      await pin(1, c, ['--replication', '2'])
      rf2.push(c)
      // peer 3 unpins, right after the heal, a pin made on peer 2 with replication -1 (on every
      // peer, no allocations), which no ping alert re-pins. A pin with allocations races with
      // the re-pins that either side starts on its ping alerts (peers 1-2 for peer 3, peer 3
      // for peers 1-2): the CRDT keeps a put concurrent with a delete (add wins, as
      // go-ds-crdt), and the acknowledged unpin is undone (upstream does the same; not fixed).
      if (f % 2 === 0) {
        const d = await addData(1)
        await pin(1, d, ['--replication', '-1'])
        offThree.push(d)
      } else {
        const gone = offThree.shift()
        if (gone !== undefined) {
          // peer 3 may hear of that pin only now (its broadcast may have been lost in the cut)
          await waitFor(async () => (await allocationsOf(peers[2]!, gone)) !== undefined, `peer 3 to know ${gone}`, 60_000, 250)
          await unpin(2, gone)
        }
      }
      await Bun.sleep(2_000)
      expectAllAlive()
    }
    figures.push(`flapping link: ${FLAPS} cuts of 2-4 s over ${Date.now() - flapAt} ms`)
    const took = await converged('the three pinsets after the flapping link', 120_000)
    figures.push(`  after the last heal the three pinsets were equal in ${took} ms`)
    // every peer hears every other's ping metrics again (the peerset is the peers with a live ping)
    const healAt = Date.now()
    await waitFor(async () => {
      for (const p of peers) if ((await peersLs(p)).length !== 3) return false
      return true
    }, "every peer to hear the others' pings (3 peers everywhere)", 60_000, 500)
    figures.push(`  every peer listed the 3 peers ${Date.now() - healAt} ms later`)
    const repairs = peers.map((p) => (p.logs.match(/gossipsub has (no outbound stream to|dropped) peer/g) ?? []).length)
    figures.push(`  gossipsub streams re-opened by the pubsub stream keeper (peers 1-3): ${repairs.join(', ')}`)
    for (const c of rf2) {
      await waitFor(async () => {
        for (const p of peers) {
          const a = await allocationsOf(p, c)
          if (a === undefined || a.length !== 2) return false
        }
        return true
      }, `allocations of ${c}: exactly 2 on every peer`, 90_000, 500)
    }
    expectAllAlive()
  }, 300_000)

  // Issue 11: a re-pin concurrent with an unpin used to undo the unpin (the CRDT keeps a put
  // concurrent with a delete, as go-ds-crdt; upstream has the race). Our re-allocations keep the
  // pin's timestamp, and a peer that merges one concurrent with an unpin of the same pin removes
  // it (src/consensus/crdt/stale.ts).
  test('peer 3, cut off, unpins a pin that peers 1-2 have just re-pinned away from it: after the heal the unpin holds everywhere', async () => {
    const x = await addData(0)
    await pin(0, x, ['--replication', '2', '--allocations', `${ids[0]},${ids[2]}`])
    await kuboPins(2, x, 'kubo 3 to pin it')
    await converged('the pinsets before the cut')
    await net!.cut(3, 'cluster')
    const cutAt = Date.now()
    await waitFor(async () => {
      const a = await allocationsOf(peers[0]!, x)
      return a !== undefined && a.length === 2 && !a.includes(ids[2]!)
    }, `peer 1 to re-pin ${x} away from peer 3`, 60_000, 250)
    figures.push(`re-pin/unpin race: peer 1 re-pinned the pin away from peer 3 ${Date.now() - cutAt} ms after the cut`)
    // peer 3 has not heard of the re-pin: it still sees itself allocated, and unpins
    const before = await allocationsOf(peers[2]!, x)
    expect(before === undefined ? [] : before).toContain(ids[2]!)
    await unpin(2, x)
    await Bun.sleep(2_000) // the cut itself (the fault), not a wait for the cluster
    await net!.heal(3, 'cluster')
    const healAt = Date.now()
    const took = await converged('the three pinsets without the unpinned pin after the heal', 90_000)
    figures.push(`  after the heal the unpin held on every peer in ${took} ms`)
    // and it stays so: no later merge brings the re-pin back
    await Bun.sleep(5_000)
    for (const p of peers) expect((await pinSet(p))?.has(x)).toBe(false)
    const fixed = peers.filter((p) => p.logs.includes('made concurrently with its unpin')).length
    expect(fixed).toBeGreaterThanOrEqual(1)
    figures.push(`  ${fixed} peer(s) removed the stale re-pin; checked ${Date.now() - healAt} ms after the heal`)
    for (const k of kubos) await waitFor(async () => !(await kuboHas(k, x)), 'every kubo to unpin it', 60_000, 500)
    expectAllAlive()
  }, 240_000)

  test("peer 3's kubo swarm cut: the cluster keeps working and the pin completes after the heal", async () => {
    await net!.cut(3, 'ipfs')
    const cutAt = Date.now()
    const cid = await addData(0)
    // kubo 3 cannot fetch it while cut; origins let it reconnect to kubo 1 on the retries
    await pin(0, cid, ['--replication', '2', '--allocations', `${ids[2]},${ids[0]}`, '--origins', kubos[0]!.swarmAddrs[0]!])
    await kuboPins(0, cid, 'kubo 1 to pin it')
    while (Date.now() - cutAt < CUT_MS) {
      expect((await peersLs(peers[0]!)).length).toBe(3)
      const st = await peers[0]!.ctl(['--enc', 'json', 'status', cid], { timeoutMs: 60_000 })
      expect(st.code).toBe(0)
      expectAllAlive()
      await Bun.sleep(2_000)
    }
    expect(await kuboHas(kubos[2]!, cid)).toBe(false)
    await net!.heal(3, 'ipfs')
    const healAt = Date.now()
    await kuboPins(2, cid, 'kubo 3 to pin it after the heal', 90_000)
    figures.push(`kubo swarm cut of peer 3: its pin completed ${Date.now() - healAt} ms after the heal`)
    await connectKubos()
    await converged('the pinsets after the kubo cut')
    expectAllAlive()
  }, 240_000)

  test('peer 3 blackholed one way (it hears the others, they never hear it): nobody exits; all converge after', async () => {
    await net!.muteOutbound(3)
    const cutAt = Date.now()
    const alerts = (peers[0]!.logs.match(/metric alert for ping/g) ?? []).length
    await waitFor(async () => (peers[0]!.logs.match(/metric alert for ping/g) ?? []).length > alerts, 'a new ping alert on peer 1', 60_000, 100)
    figures.push(`one-way blackhole of peer 3: peer 1 logged the ping alert ${Date.now() - cutAt} ms after it began`)
    await waitFor(async () => !(await peersLs(peers[0]!)).includes(ids[2]!), "peer 3 to leave peer 1's peerset", 60_000, 250)
    const a = await addData(1)
    await pin(1, a, ['--replication', '2'])
    const st = await peers[1]!.ctl(['--enc', 'json', 'status'], { timeoutMs: 60_000 })
    expect(st.code).toBe(0)
    const onMuted = await addData(2)
    await pin(2, onMuted, ['--replication', '1', '--allocations', ids[2]!])
    while (Date.now() - cutAt < CUT_MS) {
      expect((await peersLs(peers[0]!)).length).toBe(2)
      expectAllAlive()
      await Bun.sleep(1_000)
    }
    await net!.unmuteOutbound(3)
    const took = await converged('the pinsets after the one-way blackhole')
    figures.push(`after the one-way blackhole the pinsets were equal in ${took} ms`)
    expectAllAlive()
  }, 240_000)
})
