/**
 * The IPFS daemon behind the proxy (`node_multiaddress`, `node_https`):
 * its base URL, and the reverse proxy that relays a request to it
 * unchanged (upstream: Go's `httputil.NewSingleHostReverseProxy`).
 *
 * Relaying streams both ways with backpressure: the client's body is
 * handed to `fetch` as a stream, and kubo's body is returned as the
 * response stream, read only as fast as the client takes it.
 */
import { multiaddr } from '@multiformats/multiaddr'
import { errorMessage, InvalidArgumentError } from '../../errors.ts'
import { type FetchTarget, fetchWithTrailers } from '../../runtime/fetch.ts'

/** How to reach the IPFS daemon. */
export interface NodeTarget extends FetchTarget {
  /** `http(s)://host:port` (for a unix socket: `http://localhost`). */
  baseUrl: string
}

/** Sends a request to the IPFS daemon: `path` is `/api/v0/...?query`. */
export type NodeFetch = (pathAndQuery: string, init: RequestInit) => Promise<Response>

/**
 * The target of `node_multiaddress`: `/ip4|ip6|dns|dns4|dns6/<host>/tcp/<port>`
 * or `/unix/<path>`; `https` = `node_https`.
 * @throws InvalidArgumentError for any other multiaddr.
 */
export function nodeTarget(ma: string, https: boolean): NodeTarget {
  const scheme = https ? 'https' : 'http'
  if (ma.startsWith('/unix/')) {
    const path = decodeURIComponent(ma.slice('/unix'.length)).replace(/^\/+/, '/')
    if (path === '/') throw new InvalidArgumentError(`ipfsproxy.node_multiaddress: invalid unix multiaddr ${ma}`)
    return { baseUrl: `${scheme}://localhost`, unixSocket: path }
  }
  let comps: { name: string; value?: string }[]
  try {
    comps = multiaddr(ma).getComponents()
  } catch (err) {
    throw new InvalidArgumentError(`ipfsproxy.node_multiaddress: ${ma}: ${errorMessage(err)}`)
  }
  const [host, tcp] = comps
  if (
    comps.length !== 2 ||
    host === undefined ||
    host.value === undefined ||
    tcp?.name !== 'tcp' ||
    !['ip4', 'ip6', 'dns', 'dns4', 'dns6'].includes(host.name)
  ) {
    throw new InvalidArgumentError(`ipfsproxy.node_multiaddress: unsupported multiaddr ${ma} (want /ip4|ip6|dns|dns4|dns6/<host>/tcp/<port> or /unix/<path>)`)
  }
  const h = host.name === 'ip6' ? `[${host.value}]` : host.value
  return { baseUrl: `${scheme}://${h}:${tcp.value ?? ''}` }
}

/**
 * A {@link NodeFetch} to `target`, over `node:http` (see
 * `fetchWithTrailers`): kubo's trailers (`X-Stream-Error` of a streamed
 * answer that failed mid-way) reach the relayed response, which `fetch`
 * would drop.
 */
export function nodeFetch(target: NodeTarget): NodeFetch {
  return (pathAndQuery, init) => fetchWithTrailers(`${target.baseUrl}${pathAndQuery}`, init, target)
}

/** Hop-by-hop headers (RFC 9110 7.6.1, as Go's reverse proxy drops them), lower case. */
const HOP_BY_HOP = new Set([
  'connection',
  'proxy-connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade'
])

function endToEnd(h: Headers): Headers {
  const out = new Headers()
  const listed = (h.get('connection') ?? '')
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter((s) => s !== '')
  for (const [k, v] of h) {
    if (HOP_BY_HOP.has(k) || listed.includes(k)) continue
    out.append(k, v)
  }
  return out
}

export interface ForwardOptions {
  /** the client's address, appended to `X-Forwarded-For`. */
  remoteAddress?: string
  /** drop the client's `Authorization` (it was the proxy's own credentials). */
  dropAuthorization?: boolean
}

/**
 * Relays `req` to the IPFS daemon (same method, path, query, headers and
 * body, hop-by-hop headers dropped, `Host` set to the daemon's,
 * `Accept-Encoding` dropped so the body is relayed as kubo makes it, the
 * client's address appended to `X-Forwarded-For` as Go's reverse proxy
 * does), and returns kubo's status, headers and streamed body; kubo's
 * `Trailer` announcement is kept and its trailers follow the body (Go's
 * reverse proxy relays them too) when `fetchNode` provides them.
 * @throws the `fetch` error when the daemon cannot be reached.
 */
export async function forward(fetchNode: NodeFetch, req: Request, opts: ForwardOptions = {}): Promise<Response> {
  const url = new URL(req.url)
  const headers = endToEnd(req.headers)
  headers.delete('host')
  headers.delete('accept-encoding')
  headers.delete('content-length')
  if (opts.dropAuthorization === true) headers.delete('authorization')
  if (opts.remoteAddress !== undefined && opts.remoteAddress !== '') {
    const prior = headers.get('x-forwarded-for')
    headers.set('x-forwarded-for', prior !== null ? `${prior}, ${opts.remoteAddress}` : opts.remoteAddress)
  }
  const hasBody = req.body !== null && req.method !== 'GET' && req.method !== 'HEAD'
  const res = await fetchNode(`${url.pathname}${url.search}`, {
    method: req.method,
    headers,
    body: hasBody ? req.body : null,
    signal: req.signal,
    redirect: 'manual'
  })
  const out = endToEnd(res.headers)
  const announced = res.headers.get('trailer')
  if (announced !== null && res.body !== null) out.set('Trailer', announced)
  return new Response(res.body, { status: res.status, statusText: res.statusText, headers: out })
}
