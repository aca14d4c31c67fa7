/**
 * The cluster types as upstream's RPC carries them: Go structs encoded by
 * ugorji's msgpack with their `codec` tags (upstream `api/types.go`).
 *
 * Each Go struct is described once, as data (`GoStruct`: tag key, the
 * property of our type it maps to, its Go kind, `omitempty`), and
 * `toGo`/`fromGo` convert between our types and the msgpack values of
 * `msgpack.ts`. Embedded Go structs (PinOptions in Pin, PinInfoShort in
 * PinInfo) are flattened in Go's declaration order; a property path such
 * as `pinInfo.status` reaches into our nested object.
 *
 * Kinds and their wire form (ugorji `BinaryMarshaler` types travel as
 * their bytes, in the str family):
 * - `peer`: a `peer.ID`, its multihash bytes (our type: base58/base36 text; '' = none);
 * - `cid`: an `api.Cid`, the CID bytes, nil for `cid.Undef` (our type: CID | null);
 * - `multiaddr`: an `api.Multiaddr`, its bytes (our type: text);
 * - `time`/`optTime`: a `time.Time`, the msgpack timestamp payload
 *   (4, 8 or 12 bytes) in a str, nil for Go's zero time (ours: Date, where
 *   the epoch stands for zero / Date | null);
 * - `int` (Go signed: `GoInt`), `uint`, `string`, `bytes`, `bool`;
 * - `trackerStatus`, `pinType`, `pinMode`: Go's integer enums (bit flags).
 * Address lists (`[]Multiaddr`) drop the entries that do not parse.
 * `omitempty` leaves out zero values as ugorji does for zero memory; on
 * reading, a missing, nil or present-but-empty value is the zero value
 * (ugorji may write `a0`, `90` or `80` for empty values).
 */
import { multiaddr } from '@multiformats/multiaddr'
import { CID } from 'multiformats/cid'
import { InvalidArgumentError } from '../errors.ts'
import { peerIdBytes, peerIdString } from '../state/codec.ts'
import { decodeCid } from '../types/cidbytes.ts'
import { TRACKER_STATUSES, type PinType, type TrackerStatus } from '../types/index.ts'
import { GoInt } from './msgpack.ts'

export type GoKind =
  | 'string'
  | 'bytes'
  | 'bool'
  | 'int'
  | 'uint'
  | 'peer'
  | 'cid'
  | 'multiaddr'
  | 'time'
  | 'optTime'
  | 'trackerStatus'
  | 'pinType'
  | 'pinMode'
  | { array: GoKind }
  | { map: GoKind }
  | { struct: GoStruct }

/** One field of a Go struct: `codec` tag key, our property (path), kind, `omitempty`. */
export interface GoField {
  key: string
  prop: string
  kind: GoKind
  omitEmpty: boolean
}

export type GoStruct = readonly GoField[]

function f(key: string, prop: string, kind: GoKind, omitEmpty = true): GoField {
  return { key, prop, kind, omitEmpty }
}

/** `api.IPFSID` (types.go:566). */
export const GO_IPFSID: GoStruct = [f('i', 'id', 'peer'), f('a', 'addresses', { array: 'multiaddr' }), f('e', 'error', 'string')]

/** `api.ID` (types.go:551). */
export const GO_ID: GoStruct = [
  f('i', 'id', 'peer'),
  f('a', 'addresses', { array: 'multiaddr' }),
  f('cp', 'clusterPeers', { array: 'peer' }),
  f('cpa', 'clusterPeersAddresses', { array: 'multiaddr' }),
  f('v', 'version', 'string'),
  f('c', 'commit', 'string'),
  f('rv', 'rpcProtocolVersion', 'string'),
  f('e', 'error', 'string'),
  f('ip', 'ipfs', { struct: GO_IPFSID }),
  f('pn', 'peername', 'string')
]

/** `api.Pin` with `api.PinOptions` embedded first (types.go:755, 992). */
export const GO_PIN: GoStruct = [
  f('rn', 'replicationFactorMin', 'int'),
  f('rx', 'replicationFactorMax', 'int'),
  f('n', 'name', 'string'),
  f('o', 'mode', 'pinMode'),
  f('s', 'shardSize', 'uint'),
  f('ua', 'userAllocations', { array: 'peer' }),
  f('e', 'expireAt', 'optTime'),
  f('m', 'metadata', { map: 'string' }),
  f('pu', 'pinUpdate', 'cid'),
  f('g', 'origins', { array: 'multiaddr' }),
  f('c', 'cid', 'cid', false),
  f('t', 'type', 'pinType'),
  f('a', 'allocations', { array: 'peer' }),
  f('d', 'maxDepth', 'int'),
  f('r', 'reference', 'cid'),
  f('i', 'timestamp', 'time')
]

/** `api.PinInfo` with `api.PinInfoShort` embedded last (types.go:409, 435). */
export const GO_PININFO: GoStruct = [
  f('c', 'cid', 'cid', false),
  f('m', 'name', 'string'),
  f('p', 'peer', 'peer'),
  f('o', 'allocations', { array: 'peer' }),
  f('g', 'origins', { array: 'multiaddr' }),
  f('t', 'created', 'time'),
  f('md', 'metadata', { map: 'string' }),
  f('pn', 'pinInfo.peerName', 'string'),
  f('i', 'pinInfo.ipfsPeerId', 'peer'),
  f('ia', 'pinInfo.ipfsPeerAddresses', { array: 'multiaddr' }),
  f('st', 'pinInfo.status', 'trackerStatus'),
  f('ts', 'pinInfo.timestamp', 'time'),
  f('e', 'pinInfo.error', 'string'),
  f('a', 'pinInfo.attemptCount', 'int'),
  f('y', 'pinInfo.priorityPin', 'bool')
]

/** `api.Metric` (types.go:1334); times are UnixNano int64. */
export const GO_METRIC: GoStruct = [
  f('n', 'name', 'string'),
  f('p', 'peer', 'peer'),
  f('v', 'value', 'string'),
  f('e', 'expire', 'int'),
  f('d', 'valid', 'bool'),
  f('w', 'weight', 'int'),
  f('o', 'partitionable', 'bool'),
  f('t', 'receivedAt', 'int')
]

/** `api.NodeWithMeta` (types.go:1314), the `IPFSConnector.BlockStream` items. */
export const GO_NODE_WITH_META: GoStruct = [f('d', 'bytes', 'bytes'), f('c', 'cid', 'cid'), f('s', 'cumSize', 'uint')]

/** `api.IPFSRepoGC` (types.go:1444). */
export const GO_IPFS_REPO_GC: GoStruct = [f('k', 'key', 'cid'), f('e', 'error', 'string')]

/** `api.RepoGC` (types.go:1450); `k` has no omitempty. */
export const GO_REPO_GC: GoStruct = [
  f('p', 'peer', 'peer'),
  f('pn', 'peername', 'string'),
  f('k', 'keys', { array: { struct: GO_IPFS_REPO_GC } }, false),
  f('e', 'error', 'string')
]

/**
 * `api.IPFSRepoStat` (types.go:1438). StorageMax's tag is `"s, omitempty"`
 * (with a space), which ugorji's tag parser does not read as omitempty.
 */
export const GO_IPFS_REPO_STAT: GoStruct = [f('r', 'repoSize', 'uint'), f('s', 'storageMax', 'uint', false)]

/** `api.Version` (types.go:472). */
export const GO_VERSION: GoStruct = [f('v', 'version', 'string', false)]

const utf8 = new TextEncoder()
const fromUtf8 = new TextDecoder()

/** Bit value of each tracker status (types.go:48-64: undefined 0, then 1 << 1 …). */
export function trackerStatusToGo(s: TrackerStatus): number {
  const i = TRACKER_STATUSES.indexOf(s)
  return i <= 0 ? 0 : 2 ** i
}

/** The status of a single bit value; 'undefined' for 0 or unknown values. */
export function trackerStatusFromGo(n: number): TrackerStatus {
  for (let i = 1; i < TRACKER_STATUSES.length; i++) if (n === 2 ** i) return TRACKER_STATUSES[i] as TrackerStatus
  return 'undefined'
}

/** A status filter as Go's bit mask (`StatusAll`'s argument; 0 = all). */
export function statusFilterToGo(filter: Iterable<TrackerStatus>): number {
  let m = 0
  for (const s of filter) m |= trackerStatusToGo(s)
  return m
}

/** Go's filter mask as our set of statuses (empty = all). */
export function statusFilterFromGo(mask: number): Set<TrackerStatus> {
  const out = new Set<TrackerStatus>()
  for (let i = 1; i < TRACKER_STATUSES.length; i++) if ((mask & (2 ** i)) !== 0) out.add(TRACKER_STATUSES[i] as TrackerStatus)
  return out
}

const PIN_TYPES: Record<PinType, number> = { pin: 2, 'meta-pin': 4, 'clusterdag-pin': 8, 'shard-pin': 16 }

/** `peer.ID` bytes (its multihash). @throws InvalidArgumentError for text that is not a peer ID. */
export function peerToGo(p: string): Uint8Array {
  try {
    // memoized both ways (src/state/codec.ts): base58 conversions of peer IDs
    // were 29% of a peer's CPU merging a three-peer global status
    return peerIdBytes(p)
  } catch {
    throw new InvalidArgumentError(`invalid peer ID ${JSON.stringify(p)}`)
  }
}

/** A peer ID from its multihash bytes; '' for nil or empty. @throws InvalidArgumentError */
export function peerFromGo(v: unknown): string {
  if (typeof v === 'string') return v
  if (!(v instanceof Uint8Array) || v.byteLength === 0) return ''
  try {
    return peerIdString(v)
  } catch {
    throw new InvalidArgumentError('invalid peer ID bytes')
  }
}

/** A CID from its bytes; null for nil or empty. @throws InvalidArgumentError */
export function cidFromGo(v: unknown): CID | null {
  if (v === null || v === undefined) return null
  if (!(v instanceof Uint8Array)) throw new InvalidArgumentError('a CID must be bytes')
  if (v.byteLength === 0) return null
  try {
    return decodeCid(v)
  } catch {
    throw new InvalidArgumentError('invalid CID bytes')
  }
}

/** The msgpack timestamp payload of a date (4, 8 or 12 bytes, as ugorji `EncodeTime`). */
export function timeToGo(d: Date): Uint8Array {
  const ms = d.getTime()
  const sec = Math.floor(ms / 1000)
  const nsec = (ms - sec * 1000) * 1_000_000
  if (sec >= 0 && sec < 2 ** 34) {
    if (nsec === 0 && sec < 2 ** 32) {
      const b = new Uint8Array(4)
      new DataView(b.buffer).setUint32(0, sec)
      return b
    }
    const b = new Uint8Array(8)
    const v = new DataView(b.buffer)
    v.setUint32(0, nsec * 4 + Math.floor(sec / 2 ** 32))
    v.setUint32(4, sec >>> 0)
    return b
  }
  const b = new Uint8Array(12)
  const v = new DataView(b.buffer)
  v.setUint32(0, nsec)
  v.setBigInt64(4, BigInt(sec))
  return b
}

/** A time from a 4/8/12-byte payload (or a Date from the timestamp ext); null for nil/empty. */
export function timeFromGo(v: unknown): Date | null {
  if (v instanceof Date) return v
  if (!(v instanceof Uint8Array) || v.byteLength === 0) return null
  const dv = new DataView(v.buffer, v.byteOffset, v.byteLength)
  let sec: number
  let nsec: number
  if (v.byteLength === 4) {
    sec = dv.getUint32(0)
    nsec = 0
  } else if (v.byteLength === 8) {
    const hi = dv.getUint32(0)
    nsec = Math.floor(hi / 4)
    sec = (hi & 3) * 2 ** 32 + dv.getUint32(4)
  } else if (v.byteLength === 12) {
    nsec = dv.getUint32(0)
    sec = Number(dv.getBigInt64(4))
  } else throw new InvalidArgumentError(`a time must be 4, 8 or 12 bytes, not ${v.byteLength}`)
  // Go's zero time (year 1) is written by some encoders instead of nil
  if (sec === -62135596800 && nsec === 0) return null
  return new Date(sec * 1000 + Math.floor(nsec / 1_000_000))
}

/** `[f()]`, or `[]` when f throws InvalidArgumentError. */
function skipInvalid(f: () => unknown): unknown[] {
  try {
    return [f()]
  } catch (err) {
    if (err instanceof InvalidArgumentError) return []
    throw err
  }
}

function num(v: unknown): number {
  if (typeof v === 'number') return v
  if (v instanceof GoInt) return v.value
  if (typeof v === 'bigint') return Number(v)
  return 0
}

function text(v: unknown): string {
  if (v instanceof Uint8Array) return fromUtf8.decode(v)
  if (typeof v === 'string') return v
  return ''
}

function isZero(kind: GoKind, v: unknown): boolean {
  if (v === undefined || v === null || v === '' || v === 0 || v === false) return true
  if (kind === 'time' || kind === 'optTime') return v instanceof Date && v.getTime() === 0
  if (kind === 'trackerStatus') return v === 'undefined'
  if (kind === 'pinMode') return v === 'recursive'
  if (Array.isArray(v) || v instanceof Uint8Array) return v.length === 0
  if (typeof kind === 'object' && 'map' in kind) return Object.keys(v as object).length === 0
  if (typeof kind === 'object' && 'struct' in kind) return kind.struct.every((fl) => isZero(fl.kind, getPath(v, fl.prop)))
  return false
}

function getPath(o: unknown, path: string): unknown {
  let cur = o
  for (const part of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined
    cur = (cur as Record<string, unknown>)[part]
  }
  return cur
}

function setPath(o: Record<string, unknown>, path: string, v: unknown): void {
  const parts = path.split('.')
  let cur = o
  for (const part of parts.slice(0, -1)) {
    cur[part] ??= {}
    cur = cur[part] as Record<string, unknown>
  }
  cur[parts[parts.length - 1] as string] = v
}

/** One value of ours -> its msgpack value for `kind`. @throws InvalidArgumentError for a bad peer ID or multiaddr */
export function valueToGo(kind: GoKind, v: unknown): unknown {
  if (typeof kind === 'object') {
    if ('array' in kind) {
      const items = (v as unknown[] | null | undefined) ?? []
      // an address list keeps the addresses it can encode (kubo may report protocols the multiaddr library lacks)
      if (kind.array === 'multiaddr') return items.flatMap((x) => skipInvalid(() => valueToGo('multiaddr', x)))
      return items.map((x) => valueToGo(kind.array, x))
    }
    if ('map' in kind) {
      const out: Record<string, unknown> = {}
      for (const [k, x] of Object.entries((v as Record<string, unknown> | null | undefined) ?? {})) out[k] = valueToGo(kind.map, x)
      return out
    }
    return toGo(kind.struct, v)
  }
  switch (kind) {
    case 'string':
      return typeof v === 'string' ? v : ''
    case 'bytes':
      return v instanceof Uint8Array ? v : new Uint8Array(0)
    case 'bool':
      return v === true
    case 'int':
      return new GoInt(num(v))
    case 'uint':
      return Math.max(0, Math.trunc(num(v)))
    case 'peer':
      return typeof v === 'string' && v !== '' ? peerToGo(v) : null
    case 'cid':
      return v instanceof CID || (v !== null && typeof v === 'object' && 'bytes' in v) ? (v as CID).bytes : null
    case 'multiaddr':
      try {
        return multiaddr(String(v)).bytes
      } catch {
        throw new InvalidArgumentError(`invalid multiaddr ${JSON.stringify(v)}`)
      }
    case 'time':
    case 'optTime':
      return v instanceof Date && v.getTime() !== 0 ? timeToGo(v) : null
    case 'trackerStatus':
      return new GoInt(trackerStatusToGo(v as TrackerStatus))
    case 'pinType':
      return new GoInt(PIN_TYPES[v as PinType] ?? 2)
    case 'pinMode':
      return new GoInt(v === 'direct' ? 1 : 0)
  }
}

/** One msgpack value -> ours for `kind` (missing/nil/empty = the zero value). @throws InvalidArgumentError */
export function valueFromGo(kind: GoKind, v: unknown): unknown {
  if (typeof kind === 'object') {
    if ('array' in kind) {
      if (v === null || v === undefined) return []
      if (!Array.isArray(v)) throw new InvalidArgumentError('expected an array')
      if (kind.array === 'multiaddr') return v.flatMap((x) => skipInvalid(() => valueFromGo('multiaddr', x)))
      return v.map((x) => valueFromGo(kind.array, x))
    }
    if ('map' in kind) {
      const out: Record<string, unknown> = {}
      if (v === null || v === undefined) return out
      if (typeof v !== 'object' || Array.isArray(v) || v instanceof Uint8Array) throw new InvalidArgumentError('expected a map')
      for (const [k, x] of v instanceof Map ? v.entries() : Object.entries(v)) out[text(k)] = valueFromGo(kind.map, x)
      return out
    }
    return fromGo(kind.struct, v)
  }
  switch (kind) {
    case 'string':
      return text(v)
    case 'bytes':
      return v instanceof Uint8Array ? v : typeof v === 'string' ? utf8.encode(v) : new Uint8Array(0)
    case 'bool':
      return v === true
    case 'int':
    case 'uint':
      return num(v)
    case 'peer':
      return peerFromGo(v)
    case 'cid':
      return cidFromGo(v)
    case 'multiaddr':
      if (typeof v === 'string') return v
      if (!(v instanceof Uint8Array)) throw new InvalidArgumentError('a multiaddr must be bytes')
      try {
        return multiaddr(v).toString()
      } catch {
        throw new InvalidArgumentError('invalid multiaddr bytes')
      }
    case 'time':
      return timeFromGo(v) ?? new Date(0)
    case 'optTime':
      return timeFromGo(v)
    case 'trackerStatus':
      return trackerStatusFromGo(num(v))
    case 'pinType': {
      const n = num(v)
      return (Object.keys(PIN_TYPES) as PinType[]).find((t) => PIN_TYPES[t] === n) ?? 'pin'
    }
    case 'pinMode':
      return num(v) === 1 ? 'direct' : 'recursive'
  }
}

/** Our object -> the msgpack map of Go struct `s`, fields in Go's order. */
export function toGo(s: GoStruct, o: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const fl of s) {
    const v = getPath(o, fl.prop)
    if (fl.omitEmpty && isZero(fl.kind, v)) continue
    out[fl.key] = valueToGo(fl.kind, v)
  }
  return out
}

/**
 * The msgpack map of Go struct `s` -> our object (every property set, zero
 * values for what is missing; unknown keys ignored, as Go does).
 * @throws InvalidArgumentError naming the field when a value is malformed
 */
export function fromGo<T = Record<string, unknown>>(s: GoStruct, m: unknown): T {
  if (m !== null && m !== undefined && (typeof m !== 'object' || Array.isArray(m) || m instanceof Uint8Array)) {
    throw new InvalidArgumentError('expected a msgpack map')
  }
  const r = (m ?? {}) as Record<string, unknown>
  const out: Record<string, unknown> = {}
  for (const fl of s) {
    try {
      setPath(out, fl.prop, valueFromGo(fl.kind, r[fl.key]))
    } catch (err) {
      throw new InvalidArgumentError(`field ${fl.key} (${fl.prop}): ${err instanceof Error ? err.message : String(err)}`)
    }
  }
  return out as T
}
