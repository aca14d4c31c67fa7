/**
 * The REST API as a Hono app, mirroring upstream `api/rest/restapi.go`
 * (routes) and `api/common/api.go` (auth, CORS, strict slash, responses).
 *
 * Middleware order (outermost first): configured headers → auth → CORS →
 * trailing-slash redirect → router. Errors are mapped to HTTP in one place
 * (`app.onError` with {@link statusOf}), with upstream's body
 * `{"code": N, "message": "..."}`.
 *
 * The app is testable without a socket: `app.request('/id')`.
 */
import { type Context, Hono, type MiddlewareHandler } from 'hono'
import type { CID } from 'multiformats/cid'
import type { AddHandler } from '../../adder/handler.ts'
import { RESTAPI } from '../../config/sections.ts'
import { fieldDefaults } from '../../config/typed.ts'
import type { AbortOptions, ClusterAPI } from '../../interfaces.ts'
import { getLogger } from '../../observability/logging.ts'
import { textResponse } from '../../runtime/http.ts'
import { errorMessage, InvalidArgumentError } from '../../errors.ts'
import type { GlobalPinInfo } from '../../types/index.ts'
import { globalPinInfoLine } from '../../types/gpinline.ts'
import {
  alertToJSON,
  connectGraphToJSON,
  globalPinInfoToJSON,
  globalRepoGCToJSON,
  idToJSON,
  metricToJSON,
  pinToJSON
} from '../../types/json.ts'
import { authMiddleware, type BasicAuthCredentials, tokenFor, UnauthorizedError } from './auth.ts'
import {
  parseCidParam,
  parsePeerId,
  pinOptionsFromQuery,
  pinTypeFilterFromQuery,
  queryFlag,
  statusFilterFromQuery
} from './params.ts'
import { filterStream, mapStream, streamPagesResponse, streamResponse } from './stream.ts'
import { uiMiddleware } from './ui.ts'

const log = getLogger('restapi')

/** The REST API settings the app uses (the `api.restapi` section of service.json). */
export interface RestApiInit {
  /** user -> password; null = no auth. */
  basicAuthCredentials: BasicAuthCredentials
  /** headers added to every response (`headers`). */
  headers: Record<string, string[]>
  corsAllowedOrigins: string[]
  corsAllowedMethods: string[]
  corsAllowedHeaders: string[]
  corsExposedHeaders: string[]
  corsAllowCredentials: boolean
  /** ms; 0 = no `Access-Control-Max-Age` header. */
  corsMaxAgeMs: number
  /** bytes; used by the server (`max_header_bytes`). */
  maxHeaderBytes?: number
}

export interface RestApiComponents {
  cluster: ClusterAPI
  /** HOOK: the adder's handler for `POST /add` (absent = 501). */
  add?: AddHandler
}

const { corsAllowedOrigins, corsAllowedMethods, corsAllowedHeaders, corsExposedHeaders, corsAllowCredentials, corsMaxAgeMs } =
  fieldDefaults(RESTAPI)

/** Upstream's defaults for the CORS settings (`api/rest/config.go`), from the `api.restapi` declaration. */
export const DEFAULT_CORS = Object.freeze({
  corsAllowedOrigins: Object.freeze(corsAllowedOrigins),
  corsAllowedMethods: Object.freeze(corsAllowedMethods),
  corsAllowedHeaders: Object.freeze(corsAllowedHeaders),
  corsExposedHeaders: Object.freeze(corsExposedHeaders),
  corsAllowCredentials,
  corsMaxAgeMs
})

/**
 * The HTTP status for an error thrown by a handler or by the cluster:
 * `NotFoundError` (or upstream's bare "not found") → 404,
 * `InvalidArgumentError` → 400, `UnauthorizedError` → 401, `DiskFullError`
 * → 507 (Insufficient Storage; upstream answers 500), anything else
 * (incl. `FollowerModeError`, as upstream sends it through RPC) → 500.
 */
export function statusOf(err: unknown): number {
  const e = err as { name?: unknown; message?: unknown; status?: unknown } | null
  const name = typeof e?.name === 'string' ? e.name : ''
  if (name === 'NotFoundError' || e?.message === 'not found') return 404
  if (name === 'InvalidArgumentError') return 400
  if (name === 'UnauthorizedError') return 401
  if (name === 'NotImplementedError') return 501
  if (name === 'DiskFullError') return 507
  return 500
}

/** Upstream's error body. */
export function errorBody(code: number, message: string): { code: number; message: string } {
  return { code, message }
}

function errorResponse(code: number, message: string, headers?: HeadersInit): Response {
  const h = new Headers(headers)
  h.set('Content-Type', 'application/json')
  return new Response(`${JSON.stringify(errorBody(code, message))}\n`, { status: code, headers: h })
}

function jsonResponse(value: unknown, status = 200): Response {
  return textResponse(`${JSON.stringify(value)}\n`, { status, headers: { 'Content-Type': 'application/json' } })
}

function noContent(): Response {
  return new Response(null, { status: 204, headers: { 'Content-Type': 'application/json' } })
}

/** Adds the configured headers (upstream `SetHeaders`) and `Content-Type: application/json` when unset. */
export function headersMiddleware(headers: Record<string, string[]>): MiddlewareHandler {
  const entries = Object.entries(headers)
  return async (c, next) => {
    await next()
    const h = c.res.headers
    for (const [k, values] of entries) for (const v of values) h.append(k, v)
    if (!h.has('Content-Type') && c.res.status !== 307) h.set('Content-Type', 'application/json')
  }
}

function originMatcher(patterns: string[]): { all: boolean; test: (origin: string) => boolean } {
  const lower = patterns.map((p) => p.toLowerCase())
  if (lower.includes('*')) return { all: true, test: () => true }
  const exact = new Set(lower.filter((p) => !p.includes('*')))
  const wild = lower
    .filter((p) => p.includes('*'))
    .map((p) => {
      const i = p.indexOf('*')
      return { prefix: p.slice(0, i), suffix: p.slice(i + 1) }
    })
  return {
    all: false,
    test: (origin) => {
      const o = origin.toLowerCase()
      if (exact.has(o)) return true
      return wild.some((w) => o.length >= w.prefix.length + w.suffix.length && o.startsWith(w.prefix) && o.endsWith(w.suffix))
    }
  }
}

/**
 * CORS with the semantics of `github.com/rs/cors` (v1.11) as configured by
 * upstream: preflights (`OPTIONS` + `Access-Control-Request-Method`) are
 * answered 204 here (with CORS headers only when origin, method and
 * headers are allowed); actual requests get `Access-Control-Allow-Origin`,
 * `-Expose-Headers` and `-Allow-Credentials` when origin and method are
 * allowed.
 */
export function corsMiddleware(init: Pick<
  RestApiInit,
  'corsAllowedOrigins' | 'corsAllowedMethods' | 'corsAllowedHeaders' | 'corsExposedHeaders' | 'corsAllowCredentials' | 'corsMaxAgeMs'
>): MiddlewareHandler {
  const origins = originMatcher(init.corsAllowedOrigins)
  const methods = new Set((init.corsAllowedMethods.length > 0 ? init.corsAllowedMethods : ['GET', 'POST', 'HEAD']).map((m) => m.toUpperCase()))
  const allowedHeaders = (init.corsAllowedHeaders.length > 0 ? init.corsAllowedHeaders : ['Accept', 'Content-Type', 'X-Requested-With'])
    .map((h) => h.toLowerCase())
    .concat('origin')
  const allHeaders = allowedHeaders.includes('*')
  const exposed = init.corsExposedHeaders.join(', ')
  const maxAgeS = Math.floor(init.corsMaxAgeMs / 1000)
  const methodAllowed = (m: string): boolean => m === 'OPTIONS' || methods.has(m.toUpperCase())

  return async (c, next) => {
    const origin = c.req.header('Origin')
    const reqMethod = c.req.header('Access-Control-Request-Method')
    if (c.req.method === 'OPTIONS' && reqMethod !== undefined && reqMethod !== '') {
      const h = new Headers()
      h.append('Vary', 'Origin, Access-Control-Request-Method, Access-Control-Request-Headers')
      const reqHeaders = (c.req.header('Access-Control-Request-Headers') ?? '')
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== '')
      const headersOk = allHeaders || reqHeaders.every((rh) => allowedHeaders.includes(rh.toLowerCase()))
      if (origin !== undefined && origin !== '' && origins.test(origin) && methodAllowed(reqMethod) && headersOk) {
        h.set('Access-Control-Allow-Origin', origins.all ? '*' : origin)
        h.set('Access-Control-Allow-Methods', reqMethod.toUpperCase())
        if (reqHeaders.length > 0) h.set('Access-Control-Allow-Headers', reqHeaders.join(', '))
        if (init.corsAllowCredentials) h.set('Access-Control-Allow-Credentials', 'true')
        if (maxAgeS > 0) h.set('Access-Control-Max-Age', String(maxAgeS))
      }
      return new Response(null, { status: 204, headers: h })
    }
    await next()
    const h = c.res.headers
    h.append('Vary', 'Origin')
    if (origin === undefined || origin === '' || !origins.test(origin) || !methodAllowed(c.req.method)) return
    h.set('Access-Control-Allow-Origin', origins.all ? '*' : origin)
    if (exposed !== '') h.set('Access-Control-Expose-Headers', exposed)
    if (init.corsAllowCredentials) h.set('Access-Control-Allow-Credentials', 'true')
  }
}

/** Redirects `/path/` to `/path` with 307, keeping the query (upstream `strictSlashHandler`). */
export function strictSlashMiddleware(): MiddlewareHandler {
  return async (c, next) => {
    const url = new URL(c.req.url)
    if (url.pathname.length > 1 && url.pathname.endsWith('/')) {
      return new Response(null, { status: 307, headers: { Location: url.pathname.slice(0, -1) + url.search } })
    }
    return next()
  }
}

/** Validates a `/ipfs|ipns|ipld/<path>` the way `boxo/path.NewPath` would. @throws InvalidArgumentError */
function parsePinPath(keyType: string, rest: string): string {
  const trimmed = rest.replace(/\/+$/, '')
  const segments = trimmed.split('/')
  const root = segments[0] ?? ''
  if (root === '') throw new InvalidArgumentError(`error parsing path: /${keyType}/${rest}: path does not have enough components`)
  if (keyType !== 'ipns') {
    try {
      parseCidParam(root)
    } catch (err) {
      throw new InvalidArgumentError(`error parsing path: /${keyType}/${trimmed}: ${errorMessage(err)}`)
    }
  }
  return `/${keyType}/${trimmed}`
}

function signalOf(c: Context): AbortOptions {
  return { signal: c.req.raw.signal }
}

/**
 * Builds the REST API app.
 * @param init the `api.restapi` settings
 * @param components `cluster` (the `ClusterAPI`), optional `add` hook
 */
export function createRestApp(init: RestApiInit, components: RestApiComponents): Hono {
  const { cluster } = components
  const app = new Hono()

  app.use('*', headersMiddleware(init.headers))
  // the dashboard's static assets are public (a login page); its data calls go through auth below
  app.use('*', uiMiddleware())
  app.use('*', authMiddleware(init.basicAuthCredentials))
  app.use('*', corsMiddleware(init))
  app.use('*', strictSlashMiddleware())

  app.get('/id', async (c) => jsonResponse(idToJSON(await cluster.id(signalOf(c)))))

  app.get('/version', () => jsonResponse({ version: cluster.version() }))

  app.get('/peers', (c) => streamResponse(cluster.peers(signalOf(c)), idToJSON))

  app.post('/peers', async (c) => {
    let body: unknown
    try {
      body = JSON.parse(await c.req.text())
    } catch {
      throw new InvalidArgumentError('error decoding request body')
    }
    const pid = (body as { peer_id?: unknown } | null)?.peer_id
    if (typeof pid !== 'string') throw new InvalidArgumentError('error decoding peer_id')
    const id = await cluster.peerAdd(parsePeerId(pid, 'peer_id'), signalOf(c))
    return jsonResponse(idToJSON(id))
  })

  app.delete('/peers/:peer', async (c) => {
    await cluster.peerRemove(parsePeerId(c.req.param('peer'), 'Peer ID'), signalOf(c))
    return noContent()
  })

  // HOOK: POST /add is served by the adder (components.add) once it exists.
  app.post('/add', (c) => {
    if (components.add !== undefined) return components.add(c.req.raw, signalOf(c))
    return errorResponse(501, 'add is not implemented yet')
  })

  app.get('/allocations', (c) => {
    const types = pinTypeFilterFromQuery(c.req.query('filter') ?? '')
    if (cluster.pinPages !== undefined) {
      const pages = cluster.pinPages(signalOf(c))
      return streamPagesResponse(types === null ? pages : mapStream(pages, (page) => page.filter((p) => types.has(p.type))), pinToJSON)
    }
    const pins = cluster.pins(signalOf(c))
    const source = types === null ? pins : filterStream(pins, (p) => types.has(p.type))
    return streamResponse(source, pinToJSON)
  })

  app.get('/allocations/:hash', async (c) => {
    const cid = parseCidParam(c.req.param('hash'))
    return jsonResponse(pinToJSON(await cluster.pinGet(cid, signalOf(c))))
  })

  app.get('/pins', (c) => {
    const query = new URL(c.req.url).searchParams
    const local = queryFlag(query, 'local')
    const cidsStr = query.get('cids') ?? ''
    let source: AsyncGenerator<GlobalPinInfo>
    if (cidsStr !== '') {
      const cids: CID[] = cidsStr.split(',').map((s) => parseCidParam(s))
      source = cluster.statusCids(cids, local, signalOf(c))
    } else {
      const filter = statusFilterFromQuery(query.get('filter') ?? '')
      const pages = cluster.statusAllPages?.(filter, local, signalOf(c))
      if (pages !== undefined) return streamPagesResponse(pages, globalPinInfoToJSON)
      source = cluster.statusAll(filter, local, signalOf(c))
    }
    return streamResponse(source, globalPinInfoToJSON, globalPinInfoLine)
  })

  app.post('/pins/recover', (c) => {
    const local = queryFlag(new URL(c.req.url).searchParams, 'local')
    return streamResponse(cluster.recoverAll(local, signalOf(c)), globalPinInfoToJSON, globalPinInfoLine)
  })

  app.post('/pins/:hash/recover', async (c) => {
    const cid = parseCidParam(c.req.param('hash'))
    const local = queryFlag(new URL(c.req.url).searchParams, 'local')
    return jsonResponse(globalPinInfoToJSON(await cluster.recover(cid, local, signalOf(c))))
  })

  app.get('/pins/:hash', async (c) => {
    const cid = parseCidParam(c.req.param('hash'))
    const local = queryFlag(new URL(c.req.url).searchParams, 'local')
    return jsonResponse(globalPinInfoToJSON(await cluster.status(cid, local, signalOf(c))))
  })

  app.post('/pins/:keyType{ipfs|ipns|ipld}/:path{.+}', async (c) => {
    const path = parsePinPath(c.req.param('keyType'), c.req.param('path'))
    const opts = pinOptionsFromQuery(new URL(c.req.url).searchParams)
    return jsonResponse(pinToJSON(await cluster.pinPath(path, opts, signalOf(c))))
  })

  app.post('/pins/:hash', async (c) => {
    const cid = parseCidParam(c.req.param('hash'))
    const opts = pinOptionsFromQuery(new URL(c.req.url).searchParams)
    log.debug(`rest api pinHandler: ${cid}`)
    return jsonResponse(pinToJSON(await cluster.pin(cid, opts, signalOf(c))))
  })

  app.delete('/pins/:keyType{ipfs|ipns|ipld}/:path{.+}', async (c) => {
    const path = parsePinPath(c.req.param('keyType'), c.req.param('path'))
    pinOptionsFromQuery(new URL(c.req.url).searchParams)
    return jsonResponse(pinToJSON(await cluster.unpinPath(path, signalOf(c))))
  })

  app.delete('/pins/:hash', async (c) => {
    const cid = parseCidParam(c.req.param('hash'))
    pinOptionsFromQuery(new URL(c.req.url).searchParams)
    log.debug(`rest api unpinHandler: ${cid}`)
    return jsonResponse(pinToJSON(await cluster.unpin(cid, signalOf(c))))
  })

  app.post('/ipfs/gc', async (c) => {
    const local = queryFlag(new URL(c.req.url).searchParams, 'local')
    return jsonResponse(globalRepoGCToJSON(await cluster.repoGC(local, signalOf(c))))
  })

  app.get('/health/graph', async (c) => jsonResponse(connectGraphToJSON(await cluster.connectGraph(signalOf(c)))))

  app.get('/health/alerts', () => jsonResponse(cluster.alerts().map(alertToJSON)))

  app.get('/health/bandwidth', () => jsonResponse(cluster.bandwidthByProtocol()))

  app.get('/monitor/metrics/:name', async (c) => {
    const metrics = await cluster.metrics(c.req.param('name'), signalOf(c))
    return jsonResponse(metrics.map(metricToJSON))
  })

  app.get('/monitor/metrics', () => jsonResponse(cluster.metricNames()))

  app.post('/token', async (c) => jsonResponse({ token: await tokenFor(init.basicAuthCredentials, c.req.header('Authorization')) }))

  app.get('/health', () => noContent())

  app.notFound(() => errorResponse(404, 'not found'))

  app.onError((err) => {
    const status = statusOf(err)
    const message = errorMessage(err)
    if (status >= 500) log.error(`sending error response: ${status}: ${message}`)
    else log.debug(`sending error response: ${status}: ${message}`)
    const headers = new Headers()
    if (err instanceof UnauthorizedError) for (const ch of err.challenges) headers.append('WWW-Authenticate', ch)
    return errorResponse(status, message, headers)
  })

  return app
}
