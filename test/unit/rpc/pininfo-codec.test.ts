/**
 * The hand-written `api.PinInfo` codec (src/rpc/pininfo.ts) against the
 * generic struct mapping it replaces on the hot path: the same bytes out
 * (`goEncode(toGo(GO_PININFO, …))`, itself checked against Go's bytes in
 * gorpc-codec.test.ts) and the same objects in (`fromGo`), over edge cases
 * and seeded random values.
 */
import { describe, expect, test } from 'bun:test'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import * as Digest from 'multiformats/hashes/digest'
import { fromGo, GO_PININFO, toGo } from '../../../src/rpc/gotypes.ts'
import { GoInt, GoRaw, goDecode, goEncode } from '../../../src/rpc/msgpack.ts'
import { encodePinInfo, pinInfoFromGo } from '../../../src/rpc/pininfo.ts'
import { TRACKER_STATUSES, type PinInfo, type TrackerStatus } from '../../../src/types/index.ts'

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
const PID = '12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA'
const PID2 = 'QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N'
const C1 = CID.parse('bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi')
const C0 = CID.parse('QmPZ9gcCEpqKTo6aq61g2nXGUhM4iCL3ewB6LDXZCtioEB')

function base(): PinInfo {
  return {
    cid: C1,
    name: '',
    peer: '',
    allocations: [],
    origins: [],
    created: new Date(0),
    metadata: {},
    pinInfo: {
      peerName: '',
      ipfsPeerId: '',
      ipfsPeerAddresses: [],
      status: 'undefined',
      timestamp: new Date(0),
      error: '',
      attemptCount: 0,
      priorityPin: false
    }
  }
}

function full(): PinInfo {
  return {
    cid: C0,
    name: 'pin-1',
    peer: PID,
    allocations: [PID, PID2],
    origins: ['/ip4/1.2.3.4/tcp/4001', '/dns4/example.com/tcp/443/wss'],
    created: new Date(1_700_000_000_123),
    metadata: { a: 'b', 'clé': 'vålue' },
    pinInfo: {
      peerName: 'peer-one',
      ipfsPeerId: PID2,
      ipfsPeerAddresses: ['/ip4/127.0.0.1/tcp/4001', '/ip6/::1/udp/4001/quic-v1', 'not a multiaddr'],
      status: 'remote',
      timestamp: new Date(1_700_000_000_000),
      error: 'boom',
      attemptCount: 3,
      priorityPin: true
    }
  }
}

function same(pi: PinInfo): void {
  const generic = goEncode(toGo(GO_PININFO, pi))
  const fast = encodePinInfo(pi)
  expect(hex(fast)).toBe(hex(generic))
  const m = goDecode(fast)
  expect(pinInfoFromGo(m)).toEqual(fromGo<PinInfo>(GO_PININFO, m))
}

/** xorshift32: a seeded stream, so a failure reproduces */
function rng(seed: number): () => number {
  let x = seed
  return () => {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    return (x >>> 0) / 2 ** 32
  }
}

describe('PinInfo codec: the generic mapping, byte for byte', () => {
  test('zero values (only the CID) and every field set', () => {
    same(base())
    same(full())
    same({ ...base(), cid: null as unknown as CID })
  })

  test('integers, strings and times at the edges of their msgpack forms', () => {
    for (const attemptCount of [1, 31, 127, 128, 255, 256, 32767, 32768, 65535, 65536, 2 ** 31 - 1, 2 ** 31, 2 ** 40, -1, -32, -33, -128, -129, -32768, -32769, -(2 ** 31), -(2 ** 31) - 1, 2.7]) {
      const pi = full()
      pi.pinInfo.attemptCount = attemptCount
      same(pi)
    }
    for (const len of [1, 31, 32, 255, 256, 65535, 65536]) {
      const pi = full()
      pi.name = 'x'.repeat(len)
      pi.pinInfo.error = `é${'y'.repeat(len)}`
      same(pi)
    }
    for (const ms of [1000, 1001, 2 ** 32 * 1000, 2 ** 34 * 1000 + 5, -5000, 1]) {
      const pi = full()
      pi.created = new Date(ms)
      pi.pinInfo.timestamp = new Date(ms)
      same(pi)
    }
    const many = full()
    many.allocations = Array.from({ length: 17 }, (_, i) => (i % 2 === 0 ? PID : PID2))
    many.metadata = Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`k${i}`, `v${i}`]))
    same(many)
  })

  test('every tracker status', () => {
    for (const status of TRACKER_STATUSES) {
      const pi = full()
      pi.pinInfo.status = status as TrackerStatus
      same(pi)
    }
  })

  test('seeded random PinInfos', () => {
    const r = rng(0x5eed)
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T
    for (let i = 0; i < 500; i++) {
      const pi = base()
      pi.cid = CID.createV1(raw.code, Digest.create(0x12, new Uint8Array(32).map(() => Math.floor(r() * 256))))
      if (r() < 0.5) pi.name = pick(['', 'n', 'pin-名前', 'a'.repeat(40)])
      if (r() < 0.7) pi.peer = pick([PID, PID2])
      if (r() < 0.5) pi.allocations = Array.from({ length: Math.floor(r() * 4) }, () => pick([PID, PID2]))
      if (r() < 0.3) pi.origins = Array.from({ length: Math.floor(r() * 3) }, () => pick(['/ip4/10.0.0.1/tcp/1', 'bad', '/ip6/::1/tcp/2']))
      if (r() < 0.8) pi.created = new Date(Math.floor(r() * 2e12))
      if (r() < 0.3) pi.metadata = { [pick(['a', 'ü', 'long-key-'.repeat(5)])]: pick(['', 'v', 'ø']) }
      const s = pi.pinInfo
      if (r() < 0.7) s.peerName = pick(['p', 'peer-ø', ''])
      if (r() < 0.7) s.ipfsPeerId = pick([PID, PID2])
      if (r() < 0.5) s.ipfsPeerAddresses = Array.from({ length: Math.floor(r() * 4) }, () => pick(['/ip4/127.0.0.1/tcp/4001', '/ip4/127.0.0.1/udp/4001/quic-v1', '???']))
      s.status = pick(TRACKER_STATUSES)
      if (r() < 0.8) s.timestamp = new Date(Math.floor(r() * 2e12))
      if (r() < 0.3) s.error = pick(['e', 'an error with ünïcode', 'x'.repeat(70)])
      if (r() < 0.3) s.attemptCount = Math.floor(r() * 300) - 20
      s.priorityPin = r() < 0.3
      same(pi)
    }
  })
})

describe('PinInfo decoding: what Go may send', () => {
  test('missing, nil and empty values are zero values, unknown keys are ignored', () => {
    const m = { c: C1.bytes, m: null, o: null, g: [], md: {}, i: new Uint8Array(0), ia: null, st: new GoInt(16).value, ts: null, zz: 'unknown' }
    expect(pinInfoFromGo(m)).toEqual(fromGo<PinInfo>(GO_PININFO, m))
    const withMap = { c: C1.bytes, md: new Map([[new TextEncoder().encode('k'), new TextEncoder().encode('v')]]) }
    expect(pinInfoFromGo(withMap)).toEqual(fromGo<PinInfo>(GO_PININFO, withMap))
  })

  test('a malformed field fails as the generic mapping does, naming the field', () => {
    for (const m of [{ c: 'x' }, { c: C1.bytes, o: 'not an array' }, { c: C1.bytes, t: new Uint8Array(5) }, { c: C1.bytes, p: new Uint8Array([1, 2, 3]) }, { c: C1.bytes, md: [1] }]) {
      let want = ''
      try {
        fromGo(GO_PININFO, m)
      } catch (err) {
        want = (err as Error).message
      }
      expect(want).not.toBe('')
      expect(() => pinInfoFromGo(m)).toThrow(want)
    }
  })
})

describe('GoRaw: pre-encoded values', () => {
  test('written verbatim, alone and nested', () => {
    const bytes = encodePinInfo(full())
    expect(hex(goEncode(new GoRaw(bytes)))).toBe(hex(bytes))
    const nested = { Service: { Name: 'PinTracker', Method: 'StatusAll' }, x: [new GoRaw(bytes), 1] }
    const generic = { Service: { Name: 'PinTracker', Method: 'StatusAll' }, x: [toGo(GO_PININFO, full()), 1] }
    expect(hex(goEncode(nested))).toBe(hex(goEncode(generic)))
  })
})
