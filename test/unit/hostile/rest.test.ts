/**
 * Hostile REST input, property-based (fast-check, bounded runs): random query
 * parameters on the pin routes and random bodies on the JSON routes get a
 * 2xx or a 4xx with upstream's `{code, message}` body, never a 500, and a
 * refused request stores nothing.
 */
import { describe, expect, test } from 'bun:test'
import fc from 'fast-check'
import { createRestApp, DEFAULT_CORS, type RestApiInit } from '../../../src/api/rest/app.ts'
import { makeCid, stubCluster } from '../api/stub.ts'
import { setLogLevels } from '../../../src/observability/logging.ts'

setLogLevels('error')
const RUNS = 300

function init(): RestApiInit {
  return { basicAuthCredentials: null, headers: {}, ...DEFAULT_CORS, corsAllowedOrigins: ['*'], corsAllowedMethods: ['GET'], corsAllowedHeaders: [], corsExposedHeaders: [] }
}

const PARAMS = [
  'name',
  'mode',
  'replication',
  'replication-min',
  'replication-max',
  'shard-size',
  'user-allocations',
  'expire-at',
  'expire-in',
  'pin-update',
  'origins',
  'meta-a',
  'local',
  'filter',
  'cids',
  'stream-channels'
]

const value = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.integer().map(String),
  fc.constantFrom('-1', '0', '1', '99999999999999999999', 'recursive', 'direct', '1h', '2020-01-01T00:00:00Z', 'true', 'bafy', '/ip4/1.2.3.4/tcp/1')
)
const query = fc.array(fc.tuple(fc.oneof(fc.constantFrom(...PARAMS), fc.string({ maxLength: 12 })), value), { maxLength: 6 })

async function expectClearAnswer(res: Response): Promise<void> {
  expect(res.status).toBeLessThan(500)
  const text = await res.text() // also drains a streamed answer
  if (res.status >= 400) {
    const body = JSON.parse(text) as { code: number; message: string }
    expect(body.code).toBe(res.status)
    expect(body.message.length).toBeGreaterThan(0)
  }
}

describe('REST API, hostile input', () => {
  test('POST /pins/<cid> with random query parameters: 200 or 4xx; refused means nothing stored', async () => {
    const cid = (await makeCid('hostile')).toString()
    const seen = { ok: 0, refused: 0 }
    await fc.assert(
      fc.asyncProperty(query, async (q) => {
        const cluster = stubCluster()
        const app = createRestApp(init(), { cluster })
        const res = await app.request(`/pins/${cid}?${new URLSearchParams(q).toString()}`, { method: 'POST' })
        await expectClearAnswer(res)
        if (res.status !== 200) expect(cluster.pinset.size).toBe(0)
        seen[res.status === 200 ? 'ok' : 'refused']++
      }),
      { numRuns: RUNS }
    )
    // both outcomes were exercised
    expect(seen.ok).toBeGreaterThan(0)
    expect(seen.refused).toBeGreaterThan(0)
  })

  test('random path segments as CIDs and paths: 4xx, nothing stored', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ minLength: 1, maxLength: 60 }), fc.constantFrom('POST', 'DELETE', 'GET'), async (seg, method) => {
        const cluster = stubCluster()
        const app = createRestApp(init(), { cluster })
        const res = await app.request(`/pins/${encodeURIComponent(seg)}`, { method })
        expect(res.status).toBeLessThan(500)
        expect(cluster.pinset.size).toBeLessThanOrEqual(res.status === 200 && method === 'POST' ? 1 : 0)
      }),
      { numRuns: RUNS }
    )
  })

  test('GET routes with random query parameters answer 2xx or 4xx', async () => {
    const app = createRestApp(init(), { cluster: stubCluster() })
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('/pins', '/allocations', '/peers', '/health/alerts', '/monitor/metrics/freespace'), query, async (path, q) => {
        const res = await app.request(`${path}?${new URLSearchParams(q).toString()}`)
        await expectClearAnswer(res)
      }),
      { numRuns: RUNS }
    )
  })

  test('POST /peers with random bodies: 4xx unless a peer ID is given, never 500', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.string({ maxLength: 80 }), fc.jsonValue().map((v) => JSON.stringify(v)), fc.record({ peer_id: fc.string() }).map((v) => JSON.stringify(v))), async (body) => {
        const cluster = stubCluster()
        const app = createRestApp(init(), { cluster })
        const res = await app.request('/peers', { method: 'POST', body })
        await expectClearAnswer(res)
        if (res.status >= 400) expect(cluster.calls.filter((c) => c.method === 'peerAdd').length).toBe(0)
      }),
      { numRuns: RUNS }
    )
  })
})
