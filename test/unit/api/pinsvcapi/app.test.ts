/** The Pinning Service API app over a stubbed three-peer cluster, through `app.request()`. */
import { beforeEach, describe, expect, test } from 'bun:test'
import type { CID } from 'multiformats/cid'
import { createdOf, createPinSvcApp, formatCreated, type PinSvcApiInit } from '../../../../src/api/pinsvcapi/index.ts'
import { DEFAULT_CORS, generateToken } from '../../../../src/api/rest/index.ts'
import type { Hono } from 'hono'
import { cidToKeyString } from '../../../../src/state/keys.ts'
import {
  expectFailure,
  expectPinResults,
  expectPinStatus,
  IPFS_ADDR,
  makeCid,
  PEERS,
  type PinSvcStub,
  pinSvcStub,
  storedPin
} from './stub.ts'

function init(credentials: Record<string, string> | null = null): PinSvcApiInit {
  return {
    basicAuthCredentials: credentials,
    headers: {},
    corsAllowedOrigins: [...DEFAULT_CORS.corsAllowedOrigins],
    corsAllowedMethods: [...DEFAULT_CORS.corsAllowedMethods],
    corsAllowedHeaders: [...DEFAULT_CORS.corsAllowedHeaders],
    corsExposedHeaders: [...DEFAULT_CORS.corsExposedHeaders],
    corsAllowCredentials: DEFAULT_CORS.corsAllowCredentials,
    corsMaxAgeMs: DEFAULT_CORS.corsMaxAgeMs
  }
}

for (const indexed of [false, true]) {
describe(indexed ? 'from the pins-by-creation index' : 'from the status stream', () => {
  let stub: PinSvcStub
  let app: Hono

  beforeEach(() => {
    stub = pinSvcStub(indexed)
    app = createPinSvcApp(init(), { cluster: stub })
  })

  async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: unknown; res: Response }> {
    const res = await app.request(path, {
      method,
      headers: { 'Content-Type': 'application/json', ...headers },
      ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {})
    })
    const text = await res.text()
    return { status: res.status, json: text === '' ? undefined : JSON.parse(text), res }
  }

  async function list(query: string): Promise<{ count: number; results: { requestid: string; status: string; created: string; pin: { name?: string } }[] }> {
    const r = await call('GET', `/pins${query}`)
    expect(r.status).toBe(200)
    return expectPinResults(r.json)
  }

  async function expectBad(method: string, path: string, body?: unknown, status = 400): Promise<string> {
    const before = stub.pinset.size
    const r = await call(method, path, body)
    expect(r.status).toBe(status)
    expect(r.res.headers.get('Content-Type')).toContain('application/json')
    const msg = expectFailure(r.json)
    expect(stub.pinset.size).toBe(before)
    expect(stub.calls.filter((c) => c.method === 'pin' || c.method === 'unpin')).toEqual([])
    return msg
  }

  /** Five pins a second apart: a..e, a oldest. */
  async function fivePins(): Promise<CID[]> {
    const cids: CID[] = []
    const names = ['Alpha', 'beta', 'Gamma', 'delta', 'alphabet']
    for (let i = 0; i < 5; i++) {
      const cid = await makeCid(`five-${i}`)
      cids.push(cid)
      stub.pinset.set(
        cid.toString(),
        storedPin(cid, { name: names[i]!, metadata: i % 2 === 0 ? { app: 'x', n: String(i) } : { app: 'y' }, timestamp: new Date(Date.UTC(2026, 0, 1, 0, 0, i)) })
      )
    }
    stub.statuses.set(cids[1]!.toString(), { [PEERS[0]!]: 'pin_queued' })
    stub.statuses.set(cids[2]!.toString(), { [PEERS[0]!]: 'pinning' })
    stub.statuses.set(cids[3]!.toString(), { [PEERS[0]!]: 'pin_error' })
    return cids
  }

  describe('POST /pins', () => {
    test('pins the CID and answers 202 with a PinStatus whose requestid is the CID', async () => {
      const cid = await makeCid('post')
      const r = await call('POST', '/pins', { cid: cid.toString(), name: 'doc', origins: ['/ip4/1.2.3.4/tcp/4001/p2p/12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA'], meta: { app: 'x' } })
      expect(r.status).toBe(202)
      const ps = expectPinStatus(r.json)
      expect(ps.requestid).toBe(cid.toString())
      expect(ps.status).toBe('queued')
      expect(ps.pin).toEqual({
        cid: cid.toString(),
        name: 'doc',
        origins: ['/ip4/1.2.3.4/tcp/4001/p2p/12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA'],
        meta: { app: 'x' }
      })
      expect(ps.delegates).toEqual([IPFS_ADDR(0)])
      const stored = stub.pinset.get(cid.toString())
      expect(stored?.name).toBe('doc')
      expect(stored?.metadata).toEqual({ app: 'x' })
      // the same created in POST and GET
      const g = await call('GET', `/pins/${cid}`)
      expect(g.status).toBe(200)
      expect(expectPinStatus(g.json).created).toBe(ps.created)
    })

    test('an already pinned CID answers its current status', async () => {
      const cid = await makeCid('again')
      await call('POST', '/pins', { cid: cid.toString() })
      stub.statuses.set(cid.toString(), { [PEERS[0]!]: 'pinned' })
      stub.pin = async (c) => stub.pinset.get(c.toString())!
      const r = await call('POST', '/pins', { cid: cid.toString() })
      expect(r.status).toBe(202)
      expect(expectPinStatus(r.json).status).toBe('pinned')
    })

    test('delegates fall back to this peer when no peer reports IPFS addresses', async () => {
      stub.ipfsAddresses = false
      const r = await call('POST', '/pins', { cid: (await makeCid('nodeleg')).toString() })
      expect(r.status).toBe(202)
      expect(expectPinStatus(r.json).delegates).toEqual([`/ip4/127.0.0.1/tcp/9096/p2p/${PEERS[0]}`])
    })

    test('bad bodies are 400 Failures and nothing is pinned', async () => {
      const cid = (await makeCid('bad')).toString()
      expect(await expectBad('POST', '/pins', '{not json')).toContain('error decoding request body')
      expect(await expectBad('POST', '/pins', '[]')).toContain('not a JSON object')
      expect(await expectBad('POST', '/pins', { name: 'x' })).toContain('cid is required')
      expect(await expectBad('POST', '/pins', { cid: 'garbage' })).toContain('garbage')
      expect(await expectBad('POST', '/pins', { cid: 42 })).toContain('cid')
      expect(await expectBad('POST', '/pins', { cid, name: 'n'.repeat(256) })).toContain('255')
      expect(await expectBad('POST', '/pins', { cid, name: 7 })).toContain('name')
      expect(await expectBad('POST', '/pins', { cid, origins: 'x' })).toContain('origins')
      expect(await expectBad('POST', '/pins', { cid, origins: ['/not/a/multiaddr'] })).toContain('origin')
      expect(await expectBad('POST', '/pins', { cid, origins: Array.from({ length: 21 }, (_, i) => `/ip4/1.2.3.${i}/tcp/1`) })).toContain('20')
      expect(await expectBad('POST', '/pins', { cid, meta: { a: 1 } })).toContain('meta')
      expect(await expectBad('POST', '/pins', { cid, meta: 'x' })).toContain('meta')
    })
  })

  describe('GET /pins/{requestid}', () => {
    test('answers the PinStatus; unknown and malformed ids are 404 Failures', async () => {
      const [a] = await fivePins()
      const r = await call('GET', `/pins/${a}`)
      expect(r.status).toBe(200)
      const ps = expectPinStatus(r.json)
      expect(ps).toMatchObject({ requestid: a!.toString(), status: 'pinned', pin: { cid: a!.toString(), name: 'Alpha', meta: { app: 'x', n: '0' } } })
      expect(ps.created).toBe(formatCreated(createdOf(a!, new Date(Date.UTC(2026, 0, 1)))))
      expect(ps.created.startsWith('2026-01-01T00:00:00.')).toBe(true)
      expect(ps.delegates).toEqual([IPFS_ADDR(0)])
      expectFailure((await call('GET', `/pins/${await makeCid('unknown')}`)).json)
      expect((await call('GET', `/pins/${await makeCid('unknown')}`)).status).toBe(404)
      expect(await expectBad('GET', '/pins/not-a-cid', undefined, 404)).toContain('not found')
    })

    test('a pin in the pinset that no peer reports yet is queued', async () => {
      const cid = await makeCid('fresh')
      stub.pinset.set(cid.toString(), storedPin(cid))
      stub.statuses.set(cid.toString(), { [PEERS[0]!]: 'unpinned' })
      expect(expectPinStatus((await call('GET', `/pins/${cid}`)).json).status).toBe('queued')
    })
  })

  describe('DELETE /pins/{requestid}', () => {
    test('unpins (202) and the requestid is then unknown', async () => {
      const [a] = await fivePins()
      const r = await call('DELETE', `/pins/${a}`)
      expect(r.status).toBe(202)
      expect(r.json).toBeUndefined()
      expect(stub.pinset.has(a!.toString())).toBe(false)
      expect((await call('GET', `/pins/${a}`)).status).toBe(404)
      const again = await call('DELETE', `/pins/${a}`)
      expect(again.status).toBe(404)
      expectFailure(again.json)
      expect((await call('DELETE', '/pins/nope')).status).toBe(404)
    })
  })

  describe('POST /pins/{requestid} (replace)', () => {
    test('pins the new CID as an update of the old one, unpins the old one, 202', async () => {
      const [a] = await fivePins()
      const b = await makeCid('replacement')
      const r = await call('POST', `/pins/${a}`, { cid: b.toString(), name: 'new name' })
      expect(r.status).toBe(202)
      const ps = expectPinStatus(r.json)
      expect(ps.requestid).toBe(b.toString())
      expect(ps.pin.name).toBe('new name')
      const pinCall = stub.calls.find((c) => c.method === 'pin')
      expect(pinCall).toBeDefined()
      expect((pinCall!.args[1] as { pinUpdate: CID }).pinUpdate.equals(a!)).toBe(true)
      expect(stub.pinset.has(a!.toString())).toBe(false)
      expect((await call('GET', `/pins/${a}`)).status).toBe(404)
      expect((await call('GET', `/pins/${b}`)).status).toBe(200)
    })

    test('replacing with the same CID re-pins it and keeps it', async () => {
      const [a] = await fivePins()
      const r = await call('POST', `/pins/${a}`, { cid: a!.toString(), name: 'renamed' })
      expect(r.status).toBe(202)
      expect(expectPinStatus(r.json).requestid).toBe(a!.toString())
      expect(stub.pinset.get(a!.toString())?.name).toBe('renamed')
      expect(stub.calls.some((c) => c.method === 'unpin')).toBe(false)
    })

    test('unknown requestid: 404, bad body: 400, nothing stored', async () => {
      await fivePins()
      const b = (await makeCid('b')).toString()
      expect(await expectBad('POST', `/pins/${await makeCid('missing')}`, { cid: b }, 404)).toContain('not found')
      expect(await expectBad('POST', '/pins/garbage', { cid: b }, 404)).toContain('not found')
      const [a] = [...stub.pinset.keys()]
      expect(await expectBad('POST', `/pins/${a}`, '{')).toContain('error decoding request body')
      expect(await expectBad('POST', `/pins/${a}`, { cid: 'zzz' })).toContain('zzz')
    })
  })

  describe('GET /pins filters', () => {
    test('no filter: every status, newest first, count of all matches', async () => {
      const cids = await fivePins()
      const r = await list('')
      expect(r.count).toBe(5)
      expect(r.results.map((x) => x.requestid)).toEqual([...cids].reverse().map(String))
      expect(r.results.map((x) => x.status)).toEqual(['pinned', 'failed', 'pinning', 'queued', 'pinned'])
      if (indexed) {
        expect(stub.calls.find((c) => c.method === 'statusAll')).toBeUndefined()
        expect(stub.calls.find((c) => c.method === 'pinsNewestFirst')?.args[0]).toEqual({ before: undefined, after: undefined })
      } else expect(stub.calls.find((c) => c.method === 'statusAll')?.args[0]).toEqual(new Set())
    })

    test('status', async () => {
      await fivePins()
      expect((await list('?status=pinned')).count).toBe(2)
      expect((await list('?status=queued')).results.map((x) => x.pin.name)).toEqual(['beta'])
      expect((await list('?status=pinning')).results.map((x) => x.pin.name)).toEqual(['Gamma'])
      expect((await list('?status=failed')).results.map((x) => x.pin.name)).toEqual(['delta'])
      expect((await list('?status=failed,pinned')).count).toBe(3)
      expect((await list('?status=queued%2Cpinning%2Cpinned%2Cfailed')).count).toBe(5)
      expect(await expectBad('GET', '/pins?status=invalid')).toContain('status')
      expect(await expectBad('GET', '/pins?status=pinned,nope')).toContain('nope')
      expect(await expectBad('GET', '/pins?status=')).toContain('status')
    })

    test('cid (up to 10) with the other filters', async () => {
      const cids = await fivePins()
      const r = await list(`?cid=${cids[0]},${cids[3]}`)
      expect(r.count).toBe(2)
      expect(r.results.map((x) => x.requestid)).toEqual([cids[3]!.toString(), cids[0]!.toString()])
      expect((await list(`?cid=${cids[0]},${cids[3]}&status=pinned`)).results.map((x) => x.requestid)).toEqual([cids[0]!.toString()])
      const one = await list(`?cid=${cids[0]},${cids[3]}&limit=1`)
      expect(one.count).toBe(2)
      expect(one.results.length).toBe(1)
      expect((await list(`?cid=${await makeCid('not pinned')}`)).count).toBe(0)
      const eleven = await Promise.all(Array.from({ length: 11 }, (_, i) => makeCid(`c${i}`)))
      expect(await expectBad('GET', `/pins?cid=${eleven.join(',')}`)).toContain('10')
      expect((await list(`?cid=${eleven.slice(0, 10).join(',')}`)).count).toBe(0)
      expect(await expectBad('GET', '/pins?cid=QmBad')).toContain('QmBad')
      expect(await expectBad('GET', `/pins?cid=${cids[0]},`)).toContain('cid')
    })

    test('name and match', async () => {
      await fivePins()
      const names = async (q: string): Promise<string[]> => (await list(q)).results.map((x) => x.pin.name ?? '')
      expect(await names('?name=Alpha')).toEqual(['Alpha'])
      expect(await names('?name=alpha')).toEqual([])
      expect(await names('?name=alpha&match=exact')).toEqual([])
      expect(await names('?name=alpha&match=iexact')).toEqual(['Alpha'])
      expect(await names('?name=lpha&match=partial')).toEqual(['alphabet', 'Alpha'])
      expect(await names('?name=ALPHA&match=partial')).toEqual([])
      expect(await names('?name=ALPHA&match=ipartial')).toEqual(['alphabet', 'Alpha'])
      expect(await names('?name=a&match=ipartial&status=failed')).toEqual(['delta'])
      expect(await expectBad('GET', '/pins?name=x&match=fuzzy')).toContain('match')
      expect(await expectBad('GET', `/pins?name=${'n'.repeat(256)}`)).toContain('255')
    })

    test('meta', async () => {
      await fivePins()
      expect((await list(`?meta=${encodeURIComponent('{"app":"x"}')}`)).count).toBe(3)
      expect((await list(`?meta=${encodeURIComponent('{"app":"x","n":"2"}')}`)).results.map((x) => x.pin.name)).toEqual(['Gamma'])
      expect((await list(`?meta=${encodeURIComponent('{"app":"z"}')}`)).count).toBe(0)
      expect((await list(`?meta=${encodeURIComponent('{}')}`)).count).toBe(5)
      expect(await expectBad('GET', `/pins?meta=${encodeURIComponent('{bad')}`)).toContain('meta')
      expect(await expectBad('GET', `/pins?meta=${encodeURIComponent('["x"]')}`)).toContain('meta')
      expect(await expectBad('GET', `/pins?meta=${encodeURIComponent('{"a":1}')}`)).toContain('meta')
      // the deepObject form of OpenAPI-generated clients, alone or with the JSON form
      expect((await list(`?${encodeURIComponent('meta[app]')}=x`)).count).toBe(3)
      expect((await list(`?${encodeURIComponent('meta[app]')}=x&${encodeURIComponent('meta[n]')}=2`)).results.map((x) => x.pin.name)).toEqual(['Gamma'])
      expect((await list(`?meta=${encodeURIComponent('{"app":"x"}')}&${encodeURIComponent('meta[n]')}=2`)).results.map((x) => x.pin.name)).toEqual(['Gamma'])
      expect(await expectBad('GET', `/pins?${encodeURIComponent('meta[]')}=x`)).toContain('meta')
      expect(await expectBad('GET', `/pins?meta=${encodeURIComponent('{"app":"x"}')}&${encodeURIComponent('meta[app]')}=y`)).toContain('meta')
    })

    test('before and after are strict', async () => {
      const cids = await fivePins()
      const all = await list('')
      const createdOfIdx = (i: number): string => all.results.find((x) => x.requestid === cids[i]!.toString())!.created
      const ids = async (q: string): Promise<string[]> => (await list(q)).results.map((x) => x.requestid)
      expect(await ids(`?before=${encodeURIComponent(createdOfIdx(2))}`)).toEqual([cids[1]!, cids[0]!].map(String))
      expect(await ids(`?after=${encodeURIComponent(createdOfIdx(2))}`)).toEqual([cids[4]!, cids[3]!].map(String))
      expect(await ids(`?after=${encodeURIComponent(createdOfIdx(0))}&before=${encodeURIComponent(createdOfIdx(4))}`)).toEqual(
        [cids[3]!, cids[2]!, cids[1]!].map(String)
      )
      // whole seconds and offsets are accepted
      expect(await ids('?before=2026-01-01T00:00:01Z')).toEqual([cids[0]!.toString()])
      expect(await ids('?before=2026-01-01T01:00:01%2B01:00')).toEqual([cids[0]!.toString()])
      expect(await ids('?after=2026-01-01T00:00:04Z')).toEqual([cids[4]!.toString()])
      expect(await expectBad('GET', '/pins?before=yesterday')).toContain('before')
      expect(await expectBad('GET', '/pins?after=2026-01-01')).toContain('after')
      expect(await expectBad('GET', '/pins?before=2026-01-01T00:00:00.1234567891Z')).toContain('before')
    })

    test('limit: default 10, 1 to 1000', async () => {
      for (let i = 0; i < 12; i++) {
        const cid = await makeCid(`lim${i}`)
        stub.pinset.set(cid.toString(), storedPin(cid, { timestamp: new Date(Date.UTC(2026, 0, 1, 0, 0, i)) }))
      }
      const d = await list('')
      expect(d.count).toBe(12)
      expect(d.results.length).toBe(10)
      expect((await list('?limit=1')).results.length).toBe(1)
      expect((await list('?limit=1000')).results.length).toBe(12)
      for (const bad of ['0', '1001', '-1', 'abc', '1.5', '']) expect(await expectBad('GET', `/pins?limit=${bad}`)).toContain('limit')
    })
  })

  describe('GET /pins paging with before', () => {
    /** Pages like kubo (boxo `Ls`): `before` = the oldest `created` of the last page, until count == results. */
    async function pageAll(query: string, limit: number): Promise<string[]> {
      const seen: string[] = []
      let before: string | undefined
      for (let i = 0; i < 10_000; i++) {
        const r = await list(`?limit=${limit}${query}${before !== undefined ? `&before=${encodeURIComponent(before)}` : ''}`)
        seen.push(...r.results.map((x) => x.requestid))
        if (r.count === r.results.length) return seen
        expect(r.results.length).toBeGreaterThan(0)
        before = r.results[r.results.length - 1]!.created
      }
      throw new Error('paging did not end')
    }

    test('2,500 pins, 100 per second: every pin exactly once, newest first', async () => {
      const start = Date.UTC(2026, 0, 1)
      const expected: { cid: string; key: string; created: bigint }[] = []
      for (let i = 0; i < 2500; i++) {
        const cid = await makeCid(`page-${i}`)
        const ts = new Date(start + Math.floor(i / 100) * 1000)
        stub.pinset.set(cid.toString(), storedPin(cid, { timestamp: ts }))
        expected.push({ cid: cid.toString(), key: cidToKeyString(cid), created: createdOf(cid, ts) })
      }
      // newest first, then by state key
      expected.sort((a, b) => (a.created !== b.created ? (a.created > b.created ? -1 : 1) : a.key < b.key ? -1 : 1))
      const seen = await pageAll('', 100)
      expect(seen.length).toBe(2500)
      expect(new Set(seen).size).toBe(2500)
      expect(seen).toEqual(expected.map((e) => e.cid))
      // with a filter and pages that end inside a second
      const pinnedOnly = await pageAll('&status=pinned', 333)
      expect(pinnedOnly).toEqual(seen)
    }, 60_000)

    test('kubo-sized pages (limit 10) over pins sharing seconds', async () => {
      const start = Date.UTC(2026, 0, 1)
      for (let i = 0; i < 300; i++) {
        const cid = await makeCid(`kubo-page-${i}`)
        stub.pinset.set(cid.toString(), storedPin(cid, { timestamp: new Date(start + Math.floor(i / 50) * 1000) }))
      }
      const seen = await pageAll('', 10)
      expect(seen.length).toBe(300)
      expect(new Set(seen).size).toBe(300)
    }, 60_000)

    test('a pin everywhere, pinned on all three peers, is listed once as pinned', async () => {
      const cid = await makeCid('everywhere')
      stub.pinset.set(cid.toString(), storedPin(cid, { replicationFactorMin: -1, replicationFactorMax: -1, allocations: [] }))
      const r = await list('')
      expect(r.count).toBe(1)
      expect(r.results[0]!.status).toBe('pinned')
    })

    test('pins whose created collide are never split across pages', async () => {
      // find two CIDs with the same created fraction (same second)
      const ts = new Date(Date.UTC(2026, 0, 1))
      const byCreated = new Map<bigint, CID>()
      let pair: [CID, CID] | undefined
      for (let i = 0; pair === undefined && i < 500_000; i++) {
        const cid = await makeCid(`collide-${i}`)
        const c = createdOf(cid, ts)
        const other = byCreated.get(c)
        if (other !== undefined) pair = [other, cid]
        else byCreated.set(c, cid)
      }
      expect(pair).toBeDefined()
      const [x, y] = pair!
      const shared = createdOf(x, ts)
      // 40 more pins of the same second, each with a created of its own
      const others: CID[] = []
      const taken = new Set<bigint>([shared])
      for (let i = 0; others.length < 40 && i < 100_000; i++) {
        const cid = await makeCid(`other-${i}`)
        const c = createdOf(cid, ts)
        if (taken.has(c)) continue
        taken.add(c)
        others.push(cid)
      }
      expect(others.length).toBe(40)
      for (const cid of [x, y, ...others]) stub.pinset.set(cid.toString(), storedPin(cid, { timestamp: ts }))
      // (with limit 1 a page cannot hold both: one of them is skipped, as documented)
      for (const limit of [2, 3, 5, 7, 10]) {
        const seen = await pageAll('', limit)
        expect(seen.length).toBe(42)
        expect(new Set(seen).size).toBe(42)
      }
    }, 60_000)
  })

  describe('status across the cluster', () => {
    async function statusWith(opts: { rmin: number; allocations: string[]; statuses: Record<string, string> }): Promise<number | string> {
      const cid = await makeCid(JSON.stringify(opts))
      stub.pinset.set(cid.toString(), storedPin(cid, { replicationFactorMin: opts.rmin, replicationFactorMax: 3, allocations: opts.allocations }))
      stub.statuses.set(cid.toString(), opts.statuses as never)
      const r = await call('GET', `/pins/${cid}`)
      return r.status === 200 ? expectPinStatus(r.json).status : r.status
    }
    const [p0, p1, p2] = PEERS as [string, string, string]

    test('pinned once the replication factor min is reached, failed only when it cannot be', async () => {
      const three = [p0, p1, p2]
      expect(await statusWith({ rmin: 2, allocations: three, statuses: { [p0]: 'pinned', [p1]: 'pinned', [p2]: 'pinning' } })).toBe('pinned')
      expect(await statusWith({ rmin: 2, allocations: three, statuses: { [p0]: 'pinned', [p1]: 'pin_error', [p2]: 'pinned' } })).toBe('pinned')
      expect(await statusWith({ rmin: 2, allocations: three, statuses: { [p0]: 'pinned', [p1]: 'pinning', [p2]: 'pin_queued' } })).toBe('pinning')
      expect(await statusWith({ rmin: 2, allocations: three, statuses: { [p0]: 'pinned', [p1]: 'pin_error', [p2]: 'pinning' } })).toBe('pinning')
      expect(await statusWith({ rmin: 2, allocations: three, statuses: { [p0]: 'pinned', [p1]: 'pin_error', [p2]: 'cluster_error' } })).toBe('failed')
      expect(await statusWith({ rmin: 2, allocations: three, statuses: { [p0]: 'pin_queued', [p1]: 'pin_queued', [p2]: 'pin_error' } })).toBe('queued')
      expect(await statusWith({ rmin: 1, allocations: [p0, p1], statuses: { [p0]: 'pinned', [p1]: 'pin_error' } })).toBe('pinned')
      expect(await statusWith({ rmin: 1, allocations: [p0], statuses: { [p0]: 'unexpectedly_unpinned' } })).toBe('failed')
      expect(await statusWith({ rmin: 1, allocations: [p0], statuses: { [p0]: 'pinning' } })).toBe('pinning')
    })

    test('pins everywhere: pinned on every peer that answers', async () => {
      expect(await statusWith({ rmin: -1, allocations: [], statuses: { [p0]: 'pinned', [p1]: 'pinned', [p2]: 'pinned' } })).toBe('pinned')
      expect(await statusWith({ rmin: -1, allocations: [], statuses: { [p0]: 'pinned', [p1]: 'pinned', [p2]: 'cluster_error' } })).toBe('pinned')
      expect(await statusWith({ rmin: -1, allocations: [], statuses: { [p0]: 'pinned', [p1]: 'pinning', [p2]: 'pinned' } })).toBe('pinning')
      expect(await statusWith({ rmin: -1, allocations: [], statuses: { [p0]: 'pin_error', [p1]: 'pin_error', [p2]: 'pin_error' } })).toBe('failed')
    })
  })

  describe('auth', () => {
    const creds = { admin: 's3cret', other: 'pw2' }
    beforeEach(() => {
      app = createPinSvcApp(init(creds), { cluster: stub })
    })
    const basic = (u: string, p: string): string => `Basic ${btoa(`${u}:${p}`)}`

    test('POST /token with basic credentials gives a JWT that works as a kubo key', async () => {
      const t = await call('POST', '/token', undefined, { Authorization: basic('admin', 's3cret') })
      expect(t.status).toBe(200)
      const token = (t.json as { token: string }).token
      expect(token.split('.').length).toBe(3)
      const r = await call('GET', '/pins?status=pinned', undefined, { Authorization: `Bearer ${token}` })
      expect(r.status).toBe(200)
      expectPinResults(r.json)
      const p = await call('POST', '/pins', { cid: (await makeCid('authed')).toString() }, { Authorization: `Bearer ${token}` })
      expect(p.status).toBe(202)
      expect((await call('GET', '/pins', undefined, { Authorization: basic('admin', 's3cret') })).status).toBe(200)
    })

    test('no, wrong or forged credentials: 401 Failure with challenges, nothing stored', async () => {
      const cid = (await makeCid('denied')).toString()
      const forged = await generateToken('admin', 'not the password')
      const unknownUser = await generateToken('mallory', 's3cret')
      const cases: [Record<string, string>, string][] = [
        [{}, 'no auth provided'],
        [{ Authorization: basic('admin', 'wrong') }, 'access denied'],
        [{ Authorization: 'Bearer not-a-jwt' }, 'invalid token'],
        [{ Authorization: `Bearer ${forged}` }, 'invalid token'],
        [{ Authorization: `Bearer ${unknownUser}` }, 'invalid token']
      ]
      for (const [headers, msg] of cases) {
        for (const [method, path, body] of [
          ['GET', '/pins', undefined],
          ['POST', '/pins', { cid }],
          ['GET', `/pins/${cid}`, undefined],
          ['POST', `/pins/${cid}`, { cid }],
          ['DELETE', `/pins/${cid}`, undefined]
        ] as const) {
          const r = await call(method, path, body, headers)
          expect(r.status).toBe(401)
          expect(expectFailure(r.json)).toContain(msg)
          expect(r.res.headers.get('WWW-Authenticate')).toContain('realm="Restricted IPFS Cluster API"')
        }
      }
      expect(stub.pinset.size).toBe(0)
      expect(stub.calls).toEqual([])
      expect((await call('POST', '/token', undefined, { Authorization: basic('admin', 'wrong') })).status).toBe(401)
      expect((await call('GET', '/health')).status).toBe(204)
    })

    test('without credentials configured every request passes and /token is 401', async () => {
      app = createPinSvcApp(init(null), { cluster: stub })
      expect((await call('GET', '/pins', undefined, { Authorization: 'Bearer anything' })).status).toBe(200)
      const t = await call('POST', '/token')
      expect(t.status).toBe(401)
      expectFailure(t.json)
    })
  })

  describe('other routes', () => {
    test('unknown routes and GET / are 404 Failures; a trailing slash redirects', async () => {
      for (const path of ['/', '/nope', '/pins/a/b']) {
        const r = await call('GET', path)
        expect(r.status).toBe(404)
        expectFailure(r.json)
      }
      const r = await app.request('/pins/?limit=1')
      expect(r.status).toBe(307)
      expect(r.headers.get('Location')).toBe('/pins?limit=1')
    })

    test('a cluster failure is a 500 Failure', async () => {
      stub.statusAll = async function* () {
        yield* []
        throw new Error('boom')
      }
      stub.status = async () => {
        throw new Error('boom')
      }
      await fivePins()
      const r = await call('GET', '/pins')
      expect(r.status).toBe(500)
      expect(expectFailure(r.json)).toContain('boom')
    })

    test('GET /pins reads the status stream once and keeps only the page', async () => {
      for (let i = 0; i < 300; i++) {
        const cid = await makeCid(`stream-${i}`)
        stub.pinset.set(cid.toString(), storedPin(cid, { timestamp: new Date(Date.UTC(2026, 0, 1, 0, i)) }))
      }
      const r = await list('?limit=3')
      expect(r.results.length).toBe(3)
      if (indexed) {
        // the page and a look-ahead of 100 pins: the count is a lower bound, and says more pins follow
        expect(r.count).toBe(104)
        expect(stub.calls.filter((c) => c.method === 'status').length).toBe(103)
        expect(stub.calls.filter((c) => c.method === 'statusAll').length).toBe(0)
      } else {
        expect(r.count).toBe(300)
        expect(stub.produced).toBe(300)
        expect(stub.calls.filter((c) => c.method === 'statusAll').length).toBe(1)
      }
    })
  })
})
}
