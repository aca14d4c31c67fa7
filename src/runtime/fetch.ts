/**
 * `fetch` to an HTTP server, also over a unix socket (the IPFS proxy's
 * `node_multiaddress` may be `/unix/<path>`). Bun's `fetch` takes the
 * socket path in its `unix` option; this file is the only one that knows it.
 *
 * Bodies stream both ways: a `ReadableStream` request body is sent as it is
 * read (`duplex: 'half'`), and the response body is read as the caller
 * pulls it. Responses are never decompressed (`decompress: false`), so a
 * proxy can relay kubo's bytes and headers unchanged.
 */
import http from 'node:http'
import https from 'node:https'
import { RESPONSE_TRAILERS, type TrailerCarrier, type TrailerList, writeRequestBody } from './http.ts'

/** Where an HTTP server listens: a base URL over TCP, or a unix socket. */
export interface FetchTarget {
  /** unix socket path; requests go there whatever the URL's host. */
  unixSocket?: string
}

/** `fetch(url, init)`, optionally over `target.unixSocket`. */
export function fetchVia(url: string, init: RequestInit, target: FetchTarget = {}): Promise<Response> {
  const opts: RequestInit & { duplex?: 'half'; unix?: string; decompress?: boolean } = { ...init, decompress: false }
  if (init.body instanceof ReadableStream) opts.duplex = 'half'
  if (target.unixSocket !== undefined) opts.unix = target.unixSocket
  return fetch(url, opts)
}

/**
 * Like {@link fetchVia}, over `node:http`/`node:https` instead of `fetch`,
 * for relays that must pass on the server's HTTP trailers (kubo's
 * `X-Stream-Error`), which `fetch` drops. The returned body carries a
 * {@link RESPONSE_TRAILERS} function (see `./http.ts`) that gives the
 * trailers received once the body has been read to its end; the headers
 * keep the server's `Trailer` announcement. Bodies stream both ways with
 * backpressure; `init.signal` aborts the request and the body. Nothing is
 * decompressed.
 * @throws the connection error when the server cannot be reached.
 */
export function fetchWithTrailers(url: string, init: RequestInit, target: FetchTarget = {}): Promise<Response> {
  const u = new URL(url)
  const secure = u.protocol === 'https:'
  const headers: Record<string, string> = {}
  new Headers(init.headers).forEach((v, k) => {
    headers[k] = v
  })
  const opts: https.RequestOptions = {
    method: init.method ?? 'GET',
    path: `${u.pathname}${u.search}`,
    headers,
    signal: init.signal ?? undefined
  }
  if (target.unixSocket !== undefined) opts.socketPath = target.unixSocket
  else {
    opts.hostname = u.hostname.replace(/^\[|\]$/g, '')
    opts.port = u.port === '' ? (secure ? 443 : 80) : Number(u.port)
  }
  return new Promise<Response>((resolve, reject) => {
    const req = (secure ? https : http).request(opts, (res) => {
      const h = new Headers()
      const raw = res.rawHeaders
      for (let i = 0; i + 1 < raw.length; i += 2) h.append(raw[i] as string, raw[i + 1] as string)
      const status = res.statusCode ?? 502
      const it = res[Symbol.asyncIterator]()
      const body = new ReadableStream<Uint8Array>(
        {
          async pull(ctrl) {
            try {
              const { value, done } = await it.next()
              if (done === true) ctrl.close()
              else ctrl.enqueue(value as Uint8Array)
            } catch (err) {
              ctrl.error(err)
            }
          },
          cancel() {
            res.destroy()
          }
        },
        { highWaterMark: 0 }
      ) as TrailerCarrier
      body[RESPONSE_TRAILERS] = (): TrailerList => {
        const out: TrailerList = []
        const rt = res.rawTrailers
        for (let i = 0; i + 1 < rt.length; i += 2) out.push([rt[i] as string, rt[i + 1] as string])
        return out
      }
      // a response without a body (204, 304, HEAD) cannot carry a stream
      const nullBody = status === 204 || status === 304 || opts.method === 'HEAD'
      if (nullBody) res.resume()
      resolve(new Response(nullBody ? null : body, { status, statusText: res.statusMessage ?? '', headers: h }))
    })
    req.on('error', reject)
    const src = init.body
    if (src === undefined || src === null) {
      req.end()
      return
    }
    const chunks: AsyncIterable<Uint8Array> =
      src instanceof ReadableStream
        ? (src as unknown as AsyncIterable<Uint8Array>)
        : (async function* () {
            yield new Uint8Array(await new Response(src).arrayBuffer())
          })()
    void writeRequestBody(req, chunks)
  })
}
