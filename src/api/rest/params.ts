/**
 * Query-string parsing for the REST API: CIDs, status and pin-type
 * filters, flags; and, re-exported from `types/query.ts` (the adder uses
 * them too), pin options, Go durations, RFC3339 times and peer IDs.
 *
 * Mirrors upstream `api/types.go` (`TrackerStatusFromString`,
 * `PinTypeFromString`), but validates strictly: every malformed value is an
 * `InvalidArgumentError` (HTTP 400) whose message names the parameter.
 */
import type { CID } from 'multiformats/cid'
import { InvalidArgumentError } from '../../errors.ts'
import { expandStatusFilter } from '../../types/index.ts'
import type { PinType, TrackerStatus } from '../../types/index.ts'
import { parseCid } from '../../types/json.ts'

export {
  PIN_OPTIONS_META_PREFIX,
  parseGoDuration,
  parsePeerId,
  parseRFC3339,
  pinOptionsFromQuery
} from '../../types/query.ts'

/** Parses a CID from a URL or query. @throws InvalidArgumentError "error decoding Cid: …". */
export function parseCidParam(s: string, param = 'cid'): CID {
  return parseCid(s, param)
}

/** Whether the query flag is set (upstream compares with the string `"true"`). */
export function queryFlag(query: URLSearchParams, name: string): boolean {
  return query.get(name) === 'true'
}

/**
 * Parses the `filter` of `GET /pins` (upstream `TrackerStatusFromString`):
 * comma-separated statuses incl. the aliases `error` and `queued`; unknown
 * names are ignored like upstream, but a non-empty filter that matches
 * nothing is rejected.
 * @returns the statuses; empty set = no filter
 * @throws InvalidArgumentError "invalid filter value".
 */
export function statusFilterFromQuery(filter: string): Set<TrackerStatus> {
  const out = new Set<TrackerStatus>()
  if (filter === '') return out
  for (const part of filter.replaceAll(' ', '').split(',')) {
    if (part === '' || part === 'undefined') continue
    try {
      for (const s of expandStatusFilter(part)) out.add(s)
    } catch {
      // unknown names are ignored, as upstream does
    }
  }
  if (out.size === 0) throw new InvalidArgumentError(`invalid filter value: "${filter}"`)
  return out
}

const PIN_TYPES: readonly PinType[] = ['pin', 'meta-pin', 'clusterdag-pin', 'shard-pin']

/**
 * Parses the `filter` of `GET /allocations` (upstream `PinTypeFromString`,
 * OR-ed over a comma-separated list).
 * @returns the pin types to keep, or null for all (`all`, empty)
 * @throws InvalidArgumentError "invalid filter value".
 */
export function pinTypeFilterFromQuery(filter: string): Set<PinType> | null {
  const out = new Set<PinType>()
  for (const part of filter.split(',')) {
    if (part === '' || part === 'all') return null
    if (!(PIN_TYPES as readonly string[]).includes(part)) {
      throw new InvalidArgumentError(`invalid filter value: "${part}"`)
    }
    out.add(part as PinType)
  }
  return out
}
