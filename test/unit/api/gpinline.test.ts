/** `globalPinInfoLine` (src/types/gpinline.ts) is `JSON.stringify(globalPinInfoToJSON(g))`, byte for byte. */
import { describe, expect, test } from 'bun:test'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { globalPinInfoLine } from '../../../src/types/gpinline.ts'
import { TRACKER_STATUSES, type GlobalPinInfo, type TrackerStatus } from '../../../src/types/index.ts'
import { globalPinInfoToJSON } from '../../../src/types/json.ts'

const PEERS = ['12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA', 'QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N', 'QmUsJFpBNhU6VtDk5gP9YnW42AcRfN8oSdiSvzX5Vr7jCT']
const TEXTS = ['', 'plain', 'quote " and \\ backslash', 'line\nbreak\ttab', 'ünïcødé 名前', '\u0000\u001f control', '\ud83d\ude00 emoji', 'lone \ud800 surrogate']

function rng(seed: number): () => number {
  let x = seed
  return () => {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    return (x >>> 0) / 2 ** 32
  }
}

describe('globalPinInfoLine', () => {
  test('the same text as JSON.stringify for seeded random values, peers whose names and addresses change between lines', () => {
    const r = rng(42)
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T
    for (let i = 0; i < 2000; i++) {
      const digest = Uint8Array.from({ length: 32 }, () => Math.floor(r() * 256))
      const cid = r() < 0.2 ? CID.createV0(Digest.create(0x12, digest)) : CID.createV1(0x55, Digest.create(0x12, digest))
      const peerMap: GlobalPinInfo['peerMap'] = {}
      for (const p of PEERS) {
        if (r() < 0.2) continue
        peerMap[p] = {
          peerName: r() < 0.8 ? `name-${p.slice(-3)}` : pick(TEXTS),
          ipfsPeerId: r() < 0.9 ? PEERS[0]! : '',
          ipfsPeerAddresses: r() < 0.7 ? ['/ip4/127.0.0.1/tcp/4001'] : pick([[], ['/ip6/::1/tcp/1', '/dns4/x.y/tcp/2']]),
          status: pick(TRACKER_STATUSES) as TrackerStatus,
          timestamp: new Date(r() < 0.1 ? 0 : Math.floor(r() * 2e12)),
          error: r() < 0.7 ? '' : pick(TEXTS),
          attemptCount: r() < 0.8 ? 0 : pick([1, 7, -3, 1e22, Number.NaN]),
          priorityPin: r() < 0.3
        }
      }
      const g: GlobalPinInfo = {
        cid,
        name: pick(TEXTS),
        allocations: r() < 0.5 ? [] : PEERS.slice(0, 1 + Math.floor(r() * 3)),
        origins: r() < 0.8 ? [] : ['/ip4/1.2.3.4/tcp/4001'],
        created: new Date(r() < 0.1 ? 0 : Math.floor(r() * 2e12)),
        metadata: r() < 0.7 ? {} : { [pick(TEXTS)]: pick(TEXTS), k: 'v' },
        peerMap
      }
      expect(globalPinInfoLine(g)).toBe(JSON.stringify(globalPinInfoToJSON(g)))
    }
  })
})
