/**
 * The IPFS proxy server on real sockets: listen on TCP and `/unix/`, a
 * `/unix/` `node_multiaddress`, `max_header_bytes` (431), `log_file`
 * (appended across restarts), `write_timeout`, the access log line, and
 * a node https scheme. The "kubo" here is a small HTTP server on a unix
 * socket that answers `/api/v0/version`, a slow command, one that echoes
 * the request headers it got and one that ends its stream with an
 * `X-Stream-Error` trailer (a unit test: the e2e test runs real kubo).
 * Also: `X-Forwarded-For` on relayed requests, trailers relayed.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { existsSync, readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { nodeTarget } from '../../../../src/api/ipfsproxy/node.ts'
import { createIpfsProxyServer, type IpfsProxyServerInit } from '../../../../src/api/ipfsproxy/server.ts'
import { IPFSPROXY } from '../../../../src/config/sections.ts'
import { fieldDefaults } from '../../../../src/config/typed.ts'
import http from 'node:http'
import { type HttpListener, listenHttp, RESPONSE_TRAILERS, type TrailerCarrier } from '../../../../src/runtime/http.ts'
import { PEER, stubCluster } from '../stub.ts'

let dir: string
let kubo: HttpListener
const kuboSock = (): string => join(dir, 'kubo.sock')

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'proxy-server-'))
  kubo = await listenHttp({
    address: { kind: 'unix', path: join(dir, 'kubo.sock') },
    fetch: async (req) => {
      const url = new URL(req.url)
      if (url.pathname === '/api/v0/version') return new Response('{"Version":"0.42.0"}', { headers: { Server: 'kubo/0.42.0' } })
      if (url.pathname === '/api/v0/nothing') return new Response(null, { status: 204, headers: { 'X-Kubo': 'yes' } })
      if (url.pathname === '/api/v0/echo-body') return new Response(await req.text(), { headers: { 'Content-Type': 'text/plain' } })
      if (url.pathname === '/api/v0/echo-headers') return Response.json(Object.fromEntries(req.headers))
      if (url.pathname === '/api/v0/trailing') {
        let sent = false
        const body = new ReadableStream<Uint8Array>({
          pull(c) {
            if (sent) return c.close()
            sent = true
            c.enqueue(new TextEncoder().encode('{"partial":true}\n'))
          }
        }) as TrailerCarrier
        body[RESPONSE_TRAILERS] = () => [['X-Stream-Error', 'block was not found locally (offline)']]
        return new Response(body, { headers: { Trailer: 'X-Stream-Error', 'Content-Type': 'application/json' } })
      }
      if (url.pathname === '/api/v0/slow') {
        // a body that never ends
        return new Response(new ReadableStream({ pull: () => new Promise(() => {}) }))
      }
      return new Response('404 page not found', { status: 404 })
    }
  })
})

afterAll(async () => {
  await kubo.close(100)
  await rm(dir, { recursive: true, force: true })
})

function init(over: Partial<IpfsProxyServerInit> = {}): IpfsProxyServerInit {
  return {
    ...fieldDefaults(IPFSPROXY),
    listenMultiaddress: ['/ip4/127.0.0.1/tcp/0'],
    nodeMultiaddress: `/unix${kuboSock()}`,
    basicAuthCredentials: null,
    shutdownGraceMs: 100,
    ...over
  } as IpfsProxyServerInit
}

function server(over: Partial<IpfsProxyServerInit> = {}): ReturnType<typeof createIpfsProxyServer> {
  return createIpfsProxyServer(init(over), {
    cluster: stubCluster(),
    adder: { localPeer: PEER, ipfs: { blockStream: async () => {} }, allocate: async () => [], pin: async () => Promise.reject(new Error('unused')) },
    localPeer: PEER,
    resolve: async () => Promise.reject(new Error('unused')),
    peers: async () => [PEER],
    repoStat: async () => ({ repoSize: 1, storageMax: 2 })
  })
}

function urlOf(ma: string): string {
  const m = /\/ip4\/([^/]+)\/tcp\/(\d+)/.exec(ma)!
  return `http://${m[1]}:${m[2]}`
}

describe('ipfsproxy server', () => {
  test('TCP and unix listeners, relaying to a unix-socket node', async () => {
    const sock = join(dir, 'proxy.sock')
    const s = server({ listenMultiaddress: ['/ip4/127.0.0.1/tcp/0', `/unix${sock}`] })
    await s.start()
    try {
      const [tcp, unix] = s.addresses()
      expect(unix).toBe(`/unix${sock}`)
      const res = await fetch(`${urlOf(tcp!)}/api/v0/version`, { method: 'POST' })
      expect(res.status).toBe(200)
      expect(res.headers.get('server')).toBe('kubo/0.42.0')
      expect(await res.json()).toEqual({ Version: '0.42.0' })
      const viaUnix = await fetch('http://localhost/api/v0/repo/stat', { method: 'POST', unix: sock } as RequestInit)
      expect(await viaUnix.json()).toEqual({ RepoSize: 1, StorageMax: 2, NumObjects: 0, RepoPath: '', Version: '' })
    } finally {
      await s.stop()
      await s.stop()
    }
    expect(existsSync(sock)).toBe(false)
  })

  test('max_header_bytes: oversized headers get 431', async () => {
    const s = server({ maxHeaderBytes: 16384 })
    await s.start()
    try {
      const url = `${urlOf(s.addresses()[0]!)}/api/v0/version`
      expect((await fetch(url, { method: 'POST', headers: { 'X-Big': 'a'.repeat(8192) } })).status).toBe(200)
      expect((await fetch(url, { method: 'POST', headers: { 'X-Big': 'a'.repeat(32768) } })).status).toBe(431)
    } finally {
      await s.stop()
    }
  })

  test('log_file: created, one Common Log Format line per request, appended across restarts', async () => {
    const logFile = join(dir, 'proxy.log')
    let s = server({ logFile })
    await s.start()
    expect(readFileSync(logFile, 'utf8')).toBe('')
    await (await fetch(`${urlOf(s.addresses()[0]!)}/api/v0/version`, { method: 'POST' })).text()
    await s.stop()
    const first = readFileSync(logFile, 'utf8')
    expect(first).toMatch(/^127\.0\.0\.1 - - \[[^\]]+\] "POST \/api\/v0\/version HTTP\/1\.1" 200 20\n$/)
    s = server({ logFile })
    await s.start()
    await (await fetch(`${urlOf(s.addresses()[0]!)}/api/v0/nope`, { method: 'POST' })).text()
    await s.stop()
    const both = readFileSync(logFile, 'utf8')
    expect(both.startsWith(first)).toBe(true)
    expect(both.split('\n').filter((l) => l !== '').length).toBe(2)
  })

  test('write_timeout closes a response that takes longer', async () => {
    const s = server({ writeTimeoutMs: 300 })
    await s.start()
    try {
      const started = Date.now()
      // the connection is cut: before the headers (here kubo sends none) or mid-body
      const err = await fetch(`${urlOf(s.addresses()[0]!)}/api/v0/slow`, { method: 'POST' })
        .then((res) => res.text())
        .then(
          () => undefined,
          (e: unknown) => e
        )
      expect(String(err)).toContain('ECONNRESET')
      expect(Date.now() - started).toBeLessThan(5000)
    } finally {
      await s.stop()
    }
  })

  test('a relayed request carries X-Forwarded-For (appended to the client\'s), hop-by-hop headers dropped', async () => {
    const s = server()
    await s.start()
    try {
      const base = urlOf(s.addresses()[0]!)
      const plain = (await (await fetch(`${base}/api/v0/echo-headers`, { method: 'POST' })).json()) as Record<string, string>
      expect(plain['x-forwarded-for']).toBe('127.0.0.1')
      const chained = (await (
        await fetch(`${base}/api/v0/echo-headers`, { method: 'POST', headers: { 'X-Forwarded-For': '203.0.113.7', 'Keep-Alive': 'timeout=5', 'X-Custom': 'kept' } })
      ).json()) as Record<string, string>
      expect(chained['x-forwarded-for']).toBe('203.0.113.7, 127.0.0.1')
      expect(chained['x-custom']).toBe('kept')
      expect(chained['keep-alive']).toBeUndefined()
    } finally {
      await s.stop()
    }
  })

  test('relayed HEAD, 204 and request bodies', async () => {
    const s = server()
    await s.start()
    try {
      const base = urlOf(s.addresses()[0]!)
      const head = await fetch(`${base}/api/v0/version`, { method: 'HEAD' })
      expect(head.status).toBe(200)
      expect(await head.text()).toBe('')
      const none = await fetch(`${base}/api/v0/nothing`, { method: 'POST' })
      expect(none.status).toBe(204)
      expect(none.headers.get('x-kubo')).toBe('yes')
      const big = 'x'.repeat(3 * 1024 * 1024)
      const echoed = await fetch(`${base}/api/v0/echo-body`, { method: 'POST', body: big })
      expect((await echoed.text()).length).toBe(big.length)
      const streamed = await fetch(`${base}/api/v0/echo-body`, {
        method: 'POST',
        body: new Blob(['a', 'b', 'c']).stream(),
        duplex: 'half'
      } as RequestInit)
      expect(await streamed.text()).toBe('abc')
    } finally {
      await s.stop()
    }
  })

  test("kubo's X-Stream-Error trailer of a streamed answer is relayed", async () => {
    const s = server()
    await s.start()
    try {
      const m = /\/ip4\/([^/]+)\/tcp\/(\d+)/.exec(s.addresses()[0]!)!
      const got = await new Promise<{ body: string; trailer: string | undefined; announced: string | undefined }>((resolve, reject) => {
        const req = http.request({ host: m[1], port: Number(m[2]), method: 'POST', path: '/api/v0/trailing' }, (res) => {
          let body = ''
          res.setEncoding('utf8')
          res.on('data', (d: string) => {
            body += d
          })
          res.on('end', () => resolve({ body, trailer: res.trailers['x-stream-error'], announced: res.headers.trailer }))
          res.on('error', reject)
        })
        req.on('error', reject)
        req.end()
      })
      expect(got.body).toBe('{"partial":true}\n')
      expect(got.announced).toBe('X-Stream-Error')
      expect(got.trailer).toBe('block was not found locally (offline)')
    } finally {
      await s.stop()
    }
  })

  test('node_multiaddress forms and node_https', () => {
    expect(nodeTarget('/ip4/127.0.0.1/tcp/5001', false)).toEqual({ baseUrl: 'http://127.0.0.1:5001' })
    expect(nodeTarget('/ip6/::1/tcp/5001', true)).toEqual({ baseUrl: 'https://[::1]:5001' })
    expect(nodeTarget('/dns4/kubo.local/tcp/5001', false)).toEqual({ baseUrl: 'http://kubo.local:5001' })
    expect(nodeTarget('/unix/tmp/kubo.sock', false)).toEqual({ baseUrl: 'http://localhost', unixSocket: '/tmp/kubo.sock' })
    expect(() => nodeTarget('/ip4/127.0.0.1/udp/5001', false)).toThrow('unsupported')
    expect(() => server({ nodeMultiaddress: '/ip4/127.0.0.1/udp/1' })).toThrow('node_multiaddress')
    expect(() => server({ listenMultiaddress: ['/ip4/127.0.0.1/udp/1'] })).toThrow('unsupported listen multiaddress')
  })
})
