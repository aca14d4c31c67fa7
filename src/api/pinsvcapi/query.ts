/**
 * Input of the Pinning Service API (spec v1.0.0): the query of `GET /pins`
 * and the `Pin` body of `POST /pins[/{requestid}]`. Every malformed value
 * is an `InvalidArgumentError` (HTTP 400, a `Failure`) naming what is
 * wrong. Upstream answers 500 for bad queries and accepts a `limit` over
 * 1000 or more than 10 CIDs; the spec's bounds are enforced here.
 */
import { multiaddr } from '@multiformats/multiaddr'
import type { CID } from 'multiformats/cid'
import { errorMessage, InvalidArgumentError } from '../../errors.ts'
import { parseCid } from '../../types/json.ts'
import { type Created, parseCreated, SVC_STATUSES, type SvcStatus } from './status.ts'

/** The spec's `TextMatchingStrategy`. */
export type Match = 'exact' | 'iexact' | 'partial' | 'ipartial'

const MATCHES: readonly Match[] = ['exact', 'iexact', 'partial', 'ipartial']

export const DEFAULT_LIMIT = 10
export const MAX_LIMIT = 1000
export const MAX_CIDS = 10
export const MAX_NAME = 255
export const MAX_ORIGINS = 20

/** The filters of `GET /pins`. */
export interface ListOptions {
  /** [] = any CID. */
  cids: CID[]
  /** '' = any name. */
  name: string
  match: Match
  /** the statuses listed; all four when the query has none (upstream; the spec says `pinned`). */
  status: Set<SvcStatus>
  /** strictly before / after (ns since the epoch). */
  before: Created | undefined
  after: Created | undefined
  limit: number
  /** every key must be present with that value (`meta=<JSON object>` and/or `meta[key]=value`). */
  meta: Record<string, string>
}

function bad(message: string): InvalidArgumentError {
  return new InvalidArgumentError(message)
}

/** Parses a string→string JSON object (`meta`). @throws InvalidArgumentError */
function stringMap(v: unknown, what: string): Record<string, string> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw bad(`${what}: not a JSON object`)
  const out: Record<string, string> = {}
  for (const [k, x] of Object.entries(v)) {
    if (typeof x !== 'string') throw bad(`${what}: the value of "${k}" is not a string`)
    out[k] = x
  }
  if (Object.keys(out).length > 1000) throw bad(`${what}: more than 1000 keys`)
  return out
}

/** `GET /pins` query (spec `parameters`). @throws InvalidArgumentError */
export function listOptionsFromQuery(q: URLSearchParams): ListOptions {
  const opts: ListOptions = {
    cids: [],
    name: '',
    match: 'exact',
    status: new Set(SVC_STATUSES),
    before: undefined,
    after: undefined,
    limit: DEFAULT_LIMIT,
    meta: {}
  }
  const cid = q.get('cid')
  if (cid !== null) {
    const parts = cid.split(',').map((s) => s.trim())
    if (parts.length > MAX_CIDS) throw bad(`error in 'cid' query param: more than ${MAX_CIDS} CIDs`)
    const seen = new Set<string>()
    for (const p of parts) {
      const c = parseCid(p, `'cid' query param`)
      if (seen.has(c.toString())) continue
      seen.add(c.toString())
      opts.cids.push(c)
    }
  }
  const name = q.get('name')
  if (name !== null) {
    if (name.length > MAX_NAME) throw bad(`error in 'name' query param: longer than ${MAX_NAME} chars`)
    opts.name = name
  }
  const match = q.get('match')
  if (match !== null) {
    if (!(MATCHES as readonly string[]).includes(match)) throw bad(`error in 'match' query param: "${match}" is not one of ${MATCHES.join(', ')}`)
    opts.match = match as Match
  }
  const status = q.get('status')
  if (status !== null) {
    const set = new Set<SvcStatus>()
    for (const s of status.split(',').map((x) => x.trim())) {
      if (!(SVC_STATUSES as readonly string[]).includes(s)) {
        throw bad(`error in 'status' query param: "${s}" is not one of ${SVC_STATUSES.join(', ')}`)
      }
      set.add(s as SvcStatus)
    }
    opts.status = set
  }
  const before = q.get('before')
  if (before !== null) opts.before = parseCreated(before, 'before')
  const after = q.get('after')
  if (after !== null) opts.after = parseCreated(after, 'after')
  const limit = q.get('limit')
  if (limit !== null) {
    const n = /^\d+$/.test(limit) ? Number(limit) : Number.NaN
    if (!Number.isInteger(n) || n < 1 || n > MAX_LIMIT) throw bad(`error in 'limit' query param: "${limit}" is not an integer from 1 to ${MAX_LIMIT}`)
    opts.limit = n
  }
  const meta = q.get('meta')
  if (meta !== null) {
    let v: unknown
    try {
      v = JSON.parse(meta)
    } catch (err) {
      throw bad(`error in 'meta' query param: ${errorMessage(err)}`)
    }
    opts.meta = stringMap(v, `error in 'meta' query param`)
  }
  // the deepObject form `meta[key]=value`, which OpenAPI-generated clients
  // (`@ipfs-shipyard/pinning-service-client`) send instead of JSON
  for (const [k, v] of q) {
    const key = /^meta\[(.*)\]$/.exec(k)?.[1]
    if (key === undefined) continue
    if (key === '') throw bad(`error in 'meta' query param: an empty key in "${k}"`)
    if (Object.hasOwn(opts.meta, key) && opts.meta[key] !== v) throw bad(`error in 'meta' query param: two values for "${key}"`)
    opts.meta[key] = v
  }
  if (Object.keys(opts.meta).length > 1000) throw bad(`error in 'meta' query param: more than 1000 keys`)
  return opts
}

/** Whether `name` passes the `name`/`match` filter. */
export function nameMatches(opts: Pick<ListOptions, 'name' | 'match'>, name: string): boolean {
  const want = opts.name
  if (want === '') return true
  switch (opts.match) {
    case 'exact':
      return name === want
    case 'iexact':
      return name.toLowerCase() === want.toLowerCase()
    case 'partial':
      return name.includes(want)
    case 'ipartial':
      return name.toLowerCase().includes(want.toLowerCase())
  }
}

/** Whether `metadata` has every key of the `meta` filter with the same value. */
export function metaMatches(want: Record<string, string>, metadata: Record<string, string>): boolean {
  for (const [k, v] of Object.entries(want)) {
    if (!Object.hasOwn(metadata, k) || metadata[k] !== v) return false
  }
  return true
}

/** A decoded `Pin` body. */
export interface SvcPin {
  cid: CID
  name: string
  origins: string[]
  meta: Record<string, string>
}

/** Decodes the `Pin` of `POST /pins[/{requestid}]`. Unknown fields are ignored. @throws InvalidArgumentError */
export function pinFromBody(text: string): SvcPin {
  let v: unknown
  try {
    v = JSON.parse(text)
  } catch (err) {
    throw bad(`error decoding request body: ${errorMessage(err)}`)
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw bad('error decoding request body: not a JSON object')
  const o = v as Record<string, unknown>
  if (o.cid === undefined) throw bad('error decoding request body: cid is required')
  const cid = parseCid(o.cid, 'cid')
  let name = ''
  if (o.name !== undefined && o.name !== null) {
    if (typeof o.name !== 'string') throw bad('error decoding request body: name is not a string')
    if (o.name.length > MAX_NAME) throw bad(`error decoding request body: pin name is over ${MAX_NAME} chars`)
    name = o.name
  }
  const origins: string[] = []
  if (o.origins !== undefined && o.origins !== null) {
    if (!Array.isArray(o.origins)) throw bad('error decoding request body: origins is not an array')
    if (o.origins.length > MAX_ORIGINS) throw bad(`error decoding request body: more than ${MAX_ORIGINS} origins`)
    for (const a of o.origins as unknown[]) {
      if (typeof a !== 'string') throw bad('error decoding request body: an origin is not a string')
      try {
        multiaddr(a)
      } catch (err) {
        throw bad(`error decoding request body: origin "${a}": ${errorMessage(err)}`)
      }
      if (!origins.includes(a)) origins.push(a)
    }
  }
  const meta = o.meta === undefined || o.meta === null ? {} : stringMap(o.meta, 'error decoding request body: meta')
  return { cid, name, origins, meta }
}
