/**
 * Raft consensus alone, in process: three `RaftConsensus` on SQLite
 * datastores (synchronous=FULL: every Ready is fsynced) joined by the
 * in-process transport (messages through the wire codec), upstream's
 * default timings. Prints commit latency through a follower (one client,
 * p50/p99) and throughput with 16 clients spread over the three peers.
 * Asserts nothing. `bun bench/raft.ts` (BENCH_RAFT_PINS=800 by default).
 * The e2e figures (test/e2e/raft.test.ts) add the REST API, the Cluster and
 * the libp2p RPC forwarding on top of this.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CID } from 'multiformats/cid'
import { identity } from 'multiformats/hashes/identity'
import { RaftConsensus } from '../src/consensus/raft/consensus.ts'
import { memoryRaftNetwork } from '../src/consensus/raft/transport.ts'
import { openDatastore, type OpenedDatastore } from '../src/datastore/index.ts'
import { setLogReporters } from '../src/observability/logging.ts'
import { defaultPinOptions, type Pin, pinWithOpts } from '../src/types/index.ts'

const N = Number(process.env.BENCH_RAFT_PINS ?? 800)
setLogReporters([{ log: () => {} }])
const net = memoryRaftNetwork()
const peers = new Map<string, RaftConsensus>()
const stores: { ds: OpenedDatastore; dir: string }[] = []
const ids = ['A', 'B', 'C']
for (const id of ids) {
  const dir = await mkdtemp(join(tmpdir(), 'bench-raft-'))
  const ds = await openDatastore({ backend: 'sqlite', folder: dir })
  stores.push({ ds, dir })
  const c = new RaftConsensus(
    {
      peerId: id,
      initPeerset: ids,
      namespace: '/r',
      waitForLeaderTimeoutMs: 15_000,
      commitRetries: 1,
      commitRetryDelayMs: 200,
      heartbeatTimeoutMs: 1000,
      electionTimeoutMs: 1000,
      leaderLeaseTimeoutMs: 500,
      maxAppendEntries: 64,
      trailingLogs: 10240,
      snapshotIntervalMs: 120_000,
      snapshotThreshold: 8192
    },
    { datastore: ds.datastore, transport: net.transport(id), forward: async (l, op, arg) => peers.get(l)!.commitLocal(op, arg) }
  )
  peers.set(id, c)
}
for (const c of peers.values()) await c.start()
for (const c of peers.values()) await c.ready()
let seq = 0
const pin = (): Pin => pinWithOpts(CID.createV1(0x55, identity.digest(new TextEncoder().encode(`bench-${seq++}`))), defaultPinOptions())
const leader = ids.find((id) => peers.get(id)!.status()?.role === 'leader')!
const follower = ids.find((id) => id !== leader)!
const lat: number[] = []
for (let i = 0; i < 100; i++) {
  const t = performance.now()
  await peers.get(follower)!.logPin(pin())
  lat.push(performance.now() - t)
}
lat.sort((a, b) => a - b)
let next = 0
const t0 = performance.now()
await Promise.all(
  Array.from({ length: 16 }, async () => {
    while (next < N) {
      const i = next++
      await peers.get(ids[i % 3]!)!.logPin(pin())
    }
  })
)
const secs = (performance.now() - t0) / 1000
console.log(`raft (in process, sqlite fsync, 3 peers): commit latency via a follower p50 ${lat[50]!.toFixed(1)} ms, p99 ${lat[98]!.toFixed(1)} ms`)
console.log(`raft (in process, sqlite fsync, 3 peers): ${(N / secs).toFixed(0)} pins/s with 16 clients (${N} pins in ${secs.toFixed(2)} s)`)
for (const c of peers.values()) await c.stop()
for (const s of stores) {
  await s.ds.close()
  await rm(s.dir, { recursive: true, force: true })
}
