/**
 * `PinOptions` from a query string (upstream `api/types.go`
 * `PinOptions.FromQuery`), with the value parsers it uses: Go durations,
 * RFC3339 times, integers (upstream `api/add.go` `parseIntParam`), peer
 * IDs. Shared by the REST API (`POST /pins/...`) and the adder
 * (`POST /add`); every malformed value is an `InvalidArgumentError`
 * (HTTP 400) whose message names the parameter.
 */
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import { InvalidDurationError, parseDuration } from '../config/duration.ts'
import { errorMessage, InvalidArgumentError } from '../errors.ts'
import { defaultPinOptions } from './index.ts'
import type { PeerId, PinOptions } from './index.ts'
import { parseCid } from './json.ts'

/** Query keys starting with this prefix become pin metadata (`meta-<key>=<value>`). */
export const PIN_OPTIONS_META_PREFIX = 'meta-'

/**
 * Parses a Go duration string (`time.ParseDuration`: `1h30m`, `90s`,
 * `1.5h`, `500ms`, `-2m`, `0`) with `parseDuration` of config/duration.ts.
 * @returns milliseconds (may be fractional for sub-ms units)
 * @throws InvalidArgumentError `<param> cannot be parsed: invalid duration "<s>"` when malformed.
 */
export function parseGoDuration(s: string, param = 'duration'): number {
  try {
    return parseDuration(s)
  } catch (err) {
    if (!(err instanceof InvalidDurationError)) throw err
    throw new InvalidArgumentError(`${param} cannot be parsed: invalid duration "${s}"`, { cause: err })
  }
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/

/** Parses an RFC3339 timestamp. @throws InvalidArgumentError naming `param`. */
export function parseRFC3339(s: string, param: string): Date {
  const d = new Date(s)
  if (!RFC3339.test(s) || Number.isNaN(d.getTime())) {
    throw new InvalidArgumentError(`${param} cannot be parsed: not an RFC3339 time: "${s}"`)
  }
  return d
}

/** Go `strconv.Atoi`. @throws InvalidArgumentError `parameter <name> invalid`. */
function parseIntParam(v: string, param: string): number {
  if (!/^[+-]?\d+$/.test(v)) throw new InvalidArgumentError(`parameter ${param} invalid`)
  const n = Number.parseInt(v, 10)
  if (!Number.isSafeInteger(n)) throw new InvalidArgumentError(`parameter ${param} invalid`)
  return n
}

/** Parses a peer ID string. @throws InvalidArgumentError naming `param`. */
export function parsePeerId(s: string, param = 'peer_id'): PeerId {
  try {
    return peerIdFromString(s).toString()
  } catch (err) {
    throw new InvalidArgumentError(`error decoding ${param}: "${s}": ${errorMessage(err)}`)
  }
}

/**
 * Builds `PinOptions` from a query string (upstream `PinOptions.FromQuery`).
 *
 * Keys: `name`; `mode` (`recursive`|`direct`); `replication` (sets min and
 * max, overriding them), `replication-min`, `replication-max` (integers);
 * `shard-size` (bytes, unsigned); `user-allocations=p1,p2` (peer IDs);
 * `expire-at` (RFC3339) or else `expire-in` (Go duration, at least 1s,
 * counted from now); `meta-<k>=<v>`; `pin-update=<cid>`;
 * `origins=ma1,ma2` (multiaddrs that must contain `/p2p/<peer>`).
 *
 * Unlike upstream, an unknown `mode` or an invalid peer in
 * `user-allocations` is rejected rather than silently ignored.
 * @throws InvalidArgumentError naming the bad parameter.
 */
export function pinOptionsFromQuery(query: URLSearchParams): PinOptions {
  const po = defaultPinOptions()
  po.name = query.get('name') ?? ''

  const mode = query.get('mode') ?? ''
  if (mode === '' || mode === 'recursive') po.mode = 'recursive'
  else if (mode === 'direct') po.mode = 'direct'
  else throw new InvalidArgumentError(`parameter mode invalid: "${mode}" (use recursive or direct)`)

  const rpl = query.get('replication') ?? ''
  if (rpl !== '') {
    po.replicationFactorMin = parseIntParam(rpl, 'replication')
    po.replicationFactorMax = po.replicationFactorMin
  } else {
    const min = query.get('replication-min') ?? ''
    if (min !== '') po.replicationFactorMin = parseIntParam(min, 'replication-min')
    const max = query.get('replication-max') ?? ''
    if (max !== '') po.replicationFactorMax = parseIntParam(max, 'replication-max')
  }

  const shard = query.get('shard-size') ?? ''
  if (shard !== '') {
    const n = /^\d+$/.test(shard) ? Number(shard) : Number.NaN
    if (!Number.isSafeInteger(n)) throw new InvalidArgumentError('parameter shard-size is invalid')
    po.shardSize = n
  }

  const allocs = query.get('user-allocations') ?? ''
  if (allocs !== '') {
    po.userAllocations = allocs.split(',').map((p) => parsePeerId(p.trim(), 'user-allocations'))
  }

  const expireAt = query.get('expire-at') ?? ''
  const expireIn = query.get('expire-in') ?? ''
  if (expireAt !== '') {
    po.expireAt = parseRFC3339(expireAt, 'expire-at')
  } else if (expireIn !== '') {
    const ms = parseGoDuration(expireIn, 'expire-in')
    if (ms < 1000) throw new InvalidArgumentError('expire-in duration too short')
    po.expireAt = new Date(Date.now() + ms)
  }

  const metadata: Record<string, string> = {}
  for (const key of new Set(query.keys())) {
    if (!key.startsWith(PIN_OPTIONS_META_PREFIX)) continue
    const metaKey = key.slice(PIN_OPTIONS_META_PREFIX.length)
    if (metaKey === '') continue
    metadata[metaKey] = query.get(key) ?? ''
  }
  po.metadata = metadata

  const update = query.get('pin-update') ?? ''
  if (update !== '') po.pinUpdate = parseCid(update, 'pin-update')

  const origins = query.get('origins') ?? ''
  if (origins !== '') {
    po.origins = origins.split(',').map((o) => {
      let comps: { name: string }[]
      try {
        comps = multiaddr(o).getComponents()
      } catch (err) {
        throw new InvalidArgumentError(`origins: error decoding multiaddress "${o}": ${errorMessage(err)}`)
      }
      if (!comps.some((c) => c.name === 'p2p')) {
        throw new InvalidArgumentError(`origins: multiaddress does not contain peer ID: "${o}"`)
      }
      return o
    })
  }
  return po
}
