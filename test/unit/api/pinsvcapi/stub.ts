/**
 * An in-memory cluster of three peers for the Pinning Service API tests:
 * a pinset, and per pin the tracker status on each allocated peer.
 */
import { expect } from 'bun:test'
import type { CID } from 'multiformats/cid'
import type { PinStatusJSON } from '../../../../src/api/pinsvcapi/index.ts'
import { NotFoundError } from '../../../../src/errors.ts'
import type { PinSvcCluster } from '../../../../src/api/pinsvcapi/index.ts'
import type { GlobalPinInfo, PeerId, Pin, PinOptions, TrackerStatus } from '../../../../src/types/index.ts'
import { defaultPinOptions, pinWithOpts } from '../../../../src/types/index.ts'
import { makeId } from '../stub.ts'
import { MemoryDatastore } from '../../../../src/datastore/memory.ts'
import { pinToProtobuf } from '../../../../src/state/codec.ts'
import { type CreatedRange, rebuildCreatedIndex, walkCreated } from '../../../../src/state/created.ts'
import { cidToKeyString, keyStringToCid } from '../../../../src/state/keys.ts'

export { makeCid } from '../stub.ts'

export const PEERS: PeerId[] = [
  '12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA',
  '12D3KooWJWoaqZhDaoEFshF7Rh1bpY9ohihFhzcW6d69Lr2NASuq',
  '12D3KooWRBy97UB99e3J6hiPesre1MZeuNQvfan4gBziswrRJsNK'
]

export const IPFS_ADDR = (i: number): string => `/ip4/127.0.0.1/tcp/${4001 + i}/p2p/12D3KooWIpfs${i}`

export interface PinSvcStub extends PinSvcCluster {
  pinset: Map<string, Pin>
  /** cid -> peer -> status; allocated peers without an entry are `pinned`. */
  statuses: Map<string, Record<PeerId, TrackerStatus>>
  /** when false, peers report no IPFS addresses. */
  ipfsAddresses: boolean
  calls: { method: string; args: unknown[] }[]
  /** how many GlobalPinInfo statusAll produced (laziness checks). */
  produced: number
}

/** A pin as the state holds it (whole seconds), with allocations. */
export function storedPin(cid: CID, opts: Partial<PinOptions> & { timestamp?: Date; allocations?: PeerId[] } = {}): Pin {
  const { timestamp, allocations, ...rest } = opts
  const p = pinWithOpts(cid, { ...defaultPinOptions(), replicationFactorMin: 1, replicationFactorMax: 1, ...rest })
  p.allocations = allocations ?? [PEERS[0]!]
  p.timestamp = new Date(Math.floor((timestamp ?? new Date()).getTime() / 1000) * 1000)
  return p
}

/**
 * `indexed`: the stub also offers `pinsNewestFirst`, from the real
 * pins-by-creation index (src/state/created.ts) built over a memory
 * datastore from the pinset at each call, so the app takes its index path.
 */
export function pinSvcStub(indexed = false): PinSvcStub {
  const s: PinSvcStub = {
    pinset: new Map(),
    statuses: new Map(),
    ipfsAddresses: true,
    calls: [],
    produced: 0,
    async id() {
      return makeId(PEERS[0])
    },
    async pin(cid: CID, opts: PinOptions) {
      s.calls.push({ method: 'pin', args: [cid, opts] })
      let p: Pin
      if (opts.pinUpdate !== null) {
        const old = s.pinset.get(opts.pinUpdate.toString())
        if (old === undefined) throw new NotFoundError('pin-update: not part of the pinset')
        p = { ...old, cid, pinUpdate: opts.pinUpdate, name: opts.name !== '' ? opts.name : old.name, timestamp: new Date() }
      } else {
        p = storedPin(cid, { ...opts, replicationFactorMin: opts.replicationFactorMin || 1, replicationFactorMax: opts.replicationFactorMax || 1 })
        p.timestamp = new Date()
      }
      s.pinset.set(cid.toString(), { ...p, timestamp: new Date(Math.floor(p.timestamp.getTime() / 1000) * 1000) })
      s.statuses.set(cid.toString(), { [PEERS[0]!]: 'pin_queued' })
      return p
    },
    async unpin(cid: CID) {
      s.calls.push({ method: 'unpin', args: [cid] })
      const p = s.pinset.get(cid.toString())
      if (p === undefined) throw new NotFoundError(`${cid} is not pinned in the cluster`)
      s.pinset.delete(cid.toString())
      return p
    },
    async pinGet(cid: CID) {
      const p = s.pinset.get(cid.toString())
      if (p === undefined) throw new NotFoundError(`${cid} is not pinned in the cluster`)
      return p
    },
    async status(cid: CID) {
      s.calls.push({ method: 'status', args: [cid] })
      const p = s.pinset.get(cid.toString())
      if (p === undefined) return global(s, storedPin(cid), 'unpinned')
      return global(s, p)
    },
    ...(indexed
      ? {
          async pinsNewestFirst(range: CreatedRange) {
            s.calls.push({ method: 'pinsNewestFirst', args: [range] })
            const ds = new MemoryDatastore()
            const entries = [...s.pinset.values()].map((p) => ({ key: cidToKeyString(p.cid), value: pinToProtobuf(p) }))
            await rebuildCreatedIndex(ds, '/x', entries as unknown as AsyncIterable<{ key: string; value: Uint8Array }>)
            return (async function* () {
              for await (const { stateKey } of walkCreated(ds, '/x', range)) {
                const p = s.pinset.get(keyStringToCid(stateKey).toString())
                if (p !== undefined) yield p
              }
            })()
          }
        }
      : {}),
    async *statusAll(filter: Set<TrackerStatus>) {
      s.calls.push({ method: 'statusAll', args: [filter] })
      // state key order, not creation order
      const keys = [...s.pinset.keys()].sort()
      for (const k of keys) {
        const p = s.pinset.get(k)
        if (p === undefined) continue
        s.produced++
        yield global(s, p)
      }
    }
  }
  return s
}

function global(s: PinSvcStub, p: Pin, all?: TrackerStatus): GlobalPinInfo {
  const set = s.statuses.get(p.cid.toString()) ?? {}
  const dests = p.allocations.length === 0 ? PEERS : p.allocations
  const peerMap: GlobalPinInfo['peerMap'] = {}
  PEERS.forEach((peer, i) => {
    const status: TrackerStatus = all ?? (dests.includes(peer) ? (set[peer] ?? 'pinned') : 'remote')
    peerMap[peer] = {
      peerName: `peer${i}`,
      ipfsPeerId: `12D3KooWIpfs${i}`,
      ipfsPeerAddresses: s.ipfsAddresses ? [IPFS_ADDR(i)] : [],
      status,
      timestamp: new Date(),
      error: '',
      attemptCount: 0,
      priorityPin: false
    }
  })
  return {
    cid: p.cid,
    name: p.name,
    allocations: p.allocations,
    origins: p.origins,
    created: p.timestamp,
    metadata: p.metadata,
    peerMap
  }
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/

/** Checks a value against the spec's `PinStatus` schema. */
export function expectPinStatus(v: unknown): PinStatusJSON {
  const o = v as Record<string, unknown>
  expect(typeof o).toBe('object')
  for (const k of ['requestid', 'status', 'created', 'pin', 'delegates']) expect(o).toHaveProperty(k)
  expect(typeof o.requestid).toBe('string')
  expect(['queued', 'pinning', 'pinned', 'failed']).toContain(o.status as string)
  expect(o.created as string).toMatch(RFC3339)
  expect(Number.isNaN(Date.parse(o.created as string))).toBe(false)
  const pin = o.pin as Record<string, unknown>
  expect(typeof pin.cid).toBe('string')
  if (pin.name !== undefined) {
    expect(typeof pin.name).toBe('string')
    expect((pin.name as string).length).toBeLessThanOrEqual(255)
  }
  if (pin.origins !== undefined) {
    const origins = pin.origins as unknown[]
    expect(Array.isArray(origins)).toBe(true)
    expect(origins.length).toBeLessThanOrEqual(20)
    expect(new Set(origins).size).toBe(origins.length)
    for (const a of origins) expect(typeof a).toBe('string')
  }
  if (pin.meta !== undefined) for (const x of Object.values(pin.meta as object)) expect(typeof x).toBe('string')
  const delegates = o.delegates as unknown[]
  expect(Array.isArray(delegates)).toBe(true)
  expect(delegates.length).toBeGreaterThanOrEqual(1)
  expect(delegates.length).toBeLessThanOrEqual(20)
  expect(new Set(delegates).size).toBe(delegates.length)
  for (const d of delegates) expect(d as string).toMatch(/\/p2p\//)
  if (o.info !== undefined) for (const x of Object.values(o.info as object)) expect(typeof x).toBe('string')
  return o as unknown as PinStatusJSON
}

/** Checks the spec's `PinResults` schema (and each result's). */
export function expectPinResults(v: unknown): { count: number; results: PinStatusJSON[] } {
  const o = v as Record<string, unknown>
  expect(Number.isInteger(o.count)).toBe(true)
  expect(o.count as number).toBeGreaterThanOrEqual(0)
  const results = o.results as unknown[]
  expect(Array.isArray(results)).toBe(true)
  expect(results.length).toBeLessThanOrEqual(1000)
  expect(new Set(results.map((r) => JSON.stringify(r))).size).toBe(results.length)
  for (const r of results) expectPinStatus(r)
  return o as { count: number; results: PinStatusJSON[] }
}

/** Checks the spec's `Failure` schema. */
export function expectFailure(v: unknown): string {
  const o = v as { error: { reason: unknown; details?: unknown } }
  expect(typeof o.error).toBe('object')
  expect(o.error).not.toBeNull()
  expect(typeof o.error.reason).toBe('string')
  expect((o.error.reason as string).length).toBeGreaterThan(0)
  if (o.error.details !== undefined) expect(typeof o.error.details).toBe('string')
  return `${o.error.reason as string}: ${(o.error.details as string | undefined) ?? ''}`
}
