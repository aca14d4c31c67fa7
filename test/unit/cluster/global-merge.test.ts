/**
 * The global status merge (`Cluster.statusAll` across peers, upstream
 * `globalPinInfoStream`) against a reference built in the test from each
 * peer's own listing: pins some peers do not know, a peer that is down, a
 * peer whose stream fails half-way, a peer that stays silent; every CID
 * once, each peer's entry as that peer reported it, `cluster_error` for a
 * failed peer in every CID it did not report.
 */
import { describe, expect, test } from 'bun:test'
import type { GlobalPinInfo, PinInfo, TrackerStatus } from '../../../src/types/index.ts'
import { type FakePeer, makeCid, makePin, Net, StubState, testPeer } from './stubs.ts'

const A = testPeer('a')
const B = testPeer('b')
const C = testPeer('c')

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const x of it) out.push(x)
  return out
}

/** 300 pins shared by all; then A, B and C each drop a different tenth, and C has 20 of its own. */
async function cluster(): Promise<FakePeer[]> {
  const st = new StubState()
  for (let i = 0; i < 300; i++) {
    const cid = await makeCid(`m-${i}`)
    st.pins.set(cid.toString(), makePin(cid, i % 3 === 0 ? [] : [A, B]))
  }
  const net = new Net()
  const peers = net.add([A, B, C], st, { copyState: true })
  const keys = [...st.pins.keys()]
  keys.forEach((k, i) => {
    if (i % 10 === 1) peers[0]!.consensus.st.pins.delete(k)
    if (i % 10 === 4) peers[1]!.consensus.st.pins.delete(k)
    if (i % 10 === 7) peers[2]!.consensus.st.pins.delete(k)
  })
  for (let i = 0; i < 20; i++) {
    const cid = await makeCid(`c-only-${i}`)
    peers[2]!.consensus.st.pins.set(cid.toString(), makePin(cid, [C]))
  }
  return peers
}

/** What each peer's tracker lists, by CID string. */
async function listings(peers: FakePeer[]): Promise<Map<string, Map<string, PinInfo>>> {
  const out = new Map<string, Map<string, PinInfo>>()
  for (const p of peers) {
    const m = new Map<string, PinInfo>()
    for await (const pi of p.tracker.statusAll(new Set())) m.set(pi.cid.toString(), pi)
    out.set(p.id, m)
  }
  return out
}

type Summary = Record<string, { name: string; allocations: string[]; peers: Record<string, { status: TrackerStatus; error: string; peerName: string }> }>

function summarize(all: GlobalPinInfo[]): Summary {
  const out: Summary = {}
  for (const g of all) {
    const key = g.cid.toString()
    expect(out[key]).toBeUndefined() // every CID once
    const peers: Summary[string]['peers'] = {}
    for (const [p, s] of Object.entries(g.peerMap)) peers[p] = { status: s.status, error: s.error === '' ? '' : 'error', peerName: s.peerName }
    out[key] = { name: g.name, allocations: [...g.allocations], peers }
  }
  return out
}

/** The reference: every CID any peer listed; a peer's own entry where it listed it, else `cluster_error` when it failed. */
function reference(lists: Map<string, Map<string, PinInfo>>, failed: Set<string>, reported: Map<string, Set<string>> = new Map()): Summary {
  const out: Summary = {}
  for (const [peer, m] of lists) {
    for (const [key, pi] of m) {
      if (failed.has(peer) && !(reported.get(peer)?.has(key) ?? false)) continue
      out[key] ??= { name: pi.name, allocations: [...pi.allocations], peers: {} }
      out[key].peers[peer] = { status: pi.pinInfo.status, error: pi.pinInfo.error === '' ? '' : 'error', peerName: pi.pinInfo.peerName }
    }
  }
  for (const entry of Object.values(out)) {
    for (const peer of failed) entry.peers[peer] ??= { status: 'cluster_error', error: 'error', peerName: `name-${peer}` }
  }
  return out
}

describe('global status merge', () => {
  test('pins some peers do not know: every CID once, each peer as it reported', async () => {
    const peers = await cluster()
    const got = summarize(await collect(peers[0]!.cluster.statusAll(new Set(), false)))
    expect(Object.keys(got).length).toBe(320)
    expect(got).toEqual(reference(await listings(peers), new Set()))
  })

  test('a filter: only the matching statuses, merged the same way', async () => {
    const peers = await cluster()
    const filter = new Set<TrackerStatus>(['remote'])
    const got = summarize(await collect(peers[0]!.cluster.statusAll(filter, false)))
    const lists = await listings(peers)
    for (const m of lists.values()) for (const [k, pi] of m) if (pi.pinInfo.status !== 'remote') m.delete(k)
    expect(got).toEqual(reference(lists, new Set()))
  })

  test('a peer that is down is cluster_error in every CID', async () => {
    const peers = await cluster()
    const net = (peers[0]!.cluster as unknown as { c: { rpc: { net: Net } } }).c.rpc.net
    net.faults.set(C, 'down')
    const got = summarize(await collect(peers[0]!.cluster.statusAll(new Set(), false)))
    const lists = await listings(peers)
    lists.delete(C)
    expect(got).toEqual(reference(lists, new Set([C])))
  })

  test('a stream failing half-way: what the peer reported stays, the rest is cluster_error', async () => {
    const peers = await cluster()
    const lists = await listings(peers)
    const b = peers[1]!
    const original = b.tracker.statusAll.bind(b.tracker)
    const reported = new Set<string>()
    b.tracker.statusAll = async function* (filter, o) {
      let n = 0
      for await (const pi of original(filter, o)) {
        if (n++ === 100) throw new Error('boom')
        reported.add(pi.cid.toString())
        yield pi
      }
    }
    const got = summarize(await collect(peers[0]!.cluster.statusAll(new Set(), false)))
    expect(reported.size).toBe(100)
    expect(got).toEqual(reference(lists, new Set([B]), new Map([[B, reported]])))
    // the CIDs only B knew and had not reported are nowhere: no peer listed them
    expect(Object.values(got).every((e) => e.peers[B] !== undefined)).toBe(true)
  })

  test('a silent peer times out and is cluster_error; the others as they reported', async () => {
    const peers = await cluster()
    const net = (peers[0]!.cluster as unknown as { c: { rpc: { net: Net } } }).c.rpc.net
    net.faults.set(B, 'hang')
    const got = summarize(await collect(peers[0]!.cluster.statusAll(new Set(), false)))
    const lists = await listings(peers)
    lists.delete(B)
    expect(got).toEqual(reference(lists, new Set([B])))
  })
})
