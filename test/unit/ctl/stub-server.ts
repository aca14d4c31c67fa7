/**
 * A small Hono app speaking the REST API wire protocol with canned data,
 * served on 127.0.0.1 (port 0) or a unix socket with the project's
 * node:http listener (so streams carry real `X-Stream-Error` trailers).
 * Records what it received for the tests to check.
 */
import { Hono } from 'hono'
import { CID } from 'multiformats/cid'
import { streamResponse } from '../../../src/api/rest/stream.ts'
import { type HttpListener, type ListenAddress, listenHttp } from '../../../src/runtime/http.ts'
import type { GlobalPinInfo, ID, Pin, TrackerStatus } from '../../../src/types/index.ts'
import { defaultPinOptions } from '../../../src/types/index.ts'
import {
  alertToJSON,
  globalPinInfoToJSON,
  globalRepoGCToJSON,
  idToJSON,
  metricToJSON,
  pinToJSON
} from '../../../src/types/json.ts'

export const PEER1 = '12D3KooWBnXhwgLSU5NW8a4M1LdeBmxBgfaEDrGt28jb5V1GMoNF'
export const PEER2 = '12D3KooWKpWnHWgeMsCV8HUz1o5o8TSvNx38cwFA6GgBZ6iHNBnW'
export const CID1 = 'QmXZrtE5jQwXNqCJMfHUTQkvhQ4ZAnqMnmzFMJfLewuabc'
export const CID2 = 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy'
/** a CID the stub does not know: 404 on status and allocation. */
export const MISSING = 'bafkreidvbhs33ighmljlvr7zbv2ywwzcmp5adtf4kqvlly67cy56bdtmve'
/** a CID whose status is always pin_error. */
export const FAILING = 'bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4'
export const TS = '2024-03-04T05:06:07Z'

export function makeId(id: string, name: string): ID {
  return {
    id,
    addresses: [`/ip4/127.0.0.1/tcp/9096/p2p/${id}`],
    clusterPeers: [PEER1, PEER2],
    clusterPeersAddresses: [],
    version: '1.1.6',
    commit: '',
    rpcProtocolVersion: '/ipfscluster/1.0/rpc',
    error: '',
    ipfs: { id: 'QmIpfs', addresses: ['/ip4/127.0.0.1/tcp/4001'], error: '' },
    peername: name
  }
}

export function makePin(cid: string, over: Partial<Pin> = {}): Pin {
  return {
    ...defaultPinOptions(),
    cid: CID.parse(cid),
    type: 'pin',
    allocations: [PEER1],
    maxDepth: -1,
    reference: null,
    timestamp: new Date(TS),
    replicationFactorMin: 1,
    replicationFactorMax: 1,
    ...over
  }
}

export function makeGpi(cid: string, status: TrackerStatus): GlobalPinInfo {
  return {
    cid: CID.parse(cid),
    name: 'n',
    allocations: [PEER1],
    origins: [],
    created: new Date(TS),
    metadata: {},
    peerMap: {
      [PEER1]: {
        peerName: 'peer1',
        ipfsPeerId: 'QmIpfs',
        ipfsPeerAddresses: [],
        status,
        timestamp: new Date(TS),
        error: status === 'pin_error' ? 'boom' : '',
        attemptCount: 1,
        priorityPin: false
      }
    }
  }
}

async function* items<T>(list: T[], failAfter?: string): AsyncGenerator<T> {
  for (const x of list) yield x
  if (failAfter !== undefined) throw new Error(failAfter)
}

export interface Stub {
  url: string
  address: ListenAddress
  /** requests seen: `METHOD /path?query` */
  seen: string[]
  /** Authorization headers seen. */
  auth: (string | undefined)[]
  /** status polls per CID (the 3rd poll of CID1 answers pinned). */
  polls: Map<string, number>
  /** while true, every request waits until `release()`. */
  hang: boolean
  /** releases waiting requests. */
  release(): void
  close(): Promise<void>
}

/** Starts the stub on 127.0.0.1:0, or on `unixPath`. */
export async function startStub(unixPath?: string): Promise<Stub> {
  const seen: string[] = []
  const auth: (string | undefined)[] = []
  const polls = new Map<string, number>()
  let release!: () => void
  const released = new Promise<void>((r) => {
    release = r
  })
  const stub: Stub = {
    url: '',
    address: { kind: 'tcp', host: '127.0.0.1', port: 0 },
    seen,
    auth,
    polls,
    hang: false,
    release: () => release(),
    close: async () => {}
  }
  const app = new Hono()
  app.use(async (c, next) => {
    const u = new URL(c.req.url)
    seen.push(`${c.req.method} ${u.pathname}${u.search}`)
    auth.push(c.req.header('authorization'))
    if (stub.hang) await released
    await next()
  })
  const notFound = { code: 404, message: 'pin is not part of the pinset' }
  app.get('/id', (c) => c.json(idToJSON(makeId(PEER1, 'peer1'))))
  app.get('/version', (c) => c.json({ version: '1.1.6' }))
  app.get('/peers', () => streamResponse(items([makeId(PEER1, 'peer1'), makeId(PEER2, 'peer2')]), idToJSON))
  app.delete('/peers/:pid', (c) => c.body(null, 204))
  app.get('/allocations', async (c) => {
    if (c.req.query('filter') === 'meta-pin') return c.body(null, 204)
    return streamResponse(items([makePin(CID1, { name: 'one' }), makePin(CID2, { name: 'two' })]), pinToJSON)
  })
  app.get('/allocations/:cid', (c) =>
    c.req.param('cid') === MISSING ? c.json(notFound, 404) : c.json(pinToJSON(makePin(c.req.param('cid'))))
  )
  app.get('/pins', async (c) => {
    const cids = c.req.query('cids')
    if (cids !== undefined && cids !== '') {
      return streamResponse(items(cids.split(',').map((x) => makeGpi(x, 'pinned'))), globalPinInfoToJSON)
    }
    if (c.req.query('filter') === 'pin_error') {
      return streamResponse(items([makeGpi(FAILING, 'pin_error')]), globalPinInfoToJSON)
    }
    // one item, then a failure reported in the trailer
    return streamResponse(items([makeGpi(CID1, 'pinned')], 'peer2: connection lost'), globalPinInfoToJSON)
  })
  app.get('/pins/:cid', (c) => {
    const cid = c.req.param('cid')
    if (cid === MISSING) return c.json(notFound, 404)
    if (cid === FAILING) return c.json(globalPinInfoToJSON(makeGpi(cid, 'pin_error')))
    const n = (polls.get(cid) ?? 0) + 1
    polls.set(cid, n)
    if (cid === CID2) return c.json(globalPinInfoToJSON(makeGpi(cid, 'pinning')))
    return c.json(globalPinInfoToJSON(makeGpi(cid, n >= 3 ? 'pinned' : 'pinning')))
  })
  const pinFromReq = (cid: string, q: URLSearchParams): Pin => {
    const meta: Record<string, string> = {}
    for (const [k, v] of q) if (k.startsWith('meta-')) meta[k.slice(5)] = v
    const exp = q.get('expire-at')
    return makePin(cid, {
      name: q.get('name') ?? '',
      replicationFactorMin: Number(q.get('replication-min') ?? 0),
      replicationFactorMax: Number(q.get('replication-max') ?? 0),
      mode: q.get('mode') === 'direct' ? 'direct' : 'recursive',
      maxDepth: q.get('mode') === 'direct' ? 0 : -1,
      metadata: meta,
      expireAt: exp === null ? null : new Date(exp),
      pinUpdate: q.get('pin-update') === null ? null : CID.parse(q.get('pin-update')!)
    })
  }
  app.post('/pins/recover', () => streamResponse(items([makeGpi(CID1, 'pinned'), makeGpi(CID2, 'pinned')]), globalPinInfoToJSON))
  app.post('/pins/:cid/recover', (c) => c.json(globalPinInfoToJSON(makeGpi(c.req.param('cid'), 'pinned'))))
  app.post('/pins/ipfs/:cid', (c) => {
    const cid = c.req.param('cid')
    if (cid === MISSING) return c.json({ code: 500, message: 'not enough peers to allocate CID' }, 500)
    return c.json(pinToJSON(pinFromReq(cid, new URL(c.req.url).searchParams)))
  })
  app.post('/pins/:cid', (c) => c.json(pinToJSON(pinFromReq(c.req.param('cid'), new URL(c.req.url).searchParams))))
  app.delete('/pins/ipfs/:cid', (c) =>
    c.req.param('cid') === MISSING ? c.json(notFound, 404) : c.json(pinToJSON(makePin(c.req.param('cid'))))
  )
  app.post('/ipfs/gc', (c) =>
    c.json(
      globalRepoGCToJSON({
        peerMap: { [PEER1]: { peer: PEER1, peername: 'peer1', keys: [{ key: CID.parse(CID1), error: '' }], error: '' } }
      })
    )
  )
  const metric = {
    name: 'freespace',
    peer: PEER1,
    value: '2000',
    expire: (Date.now() + 3_600_000) * 1e6,
    valid: true,
    weight: 2000,
    partitionable: false,
    receivedAt: Date.now() * 1e6
  }
  app.get('/monitor/metrics', (c) => c.json(['freespace', 'ping']))
  app.get('/monitor/metrics/:name', (c) => c.json([metricToJSON({ ...metric, name: c.req.param('name') })]))
  app.get('/health/alerts', (c) =>
    c.json([alertToJSON({ ...metric, name: 'ping', expire: 0, triggeredAt: new Date(Date.now() - 3_600_000) })])
  )
  app.get('/health/bandwidth', (c) => c.json({ '/ipfs/id/1.0.0': { total_in: 1500, total_out: 20, rate_in: 1, rate_out: 0 } }))
  app.get('/health/graph', (c) =>
    c.json({
      cluster_id: PEER1,
      id_to_peername: { [PEER1]: 'peer1' },
      ipfs_links: { QmIpfs: [] },
      cluster_links: { [PEER1]: [] },
      cluster_trust_links: {},
      cluster_to_ipfs: { [PEER1]: 'QmIpfs' }
    })
  )
  app.get('/health', (c) => c.body(null, 204))
  app.post('/token', (c) => c.json({ token: 'tok' }))
  app.get('/notjson', (c) => c.text('404 page not found', 404))
  const listener: HttpListener = await listenHttp({
    fetch: app.fetch,
    address: unixPath !== undefined ? { kind: 'unix', path: unixPath } : { kind: 'tcp', host: '127.0.0.1', port: 0 }
  })
  const a = listener.address
  const url = a.kind === 'tcp' ? `/ip4/127.0.0.1/tcp/${a.port}` : `/unix${a.path}`
  stub.url = url
  stub.address = a
  stub.close = async () => {
    release()
    await listener.close(100)
  }
  return stub
}
