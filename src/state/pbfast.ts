/**
 * A hand-written decoder of upstream's protobuf `Pin` (api/pb/types.proto,
 * v1.1.6) for the listing hot path. It gives the same object as the
 * generated `Pin.decode` (src/types/pb/types.pb.ts) for every message it
 * accepts, and returns `undefined` for anything it does not handle plainly
 * (malformed bytes, an unknown enum value, a wire type that does not match
 * the field, a varint wider than the field): the caller then uses the
 * generated decoder, which throws its usual errors. Byte fields are views
 * into `bytes` (no copy, no allocation per field; the generated decoder's
 * per-field allocations and `ArrayBuffer` materialisation were 30% of
 * listing 100,000 pins).
 */
import type { Metadata, Pin as PbPin, PinOptions as PbPinOptions } from '../types/pb/types.pb.ts'
import { Pin as PbPinCodec } from '../types/pb/types.pb.ts'

const PIN_TYPES: readonly PbPin.PinType[] = [
  PbPinCodec.PinType.BadType,
  PbPinCodec.PinType.DataType,
  PbPinCodec.PinType.MetaType,
  PbPinCodec.PinType.ClusterDAGType,
  PbPinCodec.PinType.ShardType
]

const utf8 = new TextDecoder('utf-8', { fatal: false })

/** Raised inside the decoder for input it leaves to the generated one. */
const GIVE_UP = Symbol('give up')

class Reader {
  pos: number
  readonly end: number
  readonly buf: Uint8Array
  constructor(buf: Uint8Array, start: number, end: number) {
    this.buf = buf
    this.pos = start
    this.end = end
  }

  /** A varint of at most 32 bits (tags, lengths, enums, sint32). */
  u32(): number {
    let v = 0
    for (let shift = 0; shift < 35; shift += 7) {
      if (this.pos >= this.end) throw GIVE_UP
      const b = this.buf[this.pos++]!
      v += (b & 0x7f) * 2 ** shift
      if (b < 0x80) {
        if (v > 0xffffffff) throw GIVE_UP
        return v >>> 0
      }
    }
    throw GIVE_UP
  }

  /** A uint64 varint, as a bigint. */
  u64(): bigint {
    let lo = 0
    for (let shift = 0; shift < 49; shift += 7) {
      if (this.pos >= this.end) throw GIVE_UP
      const b = this.buf[this.pos++]!
      lo += (b & 0x7f) * 2 ** shift
      if (b < 0x80) return BigInt(lo)
    }
    // wider than 49 bits: exact but slower
    let v = BigInt(lo)
    for (let shift = 49n; shift < 70n; shift += 7n) {
      if (this.pos >= this.end) throw GIVE_UP
      const b = this.buf[this.pos++]!
      v |= BigInt(b & 0x7f) << shift
      if (b < 0x80) return v & 0xffffffffffffffffn
    }
    throw GIVE_UP
  }

  sint32(): number {
    const v = this.u32()
    return (v >>> 1) ^ -(v & 1)
  }

  /** The extent of a length-delimited field: [start, end). */
  span(): [number, number] {
    const n = this.u32()
    const start = this.pos
    if (n > this.end - start) throw GIVE_UP
    this.pos = start + n
    return [start, start + n]
  }

  bytes(): Uint8Array<ArrayBuffer> {
    const [s, e] = this.span()
    return this.buf.subarray(s, e) as Uint8Array<ArrayBuffer>
  }

  string(): string {
    const [s, e] = this.span()
    const b = this.buf
    if (e - s <= 64) {
      let out = ''
      for (let i = s; i < e; i++) {
        const c = b[i]!
        if (c >= 0x80) return utf8.decode(b.subarray(s, e))
        out += String.fromCharCode(c)
      }
      return out
    }
    return utf8.decode(b.subarray(s, e))
  }

  /** Skips a field of wire type `wt`. */
  skip(wt: number): void {
    if (wt === 0) this.u64()
    else if (wt === 1) this.advance(8)
    else if (wt === 2) this.span()
    else if (wt === 5) this.advance(4)
    else throw GIVE_UP
  }

  private advance(n: number): void {
    if (this.pos + n > this.end) throw GIVE_UP
    this.pos += n
  }
}

function expect(wt: number, want: number): void {
  if (wt !== want) throw GIVE_UP
}

function decodeOptions(r: Reader, start: number, end: number): PbPinOptions {
  const o: PbPinOptions = {
    ReplicationFactorMin: 0,
    ReplicationFactorMax: 0,
    Name: '',
    ShardSize: 0n,
    Metadata: new Map<string, string>(),
    PinUpdate: new Uint8Array(0),
    ExpireAt: 0n,
    Origins: [],
    SortedMetadata: []
  }
  const sub = new Reader(r.buf, start, end)
  while (sub.pos < end) {
    const tag = sub.u32()
    const wt = tag & 7
    switch (tag >>> 3) {
      case 1:
        expect(wt, 0)
        o.ReplicationFactorMin = sub.sint32()
        break
      case 2:
        expect(wt, 0)
        o.ReplicationFactorMax = sub.sint32()
        break
      case 3:
        expect(wt, 2)
        o.Name = sub.string()
        break
      case 4:
        expect(wt, 0)
        o.ShardSize = sub.u64()
        break
      case 6: {
        expect(wt, 2)
        const [s, e] = sub.span()
        const kv = pair(sub.buf, s, e)
        o.Metadata.set(kv.Key, kv.Value)
        break
      }
      case 7:
        expect(wt, 2)
        o.PinUpdate = sub.bytes()
        break
      case 8:
        expect(wt, 0)
        o.ExpireAt = sub.u64()
        break
      case 9:
        expect(wt, 2)
        o.Origins.push(sub.bytes())
        break
      case 10: {
        expect(wt, 2)
        const [s, e] = sub.span()
        o.SortedMetadata.push(pair(sub.buf, s, e))
        break
      }
      default:
        sub.skip(wt)
    }
  }
  return o
}

/** A `{1: string, 2: string}` message: a map entry or a `Metadata`. */
function pair(buf: Uint8Array, start: number, end: number): Metadata {
  const out: Metadata = { Key: '', Value: '' }
  const r = new Reader(buf, start, end)
  while (r.pos < end) {
    const tag = r.u32()
    const wt = tag & 7
    const f = tag >>> 3
    if (f === 1 && wt === 2) out.Key = r.string()
    else if (f === 2 && wt === 2) out.Value = r.string()
    else if (f === 1 || f === 2) throw GIVE_UP
    else r.skip(wt)
  }
  return out
}

/**
 * Decodes `bytes` as a protobuf `Pin`, or returns undefined when the input
 * is left to the generated decoder (see the module comment). Never throws.
 */
export function decodePbPinFast(bytes: Uint8Array): PbPin | undefined {
  const pin: PbPin = {
    Cid: new Uint8Array(0),
    Type: PbPinCodec.PinType.BadType,
    Allocations: [],
    MaxDepth: 0,
    Reference: new Uint8Array(0),
    Timestamp: 0n
  }
  const r = new Reader(bytes, 0, bytes.length)
  try {
    while (r.pos < r.end) {
      const tag = r.u32()
      const wt = tag & 7
      switch (tag >>> 3) {
        case 1:
          expect(wt, 2)
          pin.Cid = r.bytes()
          break
        case 2: {
          expect(wt, 0)
          const t = PIN_TYPES[r.u32()]
          if (t === undefined) throw GIVE_UP
          pin.Type = t
          break
        }
        case 3:
          expect(wt, 2)
          pin.Allocations.push(r.bytes())
          break
        case 4:
          expect(wt, 0)
          pin.MaxDepth = r.sint32()
          break
        case 5:
          expect(wt, 2)
          pin.Reference = r.bytes()
          break
        case 6: {
          expect(wt, 2)
          const [s, e] = r.span()
          pin.Options = decodeOptions(r, s, e)
          break
        }
        case 7:
          expect(wt, 0)
          pin.Timestamp = r.u64()
          break
        default:
          r.skip(wt)
      }
    }
  } catch {
    // GIVE_UP, or anything unexpected: the generated decoder decides
    return undefined
  }
  return pin
}
