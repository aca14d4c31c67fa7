import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CID } from 'multiformats/cid'
import {
  ApiError,
  endpointFor,
  pinOptionsToQuery,
  RestClient,
  WaitStatusError,
  WaitTimeoutError
} from '../../../src/api/rest/client.ts'
import { setLogReporters } from '../../../src/observability/logging.ts'
import { CID1, CID2, FAILING, MISSING, PEER1, PEER2, type Stub, startStub } from './stub-server.ts'

let stub: Stub
let client: RestClient

beforeAll(async () => {
  setLogReporters([])
  stub = await startStub()
  client = new RestClient({ host: stub.url })
})
afterAll(async () => {
  setLogReporters(undefined)
  await stub.close()
})

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const x of it) out.push(x)
  return out
}

async function caught(p: Promise<unknown>): Promise<unknown> {
  try {
    await p
  } catch (err) {
    return err
  }
  throw new Error('expected a rejection')
}

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const srv = createServer()
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()))
  const port = (srv.address() as { port: number }).port
  await new Promise<void>((r) => srv.close(() => r()))
  return port
}

describe('pinOptionsToQuery', () => {
  test("upstream's query names, sorted", () => {
    const q = pinOptionsToQuery({
      replicationFactorMin: 1,
      replicationFactorMax: 2,
      name: 'a b',
      mode: 'direct',
      shardSize: 10,
      userAllocations: [PEER1, PEER2],
      expireAt: new Date('2030-01-01T00:00:00Z'),
      metadata: { k: 'v', '': 'skipped' },
      pinUpdate: CID.parse(CID1),
      origins: ['/ip4/1.2.3.4/tcp/4001/p2p/QmIpfs']
    })
    expect([...q.keys()]).toEqual([
      'expire-at',
      'meta-k',
      'mode',
      'name',
      'origins',
      'pin-update',
      'replication-max',
      'replication-min',
      'shard-size',
      'user-allocations'
    ])
    expect(q.get('user-allocations')).toBe(`${PEER1},${PEER2}`)
    expect(q.get('expire-at')).toBe('2030-01-01T00:00:00.000Z')
    expect(q.toString()).toContain('name=a+b')
    const d = pinOptionsToQuery({})
    expect(d.get('mode')).toBe('recursive')
    expect(d.has('pin-update')).toBe(false)
    expect(d.has('expire-at')).toBe(false)
  })
})

describe('endpointFor', () => {
  test('multiaddrs and URLs', () => {
    expect(endpointFor('/ip4/127.0.0.1/tcp/9094')).toEqual({ base: 'http://127.0.0.1:9094' })
    expect(endpointFor('/ip6/::1/tcp/9094', true)).toEqual({ base: 'https://[::1]:9094' })
    expect(endpointFor('/dns4/example.com/tcp/443', true)).toEqual({ base: 'https://example.com:443' })
    expect(endpointFor('/unix/tmp/api.sock')).toEqual({ base: 'http://restapi', unix: '/tmp/api.sock' })
    expect(endpointFor('/unix/%2Ftmp%2Fapi.sock')).toEqual({ base: 'http://restapi', unix: '/tmp/api.sock' })
    expect(endpointFor('http://localhost:9094/')).toEqual({ base: 'http://localhost:9094' })
    expect(() => endpointFor('not an address')).toThrow(ApiError)
  })
})

describe('RestClient', () => {
  test('id and version', async () => {
    const id = await client.id()
    expect(id.id).toBe(PEER1)
    expect(id.peername).toBe('peer1')
    expect(id.clusterPeers).toEqual([PEER1, PEER2])
    expect(await client.version()).toEqual({ version: '1.1.6' })
  })

  test('basic auth header', async () => {
    const c = new RestClient({ host: stub.url, basicAuth: { user: 'u', pass: 'p:w' } })
    await c.version()
    expect(stub.auth.at(-1)).toBe(`Basic ${btoa('u:p:w')}`)
    await client.version()
    expect(stub.auth.at(-1)).toBeUndefined()
  })

  test('peers stream', async () => {
    const peers = await collect(client.peers())
    expect(peers.map((p) => p.peername)).toEqual(['peer1', 'peer2'])
  })

  test('allocations stream with filter, 204 = empty', async () => {
    const pins = await collect(client.allocations())
    expect(pins.map((p) => p.name)).toEqual(['one', 'two'])
    expect(stub.seen.at(-1)).toBe('GET /allocations?filter=all')
    expect(await collect(client.allocations(['meta-pin']))).toEqual([])
  })

  test('X-Stream-Error trailer raises after the items', async () => {
    const got: string[] = []
    const err = await caught(
      (async () => {
        for await (const g of client.statusAll()) got.push(g.cid.toString())
      })()
    )
    expect(got).toEqual([CID1])
    expect(err).toBeInstanceOf(ApiError)
    expect((err as ApiError).code).toBe(500)
    expect((err as ApiError).message).toBe('peer2: connection lost')
  })

  test('statusAll with cids and filter', async () => {
    const gs = await collect(client.statusAll('', true, [CID.parse(CID1), CID.parse(CID2)]))
    expect(gs.map((g) => g.cid.toString())).toEqual([CID1, CID2])
    expect(stub.seen.at(-1)).toBe(`GET /pins?local=true&filter=&cids=${CID1},${CID2}`)
    const errs = await collect(client.statusAll('pin_error'))
    expect(errs[0]?.peerMap[PEER1]?.status).toBe('pin_error')
  })

  test('error body becomes ApiError with its code', async () => {
    const err = await caught(client.status(CID.parse(MISSING)))
    expect(err).toBeInstanceOf(ApiError)
    expect((err as ApiError).name).toBe('ApiError')
    expect((err as ApiError).code).toBe(404)
    expect((err as ApiError).message).toBe('pin is not part of the pinset')
  })

  test('pin by CID and by path send the options', async () => {
    const p = await client.pin(CID.parse(CID1), { name: 'x', replicationFactorMin: 2, replicationFactorMax: 3, metadata: { a: 'b' } })
    expect(p.name).toBe('x')
    expect(p.replicationFactorMin).toBe(2)
    expect(p.metadata).toEqual({ a: 'b' })
    expect(stub.seen.at(-1)).toStartWith(`POST /pins/${CID1}?`)
    const q = await client.pin(CID2, { mode: 'direct' })
    expect(q.mode).toBe('direct')
    expect(stub.seen.at(-1)).toStartWith(`POST /pins/ipfs/${CID2}?`)
    const u = await client.pinUpdate(CID.parse(CID1), CID2)
    expect(u.pinUpdate?.toString()).toBe(CID1)
    const r = await client.unpin(`/ipfs/${CID2}`)
    expect(r.cid.toString()).toBe(CID2)
    expect(stub.seen.at(-1)).toBe(`DELETE /pins/ipfs/${CID2}`)
    expect(await caught(client.pin('/foo/bar'))).toBeInstanceOf(ApiError)
  })

  test('allocation, recover, recoverAll, repoGC', async () => {
    expect((await client.allocation(CID.parse(CID1))).cid.toString()).toBe(CID1)
    expect((await client.recover(CID.parse(CID1), true)).peerMap[PEER1]?.status).toBe('pinned')
    expect(stub.seen.at(-1)).toBe(`POST /pins/${CID1}/recover?local=true`)
    expect((await collect(client.recoverAll())).length).toBe(2)
    const gc = await client.repoGC()
    expect(gc.peerMap[PEER1]?.keys[0]?.key?.toString()).toBe(CID1)
  })

  test('metrics, alerts, graph, bandwidth, health, token, peer rm', async () => {
    expect(await client.metricNames()).toEqual(['freespace', 'ping'])
    const ms = await client.metrics('ping')
    expect(ms[0]?.name).toBe('ping')
    expect(await caught(client.metrics(''))).toBeInstanceOf(ApiError)
    const as = await client.alerts()
    expect(as[0]?.triggeredAt.getTime()).toBeLessThan(Date.now())
    const g = await client.graph()
    expect(g.clusterToIpfs[PEER1]).toBe('QmIpfs')
    const bw = await client.bandwidth()
    expect(bw['/ipfs/id/1.0.0']?.totalIn).toBe(1500)
    await client.health()
    expect(await client.token()).toBe('tok')
    await client.peerRm(PEER2)
    expect(stub.seen.at(-1)).toBe(`DELETE /peers/${PEER2}`)
  })

  test('connection failure is ApiError code 0; failover to the next host', async () => {
    const port = await closedPort()
    const dead = new RestClient({ host: `/ip4/127.0.0.1/tcp/${port}` })
    const err = await caught(dead.id())
    expect(err).toBeInstanceOf(ApiError)
    expect((err as ApiError).code).toBe(0)
    expect((err as ApiError).message).toBe(
      `Get "http://127.0.0.1:${port}/id": dial tcp 127.0.0.1:${port}: connect: connection refused`
    )
    const lb = new RestClient({ host: [`/ip4/127.0.0.1/tcp/${port}`, stub.url] })
    expect((await lb.id()).id).toBe(PEER1)
    // an API error does not fail over
    const lb2 = new RestClient({ host: [stub.url, `/ip4/127.0.0.1/tcp/${port}`] })
    expect(((await caught(lb2.status(CID.parse(MISSING)))) as ApiError).code).toBe(404)
  })

  test('request timeout', async () => {
    const c = new RestClient({ host: stub.url, timeoutMs: 100 })
    stub.hang = true
    try {
      const err = await caught(c.id())
      expect((err as ApiError).code).toBe(0)
      expect((err as ApiError).message).toContain('context deadline exceeded')
    } finally {
      stub.hang = false
      stub.release()
    }
  })

  test('unix socket', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ctl-unix-'))
    const u = await startStub(join(dir, 'api.sock'))
    try {
      const c = new RestClient({ host: u.url })
      expect((await c.id()).id).toBe(PEER1)
      expect((await collect(c.peers())).length).toBe(2)
    } finally {
      await u.close()
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('waitFor', () => {
  test('polls until the target status', async () => {
    stub.polls.delete(CID1)
    const g = await client.waitFor(CID.parse(CID1), { target: 'pinned', checkFreqMs: 5 })
    expect(g.peerMap[PEER1]?.status).toBe('pinned')
    expect(stub.polls.get(CID1)).toBe(3)
  })

  test('an error status fails', async () => {
    const err = await caught(client.waitFor(CID.parse(FAILING), { target: 'pinned', checkFreqMs: 5 }))
    expect(err).toBeInstanceOf(WaitStatusError)
    expect((err as Error).message).toBe('error has occurred while attempting to reach status: pinned')
  })

  test('timeout', async () => {
    const err = await caught(client.waitFor(CID.parse(CID2), { target: 'pinned', checkFreqMs: 5, timeoutMs: 50 }))
    expect(err).toBeInstanceOf(WaitTimeoutError)
  })

  test('abort', async () => {
    const ac = new AbortController()
    const p = client.waitFor(CID.parse(CID2), { target: 'pinned', checkFreqMs: 5, signal: ac.signal })
    ac.abort()
    expect(await caught(p)).toBeInstanceOf(ApiError)
  })
})
