import { beforeEach, describe, expect, test } from 'bun:test'
import { FollowerModeError, InvalidArgumentError, NotFoundError } from '../../../src/errors.ts'
import { createRestApp, DEFAULT_CORS, type RestApiInit, statusOf } from '../../../src/api/rest/app.ts'
import { streamTrailers } from '../../../src/api/rest/stream.ts'
import { UnauthorizedError } from '../../../src/api/rest/auth.ts'
import { defaultPinOptions, pinWithOpts } from '../../../src/types/index.ts'
import { makeCid, PEER, PEER2, type StubCluster, stubCluster } from './stub.ts'
import { waitFor } from '../../../scripts/launcher/poll.ts'

function init(over: Partial<RestApiInit> = {}): RestApiInit {
  return { basicAuthCredentials: null, headers: {}, ...DEFAULT_CORS, corsAllowedOrigins: ['*'], corsAllowedMethods: ['GET'], corsAllowedHeaders: [], corsExposedHeaders: [...DEFAULT_CORS.corsExposedHeaders], ...over }
}

async function ndjson(res: Response): Promise<unknown[]> {
  const text = await res.text()
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l))
}

let cluster: StubCluster
let app: ReturnType<typeof createRestApp>

beforeEach(() => {
  cluster = stubCluster()
  app = createRestApp(init({ headers: { 'X-Test': ['a', 'b'] } }), { cluster })
})

describe('simple routes', () => {
  test('GET /id', async () => {
    const res = await app.request('/id')
    expect(res.status).toBe(200)
    expect(res.headers.get('Content-Type')).toBe('application/json')
    expect(res.headers.get('X-Test')).toBe('a, b')
    const j = (await res.json()) as Record<string, unknown>
    expect(j.id).toBe(PEER)
    expect(j.rpc_protocol_version).toBe('/ipfscluster/1.0/rpc')
    expect(j.cluster_peers).toEqual([PEER])
    expect(j.ipfs).toEqual({ id: 'QmIpfs', addresses: [], error: '' })
  })

  test('GET /version', async () => {
    const res = await app.request('/version')
    expect(await res.json()).toEqual({ version: '1.1.6' })
  })

  test('GET /health is 204', async () => {
    const res = await app.request('/health')
    expect(res.status).toBe(204)
  })

  test('health graph, alerts, bandwidth, metrics', async () => {
    const g = (await (await app.request('/health/graph')).json()) as Record<string, unknown>
    expect(g.cluster_id).toBe(PEER)
    expect(g.cluster_trust_links).toEqual({ [PEER]: true })
    const a = (await (await app.request('/health/alerts')).json()) as Record<string, unknown>[]
    expect(a[0]?.name).toBe('ping')
    expect(a[0]?.triggered_at).toBe('2026-01-01T00:00:00.000Z')
    expect(a[0]?.received_at).toBe(1)
    const b = await (await app.request('/health/bandwidth')).json()
    expect(b).toEqual({ '/ipfs/id/1.0.0': { total_in: 1, total_out: 2, rate_in: 0.5, rate_out: 0.25 } })
    expect(await (await app.request('/monitor/metrics')).json()).toEqual(['ping', 'freespace'])
    const m = (await (await app.request('/monitor/metrics/freespace')).json()) as Record<string, unknown>[]
    expect(m[0]).toMatchObject({ name: 'freespace', peer: PEER, value: '1', valid: true })
  })

  test('POST /ipfs/gc with local', async () => {
    const res = await app.request('/ipfs/gc?local=true', { method: 'POST' })
    const j = (await res.json()) as { peer_map: Record<string, { keys: { key: string }[] }> }
    expect(j.peer_map[PEER]?.keys[0]?.key).toBe((await makeCid('gc')).toString())
    expect(cluster.calls.at(-1)).toEqual({ method: 'repoGC', args: [true] })
  })

  test('POST /add is a 501 hook until the adder exists', async () => {
    const res = await app.request('/add', { method: 'POST' })
    expect(res.status).toBe(501)
    expect(await res.json()).toEqual({ code: 501, message: 'add is not implemented yet' })
    const withAdd = createRestApp(init(), { cluster, add: async (req) => new Response(`${new URL(req.url).search}`, { status: 200 }) })
    const r2 = await withAdd.request('/add?shard=true', { method: 'POST' })
    expect(await r2.text()).toBe('?shard=true')
  })
})

describe('peers', () => {
  test('GET /peers streams NDJSON', async () => {
    const res = await app.request('/peers')
    expect(res.status).toBe(200)
    expect(res.headers.get('Trailer')).toBe('X-Stream-Error')
    const items = (await ndjson(res)) as { id: string }[]
    expect(items.map((i) => i.id)).toEqual([PEER, PEER2])
    expect(streamTrailers(res)).toEqual([['X-Stream-Error', '']])
  })

  test('POST /peers', async () => {
    const res = await app.request('/peers', { method: 'POST', body: JSON.stringify({ peer_id: PEER2 }) })
    expect(res.status).toBe(200)
    expect(((await res.json()) as { id: string }).id).toBe(PEER2)
  })

  test('POST /peers bad JSON and bad peer ID are 400', async () => {
    const r1 = await app.request('/peers', { method: 'POST', body: '{nope' })
    expect(r1.status).toBe(400)
    expect(await r1.json()).toEqual({ code: 400, message: 'error decoding request body' })
    const r2 = await app.request('/peers', { method: 'POST', body: JSON.stringify({ peer_id: 'xyz' }) })
    expect(r2.status).toBe(400)
    expect(((await r2.json()) as { message: string }).message).toContain('peer_id')
  })

  test('DELETE /peers/:pid', async () => {
    expect((await app.request(`/peers/${PEER}`, { method: 'DELETE' })).status).toBe(204)
    const nf = await app.request(`/peers/${PEER2}`, { method: 'DELETE' })
    expect(nf.status).toBe(404)
    expect(await nf.json()).toEqual({ code: 404, message: 'peer not found' })
    const bad = await app.request('/peers/notapeer', { method: 'DELETE' })
    expect(bad.status).toBe(400)
  })
})

describe('pins', () => {
  test('POST /pins/:cid with options, GET /allocations/:cid, DELETE', async () => {
    const cid = await makeCid('a')
    const res = await app.request(`/pins/${cid}?name=foo&replication=2&meta-k=v&mode=direct`, { method: 'POST' })
    expect(res.status).toBe(200)
    const pin = (await res.json()) as Record<string, unknown>
    expect(pin).toMatchObject({
      cid: cid.toString(),
      type: 'pin',
      name: 'foo',
      mode: 'direct',
      replication_factor_min: 2,
      replication_factor_max: 2,
      metadata: { k: 'v' },
      expire_at: '0001-01-01T00:00:00Z',
      pin_update: null,
      reference: null
    })
    const got = await app.request(`/allocations/${cid}`)
    expect(((await got.json()) as { name: string }).name).toBe('foo')
    const del = await app.request(`/pins/${cid}`, { method: 'DELETE' })
    expect(del.status).toBe(200)
    expect(((await del.json()) as { cid: string }).cid).toBe(cid.toString())
    const gone = await app.request(`/allocations/${cid}`)
    expect(gone.status).toBe(404)
    expect(await gone.json()).toEqual({ code: 404, message: 'not found' })
    expect((await app.request(`/pins/${cid}`, { method: 'DELETE' })).status).toBe(404)
  })

  test('bad CID is 400 with a message', async () => {
    for (const [method, path] of [
      ['POST', '/pins/notacid'],
      ['GET', '/pins/notacid'],
      ['DELETE', '/pins/notacid'],
      ['GET', '/allocations/notacid'],
      ['POST', '/pins/notacid/recover']
    ] as const) {
      const res = await app.request(path, { method })
      expect(res.status).toBe(400)
      const j = (await res.json()) as { code: number; message: string }
      expect(j.code).toBe(400)
      expect(j.message).toContain('error decoding Cid')
    }
  })

  test('bad pin option is 400 naming the parameter', async () => {
    const cid = await makeCid('a')
    const cases: [string, string][] = [
      ['mode=bogus', 'mode'],
      ['replication=x', 'replication'],
      ['replication-min=1.5', 'replication-min'],
      ['shard-size=-1', 'shard-size'],
      ['expire-in=10', 'expire-in'],
      ['expire-in=500ms', 'expire-in'],
      ['expire-at=tomorrow', 'expire-at'],
      ['origins=/ip4/1.2.3.4/tcp/1', 'origins'],
      ['origins=garbage', 'origins'],
      ['pin-update=zz', 'pin-update'],
      ['user-allocations=nope', 'user-allocations']
    ]
    for (const [q, param] of cases) {
      const res = await app.request(`/pins/${cid}?${q}`, { method: 'POST' })
      expect(res.status).toBe(400)
      expect(((await res.json()) as { message: string }).message).toContain(param)
    }
    expect(cluster.pinset.size).toBe(0)
  })

  test('pin paths', async () => {
    const cid = await makeCid('root')
    const res = await app.request(`/pins/ipfs/${cid}/a/b?name=p`, { method: 'POST' })
    expect(res.status).toBe(200)
    expect(cluster.calls.at(-1)?.method).toBe('pinPath')
    expect(cluster.calls.at(-1)?.args[0]).toBe(`/ipfs/${cid}/a/b`)
    const ipns = await app.request('/pins/ipns/example.com', { method: 'POST' })
    expect(ipns.status).toBe(200)
    expect(cluster.calls.at(-1)?.args[0]).toBe('/ipns/example.com')
    const bad = await app.request('/pins/ipfs/notacid/x', { method: 'POST' })
    expect(bad.status).toBe(400)
    expect(((await bad.json()) as { message: string }).message).toContain('error parsing path')
    const del = await app.request(`/pins/ipld/${cid}`, { method: 'DELETE' })
    expect(del.status).toBe(200)
    expect(cluster.calls.at(-1)).toEqual({ method: 'unpinPath', args: [`/ipld/${cid}`] })
  })

  test('GET /pins/:cid with local', async () => {
    const cid = await makeCid('s')
    const res = await app.request(`/pins/${cid}?local=true`)
    const j = (await res.json()) as { cid: string; peer_map: Record<string, { peername: string; status: string }> }
    expect(j.cid).toBe(cid.toString())
    expect(j.peer_map[PEER]).toMatchObject({ peername: 'local', status: 'pinned' })
    expect(cluster.calls.at(-1)?.args[1]).toBe(true)
  })

  test('GET /pins streams with filter (aliases) and cids', async () => {
    const a = await makeCid('a')
    const b = await makeCid('b')
    cluster.pinset.set(a.toString(), pinWithOpts(a, defaultPinOptions()))
    cluster.pinset.set(b.toString(), pinWithOpts(b, defaultPinOptions()))
    cluster.statuses.set(b.toString(), 'pin_error')
    const all = await ndjson(await app.request('/pins'))
    expect(all.length).toBe(2)
    const errs = (await ndjson(await app.request('/pins?filter=error'))) as { cid: string }[]
    expect(errs.map((x) => x.cid)).toEqual([b.toString()])
    const f = cluster.calls.at(-1)?.args[0] as Set<string>
    expect([...f].sort()).toEqual(['cluster_error', 'pin_error', 'unpin_error'])
    const queued = await app.request('/pins?filter=queued')
    expect(queued.status).toBe(204)
    expect((await app.request('/pins?filter=bogus')).status).toBe(400)
    const byCid = (await ndjson(await app.request(`/pins?cids=${a},${b}&local=true`))) as { cid: string }[]
    expect(byCid.map((x) => x.cid)).toEqual([a.toString(), b.toString()])
    expect(cluster.calls.at(-1)?.method).toBe('statusCids')
    expect(cluster.calls.at(-1)?.args[1]).toBe(true)
    const badCids = await app.request(`/pins?cids=${a},zz`)
    expect(badCids.status).toBe(400)
  })

  test('recover', async () => {
    const a = await makeCid('a')
    cluster.pinset.set(a.toString(), pinWithOpts(a, defaultPinOptions()))
    const one = (await (await app.request(`/pins/${a}/recover`, { method: 'POST' })).json()) as { cid: string }
    expect(one.cid).toBe(a.toString())
    const all = (await ndjson(await app.request('/pins/recover?local=true', { method: 'POST' }))) as {
      peer_map: Record<string, { status: string }>
    }[]
    expect(all.length).toBe(1)
    expect(all[0]?.peer_map[PEER]?.status).toBe('pin_queued')
  })
})

describe('allocations stream', () => {
  async function seed(): Promise<void> {
    const a = await makeCid('a')
    const b = await makeCid('b')
    cluster.pinset.set(a.toString(), pinWithOpts(a, defaultPinOptions()))
    cluster.pinset.set(b.toString(), { ...pinWithOpts(b, defaultPinOptions()), type: 'meta-pin' })
  }

  test('filters by pin type', async () => {
    await seed()
    expect((await ndjson(await app.request('/allocations'))).length).toBe(2)
    expect((await ndjson(await app.request('/allocations?filter=all'))).length).toBe(2)
    const metas = (await ndjson(await app.request('/allocations?filter=meta-pin'))) as { type: string }[]
    expect(metas.map((m) => m.type)).toEqual(['meta-pin'])
    expect((await ndjson(await app.request('/allocations?filter=pin,meta-pin'))).length).toBe(2)
    expect((await app.request('/allocations?filter=shard-pin')).status).toBe(204)
    const bad = await app.request('/allocations?filter=nope')
    expect(bad.status).toBe(400)
    expect(((await bad.json()) as { message: string }).message).toContain('invalid filter value')
  })

  test('204 when empty', async () => {
    const res = await app.request('/allocations')
    expect(res.status).toBe(204)
    expect(await res.text()).toBe('')
  })

  test('500 with an error body when failing before the first item', async () => {
    await seed()
    cluster.failStream = 'before'
    const res = await app.request('/allocations')
    expect(res.status).toBe(500)
    expect(await res.json()).toEqual({ code: 500, message: 'state unavailable' })
  })

  test('error after the first item goes to the X-Stream-Error trailer', async () => {
    await seed()
    cluster.failStream = 'after'
    const res = await app.request('/allocations')
    expect(res.status).toBe(200)
    expect(res.headers.get('Trailer')).toBe('X-Stream-Error')
    const items = await ndjson(res)
    expect(items.length).toBe(1)
    expect(streamTrailers(res)).toEqual([['X-Stream-Error', 'broken pipe in state']])
  })

  test('pulls lazily and closes the source when the reader cancels', async () => {
    cluster.infinitePins = true
    const res = await app.request('/allocations')
    expect(res.status).toBe(200)
    const reader = res.body!.getReader()
    let lines = 0
    for (let i = 0; i < 3; i++) {
      const { value } = await reader.read()
      for (const b of value ?? []) if (b === 10) lines++
    }
    // chunks of ready items (16 KiB at most each), never the whole source:
    // only what was sent, plus at most one item ahead (and the first, read
    // before answering), was produced
    expect(lines).toBeGreaterThanOrEqual(3)
    expect(cluster.produced).toBeLessThanOrEqual(lines + 2)
    await reader.cancel()
    await waitFor(() => cluster.closed > 0, 'the stream source to be closed', 2000, 5)
    expect(cluster.closed).toBe(1)
  })
})

describe('streamResponse chunks', () => {
  test('ready items share chunks; a slow item is sent before the next one is produced', async () => {
    const { streamResponse } = await import('../../../src/api/rest/stream.ts')
    async function* many(): AsyncGenerator<number> {
      for (let i = 0; i < 5000; i++) yield i
    }
    const res = await streamResponse(many(), (i) => ({ i }))
    let chunks = 0
    let text = ''
    const dec = new TextDecoder()
    for await (const c of res.body!) {
      chunks++
      text += dec.decode(c, { stream: true })
    }
    expect(text).toBe(Array.from({ length: 5000 }, (_, i) => `{"i":${i}}\n`).join(''))
    expect(chunks).toBeLessThan(100)

    let release!: () => void
    const gate = new Promise<void>((r) => {
      release = r
    })
    async function* slow(): AsyncGenerator<string> {
      yield 'a'
      yield 'b'
      await gate // 'c' comes only once 'a' and 'b' reached the reader
      yield 'c'
    }
    const r2 = await streamResponse(slow(), (s) => s)
    const reader = r2.body!.getReader()
    let got = ''
    while (!got.includes('"b"')) {
      const { value, done } = await reader.read()
      if (done) break
      got += dec.decode(value)
    }
    expect(got).toBe('"a"\n"b"\n')
    release()
    for (;;) {
      const { value, done } = await reader.read()
      if (done) break
      got += dec.decode(value)
    }
    expect(got).toBe('"a"\n"b"\n"c"\n')
  })
})

describe('errors and routing', () => {
  test('unknown route is 404 with JSON body', async () => {
    const res = await app.request('/nope')
    expect(res.status).toBe(404)
    expect(await res.json()).toEqual({ code: 404, message: 'not found' })
    expect(res.headers.get('X-Test')).toBe('a, b')
    expect((await app.request('/id', { method: 'DELETE' })).status).toBe(404)
  })

  test('trailing slash is a 307 to the path without it', async () => {
    const res = await app.request('/pins/?local=true')
    expect(res.status).toBe(307)
    expect(res.headers.get('Location')).toBe('/pins?local=true')
  })

  test('statusOf maps errors', () => {
    expect(statusOf(new NotFoundError())).toBe(404)
    expect(statusOf(new InvalidArgumentError('x'))).toBe(400)
    expect(statusOf(new UnauthorizedError())).toBe(401)
    expect(statusOf(new FollowerModeError())).toBe(500)
    expect(statusOf(new Error('boom'))).toBe(500)
    expect(statusOf('weird')).toBe(500)
  })

  test('follower mode error is 500 with upstream message', async () => {
    cluster.pin = async () => {
      throw new FollowerModeError()
    }
    const res = await app.request(`/pins/${await makeCid('f')}`, { method: 'POST' })
    expect(res.status).toBe(500)
    expect(((await res.json()) as { message: string }).message).toContain('follower mode')
  })
})

describe('CORS', () => {
  test('preflight allowed', async () => {
    const a = createRestApp(init({ corsAllowedMethods: ['GET', 'POST'], corsMaxAgeMs: 60_000 }), { cluster })
    const res = await a.request('/pins', {
      method: 'OPTIONS',
      headers: { Origin: 'http://example.com', 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'Content-Type' }
    })
    expect(res.status).toBe(204)
    expect(res.headers.get('Access-Control-Allow-Origin')).toBe('*')
    expect(res.headers.get('Access-Control-Allow-Methods')).toBe('POST')
    expect(res.headers.get('Access-Control-Allow-Headers')).toBe('Content-Type')
    expect(res.headers.get('Access-Control-Allow-Credentials')).toBe('true')
    expect(res.headers.get('Access-Control-Max-Age')).toBe('60')
  })

  test('preflight with a method not allowed gets no CORS headers', async () => {
    const res = await app.request('/pins', {
      method: 'OPTIONS',
      headers: { Origin: 'http://example.com', 'Access-Control-Request-Method': 'DELETE' }
    })
    expect(res.status).toBe(204)
    expect(res.headers.get('Access-Control-Allow-Origin')).toBeNull()
  })

  test('actual request from an allowed origin', async () => {
    const a = createRestApp(init({ corsAllowedOrigins: ['http://ok.example', 'https://*.example.org'] }), { cluster })
    const ok = await a.request('/id', { headers: { Origin: 'http://ok.example' } })
    expect(ok.headers.get('Access-Control-Allow-Origin')).toBe('http://ok.example')
    expect(ok.headers.get('Access-Control-Expose-Headers')).toBe('Content-Type, X-Stream-Output, X-Chunked-Output, X-Content-Length')
    const wild = await a.request('/id', { headers: { Origin: 'https://a.example.org' } })
    expect(wild.headers.get('Access-Control-Allow-Origin')).toBe('https://a.example.org')
    const no = await a.request('/id', { headers: { Origin: 'http://evil.example' } })
    expect(no.headers.get('Access-Control-Allow-Origin')).toBeNull()
    expect(no.status).toBe(200)
  })
})
