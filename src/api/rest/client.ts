/**
 * Client of the REST API, mirroring upstream `api/rest/client`
 * (`client.go`, `methods.go`, `request.go`, the `Failover` strategy of
 * `lbclient.go`). Used by `ipfs-cluster ctl`.
 *
 * - `host` is a multiaddr (`/ip4/127.0.0.1/tcp/9094`, `/dns4/…/tcp/…`,
 *   `/unix/<path>`) or an `http(s)://` URL. Several hosts form a failover
 *   list: a request goes to the first one and moves to the next only when
 *   the connection itself fails (an `ApiError` with `code` 0), never when a
 *   peer answered with an error.
 * - Every failure is an `ApiError { code, message }`: the HTTP status and
 *   upstream's `{"code","message"}` body, or code 0 when no HTTP answer came
 *   back (connection refused, request timeout).
 * - Streams (`peers`, `allocations`, `statusAll`, `recoverAll`) are
 *   AsyncGenerators reading NDJSON lazily; an `X-Stream-Error` trailer or
 *   header raises `ApiError(500, …)` after the last item.
 */
import http from 'node:http'
import https from 'node:https'
import { multiaddr } from '@multiformats/multiaddr'
import { parse as ndjsonParse } from 'it-ndjson'
// the adder's upload helpers load with the first add (not for every ctl command: ctl's cold start)
import type { UploadEntry } from '../../adder/multipart.ts'
import { writeRequestBody } from '../../runtime/http.ts'
import type { AddParams } from '../../adder/params.ts'
import { ClusterError, errorMessage } from '../../errors.ts'
import { getLogger } from '../../observability/logging.ts'
import type { CID } from 'multiformats/cid'
import type {
  AddedOutput,
  Alert,
  ConnectGraph,
  GlobalPinInfo,
  GlobalRepoGC,
  ID,
  Metric,
  Pin,
  PinOptions,
  PinType,
  RepoGC,
  TrackerStatus
} from '../../types/index.ts'
import {
  type AlertJSON,
  alertFromJSON,
  type GlobalPinInfoJSON,
  globalPinInfoFromJSON,
  type IDJSON,
  idFromJSON,
  type MetricJSON,
  metricFromJSON,
  parseCid,
  pinFromJSON
} from '../../types/json.ts'

const log = getLogger('apiclient')

/** Upstream `client.DefaultAPIAddr`. */
export const DEFAULT_API_ADDR = '/ip4/127.0.0.1/tcp/9094'

/** Upstream's default check frequency of `WaitFor` (ctl `defaultWaitCheckFreq`), in ms. */
export const DEFAULT_WAIT_CHECK_FREQ_MS = 1000

/**
 * An error answered by the API (upstream `api.Error`): `code` is the HTTP
 * status, or 0 when the request did not get an HTTP answer at all.
 */
export class ApiError extends ClusterError {
  static override name = 'ApiError'
  readonly code: number
  constructor(code: number, message: string) {
    super(message)
    this.code = code
  }
}

/** `WaitFor` ran out of time (Go's `context.DeadlineExceeded`; ctl exits 62). */
export class WaitTimeoutError extends ClusterError {
  static override name = 'WaitTimeoutError'
  constructor(message = 'context deadline exceeded', options?: { cause?: unknown }) {
    super(message, options)
  }
}

/** A peer reported an error status while waiting (upstream `statusReached`). */
export class WaitStatusError extends ClusterError {
  static override name = 'WaitStatusError'
}

/** `/health/bandwidth`: protocol -> stats (upstream `api.BandwidthByProtocol`). */
export type BandwidthByProtocol = Record<string, { totalIn: number; totalOut: number; rateIn: number; rateOut: number }>

export interface RestClientInit {
  /** multiaddr or http(s) URL, or a failover list of them. Default `/ip4/127.0.0.1/tcp/9094`. */
  host?: string | string[]
  basicAuth?: { user: string; pass: string }
  /** use https for multiaddr hosts (upstream `Config.SSL`). */
  https?: boolean
  /** do not verify the server's TLS certificate (upstream `NoVerifyCert`). */
  noCheckCertificate?: boolean
  /** per-request timeout in ms, reading the body included; 0 or unset = none (upstream `Config.Timeout`). */
  timeoutMs?: number
}

export interface AbortOptions {
  signal?: AbortSignal
}

export interface WaitForOptions extends AbortOptions {
  /** the status every peer (or `limit` peers) must reach. */
  target: TrackerStatus
  /** how many peers must reach `target`; 0 = all (`remote` peers ignored for `pinned`). */
  limit?: number
  /** give up after this many ms with `WaitTimeoutError`; upstream applies it only above the check frequency. */
  timeoutMs?: number
  /** ask only the contacted peer. */
  local?: boolean
  /** poll period in ms; default 1000. */
  checkFreqMs?: number
}

/** One endpoint: a base URL plus, for `/unix/` addresses, the socket path. */
interface Endpoint {
  base: string
  unix?: string
}

/**
 * Turns a multiaddr or URL into a base URL (and socket path for `/unix/`).
 * @throws ApiError(0) on an address that is neither.
 */
export function endpointFor(host: string, https = false): Endpoint {
  if (/^https?:\/\//i.test(host)) return { base: host.replace(/\/+$/, '') }
  const scheme = https ? 'https' : 'http'
  if (host.startsWith('/unix/')) {
    // Go form `/unix/tmp/api.sock`, or js-multiaddr's `/unix/%2Ftmp%2Fapi.sock`
    const rest = host.slice('/unix'.length)
    const path = rest.startsWith('/%2F') || rest.startsWith('/%2f') ? decodeURIComponent(rest.slice(1)) : rest
    return { base: `${scheme}://restapi`, unix: path }
  }
  let ma: ReturnType<typeof multiaddr>
  try {
    ma = multiaddr(host)
  } catch (err) {
    throw new ApiError(0, `parsing host multiaddress: ${errorMessage(err)}`)
  }
  const comps = ma.getComponents()
  const first = comps[0]
  const second = comps[1]
  if (first === undefined || second === undefined || first.value === undefined || second.name !== 'tcp') {
    throw new ApiError(0, `unsupported API address: ${host}`)
  }
  const hostname = first.name === 'ip6' ? `[${first.value}]` : first.value
  return { base: `${scheme}://${hostname}:${second.value}` }
}

/**
 * Upstream's `PinOptions.ToQuery` (`api/types.go`): keys sorted like Go's
 * `url.Values.Encode`.
 */
export function pinOptionsToQuery(opts: Partial<PinOptions>): URLSearchParams {
  const q = new URLSearchParams()
  q.set('replication-min', String(opts.replicationFactorMin ?? 0))
  q.set('replication-max', String(opts.replicationFactorMax ?? 0))
  q.set('name', opts.name ?? '')
  q.set('mode', opts.mode ?? 'recursive')
  q.set('shard-size', String(opts.shardSize ?? 0))
  q.set('user-allocations', (opts.userAllocations ?? []).join(','))
  if (opts.expireAt != null) q.set('expire-at', opts.expireAt.toISOString())
  for (const [k, v] of Object.entries(opts.metadata ?? {})) {
    if (k !== '') q.set(`meta-${k}`, v)
  }
  if (opts.pinUpdate != null) q.set('pin-update', opts.pinUpdate.toString())
  if (opts.origins !== undefined && opts.origins.length > 0) q.set('origins', opts.origins.join(','))
  q.sort()
  return q
}

/** upstream `gopath.NewPath(p)` or `/ipfs/<p>`: returns the API path under `/pins`. */
export function pinPathFor(path: string): string {
  const p = path.startsWith('/') ? path : `/ipfs/${path}`
  const m = /^\/(ipfs|ipns|ipld)\/([^/].*)$/.exec(p)
  if (m === null) throw new ApiError(0, `invalid path "${path}": not an /ipfs/, /ipns/ or /ipld/ path`)
  return p
}

// ---- decoders for shapes `types/json.ts` only encodes -----------------------

function obj(v: unknown): Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {}
}

function strs(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []
}

function connectGraphFromJSON(j: unknown): ConnectGraph {
  const o = obj(j)
  const linkMap = (v: unknown): Record<string, string[]> => {
    const out: Record<string, string[]> = {}
    for (const [k, x] of Object.entries(obj(v))) out[k] = strs(x)
    return out
  }
  const trust: Record<string, boolean> = {}
  for (const [k, x] of Object.entries(obj(o.cluster_trust_links))) trust[k] = x === true
  const names: Record<string, string> = {}
  for (const [k, x] of Object.entries(obj(o.id_to_peername))) names[k] = String(x)
  const toIpfs: Record<string, string> = {}
  for (const [k, x] of Object.entries(obj(o.cluster_to_ipfs))) toIpfs[k] = String(x)
  return {
    clusterId: typeof o.cluster_id === 'string' ? o.cluster_id : '',
    idToPeername: names,
    ipfsLinks: linkMap(o.ipfs_links),
    clusterLinks: linkMap(o.cluster_links),
    clusterTrustLinks: trust,
    clusterToIpfs: toIpfs
  }
}

function repoGCFromJSON(j: unknown): RepoGC {
  const o = obj(j)
  const keys = Array.isArray(o.keys) ? o.keys : []
  return {
    peer: typeof o.peer === 'string' ? o.peer : '',
    peername: typeof o.peername === 'string' ? o.peername : '',
    keys: keys.map((k) => {
      const ko = obj(k)
      return {
        key: typeof ko.key === 'string' && ko.key !== '' ? parseCid(ko.key, 'key') : null,
        error: typeof ko.error === 'string' ? ko.error : ''
      }
    }),
    error: typeof o.error === 'string' ? o.error : ''
  }
}

function globalRepoGCFromJSON(j: unknown): GlobalRepoGC {
  const peerMap: Record<string, RepoGC> = {}
  for (const [k, v] of Object.entries(obj(obj(j).peer_map))) peerMap[k] = repoGCFromJSON(v)
  return { peerMap }
}

function bandwidthFromJSON(j: unknown): BandwidthByProtocol {
  const out: BandwidthByProtocol = {}
  const n = (v: unknown): number => (typeof v === 'number' ? v : 0)
  for (const [k, v] of Object.entries(obj(j))) {
    const s = obj(v)
    out[k] = { totalIn: n(s.total_in), totalOut: n(s.total_out), rateIn: n(s.rate_in), rateOut: n(s.rate_out) }
  }
  return out
}

/** Decodes one line of `/add` output (upstream `api.AddedOutput`). */
export function addedOutputFromJSON(j: unknown): AddedOutput {
  const o = obj(j)
  const out: AddedOutput = { name: typeof o.name === 'string' ? o.name : '', cid: parseCid(o.cid) }
  if (typeof o.bytes === 'number') out.bytes = o.bytes
  if (typeof o.size === 'number') out.size = o.size
  if (Array.isArray(o.allocations)) out.allocations = strs(o.allocations)
  return out
}

/** upstream `statusReached` of `client.WaitFor`. @throws WaitStatusError on an error status. */
export function statusReached(target: TrackerStatus, gpi: GlobalPinInfo, limit: number): boolean {
  const infos = Object.values(gpi.peerMap)
  for (const info of infos) {
    if (
      info.status === 'undefined' ||
      info.status === 'cluster_error' ||
      info.status === 'pin_error' ||
      info.status === 'unpin_error'
    ) {
      throw new WaitStatusError(`error has occurred while attempting to reach status: ${target}`)
    }
  }
  const lim = Math.min(limit, infos.length)
  if (lim > 0) return infos.filter((i) => i.status === target).length >= lim
  return infos.every((i) => i.status === target || (i.status === 'remote' && target === 'pinned'))
}

/** Go-like wording of a failed dial (`dial tcp 127.0.0.1:9094: connect: connection refused`). */
function dialError(err: unknown, ep: Endpoint): string {
  const e = err as Error & { code?: string }
  if (e.name === 'TimeoutError') return 'context deadline exceeded (Client.Timeout exceeded while awaiting headers)'
  const where = ep.unix !== undefined ? `dial unix ${ep.unix}` : `dial tcp ${ep.base.replace(/^https?:\/\//, '')}`
  if (e.code === 'ECONNREFUSED' || e.code === 'ConnectionRefused') return `${where}: connect: connection refused`
  if (e.code === 'ENOENT' && ep.unix !== undefined) return `${where}: connect: no such file or directory`
  if (e.code === 'ENOTFOUND') return `${where}: lookup: no such host`
  return e.message
}

function goOp(method: string): string {
  return method.charAt(0).toUpperCase() + method.slice(1).toLowerCase()
}

/** An HTTP answer: status, headers, a body read once, trailers after the body. */
interface HttpAnswer {
  status: number
  statusText: string
  header(name: string): string | undefined
  body: AsyncIterable<Uint8Array>
  /** trailer values; complete only once `body` has been read to its end. */
  trailer(name: string): string | undefined
  /** drops the rest of the body and the connection. */
  discard(): void
  /** the whole body as text. */
  text(): Promise<string>
}

/**
 * One request with `node:http(s)`: unlike `fetch` (Bun 1.4) it exposes
 * HTTP/1.1 trailers, where upstream's streams report late errors, and it
 * dials unix sockets (`socketPath`) under Bun and Deno alike.
 */
function httpRequest(
  ep: Endpoint,
  method: string,
  path: string,
  opts: { headers: Record<string, string>; body?: string | StreamBody; signal?: AbortSignal; rejectUnauthorized: boolean }
): Promise<HttpAnswer> {
  const url = new URL(`${ep.base}${path}`)
  const secure = url.protocol === 'https:'
  const reqOpts: https.RequestOptions = {
    method,
    headers:
      opts.body === undefined || typeof opts.body !== 'string'
        ? opts.headers
        : { ...opts.headers, 'Content-Length': String(Buffer.byteLength(opts.body)) },
    path: `${url.pathname}${url.search}`,
    signal: opts.signal
  }
  if (ep.unix !== undefined) reqOpts.socketPath = ep.unix
  else {
    reqOpts.hostname = url.hostname.replace(/^\[|\]$/g, '')
    reqOpts.port = url.port === '' ? (secure ? 443 : 80) : Number(url.port)
  }
  if (secure) reqOpts.rejectUnauthorized = opts.rejectUnauthorized
  return new Promise((resolve, reject) => {
    const req = (secure ? https : http).request(reqOpts, (res) => {
      // the signal (timeout, caller) destroys the response with an error even
      // when nobody reads it: readers see it through their iterator
      res.on('error', (err) => log.debug(`${method} ${url.href}: ${err.message}`))
      resolve({
        status: res.statusCode ?? 0,
        statusText: res.statusMessage ?? '',
        header: (name) => {
          const v = res.headers[name.toLowerCase()]
          return Array.isArray(v) ? v.join(', ') : v
        },
        body: res,
        trailer: (name) => res.trailers[name.toLowerCase()],
        discard: () => {
          res.destroy()
        },
        text: async () => {
          let out = ''
          const dec = new TextDecoder()
          for await (const chunk of res) out += typeof chunk === 'string' ? chunk : dec.decode(chunk as Uint8Array, { stream: true })
          return out + dec.decode()
        }
      })
    })
    req.on('error', reject)
    if (typeof opts.body === 'function') {
      // a streamed body (chunked): written as the server reads it
      void writeRequestBody(req, opts.body())
      return
    }
    if (opts.body !== undefined) req.write(opts.body)
    req.end()
  })
}

/** A request body produced on demand (a fresh stream per attempt). */
type StreamBody = () => AsyncIterable<Uint8Array>

/**
 * The REST API client. Methods mirror upstream `client.Client`; every
 * method throws `ApiError` on failure.
 */
export class RestClient {
  readonly endpoints: Endpoint[]
  readonly #auth: string | undefined
  readonly #timeoutMs: number
  readonly #noCheckCertificate: boolean

  constructor(init: RestClientInit = {}) {
    const hosts = init.host === undefined ? [DEFAULT_API_ADDR] : Array.isArray(init.host) ? init.host : [init.host]
    if (hosts.length === 0) hosts.push(DEFAULT_API_ADDR)
    this.endpoints = hosts.map((h) => endpointFor(h, init.https ?? false))
    this.#auth =
      init.basicAuth === undefined || init.basicAuth.user === ''
        ? undefined
        : `Basic ${btoa(`${init.basicAuth.user}:${init.basicAuth.pass}`)}`
    this.#timeoutMs = init.timeoutMs ?? 0
    this.#noCheckCertificate = init.noCheckCertificate ?? false
  }

  /**
   * Sends one request, failing over to the next endpoint when no HTTP
   * answer comes back (upstream `Failover` retries only on `api.Error`
   * code 0). The per-request timeout also bounds reading the body.
   */
  async #request(
    method: string,
    path: string,
    options: AbortOptions & { body?: string | StreamBody; headers?: Record<string, string> } = {}
  ): Promise<HttpAnswer> {
    let lastErr: ApiError | undefined
    for (const ep of this.endpoints) {
      const url = `${ep.base}${path}`
      const signals: AbortSignal[] = []
      if (options.signal !== undefined) signals.push(options.signal)
      if (this.#timeoutMs > 0) signals.push(AbortSignal.timeout(this.#timeoutMs))
      const headers: Record<string, string> = { ...options.headers }
      if (this.#auth !== undefined) headers.Authorization = this.#auth
      const signal = signals.length === 0 ? undefined : signals.length === 1 ? signals[0] : AbortSignal.any(signals)
      log.debug(`${method}: ${url}`)
      try {
        return await httpRequest(ep, method, path, {
          headers,
          body: options.body,
          signal,
          rejectUnauthorized: !this.#noCheckCertificate
        })
      } catch (err) {
        if (options.signal?.aborted === true) throw new ApiError(0, `${goOp(method)} "${url}": context canceled`)
        const timedOut = signal?.aborted === true
        lastErr = new ApiError(
          0,
          `${goOp(method)} "${url}": ${timedOut ? 'context deadline exceeded (Client.Timeout exceeded while awaiting headers)' : dialError(err, ep)}`
        )
        log.debug(`request to ${url} failed: ${errorMessage(err)}`)
      }
    }
    throw lastErr ?? new ApiError(0, 'no API endpoints')
  }

  /** upstream `handleResponse`: 202/204 carry nothing; 4xx/5xx become ApiError. */
  async #handle(res: HttpAnswer): Promise<unknown> {
    let text: string
    try {
      text = await res.text()
    } catch (err) {
      throw new ApiError(res.status, errorMessage(err))
    }
    if (res.status === 202 || res.status === 204) return undefined
    if (res.status > 399 && res.status < 600) throw apiErrorFrom(res, text)
    try {
      return JSON.parse(text)
    } catch (err) {
      throw new ApiError(res.status, errorMessage(err))
    }
  }

  async #do(method: string, path: string, options?: AbortOptions & { body?: string; headers?: Record<string, string> }): Promise<unknown> {
    const res = await this.#request(method, path, options)
    return this.#handle(res)
  }

  /** upstream `handleStreamResponse`: NDJSON items, then the X-Stream-Error trailer. */
  async *#stream(
    method: string,
    path: string,
    options?: AbortOptions & { body?: string | StreamBody; headers?: Record<string, string> }
  ): AsyncGenerator<unknown> {
    const res = await this.#request(method, path, options)
    if (res.status > 399 && res.status < 600) {
      await this.#handle(res)
      return
    }
    if (res.status !== 200 && res.status !== 204) {
      res.discard()
      throw new ApiError(res.status, 'expected streaming response with code 200/204')
    }
    let complete = false
    try {
      yield* ndjsonParse(res.body)
      complete = true
    } catch (err) {
      if (err instanceof SyntaxError) throw new ApiError(res.status, err.message)
      const e = err as Error
      if (e.name === 'TimeoutError' || e.name === 'AbortError') throw new ApiError(0, 'context deadline exceeded')
      throw err
    } finally {
      if (!complete) res.discard()
    }
    const streamErr = [res.header('X-Stream-Error'), res.trailer('X-Stream-Error')]
      .filter((v): v is string => typeof v === 'string' && v.trim() !== '')
      .join(', ')
    if (streamErr !== '') throw new ApiError(500, streamErr)
  }

  /** GET /id. */
  async id(options?: AbortOptions): Promise<ID> {
    return idFromJSON((await this.#do('GET', '/id', options)) as IDJSON)
  }

  /** GET /version: the peer's version string. */
  async version(options?: AbortOptions): Promise<{ version: string }> {
    const v = obj(await this.#do('GET', '/version', options))
    return { version: typeof v.version === 'string' ? v.version : '' }
  }

  /** GET /peers: stream of ID. */
  async *peers(options?: AbortOptions): AsyncGenerator<ID> {
    for await (const j of this.#stream('GET', '/peers', options)) yield idFromJSON(j as IDJSON)
  }

  /** POST /peers `{"peer_id"}`. */
  async peerAdd(pid: string, options?: AbortOptions): Promise<ID> {
    const body = JSON.stringify({ peer_id: pid })
    return idFromJSON((await this.#do('POST', '/peers', { ...options, body, headers: { 'Content-Type': 'application/json' } })) as IDJSON)
  }

  /** DELETE /peers/{pid}. */
  async peerRm(pid: string, options?: AbortOptions): Promise<void> {
    await this.#do('DELETE', `/peers/${encodeURIComponent(pid)}`, options)
  }

  /**
   * Pins a CID (POST /pins/{cid}) or an IPFS path (POST /pins/ipfs/{path};
   * a bare string is taken as `/ipfs/<string>`). Returns the Pin.
   */
  async pin(target: CID | string, opts: Partial<PinOptions> = {}, options?: AbortOptions): Promise<Pin> {
    const q = pinOptionsToQuery(opts).toString()
    const path = typeof target === 'string' ? `/pins${pinPathFor(target)}` : `/pins/${target.toString()}`
    return pinFromJSON(await this.#do('POST', `${path}?${q}`, options))
  }

  /** DELETE /pins/{cid} or /pins/ipfs/{path}: the Pin as it was before removal. */
  async unpin(target: CID | string, options?: AbortOptions): Promise<Pin> {
    const path = typeof target === 'string' ? `/pins${pinPathFor(target)}` : `/pins/${target.toString()}`
    return pinFromJSON(await this.#do('DELETE', path, options))
  }

  /** Pins `to` taking options and allocations from `from` (`pin-update`). */
  async pinUpdate(from: CID, to: CID | string, opts: Partial<PinOptions> = {}, options?: AbortOptions): Promise<Pin> {
    return this.pin(to, { ...opts, pinUpdate: from }, options)
  }

  /**
   * GET /allocations?filter=…: stream of Pin. `filter` is a comma-separated
   * list of pin types or `all` (default).
   */
  async *allocations(filter: string | PinType[] = 'all', options?: AbortOptions): AsyncGenerator<Pin> {
    const f = Array.isArray(filter) ? filter.join(',') : filter
    const q = new URLSearchParams({ filter: f === '' ? 'all' : f })
    for await (const j of this.#stream('GET', `/allocations?${q}`, options)) yield pinFromJSON(j)
  }

  /** GET /allocations/{cid}. @throws ApiError 404 when not pinned. */
  async allocation(cid: CID, options?: AbortOptions): Promise<Pin> {
    return pinFromJSON(await this.#do('GET', `/allocations/${cid.toString()}`, options))
  }

  /** GET /pins/{cid}?local=. */
  async status(cid: CID, local = false, options?: AbortOptions): Promise<GlobalPinInfo> {
    return globalPinInfoFromJSON((await this.#do('GET', `/pins/${cid.toString()}?local=${local}`, options)) as GlobalPinInfoJSON)
  }

  /**
   * GET /pins?local=&filter=&cids=: stream of GlobalPinInfo. `filter` is a
   * comma-separated list of tracker statuses ('' = all).
   */
  async *statusAll(filter = '', local = false, cids: CID[] = [], options?: AbortOptions): AsyncGenerator<GlobalPinInfo> {
    const path = `/pins?local=${local}&filter=${encodeURIComponent(filter)}&cids=${cids.map((c) => c.toString()).join(',')}`
    for await (const j of this.#stream('GET', path, options)) yield globalPinInfoFromJSON(j as GlobalPinInfoJSON)
  }

  /** POST /pins/{cid}/recover?local=. */
  async recover(cid: CID, local = false, options?: AbortOptions): Promise<GlobalPinInfo> {
    return globalPinInfoFromJSON((await this.#do('POST', `/pins/${cid.toString()}/recover?local=${local}`, options)) as GlobalPinInfoJSON)
  }

  /** POST /pins/recover?local=: stream of GlobalPinInfo. */
  async *recoverAll(local = false, options?: AbortOptions): AsyncGenerator<GlobalPinInfo> {
    for await (const j of this.#stream('POST', `/pins/recover?local=${local}`, options)) yield globalPinInfoFromJSON(j as GlobalPinInfoJSON)
  }

  /** POST /ipfs/gc?local=. */
  async repoGC(local = false, options?: AbortOptions): Promise<GlobalRepoGC> {
    return globalRepoGCFromJSON(await this.#do('POST', `/ipfs/gc?local=${local}`, options))
  }

  /** GET /health/alerts. */
  async alerts(options?: AbortOptions): Promise<Alert[]> {
    const j = await this.#do('GET', '/health/alerts', options)
    return (Array.isArray(j) ? j : []).map((a) => alertFromJSON(a as AlertJSON))
  }

  /** GET /monitor/metrics: metric names. */
  async metricNames(options?: AbortOptions): Promise<string[]> {
    return strs(await this.#do('GET', '/monitor/metrics', options))
  }

  /** GET /monitor/metrics/{name}. @throws ApiError(0, 'bad metric name') on ''. */
  async metrics(name: string, options?: AbortOptions): Promise<Metric[]> {
    if (name === '') throw new ApiError(0, 'bad metric name')
    const j = await this.#do('GET', `/monitor/metrics/${encodeURIComponent(name)}`, options)
    return (Array.isArray(j) ? j : []).map((m) => metricFromJSON(m as MetricJSON))
  }

  /** GET /health/graph. */
  async graph(options?: AbortOptions): Promise<ConnectGraph> {
    return connectGraphFromJSON(await this.#do('GET', '/health/graph', options))
  }

  /** GET /health/bandwidth. */
  async bandwidth(options?: AbortOptions): Promise<BandwidthByProtocol> {
    return bandwidthFromJSON(await this.#do('GET', '/health/bandwidth', options))
  }

  /** GET /health (204, no auth needed). */
  async health(options?: AbortOptions): Promise<void> {
    await this.#do('GET', '/health', options)
  }

  /** POST /token: a JWT usable as `Authorization: Bearer <token>`. */
  async token(options?: AbortOptions): Promise<string> {
    const t = obj(await this.#do('POST', '/token', options)).token
    return typeof t === 'string' ? t : ''
  }

  /**
   * POST /add (upstream `Add`): uploads local paths (files; directories
   * with `params.recursive`, hidden entries with `params.hidden`) and
   * `http(s)://` URLs as a streamed multipart body (see `src/adder/files.ts`
   * and `src/adder/multipart.ts`), and yields the `AddedOutput` lines.
   * Progress lines (no CID) are skipped; `onRead` reports uploaded bytes.
   * @throws ApiError; fs errors of the paths.
   */
  async *add(
    paths: string[],
    params: AddParams,
    options?: AbortOptions & { onRead?: (bytes: number) => void }
  ): AsyncGenerator<AddedOutput> {
    const { checkUploadPaths, uploadEntries } = await import('../../adder/files.ts')
    await checkUploadPaths(paths, params)
    yield* this.addMultiFile(() => uploadEntries(paths, { recursive: params.recursive, hidden: params.hidden, onRead: options?.onRead }), params, options)
  }

  /** POST /add of prepared entries (upstream `AddMultiFile`); always streamed. */
  async *addMultiFile(entries: () => AsyncIterable<UploadEntry>, params: AddParams, options?: AbortOptions): AsyncGenerator<AddedOutput> {
    const [{ addParamsToQuery }, { encodeMultipart, multipartLength, randomBoundary }] = await Promise.all([
      import('../../adder/params.ts'),
      import('../../adder/multipart.ts')
    ])
    const q = addParamsToQuery({ ...params, streamChannels: true })
    const boundary = randomBoundary()
    const body: StreamBody = () => encodeMultipart(entries(), boundary).body as unknown as AsyncIterable<Uint8Array>
    const headers: Record<string, string> = { 'Content-Type': `multipart/form-data; boundary=${boundary}` }
    // a known length spares the chunked framing (node:http copies every chunk to frame it)
    const length = await multipartLength(entries(), boundary)
    if (length !== undefined) headers['Content-Length'] = String(length)
    for await (const j of this.#stream('POST', `/add?${q.toString()}`, { ...options, body, headers })) {
      const o = obj(j)
      if (o.cid === '' || o.cid === undefined || o.cid === null) continue
      yield addedOutputFromJSON(j)
    }
  }

  /**
   * Polls `status` every `checkFreqMs` (first poll after one period) until
   * `statusReached` (upstream `client.WaitFor`). Returns the last status.
   * @throws WaitTimeoutError when `timeoutMs` (> checkFreqMs) passes,
   * WaitStatusError on an error status, ApiError from `status`.
   */
  async waitFor(cid: CID, opts: WaitForOptions): Promise<GlobalPinInfo> {
    const freq = opts.checkFreqMs ?? DEFAULT_WAIT_CHECK_FREQ_MS
    const timeoutMs = opts.timeoutMs ?? 0
    const deadline = timeoutMs > freq ? Date.now() + timeoutMs : Number.POSITIVE_INFINITY
    const ctrl = new AbortController()
    const onAbort = (): void => ctrl.abort()
    opts.signal?.addEventListener('abort', onAbort, { once: true })
    let timer: ReturnType<typeof setTimeout> | undefined
    const sleep = (ms: number): Promise<void> =>
      new Promise((resolve) => {
        timer = setTimeout(resolve, ms)
        ctrl.signal.addEventListener('abort', () => resolve(), { once: true })
      })
    try {
      for (;;) {
        const left = deadline - Date.now()
        await sleep(Math.min(freq, Math.max(0, left)))
        if (opts.signal?.aborted === true) throw new ApiError(0, 'context canceled')
        if (Date.now() >= deadline) throw new WaitTimeoutError()
        let gpi: GlobalPinInfo
        try {
          const remaining = deadline - Date.now()
          const signal = Number.isFinite(remaining) ? AbortSignal.any([ctrl.signal, AbortSignal.timeout(remaining)]) : ctrl.signal
          gpi = await this.status(cid, opts.local ?? false, { signal })
        } catch (err) {
          if (Date.now() >= deadline) throw new WaitTimeoutError()
          throw err
        }
        if (statusReached(opts.target, gpi, opts.limit ?? 0)) return gpi
      }
    } finally {
      if (timer !== undefined) clearTimeout(timer)
      opts.signal?.removeEventListener('abort', onAbort)
      ctrl.abort()
    }
  }
}

function apiErrorFrom(res: HttpAnswer, text: string): ApiError {
  try {
    const j = JSON.parse(text) as unknown
    if (typeof j === 'object' && j !== null && !Array.isArray(j)) {
      const o = j as Record<string, unknown>
      return new ApiError(typeof o.code === 'number' ? o.code : 0, typeof o.message === 'string' ? o.message : '')
    }
  } catch {
    // not JSON: 404s from routers etc.
  }
  return new ApiError(res.status, text !== '' ? text : res.statusText)
}
