/**
 * "Closest peer" by blake2b-256 XOR distance to a CID (upstream `util.go`:
 * `distanceChecker`, `convertKey`, `xor`). Used to elect the one peer that
 * re-pins a CID after an alert, or unpins an expired pin in StateSync.
 *
 * Keys hashed as upstream does: the CID's binary form (`Cid.KeyString()`)
 * and the peer ID's binary multihash (`string(peer.ID)`).
 */
import { blake2b } from '@noble/hashes/blake2.js'
import { peerIdFromString } from '@libp2p/peer-id'
import type { CID } from 'multiformats/cid'
import { compare as compareBytes } from 'uint8arrays/compare'
import { xor } from 'uint8arrays/xor'
import type { PeerId } from '../types/index.ts'

/** blake2b-256 of a key (upstream `convertKey`). */
export function convertKey(key: Uint8Array): Uint8Array {
  return blake2b(key, { dkLen: 32 })
}

/** Byte-wise XOR of two equal-length digests (upstream `xor`). @throws Error when the lengths differ. */
export { xor } from 'uint8arrays/xor'

/** Lexicographic byte comparison (Go `bytes.Compare`): -1, 0 or 1. */
export { compare as compareBytes } from 'uint8arrays/compare'

/** The binary multihash of a peer ID string; a non-parsable ID is hashed as its UTF-8 text. */
export function peerIdBytes(peer: PeerId): Uint8Array {
  try {
    return peerIdFromString(peer).toMultihash().bytes
  } catch {
    return new TextEncoder().encode(peer)
  }
}

/** XOR distance between a CID and a peer: `blake2b(cid.bytes) ^ blake2b(peerId multihash)`. */
export function distance(cid: CID, peer: PeerId): Uint8Array {
  return xor(convertKey(cid.bytes), convertKey(peerIdBytes(peer)))
}

/**
 * Decides whether the local peer is the closest to a CID among a set of
 * other peers (upstream `distanceChecker.isClosest`). Peer hashes are cached.
 */
export class DistanceChecker {
  private readonly local: PeerId
  private readonly otherPeers: PeerId[]
  private readonly cache = new Map<PeerId, Uint8Array>()

  /**
   * @param local this peer
   * @param otherPeers the peers to compare with (upstream: trusted peers, minus an excluded one)
   */
  constructor(local: PeerId, otherPeers: PeerId[]) {
    this.local = local
    this.otherPeers = [...otherPeers]
  }

  private peerHash(p: PeerId): Uint8Array {
    let h = this.cache.get(p)
    if (h === undefined) {
      h = convertKey(peerIdBytes(p))
      this.cache.set(p, h)
    }
    return h
  }

  /** True unless some other peer is strictly closer to `cid` than the local peer (ties favour the local peer). */
  isClosest(cid: CID): boolean {
    const ciHash = convertKey(cid.bytes)
    const mine = xor(ciHash, this.peerHash(this.local))
    for (const p of this.otherPeers) {
      if (compareBytes(mine, xor(this.peerHash(p), ciHash)) > 0) return false
    }
    return true
  }
}

/** The peer of `peers` closest to `cid` by XOR distance (first one on ties); undefined for no peers. */
export function closestPeer(cid: CID, peers: readonly PeerId[]): PeerId | undefined {
  let best: PeerId | undefined
  let bestD: Uint8Array | undefined
  for (const p of peers) {
    const d = distance(cid, p)
    if (bestD === undefined || compareBytes(d, bestD) < 0) {
      best = p
      bestD = d
    }
  }
  return best
}
