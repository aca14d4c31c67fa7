import { afterEach, describe, expect, test } from 'bun:test'
import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import https from 'node:https'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DEFAULT_CORS } from '../../../src/api/rest/app.ts'
import type { RestApiConfig } from '../../../src/config/types.ts'
import { createRestApiServer, listenAddressFromMultiaddr, type RestApiServer, type RestApiServerInit } from '../../../src/api/rest/server.ts'
import { defaultPinOptions, pinWithOpts } from '../../../src/types/index.ts'
import { makeCid, PEER, type StubCluster, stubCluster } from '../../unit/api/stub.ts'
import { waitFor } from '../../../scripts/launcher/poll.ts'

interface Got {
  status: number
  headers: http.IncomingHttpHeaders
  body: string
  trailers: NodeJS.Dict<string>
}

function get(target: { port?: number; socketPath?: string; tls?: boolean }, path: string, method = 'GET'): Promise<Got> {
  return new Promise((resolve, reject) => {
    const mod = target.tls === true ? https : http
    const req = mod.request(
      { host: '127.0.0.1', port: target.port, socketPath: target.socketPath, path, method, rejectUnauthorized: false, agent: false },
      (res) => {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', (d: string) => {
          body += d
        })
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, trailers: res.trailers }))
        res.on('error', reject)
      }
    )
    req.on('error', reject)
    req.end()
  })
}

function baseInit(addrs: string[]): RestApiServerInit {
  return {
    basicAuthCredentials: null,
    headers: {},
    ...DEFAULT_CORS,
    corsAllowedOrigins: ['*'],
    corsAllowedMethods: ['GET'],
    corsAllowedHeaders: [],
    corsExposedHeaders: [],
    httpListenMultiaddress: addrs,
    shutdownGraceMs: 500
  }
}

let server: RestApiServer | undefined
let dir: string | undefined
afterEach(async () => {
  await server?.stop()
  server = undefined
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
  dir = undefined
})

// the service.json section can be passed to the server as is
type Assignable<T, U extends T> = U
export type _ConfigFits = Assignable<RestApiServerInit, RestApiConfig>

describe('listen multiaddrs', () => {
  test('parses tcp, dns and unix forms', () => {
    expect(listenAddressFromMultiaddr('/ip4/127.0.0.1/tcp/9094')).toEqual({ kind: 'tcp', host: '127.0.0.1', port: 9094 })
    expect(listenAddressFromMultiaddr('/ip6/::1/tcp/0')).toEqual({ kind: 'tcp', host: '::1', port: 0 })
    expect(listenAddressFromMultiaddr('/dns4/localhost/tcp/1')).toEqual({ kind: 'tcp', host: 'localhost', port: 1 })
    expect(listenAddressFromMultiaddr('/unix/tmp/api.sock')).toEqual({ kind: 'unix', path: '/tmp/api.sock' })
    expect(listenAddressFromMultiaddr('/unix/%2Ftmp%2Fapi.sock')).toEqual({ kind: 'unix', path: '/tmp/api.sock' })
    expect(() => listenAddressFromMultiaddr('/ip4/127.0.0.1/udp/1')).toThrow()
    expect(() => listenAddressFromMultiaddr('nonsense')).toThrow()
  })
})

describe('server', () => {
  test('serves /id on 127.0.0.1:0 and on a unix socket (stale socket removed)', async () => {
    dir = mkdtempSync(join(tmpdir(), 'restapi-'))
    const sock = join(dir, 'api.sock')
    // leave a stale socket behind, as a crashed daemon would (killed while listening)
    const script = `require('node:net').createServer().listen(${JSON.stringify(sock)}, () => process.kill(process.pid, 'SIGKILL'))`
    try {
      execFileSync(process.execPath, ['-e', script], { stdio: 'ignore', timeout: 10_000 })
    } catch {
      // killed on purpose
    }
    expect(existsSync(sock)).toBe(true)
    server = createRestApiServer(baseInit(['/ip4/127.0.0.1/tcp/0', `/unix${sock}`]), { cluster: stubCluster() })
    await server.start()
    await server.start() // idempotent
    const addrs = server.addresses()
    expect(addrs.length).toBe(2)
    expect(addrs[0]).toMatch(/^\/ip4\/127\.0\.0\.1\/tcp\/\d+$/)
    expect(addrs[0]).not.toBe('/ip4/127.0.0.1/tcp/0')
    expect(addrs[1]).toBe(`/unix${sock}`)
    // only its owner may connect (the follower's api-socket is one of these)
    expect(statSync(sock).mode & 0o777).toBe(0o600)
    const port = Number(addrs[0]!.split('/')[4])
    const r1 = await get({ port }, '/id')
    expect(r1.status).toBe(200)
    expect(JSON.parse(r1.body).id).toBe(PEER)
    const r2 = await get({ socketPath: sock }, '/id')
    expect(r2.status).toBe(200)
    expect(JSON.parse(r2.body).id).toBe(PEER)
    await server.stop()
    await server.stop() // idempotent
    expect(server.addresses()).toEqual([])
    expect(existsSync(sock)).toBe(false)
    await expect(get({ port }, '/id')).rejects.toThrow()
  })

  test('streams send a real X-Stream-Error trailer', async () => {
    const cluster = stubCluster()
    for (const n of ['a', 'b']) {
      const c = await makeCid(n)
      cluster.pinset.set(c.toString(), pinWithOpts(c, defaultPinOptions()))
    }
    server = createRestApiServer(baseInit(['/ip4/127.0.0.1/tcp/0']), { cluster })
    await server.start()
    const port = Number(server.addresses()[0]!.split('/')[4])
    const ok = await get({ port }, '/allocations')
    expect(ok.status).toBe(200)
    expect(ok.headers.trailer).toBe('X-Stream-Error')
    expect(ok.body.trim().split('\n').length).toBe(2)
    expect(ok.trailers['x-stream-error']).toBe('')
    cluster.failStream = 'after'
    const bad = await get({ port }, '/allocations')
    expect(bad.status).toBe(200)
    expect(bad.body.trim().split('\n').length).toBe(1)
    expect(bad.trailers['x-stream-error']).toBe('broken pipe in state')
    cluster.failStream = 'before'
    const early = await get({ port }, '/allocations')
    expect(early.status).toBe(500)
    expect(JSON.parse(early.body)).toEqual({ code: 500, message: 'state unavailable' })
    cluster.failStream = null
    const empty = await get({ port }, '/allocations?filter=shard-pin')
    expect(empty.status).toBe(204)
    const post = await get({ port }, `/pins/${await makeCid('c')}?name=x`, 'POST')
    expect(post.status).toBe(200)
    expect(JSON.parse(post.body).name).toBe('x')
  })

  test('each item is flushed as soon as it is produced', async () => {
    const cluster = stubCluster()
    let release: () => void = () => {}
    const gate = new Promise<void>((r) => {
      release = r
    })
    const a = await makeCid('a')
    const b = await makeCid('b')
    cluster.pins = async function* () {
      yield pinWithOpts(a, defaultPinOptions())
      await gate // the second item waits until the client saw the first
      yield pinWithOpts(b, defaultPinOptions())
    }
    server = createRestApiServer(baseInit(['/ip4/127.0.0.1/tcp/0']), { cluster })
    await server.start()
    const port = Number(server.addresses()[0]!.split('/')[4])
    const lines = await new Promise<string[]>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, path: '/allocations', agent: false }, (res) => {
        let buf = ''
        res.setEncoding('utf8')
        res.on('data', (d: string) => {
          buf += d
          if (buf.split('\n').length === 2) release()
        })
        res.on('end', () => resolve(buf.trim().split('\n')))
      })
      req.on('error', reject)
      req.end()
    })
    expect(lines.map((l) => JSON.parse(l).cid)).toEqual([a.toString(), b.toString()])
  })

  test('client disconnect stops the stream source', async () => {
    const cluster: StubCluster = stubCluster()
    cluster.infinitePins = true
    server = createRestApiServer(baseInit(['/ip4/127.0.0.1/tcp/0']), { cluster })
    await server.start()
    const port = Number(server.addresses()[0]!.split('/')[4])
    await new Promise<void>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, path: '/allocations', agent: false }, (res) => {
        let got = 0
        res.on('data', (d: Buffer) => {
          got += d.length
          if (got > 2000) {
            req.destroy()
            resolve()
          }
        })
      })
      req.on('error', (err) => (err.message.includes('socket hang up') || err.message.includes('abort') ? undefined : reject(err)))
      req.end()
    })
    await waitFor(() => cluster.closed === 1, 'cluster.closed === 1', 3000, 5)
    const produced = cluster.produced
    expect(produced).toBeLessThan(100_000)
    await new Promise((r) => setTimeout(r, 50))
    expect(cluster.produced).toBe(produced)
  })

  test('a paged listing to a client that does not read: the source stops at the socket buffers, then closes', async () => {
    const cluster: StubCluster = stubCluster()
    const pin = pinWithOpts(await makeCid('paged'), { ...defaultPinOptions(), name: 'a paged pin' })
    const TOTAL_PAGES = 4000 // 1,024,000 pins, ~400 MB of NDJSON
    let pages = 0
    let closed = 0
    const paged = Object.assign(cluster, {
      async *pinPages() {
        try {
          for (let i = 0; i < TOTAL_PAGES; i++) {
            pages++
            yield Array.from({ length: 256 }, () => pin)
          }
        } finally {
          closed++
        }
      }
    })
    server = createRestApiServer(baseInit(['/ip4/127.0.0.1/tcp/0']), { cluster: paged })
    await server.start()
    const port = Number(server.addresses()[0]!.split('/')[4])
    const sock = net.connect(port, '127.0.0.1', () => sock.write('GET /allocations HTTP/1.1\r\nHost: x\r\n\r\n'))
    sock.pause()
    const ended = new Promise<void>((resolve) => {
      sock.on('close', () => resolve())
      sock.on('error', () => resolve())
    })
    await waitFor(() => pages > 0, 'the first page', 3000, 5)
    // the server waits for the socket to drain: production stops far short of the listing
    let before = -1
    await waitFor(
      async () => {
        const now = pages
        await new Promise((r) => setTimeout(r, 100))
        const stable = now === pages && now === before
        before = pages
        return stable
      },
      'the source to stop while the client does not read',
      10_000,
      5
    )
    expect(pages).toBeLessThan(TOTAL_PAGES / 10)
    expect(closed).toBe(0)
    sock.destroy()
    await ended
    await waitFor(() => closed === 1, 'the page source to be closed', 3000, 5)
    expect(pages).toBeLessThan(TOTAL_PAGES / 10)
  })

  test('stop() cuts in-flight streams after the grace period', async () => {
    const cluster: StubCluster = stubCluster()
    cluster.infinitePins = true
    server = createRestApiServer({ ...baseInit(['/ip4/127.0.0.1/tcp/0']), shutdownGraceMs: 100 }, { cluster })
    await server.start()
    const port = Number(server.addresses()[0]!.split('/')[4])
    // a slow client: sends the request, never reads
    const sock = net.connect(port, '127.0.0.1', () => sock.write('GET /allocations HTTP/1.1\r\nHost: x\r\n\r\n'))
    sock.pause()
    const ended = new Promise<void>((resolve) => {
      sock.on('close', () => resolve())
      sock.on('error', () => resolve())
    })
    await waitFor(() => cluster.produced > 0, 'cluster.produced > 0', 3000, 5)
    // the client never reads and the stream never ends: only the grace period can end stop()
    await server.stop()
    sock.resume() // drain what was buffered, then see the connection end
    await ended
    await waitFor(() => cluster.closed === 1, 'cluster.closed === 1', 3000, 5)
  })

  test('request bodies are streamed to the /add hook', async () => {
    server = createRestApiServer(baseInit(['/ip4/127.0.0.1/tcp/0']), {
      cluster: stubCluster(),
      add: async (req) => {
        let n = 0
        for await (const chunk of req.body!) n += chunk.length
        return new Response(JSON.stringify({ bytes: n, q: new URL(req.url).searchParams.get('name') }), { status: 200 })
      }
    })
    await server.start()
    const port = Number(server.addresses()[0]!.split('/')[4])
    const body = Buffer.alloc(3 * 1024 * 1024, 7)
    const got = await new Promise<string>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, path: '/add?name=f', method: 'POST', agent: false }, (res) => {
        let b = ''
        res.setEncoding('utf8')
        res.on('data', (d: string) => {
          b += d
        })
        res.on('end', () => resolve(b))
      })
      req.on('error', reject)
      req.end(body)
    })
    expect(JSON.parse(got)).toEqual({ bytes: body.length, q: 'f' })
  })

  test('access log in Common Log Format goes to http_log_file', async () => {
    dir = mkdtempSync(join(tmpdir(), 'restapi-log-'))
    const file = join(dir, 'http.log')
    server = createRestApiServer({ ...baseInit(['/ip4/127.0.0.1/tcp/0']), httpLogFile: file }, { cluster: stubCluster() })
    await server.start()
    const port = Number(server.addresses()[0]!.split('/')[4])
    await get({ port }, '/id')
    await get({ port }, '/nope?x=1')
    const read = (): string => (existsSync(file) ? readFileSync(file, 'utf8') : '')
    await waitFor(() => read().split('\n').length >= 3, 'read().split(\'\\n\').length >= 3', 3000, 5)
    const lines = read().trim().split('\n')
    expect(lines[0]).toMatch(/^127\.0\.0\.1 - - \[\d{2}\/[A-Z][a-z]{2}\/\d{4}:\d{2}:\d{2}:\d{2} \+0000\] "GET \/id HTTP\/1\.1" 200 \d+$/)
    expect(lines[1]).toContain('"GET /nope?x=1 HTTP/1.1" 404 ')
  })

  test('TLS when cert and key files are set', async () => {
    dir = mkdtempSync(join(tmpdir(), 'restapi-tls-'))
    const cert = join(dir, 'cert.pem')
    const key = join(dir, 'key.pem')
    try {
      execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost'], { stdio: 'ignore' })
    } catch (err) {
      // no silent pass: .ci/run installs openssl when it is missing
      throw new Error(`openssl is needed to make the test certificate: ${(err as Error).message}`)
    }
    server = createRestApiServer({ ...baseInit(['/ip4/127.0.0.1/tcp/0']), sslCertFile: cert, sslKeyFile: key }, { cluster: stubCluster() })
    await server.start()
    const port = Number(server.addresses()[0]!.split('/')[4])
    const r = await get({ port, tls: true }, '/version')
    expect(r.status).toBe(200)
    expect(JSON.parse(r.body)).toEqual({ version: '1.1.6' })
  })

  test('TLS without a valid key refuses to start, naming the key', async () => {
    dir = mkdtempSync(join(tmpdir(), 'restapi-badtls-'))
    const cert = join(dir, 'cert.pem')
    const key = join(dir, 'key.pem')
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost'], { stdio: 'ignore' })
    const missing = createRestApiServer({ ...baseInit(['/ip4/127.0.0.1/tcp/0']), sslCertFile: cert, sslKeyFile: join(dir, 'nope.pem') }, { cluster: stubCluster() })
    await expect(missing.start()).rejects.toThrow(/^ssl_key_file: cannot read ".*nope\.pem"/)
    const garbage = join(dir, 'garbage.pem')
    writeFileSync(garbage, '-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n')
    const bad = createRestApiServer({ ...baseInit(['/ip4/127.0.0.1/tcp/0']), sslCertFile: cert, sslKeyFile: garbage }, { cluster: stubCluster() })
    await expect(bad.start()).rejects.toThrow('are not a valid certificate and private key')
    // a key that is not the certificate's
    const other = join(dir, 'other.pem')
    execFileSync('openssl', ['genpkey', '-algorithm', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-out', other], { stdio: 'ignore' })
    const mismatch = createRestApiServer({ ...baseInit(['/ip4/127.0.0.1/tcp/0']), sslCertFile: cert, sslKeyFile: other }, { cluster: stubCluster() })
    await expect(mismatch.start()).rejects.toThrow('ssl_cert_file/ssl_key_file')
  })

  test('headers larger than max_header_bytes (+4096 like Go) are refused', async () => {
    server = createRestApiServer({ ...baseInit(['/ip4/127.0.0.1/tcp/0']), maxHeaderBytes: 4096 }, { cluster: stubCluster() })
    await server.start()
    const port = Number(server.addresses()[0]!.split('/')[4])
    const status = await new Promise<number>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, path: '/id', agent: false, headers: { 'X-Big': 'x'.repeat(10_000) } }, (res) => {
        res.resume()
        resolve(res.statusCode ?? 0)
      })
      req.on('error', reject)
      req.end()
    })
    expect(status).toBe(431)
    expect((await get({ port }, '/id')).status).toBe(200)
  })

  test('a busy port fails start and leaves nothing listening', async () => {
    const blocker = net.createServer()
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r))
    const port = (blocker.address() as net.AddressInfo).port
    try {
      server = createRestApiServer(baseInit(['/ip4/127.0.0.1/tcp/0', `/ip4/127.0.0.1/tcp/${port}`]), { cluster: stubCluster() })
      await expect(server.start()).rejects.toThrow()
      expect(server.addresses()).toEqual([])
    } finally {
      await new Promise<void>((r) => blocker.close(() => r()))
    }
  })
})
