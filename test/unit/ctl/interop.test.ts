/**
 * The client and ctl against the project's own REST app (`createRestApp`)
 * over a real socket: both halves of the wire protocol must agree.
 * The cluster behind the app is the in-memory stub of the API tests.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { CID } from 'multiformats/cid'
import { createRestApp, DEFAULT_CORS } from '../../../src/api/rest/app.ts'
import { ApiError, RestClient } from '../../../src/api/rest/client.ts'
import { main } from '../../../src/cli/ctl/index.ts'
import { setLogReporters } from '../../../src/observability/logging.ts'
import { type HttpListener, listenHttp } from '../../../src/runtime/http.ts'
import { makeCid, PEER, PEER2, type StubCluster, stubCluster } from '../api/stub.ts'

let cluster: StubCluster
let listener: HttpListener
let host: string

beforeAll(async () => {
  setLogReporters([])
  cluster = stubCluster()
  const app = createRestApp(
    {
      basicAuthCredentials: { admin: 'secret' },
      headers: {},
      ...DEFAULT_CORS,
      corsAllowedOrigins: ['*'],
      corsAllowedMethods: ['GET'],
      corsAllowedHeaders: [],
      corsExposedHeaders: [...DEFAULT_CORS.corsExposedHeaders]
    },
    { cluster }
  )
  listener = await listenHttp({ fetch: app.fetch, address: { kind: 'tcp', host: '127.0.0.1', port: 0 } })
  const a = listener.address
  host = a.kind === 'tcp' ? `/ip4/127.0.0.1/tcp/${a.port}` : ''
})
afterAll(async () => {
  setLogReporters(undefined)
  await listener.close(100)
})

function client(): RestClient {
  return new RestClient({ host, basicAuth: { user: 'admin', pass: 'secret' } })
}

async function ctl(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = ''
  let stderr = ''
  const code = await main(['--host', host, '--basic-auth', 'admin:secret', '--force-http', ...args], {
    stdout: (s) => {
      stdout += s
    },
    stderr: (s) => {
      stderr += s
    },
    env: {},
    statusDelayMs: 0,
    waitCheckFreqMs: 5
  })
  return { code, stdout, stderr }
}

describe('client against the REST app', () => {
  test('auth is required', async () => {
    const err = await new RestClient({ host })
      .id()
      .then(() => undefined)
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ApiError)
    expect((err as ApiError).code).toBe(401)
    expect((await client().id()).id).toBe(PEER)
  })

  test('pin, list, status, unpin round trip', async () => {
    const c = client()
    const cid = await makeCid('interop')
    const pin = await c.pin(cid, { name: 'interop', replicationFactorMin: 1, replicationFactorMax: 2, metadata: { k: 'v' } })
    expect(pin.cid.equals(cid)).toBe(true)
    expect(pin.name).toBe('interop')
    expect(pin.metadata).toEqual({ k: 'v' })
    const listed = []
    for await (const p of c.allocations()) listed.push(p.cid.toString())
    expect(listed).toContain(cid.toString())
    const gpi = await c.status(cid)
    expect(Object.keys(gpi.peerMap)).toEqual([PEER])
    const all = []
    for await (const g of c.statusAll('pinned')) all.push(g.cid.toString())
    expect(all).toContain(cid.toString())
    const removed = await c.unpin(cid)
    expect(removed.cid.equals(cid)).toBe(true)
    const missing = await c.allocation(cid).catch((e: unknown) => e)
    expect((missing as ApiError).code).toBe(404)
  })

  test('a stream failing after its first item raises after it', async () => {
    const c = client()
    await c.pin(await makeCid('s1'), {})
    await c.pin(await makeCid('s2'), {})
    cluster.failStream = 'after'
    try {
      const got: string[] = []
      const err = await (async () => {
        for await (const p of c.allocations()) got.push(p.cid.toString())
      })().catch((e: unknown) => e)
      expect(got.length).toBe(1)
      expect(err).toBeInstanceOf(ApiError)
      expect((err as ApiError).message).toContain('broken pipe in state')
    } finally {
      cluster.failStream = null
    }
  })

  test('peers, metrics, alerts, graph, gc, token', async () => {
    const c = client()
    const peers = []
    for await (const p of c.peers()) peers.push(p.id)
    expect(peers).toEqual([PEER, PEER2])
    expect(await c.metricNames()).toEqual(['ping', 'freespace'])
    expect((await c.metrics('ping'))[0]?.name).toBe('ping')
    expect((await c.alerts())[0]?.triggeredAt.toISOString()).toBe('2026-01-01T00:00:00.000Z')
    expect((await c.graph()).clusterTrustLinks[PEER]).toBe(true)
    expect(Object.keys((await c.repoGC()).peerMap)).toEqual([PEER])
    expect(await c.token()).not.toBe('')
    await c.health()
  })
})

describe('ctl against the REST app', () => {
  test('pin add, status, pin ls, pin rm', async () => {
    const cid = (await makeCid('ctl-interop')).toString()
    const add = await ctl(['pin', 'add', '--ns', '-n', 'ctl', cid])
    expect(add.code).toBe(0)
    // ctl pins by path (/pins/ipfs/<cid>); the stub resolves a path to the hash of it
    expect(add.stdout).toContain(' | ctl | PIN | Repl. Factor: 0--0 | Allocations: [] | Recursive | Metadata: no | Exp: ∞ | Added: ')
    expect(cluster.calls.some((c) => c.method === 'pinPath' && c.args[0] === `/ipfs/${cid}`)).toBe(true)
    const direct = await ctl(['pin', 'ls'])
    expect(direct.code).toBe(0)
    expect(direct.stdout).toContain(' | ctl | PIN | ')
    const st = await ctl(['status', CID.parse(cid).toString()])
    expect(st.code).toBe(0)
    expect(st.stdout).toContain(`    > peer0                : PINNED | 2026-01-01T00:00:00Z | Attempts: 0 | Priority: false\n`)
    const rm = await ctl(['pin', 'rm', '--ns', cid])
    expect(rm.code).toBe(0)
    expect(cluster.calls.some((c) => c.method === 'unpinPath' && c.args[0] === `/ipfs/${cid}`)).toBe(true)
    const id = await ctl(['id'])
    expect(id.stdout).toStartWith(`${PEER} | peer0 | Sees 0 other peers\n`)
  })

  test('peers rm of an unknown peer exits 2 with the server error', async () => {
    const r = await ctl(['peers', 'rm', PEER2])
    expect(r.code).toBe(2)
    expect(r.stdout).toBe('An error occurred:\n  Code: 404\n  Message: peer not found\n')
  })

  test('wrong credentials exit 2 with 401', async () => {
    let stdout = ''
    const code = await main(['--host', host, '--basic-auth', 'admin:nope', '-f', 'id'], {
      stdout: (s) => {
        stdout += s
      },
      stderr: () => {},
      env: {}
    })
    expect(code).toBe(2)
    expect(stdout).toStartWith('An error occurred:\n  Code: 401\n')
  })
})
