/**
 * Output formatters of `ipfs-cluster ctl`, mirroring upstream
 * `cmd/ipfs-cluster-ctl/formatters.go` byte for byte where the data allows:
 *
 * - text: `textXxx(obj)` return the exact lines upstream prints (each
 *   ending in "\n");
 * - json: `jsonXxx(obj)` return the wire object in Go's field order and
 *   `jsonPrint(obj)` renders it like Go's `json.MarshalIndent(o, "", "    ")`
 *   (4 spaces, `<`, `>`, `&` escaped) plus a newline.
 *
 * Times are printed in UTC: upstream prints them in the zone the server's
 * JSON carried, and our server writes UTC (`toISOString`), so this is what
 * the Go ctl prints against our peers.
 */
import type {
  AddedOutput,
  Alert,
  GlobalPinInfo,
  GlobalRepoGC,
  ID,
  Metric,
  Pin,
  PinInfoShort
} from '../types/index.ts'
import {
  addedOutputToJSON,
  alertToJSON,
  globalPinInfoToJSON,
  globalRepoGCToJSON,
  idToJSON,
  metricToJSON,
  pinToJSON,
  timeToJSON
} from '../types/json.ts'

/** `/health/bandwidth` stats per protocol (same shape as the client's). */
export type BandwidthStats = Record<string, { totalIn: number; totalOut: number; rateIn: number; rateOut: number }>

/** An API error as ctl prints it (upstream `api.Error`). */
export interface ErrorBody {
  code: number
  message: string
}

// ---- Go formatting helpers ---------------------------------------------------

const pad2 = (n: number): string => String(n).padStart(2, '0')

/** Go's `t.Format("2006-01-02 15:04:05")` of a UTC time. */
export function goDateTime(d: Date): string {
  return `${d.getUTCFullYear()}-${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())} ${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())}`
}

/** Go's `time.Time.MarshalText` of a UTC time (RFC3339Nano, trailing zeros trimmed). */
export function goRFC3339Nano(d: Date): string {
  const ms = d.getUTCMilliseconds()
  const frac = ms === 0 ? '' : `.${String(ms).padStart(3, '0').replace(/0+$/, '')}`
  return `${goDateTime(d).replace(' ', 'T')}${frac}Z`
}

/** go-humanize `Bytes`: SI units, e.g. `83 MB`, `1.5 kB`, `9 B`. */
export function humanizeBytes(n: number): string {
  const s = Math.max(0, Math.floor(n))
  if (s < 10) return `${s} B`
  const sizes = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB']
  const e = Math.floor(Math.log(s) / Math.log(1000))
  const suffix = sizes[e] ?? 'EB'
  const val = Math.floor((s / 1000 ** e) * 10 + 0.5) / 10
  return val < 10 ? `${val.toFixed(1)} ${suffix}` : `${val.toFixed(0)} ${suffix}`
}

const SECOND = 1000
const MINUTE = 60 * SECOND
const HOUR = 60 * MINUTE
const DAY = 24 * HOUR
const WEEK = 7 * DAY
const MONTH = 30 * DAY
const YEAR = 12 * MONTH
const LONG_TIME = 37 * YEAR

/** [upper bound (exclusive), format, divisor] as go-humanize `defaultMagnitudes` (ms). */
const MAGNITUDES: [number, string, number][] = [
  [SECOND, 'now', SECOND],
  [2 * SECOND, '1 second %s', 1],
  [MINUTE, '%d seconds %s', SECOND],
  [2 * MINUTE, '1 minute %s', 1],
  [HOUR, '%d minutes %s', MINUTE],
  [2 * HOUR, '1 hour %s', 1],
  [DAY, '%d hours %s', HOUR],
  [2 * DAY, '1 day %s', 1],
  [WEEK, '%d days %s', DAY],
  [2 * WEEK, '1 week %s', 1],
  [MONTH, '%d weeks %s', WEEK],
  [2 * MONTH, '1 month %s', 1],
  [YEAR, '%d months %s', MONTH],
  [18 * MONTH, '1 year %s', 1],
  [2 * YEAR, '2 years %s', 1],
  [LONG_TIME, '%d years %s', YEAR],
  [Number.POSITIVE_INFINITY, 'a long while %s', 1]
]

/** go-humanize `Time(then)`: "3 minutes ago", "1 hour from now", "now". */
export function humanizeTime(then: Date | number, now: Date = new Date()): string {
  const a = typeof then === 'number' ? then : then.getTime()
  const b = now.getTime()
  const lbl = a > b ? 'from now' : 'ago'
  const diff = Math.abs(b - a)
  const mag = MAGNITUDES.find(([d]) => d > diff) ?? MAGNITUDES[MAGNITUDES.length - 1]!
  const [, fmt, div] = mag
  return fmt.replace('%d', String(Math.floor(diff / div))).replace('%s', lbl)
}

/** Go's `%-Ns`. */
const padRight = (s: string, n: number): string => s.padEnd(n, ' ')
/** Go's `%Ns`. */
const padLeft = (s: string, n: number): string => s.padStart(n, ' ')

// ---- text formatters ---------------------------------------------------------

/** upstream `textFormatPrintID`. */
export function textID(obj: ID): string {
  if (obj.error !== '') return `${obj.id} | ERROR: ${obj.error}\n`
  let s = `${obj.id} | ${obj.peername} | Sees ${obj.clusterPeers.length - 1} other peers\n`
  s += '  > Addresses:\n'
  for (const a of [...obj.addresses].sort()) s += `    - ${a}\n`
  if (obj.ipfs.error !== '') return `${s}  > IPFS ERROR: ${obj.ipfs.error}\n`
  s += `  > IPFS: ${obj.ipfs.id}\n`
  for (const a of [...obj.ipfs.addresses].sort()) s += `    - ${a}\n`
  return s
}

function peerLine(k: string, v: PinInfoShort): string {
  let s = `    > ${padRight(v.peerName.length > 0 ? v.peerName : k, 20)} : ${v.status.toUpperCase()}`
  if (v.error !== '') s += `: ${v.error}`
  s += ` | ${goRFC3339Nano(v.timestamp)}`
  s += ` | Attempts: ${v.attemptCount}`
  s += ` | Priority: ${v.priorityPin}`
  return `${s}\n`
}

/** upstream `textFormatPrintGPInfo`. */
export function textGPInfo(obj: GlobalPinInfo): string {
  let s = obj.cid.toString()
  if (obj.name !== '') s += ` | ${obj.name}`
  s += ':\n'
  for (const k of Object.keys(obj.peerMap).sort()) s += peerLine(k, obj.peerMap[k]!)
  return s
}

/** upstream `textFormatPrintVersion`. */
export function textVersion(obj: { version: string }): string {
  return `${obj.version}\n`
}

/** upstream `textFormatPrintPin`. */
export function textPin(obj: Pin): string {
  let t = obj.type.toUpperCase()
  if (obj.mode === 'direct') t += '-DIRECT'
  let s = `${obj.cid.toString()} | ${obj.name} | ${t} | `
  if (obj.replicationFactorMin === -1 && obj.replicationFactorMax === -1) {
    s += 'Repl. Factor: -1 | Allocations: [everywhere]'
  } else {
    const allocs = [...obj.allocations].sort()
    s += `Repl. Factor: ${obj.replicationFactorMin}--${obj.replicationFactorMax} | Allocations: [${allocs.join(' ')}]`
  }
  const rec = obj.maxDepth === 0 ? 'Direct' : obj.maxDepth === -1 ? 'Recursive' : `Recursive-${obj.maxDepth}`
  s += ` | ${rec}`
  s += ` | Metadata: ${Object.keys(obj.metadata).length === 0 ? 'no' : 'yes'}`
  s += ` | Exp: ${obj.expireAt === null ? '∞' : goDateTime(obj.expireAt)}`
  const zero = obj.timestamp.getTime() <= 0 || obj.timestamp.getUTCFullYear() <= 1
  s += ` | Added: ${zero ? 'unknown' : goDateTime(obj.timestamp)}\n`
  return s
}

/** upstream `textFormatPrintAddedOutput`. */
export function textAddedOutput(obj: AddedOutput): string {
  return `added ${obj.cid.toString()} ${obj.name}\n`
}

/** upstream `textFormatPrintAddedOutputQuiet`. */
export function textAddedOutputQuiet(obj: AddedOutput, quiet: boolean): string {
  return quiet ? `${obj.cid.toString()}\n` : textAddedOutput(obj)
}

/** upstream `textFormatPrintMetric`; `expire` is Unix nanoseconds. */
export function textMetric(obj: Metric, now: Date = new Date()): string {
  let v = obj.value
  if (obj.name === 'freespace' && obj.weight > 0) v = humanizeBytes(obj.weight)
  return `${obj.peer} | ${obj.name}: ${v} | Expires in: ${humanizeTime(Math.floor(obj.expire / 1e6), now)}\n`
}

/** upstream `textFormatPrintAlert`. */
export function textAlert(obj: Alert, now: Date = new Date()): string {
  return `${obj.peer}: ${obj.name}. Expired at: ${humanizeTime(Math.floor(obj.expire / 1e6), now)}. Triggered at: ${humanizeTime(obj.triggeredAt, now)}\n`
}

/** upstream `textFormatPrintBandwidthByProtocol`. */
export function textBandwidth(obj: BandwidthStats): string {
  let s = ''
  for (const k of Object.keys(obj).sort()) {
    const st = obj[k]!
    s += `${padLeft(k, 25)}: In: ${padLeft(humanizeBytes(st.totalIn), 7)}. Out: ${padLeft(humanizeBytes(st.totalOut), 7)}. RateIn: ${st.rateIn.toFixed(2)}B/s. RateOut: ${st.rateOut.toFixed(2)}B/s\n`
  }
  return s
}

/** upstream `textFormatPrintGlobalRepoGC`. */
export function textGlobalRepoGC(obj: GlobalRepoGC): string {
  let s = ''
  for (const peer of Object.keys(obj.peerMap).sort()) {
    const item = obj.peerMap[peer]!
    const name = item.peername.length > 0 ? item.peername : peer
    s += item.error !== '' ? `${padRight(name, 15)} | ERROR: ${item.error}\n` : `${padRight(name, 15)}\n`
    s += '  > CIDs:\n'
    for (const key of item.keys) {
      if (key.error !== '') {
        s += `    - ERROR: ${key.error}\n`
        continue
      }
      s += `    - ${key.key?.toString() ?? ''}\n`
    }
  }
  return s
}

/** upstream `textFormatPrintError`. */
export function textError(obj: ErrorBody): string {
  return `An error occurred:\n  Code: ${obj.code}\n  Message: ${obj.message}\n`
}

/** The sorted list of statuses for `status --help` (upstream `trackerStatusAllString`). */
export function trackerStatusAllString(statuses: readonly string[]): string {
  return statuses
    .filter((s) => s !== 'undefined')
    .map((s) => `  - ${s}`)
    .sort()
    .join('\n')
}

// ---- json formatters ---------------------------------------------------------

/**
 * Go's `json.MarshalIndent(o, "", "    ")`: 4-space indentation, HTML
 * characters escaped, followed by a newline as ctl prints it.
 */
export function jsonPrint(o: unknown): string {
  const s = JSON.stringify(o, null, 4) ?? 'null'
  return `${s
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029')}\n`
}

function sortedMap<T>(m: Record<string, T> | null): Record<string, T> | null {
  if (m === null) return null
  const out: Record<string, T> = {}
  for (const k of Object.keys(m).sort()) out[k] = m[k]!
  return out
}

/** Pin in Go's field order (embedded PinOptions first). */
export function jsonPin(p: Pin): Record<string, unknown> {
  const j = pinToJSON(p)
  return {
    replication_factor_min: j.replication_factor_min,
    replication_factor_max: j.replication_factor_max,
    name: j.name,
    mode: j.mode,
    shard_size: j.shard_size,
    user_allocations: j.user_allocations,
    expire_at: j.expire_at,
    metadata: sortedMap(j.metadata),
    pin_update: j.pin_update,
    origins: j.origins,
    cid: j.cid,
    type: j.type,
    allocations: j.allocations,
    max_depth: j.max_depth,
    reference: j.reference,
    timestamp: j.timestamp
  }
}

/** GlobalPinInfo with sorted maps and Go's omitempty on peer entries. */
export function jsonGPInfo(g: GlobalPinInfo): Record<string, unknown> {
  const j = globalPinInfoToJSON(g)
  const peerMap: Record<string, unknown> = {}
  for (const k of Object.keys(j.peer_map).sort()) {
    const v = j.peer_map[k]!
    const e: Record<string, unknown> = { peername: v.peername }
    if (v.ipfs_peer_id !== '') e.ipfs_peer_id = v.ipfs_peer_id
    if (v.ipfs_peer_addresses !== null && v.ipfs_peer_addresses.length > 0) e.ipfs_peer_addresses = v.ipfs_peer_addresses
    e.status = v.status
    e.timestamp = v.timestamp
    e.error = v.error
    e.attempt_count = v.attempt_count
    e.priority_pin = v.priority_pin
    peerMap[k] = e
  }
  return { ...j, metadata: sortedMap(j.metadata), peer_map: peerMap }
}

/** ID as upstream marshals it. */
export function jsonID(id: ID): Record<string, unknown> {
  const j = idToJSON(id)
  const ipfs: Record<string, unknown> = {}
  if (j.ipfs.id !== '') ipfs.id = j.ipfs.id
  ipfs.addresses = j.ipfs.addresses
  ipfs.error = j.ipfs.error
  return { ...j, ipfs }
}

export function jsonMetric(m: Metric): Record<string, unknown> {
  return { ...metricToJSON(m) }
}

export function jsonAlert(a: Alert): Record<string, unknown> {
  const j = alertToJSON(a)
  return { ...j, triggered_at: timeToJSON(a.triggeredAt) }
}

export function jsonAddedOutput(a: AddedOutput): Record<string, unknown> {
  return { ...addedOutputToJSON(a) }
}

export function jsonGlobalRepoGC(g: GlobalRepoGC): Record<string, unknown> {
  const j = globalRepoGCToJSON(g)
  const peerMap: Record<string, unknown> = {}
  for (const k of Object.keys(j.peer_map).sort()) {
    const r = j.peer_map[k]!
    const e: Record<string, unknown> = { peer: r.peer, peername: r.peername }
    e.keys = (r.keys ?? []).map((x) => {
      const o: Record<string, unknown> = {}
      if (x.key !== null) o.key = x.key
      if (x.error !== '') o.error = x.error
      return o
    })
    if (r.error !== '') e.error = r.error
    peerMap[k] = e
  }
  return { peer_map: peerMap }
}

export function jsonBandwidth(b: BandwidthStats): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const k of Object.keys(b).sort()) {
    const s = b[k]!
    out[k] = { total_in: s.totalIn, total_out: s.totalOut, rate_in: s.rateIn, rate_out: s.rateOut }
  }
  return out
}

// ---- dispatch ----------------------------------------------------------------

/** What ctl can print; `kind` picks the formatter (upstream switches on Go types). */
export type Printable =
  | { kind: 'id'; value: ID }
  | { kind: 'gpinfo'; value: GlobalPinInfo }
  | { kind: 'pin'; value: Pin }
  | { kind: 'added'; value: AddedOutput; quiet?: boolean }
  | { kind: 'version'; value: { version: string } }
  | { kind: 'error'; value: ErrorBody }
  | { kind: 'metric'; value: Metric }
  | { kind: 'alert'; value: Alert }
  | { kind: 'bandwidth'; value: BandwidthStats }
  | { kind: 'repogc'; value: GlobalRepoGC }
  | { kind: 'string'; value: string }
  | { kind: 'raw'; value: unknown }

/** Text rendering of one item (upstream `textFormatObject`). */
export function formatText(p: Printable, now?: Date): string {
  switch (p.kind) {
    case 'id':
      return textID(p.value)
    case 'gpinfo':
      return textGPInfo(p.value)
    case 'pin':
      return textPin(p.value)
    case 'added':
      return textAddedOutputQuiet(p.value, p.quiet ?? false)
    case 'version':
      return textVersion(p.value)
    case 'error':
      return textError(p.value)
    case 'metric':
      return textMetric(p.value, now)
    case 'alert':
      return textAlert(p.value, now)
    case 'bandwidth':
      return textBandwidth(p.value)
    case 'repogc':
      return textGlobalRepoGC(p.value)
    case 'string':
      return `${p.value}\n`
    case 'raw':
      return jsonPrint(p.value)
  }
}

/** The JSON value of one item as upstream marshals it. */
export function toJSONValue(p: Printable): unknown {
  switch (p.kind) {
    case 'id':
      return jsonID(p.value)
    case 'gpinfo':
      return jsonGPInfo(p.value)
    case 'pin':
      return jsonPin(p.value)
    case 'added':
      return jsonAddedOutput(p.value)
    case 'version':
      return { version: p.value.version }
    case 'error':
      return { code: p.value.code, message: p.value.message }
    case 'metric':
      return jsonMetric(p.value)
    case 'alert':
      return jsonAlert(p.value)
    case 'bandwidth':
      return jsonBandwidth(p.value)
    case 'repogc':
      return jsonGlobalRepoGC(p.value)
    case 'string':
      return p.value
    case 'raw':
      return p.value
  }
}

/** JSON rendering of one item (upstream `jsonFormatPrint`). */
export function formatJSON(p: Printable): string {
  return jsonPrint(toJSONValue(p))
}

/** Renders one item in `enc` ('text' or 'json'). */
export function format(enc: 'text' | 'json', p: Printable, now?: Date): string {
  return enc === 'json' ? formatJSON(p) : formatText(p, now)
}
