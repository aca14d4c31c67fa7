/**
 * `JSON.stringify(globalPinInfoToJSON(g))` built as a string, for the
 * global status stream (one line per pin with every peer's entry). The
 * part of a peer's entry that repeats in every line (its peer ID, name,
 * IPFS peer ID and addresses) is kept as JSON text per peer and reused
 * while it stays the same. Same text as JSON.stringify, key order included
 * (test/unit/api/gpinline.test.ts).
 */
import type { GlobalPinInfo, PinInfoShort } from './index.ts'
import { cidString } from './cidstring.ts'
import { timeToJSON } from './json.ts'

interface PeerPrefix {
  peerName: string
  ipfsPeerId: string
  addresses: readonly string[]
  /** `"<peer>":{"peername":…,"ipfs_peer_id":…,"ipfs_peer_addresses":[…],"status":"` */
  text: string
}

const prefixes = new Map<string, PeerPrefix>()
const PREFIX_MAX = 1024

function sameList(a: readonly string[], b: readonly string[]): boolean {
  if (a === b) return true
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

function prefixOf(peer: string, p: PinInfoShort): string {
  const hit = prefixes.get(peer)
  if (hit !== undefined && hit.peerName === p.peerName && hit.ipfsPeerId === p.ipfsPeerId && sameList(hit.addresses, p.ipfsPeerAddresses)) return hit.text
  const text = `${JSON.stringify(peer)}:{"peername":${JSON.stringify(p.peerName)},"ipfs_peer_id":${JSON.stringify(p.ipfsPeerId)},"ipfs_peer_addresses":${JSON.stringify(p.ipfsPeerAddresses)},"status":`
  if (prefixes.size >= PREFIX_MAX) prefixes.clear()
  prefixes.set(peer, { peerName: p.peerName, ipfsPeerId: p.ipfsPeerId, addresses: [...p.ipfsPeerAddresses], text })
  return text
}

const quotedStatus = new Map<string, string>()

/** JSON.stringify of a tracker status (a handful of values). */
function quoted(s: string): string {
  let q = quotedStatus.get(s)
  if (q === undefined) {
    q = JSON.stringify(s)
    if (quotedStatus.size < 64) quotedStatus.set(s, q)
  }
  return q
}

/** The JSON text of a string list (the usual empty or one-peer lists without JSON.stringify). */
function list(xs: readonly string[]): string {
  return xs.length === 0 ? '[]' : JSON.stringify(xs)
}

/** `JSON.stringify(globalPinInfoToJSON(g))`. */
export function globalPinInfoLine(g: GlobalPinInfo): string {
  let peers = ''
  for (const k in g.peerMap) {
    const p = g.peerMap[k]!
    if (peers !== '') peers += ','
    const n = p.attemptCount
    const attempts = Number.isInteger(n) && Math.abs(n) < 1e21 ? String(n) : JSON.stringify(n)
    peers += `${prefixOf(k, p)}${quoted(p.status)},"timestamp":"${timeToJSON(p.timestamp)}","error":${p.error === '' ? '""' : JSON.stringify(p.error)},"attempt_count":${attempts},"priority_pin":${p.priorityPin === true ? 'true' : JSON.stringify(p.priorityPin)}}`
  }
  const meta = Object.keys(g.metadata).length > 0 ? JSON.stringify(g.metadata) : 'null'
  return `{"cid":"${cidString(g.cid)}","name":${JSON.stringify(g.name)},"allocations":${list(g.allocations)},"origins":${list(g.origins)},"created":"${timeToJSON(g.created)}","metadata":${meta},"peer_map":{${peers}}}`
}
