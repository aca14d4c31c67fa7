import { describe, expect, test } from 'bun:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import * as raw from 'multiformats/codecs/raw'
import {
  closestPeer,
  compareBytes,
  convertKey,
  DistanceChecker,
  distance,
  peerIdBytes,
  xor
} from '../../../src/allocator/util.ts'

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex')

async function cidOf(i: number): Promise<CID> {
  return CID.create(1, raw.code, await sha256.digest(new TextEncoder().encode(`block ${i}`)))
}

describe('closest peer by blake2b XOR distance', () => {
  test('blake2b-256 known vector and xor/compare', () => {
    expect(hex(convertKey(new Uint8Array()))).toBe('0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8')
    expect([...xor(Uint8Array.of(1, 2, 255), Uint8Array.of(3, 2, 15))]).toEqual([2, 0, 240])
    expect(compareBytes(Uint8Array.of(1, 2), Uint8Array.of(1, 3))).toBe(-1)
    expect(compareBytes(Uint8Array.of(2), Uint8Array.of(1, 3))).toBe(1)
    expect(compareBytes(Uint8Array.of(1, 3), Uint8Array.of(1, 3))).toBe(0)
  })

  test('peer IDs are hashed as their binary multihash, CIDs as their bytes', async () => {
    const pid = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
    expect(peerIdBytes(pid.toString())).toEqual(pid.toMultihash().bytes)
    const c = await cidOf(0)
    expect(distance(c, pid.toString())).toEqual(xor(convertKey(c.bytes), convertKey(pid.toMultihash().bytes)))
  })

  test('exactly one peer is closest for each CID, and it is closestPeer()', async () => {
    const peers: string[] = []
    for (let i = 0; i < 5; i++) peers.push(peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString())
    const winners = new Set<string>()
    for (let i = 0; i < 20; i++) {
      const c = await cidOf(i)
      const closest = peers.filter((p) => new DistanceChecker(p, peers.filter((q) => q !== p)).isClosest(c))
      expect(closest.length).toBe(1)
      expect(closestPeer(c, peers)).toBe(closest[0]!)
      winners.add(closest[0]!)
    }
    expect(winners.size).toBeGreaterThan(1) // spreads over peers
    expect(closestPeer(await cidOf(0), [])).toBeUndefined()
    expect(new DistanceChecker(peers[0]!, []).isClosest(await cidOf(1))).toBe(true)
  })
})
