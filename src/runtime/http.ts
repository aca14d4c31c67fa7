/**
 * A small HTTP(S) listener that serves a WHATWG `fetch` handler (Hono's
 * `app.fetch`) on a TCP address or a unix socket.
 *
 * Why `node:http` and not `Bun.serve`: upstream's streaming endpoints
 * report late errors in an HTTP/1.1 trailer (`X-Stream-Error`) that Go's
 * client reads from `resp.Trailer`. `Bun.serve` (1.4) cannot send trailers,
 * while `node:http` can (`res.addTrailers`), both under Bun and Deno. A
 * response body (a `ReadableStream`) may carry a function under
 * {@link RESPONSE_TRAILERS}; it is called once the body has been fully
 * written and its result is sent as trailers.
 *
 * This file is the only one that knows which runtime server is used.
 */
import { chmodSync, rmSync, statSync } from 'node:fs'
import http from 'node:http'
import https from 'node:https'
import type { AddressInfo, Socket } from 'node:net'
import type { Writable } from 'node:stream'
import { getLogger } from '../observability/logging.ts'
import { errorMessage } from '../errors.ts'

const log = getLogger('http')

/**
 * The trailer that carries an error of a streamed response after its last
 * item, empty on success (upstream's `X-Stream-Error`, read by its Go
 * client from `resp.Trailer`). Set by the REST API's NDJSON streams and the
 * adder's `/add` handler.
 */
export const STREAM_ERROR_TRAILER = 'X-Stream-Error'

/** Symbol under which a response body stream exposes its trailers. */
export const RESPONSE_TRAILERS: unique symbol = Symbol.for('ipfs-cluster.response-trailers')

/**
 * Symbol under which a `Response` made by {@link textResponse} keeps its
 * whole body as a string, so the listener writes it in one `end()` instead
 * of reading the body stream chunk by chunk.
 */
const RESPONSE_TEXT: unique symbol = Symbol.for('ipfs-cluster.response-text')

/**
 * A `Response` with a complete text body (e.g. a JSON document), same as
 * `new Response(text, init)`; served by {@link listenHttp} without going
 * through the body stream (a ReadableStream read, a cork and a timer turn
 * per response were about 5% of the CPU of a pin request).
 */
export function textResponse(text: string, init?: ResponseInit): Response {
  const r = new Response(text, init) as Response & { [RESPONSE_TEXT]?: string }
  r[RESPONSE_TEXT] = text
  return r
}

/** Trailers as `[name, value]` pairs (a name may repeat). */
export type TrailerList = [string, string][]

/** A body stream that may carry trailers, computed after the body ends. */
export type TrailerCarrier = ReadableStream<Uint8Array> & { [RESPONSE_TRAILERS]?: () => TrailerList }

/** Where a served `Request` keeps the client's address (see {@link remoteAddressOf}). */
const REMOTE_ADDRESS: unique symbol = Symbol.for('ipfs-cluster.remote-address')

/**
 * The IP address of the client that sent a `Request` this listener served
 * (`''` for a unix socket, or a `Request` made elsewhere).
 */
export function remoteAddressOf(req: Request): string {
  return (req as Request & { [REMOTE_ADDRESS]?: string })[REMOTE_ADDRESS] ?? ''
}

export type ListenAddress = { kind: 'tcp'; host: string; port: number } | { kind: 'unix'; path: string }

export interface HttpListenOptions {
  fetch: (req: Request) => Response | Promise<Response>
  address: ListenAddress
  /** PEM contents; both set = HTTPS. */
  tls?: { cert: string | Buffer; key: string | Buffer }
  /** keep-alive idle timeout, ms (0 = runtime default). */
  idleTimeoutMs?: number
  /** time allowed to receive the request headers, ms (0 = runtime default). */
  readHeaderTimeoutMs?: number
  /** time allowed to receive the whole request, ms (0 = no limit). */
  readTimeoutMs?: number
  /** maximum size of the request headers, bytes. */
  maxHeaderBytes?: number
  /**
   * time allowed from the end of the request headers to the end of the
   * response, ms (0 = no limit; Go's `WriteTimeout`): past it the
   * connection is closed.
   */
  writeTimeoutMs?: number
  /** Called with errors the handler did not turn into a response. */
  onError?: (err: unknown) => void
  /** Called once per request after its response ended (access logging). */
  onRequestDone?: (r: RequestRecord) => void
}

/** What an access log line needs (gorilla `LoggingHandler` fields). */
export interface RequestRecord {
  remoteAddress: string
  method: string
  /** request target as sent (path and query). */
  url: string
  /** `HTTP/1.1` */
  proto: string
  status: number
  /** body bytes written. */
  bytes: number
  /** when the request arrived. */
  start: Date
}

export interface HttpListener {
  /** The bound address (port 0 resolved). */
  readonly address: ListenAddress
  /**
   * Stops accepting, waits for in-flight requests up to `graceMs`, then
   * closes every remaining connection. Idempotent.
   */
  close(graceMs?: number): Promise<void>
}

function toRequest(req: http.IncomingMessage, secure: boolean, signal: AbortSignal): Request {
  const headers = new Headers()
  const raw = req.rawHeaders
  for (let i = 0; i + 1 < raw.length; i += 2) headers.append(raw[i]!, raw[i + 1]!)
  const host = req.headers.host ?? 'localhost'
  const url = `${secure ? 'https' : 'http'}://${host}${req.url ?? '/'}`
  const method = req.method ?? 'GET'
  let body: ReadableStream<Uint8Array> | undefined
  // a request announcing no body (`Content-Length: 0`, no transfer coding)
  // gets none: no stream over the socket's async iterator per request
  const empty = req.headers['content-length'] === '0' && req.headers['transfer-encoding'] === undefined
  if (method !== 'GET' && method !== 'HEAD' && !empty) {
    const it = req[Symbol.asyncIterator]()
    body = new ReadableStream<Uint8Array>({
      async pull(ctrl) {
        const { value, done } = await it.next()
        if (done === true) ctrl.close()
        // a Buffer is a Uint8Array: handed on as is (a copy per chunk costs ~10% of an upload's CPU)
        else ctrl.enqueue(typeof value === 'string' ? new TextEncoder().encode(value) : (value as Uint8Array))
      },
      cancel() {
        req.resume()
      }
    })
  }
  const init: RequestInit & { duplex?: 'half' } = { method, headers, signal }
  if (body !== undefined) {
    init.body = body
    init.duplex = 'half'
  }
  const out = new Request(url, init) as Request & { [REMOTE_ADDRESS]?: string }
  out[REMOTE_ADDRESS] = req.socket.remoteAddress ?? ''
  return out
}

/** Resolves at the stream's next `drain` or `close`. */
function waitDrainOrClose(res: Writable): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      res.off('drain', done)
      res.off('close', done)
      resolve()
    }
    res.on('drain', done)
    res.on('close', done)
  })
}

/**
 * Writes a request body to a `node:http` client request as it is read,
 * waiting for `drain` when the socket is full, then ends the request;
 * stops early when the request is destroyed. A failing source destroys the
 * request with its error.
 */
export async function writeRequestBody(req: http.ClientRequest, chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Promise<void> {
  try {
    for await (const chunk of chunks) {
      if (req.destroyed) return
      if (!req.write(chunk)) await waitDrainOrClose(req)
    }
    req.end()
  } catch (err) {
    req.destroy(err instanceof Error ? err : new Error(String(err)))
  }
}

async function writeResponse(res: http.ServerResponse, response: Response, signal: AbortSignal, written: { bytes: number }): Promise<void> {
  res.statusCode = response.status
  const setCookies = response.headers.getSetCookie()
  for (const [k, v] of response.headers) {
    if (k.toLowerCase() === 'set-cookie') continue
    res.setHeader(k, v)
  }
  if (setCookies.length > 0) res.setHeader('set-cookie', setCookies)
  const text = (response as Response & { [RESPONSE_TEXT]?: string })[RESPONSE_TEXT]
  if (text !== undefined && !response.bodyUsed) {
    // a complete text body (textResponse): one write, no stream, no trailers
    res.removeHeader('trailer')
    written.bytes += Buffer.byteLength(text)
    res.end(text)
    return
  }
  const body = response.body as TrailerCarrier | null
  if (body === null) {
    // no body, no trailers: Deno's node:http throws "Trailers are invalid
    // with this transfer encoding" on a bodiless (e.g. 204) response announcing them
    res.removeHeader('trailer')
    res.end()
    return
  }
  const reader = body.getReader()
  const onAbort = (): void => {
    reader.cancel().catch(() => {})
  }
  signal.addEventListener('abort', onAbort, { once: true })
  // Chunks produced within one turn of the event loop are coalesced (cork
  // until setImmediate, or until 64 KiB are pending); a slow source still
  // gets each chunk flushed as soon as it is produced.
  let corked = false
  const uncork = (): void => {
    if (!corked) return
    corked = false
    res.uncork()
  }
  try {
    for (;;) {
      const { value, done } = await reader.read()
      if (done) break
      if (res.destroyed) return
      if (!corked) {
        corked = true
        res.cork()
        setImmediate(uncork)
      }
      written.bytes += value.byteLength
      const ok = res.write(value)
      if (res.writableLength >= 65536) uncork()
      if (!ok) {
        uncork()
        await waitDrainOrClose(res)
      }
    }
    uncork()
  } catch (err) {
    uncork()
    // the body failed without trailers to carry the error: cut the
    // connection so the client sees an incomplete response, not success
    res.destroy(err instanceof Error ? err : new Error(String(err)))
    return
  } finally {
    signal.removeEventListener('abort', onAbort)
  }
  const trailers = body[RESPONSE_TRAILERS]?.()
  if (trailers !== undefined && trailers.length > 0 && !res.destroyed) res.addTrailers(trailers)
  res.end()
}

/** Resolves when `p` settles or after `ms`, whichever comes first; no timer survives. */
async function raceTimeout(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined
  try {
    await Promise.race([
      p,
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, ms)
      })
    ])
  } finally {
    clearTimeout(timer)
  }
}

/**
 * Listens on one address. A unix socket is made mode 0600 (only its owner
 * may connect). A unix socket path that already exists as a
 * socket is removed first (a stale socket from a previous run).
 * @throws Error when the address cannot be bound.
 */
export async function listenHttp(opts: HttpListenOptions): Promise<HttpListener> {
  const secure = opts.tls !== undefined
  const inFlight = new Set<Promise<void>>()
  const sockets = new Set<Socket>()

  const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const ac = new AbortController()
    const start = new Date()
    const written = { bytes: 0 }
    // a client that goes away mid-request or mid-response (reset, timeout)
    // errors these streams: reported, never left without a listener
    const gone = (err: Error): void => log.debug(`${req.method ?? ''} ${req.url ?? ''} from ${req.socket.remoteAddress ?? 'unix socket'}: ${err.message}`)
    req.on('error', gone)
    res.on('error', gone)
    const writeTimer =
      opts.writeTimeoutMs !== undefined && opts.writeTimeoutMs > 0
        ? setTimeout(() => {
            log.debug(`${req.method ?? ''} ${req.url ?? ''}: write timeout, closing the connection`)
            // the connection, not only the response (Go closes it)
            req.socket.destroy()
            res.destroy()
          }, opts.writeTimeoutMs)
        : undefined
    res.on('close', () => {
      clearTimeout(writeTimer)
      if (!res.writableFinished) ac.abort()
      opts.onRequestDone?.({
        remoteAddress: req.socket.remoteAddress ?? '',
        method: req.method ?? '',
        url: req.url ?? '',
        proto: `HTTP/${req.httpVersion}`,
        status: res.statusCode,
        bytes: written.bytes,
        start
      })
    })
    const p = (async () => {
      let response: Response
      try {
        response = await opts.fetch(toRequest(req, secure, ac.signal))
      } catch (err) {
        opts.onError?.(err)
        response = new Response(JSON.stringify({ code: 500, message: errorMessage(err) }), {
          status: 500,
          headers: { 'content-type': 'application/json' }
        })
      }
      await writeResponse(res, response, ac.signal, written)
    })()
      .catch((err: unknown) => {
        opts.onError?.(err)
        res.destroy()
      })
      .finally(() => {
        inFlight.delete(p)
      })
    inFlight.add(p)
  }

  const serverOpts: http.ServerOptions = {}
  if (opts.maxHeaderBytes !== undefined && opts.maxHeaderBytes > 0) serverOpts.maxHeaderSize = opts.maxHeaderBytes
  const server: http.Server = secure
    ? https.createServer({ ...serverOpts, cert: opts.tls!.cert, key: opts.tls!.key }, handler)
    : http.createServer(serverOpts, handler)
  if (opts.idleTimeoutMs !== undefined && opts.idleTimeoutMs > 0) server.keepAliveTimeout = opts.idleTimeoutMs
  if (opts.readHeaderTimeoutMs !== undefined && opts.readHeaderTimeoutMs > 0) server.headersTimeout = opts.readHeaderTimeoutMs
  // 0 = no limit (Node's default of 300s would cut long uploads to /add)
  server.requestTimeout = opts.readTimeoutMs !== undefined && opts.readTimeoutMs > 0 ? opts.readTimeoutMs : 0
  server.on('connection', (s: Socket) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  server.on('secureConnection', (s: Socket) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })

  const addr = opts.address
  if (addr.kind === 'unix') {
    try {
      if (statSync(addr.path).isSocket()) rmSync(addr.path, { force: true })
    } catch {
      // does not exist
    }
  }
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => reject(err)
    server.once('error', onError)
    const ready = (): void => {
      server.off('error', onError)
      resolve()
    }
    if (addr.kind === 'unix') server.listen(addr.path, ready)
    else server.listen(addr.port, addr.host, ready)
  })
  // a unix socket is for this user only (the follower's API socket, issue 11)
  if (addr.kind === 'unix') chmodSync(addr.path, 0o600)
  if (opts.onError !== undefined) server.on('error', opts.onError)

  let bound: ListenAddress = addr
  if (addr.kind === 'tcp') {
    const a = server.address() as AddressInfo
    bound = { kind: 'tcp', host: addr.host, port: a.port }
  }

  let closing: Promise<void> | undefined
  return {
    address: bound,
    close(graceMs = 5000): Promise<void> {
      closing ??= (async () => {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()))
        server.closeIdleConnections()
        await raceTimeout(Promise.allSettled([...inFlight]), graceMs)
        server.closeAllConnections()
        for (const s of sockets) s.destroy()
        await raceTimeout(closed, 1000)
        if (addr.kind === 'unix') rmSync(addr.path, { force: true })
      })()
      return closing
    }
  }
}
