/**
 * The IPFS Pinning Service API (spec ipfs/pinning-services-api-spec
 * v1.0.0) as a Hono app, over the `ClusterAPI`; upstream `api/pinsvcapi`.
 *
 * Routes: `GET/POST /pins`, `GET/POST/DELETE /pins/{requestid}`, and the
 * cluster's `POST /token` and `GET /health`. The middleware (configured
 * headers, auth, CORS, strict slash) and the token are the REST API's.
 *
 * - `requestid` is the CID (as upstream): the cluster holds one pin per CID,
 *   so pinning a CID again answers with the same requestid, and a replaced
 *   or removed requestid is unknown (404).
 * - `POST /pins` and `POST /pins/{requestid}` answer 202 with the pin's
 *   status (upstream 200, always `queued`); `DELETE` answers 202.
 * - `GET /pins` without `cid` reads the local pins-by-creation index
 *   (src/state/created.ts) from `before`, newest first, and stops once
 *   `limit` pins match: a page costs one seek plus the pins walked, not the
 *   pinset. Where the state has no such index (raft), it streams the
 *   cluster's status (`statusAll`) and keeps only the best `limit` matches,
 *   so memory does not grow with the pinset either way. `before`/`after`
 *   are strict. A page never ends in the middle of pins that share a
 *   `created` (possible only if two CIDs of the same second hash alike,
 *   see `status.ts`): such pins are left for the next page, unless they
 *   alone fill the page.
 * - `count` from the index: after the page, up to max(`limit`, 100) more
 *   pins are read; `count` is the matches seen, plus 1 when pins remain
 *   beyond them. It is exact when the matches end within that window (the last
 *   page, a small pinset), otherwise a lower bound greater than the page's
 *   length: kubo's client (boxo `Ls`) asks for the next page until `count`
 *   equals the page's length, and an empty page always says 0. Upstream
 *   (and the `statusAll` path) count every match: that is what made a page
 *   read the whole pinset.
 * - Errors are the spec's `Failure`: `{"error":{"reason":CODE,"details":message}}`
 *   with 400 (bad input), 401, 404 (unknown requestid) or 500.
 */
import { type Context, Hono } from 'hono'
import type { CID } from 'multiformats/cid'
import { errorMessage, errorName, NotFoundError } from '../../errors.ts'
import type { AbortOptions, ClusterAPI } from '../../interfaces.ts'
import { getLogger } from '../../observability/logging.ts'
import { defaultPinOptions, type GlobalPinInfo, type Pin } from '../../types/index.ts'
import { cidToKeyString } from '../../state/keys.ts'
import { parseCid } from '../../types/json.ts'
import {
  authMiddleware,
  corsMiddleware,
  headersMiddleware,
  type RestApiInit,
  statusOf,
  strictSlashMiddleware,
  tokenFor,
  UnauthorizedError
} from '../rest/index.ts'
import { type ListOptions, listOptionsFromQuery, metaMatches, nameMatches, pinFromBody, type SvcPin } from './query.ts'
import { type Created, createdOf, formatCreated, type PinLookup, type SvcStatus, svcStatusOf } from './status.ts'

const log = getLogger('pinsvcapi')

/** The settings the app uses: the REST API's (the `api.pinsvcapi` section has the same keys). */
export type PinSvcApiInit = RestApiInit

/** What the API uses of the cluster. */
export type PinSvcCluster = Pick<ClusterAPI, 'id' | 'pin' | 'unpin' | 'pinGet' | 'status' | 'statusAll' | 'pinsNewestFirst'>

export interface PinSvcApiComponents {
  cluster: PinSvcCluster
}

/** The spec's `Pin` as JSON (empty fields omitted). */
export interface PinJSON {
  cid: string
  name?: string
  origins?: string[]
  meta?: Record<string, string>
}

/** The spec's `PinStatus`. */
export interface PinStatusJSON {
  requestid: string
  status: SvcStatus
  created: string
  pin: PinJSON
  delegates: string[]
  info: Record<string, string>
}

/** The spec's `PinResults`. */
export interface PinResultsJSON {
  count: number
  results: PinStatusJSON[]
}

/** `PinStatus.info`: the requestid scheme, said once per answer. */
export const PIN_STATUS_INFO: Readonly<Record<string, string>> = Object.freeze({
  source: 'IPFS Cluster Pinning Service API',
  requestid: 'the CID: one pin per CID'
})

const MAX_DELEGATES = 20
/** pins read past a page from the index to count what follows (at least; `limit` when larger). */
const COUNT_WINDOW = 100
/** statuses asked at once while paging from the index. */
const STATUS_CONCURRENCY = 16

/** `fn` over `items`, at most `n` at a time, results in order. */
async function mapConcurrent<T, R>(items: T[], n: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length)
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++
      out[i] = await fn(items[i]!)
    }
  }
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker))
  return out
}

const REASONS: Record<number, string> = {
  400: 'BAD_REQUEST',
  401: 'UNAUTHORIZED',
  404: 'NOT_FOUND',
  500: 'INTERNAL_SERVER_ERROR'
}

/** The spec's `Failure`. */
export function failureBody(status: number, details: string): { error: { reason: string; details: string } } {
  return { error: { reason: REASONS[status] ?? (status >= 500 ? 'INTERNAL_SERVER_ERROR' : 'BAD_REQUEST'), details } }
}

function json(value: unknown, status = 200, headers?: Headers): Response {
  const h = headers ?? new Headers()
  h.set('Content-Type', 'application/json')
  return new Response(`${JSON.stringify(value)}\n`, { status, headers: h })
}

function signalOf(c: Context): AbortOptions {
  return { signal: c.req.raw.signal }
}

function pinJSON(cid: CID, name: string, origins: string[], meta: Record<string, string>): PinJSON {
  const p: PinJSON = { cid: cid.toString() }
  if (name !== '') p.name = name
  if (origins.length > 0) p.origins = origins
  if (Object.keys(meta).length > 0) p.meta = meta
  return p
}

/** IPFS addresses with `/p2p/` (kubo dials each delegate) of the peers holding the pin (else of every peer), unique, at most 20. */
function delegatesOf(g: GlobalPinInfo | undefined): string[] {
  if (g === undefined) return []
  const collect = (entries: GlobalPinInfo['peerMap'][string][]): string[] => {
    const out: string[] = []
    for (const e of entries) {
      for (const a of e.ipfsPeerAddresses) {
        if (a.includes('/p2p/') && !out.includes(a)) out.push(a)
        if (out.length >= MAX_DELEGATES) return out
      }
    }
    return out
  }
  const entries = Object.values(g.peerMap)
  const holding = collect(entries.filter((e) => e.status !== 'remote'))
  return holding.length > 0 ? holding : collect(entries)
}

/** One listed pin, with what orders it. */
interface Item {
  created: Created
  key: string
  g: GlobalPinInfo
  status: SvcStatus
}

/** Newest first, then by state key (`/<BASE32(cid bytes)>`, ascending) so the order is total: the index's order. */
function before(a: Item, b: Item): boolean {
  if (a.created !== b.created) return a.created > b.created
  return a.key < b.key
}

/**
 * The `limit` best items of a stream (newest first), the number of items
 * offered, and the best item left out (for the tie rule).
 */
class TopK {
  readonly items: Item[] = []
  bestOut: Item | undefined
  count = 0
  private readonly k: number
  constructor(k: number) {
    this.k = k
  }
  offer(it: Item): void {
    this.count++
    const items = this.items
    const last = items[items.length - 1]
    if (items.length >= this.k && last !== undefined && !before(it, last)) {
      this.leftOut(it)
      return
    }
    let lo = 0
    let hi = items.length
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (before(items[mid]!, it)) lo = mid + 1
      else hi = mid
    }
    items.splice(lo, 0, it)
    if (items.length > this.k) this.leftOut(items.pop()!)
  }
  private leftOut(it: Item): void {
    if (this.bestOut === undefined || before(it, this.bestOut)) this.bestOut = it
  }
  /** The page: the items, without a trailing group of equal `created` that continues past the page. */
  page(): Item[] {
    const items = this.items
    const last = items[items.length - 1]
    if (last === undefined || this.bestOut === undefined || this.bestOut.created !== last.created) return items
    const trimmed = items.filter((i) => i.created !== last.created)
    return trimmed.length > 0 ? trimmed : items
  }
}

/**
 * Builds the Pinning Service API app.
 * @param init the `api.pinsvcapi` settings
 * @param components `cluster`
 */
export function createPinSvcApp(init: PinSvcApiInit, components: PinSvcApiComponents): Hono {
  const { cluster } = components
  const app = new Hono()

  app.use('*', headersMiddleware(init.headers))
  app.use('*', authMiddleware(init.basicAuthCredentials))
  app.use('*', corsMiddleware(init))
  app.use('*', strictSlashMiddleware())

  const lookupOf = (cid: CID, options: AbortOptions): PinLookup => {
    let memo: Promise<Pin | null> | undefined
    return () => {
      memo ??= cluster.pinGet(cid, options).catch((err: unknown) => {
        if (errorName(err) === 'NotFoundError') return null
        throw err
      })
      return memo
    }
  }

  /**
   * Delegates of a pin; when no peer reported an IPFS address, this peer's
   * IPFS, else its cluster addresses (asked once per request: `own`).
   */
  const delegates = async (g: GlobalPinInfo | undefined, own: { p?: Promise<string[]> }, options: AbortOptions): Promise<string[]> => {
    const d = delegatesOf(g)
    if (d.length > 0) return d
    own.p ??= cluster.id(options).then((id) => {
      const addrs = [...new Set([...id.ipfs.addresses, ...id.addresses].filter((a) => a.includes('/p2p/')))].slice(0, MAX_DELEGATES)
      return addrs.length > 0 ? addrs : [`/p2p/${id.id}`]
    })
    return [...(await own.p)]
  }

  const pinStatus = async (g: GlobalPinInfo, status: SvcStatus, own: { p?: Promise<string[]> }, options: AbortOptions): Promise<PinStatusJSON> => ({
    requestid: g.cid.toString(),
    status,
    created: formatCreated(createdOf(g.cid, g.created)),
    pin: pinJSON(g.cid, g.name, g.origins, g.metadata),
    delegates: await delegates(g, own, options),
    info: { ...PIN_STATUS_INFO }
  })

  const requestId = (c: Context): CID => {
    const raw = c.req.param('requestid') ?? ''
    try {
      return parseCid(raw, 'requestid')
    } catch (err) {
      // an id that is not a CID was never given out: unknown
      throw new NotFoundError(`pin not found: ${errorMessage(err)}`)
    }
  }

  /** Pins `p` and answers with its status (202). `from`: the requestid it replaces. */
  const create = async (p: SvcPin, from: CID | null, options: AbortOptions): Promise<Response> => {
    const opts = { ...defaultPinOptions(), name: p.name, origins: p.origins, metadata: p.meta }
    if (from !== null && !from.equals(p.cid)) opts.pinUpdate = from
    const pin = await cluster.pin(p.cid, opts, options)
    if (from !== null && opts.pinUpdate !== null) {
      await cluster.unpin(from, options).catch((err: unknown) => {
        if (errorName(err) !== 'NotFoundError') throw err
      })
    }
    let g: GlobalPinInfo | undefined
    let status: SvcStatus | null = null
    try {
      g = await cluster.status(pin.cid, false, options)
      status = await svcStatusOf(g, async () => pin)
    } catch (err) {
      log.debug(`status of ${pin.cid} after pinning: ${errorMessage(err)}`)
    }
    const body: PinStatusJSON = {
      requestid: pin.cid.toString(),
      status: status ?? 'queued',
      created: formatCreated(createdOf(pin.cid, pin.timestamp)),
      pin: pinJSON(pin.cid, pin.name, pin.origins, pin.metadata),
      delegates: await delegates(g, {}, options),
      info: { ...PIN_STATUS_INFO }
    }
    return json(body, 202)
  }

  const matches = (opts: ListOptions, g: GlobalPinInfo, created: Created): boolean => {
    if (opts.before !== undefined && created >= opts.before) return false
    if (opts.after !== undefined && created <= opts.after) return false
    return nameMatches(opts, g.name) && metaMatches(opts.meta, g.metadata)
  }

  /**
   * A page from the pins-by-creation index (newest first, from `before`):
   * pins are read in index order, filtered by name and meta from the pin
   * itself, then by status (asked per pin, `STATUS_CONCURRENCY` at a time),
   * until `limit` match; then up to max(`limit`, 100) more index entries are read to
   * count what follows (see `count` in the file comment). Cost: one seek,
   * plus the entries walked; never the whole pinset unless the filter
   * matches nothing.
   */
  const indexedPage = async (opts: ListOptions, pins: AsyncGenerator<Pin>, options: AbortOptions): Promise<PinResultsJSON> => {
    const matched: Item[] = []
    let lookahead = 0
    let ended = true
    let chunk: Pin[] = []
    const flush = async (): Promise<void> => {
      const statuses = await mapConcurrent(chunk, STATUS_CONCURRENCY, async (p) => {
        const g = await cluster.status(p.cid, false, options)
        return { g, status: await svcStatusOf(g, async () => p) }
      })
      chunk = []
      for (const { g, status } of statuses) {
        if (status === null || !opts.status.has(status)) continue
        matched.push({ created: createdOf(g.cid, g.created), key: cidToKeyString(g.cid), g, status })
      }
    }
    try {
      for await (const p of pins) {
        if (matched.length >= opts.limit) {
          if (lookahead >= Math.max(opts.limit, COUNT_WINDOW)) {
            ended = false
            break
          }
          lookahead++
        }
        if (!nameMatches(opts, p.name) || !metaMatches(opts.meta, p.metadata)) continue
        chunk.push(p)
        // while filling the page, ask no more statuses than the page still needs
        const want = matched.length < opts.limit ? opts.limit - matched.length : STATUS_CONCURRENCY
        if (chunk.length >= Math.min(want, STATUS_CONCURRENCY)) await flush()
      }
      await flush()
    } finally {
      await pins.return(undefined)
    }
    // a page never ends inside a group of equal `created` that continues past it (unless the group fills it)
    let page = matched.slice(0, opts.limit)
    const last = page[page.length - 1]
    const next = matched[opts.limit]
    if (last !== undefined && next !== undefined && next.created === last.created) {
      const trimmed = page.filter((i) => i.created !== last.created)
      if (trimmed.length > 0) page = trimmed
    }
    const results: PinStatusJSON[] = []
    const own = {}
    for (const it of page) results.push(await pinStatus(it.g, it.status, own, options))
    return { count: matched.length + (ended ? 0 : 1), results }
  }

  app.get('/pins', async (c) => {
    const opts = listOptionsFromQuery(new URL(c.req.url).searchParams)
    const options = signalOf(c)
    if (opts.cids.length === 0 && cluster.pinsNewestFirst !== undefined) {
      const pins = await cluster.pinsNewestFirst({ before: opts.before, after: opts.after }, options)
      if (pins !== null) return json(await indexedPage(opts, pins, options))
    }
    const top = new TopK(opts.limit)
    const source: AsyncIterable<GlobalPinInfo> =
      opts.cids.length > 0
        ? (async function* () {
            for (const cid of opts.cids) yield await cluster.status(cid, false, options)
          })()
        : cluster.statusAll(new Set(), false, options)
    for await (const g of source) {
      const created = createdOf(g.cid, g.created)
      if (!matches(opts, g, created)) continue
      const status = await svcStatusOf(g, lookupOf(g.cid, options))
      if (status === null || !opts.status.has(status)) continue
      top.offer({ created, key: cidToKeyString(g.cid), g, status })
    }
    const page = top.page()
    const results: PinStatusJSON[] = []
    const own = {}
    for (const it of page) results.push(await pinStatus(it.g, it.status, own, options))
    const body: PinResultsJSON = { count: top.count, results }
    return json(body)
  })

  app.post('/pins', async (c) => create(pinFromBody(await c.req.text()), null, signalOf(c)))

  app.get('/pins/:requestid', async (c) => {
    const cid = requestId(c)
    const options = signalOf(c)
    const g = await cluster.status(cid, false, options)
    const status = await svcStatusOf(g, lookupOf(cid, options))
    if (status === null) throw new NotFoundError('pin not found')
    return json(await pinStatus(g, status, {}, options))
  })

  app.post('/pins/:requestid', async (c) => {
    const from = requestId(c)
    const p = pinFromBody(await c.req.text())
    const options = signalOf(c)
    try {
      await cluster.pinGet(from, options)
    } catch (err) {
      if (errorName(err) === 'NotFoundError') throw new NotFoundError('pin not found')
      throw err
    }
    return create(p, from, options)
  })

  app.delete('/pins/:requestid', async (c) => {
    const cid = requestId(c)
    try {
      await cluster.unpin(cid, signalOf(c))
    } catch (err) {
      if (errorName(err) === 'NotFoundError') throw new NotFoundError('pin not found')
      throw err
    }
    return new Response(null, { status: 202 })
  })

  app.post('/token', async (c) => json({ token: await tokenFor(init.basicAuthCredentials, c.req.header('Authorization')) }))

  app.get('/health', () => new Response(null, { status: 204 }))

  app.notFound(() => json(failureBody(404, 'not found'), 404))

  app.onError((err) => {
    const status = statusOf(err)
    const message = errorMessage(err)
    if (status >= 500) log.error(`sending error response: ${status}: ${message}`)
    else log.debug(`sending error response: ${status}: ${message}`)
    const headers = new Headers()
    if (err instanceof UnauthorizedError) for (const ch of err.challenges) headers.append('WWW-Authenticate', ch)
    return json(failureBody(status, message), status, headers)
  })

  return app
}
