/**
 * `/add` parameters (upstream `api/add.go`: `AddParams`,
 * `AddParamsFromQuery`, `ToQueryString`).
 */
import { pinOptionsFromQuery } from '../types/query.ts'
import { InvalidArgumentError } from '../errors.ts'
import type { PinOptions } from '../types/index.ts'
import { defaultPinOptions } from '../types/index.ts'
import { chunkerFor } from './dag.ts'

/** Upstream `api.DefaultShardSize` (100 MiB, in bytes). */
export const DEFAULT_SHARD_SIZE = 100 * 1024 * 1024

/** kubo's default chunker (`size-262144`). */
export const DEFAULT_CHUNKER = 'size-262144'

/** Everything `/add` takes: pin options plus the DAG-building options. */
export interface AddParams extends PinOptions {
  /** only the local IPFS daemon receives the blocks (they are pinned normally). */
  local: boolean
  recursive: boolean
  hidden: boolean
  /** wrap the upload in a directory (`wrap-with-directory`). */
  wrap: boolean
  /** always false here: sharding is refused. */
  shard: boolean
  /** NDJSON stream (true, default) or one JSON array (false). */
  streamChannels: boolean
  format: 'unixfs' | 'car'
  /** add the blocks without pinning. */
  noPin: boolean
  /** '' or 'balanced' (default), or 'trickle'. */
  layout: '' | 'balanced' | 'trickle'
  /** `size-<bytes>` or `rabin[-<min>-<avg>-<max>]`. */
  chunker: string
  rawLeaves: boolean
  progress: boolean
  /** 0 or 1. */
  cidVersion: number
  /** multihash name, e.g. `sha2-256`. */
  hashFun: string
  /** always false here: nocopy (filestore) is refused. */
  noCopy: boolean
}

/** Upstream `DefaultAddParams()`. */
export function defaultAddParams(): AddParams {
  return {
    ...defaultPinOptions(),
    mode: 'recursive',
    shardSize: DEFAULT_SHARD_SIZE,
    local: false,
    recursive: false,
    hidden: false,
    wrap: false,
    shard: false,
    streamChannels: true,
    format: 'unixfs',
    noPin: false,
    layout: '',
    chunker: DEFAULT_CHUNKER,
    rawLeaves: false,
    progress: false,
    cidVersion: 0,
    hashFun: 'sha2-256',
    noCopy: false
  }
}

/** Go `strconv.ParseBool`. */
function parseBool(q: URLSearchParams, name: string, dflt: boolean): boolean {
  const v = q.get(name) ?? ''
  if (v === '') return dflt
  if (['1', 't', 'T', 'true', 'TRUE', 'True'].includes(v)) return true
  if (['0', 'f', 'F', 'false', 'FALSE', 'False'].includes(v)) return false
  throw new InvalidArgumentError(`parameter ${name} invalid`)
}

/**
 * Parses the query of `POST /add` (upstream `AddParamsFromQuery`).
 * Differences, on purpose: `shard=true` and `nocopy=true` are refused
 * (400), so is a `chunker` the adder cannot honour (before anything is read), `cid-version` must be 0 or 1, and a hash other
 * than sha2-256 with CIDv0 switches to CIDv1 with raw leaves (unless
 * `raw-leaves` is given), as kubo's `ipfs add --hash` does.
 * @throws InvalidArgumentError naming the bad parameter.
 */
export function addParamsFromQuery(query: URLSearchParams): AddParams {
  const p = defaultAddParams()
  const po = pinOptionsFromQuery(query)
  Object.assign(p, po)
  p.pinUpdate = null
  if ((query.get('shard-size') ?? '') === '') p.shardSize = DEFAULT_SHARD_SIZE

  const layout = query.get('layout') ?? ''
  if (layout !== '' && layout !== 'balanced' && layout !== 'trickle') throw new InvalidArgumentError('layout parameter is invalid')
  p.layout = layout

  const chunker = query.get('chunker') ?? ''
  if (chunker !== '') p.chunker = chunker
  // refused here, before an answer starts streaming (the DAG builder would only fail later)
  chunkerFor(p.chunker)
  const hash = query.get('hash') ?? ''
  if (hash !== '') p.hashFun = hash.toLowerCase()

  const format = query.get('format') ?? ''
  if (format !== '' && format !== 'unixfs' && format !== 'car') throw new InvalidArgumentError('format parameter is invalid')
  p.format = format === 'car' ? 'car' : 'unixfs'

  p.local = parseBool(query, 'local', false)
  p.recursive = parseBool(query, 'recursive', false)
  p.hidden = parseBool(query, 'hidden', false)
  p.wrap = parseBool(query, 'wrap-with-directory', false)
  p.shard = parseBool(query, 'shard', false)
  p.progress = parseBool(query, 'progress', false)

  const cv = query.get('cid-version') ?? ''
  if (cv !== '') {
    if (!/^-?\d+$/.test(cv)) throw new InvalidArgumentError('parameter cid-version invalid')
    p.cidVersion = Number(cv)
    if (p.cidVersion !== 0 && p.cidVersion !== 1) throw new InvalidArgumentError(`bad CID Version: unknown CID version: ${cv}`)
  }
  if (p.hashFun !== 'sha2-256' && p.cidVersion === 0) p.cidVersion = 1
  if (p.cidVersion > 0) p.rawLeaves = true
  p.rawLeaves = parseBool(query, 'raw-leaves', p.rawLeaves)
  p.streamChannels = parseBool(query, 'stream-channels', true)
  p.noCopy = parseBool(query, 'nocopy', false)
  p.noPin = parseBool(query, 'no-pin', false)

  if (p.shard) throw new InvalidArgumentError('sharding is not supported')
  if (p.noCopy) throw new InvalidArgumentError('nocopy (filestore) is not supported')
  return p
}

/**
 * The query string for `POST /add` (upstream `AddParams.ToQueryString`),
 * used by the REST client. Pin options use their query names
 * (`name`, `replication-min`, `replication-max`, `user-allocations`,
 * `expire-at`, `meta-<k>`).
 */
export function addParamsToQuery(p: AddParams): URLSearchParams {
  const q = new URLSearchParams()
  if (p.name !== '') q.set('name', p.name)
  q.set('mode', p.mode)
  q.set('replication-min', String(p.replicationFactorMin))
  q.set('replication-max', String(p.replicationFactorMax))
  q.set('shard-size', String(p.shardSize))
  if (p.userAllocations.length > 0) q.set('user-allocations', p.userAllocations.join(','))
  if (p.expireAt !== null) q.set('expire-at', p.expireAt.toISOString())
  for (const [k, v] of Object.entries(p.metadata)) q.set(`meta-${k}`, v)
  q.set('shard', String(p.shard))
  q.set('local', String(p.local))
  q.set('recursive', String(p.recursive))
  q.set('layout', p.layout)
  q.set('chunker', p.chunker)
  q.set('raw-leaves', String(p.rawLeaves))
  q.set('hidden', String(p.hidden))
  q.set('wrap-with-directory', String(p.wrap))
  q.set('progress', String(p.progress))
  q.set('cid-version', String(p.cidVersion))
  q.set('hash', p.hashFun)
  q.set('stream-channels', String(p.streamChannels))
  q.set('nocopy', String(p.noCopy))
  q.set('format', p.format)
  q.set('no-pin', String(p.noPin))
  return q
}
