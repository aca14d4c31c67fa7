/**
 * What the Pinning Service API says about a pin, from the cluster's view
 * of it (a `GlobalPinInfo`): its spec status and its `created` time.
 *
 * Status: upstream (`api/pinsvcapi/pinsvc.go` `globalPinInfoToSvcPinStatus`)
 * reports `failed` as soon as one peer failed, even when others pinned it.
 * Here a pin is `pinned` once the replication factor min is reached, and
 * `failed` only when the min can no longer be reached without a recover:
 *
 * - peers that are `remote` (not allocated) or leaving the pin
 *   (`unpin_queued`, `unpinning`, `unpinned`) do not count;
 * - required = the pin's `replication_factor_min` (capped at its number of
 *   allocations); for a pin everywhere, every peer that answered;
 * 1. `pinned` when at least `required` peers are `pinned`;
 * 2. `failed` when some peer failed (`pin_error`, `unpin_error`,
 *    `cluster_error`, `unexpectedly_unpinned`) and the peers pinned, pinning
 *    or queued are fewer than `required`;
 * 3. `pinning` when some peer is pinning or has pinned it;
 * 4. `queued` when some peer has it queued (`pin_queued`);
 * 5. otherwise `queued` if the pin is in the pinset (no peer has picked it
 *    up yet), and no status at all (hidden, 404) if it is not.
 *
 * Created: the state stores whole seconds (upstream's protobuf), so many
 * pins share a second and `before=<created>` paging would skip or repeat
 * them. The API gives each pin the stored second plus a fraction derived
 * from its CID (a hash, whole milliseconds 0 to 999): stable, the same in
 * every answer, within the second the pin was committed, and distinct for
 * pins of the same second unless their hashes collide (see `app.ts` for
 * how paging copes with that). Milliseconds, not nanoseconds: JavaScript
 * clients (`@ipfs-shipyard/pinning-service-client`) parse `created` into a
 * `Date` and send `before` back with millisecond precision, so a finer
 * fraction would make them skip pins of the same millisecond.
 */
import type { CID } from 'multiformats/cid'
import { InvalidArgumentError } from '../../errors.ts'
import { createdOf as stateCreatedOf } from '../../state/created.ts'
import type { GlobalPinInfo, TrackerStatus } from '../../types/index.ts'

/** The spec's `Status`. */
export type SvcStatus = 'queued' | 'pinning' | 'pinned' | 'failed'

export const SVC_STATUSES: readonly SvcStatus[] = ['queued', 'pinning', 'pinned', 'failed']

const FAILED: ReadonlySet<TrackerStatus> = new Set(['pin_error', 'unpin_error', 'cluster_error', 'unexpectedly_unpinned'])
const LEAVING: ReadonlySet<TrackerStatus> = new Set(['remote', 'unpin_queued', 'unpinning', 'unpinned', 'undefined', 'sharded'])

/** What the mapping may need to look up: the pin's replication factor min, or null when it is not in the pinset. */
export type PinLookup = () => Promise<{ replicationFactorMin: number } | null>

/**
 * The spec status of a pin (see the file comment), or null when the pin is
 * not in the pinset any more. `lookup` is called only when the peers'
 * statuses alone do not decide.
 */
export async function svcStatusOf(g: GlobalPinInfo, lookup: PinLookup): Promise<SvcStatus | null> {
  let pinned = 0
  let pinning = 0
  let queued = 0
  let failed = 0
  let answered = 0
  for (const info of Object.values(g.peerMap)) {
    const s = info.status
    if (LEAVING.has(s)) continue
    if (s !== 'cluster_error') answered++
    if (s === 'pinned') pinned++
    else if (s === 'pinning') pinning++
    else if (s === 'pin_queued') queued++
    else if (FAILED.has(s)) failed++
  }
  const everywhere = g.allocations.length === 0
  let required: number | undefined
  let missing = false
  const getRequired = async (): Promise<number> => {
    if (required !== undefined) return required
    if (everywhere) {
      required = Math.max(1, answered)
      return required
    }
    const pin = await lookup()
    if (pin === null) missing = true
    const rmin = pin?.replicationFactorMin ?? 1
    required = Math.min(Math.max(1, rmin), g.allocations.length)
    return required
  }

  if (pinned > 0) {
    if (!everywhere && pinned >= g.allocations.length) return 'pinned'
    if (pinned >= (await getRequired())) return missing ? null : 'pinned'
  }
  if (failed > 0 && pinned + pinning + queued < (await getRequired())) return missing ? null : 'failed'
  if (pinning > 0 || pinned > 0) return 'pinning'
  if (queued > 0) return 'queued'
  if (failed > 0) return 'failed'
  return (await lookup()) === null ? null : 'queued'
}

/** A `created` time with nanoseconds: `ns` since the Unix epoch. */
export type Created = bigint

const NS = 1_000_000_000n

/** The `created` of a pin committed at `timestamp` (see the file comment); the same value orders the pins-by-creation index. */
export const createdOf: (cid: CID, timestamp: Date) => Created = stateCreatedOf

/** RFC 3339 in UTC with nine fraction digits, e.g. `2026-12-01T21:34:20.123456789Z`. */
export function formatCreated(c: Created): string {
  const seconds = c / NS
  const ns = c % NS
  const iso = new Date(Number(seconds) * 1000).toISOString()
  return `${iso.slice(0, 19)}.${ns.toString().padStart(9, '0')}Z`
}

const RFC3339 = /^(\d{4}-\d{2}-\d{2})[Tt](\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})$/

/**
 * Parses an RFC 3339 time, keeping up to nanoseconds (what Go clients send
 * back with `time.RFC3339Nano`).
 * @throws InvalidArgumentError naming `param`
 */
export function parseCreated(s: string, param: string): Created {
  const m = RFC3339.exec(s)
  const base = m === null ? Number.NaN : Date.parse(`${m[1]}T${m[2]}${m[4]!.toUpperCase()}`)
  if (m === null || Number.isNaN(base)) {
    throw new InvalidArgumentError(`error decoding '${param}' query param: "${s}" is not an RFC 3339 time`)
  }
  const frac = BigInt((m[3] ?? '').padEnd(9, '0'))
  return BigInt(Math.floor(base / 1000)) * NS + frac
}
