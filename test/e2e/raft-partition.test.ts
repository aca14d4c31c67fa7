/**
 * e2e, raft under a network partition: 3 peers `--consensus raft` (compiled
 * binary), each with its own real kubo, each in its own network namespace
 * (test/helpers/netns.ts). Peer 3 is cut off: peers 1 and 2 keep committing,
 * peer 3 cannot commit anything; after the heal peer 3 catches up and every
 * acknowledged pin is in every state.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { CID } from 'multiformats/cid'
import { identity } from 'multiformats/hashes/identity'
import { type ClusterPeer, FAST_TIMINGS, initPeer, type Kubo, startKubo, stopAllKubos, waitFor } from '../../scripts/launcher/index.ts'
import { createNetwork, type NetnsNetwork, netnsAvailable } from '../helpers/netns.ts'

const SECRET = randomBytes(32).toString('hex')
const CLUSTER_PORT = 9096
let net: NetnsNetwork | undefined
const kubos: Kubo[] = []
const peers: ClusterPeer[] = []
const ids: string[] = []
const acked = new Set<string>()

const clusterAddr = (i: number): string => `/ip4/${net!.hosts[i]!.clusterIp}/tcp/${CLUSTER_PORT}/p2p/${ids[i]}`
const newCid = (): string => CID.createV1(0x55, identity.digest(randomBytes(24))).toString()

/** POST /pins/<cid> through ctl (inside the peer's namespace); true when acknowledged. */
async function pin(i: number, cid: string): Promise<boolean> {
  const r = await peers[i]!.ctl(['pin', 'add', cid], { timeoutMs: 120_000 })
  if (r.code === 0) acked.add(cid)
  return r.code === 0
}

async function pinSet(i: number): Promise<Set<string>> {
  const r = await peers[i]!.ctl(['--enc', 'json', 'pin', 'ls'], { timeoutMs: 30_000 })
  return new Set([...r.stdout.matchAll(/"cid":\s*"([^"]+)"/g)].map((m) => m[1]!))
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
      initArgs: ['--consensus', 'raft'],
      wrap: (argv) => net!.exec(h.index, argv),
      env: {
        CLUSTER_SECRET: SECRET,
        CLUSTER_PEERNAME: `raft${i + 1}`,
        CLUSTER_LISTENMULTIADDRESS: `/ip4/${h.clusterIp}/tcp/${CLUSTER_PORT}`,
        CLUSTER_RAFT_WAITFORLEADERTIMEOUT: '5s',
        ...FAST_TIMINGS
      }
    })
    ids.push(JSON.parse(await Bun.file(join(peers[i]!.folder, 'identity.json')).text()).id as string)
  }
  await peers[0]!.start()
  await peers[1]!.start(['--bootstrap', clusterAddr(0)])
  await peers[2]!.start(['--bootstrap', clusterAddr(0)])
  await waitFor(async () => {
    for (const p of peers) {
      const r = await p.ctl(['--enc', 'json', 'peers', 'ls'])
      if ((r.stdout.match(/"peername"/g) ?? []).length < 3) return false
    }
    return true
  }, 'every peer to list 3 raft peers', 90_000, 500)
}, 240_000)

afterAll(async () => {
  for (const p of peers) await p?.destroy()
  await stopAllKubos()
  await net?.destroy()
})

describe('raft: a partitioned peer', () => {
  test('cannot commit while cut off; the majority goes on; it catches up after the heal', async () => {
    for (let i = 0; i < 3; i++) expect(await pin(i, newCid())).toBe(true)
    await net!.cut(3, 'both')
    // the majority side keeps committing (a new leader if peer 3 led)
    for (let k = 0; k < 5; k++) expect(await waitFor(() => pin(k % 2, newCid()), 'a commit on the majority side', 60_000, 500)).toBe(true)
    // the cut-off peer cannot commit (not acknowledged; a write that was not
    // acknowledged may still be applied later, as in any Raft)
    const lonely = newCid()
    expect(await pin(2, lonely)).toBe(false)
    await net!.heal(3, 'both')
    await waitFor(async () => {
      const have = await pinSet(2)
      return [...acked].every((c) => have.has(c))
    }, 'peer 3 to catch up after the heal', 90_000, 500)
    // and it commits again
    expect(await waitFor(() => pin(2, newCid()), 'a commit from peer 3 after the heal', 60_000, 500)).toBe(true)
  }, 300_000)
})
