/** An in-memory ClusterAPI for REST API tests. */
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { NotFoundError } from '../../../src/errors.ts'
import type { AbortOptions, ClusterAPI } from '../../../src/interfaces.ts'
import type {
  Alert,
  GlobalPinInfo,
  ID,
  Metric,
  Pin,
  PinOptions,
  TrackerStatus
} from '../../../src/types/index.ts'
import { defaultPinOptions, pinWithOpts } from '../../../src/types/index.ts'

export const PEER = '12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA'
export const PEER2 = 'QmXZrtE5jQwXNqCJMfHUTQkvhQ4ZAnqMnmzFMJfLewuabc'

export async function makeCid(s: string): Promise<CID> {
  return CID.createV1(raw.code, await sha256.digest(new TextEncoder().encode(s)))
}

export function makeId(id = PEER): ID {
  return {
    id,
    addresses: ['/ip4/127.0.0.1/tcp/9096/p2p/' + id],
    clusterPeers: [id],
    clusterPeersAddresses: [],
    version: '1.1.6',
    commit: '',
    rpcProtocolVersion: '/ipfscluster/1.0/rpc',
    error: '',
    ipfs: { id: 'QmIpfs', addresses: [], error: '' },
    peername: 'peer0'
  }
}

export function gpi(cid: CID, status: TrackerStatus, local: boolean): GlobalPinInfo {
  return {
    cid,
    name: 'n',
    allocations: [],
    origins: [],
    created: new Date('2026-01-01T00:00:00Z'),
    metadata: {},
    peerMap: {
      [PEER]: {
        peerName: local ? 'local' : 'peer0',
        ipfsPeerId: 'QmIpfs',
        ipfsPeerAddresses: [],
        status,
        timestamp: new Date('2026-01-01T00:00:00Z'),
        error: '',
        attemptCount: 0,
        priorityPin: false
      }
    }
  }
}

export interface StubCluster extends ClusterAPI {
  pinset: Map<string, Pin>
  statuses: Map<string, TrackerStatus>
  calls: { method: string; args: unknown[] }[]
  /** make the next stream fail: before the first item ('before') or after it ('after'). */
  failStream: 'before' | 'after' | null
  /** counts generator closes (for laziness/disconnect tests). */
  closed: number
  /** how many items the pins() generator produced. */
  produced: number
  /** pins() yields this many synthetic pins when > 0. */
  infinitePins: boolean
}

export function stubCluster(): StubCluster {
  const s: StubCluster = {
    pinset: new Map(),
    statuses: new Map(),
    calls: [],
    failStream: null,
    closed: 0,
    produced: 0,
    infinitePins: false,
    async id() {
      return makeId()
    },
    version() {
      return '1.1.6'
    },
    async *peers() {
      yield makeId(PEER)
      yield makeId(PEER2)
    },
    async peerAdd(peer: string) {
      s.calls.push({ method: 'peerAdd', args: [peer] })
      return makeId(peer)
    },
    async peerRemove(peer: string) {
      s.calls.push({ method: 'peerRemove', args: [peer] })
      if (peer === PEER2) throw new NotFoundError('peer not found')
    },
    async pin(cid: CID, opts: PinOptions) {
      s.calls.push({ method: 'pin', args: [cid, opts] })
      const p = pinWithOpts(cid, opts)
      s.pinset.set(cid.toString(), p)
      return p
    },
    async pinPath(path: string, opts: PinOptions) {
      s.calls.push({ method: 'pinPath', args: [path, opts] })
      const cid = await makeCid(path)
      const p = pinWithOpts(cid, opts)
      s.pinset.set(cid.toString(), p)
      return p
    },
    async unpin(cid: CID) {
      const p = s.pinset.get(cid.toString())
      if (p === undefined) throw new NotFoundError()
      s.pinset.delete(cid.toString())
      return p
    },
    async unpinPath(path: string) {
      s.calls.push({ method: 'unpinPath', args: [path] })
      return pinWithOpts(await makeCid(path), defaultPinOptions())
    },
    async *pins(options?: AbortOptions) {
      try {
        if (s.failStream === 'before') throw new Error('state unavailable')
        if (s.infinitePins) {
          for (let i = 0; i < 1_000_000; i++) {
            if (options?.signal?.aborted === true) return
            s.produced++
            yield pinWithOpts(await makeCid(`inf${i}`), defaultPinOptions())
          }
          return
        }
        let n = 0
        for (const p of s.pinset.values()) {
          if (s.failStream === 'after' && n === 1) throw new Error('broken pipe in state')
          s.produced++
          n++
          yield p
        }
        if (s.failStream === 'after' && n <= 1) throw new Error('broken pipe in state')
      } finally {
        s.closed++
      }
    },
    async pinGet(cid: CID) {
      const p = s.pinset.get(cid.toString())
      if (p === undefined) throw new NotFoundError('not found')
      return p
    },
    async status(cid: CID, local: boolean) {
      s.calls.push({ method: 'status', args: [cid, local] })
      return gpi(cid, s.statuses.get(cid.toString()) ?? 'pinned', local)
    },
    async *statusAll(filter: Set<TrackerStatus>, local: boolean) {
      s.calls.push({ method: 'statusAll', args: [filter, local] })
      for (const p of s.pinset.values()) {
        const st = s.statuses.get(p.cid.toString()) ?? 'pinned'
        if (filter.size === 0 || filter.has(st)) yield gpi(p.cid, st, local)
      }
    },
    async *statusCids(cids: CID[], local: boolean) {
      s.calls.push({ method: 'statusCids', args: [cids, local] })
      for (const c of cids) yield gpi(c, 'pinned', local)
    },
    async recover(cid: CID, local: boolean) {
      return gpi(cid, 'pin_queued', local)
    },
    async *recoverAll(local: boolean) {
      for (const p of s.pinset.values()) yield gpi(p.cid, 'pin_queued', local)
    },
    async repoGC(local: boolean) {
      s.calls.push({ method: 'repoGC', args: [local] })
      return { peerMap: { [PEER]: { peer: PEER, peername: 'peer0', keys: [{ key: await makeCid('gc'), error: '' }], error: '' } } }
    },
    async repoGCLocal() {
      return { peer: PEER, peername: 'peer0', keys: [], error: '' }
    },
    alerts(): Alert[] {
      return [{ ...metric('ping'), triggeredAt: new Date('2026-01-01T00:00:00Z') }]
    },
    metricNames() {
      return ['ping', 'freespace']
    },
    async metrics(name: string) {
      return [metric(name)]
    },
    async connectGraph() {
      return {
        clusterId: PEER,
        idToPeername: { [PEER]: 'peer0' },
        ipfsLinks: {},
        clusterLinks: { [PEER]: [] },
        clusterTrustLinks: { [PEER]: true },
        clusterToIpfs: { [PEER]: 'QmIpfs' }
      }
    },
    bandwidthByProtocol() {
      return { '/ipfs/id/1.0.0': { total_in: 1, total_out: 2, rate_in: 0.5, rate_out: 0.25 } }
    }
  }
  return s
}

function metric(name: string): Metric {
  return { name, peer: PEER, value: '1', expire: 1_700_000_000_000_000_000, valid: true, weight: 0, partitionable: false, receivedAt: 1 }
}
