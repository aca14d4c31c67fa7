/**
 * The protobuf encoding of a Pin as stored in the state (the value of each
 * state key), byte-compatible with upstream `api.Pin.ProtoMarshal` /
 * `ProtoUnmarshal` (api/types.go, v1.1.6; schema in `api/pb/types.proto`):
 * - CIDs (`Cid`, `Reference`, `PinUpdate`) as binary CIDs;
 * - allocations as the bytes of the peer ID multihash (`peer.ID.Marshal`);
 * - origins as binary multiaddrs;
 * - `Timestamp` and `ExpireAt` as whole seconds since the Unix epoch, 0 when unset;
 * - metadata as `SortedMetadata` (sorted by key; the legacy map is read, never written);
 * - `mode` and `user_allocations` are not stored: mode derives from `MaxDepth`.
 */
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromMultihash, peerIdFromString } from '@libp2p/peer-id'
import type { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { errorMessage, InvalidArgumentError } from '../errors.ts'
import { decodeCid } from '../types/cidbytes.ts'
import type { Pin, PinType } from '../types/index.ts'
import { Pin as PbPin } from '../types/pb/types.pb.ts'
import { decodePbPinFast } from './pbfast.ts'
import { encodePbPinFast } from './pbencode.ts'

/** Upstream's zero time (`time.Time{}`), used when a stored timestamp is unset. */
export const ZERO_DATE = new Date('0001-01-01T00:00:00Z')

const TYPE_TO_PB: Record<PinType, PbPin.PinType> = {
  pin: PbPin.PinType.DataType,
  'meta-pin': PbPin.PinType.MetaType,
  'clusterdag-pin': PbPin.PinType.ClusterDAGType,
  'shard-pin': PbPin.PinType.ShardType
}

const PB_TO_TYPE: Record<string, PinType> = {
  DataType: 'pin',
  MetaType: 'meta-pin',
  ClusterDAGType: 'clusterdag-pin',
  ShardType: 'shard-pin',
  BadType: 'pin'
}

function seconds(d: Date | null): bigint {
  if (d === null) return 0n
  const ms = d.getTime()
  if (!Number.isFinite(ms) || ms <= 0) return 0n // upstream: zero and unix-zero times are not stored
  return BigInt(Math.floor(ms / 1000))
}

/**
 * Peer IDs repeat across a pinset (a cluster has few peers, every pin names
 * some of them), and their base58 <-> multihash conversions were the
 * largest cost of listing and importing (base58 is quadratic in the
 * length). Both directions are memoized, bounded: a cache reaching
 * PEER_CACHE_MAX entries starts over. Only valid IDs are cached, so an
 * invalid one still throws every time.
 */
const PEER_CACHE_MAX = 4096
const peerBytesByString = new Map<string, Uint8Array<ArrayBuffer>>()
const peerStringByBytes = new Map<string, string>()

/**
 * The multihash bytes of a peer ID string (memoized; the array is shared:
 * callers must not change it). @throws InvalidArgumentError on an invalid ID.
 */
export function peerIdBytes(p: string): Uint8Array<ArrayBuffer> {
  const hit = peerBytesByString.get(p)
  if (hit !== undefined) return hit
  let bytes: Uint8Array<ArrayBuffer>
  try {
    bytes = new Uint8Array(peerIdFromString(p).toMultihash().bytes)
  } catch (err) {
    throw new InvalidArgumentError(`invalid peer ID in allocations: ${p}: ${errorMessage(err)}`)
  }
  if (peerBytesByString.size >= PEER_CACHE_MAX) peerBytesByString.clear()
  peerBytesByString.set(p, bytes)
  return bytes
}

/**
 * the last peer IDs decoded (a pinset's allocations repeat the same few
 * peers; a PinInfo carries three: its peer, its allocation, its IPFS peer)
 */
const RECENT_PEERS = 8
const recentPeerBytes: (Uint8Array | undefined)[] = new Array(RECENT_PEERS).fill(undefined)
const recentPeerStrings: string[] = new Array(RECENT_PEERS).fill('')
let nextRecentPeer = 0

function samePeerBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = a.length - 1; i >= 0; i--) if (a[i] !== b[i]) return false
  return true
}

/** The string form of a peer ID from its multihash bytes (memoized). @throws InvalidArgumentError on invalid bytes. */
export function peerIdString(b: Uint8Array): string {
  for (let i = 0; i < RECENT_PEERS; i++) {
    const r = recentPeerBytes[i]
    if (r !== undefined && samePeerBytes(r, b)) return recentPeerStrings[i]!
  }
  const s = peerIdStringCached(b)
  recentPeerBytes[nextRecentPeer] = b.slice() // a copy: b may be a view into a row
  recentPeerStrings[nextRecentPeer] = s
  nextRecentPeer = (nextRecentPeer + 1) % RECENT_PEERS
  return s
}

function peerIdStringCached(b: Uint8Array): string {
  const k = String.fromCharCode.apply(null, b as unknown as number[])
  const hit = peerStringByBytes.get(k)
  if (hit !== undefined) return hit
  let s: string
  try {
    s = peerIdFromMultihash(Digest.decode(b)).toString()
  } catch (err) {
    throw new InvalidArgumentError(`invalid peer ID bytes in allocations: ${errorMessage(err)}`)
  }
  if (peerStringByBytes.size >= PEER_CACHE_MAX) peerStringByBytes.clear()
  peerStringByBytes.set(k, s)
  return s
}

/**
 * Encodes a pin as upstream's protobuf `Pin`.
 * @throws InvalidArgumentError on an invalid peer ID or multiaddr.
 */
export function pinToProtobuf(pin: Pin): Uint8Array {
  const keys = Object.keys(pin.metadata).sort()
  const pb: PbPin = {
    Cid: new Uint8Array(pin.cid.bytes),
    Type: TYPE_TO_PB[pin.type],
    Allocations: pin.allocations.map(peerIdBytes),
    MaxDepth: pin.maxDepth,
    Reference: pin.reference === null ? new Uint8Array(0) : new Uint8Array(pin.reference.bytes),
    Options: {
      ReplicationFactorMin: pin.replicationFactorMin,
      ReplicationFactorMax: pin.replicationFactorMax,
      Name: pin.name,
      ShardSize: BigInt(pin.shardSize),
      Metadata: new Map(),
      PinUpdate: pin.pinUpdate === null ? new Uint8Array(0) : new Uint8Array(pin.pinUpdate.bytes),
      ExpireAt: seconds(pin.expireAt),
      Origins: pin.origins.map((o) => {
        try {
          return new Uint8Array(multiaddr(o).bytes)
        } catch (err) {
          throw new InvalidArgumentError(`invalid origin multiaddr ${o}: ${errorMessage(err)}`)
        }
      }),
      SortedMetadata: keys.map((k) => ({ Key: k, Value: pin.metadata[k]! }))
    },
    Timestamp: seconds(pin.timestamp)
  }
  // the same bytes as the generated encoder, which takes what the hand-written one leaves
  return encodePbPinFast(pb) ?? PbPin.encode(pb)
}

function castCid(b: Uint8Array | undefined): CID | null {
  if (b === undefined || b.length === 0) return null
  try {
    return decodeCid(b)
  } catch {
    return null
  }
}

/**
 * Decodes upstream's protobuf `Pin`.
 * @param cid overrides the stored CID (dsstate does this with the key's CID).
 * @throws InvalidArgumentError on malformed bytes, peer IDs or multiaddrs.
 */
export function pinFromProtobuf(bytes: Uint8Array, cid?: CID): Pin {
  // the hand-written decoder gives the generated one's object; what it
  // leaves (malformed or unusual input) goes to the generated one
  let pb: PbPin | undefined = decodePbPinFast(bytes)
  try {
    pb ??= PbPin.decode(bytes)
  } catch (err) {
    throw new InvalidArgumentError(`error decoding protobuf pin: ${errorMessage(err)}`)
  }
  const theCid = cid ?? castCid(pb.Cid)
  if (theCid === null) throw new InvalidArgumentError('protobuf pin has no valid cid')
  const opts = pb.Options
  const metadata: Record<string, string> = {}
  if (opts !== undefined) {
    for (const [k, v] of opts.Metadata) metadata[k] = v
    for (const m of opts.SortedMetadata) metadata[m.Key] = m.Value
  }
  const allocations = pb.Allocations.map(peerIdString)
  const origins = (opts?.Origins ?? []).map((b) => {
    try {
      return multiaddr(b).toString()
    } catch (err) {
      throw new InvalidArgumentError(`invalid origin multiaddr bytes: ${errorMessage(err)}`)
    }
  })
  const ts = pb.Timestamp
  const exp = opts?.ExpireAt ?? 0n
  return {
    cid: theCid,
    type: PB_TO_TYPE[pb.Type] ?? 'pin',
    allocations,
    maxDepth: pb.MaxDepth,
    reference: castCid(pb.Reference),
    timestamp: ts > 0n ? new Date(Number(ts) * 1000) : new Date(ZERO_DATE.getTime()),
    replicationFactorMin: opts?.ReplicationFactorMin ?? 0,
    replicationFactorMax: opts?.ReplicationFactorMax ?? 0,
    name: opts?.Name ?? '',
    mode: pb.MaxDepth === 0 ? 'direct' : 'recursive',
    shardSize: Number(opts?.ShardSize ?? 0n),
    userAllocations: [],
    expireAt: exp > 0n ? new Date(Number(exp) * 1000) : null,
    metadata,
    pinUpdate: castCid(opts?.PinUpdate),
    origins
  }
}
