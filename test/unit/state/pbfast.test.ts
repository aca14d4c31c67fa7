import { describe, expect, test } from 'bun:test'
import { decodePbPinFast } from '../../../src/state/pbfast.ts'
import { Pin as PbPin } from '../../../src/types/pb/types.pb.ts'

/** A deterministic pseudo-random source (xorshift32). */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1
  return () => {
    x ^= x << 13
    x >>>= 0
    x ^= x >>> 17
    x ^= x << 5
    x >>>= 0
    return x / 0x100000000
  }
}

function bytesOf(r: () => number, max: number): Uint8Array<ArrayBuffer> {
  const b = new Uint8Array(Math.floor(r() * max))
  for (let i = 0; i < b.length; i++) b[i] = Math.floor(r() * 256)
  return b
}

function strOf(r: () => number, max: number): string {
  const chars = ['a', 'Z', '0', ' ', '/', 'é', '漢', '😀', '\u0000', '\u007f']
  let s = ''
  const n = Math.floor(r() * max)
  for (let i = 0; i < n; i++) s += chars[Math.floor(r() * chars.length)]
  return s
}

const TYPES = [PbPin.PinType.BadType, PbPin.PinType.DataType, PbPin.PinType.MetaType, PbPin.PinType.ClusterDAGType, PbPin.PinType.ShardType]
const INTS = [0, 1, -1, 127, 128, -128, 2 ** 31 - 1, -(2 ** 31), 300, -300]
const U64 = [0n, 1n, 127n, 128n, 2n ** 32n, 2n ** 49n - 1n, 2n ** 49n, 2n ** 53n + 1n, 2n ** 64n - 1n, 1_700_000_000n]

function randomPin(r: () => number): Partial<PbPin> {
  const pick = <T>(a: readonly T[]): T => a[Math.floor(r() * a.length)]!
  const pin: Partial<PbPin> = {
    Cid: bytesOf(r, 40),
    Type: pick(TYPES),
    Allocations: Array.from({ length: Math.floor(r() * 4) }, () => bytesOf(r, 40)),
    MaxDepth: pick(INTS),
    Reference: bytesOf(r, 3),
    Timestamp: pick(U64)
  }
  if (r() < 0.8) {
    pin.Options = {
      ReplicationFactorMin: pick(INTS),
      ReplicationFactorMax: pick(INTS),
      Name: strOf(r, r() < 0.2 ? 200 : 20),
      ShardSize: pick(U64),
      Metadata: new Map(Array.from({ length: Math.floor(r() * 3) }, () => [strOf(r, 5), strOf(r, 8)] as [string, string])),
      PinUpdate: bytesOf(r, 3),
      ExpireAt: pick(U64),
      Origins: Array.from({ length: Math.floor(r() * 3) }, () => bytesOf(r, 20)),
      SortedMetadata: Array.from({ length: Math.floor(r() * 3) }, () => ({ Key: strOf(r, 5), Value: strOf(r, 70) }))
    }
  }
  return pin
}

/** The decoded object with byte fields as plain arrays (views and copies compare equal). */
function plain(v: unknown): unknown {
  if (v instanceof Uint8Array) return [...v]
  if (v instanceof Map) return [...v.entries()].map(plain)
  if (Array.isArray(v)) return v.map(plain)
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]))
  return v
}

describe('hand-written Pin decoder', () => {
  test('gives the generated decoder’s object for 3,000 random pins', () => {
    const r = rng(42)
    for (let i = 0; i < 3000; i++) {
      const bytes = PbPin.encode(randomPin(r))
      const fast = decodePbPinFast(bytes)
      expect(fast).toBeDefined()
      expect(plain(fast)).toEqual(plain(PbPin.decode(bytes)))
    }
  })

  test('skips unknown fields of every wire type, as the generated decoder does', () => {
    const base = PbPin.encode({ Cid: Uint8Array.of(1, 2, 3), Type: PbPin.PinType.DataType, MaxDepth: -1, Timestamp: 5n })
    // field 15 varint, field 14 fixed64, field 13 bytes, field 12 fixed32
    const extra = [(15 << 3) | 0, 0x96, 0x01, (14 << 3) | 1, 1, 2, 3, 4, 5, 6, 7, 8, (13 << 3) | 2, 2, 9, 9, (12 << 3) | 5, 1, 2, 3, 4]
    const bytes = Uint8Array.from([...extra, ...base])
    expect(plain(decodePbPinFast(bytes))).toEqual(plain(PbPin.decode(bytes)))
  })

  test('leaves malformed or unusual input to the generated decoder (undefined), never throws', () => {
    const good = PbPin.encode({ Cid: Uint8Array.of(1, 2, 3), Type: PbPin.PinType.DataType, Timestamp: 5n })
    const cases: Uint8Array[] = [
      good.subarray(0, good.length - 1), // truncated
      Uint8Array.of(0x0a, 0x05, 1, 2), // length past the end
      Uint8Array.of(0x10, 0x09), // unknown enum value
      Uint8Array.of(0x08, 0x01), // Cid (field 1) with a varint wire type
      Uint8Array.of(0x0b), // wire type 3 (start group)
      Uint8Array.of(0x38, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01) // varint too long
    ]
    for (const c of cases) expect(decodePbPinFast(c)).toBeUndefined()
    // the random garbage either decodes like the generated decoder or is left to it
    const r = rng(7)
    for (let i = 0; i < 2000; i++) {
      const b = bytesOf(r, 30)
      const fast = decodePbPinFast(b)
      if (fast === undefined) continue
      expect(plain(fast)).toEqual(plain(PbPin.decode(b)))
    }
  })
})
