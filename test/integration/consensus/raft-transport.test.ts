/**
 * The Raft transport over real cluster hosts on loopback
 * (src/consensus/raft/transport.ts): messages arrive decoded; frames that do
 * not decode, or that claim another sender, are dropped and logged, and the
 * stream keeps serving the frames after them.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test'
import { peerIdFromString } from '@libp2p/peer-id'
import { lpStream } from '@libp2p/utils'
import { encodeMessage } from '../../../src/consensus/raft/codec.ts'
import { libp2pRaftTransport, RAFT_PROTOCOL, type RaftTransport } from '../../../src/consensus/raft/transport.ts'
import type { RaftMessage } from '../../../src/consensus/raft/types.ts'
import type { ClusterHost } from '../../../src/host/index.ts'
import { setLogLevels } from '../../../src/observability/logging.ts'
import { captureLogs, makeHost, tempDir } from '../host/helpers.ts'

let dir: Awaited<ReturnType<typeof tempDir>>
let a: ClusterHost
let b: ClusterHost
let ta: RaftTransport
let tb: RaftTransport
const gotB: RaftMessage[] = []
const gotA: RaftMessage[] = []

beforeAll(async () => {
  dir = await tempDir()
  a = await makeHost(dir.path, 'a')
  b = await makeHost(dir.path, 'b')
  await a.start()
  await b.start()
  await a.libp2p.dial(b.libp2p.getMultiaddrs()[0]!)
  ta = libp2pRaftTransport({ networkTimeoutMs: 5000 }, { libp2p: a.libp2p })
  tb = libp2pRaftTransport({ networkTimeoutMs: 5000 }, { libp2p: b.libp2p })
  await ta.start((m) => gotA.push(m))
  await tb.start((m) => gotB.push(m))
}, 30_000)

afterAll(async () => {
  await ta.stop()
  await tb.stop()
  await a.stop()
  await b.stop()
  await dir.cleanup()
})

async function until(what: string, fn: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!fn()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

test('messages travel both ways, decoded, in order', async () => {
  const ida = a.libp2p.peerId.toString()
  const idb = b.libp2p.peerId.toString()
  for (let i = 1; i <= 20; i++) ta.send({ type: 'vote_resp', from: ida, to: idb, term: i, granted: true })
  tb.send({ type: 'timeout_now', from: idb, to: ida, term: 9 })
  await until('20 messages on b', () => gotB.length === 20)
  await until('1 message on a', () => gotA.length === 1)
  expect(gotB.map((m) => m.term)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1))
  expect(gotA[0]).toEqual({ type: 'timeout_now', from: idb, to: ida, term: 9 })
})

test('malformed and spoofed frames are dropped and logged; the stream goes on', async () => {
  const logs = captureLogs()
  setLogLevels('info') // an earlier file in the same process may have set another level
  try {
    const ida = a.libp2p.peerId.toString()
    const idb = b.libp2p.peerId.toString()
    const before = gotB.length
    const stream = await a.libp2p.dialProtocol(peerIdFromString(idb), RAFT_PROTOCOL)
    const lp = lpStream(stream)
    await lp.write(new Uint8Array([0xc1, 0xff])) // not msgpack
    await lp.write(encodeMessage({ type: 'vote_resp', from: 'someone-else', to: idb, term: 1, granted: true })) // spoofed sender
    await lp.write(encodeMessage({ type: 'vote_resp', from: ida, to: idb, term: 77, granted: false })) // fine
    await until('the good frame', () => gotB.length === before + 1)
    expect(gotB.at(-1)).toMatchObject({ term: 77 })
    await stream.close()
    expect(logs.lines.some((l) => l.includes('dropping a malformed raft message') && l.includes(ida))).toBe(true)
  } finally {
    logs.restore()
  }
})

test('a snapshot larger than the read buffer default (4 MiB) travels whole', async () => {
  const ida = a.libp2p.peerId.toString()
  const idb = b.libp2p.peerId.toString()
  const before = gotB.length
  // a 1M-pin state is hundreds of MiB; 24 MiB is six times libp2p's default buffer
  const data = new Uint8Array(24 * 1024 * 1024)
  for (let i = 0; i < data.length; i += 4096) data[i] = i & 0xff
  ta.send({ type: 'snapshot', from: ida, to: idb, term: 3, snapshot: { meta: { index: 10, term: 3, voters: [ida, idb] }, data } })
  await until('the snapshot on b', () => gotB.length === before + 1, 30_000)
  const m = gotB.at(-1)
  expect(m?.type).toBe('snapshot')
  const got = (m as { snapshot: { data: Uint8Array; meta: unknown } }).snapshot
  expect(got.meta).toEqual({ index: 10, term: 3, voters: [ida, idb] })
  expect(got.data.byteLength).toBe(data.byteLength)
  expect(Buffer.compare(Buffer.from(got.data), Buffer.from(data))).toBe(0)
}, 60_000)
